//! Open-loop HTTP/1.1 load at a fixed rate, for `bench/e2e.sh` (wrk has no fixed-rate mode).
//!
//! `fixed_rate URL RATE [--conns N] [--duration S] [--warmup S] [--header "Name: value"]...`
//!
//! N keep-alive connections share RATE requests/s; connection c sends its i-th request at
//! `start + (i * N + c) / RATE`. Latency is measured from that *scheduled* time, so when the
//! server stalls, every request that should have been sent meanwhile is charged the wait
//! (no coordinated omission, as in wrk2). Slots are kept with one timerfd per connection:
//! tokio's own timers tick in milliseconds, far coarser than what is measured here.
//! "send lag" is how late the generator itself sent a request whose connection was idle: if
//! its p99 is not small, the generator did not keep the rate and the run says nothing.
//! "achieved_rate" counts answers from the first measured slot to the last answer.
//! Prints `key=value` lines (latencies in µs).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Args {
    host: String,
    path: String,
    rate: f64,
    conns: usize,
    duration: Duration,
    warmup: Duration,
    headers: Vec<String>,
}

fn usage() -> ! {
    eprintln!(
        "usage: fixed_rate http://HOST:PORT/PATH RATE [--conns N] [--duration S] [--warmup S] [--header 'K: V']..."
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut it = std::env::args().skip(1);
    let url = it.next().unwrap_or_else(|| usage());
    let rate: f64 = it.next().and_then(|r| r.parse().ok()).filter(|r| *r > 0.0).unwrap_or_else(|| usage());
    let rest = url.strip_prefix("http://").unwrap_or_else(|| usage());
    let (host, path) = match rest.find('/') {
        Some(i) => (rest[..i].to_string(), rest[i..].to_string()),
        None => (rest.to_string(), "/".to_string()),
    };
    let mut a = Args {
        host,
        path,
        rate,
        conns: 50,
        duration: Duration::from_secs(10),
        warmup: Duration::from_secs(2),
        headers: Vec::new(),
    };
    let secs = |v: Option<String>| Duration::from_secs_f64(v.and_then(|s| s.parse().ok()).unwrap_or_else(|| usage()));
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--conns" => a.conns = it.next().and_then(|s| s.parse().ok()).filter(|n| *n > 0).unwrap_or_else(|| usage()),
            "--duration" => a.duration = secs(it.next()),
            "--warmup" => a.warmup = secs(it.next()),
            "--header" => a.headers.push(it.next().unwrap_or_else(|| usage())),
            _ => usage(),
        }
    }
    a
}

/// A one-shot CLOCK_MONOTONIC timerfd: fires at an absolute `Instant` with microsecond precision.
struct SlotTimer(AsyncFd<OwnedFd>);

