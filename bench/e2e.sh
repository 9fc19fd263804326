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
# interleaved over several rounds so that machine noise hits all targets alike.
# Writes bench/RESULTS.md and prints a median table. Run as root on Debian 12: `bash bench/e2e.sh`.
#
# Knobs (environment):
#   BENCH_DURATION  seconds per measured run      (10)
#   BENCH_WARMUP    seconds of warm-up before each (2)
#   BENCH_ROUNDS    interleaved rounds             (3)
#   BENCH_CONNS     wrk connections                (50)
#   BENCH_THREADS   wrk threads                    (1)
#   BENCH_PIN       1 = pin with taskset (proxy on CPU 1; wrk + upstream on CPU 0), 0 = no pinning
#   BENCH_NO_BUILD  1 = use target/release/gatehouse and target/release/examples/stock_pingora
#                   as they are, do not run cargo
#   BENCH_KEEP      1 = keep the temp dir (configs, logs, raw wrk output)
set -euo pipefail

DURATION=${BENCH_DURATION:-10}
WARMUP=${BENCH_WARMUP:-2}
ROUNDS=${BENCH_ROUNDS:-3}
CONNS=${BENCH_CONNS:-50}
THREADS=${BENCH_THREADS:-1}
PIN=${BENCH_PIN:-1}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN="$ROOT/target/release/gatehouse"
STOCK_BIN="$ROOT/target/release/examples/stock_pingora"
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
    log "cargo build --release (fat LTO: several minutes when cold)"
    cargo build --release || die "cargo build --release failed"
    log "cargo build --release --example stock_pingora"
    cargo build --release --example stock_pingora || die "cargo build --release --example stock_pingora failed"
