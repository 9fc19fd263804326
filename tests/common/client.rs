//! A raw HTTP/1.1 client: the request line and headers go out exactly as written (no URL
//! normalization), which the path and hygiene tests need.

use serde_json::Value;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).to_string()
    }
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
    /// The echo upstream's view of the request.
    pub fn echoed_header(&self, name: &str) -> Option<String> {
        self.json()["headers"].get(name).map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()))
    }
}

pub async fn request(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
    let mut raw = format!("{method} {path} HTTP/1.1\r\n");
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        raw.push_str("Host: test.local\r\n");
    }
    for (n, v) in headers {
        raw.push_str(&format!("{n}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" || method == "PUT" {
        raw.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    raw.push_str("Connection: close\r\n\r\n");
    let mut bytes = raw.into_bytes();
    bytes.extend_from_slice(body);
    send_raw(addr, &bytes).await.expect("a complete response")
}

/// Send raw bytes on a new connection and read one response (bounded by 30 s).
pub async fn send_raw(addr: SocketAddr, bytes: &[u8]) -> Option<Response> {
    let s = TcpStream::connect(addr).await.ok()?;
    exchange(s, bytes).await
}

/// Send raw bytes on an open stream (plain or TLS) and read one response (bounded by 30 s).
pub async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(mut s: S, bytes: &[u8]) -> Option<Response> {
    tokio::time::timeout(Duration::from_secs(30), async {
        s.write_all(bytes).await.ok()?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 16384];
        loop {
            if let Some(resp) = parse(&buf) {
                return Some(resp);
            }
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => return parse_eof(&buf),
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await
    .ok()
    .flatten()
}

type Head = (u16, Vec<(String, String)>, usize);

fn head(buf: &[u8]) -> Option<Head> {
    let mut hs = [httparse::EMPTY_HEADER; 64];
    let mut r = httparse::Response::new(&mut hs);
    match r.parse(buf) {
        Ok(httparse::Status::Complete(n)) => {
            let headers =
                r.headers.iter().map(|h| (h.name.to_string(), String::from_utf8_lossy(h.value).to_string())).collect();
            Some((r.code?, headers, n))
        }
        _ => None,
    }
}

pub fn parse(buf: &[u8]) -> Option<Response> {
    let (status, headers, n) = head(buf)?;
    let get = |k: &str| headers.iter().find(|(h, _)| h.eq_ignore_ascii_case(k)).map(|(_, v)| v.clone());
    if let Some(len) = get("content-length").and_then(|v| v.parse::<usize>().ok()) {
        return (buf.len() >= n + len).then(|| Response {
            status,
            headers: headers.clone(),
            body: buf[n..n + len].to_vec(),
        });
    }
    if get("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        let body = dechunk(&buf[n..])?;
        return Some(Response { status, headers, body });
    }
    if status == 204 || status == 304 {
        return Some(Response { status, headers, body: Vec::new() });
    }
    None
}

fn parse_eof(buf: &[u8]) -> Option<Response> {
    parse(buf).or_else(|| {
        let (status, headers, n) = head(buf)?;
        Some(Response { status, headers, body: buf[n..].to_vec() })
    })
}

fn dechunk(mut b: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let end = b.windows(2).position(|w| w == b"\r\n")?;
        let size = usize::from_str_radix(std::str::from_utf8(&b[..end]).ok()?.split(';').next()?.trim(), 16).ok()?;
        b = &b[end + 2..];
        if size == 0 {
            return Some(out);
        }
        if b.len() < size + 2 {
            return None;
        }
        out.extend_from_slice(&b[..size]);
        b = &b[size + 2..];
    }
}

/// One keep-alive connection for several requests in a row.
pub struct KeepAlive {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl KeepAlive {
    pub async fn connect(addr: SocketAddr) -> KeepAlive {
        Self::try_connect(addr).await.expect("connect")
    }

    pub async fn try_connect(addr: SocketAddr) -> std::io::Result<KeepAlive> {
        Ok(KeepAlive { stream: TcpStream::connect(addr).await?, buf: Vec::new() })
    }

    /// Send a request and read its response; `None` if the connection was closed.
    pub async fn get(&mut self, path: &str, headers: &[(&str, &str)]) -> Option<Response> {
        match self.try_get(path, headers).await {
            Outcome::Response(r) => Some(r),
            _ => None,
        }
    }

    /// Like `get`, but tells a connection closed before any byte of a response (what a server
    /// closing an idle keep-alive connection looks like) from one that broke mid-response.
    pub async fn try_get(&mut self, path: &str, headers: &[(&str, &str)]) -> Outcome {
        let mut raw = format!("GET {path} HTTP/1.1\r\nHost: test.local\r\n");
        for (n, v) in headers {
            raw.push_str(&format!("{n}: {v}\r\n"));
        }
        raw.push_str("\r\n");
        if self.stream.write_all(raw.as_bytes()).await.is_err() {
            return Outcome::Closed;
        }
        let mut chunk = [0u8; 16384];
        let read = tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                if let Some(resp) = parse(&self.buf) {
                    let Some((_, _, n)) = head(&self.buf) else { return Outcome::Broken };
                    self.buf.drain(..n + resp.body.len());
                    return Outcome::Response(resp);
                }
                match self.stream.read(&mut chunk).await {
                    Ok(0) | Err(_) if self.buf.is_empty() => return Outcome::Closed,
                    Ok(0) | Err(_) => return Outcome::Broken,
                    Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                }
            }
        })
        .await;
        read.unwrap_or(Outcome::Broken)
    }
}

pub enum Outcome {
    Response(Response),
    /// Closed or reset before any byte of a response arrived.
    Closed,
    /// Broken mid-response, or no response within 30 s.
    Broken,
}
