#!/usr/bin/env python3
"""Turn the raw output of bench/e2e.sh into a table on stdout and a RESULTS.md.

Usage: e2e.py RAW_DIR RESULTS_MD

RAW_DIR holds, per round r and target t: r{r}_{t}.wrk (wrk --latency output) and r{r}_{t}.cpu
("utime0 stime0 utime1 stime1 clk_tck" of the target's process), plus meta.env and the configs.
Exit status 1 if any target answered non-2xx/3xx during a measured run, since a number made of
error responses is not a throughput number.
"""

import re
import statistics
import sys
from pathlib import Path

TARGETS = [
    ("upstream", "(a) nginx upstream, direct"),
    ("nginxproxy", "(b) nginx proxy"),
    ("gatehouse", "(c) Gatehouse bare"),
    ("gatehouse_key", "(e) Gatehouse API key"),
    ("gatehouse_jwt", "(f) Gatehouse JWT RS256"),
    ("gatehouse_limit", "(g) Gatehouse local rate limit"),
    ("gatehouse_redis", "(h) Gatehouse Redis rate limit"),
    ("gatehouse_cache", "(i) Gatehouse cache hit"),
    ("stockpingora", "(d) stock Pingora"),
    ("gatehouse_key_noan", "(j) Gatehouse API key, analytics off"),
    ("gatehouse_valid", "(k) Gatehouse validated (OpenAPI)"),
]
BASELINE = "nginxproxy"
STOCK = "stockpingora"  # the bar: "at or above the best a stock Pingora proxy reaches"

# wrk prints durations as e.g. 812.00us, 1.23ms, 1.01s, 2.00m.
UNIT_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def to_ms(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if not m:
        raise ValueError(f"unknown wrk duration {text!r}")
    return float(m.group(1)) * UNIT_MS[m.group(2)]


def parse_wrk(text):
    """The numbers we use from one wrk run."""
    run = {"rps": None, "p50": None, "p99": None, "requests": 0, "non2xx": 0, "socket": None}
    for line in text.splitlines():
        line = line.strip()
        if m := re.match(r"Requests/sec:\s+([\d.]+)", line):
            run["rps"] = float(m.group(1))
        elif m := re.match(r"(50|99)%\s+(\S+)", line):
            run["p" + m.group(1)] = to_ms(m.group(2))
        elif m := re.match(r"(\d+) requests in", line):
            run["requests"] = int(m.group(1))
        elif m := re.match(r"Non-2xx or 3xx responses:\s+(\d+)", line):
            run["non2xx"] = int(m.group(1))
        elif line.startswith("Socket errors:"):
            # "Socket errors: connect 0, read 3, write 0, timeout 0": keep the non-zero ones.
            counts = dict((k, int(v)) for k, v in re.findall(r"(\w+) (\d+)", line.split(":", 1)[1]))
            run["socket"] = {k: v for k, v in counts.items() if v} or None
    if run["rps"] is None or run["p50"] is None or run["p99"] is None:
        raise ValueError("wrk output lacks Requests/sec or the latency distribution")
    return run


def parse_cpu(text, requests):
    """Target's user and system CPU in µs per request; the % of the machine's CPU time that none
    of wrk, the upstream or the target used (other work running alongside); the % stolen by the
    hypervisor (a busy host)."""
    v = {k: int(x) for k, x in (line.split("=", 1) for line in text.split())}
    pct = lambda ticks: 100 * max(ticks, 0) / v["machine_ticks"] if v["machine_ticks"] else None
    other, steal = pct(v["other_ticks"]), pct(v["steal_ticks"])
    if not requests:
        return None, None, other, steal
    per_req = 1e6 / v["hz"] / requests
    return v["user_ticks"] * per_req, v["sys_ticks"] * per_req, other, steal


def load(raw):
    meta = {}
    for line in (raw / "meta.env").read_text().splitlines():
        key, _, value = line.partition("=")
        meta[key] = value
    rounds = int(meta["ROUNDS"])
    runs = {t: [] for t, _ in TARGETS}
    for r in range(1, rounds + 1):
        for t, _ in TARGETS:
            run = parse_wrk((raw / f"r{r}_{t}.wrk").read_text())
            run["round"] = r
            cpu = parse_cpu((raw / f"r{r}_{t}.cpu").read_text(), run["requests"])
            run["user_us"], run["sys_us"], run["other_pct"], run["steal_pct"] = cpu
            runs[t].append(run)
    return meta, runs


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summarise(runs):
    summary = {}
    for t, _ in TARGETS:
        rs = runs[t]
        summary[t] = {k: median(r[k] for r in rs) for k in ("rps", "p50", "p99", "user_us", "sys_us", "other_pct")}
    base, stock = summary[BASELINE]["rps"], summary[STOCK]["rps"]
    for t in summary:
        summary[t]["ratio"] = summary[t]["rps"] / base if base else None
        summary[t]["ratio_stock"] = summary[t]["rps"] / stock if stock else None
        u, s = summary[t]["user_us"], summary[t]["sys_us"]
        # 1 µs per request = 0.01 CPU seconds per 10k requests.
        summary[t]["cpu10k"] = (u + s) / 100 if u is not None and s is not None else None
    return summary


def fmt(v, spec):
    return "–" if v is None else format(v, spec)


def table(header, rows):
    """A Markdown table, padded so it also reads well on a terminal."""
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), sep] + [line(r) for r in rows])


