//! Stand-in for the docs module's try-it (`portal::docs::{parse_try_form, relay}`, built on the
//! `docs` branch with the same signatures): form fields to a request, and one HTTP/1.1 exchange
//! with the gateway's own proxy listener. Swap the `use` in `api_page.rs` when it lands.

use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub struct TryRequest {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

pub struct TryResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub elapsed_ms: u64,
}

const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
/// Headers the relay sets itself, or that would let a developer speak for someone else.
const REFUSED: &[&str] =
    &["host", "content-length", "transfer-encoding", "connection", "upgrade", "te", "trailer", "forwarded", "expect"];
const MAX_ANSWER: usize = 1 << 20;
const TIMEOUT: Duration = Duration::from_secs(10);

fn clean(s: &str) -> bool {
    !s.chars().any(|c| c.is_control() && c != '\t')
}

/// Fields `method`, `path`, `query`, `headers` (one `Name: value` per line) and `body`.
pub fn parse_try_form(form: &[(String, String)]) -> Result<TryRequest, String> {
    let get = |n: &str| form.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str()).unwrap_or_default();
    let method = get("method").trim().to_ascii_uppercase();
    if !METHODS.contains(&method.as_str()) {
        return Err(format!("method: one of {}", METHODS.join(", ")));
    }
    let path = get("path").trim().to_string();
    if !path.starts_with('/') || path.contains(['?', '#', ' ']) || !clean(&path) {
        return Err("path: an absolute path such as /pets/1, without ? or spaces".into());
    }
    let query = get("query").trim().trim_start_matches('?').to_string();
    if query.contains([' ', '#']) || !clean(&query) {
        return Err("query: name=value pairs joined by &, URL-encoded".into());
    }
    let mut headers = Vec::new();
    for line in get("headers").lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (n, v) = line.split_once(':').ok_or_else(|| format!("header {line:?}: write Name: value"))?;
        let (n, v) = (n.trim(), v.trim());
        let valid = http::HeaderName::from_bytes(n.as_bytes()).is_ok() && http::HeaderValue::from_str(v).is_ok();
        let lower = n.to_ascii_lowercase();
        if !valid || REFUSED.contains(&lower.as_str()) || lower.starts_with("x-forwarded-") {
            return Err(format!("header {n:?} cannot be sent from here"));
        }
        headers.push((n.to_string(), v.to_string()));
    }
    Ok(TryRequest { method, path, query, headers, body: get("body").to_string() })
}

/// Send `req` to the proxy listener at `proxy` with `Host: host`, and read the whole answer.
pub async fn relay(proxy: SocketAddr, host: &str, req: TryRequest) -> Result<TryResponse, String> {
    let started = Instant::now();
    let target = if req.query.is_empty() { req.path.clone() } else { format!("{}?{}", req.path, req.query) };
    let mut head = format!("{} {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n", req.method);
    for (n, v) in &req.headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    if !req.body.is_empty() || !matches!(req.method.as_str(), "GET" | "HEAD" | "DELETE" | "OPTIONS") {
        head.push_str(&format!("Content-Length: {}\r\n", req.body.len()));
    }
    head.push_str("\r\n");
    let exchange = async {
        let mut s =
            tokio::net::TcpStream::connect(proxy).await.map_err(|e| format!("the gateway is not reachable: {e}"))?;
        s.write_all(head.as_bytes()).await.map_err(|e| e.to_string())?;
        s.write_all(req.body.as_bytes()).await.map_err(|e| e.to_string())?;
        let mut buf = Vec::new();
        (&mut s).take(MAX_ANSWER as u64 + 64 * 1024).read_to_end(&mut buf).await.map_err(|e| e.to_string())?;
        Ok::<_, String>(buf)
    };
    let buf = tokio::time::timeout(TIMEOUT, exchange)
        .await
        .map_err(|_| "the gateway did not answer in time".to_string())??;
    let mut parsed = [httparse::EMPTY_HEADER; 96];
    let mut res = httparse::Response::new(&mut parsed);
    let len = match res.parse(&buf) {
        Ok(httparse::Status::Complete(n)) => n,
        _ => return Err("the gateway's answer could not be read".into()),
    };
    let headers: Vec<(String, String)> = res
        .headers
        .iter()
        .map(|h| (h.name.to_ascii_lowercase(), String::from_utf8_lossy(h.value).into_owned()))
        .collect();
    let chunked = headers.iter().any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
    let raw = &buf[len..];
    let body = if chunked { dechunk(raw) } else { raw.to_vec() };
    Ok(TryResponse {
        status: res.code.unwrap_or(0),
        headers,
        body: String::from_utf8_lossy(&body[..body.len().min(MAX_ANSWER)]).into_owned(),
        elapsed_ms: started.elapsed().as_millis() as u64,
    })
}

/// The data of a chunked body (what arrived of it).
fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = raw.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&raw[..eol])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next()?.trim(), 16).ok());
        let Some(size) = size.filter(|&n| n > 0) else { break };
        let data = &raw[eol + 2..];
        out.extend_from_slice(&data[..size.min(data.len())]);
        raw = data.get(size + 2..).unwrap_or_default();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies() {
        assert_eq!(dechunk(b"3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n"), b"abcde");
    }

    #[test]
    fn forms_refuse_injection() {
        let f = |h: &str, p: &str| {
            let form = vec![
                ("method".to_string(), "get".to_string()),
                ("path".to_string(), p.to_string()),
                ("headers".to_string(), h.to_string()),
            ];
            parse_try_form(&form)
        };
        assert!(f("X-API-Key: abc", "/pets").is_ok());
        assert!(f("Host: evil", "/pets").is_err());
        assert!(f("X-Forwarded-For: 10.0.0.1", "/pets").is_err());
        assert!(f("", "/pets HTTP/1.1\r\nX: y").is_err());
        assert!(f("", "http://elsewhere/").is_err());
    }
}
