#!/usr/bin/env bash
# Scale checks (issue 10), written to bench/SCALE.md and printed:
#   1. RSS of Gatehouse at idle, after start and after a 5 s warm-up with wrk, with the default
#      config (conf/gatehouse.toml, ports moved to free ones, access log off) and with a config of
#      10,000 APIs/routes and 100,000 consumers (bench/big_config.py);
#   2. RSS with 10,000 idle keep-alive client connections (bench/idle_conns.py: one request on
#      each, then held open), and again after they are closed;
#   3. reload of the 10,000-route config (SIGHUP): the "applied in N ms (load + swap)" that the
#      process logs, and the time from the signal until a route only the new file has answers,
#      with 10,000 routes alone and with 10,000 routes + 100,000 consumers.
# Run as root on Debian 12: `bash bench/scale.sh` (or `make bench-scale`).
#
# Knobs: BENCH_NO_BUILD=1 (use target/release/gatehouse as it is), BENCH_KEEP=1 (keep the temp
# dir), SCALE_CONNS (10000), SCALE_ROUTES (10000), SCALE_CONSUMERS (100000).
set -euo pipefail

CONNS=${SCALE_CONNS:-10000}
ROUTES=${SCALE_ROUTES:-10000}
CONSUMERS=${SCALE_CONSUMERS:-100000}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN="$ROOT/target/release/gatehouse"
cd "$ROOT"

