#!/usr/bin/env bash
# End-to-end load benchmark: the same wrk load against
#   (a) the nginx upstream directly, (b) nginx as a plain reverse proxy, (c) Gatehouse (bare route),
#   (d) stock Pingora (examples/stock_pingora.rs: the leanest stock Pingora proxy, no gateway work),
#   (e) Gatehouse with API-key auth, (f) Gatehouse with JWT (RS256) auth (issue 4),
#   (g) Gatehouse with a local rate limit, (h) the same limit on Redis (a second Gatehouse
#   process with `[limits] backend = "redis"`, and a redis-server on the load CPU) (issue 5),
#   (i) Gatehouse answering from its response cache (issue 6; every measured request a hit),
#   (j) the API-key route of a second Gatehouse with `[analytics] enabled = false` (issue 7: the
#       cost of analytics is (e) against (j)),
#   (k) a spec-defined route with `validate_requests = true` (issue 8: an integer path parameter
#       and two query parameters checked against the OpenAPI schemas on every request),
#   (l) header rewrite (request and response set_headers/remove_headers),
#   (m) JSON body rewrite (response json_set + json_remove on a ~100-byte application/json answer),
#   (n) the full chain on one route: API key + local rate limit + header rewrite both ways, with
#       metrics and analytics on (as everywhere here),
#   (o)/(p) the bare and API-key routes of a second Gatehouse whose config adds 10,000 APIs/routes
#       and 100,000 consumers (bench/big_config.py; the key is the middle consumer's),
#   (q)/(r) the bare route and the full chain of the same Gatehouse commit built on stock Pingora
#       (plain `cargo build --release`, without pingora-patches/), beside (c)/(n) on the patched one,
# interleaved over several rounds so that machine noise hits all targets alike. Every max-load run
# reports req/s, p50/p99/p99.9 (a wrk done() script), the target's CPU per request, the new
# upstream connections per 1,000 requests (nginx stub_status on the upstream) and its RSS after
# the run (VmRSS, VmHWM). Then a fixed-rate phase: examples/fixed_rate.rs (open loop, latency from
# the scheduled send time) at 50 % of the nginx proxy's median max req/s, then at a low rate (10 %)
# that nothing queues at, against direct, nginx proxy, Gatehouse bare and the full chain,
# interleaved, for p99 and "added p99 over direct". Each rate is first checked against the upstream
# (the generator shares CPU 0 with it) and stepped down 15 % at a time until the generator keeps it.
# Writes bench/RESULTS.md and prints a median table. Run as root on Debian 12: `bash bench/e2e.sh`.
#
# Knobs (environment):
#   BENCH_DURATION  seconds per measured run      (10)
#   BENCH_WARMUP    seconds of warm-up before each (2)
#   BENCH_ROUNDS    interleaved rounds             (3)
#   BENCH_CONNS     wrk connections                (50)
#   BENCH_THREADS   wrk threads                    (1)
#   BENCH_PIN       1 = pin with taskset (proxy on CPU 1; wrk + upstream on CPU 0), 0 = no pinning
#   BENCH_NO_BUILD  1 = use target/release/gatehouse (patched), target/release/gatehouse-stock-pingora
#                   and target/release/examples/stock_pingora as they are, do not run cargo
#   BENCH_KEEP      1 = keep the temp dir (configs, logs, raw wrk output)
#   BENCH_ONLY      run only these targets, e.g. "gatehouse gatehouse_full" (names as in TARGETS
#                   below; nginxproxy, the yardstick, is always added)
#   BENCH_FIXED     1 = run the fixed-rate phase (default), 0 = skip it
#   BENCH_FIXED_LOW_PCT  the low fixed rate, % of the nginx proxy's max req/s (10)
#   BENCH_OUT       where to write the report (bench/RESULTS.md)
#   BENCH_BIG_ROUTES / BENCH_BIG_CONSUMERS  size of the big process's config (10000 / 100000)
set -euo pipefail

DURATION=${BENCH_DURATION:-10}
WARMUP=${BENCH_WARMUP:-2}
ROUNDS=${BENCH_ROUNDS:-3}
CONNS=${BENCH_CONNS:-50}
THREADS=${BENCH_THREADS:-1}
PIN=${BENCH_PIN:-1}
FIXED=${BENCH_FIXED:-1}
BIG_ROUTES=${BENCH_BIG_ROUTES:-10000}
BIG_CONSUMERS=${BENCH_BIG_CONSUMERS:-100000}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN="$ROOT/target/release/gatehouse"
STOCK_GH_BIN="$ROOT/target/release/gatehouse-stock-pingora"
STOCK_BIN="$ROOT/target/release/examples/stock_pingora"
FIXED_BIN="$ROOT/target/release/examples/fixed_rate"
cd "$ROOT"

