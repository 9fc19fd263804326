//! Connection-level limits on the proxy listeners, as `ServerApp` wrappers around the proxy:
//!
//! - `PerIpCap`: at most `max_conns_per_ip` concurrent connections per TCP peer address (the
//!   peer, not `X-Forwarded-For`: a connection exists before any header); one over the cap is
//!   closed at once, before a byte is read.
//! - `HeadDeadline`: each HTTP/1 request head must arrive whole within `header_read_timeout`
//!   of its first byte, and be at most a bounded size. Pingora's own timeout is per read, which
//!   a client dribbling a byte a second never trips; so this wrapper reads the head itself and
//!   hands it to Pingora as a pipelined prefix (parsed without another read). A late head gets
//!   408, an endless one 431, and the connection is closed. HTTP/2 (ALPN) goes to Pingora as is.

use crate::pipeline::Problem;
use crate::runtime::{RuntimeHandle, Shared};
use async_trait::async_trait;
use bytes::BytesMut;
use pingora::apps::{HttpPersistentSettings, HttpServerApp, ServerApp};
use pingora::protocols::http::ServerSession;
use pingora::protocols::{Stream, ALPN};
use pingora::server::ShutdownWatch;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long a keep-alive connection may sit idle between requests (Pingora's default).
const KEEPALIVE_IDLE: Duration = Duration::from_secs(60);
/// Room for the request line and header framing beyond `max_header_size` + `max_uri_length`.
const HEAD_SLACK: usize = 1024;

fn peer_ip(stream: &Stream) -> Option<IpAddr> {
    let digest = stream.get_socket_digest()?;
    let addr = digest.peer_addr()?.as_inet()?;
    Some(crate::net::canonical(addr.ip()))
}

const SHARDS: usize = 16;

/// Open connections per client address, sharded to keep lock hold times apart.
pub struct PerIpCap<A> {
    inner: Arc<A>,
    runtime: RuntimeHandle,
    shared: Arc<Shared>,
    open: [Mutex<HashMap<IpAddr, u32>>; SHARDS],
}

impl<A> PerIpCap<A> {
    pub fn new(inner: A, runtime: RuntimeHandle, shared: Arc<Shared>) -> Self {
        PerIpCap { inner: Arc::new(inner), runtime, shared, open: Default::default() }
    }

    fn shard(&self, ip: IpAddr) -> &Mutex<HashMap<IpAddr, u32>> {
        let h = match ip {
            IpAddr::V4(v4) => u32::from(v4) as usize,
            IpAddr::V6(v6) => u128::from(v6) as usize,
        };
        &self.open[h.wrapping_mul(0x9E37_79B9) % SHARDS]
    }

    /// Take a slot for `ip`, or `None` when it already holds `max`.
    fn acquire(&self, ip: IpAddr, max: u32) -> Option<Slot<'_, A>> {
        let mut map = self.shard(ip).lock().unwrap_or_else(|e| e.into_inner());
        let n = map.entry(ip).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(Slot { cap: self, ip })
    }
}

struct Slot<'a, A> {
    cap: &'a PerIpCap<A>,
    ip: IpAddr,
}

impl<A> Drop for Slot<'_, A> {
    fn drop(&mut self) {
        let mut map = self.cap.shard(self.ip).lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

#[async_trait]
impl<A: ServerApp + Send + Sync + 'static> ServerApp for PerIpCap<A> {
    async fn process_new(self: &Arc<Self>, stream: Stream, shutdown: &ShutdownWatch) -> Option<Stream> {
        let max = self.runtime.load().settings.max_conns_per_ip;
        let _slot = match (max, peer_ip(&stream)) {
            (Some(max), Some(ip)) => match self.acquire(ip, max) {
                Some(slot) => Some(slot),
                None => {
                    self.shared.metrics.connections_refused.with_label_values(&["per_ip_limit"]).inc();
                    return None;
                }
            },
            _ => None,
        };
        self.inner.process_new(stream, shutdown).await
    }

    async fn cleanup(&self) {
        self.inner.cleanup().await;
    }
}

pub struct HeadDeadline<A> {
    inner: Arc<A>,
    runtime: RuntimeHandle,
    shared: Arc<Shared>,
}

impl<A> HeadDeadline<A> {
    pub fn new(inner: A, runtime: RuntimeHandle, shared: Arc<Shared>) -> Self {
        HeadDeadline { inner: Arc::new(inner), runtime, shared }
    }
}

enum Head {
    Complete(BytesMut),
    /// Closed (or idle too long, or shutting down) before a request began.
    Gone,
    Late,
    TooLarge,
}

/// Where the head ends, per httparse: leading empty lines skipped, then an empty line
/// (`\n\n` or `\n\r\n`). `from` is where the previous scan stopped.
fn head_end(buf: &[u8], from: usize) -> Option<usize> {
    let start = buf.iter().position(|&b| b != b'\r' && b != b'\n')?;
    let from = from.saturating_sub(2).max(start);
    let rest = &buf[from..];
    (0..rest.len()).find_map(|i| match rest[i..] {
        [b'\n', b'\n', ..] => Some(from + i + 2),
        [b'\n', b'\r', b'\n', ..] => Some(from + i + 3),
        _ => None,
    })
}