log() { printf '[scale] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

need_pkgs=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need_pkgs+=(nginx-light)
for tool in wrk curl python3; do command -v $tool >/dev/null 2>&1 || need_pkgs+=($tool); done
if [ ${#need_pkgs[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || die "need root to apt-get install ${need_pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive RUNLEVEL=1
    apt-get update -qq && apt-get install -y -qq "${need_pkgs[@]}" >/dev/null || die "apt-get install failed"
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
    if [ -d "$HOME/.cargo/bin" ]; then PATH="$HOME/.cargo/bin:$PATH"; fi
    log "cargo build --release (fat LTO: several minutes when cold)"
    cargo build --release || die "cargo build --release failed"
fi
[ -x "$BIN" ] || die "$BIN missing"

# 10,000 client sockets in the client, as many accepted ones in Gatehouse: the default 1024
# descriptors per process are not enough. Raise the soft limit as far as the hard one allows
# (a container may cap the hard limit and forbid raising it, even for root).
hard=$(ulimit -Hn)
if [ "$hard" = unlimited ] || [ "$hard" -ge 65536 ]; then want=65536; else want=$hard; fi
ulimit -Sn "$want" 2>/dev/null || ulimit -n "$want" || die "cannot raise the open-file limit to $want"
[ "$(ulimit -n)" -ge $((CONNS + 1000)) ] || die "open-file limit $(ulimit -n) is below $CONNS connections + 1000"

WORK=$(mktemp -d /tmp/gatehouse-scale.XXXXXX)
chmod 755 "$WORK"
PIDS=()
cleanup() {
    local rc=$? pid
    for pid in "${PIDS[@]}"; do kill -INT "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [ "$rc" != 0 ]; then
        for f in "$WORK"/*.log; do [ -s "$f" ] && { log "--- tail of $f"; tail -n 20 "$f" >&2; }; done
    fi
    if [ "${BENCH_KEEP:-0}" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

read -r P_UP P_GH P_ADM P_PORTAL P_BIG < <(python3 -c '
import socket
ss = [socket.socket() for _ in range(5)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in ss))')

start() { # $1 = name, rest = command; sets LAST_PID
    local name=$1; shift
    "$@" >"$WORK/$name.log" 2>&1 &
    LAST_PID=$!
    PIDS+=("$LAST_PID")
}
# Polls until URL answers 200 (deadline in seconds); prints the seconds it took.
wait_200() { # $1 = url, $2 = pid, $3 = deadline s
    python3 - "$1" "$2" "$3" <<'PY' || die "$1 did not answer 200"
import http.client, os, sys, time, urllib.parse
url, pid, deadline = urllib.parse.urlsplit(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
t0 = time.monotonic()
while time.monotonic() - t0 < deadline:
    os.kill(pid, 0)
    try:
        c = http.client.HTTPConnection(url.hostname, url.port, timeout=5)
        c.request("GET", url.path)
        if c.getresponse().status == 200:
            print(f"{time.monotonic() - t0:.2f}")
            sys.exit(0)
    except OSError:
        pass
    time.sleep(0.05)
sys.exit(1)
PY
}
mem() { # $1 = pid -> "RSS MB / peak MB"
    awk '/^VmRSS:/ { r = $2 } /^VmHWM:/ { h = $2 } END { printf "%.1f MB (peak %.1f MB)", r / 1024, h / 1024 }' /proc/"$1"/status
}
fds() { ls /proc/"$1"/fd | wc -l; }

# ---------------------------------------------------------------- upstream
mkdir -p "$WORK/upstream/logs" "$WORK/upstream/tmp"
cat >"$WORK/upstream/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $WORK/upstream/nginx.pid;
error_log $WORK/upstream/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $WORK/upstream/tmp/body;
    proxy_temp_path $WORK/upstream/tmp/proxy;
    fastcgi_temp_path $WORK/upstream/tmp/fastcgi;
    uwsgi_temp_path $WORK/upstream/tmp/uwsgi;
    scgi_temp_path $WORK/upstream/tmp/scgi;
    keepalive_requests 1000000;
    server { listen 127.0.0.1:$P_UP; default_type text/plain; location / { return 200 'scale\n'; } }
}
EOF
start upstream "$NGINX" -p "$WORK/upstream" -e "$WORK/upstream/logs/error.log" -c "$WORK/upstream/nginx.conf"
PID_UP=$LAST_PID
wait_200 "http://127.0.0.1:$P_UP/" "$PID_UP" 10 >/dev/null

# ---------------------------------------------------------------- 1 + 2: default config
# conf/ as shipped (its specs sit beside it), on free ports, the demo cluster pointed at nginx,
# the access log off (at warm-up load it would only fill the disk).
cp -r conf "$WORK/conf"
sed -i -e "s/127.0.0.1:8080/127.0.0.1:$P_GH/" -e "s/127.0.0.1:9080/127.0.0.1:$P_ADM/" \
    -e "s/127.0.0.1:8081/127.0.0.1:$P_PORTAL/" -e "s/127.0.0.1:9000/127.0.0.1:$P_UP/" \
    -e 's/^access_log = .*/access_log = "off"/' "$WORK/conf/gatehouse.toml"
grep -q '^max_conns_per_ip' "$WORK/conf/gatehouse.toml" && die "the default config caps connections per IP"
"$BIN" check -c "$WORK/conf/gatehouse.toml" >/dev/null || die "gatehouse check of the default config failed"
start gatehouse "$BIN" serve -c "$WORK/conf/gatehouse.toml"
PID_GH=$LAST_PID
URL_DEMO="http://127.0.0.1:$P_GH/demo/hello"
ready_small=$(wait_200 "$URL_DEMO" "$PID_GH" 30)
rss_small_start=$(mem "$PID_GH")
wrk -t1 -c50 -d5s "$URL_DEMO" >"$WORK/wrk-small.txt"
grep -q 'Non-2xx' "$WORK/wrk-small.txt" && die "warm-up of the default config got non-2xx answers"
rss_small_warm=$(mem "$PID_GH")
log "default config: ready in ${ready_small}s; RSS $rss_small_start after start, $rss_small_warm after warm-up"

# Twice: the second cycle tells memory the allocator kept for reuse (flat) from a leak (growing).
fds_before=$(fds "$PID_GH")
idle_cycle() { # $1 = cycle -> sets fds_open rss_conns fds_closed rss_closed
    log "cycle $1: opening $CONNS keep-alive connections"
    coproc IDLE { python3 "$ROOT/bench/idle_conns.py" 127.0.0.1 "$P_GH" /demo/hello "$CONNS" 2>&1; }
    local line
    read -r -t 300 line <&"${IDLE[0]}" || die "idle_conns.py did not report"
    [ "$line" = "open $CONNS" ] || die "idle_conns.py: $line"
    fds_open=$(fds "$PID_GH")
    rss_conns=$(mem "$PID_GH")
    # (±10: the warm-up's own connections may still be closing when fds_before is read.)
    [ $((fds_open - fds_before)) -ge $((CONNS - 10)) ] \
        || die "Gatehouse holds only $((fds_open - fds_before)) more descriptors with $CONNS clients"
    echo >&"${IDLE[1]}"
    read -r -t 60 line <&"${IDLE[0]}" || die "idle_conns.py did not close"
    case "$line" in "closed $CONNS, 0 had"*) ;; *) die "idle_conns.py: $line (the server dropped idle connections)";; esac
    wait "$IDLE_PID" || die "idle_conns.py failed"
    # The server sees the closes asynchronously: poll its descriptor count back down.
    for _ in $(seq 300); do [ "$(fds "$PID_GH")" -le $((fds_before + 10)) ] && break; sleep 0.1; done
    fds_closed=$(fds "$PID_GH")
    [ "$fds_closed" -le $((fds_before + 10)) ] || die "Gatehouse still holds $fds_closed descriptors after the clients closed"
    rss_closed=$(mem "$PID_GH")
    log "cycle $1: $CONNS idle connections: RSS $rss_conns ($fds_open descriptors); after closing: $rss_closed"
}
idle_cycle 1
fds_open1=$fds_open rss_conns1=$rss_conns fds_closed1=$fds_closed rss_closed1=$rss_closed
idle_cycle 2
kill -INT "$PID_GH"

# ---------------------------------------------------------------- 1 + 3: 10k routes, 100k consumers
mkdir -p "$WORK/big"
cat >"$WORK/big/base.toml" <<EOF
[server]
listen = ["127.0.0.1:$P_BIG"]
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
name = "bench-key"
base_path = "/key"
cluster = "bench"
auth = ["api_key"]
EOF
# The served file, then the files each reload swaps in: the same routes plus one more
# (/added-N/, marked by a response header), without and with the 100,000 consumers.
make_config() { # $1 = file, $2 = consumers, $3 = extra route (optional)
    cp "$WORK/big/base.toml" "$1"
    python3 "$ROOT/bench/big_config.py" "$1" "$ROUTES" "$2" bench ${3:+--extra-route "$3"}
}
BIG_KEY=$(make_config "$WORK/big/gatehouse.toml" "$CONSUMERS")
make_config "$WORK/big/reload-1.toml" 0 /added-1 >/dev/null
make_config "$WORK/big/reload-2.toml" 0 /added-2 >/dev/null
make_config "$WORK/big/reload-3.toml" "$CONSUMERS" /added-3 >/dev/null
make_config "$WORK/big/reload-4.toml" "$CONSUMERS" /added-4 >/dev/null
"$BIN" check -c "$WORK/big/gatehouse.toml" >/dev/null || die "gatehouse check of the 10k-route config failed"
start gatehouse_big "$BIN" serve -c "$WORK/big/gatehouse.toml"
PID_BIG=$LAST_PID
ready_big=$(wait_200 "http://127.0.0.1:$P_BIG/" "$PID_BIG" 120)
rss_big_start=$(mem "$PID_BIG")
code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-API-Key: $BIG_KEY" "http://127.0.0.1:$P_BIG/key/")
[ "$code" = 200 ] || die "the middle consumer's key got $code"
wrk -t1 -c50 -d3s "http://127.0.0.1:$P_BIG/" >"$WORK/wrk-big.txt"
wrk -t1 -c50 -d2s -H "X-API-Key: $BIG_KEY" "http://127.0.0.1:$P_BIG/key/" >"$WORK/wrk-big-key.txt"
grep -q 'Non-2xx' "$WORK/wrk-big.txt" "$WORK/wrk-big-key.txt" && die "warm-up of the 10k-route config got non-2xx answers"
rss_big_warm=$(mem "$PID_BIG")
log "10k routes + 100k consumers: ready in ${ready_big}s; RSS $rss_big_start after start, $rss_big_warm after warm-up"

# Each reload: copy the file in, SIGHUP, poll the new route until it answers; then read the
# process's own "applied in N ms" line.
RELOADS=()
for n in 1 2 3 4; do
    cp "$WORK/big/reload-$n.toml" "$WORK/big/gatehouse.toml"
    before=$(grep -c 'applied in' "$WORK/gatehouse_big.log" || true)
    e2e=$(python3 - "$PID_BIG" "http://127.0.0.1:$P_BIG/added-$n/" <<'PY'
import http.client, os, signal, sys, time, urllib.parse
pid, url = int(sys.argv[1]), urllib.parse.urlsplit(sys.argv[2])
t0 = time.monotonic()
os.kill(pid, signal.SIGHUP)
while time.monotonic() - t0 < 60:
    c = http.client.HTTPConnection(url.hostname, url.port, timeout=5)
    c.request("GET", url.path)
    r = c.getresponse()
    if r.status == 200 and r.getheader("X-Reload-Mark") == url.path.rstrip("/"):
        print(f"{(time.monotonic() - t0) * 1000:.0f}")
        sys.exit(0)
    c.close()
sys.exit("the new route never answered")
PY
) || die "reload $n: the new route never answered"
    for _ in $(seq 100); do
        [ "$(grep -c 'applied in' "$WORK/gatehouse_big.log" || true)" -gt "$before" ] && break
        sleep 0.1
    done
    swap=$(grep -o 'applied in [0-9]* ms' "$WORK/gatehouse_big.log" | tail -n1 | awk '{ print $3 }')
    [ -n "$swap" ] || die "reload $n: no 'applied in' line in the log"
    consumers=$([ "$n" -le 2 ] && echo 0 || echo "$CONSUMERS")
    RELOADS+=("| $n | $ROUTES + 3 | $consumers | $swap | $e2e | $(mem "$PID_BIG") |")
    log "reload $n ($consumers consumers): load + swap $swap ms, signal to new route answering $e2e ms"
done

# ---------------------------------------------------------------- report
OUT="$ROOT/bench/SCALE.md"
cat >"$OUT" <<EOF
# Scale checks

Made by \`bash bench/scale.sh\` on $(date -u '+%Y-%m-%d %H:%M:%S UTC'), commit
$(git rev-parse --short HEAD 2>/dev/null || echo unknown), \`cargo build --release\`, on
$(nproc) × $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(uname -sr). Nothing pinned;
Gatehouse \`threads\` as in each config. RSS is VmRSS of the process (peak: VmHWM).

## Memory
| config | ready after start | RSS after start | RSS after warm-up (wrk -c50, 5 s) |
|---|---|---|---|
| default (\`conf/gatehouse.toml\`: admin, portal, store, analytics, 4 APIs) | ${ready_small} s | $rss_small_start | $rss_small_warm |
| $ROUTES APIs/routes + $CONSUMERS consumers (\`threads = 1\`) | ${ready_big} s | $rss_big_start | $rss_big_warm |

Goal (issue 10): idle RSS ≤ 30 MB.

## $CONNS idle keep-alive client connections (default config)
| state | RSS | open descriptors |
|---|---|---|
| before (after warm-up) | $rss_small_warm | $fds_before |
| $CONNS connections open, one request answered on each | $rss_conns1 | $fds_open1 |
| all closed again | $rss_closed1 | $fds_closed1 |
| a second time: $CONNS open | $rss_conns | $fds_open |
| all closed again | $rss_closed | $fds_closed |

\`bench/idle_conns.py\` opens the connections one after another, sends a GET on each and reads
the 200, then holds them; none had been closed by the server when they were closed (keep-alive
idle limit: 60 s). \`ulimit -n $(ulimit -n)\` for both processes; \`[server] max_conns_per_ip\` is unset
by default (no cap), so no config change was needed.

## Reload of $ROUTES routes (SIGHUP)
"load + swap" is the process's own log line (\`reload: FILE applied in N ms (load + swap)\`:
read, parse and check the file, build the new runtime, swap it in); "signal to answer" is from
the SIGHUP until a route only the new file has (\`/added-N/\`, whose answers carry
\`X-Reload-Mark\`; before, the bare \`/\` API answers that path) answers, polled from a client.

| reload | APIs | consumers | load + swap ms | signal to answer ms | RSS after |
|---|---|---|---|---|---|
$(printf '%s\n' "${RELOADS[@]}")

"load + swap" ends after the swap and so includes dropping the old runtime (inline, when no
request holds it any more): that is why the new route can answer before it is logged.
RSS before the reloads: $rss_big_warm. Goal (issue 10): reload of 10k routes ≤ 200 ms.
EOF
cat "$OUT"
