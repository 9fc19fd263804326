//! Connection-level limits: the header-read deadline against slowloris (a client dribbling a
//! byte at a time is cut off while others are served), oversized heads refused while they are
//! still arriving, the per-client-IP connection cap. Body, URI and header-size limits: `limits_metrics.rs`.

mod common;
use common::client::{KeepAlive, Outcome};
use common::*;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Write `head` a byte every 100 ms on `s` while reading; returns what the gateway sent before
/// it closed the connection and how long that took. Bounded by 15 s.
async fn dribble(s: TcpStream, head: &[u8]) -> (Vec<u8>, Duration) {
    let (mut rd, mut wr) = s.into_split();
    let head = head.to_vec();
    let writer = tokio::spawn(async move {
        for b in head {
            if wr.write_all(&[b]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // Never finish the head: hold the connection open.
        tokio::time::sleep(Duration::from_secs(30)).await;
    });
    let start = Instant::now();
    let mut got = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(15), rd.read_to_end(&mut got)).await;
    writer.abort();
    assert!(read.is_ok(), "the slow client was not cut off within 15 s; got {:?}", String::from_utf8_lossy(&got));
    (got, start.elapsed())
}

#[tokio::test]
async fn a_dribbled_head_is_cut_off_while_others_are_served() {
    let up = Upstream::start("u").await;
    let gw = Gateway::start_with("header_read_timeout = \"1s\"", &simple_config(&[&up], "", "")).await;
    let slow_head =
        b"GET /slow HTTP/1.1\r\nHost: t\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
    let addr = gw.addr;
    let slow = tokio::spawn(async move { dribble(TcpStream::connect(addr).await.unwrap(), slow_head).await });
    // Served meanwhile, on other connections.
    for _ in 0..5 {
        assert_eq!(gw.get("/fast").await.status, 200);
    }
    let (got, took) = slow.await.unwrap();
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("application/problem+json"), "{text}");
    assert!(took < Duration::from_secs(10), "cut off after {took:?}");
    assert_eq!(up.requests(), 5, "the slow request never reached the upstream");
    gw.metrics_contain(&["gatehouse_connections_refused_total{reason=\"header_timeout\"} 1"]).await;
}

#[tokio::test]
async fn the_deadline_applies_to_every_request_on_a_keep_alive_connection() {
    let up = Upstream::start("u").await;
    let gw = Gateway::start_with("header_read_timeout = \"1s\"", &simple_config(&[&up], "", "")).await;
    // One whole request, then the next head dribbled on the same connection.
    let mut s = TcpStream::connect(gw.addr).await.unwrap();
    let first = common::client::exchange(&mut s, b"GET /one HTTP/1.1\r\nHost: t\r\n\r\n").await.expect("a response");
    assert_eq!(first.status, 200);
    let (got, _) = dribble(s, b"GET /two HTTP/1.1\r\nHost: t\r\nX-Slow: 0123456789012345678901234567890\r\n").await;
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert_eq!(up.requests(), 1);
}

#[tokio::test]
async fn a_silent_connection_is_closed_after_the_header_read_timeout() {
    let up = Upstream::start("u").await;
    let gw = Gateway::start_with("header_read_timeout = \"1s\"", &simple_config(&[&up], "", "")).await;
    let mut s = TcpStream::connect(gw.addr).await.unwrap();
    let mut got = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut got)).await;
    assert!(closed.is_ok(), "still open after 10 s");
    assert!(got.is_empty(), "no answer to a connection that said nothing");
}

#[tokio::test]
async fn an_endless_head_is_refused_before_it_ends() {
    let up = Upstream::start("u").await;
    let gw =
        Gateway::start_with("max_header_size = \"2KiB\"\nmax_uri_length = 64", &simple_config(&[&up], "", "")).await;
    let mut s = TcpStream::connect(gw.addr).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nX-Big: ").await.unwrap();
    // Keep sending until the gateway answers and closes (it must not wait for the end).
    let filler = vec![b'v'; 1024];
    for _ in 0..256 {
        if s.write_all(&filler).await.is_err() {
            break;
        }
    }
    let mut got = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut got)).await;
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 431"), "{text}");
    assert_eq!(up.requests(), 0);
}

#[tokio::test]
async fn connections_per_client_address_are_capped() {
    let up = Upstream::start("u").await;
    let gw = Gateway::start_with("max_conns_per_ip = 2", &simple_config(&[&up], "", "")).await;
    let mut a = KeepAlive::connect(gw.addr).await;
    let mut b = KeepAlive::connect(gw.addr).await;
    assert_eq!(a.get("/a", &[]).await.unwrap().status, 200);
    assert_eq!(b.get("/b", &[]).await.unwrap().status, 200);
    let mut c = KeepAlive::connect(gw.addr).await;
    assert!(matches!(c.try_get("/c", &[]).await, Outcome::Closed), "a third connection is closed at once");
    gw.metrics_contain(&["gatehouse_connections_refused_total{reason=\"per_ip_limit\"} 1"]).await;
    // The held connections keep working; once one goes, a new one is let in.
    assert_eq!(a.get("/a2", &[]).await.unwrap().status, 200);
    drop(b);
    eventually(10, "a slot is freed", || async {
        let mut d = KeepAlive::connect(gw.addr).await;
        d.get("/d", &[]).await.is_some_and(|r| r.status == 200)
    })
    .await;
}