impl SlotTimer {
    fn new() -> io::Result<Self> {
        // SAFETY: plain syscall; the returned descriptor is owned from here on.
        let fd = unsafe { libc::timerfd_create(libc::CLOCK_MONOTONIC, libc::TFD_NONBLOCK | libc::TFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor nobody else owns; the OwnedFd keeps it open for as
        // long as the AsyncFd holds it.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        let registered = unsafe { AsyncFd::register_with_interest(owned, tokio::io::Interest::READABLE) };
        Ok(SlotTimer(registered.map_err(io::Error::from)?))
    }

    async fn sleep_until(&self, at: Instant) -> io::Result<()> {
        let now = Instant::now();
        if at <= now {
            return Ok(());
        }
        // Instant is CLOCK_MONOTONIC on Linux: turn the wait into an absolute monotonic time.
        let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: ts is a valid out-pointer.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
        let target = Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32) + (at - now);
        let spec = libc::itimerspec {
            it_interval: libc::timespec { tv_sec: 0, tv_nsec: 0 },
            it_value: libc::timespec { tv_sec: target.as_secs() as _, tv_nsec: target.subsec_nanos() as _ },
        };
        let fd = self.0.get_ref().as_raw_fd();
        // SAFETY: fd is our timerfd; spec outlives the call.
        if unsafe { libc::timerfd_settime(fd, libc::TFD_TIMER_ABSTIME, &spec, std::ptr::null_mut()) } < 0 {
            return Err(io::Error::last_os_error());
        }
        loop {
            let mut guard = self.0.readable().await?;
            let mut expirations = [0u8; 8];
            // SAFETY: reads 8 bytes into a stack buffer of 8 bytes.
            let n = unsafe { libc::read(fd, expirations.as_mut_ptr().cast(), 8) };
            // Consumed either way: a one-shot timer is not readable again until re-armed, and
            // clearing now spares the next wait a read that can only fail.
            guard.clear_ready();
            if n == 8 {
                return Ok(());
            }
        }
    }
}

#[derive(Default)]
struct Stats {
    /// Latency from the scheduled send time to the last byte of the answer, µs.
    latencies: Vec<u32>,
    /// How late the request was written when its connection was free at its slot, µs.
    send_lags: Vec<u32>,
    non2xx: u64,
    errors: u64,
    /// When the last measured answer arrived: a server that falls behind stretches the run.
    last_done: Option<Instant>,
}

/// Reads one HTTP/1.1 response (head, then a Content-Length or chunked body) and returns its
/// status. `buf` keeps bytes already read past the end of the previous response.
async fn read_response(conn: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<u16> {
    let bad = |m: &str| io::Error::new(io::ErrorKind::InvalidData, m.to_string());
    let (status, head_len, body) = loop {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut resp = httparse::Response::new(&mut headers);
        match resp.parse(buf).map_err(|e| bad(&e.to_string()))? {
            httparse::Status::Complete(n) => {
                let status = resp.code.unwrap_or(0);
                let header =
                    |name: &str| resp.headers.iter().find(|h| h.name.eq_ignore_ascii_case(name)).map(|h| h.value);
                let chunked = header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case(b"chunked"));
                let len =
                    header("content-length").and_then(|v| std::str::from_utf8(v).ok()?.trim().parse::<usize>().ok());
                let body = match (chunked, len) {
                    (true, _) => None,
                    (false, Some(len)) => Some(len),
                    // 1xx/204/304 carry no body; anything else must say how long it is (we
                    // keep the connection and cannot read to close).
                    (false, None) if status == 204 || status == 304 || status < 200 => Some(0),
                    (false, None) => return Err(bad("response without Content-Length or chunked")),
                };
                break (status, n, body);
            }
            httparse::Status::Partial => fill(conn, buf).await?,
        }
    };
    buf.drain(..head_len);
    match body {
        Some(len) => {
            while buf.len() < len {
                fill(conn, buf).await?;
            }
            buf.drain(..len);
        }
        None => read_chunked(conn, buf).await?,
    }
    Ok(status)
}

/// Skips a chunked body: size lines, data + CRLF, up to the zero chunk and its (empty) trailers.
async fn read_chunked(conn: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<()> {
    let bad = |m: &str| io::Error::new(io::ErrorKind::InvalidData, m.to_string());
    loop {
        let line_end = loop {
            if let Some(i) = buf.windows(2).position(|w| w == b"\r\n") {
                break i;
            }
            fill(conn, buf).await?;
        };
        let line = std::str::from_utf8(&buf[..line_end]).map_err(|_| bad("chunk size"))?;
        let size =
            usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16).map_err(|_| bad("chunk size"))?;
        buf.drain(..line_end + 2);
        if size == 0 {
            // Trailers end with an empty line.
            loop {
                if let Some(i) = buf.windows(2).position(|w| w == b"\r\n") {
                    buf.drain(..i + 2);
                    if i == 0 {
                        return Ok(());
                    }
                    continue;
                }
                fill(conn, buf).await?;
            }
        }
        while buf.len() < size + 2 {
            fill(conn, buf).await?;
        }
        buf.drain(..size + 2);
    }
}

async fn fill(conn: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<()> {
    let mut chunk = [0u8; 16384];
    let n = conn.read(&mut chunk).await?;
    if n == 0 {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed"));
    }
    buf.extend_from_slice(&chunk[..n]);
    Ok(())
}

/// One connection's schedule: slot i at `start + (i * conns + index) / rate`, until `end`.
/// Only answers to slots at or after `measure_from` are recorded (the rest is warm-up).
async fn connection(a: std::rc::Rc<Args>, index: usize, start: Instant, measure_from: Instant, end: Instant) -> Stats {
    let mut stats = Stats::default();
    let timer = SlotTimer::new().expect("timerfd");
    let mut request = format!("GET {} HTTP/1.1\r\nHost: {}\r\n", a.path, a.host);
    for h in &a.headers {
        request.push_str(h);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    let step = 1.0 / a.rate;
    let mut conn: Option<TcpStream> = None;
    let mut buf = Vec::with_capacity(16384);
    for i in 0u64.. {
        let slot = start + Duration::from_secs_f64((i as f64 * a.conns as f64 + index as f64) * step);
        if slot >= end {
            break;
        }
        let idle_at_slot = Instant::now() <= slot;
        timer.sleep_until(slot).await.expect("timerfd");
        let sent = Instant::now();
        let result = async {
            if conn.is_none() {
                let c = TcpStream::connect(&a.host).await?;
                c.set_nodelay(true)?;
                conn = Some(c);
                buf.clear();
            }
            let c = conn.as_mut().expect("connected");
            c.write_all(request.as_bytes()).await?;
            read_response(c, &mut buf).await
        }
        .await;
        if slot < measure_from {
            if result.is_err() {
                conn = None;
            }
            continue;
        }
        let done = Instant::now();
        stats.last_done = Some(done);
        match result {
            Ok(status) => {
                stats.latencies.push((done - slot).as_micros().min(u32::MAX as u128) as u32);
                if !(200..300).contains(&status) {
                    stats.non2xx += 1;
                }
            }
            Err(_) => {
                stats.errors += 1;
                conn = None;
            }
        }
        if idle_at_slot {
            stats.send_lags.push((sent - slot).as_micros().min(u32::MAX as u128) as u32);
        }
    }
    stats
}

fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn main() {
    let args = std::rc::Rc::new(parse_args());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
    let local = tokio::task::LocalSet::new();
    let measured = args.duration;
    let all = local.block_on(&rt, async {
        // A little headroom so connections are set up before the first slot.
        let start = Instant::now() + Duration::from_millis(50);
        let measure_from = start + args.warmup;
        let end = measure_from + measured;
        let tasks: Vec<_> = (0..args.conns)
            .map(|c| tokio::task::spawn_local(connection(args.clone(), c, start, measure_from, end)))
            .collect();
        let mut all = Stats::default();
        for t in tasks {
            let s = t.await.expect("connection task");
            all.latencies.extend(s.latencies);
            all.send_lags.extend(s.send_lags);
            all.non2xx += s.non2xx;
            all.errors += s.errors;
            all.last_done = all.last_done.max(s.last_done);
        }
        (all, measure_from)
    });
    let (Stats { mut latencies, mut send_lags, non2xx, errors, last_done }, measure_from) = all;
    latencies.sort_unstable();
    send_lags.sort_unstable();
    // Answers per second from the first measured slot to the last answer (not the scheduled
    // window): below the target rate when the server, or the generator, could not keep up.
    let secs = last_done.map_or(0.0, |d| (d - measure_from).as_secs_f64()).max(measured.as_secs_f64() * 0.5);
    println!("target_rate={:.0}", args.rate);
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
}