fi
[ -x "$BIN" ] || die "$BIN missing (build failed or BENCH_NO_BUILD=1 without a binary)"
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
# Bind seven sockets to port 0 at once so the kernel hands out seven distinct free ports.
read -r P_UP P_NGX P_GH P_SP P_GHR P_RD P_GH2 < <(python3 -c '
import socket
ss = [socket.socket() for _ in range(7)]
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

nginx_conf "$WORK/upstream" "
    server {
        listen 127.0.0.1:$P_UP;
        default_type text/plain;
        location / { return 200 '$BODY\n'; }
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
sed "s/127.0.0.1:$P_GH/127.0.0.1:$P_GHR/" "$WORK/gatehouse/gatehouse.toml" >"$WORK/gatehouse-redis/gatehouse.toml"
cp "$WORK/gatehouse/jwt-pub.pem" "$WORK/gatehouse/valid.yaml" "$WORK/gatehouse-redis/"
cat >>"$WORK/gatehouse-redis/gatehouse.toml" <<EOF

[limits]
backend = "redis"
redis_url = "redis://127.0.0.1:$P_RD"
EOF
# The same gateway without analytics, on its own port and data dir.
mkdir -p "$WORK/gatehouse-noan"
cp "$WORK/gatehouse"/jwt-pub.pem "$WORK/gatehouse"/valid.yaml "$WORK/gatehouse-noan/"
sed "s/127.0.0.1:$P_GH\"/127.0.0.1:$P_GH2\"/" "$WORK/gatehouse/gatehouse.toml" >"$WORK/gatehouse-noan/gatehouse.toml"
printf '\n[analytics]\nenabled = false\n' >>"$WORK/gatehouse-noan/gatehouse.toml"

for d in upstream nginxproxy; do
    "$NGINX" -t -q -p "$WORK/$d" -e "$WORK/$d/logs/error.log" -c "$WORK/$d/nginx.conf" \
        || die "nginx config for $d is invalid"
done
"$BIN" check -c "$WORK/gatehouse/gatehouse.toml" >/dev/null || die "gatehouse check failed"
"$BIN" check -c "$WORK/gatehouse-redis/gatehouse.toml" >/dev/null || die "gatehouse check (redis) failed"
"$BIN" check -c "$WORK/gatehouse-noan/gatehouse.toml" >/dev/null || die "gatehouse check (no analytics) failed"

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
HDR_KEY="X-API-Key: $API_KEY"
HDR_JWT="Authorization: Bearer $JWT"

# Each target must answer 200 (with the upstream's body) before we measure anything.
wait_200() { # $1 = name, $2 = url, $3 = pid, $4 = request header (optional)
    local code= hdr=()
    [ -n "${4:-}" ] && hdr=(-H "$4")
    for _ in $(seq 100); do
        kill -0 "$3" 2>/dev/null || die "$1 exited during start-up"
        code=$(curl -s "${hdr[@]}" -o "$WORK/$1.probe" -D "$WORK/$1.probe-headers" -w '%{http_code}' "$2" || true)
        [ "$code" = 200 ] && break
        sleep 0.1
    done
    [ "$code" = 200 ] || die "$1 ($2) did not answer 200 (last status: ${code:-none})"
    if [ "$1" != upstream ] && ! cmp -s "$WORK/$1.probe" "$WORK/upstream.probe"; then
        die "$1 returned a different body than the upstream"
    fi
    log "$1 answers 200 on $2"
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
TARGETS=(upstream nginxproxy gatehouse gatehouse_key gatehouse_jwt gatehouse_limit gatehouse_redis gatehouse_cache stockpingora gatehouse_key_noan gatehouse_valid)
NT=${#TARGETS[@]}
declare -A URL=([upstream]=$URL_UP [nginxproxy]=$URL_NGX [gatehouse]=$URL_GH [stockpingora]=$URL_SP
    [gatehouse_key]=$URL_GHKEY [gatehouse_jwt]=$URL_GHJWT [gatehouse_limit]=$URL_GHLIM
    [gatehouse_redis]=$URL_GHRLIM [gatehouse_cache]=$URL_GHCACHE [gatehouse_key_noan]=$URL_GHKEY_NOAN
    [gatehouse_valid]=$URL_GHVALID)
declare -A PID=([upstream]=$PID_UP [nginxproxy]=$PID_NGX [gatehouse]=$PID_GH [stockpingora]=$PID_SP
    [gatehouse_key]=$PID_GH [gatehouse_jwt]=$PID_GH [gatehouse_limit]=$PID_GH [gatehouse_redis]=$PID_GHR
    [gatehouse_cache]=$PID_GH [gatehouse_key_noan]=$PID_GH2 [gatehouse_valid]=$PID_GH)
declare -A HDR=([gatehouse_key]=$HDR_KEY [gatehouse_jwt]=$HDR_JWT [gatehouse_key_noan]=$HDR_KEY)

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
        hdr=(); [ -n "${HDR[$t]:-}" ] && hdr=(-H "${HDR[$t]}")
        "${WRK[@]}" "${hdr[@]}" -d"${WARMUP}s" "${URL[$t]}" >/dev/null
        read -r t_u0 t_s0 < <(cpu_ticks "${PID[$t]}")
        read -r up_u0 up_s0 < <(cpu_ticks "$PID_UP")
        read -r busy0 steal0 total0 < <(sys_ticks)
        { time "${WRK[@]}" "${hdr[@]}" -d"${DURATION}s" --latency "${URL[$t]}" >"$RAW/r${r}_$t.wrk"; } 2>"$RAW/r${r}_$t.time"
        read -r busy1 steal1 total1 < <(sys_ticks)
        read -r up_u1 up_s1 < <(cpu_ticks "$PID_UP")
        read -r t_u1 t_s1 < <(cpu_ticks "${PID[$t]}")
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
EOF
        log "round $r/$ROUNDS $t: $(grep 'Requests/sec' "$RAW/r${r}_$t.wrk" | tr -s ' ')"
    done
done

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
DURATION=$DURATION
WARMUP=$WARMUP
CONNS=$CONNS
THREADS=$THREADS
PIN=$PIN
CMD_WRK=${WRK[*]} -d${DURATION}s --latency URL
CMD_UPSTREAM=${PIN_LOAD[*]} nginx -p DIR -c nginx.conf   (1 worker, return 200, ${#BODY}+1-byte body)
CMD_NGINXPROXY=${PIN_PROXY[*]} nginx -p DIR -c nginx.conf   (1 worker, keepalive 64, proxy_http_version 1.1)
CMD_GATEHOUSE=${PIN_PROXY[*]} target/release/gatehouse serve -c gatehouse.toml   (threads = 1; bare route /, API key /key/, JWT RS256 /jwt/ with wrk -H, local rate limit /limit/, cache hits /cache/; a second process with [limits] backend = "redis" for the Redis row; (j) is a third with [analytics] enabled = false)
CMD_REDIS=${PIN_LOAD[*]} redis-server --port PORT --save "" --appendonly no   (its CPU is not in the Redis row's CPU columns)
CMD_STOCKPINGORA=${PIN_PROXY[*]} target/release/examples/stock_pingora 127.0.0.1:PORT 127.0.0.1:UPSTREAM_PORT 1   (listen, upstream, threads)
EOF
cp "$WORK/nginxproxy/nginx.conf" "$RAW/nginxproxy.conf"
cp "$WORK/gatehouse/gatehouse.toml" "$RAW/gatehouse.toml"
tail -n 4 "$WORK/gatehouse-redis/gatehouse.toml" >"$RAW/gatehouse-redis-limits.toml"

python3 "$ROOT/bench/e2e.py" "$RAW" "$ROOT/bench/RESULTS.md"
