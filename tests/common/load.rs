//! A small keep-alive load generator for the soak and chaos tests: `conns` connections, each
//! sending one request after the other until a deadline, reconnecting when the gateway closes.
//! Every answer is counted by status; a request without an answer is an error.

use super::client::parse;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub statuses: BTreeMap<u16, u64>,
    /// Requests that got no answer (connection failed or closed mid-request, or 10 s passed).
    pub unanswered: u64,
    pub first_errors: Vec<String>,
}

impl Tally {
    pub fn total(&self) -> u64 {
        self.statuses.values().sum()
    }
    pub fn count(&self, status: u16) -> u64 {
        self.statuses.get(&status).copied().unwrap_or(0)
    }
    fn error(&mut self, e: String) {
        self.unanswered += 1;
        if self.first_errors.len() < 5 {
            self.first_errors.push(e);
        }
    }
}

/// A running load; `tally()` reads the counts so far, `stop()` ends it and returns them.
pub struct Load {
    tally: Arc<Mutex<Tally>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    /// `paths` are used round-robin by each connection.
    pub fn start(addr: SocketAddr, paths: &[&str], conns: usize) -> Load {
        Self::start_with(addr, paths, &[], conns)
    }

    /// Every request also carries `headers`.
    pub fn start_with(addr: SocketAddr, paths: &[&str], headers: &[(&str, &str)], conns: usize) -> Load {
        let extra: String = headers.iter().map(|(n, v)| format!("{n}: {v}\r\n")).collect();
        let tally = Arc::new(Mutex::new(Tally::default()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let requests: Arc<Vec<Vec<u8>>> = Arc::new(
            paths.iter().map(|p| format!("GET {p} HTTP/1.1\r\nHost: load.test\r\n{extra}\r\n").into_bytes()).collect(),
        );
        let tasks = (0..conns)
            .map(|i| tokio::spawn(connection(addr, requests.clone(), i, tally.clone(), stop.clone())))
            .collect();
        Load { tally, stop, tasks }
    }

    pub fn tally(&self) -> Tally {
        self.tally.lock().unwrap().clone()
    }

    pub async fn stop(self) -> Tally {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for t in self.tasks {
            let _ = t.await;
        }
        let t = self.tally.lock().unwrap().clone();
        t
    }
}

async fn connection(
    addr: SocketAddr,
    requests: Arc<Vec<Vec<u8>>>,
    mut next: usize,
    tally: Arc<Mutex<Tally>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
) {
    let mut stream: Option<TcpStream> = None;
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 65536];
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        let s = match stream.as_mut() {
            Some(s) => s,
            None => match TcpStream::connect(addr).await {
                Ok(s) => {
                    buf.clear();
                    stream.insert(s)
                }
                Err(e) => {
                    tally.lock().unwrap().error(format!("connect: {e}"));
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        let req = &requests[next % requests.len()];
        next += 1;
        let answer = tokio::time::timeout(Duration::from_secs(10), async {
            s.write_all(req).await.map_err(|e| format!("write: {e}"))?;
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if let Some(r) = parse(&buf) {
                    let head = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
                    buf.drain(..head + r.body.len());
                    let close = r.header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
                    return Ok((r.status, close));
                }
                if Instant::now() > deadline {
                    return Err("no answer".to_string());
                }
                match s.read(&mut chunk).await {
                    Ok(0) => return Err("closed before the answer".to_string()),
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    Err(e) => return Err(format!("read: {e}")),
                }
            }
        })
        .await
        .unwrap_or_else(|_| Err("timed out".to_string()));
        match answer {
            Ok((status, close)) => {
                *tally.lock().unwrap().statuses.entry(status).or_default() += 1;
                if close {
                    stream = None;
                }
            }
            Err(e) => {
                tally.lock().unwrap().error(e);
                stream = None;
            }
        }
    }
}