def vs_bare(summary, *targets):
    """Each target's median req/s divided by the bare route's (None when bare has no number)."""
    bare = summary["gatehouse"]["rps"]
    return [summary[t]["rps"] / bare for t in targets] if bare else None


def auth_cost(summary):
    """Issue 4's bar: the JWT route (cache hits) within 10 % of the bare route."""
    ratios = vs_bare(summary, "gatehouse_key", "gatehouse_jwt")
    if not ratios:
        return "–"
    key, jwt = ratios
    return (f"API-key route {key:.2f}× and JWT (RS256) route {jwt:.2f}× the bare route's req/s: "
            f"JWT verification cost {'within' if jwt >= 0.9 else 'NOT within'} 10 %.")


def limit_cost(summary):
    """Issue 5's bar: the local limiter costs under 5 % of the bare route."""
    ratios = vs_bare(summary, "gatehouse_limit", "gatehouse_redis")
    if not ratios:
        return "–"
    local, redis = ratios
    return (f"Local rate-limit route {local:.2f}× the bare route's req/s (limiter cost "
            f"{'under' if local >= 0.95 else 'NOT under'} 5 %); Redis rate-limit route {redis:.2f}× "
            f"(one Redis round trip per request).")


def cache_gain(summary):
    """Issue 6's bar: a cache-hit route at 1.5× the nginx plain proxy or more."""
    ratio = summary["gatehouse_cache"]["ratio"]
    if ratio is None:
        return "–"
    verdict = "meets" if ratio >= 1.5 else "does NOT meet"
    return f"Cache-hit route {ratio:.2f}× the nginx proxy's req/s: {verdict} the 1.5× goal."


def analytics_cost(summary):
    """Issue 7's bar: the full chain (API-key route) with analytics on within 5 % of it off."""
    on, off = summary["gatehouse_key"], summary["gatehouse_key_noan"]
    if not on["rps"] or not off["rps"]:
        return "–"
    cost = 1 - on["rps"] / off["rps"]
    verdict = "under" if cost < 0.05 else "NOT under"
    cpu = ""
    if on["cpu10k"] and off["cpu10k"]:
        cpu = f"; CPU per request {on['cpu10k'] / off['cpu10k']:.2f}× of analytics off"
    return (f"Analytics: API-key route {on['rps']:.0f} req/s with analytics on vs {off['rps']:.0f} off: "
            f"cost {cost * 100:.1f} % ({verdict} 5 %){cpu}.")


def validation_cost(summary):
    """Issue 8: a validated spec route as a ratio to the nginx proxy and to the bare route."""
    v, bare = summary["gatehouse_valid"], summary["gatehouse"]
    if v["ratio"] is None or not bare["rps"]:
        return "Validated route: no numbers."
    return (f"Validated route (path + 2 query parameters checked): {v['rps']:.0f} req/s, "
            f"{v['ratio']:.2f}× the nginx proxy, {v['rps'] / bare['rps']:.2f}× the bare route.")


def median_table(summary):
    header = ["target", "req/s (median)", "p50 ms", "p99 ms", "vs nginx proxy", "vs stock Pingora",
              "CPU s / 10k req",
              "user µs/req", "sys µs/req"]
    rows = []
    for t, label in TARGETS:
        s = summary[t]
        rows.append([label, fmt(s["rps"], ",.0f"), fmt(s["p50"], ".3f"), fmt(s["p99"], ".3f"),
                     fmt(s["ratio"], ".2f"), fmt(s["ratio_stock"], ".2f"), fmt(s["cpu10k"], ".3f"), fmt(s["user_us"], ".1f"),
                     fmt(s["sys_us"], ".1f")])
    return table(header, rows)


def rounds_table(runs):
    header = ["round", "target", "req/s", "p50 ms", "p99 ms", "requests", "user µs/req", "sys µs/req",
              "non-2xx", "socket errors", "other CPU %", "steal %"]
    rows = []
    all_runs = sorted((r["round"], i, t, r) for i, (t, _) in enumerate(TARGETS) for r in runs[t])
    for rnd, _, t, r in all_runs:
        sock = ", ".join(f"{k} {v}" for k, v in r["socket"].items()) if r["socket"] else "0"
        rows.append([rnd, t, fmt(r["rps"], ",.0f"), fmt(r["p50"], ".3f"), fmt(r["p99"], ".3f"),
                     f"{r['requests']:,}", fmt(r["user_us"], ".1f"), fmt(r["sys_us"], ".1f"),
                     r["non2xx"], sock, fmt(r["other_pct"], ".0f"), fmt(r["steal_pct"], ".1f")])
    return table(header, rows)


