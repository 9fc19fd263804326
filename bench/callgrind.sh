#!/usr/bin/env bash
# Instructions per request of the gateway under callgrind (repeatable, unlike wall time):
# counts only while wrk runs, divides by the requests wrk completed.
# Usage: bench/callgrind.sh PORT SECONDS COMMAND...   (its upstream must be running), e.g.
#   bench/callgrind.sh 18081 10 target/release/gatehouse serve -c bench.toml
#   bench/callgrind.sh 18082 10 target/release/examples/stock_pingora 127.0.0.1:18082 127.0.0.1:19001
# CG_PATH (default /) and CG_HEADER (one request header, e.g. "X-API-Key: k") pick the route.
set -euo pipefail
port=$1 secs=$2
shift 2
path=${CG_PATH:-/}
hdr=()
[ -n "${CG_HEADER:-}" ] && hdr=(-H "$CG_HEADER")
out=$(mktemp -d)
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out/cg.out" "$@" >"$out/vg.log" 2>&1 &
vg=$!
trap 'kill -INT $vg 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do curl -fs "${hdr[@]}" -o /dev/null "http://127.0.0.1:$port$path" && break; sleep 0.5; done
wrk -t1 -c10 -d2s "${hdr[@]}" "http://127.0.0.1:$port$path" >/dev/null
callgrind_control -i on "$vg" >/dev/null
sleep 1  # let every thread pick up the switch
reqs=$(wrk -t1 -c10 -d"${secs}s" "${hdr[@]}" "http://127.0.0.1:$port$path" | awk '/requests in/ {print $1}')
callgrind_control -i off "$vg" >/dev/null
callgrind_control -d "$vg" >/dev/null
kill -INT $vg; wait $vg 2>/dev/null || true
trap - EXIT
dump=$(ls "$out"/cg.out.* | tail -1)
total=$(callgrind_annotate "$dump" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
echo "requests: $reqs  instructions: $total  per request: $((total / reqs))"
echo "profile: $dump (callgrind_annotate --inclusive=yes $dump)"
