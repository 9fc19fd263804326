#!/usr/bin/env bash
# Instructions per request of the gateway under callgrind (repeatable, unlike wall time):
# counts only while wrk runs, divides by the requests wrk completed.
# Usage: bench/callgrind.sh CONFIG PORT [SECONDS]   (the config's upstream must be running)
set -euo pipefail
conf=$1 port=$2 secs=${3:-10}
bin=${BIN:-target/release/gatehouse}
out=$(mktemp -d)
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out/cg.out" \
  "$bin" serve -c "$conf" >"$out/vg.log" 2>&1 &
vg=$!
trap 'kill -INT $vg 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do curl -fs -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.5; done
wrk -t1 -c10 -d2s "http://127.0.0.1:$port/" >/dev/null
callgrind_control -i on "$vg" >/dev/null
sleep 1  # let every thread pick up the switch
reqs=$(wrk -t1 -c10 -d"${secs}s" "http://127.0.0.1:$port/" | awk '/requests in/ {print $1}')
callgrind_control -i off "$vg" >/dev/null
callgrind_control -d "$vg" >/dev/null
kill -INT $vg; wait $vg 2>/dev/null || true
trap - EXIT
dump=$(ls "$out"/cg.out.* | tail -1)
total=$(callgrind_annotate "$dump" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
echo "requests: $reqs  instructions: $total  per request: $((total / reqs))"
echo "profile: $dump (callgrind_annotate --inclusive=yes $dump)"
