//! The HTTP/1.1 framing and hygiene matrix (issue 11): ambiguous or malformed requests sent
//! through the real gateway to a raw upstream that records the exact bytes it gets. Each case
//! either gets a 4xx and a closed connection, or reaches the upstream as exactly one request
//! that a strict reader frames one way only — and a request hidden in the ambiguity
//! (`/smuggled`) never reaches the upstream. Every case runs on its own connection and gateway
//! state is shared, so the cases also show that none of them disturbs the next.

mod common;

use common::recorder::{Recorder, Seen};
use common::Gateway;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SMUGGLED: &str = "GET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n";

#[derive(Debug, Clone, Copy)]
enum Want {
    /// Exactly one clean request upstream, with this body.
    Forward(&'static [u8]),
    /// A 4xx answer from the gateway, the connection closed, nothing upstream.
    Reject,
    /// Either of the above.
    Either(&'static [u8]),
    /// Either, and the connection closed after the answer either way (RFC 9112 §6.1 for a
    /// request with both Content-Length and Transfer-Encoding).
    EitherThenClose(&'static [u8]),
}

async fn gateway(rec: &Recorder) -> Gateway {
    let body = format!(
        "[[cluster]]\nname = \"raw\"\nupstreams = [\"{}\"]\n\n\
         [[api]]\nname = \"open\"\nbase_path = \"/\"\ncluster = \"raw\"\n\n\
         [[api]]\nname = \"cached\"\nbase_path = \"/cached\"\ncluster = \"raw\"\ncache = {{ enabled = true, default_ttl = \"1h\" }}\n\n\
         [[api]]\nname = \"keyed\"\nbase_path = \"/key\"\ncluster = \"raw\"\nauth = [\"api_key\"]\n\n\
         [[api]]\nname = \"limited\"\nbase_path = \"/limited\"\ncluster = \"raw\"\nlimits = [{{ rate = \"1/hour\", key = \"ip\" }}]\n",
        rec.addr
    );
    Gateway::start_with("max_body_size = \"1KiB\"", &body).await
}

/// Write `bytes` on a new connection; read until the gateway closes it or stays quiet for a
/// while. Returns the raw answer bytes and whether the connection was closed.
async fn exchange(g: &Gateway, bytes: &[u8]) -> (Vec<u8>, bool) {
    let mut s = TcpStream::connect(g.addr).await.unwrap();
    s.write_all(bytes).await.unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16384];
    loop {
        match tokio::time::timeout(Duration::from_millis(1500), s.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (buf, true),
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
            Err(_) => return (buf, false),
        }
    }
}

fn statuses(answer: &[u8]) -> Vec<u16> {
    let text = String::from_utf8_lossy(answer);
    text.match_indices("HTTP/1.1 ").filter_map(|(i, _)| text.get(i + 9..i + 12)?.parse().ok()).collect()
}

/// Run one case and check it against `want`; returns a line for the report.
async fn case(g: &Gateway, rec: &Recorder, name: &str, bytes: &[u8], want: Want) -> String {
    rec.clear();
    let (answer, closed) = exchange(g, bytes).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let seen = rec.requests();
    let codes = statuses(&answer);
    let ctx = || {
        format!("{name}: answers {codes:?} closed={closed} upstream saw {seen:#?}\nraw upstream bytes: {:?}", rec.raw())
    };
    assert!(!seen.iter().any(|s| s.target.contains("smuggled")), "a hidden request got through — {}", ctx());
    let rejected = seen.is_empty() && codes.first().is_some_and(|c| (400..500).contains(c)) && closed;
    let forwarded = |body: &[u8]| match seen.as_slice() {
        [one] => one.problems.is_empty() && one.body == body && codes.first() == Some(&200),
        _ => false,
    };
    let ok = match want {
        Want::Reject => rejected,
        Want::Forward(body) => forwarded(body),
        Want::Either(body) => rejected || forwarded(body),
        Want::EitherThenClose(body) => rejected || (forwarded(body) && closed),
    };
    assert!(ok, "wanted {want:?} — {}", ctx());
    let outcome = if rejected { format!("{} + close", codes[0]) } else { "one clean request upstream".into() };
    format!("{name}: {outcome}")
}

fn post(headers: &str, body: &str) -> Vec<u8> {
    format!("POST / HTTP/1.1\r\nHost: t\r\n{headers}\r\n{body}").into_bytes()
}

#[tokio::test]
async fn ambiguous_framing_is_refused_or_made_unambiguous() {
    let rec = Recorder::start().await;
    let g = gateway(&rec).await;
    let chunked_smuggle = format!("0\r\n\r\n{SMUGGLED}");
    let n = chunked_smuggle.len();
    let cases: Vec<(&str, Vec<u8>, Want)> = vec![
        // CL and TE together: TE wins or the request is refused; the CL-framed reading (which
        // would leave /smuggled as the next request) must never happen.
        ("CL + TE", post(&format!("Content-Length: {n}\r\nTransfer-Encoding: chunked\r\n"), &chunked_smuggle), Want::EitherThenClose(b"")),
        ("TE + CL", post(&format!("Transfer-Encoding: chunked\r\nContent-Length: {n}\r\n"), &chunked_smuggle), Want::EitherThenClose(b"")),
        ("CL 5, CL 5", post("Content-Length: 5\r\nContent-Length: 5\r\n", "hello"), Want::Either(b"hello")),
        ("CL 5, CL 42", post("Content-Length: 5\r\nContent-Length: 42\r\n", &format!("hello{SMUGGLED}")), Want::Reject),
        ("CL \"5, 42\"", post("Content-Length: 5, 42\r\n", &format!("hello{SMUGGLED}")), Want::Reject),
        ("CL +5", post("Content-Length: +5\r\n", "hello"), Want::Reject),
        ("CL -1", post("Content-Length: -1\r\n", "hello"), Want::Reject),
        ("CL 0x5", post("Content-Length: 0x5\r\n", "hello"), Want::Reject),
        ("CL overflow", post("Content-Length: 99999999999999999999999\r\n", "hello"), Want::Reject),
        ("TE chunked, identity", post("Transfer-Encoding: chunked, identity\r\n", "5\r\nhello\r\n0\r\n\r\n"), Want::Reject),
        ("TE xchunked + CL", post("Transfer-Encoding: xchunked\r\nContent-Length: 5\r\n", "hello"), Want::Reject),
        ("TE chunked twice", post("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", "5\r\nhello\r\n0\r\n\r\n"), Want::Either(b"hello")),
        ("TE CHUNKED (casing)", post("Transfer-Encoding: CHUNKED\r\n", "5\r\nhello\r\n0\r\n\r\n"), Want::Forward(b"hello")),
        ("TE obs-fold", post("Transfer-Encoding:\r\n chunked\r\nContent-Length: 5\r\n", "hello"), Want::Reject),
        ("TE space before colon", post("Transfer-Encoding : chunked\r\n", &chunked_smuggle), Want::Reject),
        ("TE with a tab", post("Transfer-Encoding:\tchunked\r\n", "5\r\nhello\r\n0\r\n\r\n"), Want::Either(b"hello")),
        (
            "HTTP/1.0 + TE",
            format!("POST / HTTP/1.0\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: {n}\r\n\r\n{chunked_smuggle}").into_bytes(),
            Want::Reject,
        ),
        ("chunk size zz", post("Transfer-Encoding: chunked\r\n", "zz\r\nhello\r\n0\r\n\r\n"), Want::Reject),
        ("chunk size -1", post("Transfer-Encoding: chunked\r\n", "-1\r\nhello\r\n0\r\n\r\n"), Want::Reject),
        ("chunk size 0x5", post("Transfer-Encoding: chunked\r\n", "0x5\r\nhello\r\n0\r\n\r\n"), Want::Reject),
        ("chunk size overflow", post("Transfer-Encoding: chunked\r\n", "fffffffffffffffff1\r\nhello\r\n0\r\n\r\n"), Want::Reject),
        ("chunk data overrun", post("Transfer-Encoding: chunked\r\n", &format!("3\r\nhello\r\n0\r\n\r\n{SMUGGLED}")), Want::Reject),
        ("chunk extension", post("Transfer-Encoding: chunked\r\n", "5;name=value\r\nhello\r\n0\r\n\r\n"), Want::Forward(b"hello")),
        ("chunk size bare LF", post("Transfer-Encoding: chunked\r\n", "5\nhello\r\n0\r\n\r\n"), Want::Either(b"hello")),
        ("bare LF head", b"GET / HTTP/1.1\nHost: t\n\n".to_vec(), Want::Either(b"")),
        ("two Host headers", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n".to_vec(), Want::Reject),
        ("no Host", b"GET / HTTP/1.1\r\n\r\n".to_vec(), Want::Reject),
        ("absolute URI, other Host", b"GET http://t/x HTTP/1.1\r\nHost: other\r\n\r\n".to_vec(), Want::Reject),
        ("space in a header name", b"GET / HTTP/1.1\r\nHost: t\r\nX Bad: 1\r\n\r\n".to_vec(), Want::Reject),
        ("NUL in a header value", b"GET / HTTP/1.1\r\nHost: t\r\nX-A: a\0b\r\n\r\n".to_vec(), Want::Reject),
    ];
    let mut report = Vec::new();
    for (name, bytes, want) in cases {
        report.push(case(&g, &rec, name, &bytes, want).await);
    }
    println!("{}", report.join("\n"));
    // Whatever the matrix sent, the gateway still answers a plain request.
    rec.clear();
    assert_eq!(g.get("/fine").await.status, 200);
}

/// An absolute-form target (a conflicting Host is refused in the matrix above) reaches the
/// upstream in origin form with one Host.
#[tokio::test]
async fn an_absolute_target_reaches_the_upstream_with_one_host() {
    let rec = Recorder::start().await;
    let g = gateway(&rec).await;
    exchange(&g, b"GET http://t/x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").await;
    let seen = rec.requests();
    assert_eq!(seen.len(), 1, "{seen:#?}");
    assert_eq!((seen[0].header_count("host"), seen[0].header("host")), (1, Some("t")), "{seen:#?}");
    assert_eq!(seen[0].target, "/x");
}

/// A request pipelined behind an early answer or a cache hit is read as its own request, never
/// as part of the one before, and never forwarded when the one before was refused with a body
/// left unread.
#[tokio::test]
async fn pipelined_requests_behind_early_answers_and_hits_stay_separate() {
    let rec = Recorder::start().await;
    let g = gateway(&rec).await;
    let seen_paths = |r: &Recorder| r.requests().iter().map(|s: &Seen| s.target.clone()).collect::<Vec<_>>();

    // 401 with a body hiding a request.
    let smuggle_body = SMUGGLED;
    let raw = format!("POST /key HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n{smuggle_body}", smuggle_body.len());
    case(&g, &rec, "behind 401", raw.as_bytes(), Want::Reject).await;

    // 413 by length, body hiding a request.
    let big = format!("{SMUGGLED}{}", "x".repeat(2000));
    let raw = format!("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n{big}", big.len());
    case(&g, &rec, "behind 413", raw.as_bytes(), Want::Reject).await;

    // 429: the first request passes, the second (with a body hiding a request) is limited.
    rec.clear();
    let (a, _) = exchange(&g, b"GET /limited HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").await;
    assert_eq!(statuses(&a), vec![200]);
    let raw = format!("POST /limited HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n{SMUGGLED}", SMUGGLED.len());
    let (a, _) = exchange(&g, raw.as_bytes()).await;
    assert_eq!(statuses(&a).first(), Some(&429));
    assert_eq!(seen_paths(&rec), vec!["/limited"], "only the first reached the upstream");

    // Behind a cache hit, and behind a forwarded request: the first is answered; the
    // follow-up is answered on its own or the connection closes after the first (Pingora does
    // not pipeline: RFC 9112 §9.3.2 lets a client retry what a closed connection left
    // unanswered). Never is the follow-up part of the first.
    rec.clear();
    exchange(&g, b"GET /cached/a HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").await;
    for first in ["/cached/a", "/plain"] {
        rec.clear();
        let raw = format!(
            "GET {first} HTTP/1.1\r\nHost: t\r\n\r\nGET /after HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
        );
        let (a, closed) = exchange(&g, raw.as_bytes()).await;
        let codes = statuses(&a);
        assert_eq!(codes.first(), Some(&200), "{}", String::from_utf8_lossy(&a));
        let paths = seen_paths(&rec);
        let forwarded_first: Vec<&str> = if first == "/plain" { vec![first] } else { vec![] };
        if codes.len() == 2 {
            assert_eq!(paths, [forwarded_first, vec!["/after"]].concat());
        } else {
            assert!(closed && codes.len() == 1, "{codes:?} closed={closed}");
            assert_eq!(paths, forwarded_first, "the follow-up was not forwarded unanswered");
        }
    }
}

/// An Upgrade the upstream does not accept (200, not 101) leaves the connection HTTP: what the
/// client sends next is parsed and checked as a request, not tunnelled raw to the upstream.
#[tokio::test]
async fn an_upgrade_without_101_is_no_tunnel() {
    let rec = Recorder::start().await;
    let g = gateway(&rec).await;
    let raw = "GET / HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
               Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\nGET /key/secret HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    let (a, _) = exchange(&g, raw.as_bytes()).await;
    let paths: Vec<String> = rec.requests().iter().map(|s| s.target.clone()).collect();
    assert!(!paths.iter().any(|p| p.starts_with("/key")), "the follow-up reached the upstream unchecked: {paths:?}");
    let codes = statuses(&a);
    assert_eq!(codes.first(), Some(&200), "{}", String::from_utf8_lossy(&a));
    // The follow-up was refused as a request (401) or the connection ended after the first.
    assert!(codes.len() == 1 || codes[1] == 401, "{codes:?}");
}

/// Path and identity hygiene, as the upstream sees it.
#[tokio::test]
async fn paths_and_identity_headers_reach_the_upstream_clean() {
    let rec = Recorder::start().await;
    let g = gateway(&rec).await;
    let target_of = |path: &str| {
        let raw = format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        let (g, rec) = (&g, &rec);
        async move {
            rec.clear();
            let (a, _) = exchange(g, raw.as_bytes()).await;
            (statuses(&a).first().copied(), rec.requests().first().map(|s| s.target.clone()))
        }
    };
    // Encoded dot segments are resolved before routing (or refused); never passed as dots.
    for p in ["/a/%2e%2e/b", "/a/%2E%2E/b", "/a/.%2e/b", "/a/%2e/b"] {
        let (code, up) = target_of(p).await;
        if let Some(t) = &up {
            assert!(!t.to_ascii_lowercase().contains("%2e") && !t.contains(".."), "{p} → {t}");
        } else {
            assert_eq!(code, Some(400), "{p}");
        }
    }
    // Encoded slashes and backslashes are refused by default.
    for p in ["/a/..%2fb", "/a%2fb", "/a%5cb", "/a/..%5c..%5cb"] {
        assert_eq!(target_of(p).await, (Some(400), None), "{p}");
    }
    // Double encoding is passed as sent (decoded once it is still no dot segment or slash).
    assert_eq!(target_of("/a/%252e%252e/b").await, (Some(200), Some("/a/%252e%252e/b".into())));
    assert_eq!(target_of("/a%252fb").await, (Some(200), Some("/a%252fb".into())));
    // A NUL, raw or encoded, is refused.
    assert_eq!(target_of("/a%00b").await.1, None);

    // Identity headers a client sends are not what the upstream gets.
    rec.clear();
    let raw = "GET /who HTTP/1.1\r\nHost: t\r\nX-Consumer-Name: admin\r\nX-Consumer-Groups: root\r\nX-Forwarded-For: 10.9.9.9\r\n\
               X-Real-IP: 10.9.9.9\r\nForwarded: for=10.9.9.9\r\nConnection: close\r\n\r\n";
    exchange(&g, raw.as_bytes()).await;
    let seen = rec.requests();
    assert_eq!(seen.len(), 1);
    let s = &seen[0];
    assert_eq!(s.header("x-consumer-name"), None, "{s:#?}");
    assert_eq!(s.header("x-consumer-groups"), None, "{s:#?}");
    assert_eq!(s.header("x-forwarded-for"), Some("127.0.0.1"), "{s:#?}");
    assert_ne!(s.header("x-real-ip"), Some("10.9.9.9"), "{s:#?}");
    assert!(!s.header("forwarded").unwrap_or("").contains("10.9.9.9"), "{s:#?}");
}