log() { printf '[e2e] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ---------------------------------------------------------------- tools
# Install what is missing. RUNLEVEL=1 stops Debian's postinst from starting the stock nginx
# service on port 80, which would only add noise to the machine.
need_pkgs=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need_pkgs+=(nginx)
command -v wrk >/dev/null 2>&1 || need_pkgs+=(wrk)
command -v curl >/dev/null 2>&1 || need_pkgs+=(curl)
command -v openssl >/dev/null 2>&1 || need_pkgs+=(openssl)
command -v python3 >/dev/null 2>&1 || need_pkgs+=(python3)
command -v taskset >/dev/null 2>&1 || need_pkgs+=(util-linux)
command -v pgrep >/dev/null 2>&1 || need_pkgs+=(procps)
command -v redis-server >/dev/null 2>&1 || need_pkgs+=(redis-server)
# cmake is needed by libz-ng-sys (pingora-core) only when we build.
if [ "${BENCH_NO_BUILD:-0}" != 1 ] && ! command -v cmake >/dev/null 2>&1; then need_pkgs+=(cmake); fi
if [ ${#need_pkgs[@]} -gt 0 ]; then
    log "installing: ${need_pkgs[*]}"
    [ "$(id -u)" = 0 ] || die "need root to apt-get install ${need_pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive RUNLEVEL=1
    apt-get update -qq
    # Debian 12 ships nginx-light as a transitional name; try the real package first.
    if ! apt-get install -y -qq "${need_pkgs[@]}" >/dev/null; then
        pkgs=("${need_pkgs[@]/#nginx/nginx-light}")
        apt-get install -y -qq "${pkgs[@]}" >/dev/null || die "apt-get install failed"
    fi
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

# ---------------------------------------------------------------- build
# cargo itself decides whether the binary is stale (a no-op in well under a second when not).
if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
    if [ -d "$HOME/.cargo/bin" ]; then PATH="$HOME/.cargo/bin:$PATH"; fi
    # Both builds keep their own Pingora artifacts in target/, so switching is only a copy once
    # each was built: first stock Pingora, then the patched one at target/release/gatehouse.
    log "cargo build --release: Gatehouse on stock Pingora (fat LTO: several minutes when cold)"
    cargo build --release || die "cargo build --release failed"
    cp "$BIN" "$STOCK_GH_BIN"
    log "pingora-patches/cargo.sh build --release: Gatehouse on the patched Pingora"
    pingora-patches/cargo.sh build --release || die "pingora-patches/cargo.sh build --release failed"
    log "cargo build --release --example stock_pingora --example fixed_rate"
    cargo build --release --example stock_pingora --example fixed_rate \
        || die "cargo build --release --example stock_pingora --example fixed_rate failed"
fi
[ -x "$FIXED_BIN" ] || die "$FIXED_BIN missing (build failed or BENCH_NO_BUILD=1 without a binary)"
[ -x "$BIN" ] || die "$BIN missing (build failed or BENCH_NO_BUILD=1 without a binary)"
[ -x "$STOCK_GH_BIN" ] || die "$STOCK_GH_BIN missing (build failed or BENCH_NO_BUILD=1 without a binary)"
[ -x "$STOCK_BIN" ] || die "$STOCK_BIN missing (build failed or BENCH_NO_BUILD=1 without a binary)"

# ---------------------------------------------------------------- CPUs
# Per the notes: the proxy under test gets CPU 1 to itself; wrk and the upstream share CPU 0.
NCPU=$(nproc)
if [ "$PIN" = 1 ] && [ "$NCPU" -ge 2 ]; then
    PIN_PROXY=(taskset -c 1); PIN_LOAD=(taskset -c 0)
else
    PIN=0; PIN_PROXY=(); PIN_LOAD=()
fi

# ---------------------------------------------------------------- temp dir + cleanup
WORK=$(mktemp -d /tmp/gatehouse-bench.XXXXXX)
chmod 755 "$WORK"   # nginx workers run as an unprivileged user and may need its temp dirs
PIDS=()
cleanup() {
    local rc=$?
    for pid in "${PIDS[@]}"; do
        # SIGINT = fast shutdown for Pingora (SIGTERM would wait out the grace period);
        # for nginx it is also an immediate stop.
        kill -INT "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [ "$rc" != 0 ]; then
        for f in "$WORK"/*.log; do
            [ -s "$f" ] && { log "--- tail of $f"; tail -n 20 "$f" >&2; }
        done
    fi
    if [ "${BENCH_KEEP:-0}" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- ports
# Bind ten sockets to port 0 at once so the kernel hands out ten distinct free ports.
read -r P_UP P_NGX P_GH P_SP P_GHR P_RD P_GH2 P_BIG P_ADM P_GHS < <(python3 -c '
import socket
ss = [socket.socket() for _ in range(10)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in ss))')

# ---------------------------------------------------------------- configs
# A ~100-byte body, as in the notes' measurements.
BODY=$(printf 'gatehouse-bench %083d' 0)   # 16 + 83 = 99 chars + "\n" from nginx = 100 bytes

# Shared nginx preamble: foreground master (so $! is its PID), 1 worker, every path inside
# the instance's own prefix, no access log.
nginx_conf() { # $1 = dir, $2 = server/upstream blocks
    mkdir -p "$1/logs" "$1/tmp"
    cat >"$1/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes 1;
pid $1/nginx.pid;
error_log $1/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $1/tmp/body;
    proxy_temp_path $1/tmp/proxy;
    fastcgi_temp_path $1/tmp/fastcgi;
    uwsgi_temp_path $1/tmp/uwsgi;
    scgi_temp_path $1/tmp/scgi;
    keepalive_requests 1000000;
$2
}
EOF
}

# A ~100-byte JSON answer for the body-rewrite row: json_remove drops /internal, json_set adds
# /meta/gateway.
JSON_BODY='{"id":42,"name":"bench item","internal":"secret-0123456789","tags":["a","b","c"],"price":12.5}'
# /hdr/ and /full/ echo what the gateway sent upstream (X-Gateway set, X-Debug removed) and send
# X-Upstream, which the gateway must remove; stub_status counts accepted connections (the new
# upstream connections per 1,000 requests column).
nginx_conf "$WORK/upstream" "
    server {
        listen 127.0.0.1:$P_UP;
        default_type text/plain;
        location / { return 200 '$BODY\n'; }
        location /json/ { default_type application/json; return 200 '$JSON_BODY'; }
        location ~ ^/(hdr|full)/ {
            add_header X-Echo-Gateway \$http_x_gateway;
            add_header X-Echo-Debug \$http_x_debug;
            add_header X-Upstream 1;
            return 200 '$BODY\n';
        }
        location = /stub_status { stub_status; }
    }"

nginx_conf "$WORK/nginxproxy" "
    upstream backend {
        server 127.0.0.1:$P_UP;
        keepalive 64;
    }
    server {
        listen 127.0.0.1:$P_NGX;
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
        }
    }"

mkdir -p "$WORK/gatehouse"
cat >"$WORK/gatehouse/gatehouse.toml" <<EOF
[server]
listen = ["127.0.0.1:$P_GH"]
threads = 1
data_dir = "."
access_log = "off"
upstream_keepalive_pool = 1024

# Only for the check that the full-chain row really counts its requests in /metrics.
[admin]
listen = "127.0.0.1:$P_ADM"

[[cluster]]
name = "bench"
upstreams = ["127.0.0.1:$P_UP"]

[[api]]
name = "bench"
base_path = "/"
cluster = "bench"
EOF

# Auth routes: /key/ needs an API key, /jwt/ an RS256 JWT (key pair and token made here; the
# token is valid for a day, so after the first request it comes from the verified-token cache).
openssl genrsa -out "$WORK/gatehouse/jwt-key.pem" 2048 2>/dev/null
openssl rsa -in "$WORK/gatehouse/jwt-key.pem" -pubout -out "$WORK/gatehouse/jwt-pub.pem" 2>/dev/null
API_KEY="bench-key-0123456789abcdef"
KEY_HASH=$(printf '%s' "$API_KEY" | "$BIN" hash-key)
JWT=$(python3 - "$WORK/gatehouse/jwt-key.pem" <<'PY'
import base64, json, subprocess, sys, time
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
head = b64(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
claims = {"iss": "https://bench.idp", "aud": "bench", "sub": "bench", "exp": int(time.time()) + 86400}
body = b64(json.dumps(claims).encode())
sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", sys.argv[1]], input=f"{head}.{body}".encode(),
                     capture_output=True, check=True).stdout
print(f"{head}.{body}.{b64(sig)}")
PY
)
cat >>"$WORK/gatehouse/gatehouse.toml" <<EOF

[[api]]
name = "bench-key"
base_path = "/key"
cluster = "bench"
auth = ["api_key"]

[[api]]
name = "bench-jwt"
base_path = "/jwt"
cluster = "bench"
auth = ["jwt"]

[[api]]
name = "bench-limit"
base_path = "/limit"
cluster = "bench"
# Never reached at bench load: every request pays the full decision and its headers.
limits = [{ rate = "1000000/s", key = "ip" }]

[[api]]
name = "bench-cache"
base_path = "/cache"
cluster = "bench"
# The nginx upstream sends no Cache-Control: default_ttl makes its answer storable.
cache = { enabled = true, default_ttl = "1h" }

[[api]]
name = "bench-valid"
base_path = "/valid"
spec = "valid.yaml"
cluster = "bench"
validate_requests = true

[[api]]
name = "bench-hdr"
base_path = "/hdr"
cluster = "bench"
request = { set_headers = { "X-Gateway" = "gatehouse" }, remove_headers = ["X-Debug"] }
response = { set_headers = { "X-Content-Type-Options" = "nosniff" }, remove_headers = ["X-Upstream"] }

[[api]]
name = "bench-json"
base_path = "/json"
cluster = "bench"
response = { json_set = { "/meta/gateway" = "gatehouse" }, json_remove = ["/internal"] }

# The full chain on one route: key auth, local limit, header rewrite both ways (metrics and
# analytics are on for every route of this process).
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
api_keys = ["$KEY_HASH"]

[[jwt_issuer]]
issuer = "https://bench.idp"
audiences = ["bench"]
algorithms = ["RS256"]
key_file = "jwt-pub.pem"
EOF

# (k): the validated route's spec (every measured request valid, so it reaches the upstream).
cat >"$WORK/gatehouse/valid.yaml" <<'EOF'
openapi: 3.1.0
info: { title: bench, version: "1" }
paths:
  /items/{id}:
    parameters:
      - { name: id, in: path, required: true, schema: { type: integer, minimum: 1 } }
    get:
      parameters:
        - { name: limit, in: query, required: true, schema: { type: integer, minimum: 1, maximum: 100 } }
        - { name: sort, in: query, schema: { type: string, enum: [asc, desc] } }
      responses:
        "200": { description: the item }
EOF

# (h): the same config on Redis, in a second process (the backend is per config).
mkdir -p "$WORK/gatehouse-redis" "$WORK/redis"
# (Only the main process has the admin listener.)
NO_ADMIN='/^\[admin\]$/,/^listen/d'
sed -e "s/127.0.0.1:$P_GH/127.0.0.1:$P_GHR/" -e "$NO_ADMIN" "$WORK/gatehouse/gatehouse.toml" \
    >"$WORK/gatehouse-redis/gatehouse.toml"
cp "$WORK/gatehouse/jwt-pub.pem" "$WORK/gatehouse/valid.yaml" "$WORK/gatehouse-redis/"
cat >>"$WORK/gatehouse-redis/gatehouse.toml" <<EOF

[limits]
backend = "redis"
redis_url = "redis://127.0.0.1:$P_RD"
EOF
# The same gateway without analytics, on its own port and data dir.
mkdir -p "$WORK/gatehouse-noan"
cp "$WORK/gatehouse"/jwt-pub.pem "$WORK/gatehouse"/valid.yaml "$WORK/gatehouse-noan/"
sed -e "s/127.0.0.1:$P_GH\"/127.0.0.1:$P_GH2\"/" -e "$NO_ADMIN" "$WORK/gatehouse/gatehouse.toml" \
    >"$WORK/gatehouse-noan/gatehouse.toml"
printf '\n[analytics]\nenabled = false\n' >>"$WORK/gatehouse-noan/gatehouse.toml"
# (q)/(r): the same gateway and config, built on stock Pingora, on its own port and data dir.
mkdir -p "$WORK/gatehouse-stockpg"
cp "$WORK/gatehouse"/jwt-pub.pem "$WORK/gatehouse"/valid.yaml "$WORK/gatehouse-stockpg/"
sed -e "s/127.0.0.1:$P_GH\"/127.0.0.1:$P_GHS\"/" -e "$NO_ADMIN" "$WORK/gatehouse/gatehouse.toml" \
    >"$WORK/gatehouse-stockpg/gatehouse.toml"
# (o)/(p): the same bare and API-key routes in a process that also has BIG_ROUTES APIs/routes and
# BIG_CONSUMERS consumers; measured with the key of the consumer in the middle.
mkdir -p "$WORK/gatehouse-big"
cat >"$WORK/gatehouse-big/gatehouse.toml" <<EOF
[server]
listen = ["127.0.0.1:$P_BIG"]
threads = 1
data_dir = "."
access_log = "off"
upstream_keepalive_pool = 1024

[[cluster]]
name = "bench"
upstreams = ["127.0.0.1:$P_UP"]

[[api]]
name = "bench"
base_path = "/"
cluster = "bench"

[[api]]
name = "bench-key"
base_path = "/key"
cluster = "bench"
auth = ["api_key"]

[[consumer]]
name = "bench"
api_keys = ["$KEY_HASH"]
EOF
BIG_KEY=$(python3 "$ROOT/bench/big_config.py" "$WORK/gatehouse-big/gatehouse.toml" "$BIG_ROUTES" "$BIG_CONSUMERS" bench) \
    || die "bench/big_config.py failed"

for d in upstream nginxproxy; do
    "$NGINX" -t -q -p "$WORK/$d" -e "$WORK/$d/logs/error.log" -c "$WORK/$d/nginx.conf" \
        || die "nginx config for $d is invalid"
done
"$BIN" check -c "$WORK/gatehouse/gatehouse.toml" >/dev/null || die "gatehouse check failed"
"$BIN" check -c "$WORK/gatehouse-redis/gatehouse.toml" >/dev/null || die "gatehouse check (redis) failed"
"$BIN" check -c "$WORK/gatehouse-noan/gatehouse.toml" >/dev/null || die "gatehouse check (no analytics) failed"
"$BIN" check -c "$WORK/gatehouse-big/gatehouse.toml" >/dev/null || die "gatehouse check (10k routes) failed"

# ---------------------------------------------------------------- start
# stdout/stderr of each server go to $WORK/NAME.log (shown if the run fails).
start() { # $1 = name, rest = command; sets LAST_PID
    local name=$1; shift
    "$@" >"$WORK/$name.log" 2>&1 &
    LAST_PID=$!
    PIDS+=("$LAST_PID")
}
start upstream "${PIN_LOAD[@]}" "$NGINX" -p "$WORK/upstream" -e "$WORK/upstream/logs/error.log" \
    -c "$WORK/upstream/nginx.conf"
PID_UP=$LAST_PID
start nginxproxy "${PIN_PROXY[@]}" "$NGINX" -p "$WORK/nginxproxy" -e "$WORK/nginxproxy/logs/error.log" \
    -c "$WORK/nginxproxy/nginx.conf"
PID_NGX=$LAST_PID
start gatehouse "${PIN_PROXY[@]}" "$BIN" serve -c "$WORK/gatehouse/gatehouse.toml"
PID_GH=$LAST_PID
start redis "${PIN_LOAD[@]}" redis-server --port "$P_RD" --bind 127.0.0.1 --save "" --appendonly no \
    --dir "$WORK/redis"
start gatehouse-redis "${PIN_PROXY[@]}" "$BIN" serve -c "$WORK/gatehouse-redis/gatehouse.toml"
PID_GHR=$LAST_PID
start gatehouse_noan "${PIN_PROXY[@]}" "$BIN" serve -c "$WORK/gatehouse-noan/gatehouse.toml"
PID_GH2=$LAST_PID
# Args: listen, upstream, worker threads (1, like Gatehouse's `threads = 1`).
start stockpingora "${PIN_PROXY[@]}" "$STOCK_BIN" "127.0.0.1:$P_SP" "127.0.0.1:$P_UP" 1
PID_SP=$LAST_PID
start gatehouse_big "${PIN_PROXY[@]}" "$BIN" serve -c "$WORK/gatehouse-big/gatehouse.toml"
PID_BIG=$LAST_PID
start gatehouse_stockpg "${PIN_PROXY[@]}" "$STOCK_GH_BIN" serve -c "$WORK/gatehouse-stockpg/gatehouse.toml"
PID_GHS=$LAST_PID

URL_UP="http://127.0.0.1:$P_UP/"
URL_NGX="http://127.0.0.1:$P_NGX/"
URL_GH="http://127.0.0.1:$P_GH/"
URL_SP="http://127.0.0.1:$P_SP/"
URL_GHKEY="http://127.0.0.1:$P_GH/key/"
URL_GHJWT="http://127.0.0.1:$P_GH/jwt/"
URL_GHLIM="http://127.0.0.1:$P_GH/limit/"
URL_GHRLIM="http://127.0.0.1:$P_GHR/limit/"
URL_GHCACHE="http://127.0.0.1:$P_GH/cache/"
URL_GHKEY_NOAN="http://127.0.0.1:$P_GH2/key/"
URL_GHVALID="http://127.0.0.1:$P_GH/valid/items/42?limit=10&sort=asc"
URL_GHHDR="http://127.0.0.1:$P_GH/hdr/"
URL_GHJSON="http://127.0.0.1:$P_GH/json/"
URL_GHFULL="http://127.0.0.1:$P_GH/full/"
URL_BIG="http://127.0.0.1:$P_BIG/"
URL_GHS="http://127.0.0.1:$P_GHS/"
URL_GHSFULL="http://127.0.0.1:$P_GHS/full/"
URL_BIGKEY="http://127.0.0.1:$P_BIG/key/"
HDR_KEY="X-API-Key: $API_KEY"
HDR_JWT="Authorization: Bearer $JWT"
HDR_BIGKEY="X-API-Key: $BIG_KEY"
# Sent to the header-rewrite routes, which must remove it before the upstream sees it.
HDR_DEBUG="X-Debug: 1"

# Each target must answer 200 (with the upstream's body) before we measure anything. The big
# process reads 100,000 consumers at start: it gets longer (WAIT_TRIES polls of 0.1 s).
WAIT_TRIES=100
wait_200() { # $1 = name, $2 = url, $3 = pid, $4... = request headers (optional)
    local name=$1 url=$2 pid=$3 code= hdr=() h
    shift 3
    for h in "$@"; do hdr+=(-H "$h"); done
    for _ in $(seq "$WAIT_TRIES"); do
        kill -0 "$pid" 2>/dev/null || die "$name exited during start-up"
        code=$(curl -s "${hdr[@]}" -o "$WORK/$name.probe" -D "$WORK/$name.probe-headers" -w '%{http_code}' "$url" || true)
        [ "$code" = 200 ] && break
        sleep 0.1
    done
    [ "$code" = 200 ] || die "$name ($url) did not answer 200 (last status: ${code:-none})"
    if [ "$name" != upstream ] && [ "$name" != gatehouse_json ] && ! cmp -s "$WORK/$name.probe" "$WORK/upstream.probe"; then
        die "$name returned a different body than the upstream"
    fi
    log "$name answers 200 on $url"
}
has_header() { # $1 = target, $2 = "^name: value" regex (case-insensitive) -> dies unless present
    grep -qiE "$2" "$WORK/$1.probe-headers" || die "$1: no response header matching '$2'"
}
lacks_header() { # $1 = target, $2 = header name
    ! grep -qi "^$2:" "$WORK/$1.probe-headers" || die "$1: response still has $2"
}
wait_200 upstream "$URL_UP" "$PID_UP"
wait_200 nginxproxy "$URL_NGX" "$PID_NGX"
wait_200 gatehouse "$URL_GH" "$PID_GH"
wait_200 stockpingora "$URL_SP" "$PID_SP"
wait_200 gatehouse_key "$URL_GHKEY" "$PID_GH" "$HDR_KEY"
wait_200 gatehouse_jwt "$URL_GHJWT" "$PID_GH" "$HDR_JWT"
wait_200 gatehouse_limit "$URL_GHLIM" "$PID_GH"
wait_200 gatehouse_redis "$URL_GHRLIM" "$PID_GHR"
# Both limit routes must really be limited (decided, with headers), the second one by Redis.
for t in gatehouse_limit gatehouse_redis; do
    grep -qi '^ratelimit:' "$WORK/$t.probe-headers" || die "$t response lacks RateLimit: not limited"
done
redis-cli -p "$P_RD" INFO commandstats | grep -q '^cmdstat_evalsha:' || die "Redis ran no limit script"
wait_200 gatehouse_cache "$URL_GHCACHE" "$PID_GH"
# The first probe filled the cache; make sure what we measure is a hit.
wait_200 gatehouse_cache "$URL_GHCACHE" "$PID_GH"
grep -qi '^cache-status: gatehouse; hit' "$WORK/gatehouse_cache.probe-headers" || die "the cache route does not hit"
wait_200 gatehouse_key_noan "$URL_GHKEY_NOAN" "$PID_GH2" "$HDR_KEY"
wait_200 gatehouse_valid "$URL_GHVALID" "$PID_GH"
# The validated route must really validate: a bad parameter is refused.
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$P_GH/valid/items/42?limit=1000")
[ "$code" = 400 ] || die "gatehouse_valid does not validate (limit=1000 got $code)"
# The bare job includes the request id on the response: make sure we benchmark that path.
grep -qi '^x-request-id:' "$WORK/gatehouse.probe-headers" || die "gatehouse response lacks X-Request-Id"
# (l) and (n): the upstream saw X-Gateway and no X-Debug (it echoes both); the client gets
# X-Content-Type-Options and no X-Upstream. (n) is also limited and keyed.
wait_200 gatehouse_hdr "$URL_GHHDR" "$PID_GH" "$HDR_DEBUG"
wait_200 gatehouse_full "$URL_GHFULL" "$PID_GH" "$HDR_KEY" "$HDR_DEBUG"
for t in gatehouse_hdr gatehouse_full; do
    has_header "$t" '^x-echo-gateway: gatehouse'
    lacks_header "$t" x-echo-debug
    has_header "$t" '^x-content-type-options: nosniff'
    lacks_header "$t" x-upstream
done
has_header gatehouse_full '^ratelimit:'
code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-API-Key: wrong-$API_KEY" "$URL_GHFULL")
[ "$code" = 401 ] || die "gatehouse_full does not check the key (a wrong key got $code)"
# Metrics count the full-chain route (the admin listener serves them).
grep -q '^gatehouse_requests_total{api="bench-full"' <(curl -s "http://127.0.0.1:$P_ADM/metrics") \
    || die "gatehouse_full is not counted in /metrics"
# (m): the JSON answer really is edited (and the upstream's really is not).
wait_200 gatehouse_json "$URL_GHJSON" "$PID_GH"
python3 - "$WORK/gatehouse_json.probe" "$JSON_BODY" <<'PY' || die "gatehouse_json: the body was not rewritten"
import json, sys
got, orig = json.load(open(sys.argv[1])), json.loads(sys.argv[2])
want = {k: v for k, v in orig.items() if k != "internal"} | {"meta": {"gateway": "gatehouse"}}
sys.exit(0 if got == want and "internal" in orig else f"got {got}")
PY
# (o)/(p): the big process answers its bare route, its key route with the middle consumer's key,
# one of the 10,000 routes, and refuses a wrong key.
WAIT_TRIES=600
wait_200 gatehouse_big "$URL_BIG" "$PID_BIG"
wait_200 gatehouse_stockpg "$URL_GHS" "$PID_GHS"
wait_200 gatehouse_full_stockpg "$URL_GHSFULL" "$PID_GHS" "$HDR_KEY" "$HDR_DEBUG"
WAIT_TRIES=100
wait_200 gatehouse_big_key "$URL_BIGKEY" "$PID_BIG" "$HDR_BIGKEY"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-API-Key: wrong-$BIG_KEY" "$URL_BIGKEY")
[ "$code" = 401 ] || die "gatehouse_big_key does not check the key (a wrong key got $code)"
last_route=$((BIG_ROUTES - 1 - (BIG_ROUTES - 1) % 3))   # a "/" route of the /r/<n> APIs
wait_200 gatehouse_big_route "http://127.0.0.1:$P_BIG/r/$last_route/x" "$PID_BIG"

# ---------------------------------------------------------------- measure
# utime+stime (clock ticks) of a process plus its direct children: nginx's work happens in
# its worker, a child of the master we started; Gatehouse and stock Pingora are one process each
# (all threads).
cpu_ticks() { # $1 = pid -> "utime stime"
    local u=0 s=0 p fields
    for p in "$1" $(pgrep -P "$1" || true); do
        # Fields after the ")" of comm: utime is the 12th, stime the 13th.
        fields=$(sed 's/.*) //' /proc/"$p"/stat 2>/dev/null) || continue
        set -- $fields
        u=$((u + ${12})); s=$((s + ${13}))
    done
    echo "$u $s"
}

RAW="$WORK/raw"; mkdir -p "$RAW"
WRK=("${PIN_LOAD[@]}" wrk -t"$THREADS" -c"$CONNS")
ALL_TARGETS=(upstream nginxproxy gatehouse gatehouse_key gatehouse_jwt gatehouse_limit gatehouse_redis gatehouse_cache
    stockpingora gatehouse_key_noan gatehouse_valid gatehouse_hdr gatehouse_json gatehouse_full gatehouse_big
    gatehouse_big_key gatehouse_stockpg gatehouse_full_stockpg)
if [ -n "${BENCH_ONLY:-}" ]; then
    TARGETS=(nginxproxy)
    for t in $BENCH_ONLY; do
        [[ " ${ALL_TARGETS[*]} " == *" $t "* ]] || die "BENCH_ONLY: unknown target $t (known: ${ALL_TARGETS[*]})"
        [ "$t" = nginxproxy ] || TARGETS+=("$t")
    done
else
    TARGETS=("${ALL_TARGETS[@]}")
fi
NT=${#TARGETS[@]}
declare -A URL=([upstream]=$URL_UP [nginxproxy]=$URL_NGX [gatehouse]=$URL_GH [stockpingora]=$URL_SP
    [gatehouse_key]=$URL_GHKEY [gatehouse_jwt]=$URL_GHJWT [gatehouse_limit]=$URL_GHLIM
    [gatehouse_redis]=$URL_GHRLIM [gatehouse_cache]=$URL_GHCACHE [gatehouse_key_noan]=$URL_GHKEY_NOAN
    [gatehouse_valid]=$URL_GHVALID [gatehouse_hdr]=$URL_GHHDR [gatehouse_json]=$URL_GHJSON
    [gatehouse_full]=$URL_GHFULL [gatehouse_big]=$URL_BIG [gatehouse_big_key]=$URL_BIGKEY
    [gatehouse_stockpg]=$URL_GHS [gatehouse_full_stockpg]=$URL_GHSFULL)
declare -A PID=([upstream]=$PID_UP [nginxproxy]=$PID_NGX [gatehouse]=$PID_GH [stockpingora]=$PID_SP
    [gatehouse_key]=$PID_GH [gatehouse_jwt]=$PID_GH [gatehouse_limit]=$PID_GH [gatehouse_redis]=$PID_GHR
    [gatehouse_cache]=$PID_GH [gatehouse_key_noan]=$PID_GH2 [gatehouse_valid]=$PID_GH [gatehouse_hdr]=$PID_GH
    [gatehouse_json]=$PID_GH [gatehouse_full]=$PID_GH [gatehouse_big]=$PID_BIG [gatehouse_big_key]=$PID_BIG
    [gatehouse_stockpg]=$PID_GHS [gatehouse_full_stockpg]=$PID_GHS)
# Request headers per target, several separated by newlines.
declare -A HDR=([gatehouse_key]=$HDR_KEY [gatehouse_jwt]=$HDR_JWT [gatehouse_key_noan]=$HDR_KEY
    [gatehouse_hdr]=$HDR_DEBUG [gatehouse_full]="$HDR_KEY"$'\n'"$HDR_DEBUG" [gatehouse_big_key]=$HDR_BIGKEY
    [gatehouse_full_stockpg]="$HDR_KEY"$'\n'"$HDR_DEBUG")
hdr_args() { # $1 = target -> fills the array `hdr` with -H NAME:VALUE pairs
    local h
    hdr=()
    while IFS= read -r h; do [ -n "$h" ] && hdr+=(-H "$h"); done <<<"${HDR[$1]:-}"
    return 0
}

# p99.9: wrk prints 50/75/90/99 only; a done() callback (no per-request Lua) adds it.
cat >"$WORK/p999.lua" <<'EOF'
done = function(summary, latency, requests)
    io.write(string.format("p99.9: %dus\n", latency:percentile(99.9)))
end
EOF
# Connections the upstream nginx has accepted so far (its stub_status; this request included).
upstream_accepts() {
    curl -s "http://127.0.0.1:$P_UP/stub_status" | awk 'NR == 3 { print $1 }'
}
# Resident memory of a process and its direct children (nginx: master + worker), kB.
rss_kb() { # $1 = pid -> "VmRSS VmHWM"
    local p rss=0 hwm=0 a b
    for p in "$1" $(pgrep -P "$1" || true); do
        read -r a b < <(awk '/^VmRSS:/ { r = $2 } /^VmHWM:/ { h = $2 } END { print r + 0, h + 0 }' /proc/"$p"/status 2>/dev/null || echo "0 0")
        rss=$((rss + a)); hwm=$((hwm + b))
    done
    echo "$rss $hwm"
}
[ -n "$(upstream_accepts)" ] || die "the upstream's stub_status does not answer (nginx without the module?)"

# Other work on this small machine (a parallel cargo build, say) skews every number: sample how
# busy the CPUs are for one second before measuring, and say so if they are not idle.
cpu_busy_pct() {
    local a b
    a=($(head -n1 /proc/stat)); sleep 1; b=($(head -n1 /proc/stat))
    # Fields 1-8: user nice system idle iowait irq softirq steal.
    local total=0 idle i
    for i in 1 2 3 4 5 6 7 8; do total=$((total + b[i] - a[i])); done
    idle=$((b[4] - a[4] + b[5] - a[5]))
    echo $(( total > 0 ? 100 * (total - idle) / total : 0 ))
}
BUSY_BEFORE=$(cpu_busy_pct)
if [ "$BUSY_BEFORE" -gt 10 ]; then
    log "WARNING: CPUs ${BUSY_BEFORE}% busy before the run: the machine is not idle"
fi

# Machine-wide CPU ticks from /proc/stat: "busy steal total", busy = user + nice + system (irq
# and softirq time is left out: loopback traffic is largely charged there, not to any process).
# Steal is time the hypervisor gave our vCPUs to someone else: a slower run with high steal
# was a noisy host, not a slower proxy.
sys_ticks() {
    local c i total=0
    c=($(head -n1 /proc/stat))
    for i in 1 2 3 4 5 6 7 8; do total=$((total + c[i])); done
    echo "$((c[1] + c[2] + c[3])) ${c[8]} $total"
}

HZ=$(getconf CLK_TCK)
TIMEFORMAT='%3U %3S'   # bash's `time`: user and system seconds of wrk itself
for r in $(seq "$ROUNDS"); do
    # Rotate the order each round so no target always runs first or last.
    for i in $(seq 0 $((NT - 1))); do
        t=${TARGETS[$(( (i + r - 1) % NT ))]}
        kill -0 "${PID[$t]}" 2>/dev/null || die "$t died before round $r"
        hdr_args "$t"
        "${WRK[@]}" "${hdr[@]}" -d"${WARMUP}s" "${URL[$t]}" >/dev/null
        acc0=$(upstream_accepts)
        read -r t_u0 t_s0 < <(cpu_ticks "${PID[$t]}")
        read -r up_u0 up_s0 < <(cpu_ticks "$PID_UP")
        read -r busy0 steal0 total0 < <(sys_ticks)
        { time "${WRK[@]}" "${hdr[@]}" -d"${DURATION}s" --latency -s "$WORK/p999.lua" "${URL[$t]}" >"$RAW/r${r}_$t.wrk"; } 2>"$RAW/r${r}_$t.time"
        read -r busy1 steal1 total1 < <(sys_ticks)
        read -r up_u1 up_s1 < <(cpu_ticks "$PID_UP")
        read -r t_u1 t_s1 < <(cpu_ticks "${PID[$t]}")
        acc1=$(upstream_accepts)
        read -r rss hwm < <(rss_kb "${PID[$t]}")
        read -r wrk_u wrk_s < <(tail -n1 "$RAW/r${r}_$t.time")
        # CPU that neither wrk, the upstream nor the target used: other work on the machine.
        ours=$(( (t_u1 - t_u0) + (t_s1 - t_s0) ))
        if [ "$t" != upstream ]; then ours=$(( ours + (up_u1 - up_u0) + (up_s1 - up_s0) )); fi
        wrk_ticks=$(awk -v u="$wrk_u" -v s="$wrk_s" -v hz="$HZ" 'BEGIN { printf "%d", (u + s) * hz }')
        cat >"$RAW/r${r}_$t.cpu" <<EOF
hz=$HZ
user_ticks=$((t_u1 - t_u0))
sys_ticks=$((t_s1 - t_s0))
other_ticks=$(( (busy1 - busy0) - ours - wrk_ticks ))
steal_ticks=$((steal1 - steal0))
machine_ticks=$((total1 - total0))
upstream_accepts=$((acc1 - acc0 - 1))
rss_kb=$rss
hwm_kb=$hwm
EOF
        log "round $r/$ROUNDS $t: $(grep 'Requests/sec' "$RAW/r${r}_$t.wrk" | tr -s ' ')"
    done
done

# ---------------------------------------------------------------- fixed rate
# p99 at a fixed share of the nginx proxy's median max req/s, open loop (examples/fixed_rate.rs: latency
# from each request's scheduled send time, so a stall is charged to every request it delays).
FIXED_TARGETS=(upstream nginxproxy)
for t in gatehouse gatehouse_full; do
    [[ " ${TARGETS[*]} " == *" $t "* ]] && FIXED_TARGETS+=("$t")
done
# Two rates: 50 % of the nginx proxy's median max req/s (the issue's), and a low one (10 %) that
# every target serves without queueing, so its p99 is the latency a proxy adds, not a backlog.
FIXED_PHASES=""
declare -A FIXED_RATE=() FIXED_RATE_WANTED=()
if [ "$FIXED" = 1 ]; then
    NGX_MAX=$(cat "$RAW"/r*_nginxproxy.wrk | python3 -c '
import re, statistics, sys
rps = [float(x) for x in re.findall(r"Requests/sec:\s+([\d.]+)", sys.stdin.read())]
print(int(statistics.median(rps)))')
    [ "$NGX_MAX" -gt 0 ] || die "no nginx proxy req/s to take a share of"
    # The generator's own check first (response framing and counting against scripted servers):
    # a generator that miscounts would make every number below wrong.
    "$FIXED_BIN" --self-check >"$RAW/fixed_self_check.txt" 2>&1 \
        || { cat "$RAW/fixed_self_check.txt" >&2; die "fixed_rate --self-check failed"; }
    fixed() { # $1 = target, $2 = rate, $3 = output file, rest = extra fixed_rate options
        local t=$1 rate=$2 out=$3 h fr_hdr=()
        shift 3
        while IFS= read -r h; do [ -n "$h" ] && fr_hdr+=(--header "$h"); done <<<"${HDR[$t]:-}"
        "${PIN_LOAD[@]}" "$FIXED_BIN" "${URL[$t]}" "$rate" --conns "$CONNS" "${fr_hdr[@]}" "$@" >"$out" \
            || die "fixed_rate against $t failed"
    }
    for phase in half low; do
        pct=$([ $phase = half ] && echo 50 || echo "${BENCH_FIXED_LOW_PCT:-10}")
        rate=$((NGX_MAX * pct / 100))
        FIXED_RATE_WANTED[$phase]=$rate
        # The generator shares CPU 0 with the upstream: first make sure it keeps the rate, i.e.
        # sends on time (send lag p99 <= 200 µs) and gets its answers at the rate. One epoll loop
        # costs it ~10-13 µs of CPU per request at 50k req/s here, mostly the VM's price for
        # waking up at each slot (user time ~1 µs): it kept ~70k req/s beside the upstream. Where
        # it cannot, step down 15 % at a time (RESULTS.md says so).
        for attempt in 1 2 3 4 5 6 7; do
            fixed upstream "$rate" "$RAW/fixed_check_$phase.txt" --duration 3 --warmup 1
            achieved=$(awk -F= '$1 == "achieved_rate" { print $2 }' "$RAW/fixed_check_$phase.txt")
            lag=$(awk -F= '$1 == "send_lag_p99_us" { print $2 }' "$RAW/fixed_check_$phase.txt")
            if [ $((achieved * 100)) -ge $((rate * 97)) ] && [ "$lag" -le 200 ]; then break; fi
            log "fixed_rate cannot keep $rate req/s beside the upstream (achieved $achieved, send lag p99 $lag µs)"
            [ "$attempt" -lt 7 ] || die "fixed_rate keeps no rate here (last try $rate req/s)"
            rate=$((rate * 85 / 100))
        done
        FIXED_RATE[$phase]=$rate
        FIXED_PHASES="$FIXED_PHASES $phase"
        log "fixed rate $rate req/s (wanted ${FIXED_RATE_WANTED[$phase]} = $pct % of the nginx proxy); the generator kept $achieved req/s against the upstream, send lag p99 $lag µs"
        NF=${#FIXED_TARGETS[@]}
        for r in $(seq "$ROUNDS"); do
            for i in $(seq 0 $((NF - 1))); do
                t=${FIXED_TARGETS[$(( (i + r - 1) % NF ))]}
                kill -0 "${PID[$t]}" 2>/dev/null || die "$t died before fixed-rate round $r"
                fixed "$t" "$rate" "$RAW/fr${r}_${phase}_$t.txt" --duration "$DURATION" --warmup "$WARMUP"
                log "fixed-rate $phase round $r/$ROUNDS $t: $(grep -E '^(achieved_rate|p99_us)=' "$RAW/fr${r}_${phase}_$t.txt" | tr '\n' ' ')"
            done
        done
    done
fi

# ---------------------------------------------------------------- report
# Everything the report needs about how the numbers were made.
cat >"$RAW/meta.env" <<EOF
DATE=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
NPROC=$NCPU
CPU_MODEL=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
KERNEL=$(uname -srm)
BUSY_BEFORE=$BUSY_BEFORE
NGINX_VERSION=$("$NGINX" -v 2>&1 | cut -d/ -f2)
WRK_VERSION=$(wrk -v 2>&1 | head -n1 | awk '{print $2}')
GIT_COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
GIT_DIRTY=$(git status --porcelain -- src Cargo.toml Cargo.lock 2>/dev/null | wc -l)
PINGORA_VERSION=$(awk '/^name = "pingora-core"$/ { getline; gsub(/"/, "", $3); print $3; exit }' Cargo.lock 2>/dev/null || echo unknown)
ROUNDS=$ROUNDS
TARGETS=${TARGETS[*]}
FIXED_TARGETS=$([ "$FIXED" = 1 ] && echo "${FIXED_TARGETS[*]}")
FIXED_PHASES=$FIXED_PHASES
FIXED_RATE_half=${FIXED_RATE[half]:-0}
FIXED_RATE_WANTED_half=${FIXED_RATE_WANTED[half]:-0}
FIXED_RATE_low=${FIXED_RATE[low]:-0}
FIXED_RATE_WANTED_low=${FIXED_RATE_WANTED[low]:-0}
BIG_ROUTES=$BIG_ROUTES
BIG_CONSUMERS=$BIG_CONSUMERS
DURATION=$DURATION
WARMUP=$WARMUP
CONNS=$CONNS
THREADS=$THREADS
PIN=$PIN
CMD_WRK=${WRK[*]} -d${DURATION}s --latency -s p999.lua URL   (p999.lua: a done() that prints latency:percentile(99.9))
CMD_FIXED=${PIN_LOAD[*]} target/release/examples/fixed_rate URL RATE --conns $CONNS --duration $DURATION --warmup $WARMUP
CMD_UPSTREAM=${PIN_LOAD[*]} nginx -p DIR -c nginx.conf   (1 worker, return 200, ${#BODY}+1-byte body)
CMD_NGINXPROXY=${PIN_PROXY[*]} nginx -p DIR -c nginx.conf   (1 worker, keepalive 64, proxy_http_version 1.1)
CMD_GATEHOUSE=${PIN_PROXY[*]} target/release/gatehouse serve -c gatehouse.toml   (threads = 1; bare route /, API key /key/, JWT RS256 /jwt/ with wrk -H, local rate limit /limit/, cache hits /cache/; a second process with [limits] backend = "redis" for the Redis row; (j) is a third with [analytics] enabled = false; header rewrite /hdr/, JSON rewrite /json/, full chain /full/ with X-API-Key and X-Debug)
CMD_GATEHOUSE_BIG=${PIN_PROXY[*]} target/release/gatehouse serve -c gatehouse-big.toml   (threads = 1; the bare and API-key routes plus $BIG_ROUTES APIs/routes under /r/N and $BIG_CONSUMERS consumers, one sha256 key each, from bench/big_config.py; the key sent is the middle consumer's)
CMD_REDIS=${PIN_LOAD[*]} redis-server --port PORT --save "" --appendonly no   (its CPU is not in the Redis row's CPU columns)
CMD_GATEHOUSE_STOCKPG=${PIN_PROXY[*]} target/release/gatehouse-stock-pingora serve -c gatehouse.toml   (the same commit and config as CMD_GATEHOUSE, built with plain cargo on stock Pingora; bare / and full chain /full/)
CMD_STOCKPINGORA=${PIN_PROXY[*]} target/release/examples/stock_pingora 127.0.0.1:PORT 127.0.0.1:UPSTREAM_PORT 1   (listen, upstream, threads)
EOF
cp "$WORK/nginxproxy/nginx.conf" "$RAW/nginxproxy.conf"
cp "$WORK/gatehouse/gatehouse.toml" "$RAW/gatehouse.toml"
cp "$WORK/upstream/nginx.conf" "$RAW/upstream.conf"
tail -n 4 "$WORK/gatehouse-redis/gatehouse.toml" >"$RAW/gatehouse-redis-limits.toml"

python3 "$ROOT/bench/e2e.py" "$RAW" "${BENCH_OUT:-$ROOT/bench/RESULTS.md}"
