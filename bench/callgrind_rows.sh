#!/usr/bin/env bash
# Instructions per request of the rows bench/PROFILE.md tracks — bare route, full chain
# (API key + local limit + header rewrite both ways), cache hit, and the bare route with the
# access log on (to a file) — each under bench/callgrind.sh, against a one-worker nginx upstream
# with a 100-byte answer (as `make bench`). BIN picks the binary (e.g. a stock-Pingora build).
# Usage: bench/callgrind_rows.sh [SECONDS]   (needs nginx, wrk, valgrind; release build)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SECS=${1:-5}
BIN=${BIN:-$ROOT/target/release/gatehouse}
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
WORK=$(mktemp -d)
P_UP=19101 P_GH=18181
BODY=$(printf 'gatehouse-bench %083d' 0)
mkdir -p "$WORK/logs" "$WORK/tmp"
cat >"$WORK/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $WORK/tmp/body;
    proxy_temp_path $WORK/tmp/proxy;
    fastcgi_temp_path $WORK/tmp/fastcgi;
    uwsgi_temp_path $WORK/tmp/uwsgi;
    scgi_temp_path $WORK/tmp/scgi;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$P_UP;
        default_type text/plain;
        location / { return 200 '$BODY\n'; }
        location ~ ^/full/ { add_header X-Upstream 1; return 200 '$BODY\n'; }
    }
}
EOF
KEY="bench-key-0123456789abcdef"
HASH=$(printf '%s' "$KEY" | "$BIN" hash-key)
cat >"$WORK/gatehouse.toml" <<EOF
[server]
listen = ["127.0.0.1:$P_GH"]
threads = 1
data_dir = "."
access_log = "off"

[[cluster]]
name = "bench"
upstreams = ["127.0.0.1:$P_UP"]

[[api]]
name = "bench"
base_path = "/"
cluster = "bench"

[[api]]
name = "bench-cache"
base_path = "/cache"
cluster = "bench"
cache = { enabled = true, default_ttl = "1h" }

[[api]]
name = "bench-full"
base_path = "/full"
cluster = "bench"
auth = ["api_key"]
limits = [{ rate = "1000000/s", key = "ip" }]
request = { set_headers = { "X-Gateway" = "gatehouse" }, remove_headers = ["X-Debug"] }
response = { set_headers = { "X-Content-Type-Options" = "nosniff" }, remove_headers = ["X-Upstream"] }

[[consumer]]
name = "bench"
api_keys = ["$HASH"]
EOF
sed "s|^access_log = \"off\"|access_log = \"$WORK/access.log\"|" "$WORK/gatehouse.toml" >"$WORK/gatehouse-log.toml"
"$NGINX" -p "$WORK" -c "$WORK/nginx.conf" &
NGX=$!
trap 'kill $NGX 2>/dev/null; rm -rf "$WORK"' EXIT
cd "$WORK"
row() { # name, config, then env for bench/callgrind.sh; ROWS="bare log" runs only those
    local name=$1 config=$2
    shift 2
    [ -z "${ROWS:-}" ] || [[ " $ROWS " == *" $name "* ]] || return 0
    printf '%-10s ' "$name"
    env "$@" "$ROOT/bench/callgrind.sh" "$P_GH" "$SECS" "$BIN" serve -c "$config" 2>/dev/null \
        | grep -E "per request|profile:" | tr "\n" " "
    echo
}
row bare "$WORK/gatehouse.toml" CG_PATH=/
row full "$WORK/gatehouse.toml" CG_PATH=/full/ "CG_HEADER=X-API-Key: $KEY"
row cache "$WORK/gatehouse.toml" CG_PATH=/cache/
row log "$WORK/gatehouse-log.toml" CG_PATH=/
