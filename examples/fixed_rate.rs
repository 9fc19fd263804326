//! Open-loop HTTP/1.1 load at a fixed rate, for `bench/e2e.sh` (wrk has no fixed-rate mode).
//!
//! `fixed_rate URL RATE [--conns N] [--duration S] [--warmup S] [--slack-us N] [--header "Name: value"]...`
//! `fixed_rate --self-check` (framing and accounting against scripted local servers)
//!
//! N keep-alive connections share RATE requests/s; connection c sends its i-th request at
//! `start + (i * N + c) / RATE`. Latency is measured from that *scheduled* time, so when the
//! server stalls, every request that should have been sent meanwhile is charged the wait
//! (no coordinated omission, as in wrk2). One thread, one epoll loop (`fixed_rate/generator.rs`):
//! a few µs of CPU per request, so it keeps 50 % of nginx's max beside the upstream on one CPU.
//! "send lag" is how late the generator itself sent a request whose connection was idle: if
//! its p99 is not small, the generator did not keep the rate and the run says nothing.
//! "achieved_rate" counts answers from the first measured slot to the last answer.
//! Prints `key=value` lines (latencies in µs; cpu_* is the generator's own CPU time).

// The crate root is examples/fixed_rate.rs: its modules live beside it in fixed_rate/.
#[path = "fixed_rate/epoll.rs"]
mod epoll;
#[path = "fixed_rate/generator.rs"]
mod generator;
#[path = "fixed_rate/response.rs"]
mod response;
#[path = "fixed_rate/self_check.rs"]
mod self_check;

use generator::{Plan, Stats};
use std::net::ToSocketAddrs;
use std::time::Duration;

fn usage() -> ! {
    eprintln!(
        "usage: fixed_rate http://HOST:PORT/PATH RATE [--conns N] [--duration S] [--warmup S] [--slack-us N] [--header 'K: V']...\n       fixed_rate --self-check"
    );
    std::process::exit(2)
}

fn parse_args() -> Plan {
    let mut it = std::env::args().skip(1);
    let url = it.next().unwrap_or_else(|| usage());
    if url == "--self-check" {
        self_check::run();
        println!("self_check=ok");
        std::process::exit(0);
    }
    let rate: f64 =
        it.next().and_then(|r| r.parse().ok()).filter(|r: &f64| r.is_finite() && *r > 0.0).unwrap_or_else(|| usage());
    let rest = url.strip_prefix("http://").unwrap_or_else(|| usage());
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let addr = host.to_socket_addrs().ok().and_then(|mut a| a.next()).unwrap_or_else(|| {
        eprintln!("fixed_rate: cannot resolve {host}");
        std::process::exit(2)
    });
    let (mut conns, mut duration, mut warmup, mut headers) =
        (50, Duration::from_secs(10), Duration::from_secs(2), String::new());
    let mut slack = Duration::ZERO;
    let secs = |v: Option<String>| {
        // try_from refuses what from_secs_f64 would panic on: negative, NaN, too large.
        v.and_then(|s| s.parse::<f64>().ok())
            .and_then(|s| Duration::try_from_secs_f64(s).ok())
            .unwrap_or_else(|| usage())
    };
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--conns" => {
                conns = it
                    .next()
                    .and_then(|s| s.parse().ok())
                    .filter(|n| (1..=100_000).contains(n))
                    .unwrap_or_else(|| usage())
            }
            "--duration" => duration = secs(it.next()),
            "--warmup" => warmup = secs(it.next()),
            // Timer slack: 0 (default) sends at each slot; more costs send lag, saves CPU.
            "--slack-us" => slack = secs(it.next()) / 1_000_000,
            "--header" => {
                let h = it.next().filter(|h| !h.contains(['\r', '\n'])).unwrap_or_else(|| usage());
                headers.push_str(&h);
                headers.push_str("\r\n");
            }
            _ => usage(),
        }
    }
    Plan {
        addr,
        request: format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n{headers}\r\n").into_bytes(),
        rate,
        conns,
        warmup,
        duration,
        // As long again as the run (at least 5 s) for a server that fell behind to catch up.
        drain: duration.max(Duration::from_secs(5)),
        timer_slack: slack,
    }
}

pub fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// This process's user and system CPU time so far, µs.
fn cpu_us() -> (u64, u64) {
    // SAFETY: getrusage fills the struct it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let us = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    (us(ru.ru_utime), us(ru.ru_stime))
}

fn main() {
    let plan = parse_args();
    let Stats { mut latencies, mut send_lags, non2xx, errors, answered, measured_span } = generator::run(&plan)
        .unwrap_or_else(|e| {
            eprintln!("fixed_rate: {e}");
            std::process::exit(1)
        });
    let (user, sys) = cpu_us();
    latencies.sort_unstable();
    send_lags.sort_unstable();
    // Answers per second from the first measured slot to the last answer (not the scheduled
    // window): below the target rate when the server, or the generator, could not keep up.
    let secs = measured_span.map_or(0.0, |d| d.as_secs_f64()).max(plan.duration.as_secs_f64() * 0.5);
    println!("target_rate={:.0}", plan.rate);
    println!("achieved_rate={:.0}", latencies.len() as f64 / secs);
    println!("requests={}", latencies.len());
    println!("errors={errors}");
    println!("non2xx={non2xx}");
    for (name, p) in [("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("p999", 99.9)] {
        println!("{name}_us={}", percentile(&latencies, p));
    }
    println!("max_us={}", latencies.last().copied().unwrap_or(0));
    // No samples: every slot found its connection still busy (the server is behind).
    println!("send_lag_samples={}", send_lags.len());
    println!("send_lag_p99_us={}", percentile(&send_lags, 99.0));
    println!("send_lag_max_us={}", send_lags.last().copied().unwrap_or(0));
    // The generator's own cost (warm-up included), to see that it is not the bottleneck.
    println!("cpu_user_us={user}");
    println!("cpu_sys_us={sys}");
    println!("cpu_us_per_request={:.2}", (user + sys) as f64 / answered.max(1) as f64);
}
