//! A small HTTP/1.1 echo server: the upstream `make run` starts for the demo API, and the
//! upstream the integration tests run on port 0. It answers with JSON describing the request
//! it received. Headers let a caller steer it: `x-echo-status: 503`, `x-echo-delay-ms: 200`,
//! `x-echo-reset: 1` (close the connection with a TCP reset, no response),
//! `x-echo-header: Name: value` (repeatable; added to the response, e.g. `Cache-Control`),
//! `x-echo-etag: "v1"` (sent as `ETag`; a matching `If-None-Match` gets `304`). A request with
//! `Upgrade: websocket` gets `101` (its headers as JSON in `x-echo-headers`) and then every
//! byte is echoed back raw (no frame parsing).

use serde_json::{json, Map, Value};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub struct EchoState {
    pub name: String,
    /// What `GET /health` answers: 200 when true, 503 when false.
    pub healthy: AtomicBool,
    /// Requests received (health checks excluded), including those reset or failed on purpose.
    pub requests: AtomicU64,
    pub health_checks: AtomicU64,
    /// TCP connections accepted, and of those still open.
    pub connections: AtomicU64,
    pub open_connections: AtomicU64,
}

impl EchoState {
    pub fn new(name: &str) -> Arc<Self> {
        Arc::new(EchoState {
            name: name.into(),
            healthy: AtomicBool::new(true),
            requests: AtomicU64::new(0),
            health_checks: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            open_connections: AtomicU64::new(0),
        })
    }
}

/// Accept connections until the task is dropped or aborted.
pub async fn serve(listener: TcpListener, state: Arc<EchoState>) {
    let mut conns = tokio::task::JoinSet::new();
    while let Ok((stream, _)) = listener.accept().await {
        state.connections.fetch_add(1, Relaxed);
        state.open_connections.fetch_add(1, Relaxed);
        let _ = stream.set_nodelay(true);
        let st = state.clone();
        conns.spawn(async move {
            connection(stream, st.clone()).await;
            st.open_connections.fetch_sub(1, Relaxed);
        });
        while conns.try_join_next().is_some() {}
    }
}

const MAX_HEAD: usize = 64 * 1024;

/// A stream the echo server can answer on; `reset` aborts the connection (a TCP RST).
pub trait EchoIo: AsyncRead + AsyncWrite + Unpin + Send {
    fn reset(&self);
}

impl EchoIo for TcpStream {
    fn reset(&self) {
        // A zero linger makes close send RST at once; it does not block.
        #[allow(deprecated)]
        let _ = self.set_linger(Some(Duration::ZERO));
    }
}

impl EchoIo for pingora::tls::tokio_ssl::SslStream<TcpStream> {
    fn reset(&self) {
        self.get_ref().reset();
    }
}

/// Serve requests on one connection until it closes.
pub async fn connection<S: EchoIo>(mut stream: S, state: Arc<EchoState>) {
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    loop {
        let Some(head_len) = read_head(&mut stream, &mut buf).await else { return };
        let Some(head) = parse_head(&buf[..head_len]) else {
            let _ =
                stream.write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await;
            return;
        };
        buf.drain(..head_len);
        if head.upgrade {
            state.requests.fetch_add(1, Relaxed);
            return tunnel(&mut stream, &head, &buf).await;
        }
        let body = if head.chunked {
            read_chunked(&mut stream, &mut buf).await
        } else {
            read_exact(&mut stream, &mut buf, head.content_length).await
        };
        let Some(body) = body else { return };
        if !answer(&mut stream, &state, &head, &body).await {
            return;
        }
    }
}

/// One request head as the echo server needs it.
struct Head {
    method: String,
    path: String,
    /// Lower-case names; a repeated header becomes an array.
    hdrs: Map<String, Value>,
    content_length: usize,
    chunked: bool,
    close: bool,
    upgrade: bool,
}

