//! The try-it relay: one HTTP/1.1 request to the gateway's own proxy address (from config, never
//! from the form), `Connection: close`, a 10 s deadline, at most 1 MiB of body kept (the rest cut
//! with a note) and no redirect followed — a 3xx is shown as it is.

use super::{TryRequest, TryResponse};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const TIMEOUT: Duration = Duration::from_secs(10);
pub const MAX_BODY: usize = 1024 * 1024;
const MAX_HEAD: usize = 64 * 1024;
pub const TRUNCATED_NOTE: &str = "\n[… cut: the response is larger than 1 MiB]";
const INCOMPLETE_NOTE: &str = "\n[… incomplete: the connection closed before the end of the response]";

pub async fn relay(proxy: SocketAddr, host: &str, req: TryRequest) -> Result<TryResponse, String> {
    if host.bytes().any(|b| b.is_ascii_control() || b == b' ') || req.method.bytes().any(|b| !b.is_ascii_uppercase()) {
        return Err("bad host or method".into());
    }
    let start = Instant::now();
    let exchange = async {
        let mut stream = TcpStream::connect(proxy).await.map_err(|e| format!("cannot reach the gateway: {e}"))?;
        stream.write_all(&request_bytes(host, &req)?).await.map_err(|e| format!("sending: {e}"))?;
        read_response(&mut stream, req.method == "HEAD").await
    };
    let (status, headers, body) = tokio::time::timeout(TIMEOUT, exchange)
        .await
        .map_err(|_| format!("the gateway did not answer within {} s", TIMEOUT.as_secs()))??;
    Ok(TryResponse { status, headers, body, elapsed_ms: start.elapsed().as_millis() as u64 })
}

fn request_bytes(host: &str, req: &TryRequest) -> Result<Vec<u8>, String> {
    let target = if req.query.is_empty() { req.path.clone() } else { format!("{}?{}", req.path, req.query) };
    // Checked again here: `relay` may be called with a request not made by `parse_try_form`.
    let clean = |s: &str| !s.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0);
    if !target.starts_with('/') || target.starts_with("//") || target.contains(' ') || !clean(&target) {
        return Err("the path must be a path on the gateway".into());
    }
    let mut head = format!("{} {target} HTTP/1.1\r\nHost: {host}\r\n", req.method);
    for (k, v) in &req.headers {
        if !clean(k) || !clean(v) || k.contains(':') {
            return Err("header names and values may not contain line breaks".into());
        }
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\nConnection: close\r\n\r\n", req.body.len()));
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(req.body.as_bytes());
    Ok(bytes)
}

type Parsed = (u16, Vec<(String, String)>, String);

