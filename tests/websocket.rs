//! WebSocket upgrades pass through: 101 from the upstream, then raw bytes both ways, on the
//! plain listener, on a TLS listener, and toward a cluster that offers HTTP/2 (the upgrade
//! goes over HTTP/1.1 there).

mod common;

use common::tls::{connect, echo_upstream, wait_listening, Ca};
use common::{free_port, Gateway, Upstream};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

const UPGRADE: &[u8] =
    b"GET /ws HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\
Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";

/// Upgrade, then send two messages and read each back.
async fn round_trip<S: AsyncRead + AsyncWrite + Unpin>(mut s: S) {
    tokio::time::timeout(Duration::from_secs(20), async {
        s.write_all(UPGRADE).await.unwrap();
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut b = [0u8; 1];
            assert_eq!(
                s.read(&mut b).await.unwrap(),
                1,
                "closed during the head: {:?}",
                String::from_utf8_lossy(&head)
            );
            head.push(b[0]);
        }
        let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
        assert!(head.starts_with("http/1.1 101"), "{head}");
        assert!(head.contains("upgrade: websocket"), "{head}");
        for msg in [&b"hello \x00\xff frame-ish bytes"[..], b"second"] {
            s.write_all(msg).await.unwrap();
            let mut got = vec![0u8; msg.len()];
            s.read_exact(&mut got).await.unwrap();
            assert_eq!(got, msg);
        }
    })
    .await
    .expect("round trip in time");
}

#[tokio::test]
async fn websocket_through_plain_tls_and_to_h2_cluster() {
    let up = Upstream::start("ws").await;
    let certs = tempfile::tempdir().unwrap();
    let ca = Ca::new(certs.path(), "ws");
    let (crt, key) = ca.issue("gw", &["localhost"]);
    let (tls_up, _) = echo_upstream("ws-tls", &crt, &key).await;
    let cafile = ca.ca_file("ws");
    let tls: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let extra = format!("[[server.tls]]\nlisten = \"{tls}\"\ncert = {crt:?}\nkey = {key:?}\n");
    let body = format!(
        "[[cluster]]\nname = \"plain\"\nupstreams = [\"{}\"]\n\n\
         [[cluster]]\nname = \"h2\"\nupstreams = [\"{tls_up}\"]\ntls = true\nh2 = true\nsni = \"localhost\"\nca_file = {cafile:?}\n\n\
         [[api]]\nname = \"p\"\nbase_path = \"/\"\ncluster = \"plain\"\n\n\
         [[api]]\nname = \"h\"\nbase_path = \"/\"\nhosts = [\"h2.localhost\"]\ncluster = \"h2\"\n",
        up.addr
    );
    let gw = Gateway::start_with(&extra, &body).await;
    wait_listening(tls).await;

    round_trip(tokio::net::TcpStream::connect(gw.addr).await.unwrap()).await;
    round_trip(connect(tls, Some("localhost"), true, &cafile, b"\x08http/1.1", None).await.unwrap()).await;
    assert_eq!(up.requests(), 2);

    let mut s = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    let req = String::from_utf8_lossy(UPGRADE).replace("Host: localhost", "Host: h2.localhost");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut head = [0u8; 12];
    s.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 101", "to an h2 cluster");
    s.write_all(b"via-h2-cluster").await.unwrap();
    let mut rest = Vec::new();
    while !rest.ends_with(b"via-h2-cluster") {
        let mut b = [0u8; 256];
        let n = s.read(&mut b).await.unwrap();
        assert!(n > 0, "closed: {:?}", String::from_utf8_lossy(&rest));
        rest.extend_from_slice(&b[..n]);
    }
}