/// Read until a whole head is in `buf`; its length, or `None` when the client is gone.
async fn read_head<S: EchoIo>(stream: &mut S, buf: &mut Vec<u8>) -> Option<usize> {
    loop {
        if let Some(p) = find(buf, b"\r\n\r\n") {
            return Some(p + 4);
        }
        if buf.len() > MAX_HEAD {
            return None;
        }
        let mut chunk = [0u8; 4096];
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

fn parse_head(raw: &[u8]) -> Option<Head> {
    let mut headers = [httparse::EMPTY_HEADER; 128];
    let mut req = httparse::Request::new(&mut headers);
    if !matches!(req.parse(raw), Ok(httparse::Status::Complete(_))) {
        return None;
    }
    let mut head = Head {
        method: req.method.unwrap_or("").to_string(),
        path: req.path.unwrap_or("").to_string(),
        hdrs: Map::new(),
        content_length: 0,
        chunked: false,
        close: false,
        upgrade: false,
    };
    for h in req.headers.iter() {
        let name = h.name.to_ascii_lowercase();
        let value = String::from_utf8_lossy(h.value).to_string();
        match name.as_str() {
            "content-length" => head.content_length = value.trim().parse().unwrap_or(0),
            "transfer-encoding" => head.chunked = value.to_ascii_lowercase().contains("chunked"),
            "connection" => head.close = value.eq_ignore_ascii_case("close"),
            "upgrade" => head.upgrade = value.eq_ignore_ascii_case("websocket"),
            _ => {}
        }
        match head.hdrs.get_mut(&name) {
            Some(Value::Array(list)) => list.push(Value::String(value)),
            Some(prev) => *prev = Value::Array(vec![prev.clone(), Value::String(value)]),
            None => {
                head.hdrs.insert(name, Value::String(value));
            }
        }
    }
    Some(head)
}

/// A WebSocket upgrade: 101, then echo bytes both ways until either side closes.
async fn tunnel<S: EchoIo>(stream: &mut S, head: &Head, early: &[u8]) {
    // The request's headers ride along as JSON, as the body would carry them otherwise.
    let seen = serde_json::to_string(&head.hdrs).unwrap_or_default();
    let answer = format!(
        "HTTP/1.1 101 Switching Protocols\r\nconnection: Upgrade\r\nupgrade: websocket\r\nx-echo-headers: {seen}\r\n\r\n"
    );
    if stream.write_all(answer.as_bytes()).await.is_err() || stream.write_all(early).await.is_err() {
        return;
    }
    let mut chunk = [0u8; 8192];
    while let Ok(n @ 1..) = stream.read(&mut chunk).await {
        if stream.write_all(&chunk[..n]).await.is_err() {
            return;
        }
    }
}

/// Answer one request as its `x-echo-*` headers ask; `false` when the connection is done.
async fn answer<S: EchoIo>(stream: &mut S, state: &EchoState, head: &Head, body: &[u8]) -> bool {
    let get = |k: &str| head.hdrs.get(k).and_then(|v| v.as_str()).map(str::to_string);
    if head.path != "/health" {
        state.requests.fetch_add(1, Relaxed);
    }
    if get("x-echo-reset").is_some() {
        stream.reset();
        return false;
    }
    if let Some(ms) = get("x-echo-delay-ms").and_then(|v| v.parse::<u64>().ok()) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    let (status, payload) = if head.path == "/health" {
        state.health_checks.fetch_add(1, Relaxed);
        let ok = state.healthy.load(Relaxed);
        (if ok { 200 } else { 503 }, json!({ "upstream": state.name, "healthy": ok }))
    } else {
        let status =
            get("x-echo-status").and_then(|v| v.parse::<u16>().ok()).filter(|s| (200..600).contains(s)).unwrap_or(200);
        let body = String::from_utf8_lossy(body).to_string();
        let (method, path, hdrs) = (&head.method, &head.path, &head.hdrs);
        (status, json!({ "upstream": state.name, "method": method, "path": path, "headers": hdrs, "body": body }))
    };
    let payload = serde_json::to_vec(&payload).unwrap_or_default();
    let (extra, not_modified) = steered_headers(&head.hdrs);
    let (status, length) = if not_modified { (304, 0) } else { (status, payload.len()) };
    let out = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {length}\r\nx-upstream: {}\r\n{extra}{}\r\n",
        state.name,
        if head.close { "connection: close\r\n" } else { "" }
    );
    let mut out = out.into_bytes();
    if head.method != "HEAD" && !not_modified {
        out.extend_from_slice(&payload);
    }
    stream.write_all(&out).await.is_ok() && !head.close
}

/// Response header lines asked for by `x-echo-header` / `x-echo-etag`, and whether the
/// request's `If-None-Match` matches that ETag (a 304 then).
fn steered_headers(hdrs: &Map<String, Value>) -> (String, bool) {
    let values = |k: &str| -> Vec<String> {
        match hdrs.get(k) {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(a)) => a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
            _ => Vec::new(),
        }
    };
    let mut extra = String::new();
    for h in values("x-echo-header") {
        if h.contains(':') && !h.contains(['\r', '\n']) {
            extra.push_str(&h);
            extra.push_str("\r\n");
        }
    }
    let mut not_modified = false;
    if let Some(etag) = values("x-echo-etag").into_iter().next() {
        extra.push_str(&format!("etag: {etag}\r\n"));
        not_modified =
            values("if-none-match").iter().any(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    }
    (extra, not_modified)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

async fn fill<S: EchoIo>(stream: &mut S, buf: &mut Vec<u8>) -> bool {
    let mut chunk = [0u8; 8192];
    match stream.read(&mut chunk).await {
        Ok(0) | Err(_) => false,
        Ok(n) => {
            buf.extend_from_slice(&chunk[..n]);
            true
        }
    }
}

async fn read_exact<S: EchoIo>(stream: &mut S, buf: &mut Vec<u8>, n: usize) -> Option<Vec<u8>> {
    while buf.len() < n {
        if !fill(stream, buf).await {
            return None;
        }
    }
    Some(buf.drain(..n).collect())
}

async fn read_chunked<S: EchoIo>(stream: &mut S, buf: &mut Vec<u8>) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = loop {
            if let Some(p) = find(buf, b"\r\n") {
                break p;
            }
            if buf.len() > 1024 || !fill(stream, buf).await {
                return None;
            }
        };
        let line = String::from_utf8_lossy(&buf[..line_end]).to_string();
        let size = usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16).ok()?;
        buf.drain(..line_end + 2);
        if size == 0 {
            // Trailers end with an empty line.
            loop {
                if let Some(p) = find(buf, b"\r\n") {
                    let empty = p == 0;
                    buf.drain(..p + 2);
                    if empty {
                        return Some(body);
                    }
                    continue;
                }
                if !fill(stream, buf).await {
                    return None;
                }
            }
        }
        let chunk = read_exact(stream, buf, size + 2).await?;
        body.extend_from_slice(&chunk[..size]);
    }
}
