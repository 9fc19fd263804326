//! gRPC through the gateway: HTTP/2 over TLS from the client (ALPN), HTTP/2 over TLS to the
//! upstream (`tls = true, h2 = true`), `te: trailers` kept, response trailers delivered. Also
//! what an attacker may send over h2: connection-specific fields are refused.

mod common;

use bytes::Bytes;
use common::tls::{connect, wait_listening, Ca};
use common::{client::request, free_port, Gateway};
use openssl::ssl::{select_next_proto, AlpnError, Ssl, SslAcceptor, SslFiletype, SslMethod};
use pingora::tls::tokio_ssl::SslStream;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// An h2-only TLS upstream: answers with `x-seen-te`, a gRPC-framed body and `grpc-status` trailers.
async fn h2_upstream(cert: &Path, key: &Path) -> (SocketAddr, Arc<AtomicU64>) {
    let mut b = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls()).unwrap();
    b.set_certificate_chain_file(cert).unwrap();
    b.set_private_key_file(key, SslFiletype::PEM).unwrap();
    b.set_alpn_select_callback(|_, client| select_next_proto(b"\x02h2", client).ok_or(AlpnError::ALERT_FATAL));
    let acceptor = b.build();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicU64::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let mut s = SslStream::new(Ssl::new(acceptor.context()).unwrap(), tcp).unwrap();
            let seen = seen.clone();
            tokio::spawn(async move {
                if Pin::new(&mut s).accept().await.is_err() {
                    return;
                }
                let Ok(mut conn) = h2::server::handshake(s).await else { return };
                while let Some(Ok((req, mut respond))) = conn.accept().await {
                    seen.fetch_add(1, SeqCst);
                    tokio::spawn(async move {
                        let te = req.headers().get("te").map(|v| v.to_str().unwrap().to_string());
                        let mut body = req.into_body();
                        let mut len = 0;
                        while let Some(Ok(chunk)) = body.data().await {
                            len += chunk.len();
                            let _ = body.flow_control().release_capacity(chunk.len());
                        }
                        let resp = http::Response::builder()
                            .header("content-type", "application/grpc")
                            .header("x-seen-te", te.unwrap_or_else(|| "none".into()))
                            .header("x-seen-len", len.to_string())
                            .body(())
                            .unwrap();
                        let mut send = respond.send_response(resp, false).unwrap();
                        send.send_data(Bytes::from_static(b"\0\0\0\0\x05hello"), false).unwrap();
                        let mut trailers = http::HeaderMap::new();
                        trailers.insert("grpc-status", "0".parse().unwrap());
                        trailers.insert("grpc-message", "ok".parse().unwrap());
                        send.send_trailers(trailers).unwrap();
                    });
                }
            });
        }
    });
    (addr, count)
}

#[tokio::test]
async fn grpc_over_h2_with_trailers() {
    let certs = tempfile::tempdir().unwrap();
    let ca = Ca::new(certs.path(), "g");
    let (crt, key) = ca.issue("gw", &["localhost"]);
    let (up, seen) = h2_upstream(&crt, &key).await;
    let cafile = ca.ca_file("g");
    let tls: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let extra = format!("[[server.tls]]\nlisten = \"{tls}\"\ncert = {crt:?}\nkey = {key:?}\n");
    let body = format!(
        "[[cluster]]\nname = \"grpc\"\nupstreams = [\"{up}\"]\ntls = true\nh2 = true\nsni = \"localhost\"\nca_file = {cafile:?}\n\n\
         [[api]]\nname = \"g\"\nbase_path = \"/\"\ncluster = \"grpc\"\n"
    );
    let gw = Gateway::start_with(&extra, &body).await;
    wait_listening(tls).await;

    let s = connect(tls, Some("localhost"), true, &cafile, b"\x02h2", None).await.unwrap();
    assert_eq!(s.ssl().selected_alpn_protocol(), Some(&b"h2"[..]));
    let (mut client, conn) = h2::client::handshake(s).await.unwrap();
    tokio::spawn(conn);
    let req = http::Request::builder()
        .method("POST")
        .uri("https://localhost/pkg.Echo/Say")
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .unwrap();
    let (resp, mut send) = client.send_request(req, false).unwrap();
    send.send_data(Bytes::from_static(b"\0\0\0\0\x02hi"), true).unwrap();
    let resp = tokio::time::timeout(Duration::from_secs(20), resp).await.unwrap().unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-seen-te"], "trailers");
    assert_eq!(resp.headers()["x-seen-len"], "7");
    let mut body = resp.into_body();
    let mut data = Vec::new();
    while let Some(chunk) = body.data().await {
        data.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(data, b"\0\0\0\0\x05hello");
    let trailers = body.trailers().await.unwrap().expect("trailers");
    assert_eq!(trailers["grpc-status"], "0");
    assert_eq!(trailers["grpc-message"], "ok");

    // From HTTP/1.1: only `trailers` of TE reaches the h2 upstream; `te: gzip` does not break it.
    for (te, want) in [("gzip, trailers", "trailers"), ("gzip", "none")] {
        let r = request(gw.addr, "GET", "/x", &[("TE", te), ("Connection", "TE")], b"").await;
        assert_eq!(r.status, 200, "{te}: {}", r.text());
        assert_eq!(r.header("x-seen-te"), Some(want), "{te}");
    }

    // h2 forbids connection-specific fields (RFC 9113 §8.2.2): such a request is refused.
    assert!(!raw_h2_refused(tls, &cafile, "x-fine", "1").await, "the hand-made request itself is valid");
    let before = seen.load(SeqCst);
    for (name, value) in [("connection", "keep-alive"), ("te", "gzip"), ("upgrade", "websocket")] {
        assert!(raw_h2_refused(tls, &cafile, name, value).await, "{name}: {value} was answered");
    }
    assert_eq!(seen.load(SeqCst), before, "a malformed request reached the upstream");
}

/// Send one HEADERS frame by hand (the h2 crate will not send these fields) and say whether
/// the stream or connection was refused instead of answered.
async fn raw_h2_refused(tls: SocketAddr, ca: &Path, name: &str, value: &str) -> bool {
    let mut s = connect(tls, Some("localhost"), true, ca, b"\x02h2", None).await.unwrap();
    let mut block = Vec::new();
    for (n, v) in
        [(":method", "GET"), (":scheme", "https"), (":path", "/x"), (":authority", "localhost"), (name, value)]
    {
        // Literal field without indexing, new name, no Huffman coding.
        block.push(0);
        block.push(n.len() as u8);
        block.extend_from_slice(n.as_bytes());
        block.push(v.len() as u8);
        block.extend_from_slice(v.as_bytes());
    }
    let mut out = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    out.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]);
    let len = block.len() as u32;
    out.extend_from_slice(&[(len >> 16) as u8, (len >> 8) as u8, len as u8, 1, 0x5, 0, 0, 0, 1]);
    out.extend_from_slice(&block);
    s.write_all(&out).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let mut h = [0u8; 9];
            if s.read_exact(&mut h).await.is_err() {
                return true; // closed
            }
            let len = (h[0] as usize) << 16 | (h[1] as usize) << 8 | h[2] as usize;
            let mut payload = vec![0u8; len];
            if s.read_exact(&mut payload).await.is_err() {
                return true;
            }
            match h[3] {
                3 | 7 => return true, // RST_STREAM, GOAWAY
                1 => return false,    // HEADERS: answered
                _ => {}
            }
        }
    })
    .await
    .expect("an answer to the raw request")
}