/// Read one request head. `idle`: wait this long for its first byte (a keep-alive connection
/// between requests; ends early when the service stops); `None`: the byte is already there.
async fn read_head(
    stream: &mut Stream,
    idle: Option<Duration>,
    deadline: Duration,
    limit: usize,
    shutdown: &ShutdownWatch,
) -> Head {
    let mut buf = BytesMut::with_capacity(4096);
    if let Some(idle) = idle {
        let mut stop = shutdown.clone();
        if *stop.borrow() {
            return Head::Gone;
        }
        tokio::select! {
            biased;
            r = tokio::time::timeout(idle, stream.read_buf(&mut buf)) => match r {
                Ok(Ok(n)) if n > 0 => {}
                _ => return Head::Gone,
            },
            _ = stop.changed() => return Head::Gone,
        }
    }
    let until = tokio::time::Instant::now() + deadline;
    let mut scanned = 0;
    loop {
        if head_end(&buf, scanned).is_some() {
            return Head::Complete(buf);
        }
        scanned = buf.len();
        if buf.len() > limit {
            return Head::TooLarge;
        }
        match tokio::time::timeout_at(until, stream.read_buf(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => {}
            Ok(_) => return Head::Gone,
            Err(_) => return Head::Late,
        }
    }
}

/// Answer with `p` straight on the socket (no request was parsed) and close.
async fn refuse(mut stream: Stream, p: Problem) {
    let id = crate::pipeline::ctx::new_request_id();
    let id = id.to_str().unwrap_or("-");
    let body = p.to_json(Some(id));
    let reason = p.status_code().canonical_reason().unwrap_or("Error");
    let head = format!(
        "HTTP/1.1 {} {reason}\r\ncontent-type: application/problem+json\r\ncontent-length: {}\r\ncache-control: no-store\r\nx-request-id: {id}\r\nconnection: close\r\n\r\n",
        p.status,
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(&body).await?;
        stream.flush().await?;
        stream.shutdown().await
    })
    .await;
}

#[async_trait]
impl<A: HttpServerApp + Send + Sync + 'static> ServerApp for HeadDeadline<A> {
    async fn process_new(self: &Arc<Self>, mut stream: Stream, shutdown: &ShutdownWatch) -> Option<Stream> {
        if matches!(stream.selected_alpn_proto(), Some(ALPN::H2)) {
            return ServerApp::process_new(&self.inner, stream, shutdown).await;
        }
        let mut persistent: Option<HttpPersistentSettings> = None;
        let mut idle = None;
        loop {
            let (deadline, limit) = {
                let rt = self.runtime.load();
                let s = &rt.settings;
                (s.header_read_timeout, s.max_header_size + s.max_uri_length + HEAD_SLACK)
            };
            let refused = |reason: &str| self.shared.metrics.connections_refused.with_label_values(&[reason]).inc();
            let head = match read_head(&mut stream, idle, deadline, limit, shutdown).await {
                Head::Complete(head) => head,
                Head::Gone => return None,
                Head::Late => {
                    refused("header_timeout");
                    refuse(stream, Problem::new(408, "the request head did not arrive in time")).await;
                    return None;
                }
                Head::TooLarge => {
                    refused("header_too_large");
                    let p = Problem::new(431, "the request headers are larger than this gateway accepts");
                    refuse(stream, p).await;
                    return None;
                }
            };
            let mut session = ServerSession::new_http1(stream);
            match persistent.take() {
                Some(p) => p.apply_to_session(&mut session),
                // As Pingora sets up a new connection.
                None => {
                    session.set_keepalive(if *shutdown.borrow() { None } else { Some(KEEPALIVE_IDLE.as_secs()) });
                    let limit = self.inner.server_options().and_then(|o| o.keepalive_request_limit);
                    session.set_keepalive_reuses_remaining(limit);
                }
            }
            session.set_pipelined_prefix(head);
            let reused = self.inner.process_new_http(session, shutdown).await?;
            let (next, settings) = reused.consume();
            stream = next;
            persistent = settings;
            idle = Some(KEEPALIVE_IDLE);
        }
    }

    async fn cleanup(&self) {
        ServerApp::cleanup(&*self.inner).await;
    }
}

#[cfg(test)]
mod tests {
    use super::head_end;

    #[test]
    fn finds_the_end_of_a_head() {
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nHost: a\r\n\r\nbody", 0), Some(27));
        assert_eq!(head_end(b"GET / HTTP/1.1\nHost: a\n\n", 0), Some(24));
        assert_eq!(head_end(b"\r\n\r\nGET / HTTP/1.1\r\n", 0), None, "leading empty lines are skipped");
        assert_eq!(head_end(b"\r\n\r\n", 0), None);
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nHost: a\r\n", 0), None);
        let whole = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        assert_eq!(head_end(whole, 25), Some(27), "a scan resumes just before where it stopped");
    }
}