async fn read_response(stream: &mut TcpStream, head_only: bool) -> Result<Parsed, String> {
    let mut buf = Vec::with_capacity(8192);
    let mut chunk = [0u8; 16384];
    // Read up to the end of the head, skipping interim (1xx) answers.
    let mut need_more = true;
    let (status, headers, mut rest) = loop {
        if need_more {
            let n = stream.read(&mut chunk).await.map_err(|e| format!("reading: {e}"))?;
            if n == 0 {
                return Err("the gateway closed the connection without an answer".into());
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        let mut hs = [httparse::EMPTY_HEADER; 128];
        let mut resp = httparse::Response::new(&mut hs);
        match resp.parse(&buf) {
            Ok(httparse::Status::Complete(len)) => {
                let status = resp.code.unwrap_or(0);
                let headers: Vec<(String, String)> = resp
                    .headers
                    .iter()
                    .map(|h| (h.name.to_ascii_lowercase(), String::from_utf8_lossy(h.value).into_owned()))
                    .collect();
                if (100..200).contains(&status) && status != 101 {
                    // The next answer may already be in the buffer.
                    buf.drain(..len);
                    need_more = buf.is_empty();
                    continue;
                }
                break (status, headers, buf[len..].to_vec());
            }
            Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => need_more = true,
            Ok(httparse::Status::Partial) => return Err("the response head is too large".into()),
            Err(e) => return Err(format!("not an HTTP response: {e}")),
        }
    };
    let header = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let chunked = header("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let length = header("content-length").and_then(|v| v.trim().parse::<usize>().ok());
    let no_body = head_only || status == 204 || status == 304 || status == 101;
    // Raw bytes wanted: the body (plus chunk framing) up to the cap.
    let want = if no_body { 0 } else { length.map(|l| l.min(MAX_BODY + 1)).unwrap_or(usize::MAX) };
    let cap = if chunked { MAX_BODY + 64 * 1024 } else { MAX_BODY + 1 };
    while rest.len() < want && rest.len() < cap && !(chunked && chunked_done(&rest)) {
        let n = stream.read(&mut chunk).await.map_err(|e| format!("reading: {e}"))?;
        if n == 0 {
            break;
        }
        rest.extend_from_slice(&chunk[..n]);
    }
    if no_body {
        rest.clear();
    }
    let hit_cap = rest.len() >= cap || length.is_some_and(|l| l > MAX_BODY);
    let (mut body, complete) = if chunked && !no_body {
        dechunk(&rest)
    } else {
        let complete = no_body || length.is_none_or(|l| rest.len() >= l);
        (rest, complete)
    };
    let cut = hit_cap || body.len() > MAX_BODY;
    body.truncate(MAX_BODY);
    let mut text = String::from_utf8_lossy(&body).into_owned();
    if cut {
        text.push_str(TRUNCATED_NOTE);
    } else if !complete {
        text.push_str(INCOMPLETE_NOTE);
    }
    Ok((status, headers, text))
}

/// Whether a chunked body has reached its last (zero-size) chunk and the blank line after it.
fn chunked_done(raw: &[u8]) -> bool {
    raw.ends_with(b"0\r\n\r\n") && dechunk(raw).1
}

/// The data of a chunked body (as much as arrived; extensions and trailers ignored), and
/// whether its last chunk was reached.
fn dechunk(mut raw: &[u8]) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    while let Some(eol) = raw.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&raw[..eol]);
        let Ok(size) = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16) else { break };
        if size == 0 {
            return (out, true);
        }
        let data = &raw[eol + 2..];
        let take = size.min(data.len());
        out.extend_from_slice(&data[..take]);
        if take < size || data.len() < size + 2 {
            break;
        }
        raw = &data[size + 2..];
    }
    (out, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-shot server that answers any request with `raw`, then closes.
    async fn answering(raw: &'static [u8]) -> SocketAddr {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf).await;
            let _ = s.write_all(raw).await;
        });
        addr
    }

    fn get() -> TryRequest {
        TryRequest {
            method: "GET".into(),
            path: "/".into(),
            query: String::new(),
            headers: vec![],
            body: String::new(),
        }
    }

    #[tokio::test]
    async fn chunked_answers_are_decoded_and_interim_ones_skipped() {
        let raw = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        let r = relay(answering(raw).await, "h", get()).await.unwrap();
        assert_eq!((r.status, r.body.as_str()), (200, "abcde"));
    }

    #[tokio::test]
    async fn an_answer_cut_short_says_so() {
        let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";
        let r = relay(answering(raw).await, "h", get()).await.unwrap();
        assert!(r.body.starts_with("abc") && r.body.ends_with("before the end of the response]"), "{}", r.body);
        let r = relay(answering(b"not http\r\n\r\n").await, "h", get()).await;
        assert!(r.is_err());
    }

    #[test]
    fn dechunks_and_stops_at_the_end() {
        assert_eq!(dechunk(b"3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n"), (b"abcde".to_vec(), true));
        assert_eq!(dechunk(b"5\r\nab"), (b"ab".to_vec(), false));
        // A chunk whose data looks like the last chunk is data, not the end.
        assert!(!chunked_done(b"7\r\nx\r\n0\r\n\r\n"));
        assert!(chunked_done(b"3\r\nabc\r\n0\r\n\r\n"));
        assert!(!chunked_done(b"3\r\nabc\r\n"));
    }
}