def problems(runs):
    """Non-2xx responses (fatal) and socket errors (reported) per target and round."""
    errors, warnings = [], []
    for t, label in TARGETS:
        for r in runs[t]:
            if r["non2xx"]:
                errors.append(f"{label}, round {r['round']}: {r['non2xx']} non-2xx/3xx responses")
            if r["socket"]:
                warnings.append(f"{label}, round {r['round']}: socket errors {r['socket']}")
    return errors, warnings


def write_results(path, raw, meta, runs, summary, errors, warnings):
    pin = ("proxy under test on CPU 1; wrk and the upstream on CPU 0 (taskset)"
           if meta["PIN"] == "1" else "none")
    dirty = int(meta["GIT_DIRTY"])
    commit = meta["GIT_COMMIT"] + (f" with {dirty} uncommitted change(s) under src/ or Cargo.*"
                                   if dirty else "")
    busy = " (**not idle**: other work ran on the machine)" if int(meta["BUSY_BEFORE"]) > 10 else ""
    out = f"""# End-to-end load benchmark

Made by `bash bench/e2e.sh` on {meta['DATE']}. Re-run it to refresh this file; compare targets
only within one run (run-to-run noise on this machine is about ±10 %).

## Machine
- CPUs: {meta['NPROC']} × {meta['CPU_MODEL']}
- Kernel: {meta['KERNEL']}
- nginx {meta['NGINX_VERSION']}, wrk {meta['WRK_VERSION']}
- Gatehouse: commit {commit}, `cargo build --release` (fat LTO)
- Stock Pingora: `examples/stock_pingora.rs` (pingora {meta.get('PINGORA_VERSION', '?')}),
  `cargo build --release --example stock_pingora` (same profile: fat LTO, `panic = "abort"`)
- Pinning: {pin}
- CPU busy during the second before the first run: {meta['BUSY_BEFORE']} %{busy}

## Method
{meta['ROUNDS']} interleaved rounds (the order rotates each round); in each round every target gets a
{meta['WARMUP']} s warm-up run of wrk and then a {meta['DURATION']} s measured run. The table shows medians over the
rounds. CPU is the target process's own utime + stime from `/proc/PID/stat` (nginx: master +
worker) over the measured run, divided by the requests wrk completed. "other CPU %" is the
machine's busy time (user + system, both CPUs) that neither wrk, the upstream nor the target
used; "steal %" is time the hypervisor took from this VM. High values in either mark a round
whose numbers were disturbed from outside.

(d) is there because the issue's bar is "at or above the best a stock Pingora proxy reaches on
this machine", so the leanest stock Pingora proxy (no compression module, prebuilt peer,
mimalloc, fat LTO, `panic = "abort"`, none of the gateway's work) is measured in the same run;
"vs stock Pingora" is each target's median req/s divided by its.

Commands (ports are picked free at run time):
```
upstream:      {meta['CMD_UPSTREAM']}
nginx proxy:   {meta['CMD_NGINXPROXY']}
gatehouse:     {meta['CMD_GATEHOUSE']}
redis:         {meta.get('CMD_REDIS', '–')}
stock Pingora: {meta['CMD_STOCKPINGORA']}
load:          {meta['CMD_WRK']}
```

## Medians
{median_table(summary)}

{auth_cost(summary)}
{cache_gain(summary)}

{limit_cost(summary)}

{analytics_cost(summary)}

{validation_cost(summary)}

## Per round
{rounds_table(runs)}

## Errors
{chr(10).join('- ' + e for e in errors + warnings) if errors or warnings else 'None: no non-2xx/3xx responses and no socket errors in any measured run.'}

## Configs
nginx proxy (`nginx.conf`):
```nginx
{(raw / 'nginxproxy.conf').read_text().strip().replace(str(raw.parent), '$TMP')}
```

Gatehouse (`gatehouse.toml`; the Redis row's process adds the `[limits]` below):
```toml
{(raw / 'gatehouse.toml').read_text().strip()}
```
```toml
{(raw / 'gatehouse-redis-limits.toml').read_text().strip() if (raw / 'gatehouse-redis-limits.toml').exists() else ''}
```
"""
    Path(path).write_text(out)


def main():
    raw, results = Path(sys.argv[1]), sys.argv[2]
    meta, runs = load(raw)
    summary = summarise(runs)
    errors, warnings = problems(runs)
    write_results(results, raw, meta, runs, summary, errors, warnings)

    print()
    print(f"wrk -t{meta['THREADS']} -c{meta['CONNS']} -d{meta['DURATION']}s, "
          f"medians of {meta['ROUNDS']} interleaved rounds")
    print(median_table(summary))
    print(auth_cost(summary))
    print(limit_cost(summary))
    print(cache_gain(summary))
    print(analytics_cost(summary))
    print(validation_cost(summary))
    for w in warnings:
        print("WARNING:", w)
    for e in errors:
        print("ERROR:", e)
    print(f"\nwrote {results}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
