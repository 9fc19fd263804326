//! `fixed_rate --self-check`: the generator against scripted servers on 127.0.0.1:0. A good
//! server cycles through every framing the reader knows, in pieces; broken ones (no length,
//! garbage, a close inside a body, silence) must turn every request into an error, never a hang.
//! Also run by `cargo test --example fixed_rate`.

use crate::generator::{self, Plan};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One scripted answer: the pieces it is written in (one write each), and its status.
type Answer = (Vec<&'static [u8]>, u16);

fn good_answers() -> Vec<Answer> {
    let big: &'static [u8] = Box::leak(
        [b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n".to_vec(), vec![b'x'; 100_000]]
            .concat()
            .into_boxed_slice(),
    );
    vec![
        (vec![b"HTTP/1.1 200 OK\r\nContent-Le", b"ngth: 5\r\n\r\nhel", b"lo"], 200),
        (
            vec![b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;x=1\r", b"\nwiki\r\n0\r\nT: 1\r\n", b"\r\n"],
            200,
        ),
        (vec![b"HTTP/1.1 204 No Content\r\n\r\n"], 204),
        (vec![b"HTTP/1.1 304 Not Modified\r\nETag: \"1\"\r\n\r\n"], 304),
        (vec![b"HTTP/1.1 100 Continue\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"], 200),
        (vec![b"HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nno\n"], 404),
        (vec![big], 200),
    ]
}

#[derive(Default)]
struct Served {
    answers: AtomicU64,
    non2xx: AtomicU64,
}

/// Serves `answers` in turn on every connection (one per request head), then, when `close` is
/// set, closes after each; None answers nothing and keeps the connection open.
fn serve(answers: Option<Vec<Answer>>, close: bool) -> (SocketAddr, Arc<Served>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local addr");
    let served = Arc::new(Served::default());
    let counts = served.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (answers, counts) = (answers.clone(), counts.clone());
            std::thread::spawn(move || answer_requests(stream, answers.as_deref(), close, &counts));
        }
    });
    (addr, served)
}

fn answer_requests(mut stream: TcpStream, answers: Option<&[Answer]>, close: bool, served: &Served) {
    let _ = stream.set_nodelay(true);
    let (mut buf, mut next) = (Vec::new(), 0);
    let mut chunk = [0u8; 4096];
    loop {
        let Ok(n @ 1..) = stream.read(&mut chunk) else { return };
        buf.extend_from_slice(&chunk[..n]);
        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            buf.drain(..end + 4);
            let Some(answers) = answers else { continue };
            let (pieces, status) = &answers[next % answers.len()];
            next += 1;
            // Counted before it is sent: once the generator has the answer, the count has it too.
            served.answers.fetch_add(1, Ordering::Relaxed);
            served.non2xx.fetch_add(!(200..300).contains(status) as u64, Ordering::Relaxed);
            for piece in pieces {
                if stream.write_all(piece).is_err() {
                    return;
                }
            }
            if close {
                return;
            }
        }
    }
}

fn plan(addr: SocketAddr, rate: f64, conns: usize, secs: f64, drain: f64) -> Plan {
    Plan {
        addr,
        request: format!("GET / HTTP/1.1\r\nHost: {addr}\r\n\r\n").into_bytes(),
        rate,
        conns,
        warmup: Duration::ZERO,
        duration: Duration::from_secs_f64(secs),
        drain: Duration::from_secs_f64(drain),
        timer_slack: Duration::ZERO,
    }
}

fn check(ok: bool, what: &str) {
    if !ok {
        panic!("self-check failed: {what}");
    }
}

pub fn run() {
    // Every framing, pieces split mid-line, a body six times the read buffer: all answered, counted.
    let (addr, served) = serve(Some(good_answers()), false);
    let p = plan(addr, 2000.0, 4, 1.0, 5.0);
    let s = generator::run(&p).expect("generator run");
    let (answers, non2xx) = (served.answers.load(Ordering::Relaxed), served.non2xx.load(Ordering::Relaxed));
    eprintln!(
        "self-check framings: {} answers, {} errors, {} non-2xx (server sent {answers}, {non2xx} non-2xx), send lag p99 {} µs",
        s.latencies.len(),
        s.errors,
        s.non2xx,
        crate::percentile(&{ let mut l = s.send_lags.clone(); l.sort_unstable(); l }, 99.0)
    );
    check(s.errors == 0, "errors against a good server");
    check(s.latencies.len() == 2000, "one answer per slot (2000 in 1 s at 2000/s)");
    check(s.latencies.len() as u64 == answers && s.non2xx == non2xx, "counts differ from what the server sent");

    // A server that closes after each answer: reconnects, no errors.
    let (addr, _) = serve(Some(good_answers()[..1].to_vec()), true);
    let s = generator::run(&plan(addr, 200.0, 2, 0.5, 2.0)).expect("generator run");
    eprintln!("self-check close after each answer: {} answers, {} errors", s.latencies.len(), s.errors);
    check(s.errors == 0 && s.latencies.len() == 100, "a server closing between answers");

    // Broken servers: every slot an error, and the run still ends.
    let broken: [(&str, Option<Vec<Answer>>, bool); 4] = [
        ("no length", Some(vec![(vec![b"HTTP/1.1 200 OK\r\n\r\nuntil close"], 200)]), true),
        ("garbage", Some(vec![(vec![b"\x16\x03\x01 not http at all\r\n\r\n"], 200)]), false),
        ("close inside a body", Some(vec![(vec![b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort"], 200)]), true),
        ("silence", None, false),
    ];
    for (name, answers, close) in broken {
        let (addr, _) = serve(answers, close);
        let began = Instant::now();
        let s = generator::run(&plan(addr, 200.0, 2, 0.5, 0.5)).expect("generator run");
        eprintln!("self-check {name}: {} answers, {} errors in {:?}", s.latencies.len(), s.errors, began.elapsed());
        check(s.latencies.is_empty() && s.errors == 100, &format!("{name}: every slot must be an error"));
        check(began.elapsed() < Duration::from_secs(5), &format!("{name}: the run must end"));
    }
}

#[cfg(test)]
#[test]
fn self_check() {
    run();
}
