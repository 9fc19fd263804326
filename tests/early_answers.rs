//! Early answers are safe (the lesson of Pingora's CVE-2025-4366): a request hidden in the body
//! of a request the gateway answers before reading it (403 by IP rules, 413, a CORS preflight)
//! is never read as the next request on the connection — the body is drained or the connection
//! closed (Pingora 0.9 closes whenever an answer goes out before the body was read; the tests
//! accept either, so they hold if that default changes). Raw sockets: every byte is the test's.

mod common;
use common::client::{parse, Response};
use common::*;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SMUGGLED: &str = "GET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n";
const FOLLOW_UP: &[u8] = b"GET /after HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";

async fn gateway(max_body_size: &str) -> (Gateway, Upstream) {
    let up = Upstream::start("u").await;
    let body = format!(
        "[[cluster]]\nname = \"c\"\nupstreams = [\"{}\"]\n\n[[api]]\nname = \"open\"\nbase_path = \"/\"\ncluster = \"c\"\n\n\
         [[api]]\nname = \"guarded\"\nbase_path = \"/guarded\"\ncluster = \"c\"\nip_deny = [\"127.0.0.1\"]\n\n\
         [[api]]\nname = \"web\"\nbase_path = \"/web\"\ncluster = \"c\"\n[api.cors]\norigins = [\"https://app.example\"]\n",
        up.addr
    );
    let gw = Gateway::start_with(&format!("max_body_size = \"{max_body_size}\""), &body).await;
    (gw, up)
}

/// Send `bytes`, read the first answer, then send a follow-up request on the same connection:
/// returns the first answer and whatever came next (`None`: the connection was closed).
async fn answer_then_follow_up(gw: &Gateway, bytes: &[u8]) -> (Response, Option<Response>) {
    let mut s = TcpStream::connect(gw.addr).await.unwrap();
    s.write_all(bytes).await.unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16384];
    let first = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Some(r) = parse(&buf) {
                return r;
            }
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => panic!("closed before an answer: {:?}", String::from_utf8_lossy(&buf)),
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await
    .expect("an answer within 10 s");
    let head_len = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let mut rest = buf[head_len + first.body.len()..].to_vec();
    let _ = s.write_all(FOLLOW_UP).await;
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut rest)).await;
    (first, parse(&rest))
}

/// What came after the early answer is nothing, or the follow-up's own answer.
fn assert_not_smuggled(next: &Option<Response>) {
    if let Some(r) = next {
        assert_eq!(r.json()["path"], "/after", "the second answer is for: {}", r.text());
    }
}

fn post(path: &str, extra: &str, body: &[u8]) -> Vec<u8> {
    let mut raw = format!("POST {path} HTTP/1.1\r\nHost: t\r\n{extra}\r\n").into_bytes();
    raw.extend_from_slice(body);
    raw
}

fn chunked(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in parts {
        out.extend_from_slice(format!("{:x}\r\n", p.len()).as_bytes());
        out.extend_from_slice(p);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

#[tokio::test]
async fn a_denied_request_with_a_length_body_is_never_replayed() {
    let (gw, up) = gateway("256").await;
    let raw = post("/guarded/x", &format!("Content-Length: {}\r\n", SMUGGLED.len()), SMUGGLED.as_bytes());
    let (first, next) = answer_then_follow_up(&gw, &raw).await;
    assert_eq!(first.status, 403, "{}", first.text());
    assert_not_smuggled(&next);
    assert_eq!(up.requests(), u64::from(next.is_some()), "only the follow-up reached the upstream");
}

#[tokio::test]
async fn a_denied_request_with_a_chunked_body_closes_the_connection() {
    let (gw, up) = gateway("256").await;
    let raw = post("/guarded/x", "Transfer-Encoding: chunked\r\n", &chunked(&[SMUGGLED.as_bytes()]));
    let (first, next) = answer_then_follow_up(&gw, &raw).await;
    assert_eq!(first.status, 403, "{}", first.text());
    assert_eq!(first.header("connection"), Some("close"));
    assert!(next.is_none(), "{:?}", next.map(|r| r.text()));
    assert_eq!(up.requests(), 0);
}

#[tokio::test]
async fn a_denied_request_with_a_large_body_is_never_replayed() {
    let (gw, up) = gateway("1MiB").await;
    let mut body = SMUGGLED.as_bytes().to_vec();
    body.resize(100 * 1024, b' ');
    let raw = post("/guarded/x", &format!("Content-Length: {}\r\n", body.len()), &body);
    let (first, next) = answer_then_follow_up(&gw, &raw).await;
    assert_eq!(first.status, 403, "{}", first.text());
    assert_not_smuggled(&next);
    assert_eq!(up.requests(), u64::from(next.is_some()));
}

#[tokio::test]
async fn a_body_over_the_limit_by_length_closes_the_connection() {
    let (gw, up) = gateway("256").await;
    let mut body = SMUGGLED.as_bytes().to_vec();
    body.resize(300, b' ');
    let raw = post("/x", &format!("Content-Length: {}\r\n", body.len()), &body);
    let (first, next) = answer_then_follow_up(&gw, &raw).await;
    assert_eq!(first.status, 413);
    assert!(next.is_none(), "{:?}", next.map(|r| r.text()));
    assert_eq!(up.requests(), 0);
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_closes_the_connection() {
    let (gw, up) = gateway("256").await;
    let padding = [b'p'; 200];
    let raw = post("/x", "Transfer-Encoding: chunked\r\n", &chunked(&[&padding, SMUGGLED.as_bytes(), &padding]));
    let (first, next) = answer_then_follow_up(&gw, &raw).await;
    assert_eq!(first.status, 413, "{}", first.text());
    assert!(next.is_none(), "{:?}", next.map(|r| r.text()));
    assert_eq!(up.requests(), 0);
}

#[tokio::test]
async fn a_preflight_with_a_body_is_never_replayed() {
    let (gw, up) = gateway("256").await;
    let head = format!(
        "OPTIONS /web/x HTTP/1.1\r\nHost: t\r\nOrigin: https://app.example\r\nAccess-Control-Request-Method: GET\r\nContent-Length: {}\r\n\r\n{SMUGGLED}",
        SMUGGLED.len()
    );
    let (first, next) = answer_then_follow_up(&gw, head.as_bytes()).await;
    assert_eq!(first.status, 204);
    assert_not_smuggled(&next);
    assert_eq!(up.requests(), u64::from(next.is_some()));
}

#[tokio::test]
async fn a_denied_request_waiting_for_100_continue_closes_the_connection() {
    let (gw, up) = gateway("256").await;
    // The body is never sent: the client waits for 100 Continue, then sends its next request.
    let raw = post("/guarded/x", "Content-Length: 40\r\nExpect: 100-continue\r\n", b"");
    let (first, next) = answer_then_follow_up(&gw, &raw).await;
    assert_eq!(first.status, 403, "{}", first.text());
    assert_eq!(first.header("connection"), Some("close"));
    assert!(next.is_none(), "{:?}", next.map(|r| r.text()));
    assert_eq!(up.requests(), 0);
}
