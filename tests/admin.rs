//! The admin API on `[admin] listen`: token auth, problem+json errors, /status, /apis,
//! /clusters, /openapi.json, and what an attacker may send (no token, a token prefix, a huge
//! body, a slow head, path tricks).

mod common;
use common::*;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TOKEN: &str = "0123456789abcdef-secret";

fn is_problem(r: &Response, status: u16) {
    assert_eq!(r.status, status, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/problem+json"), "{}", r.text());
    let p = r.json();
    assert_eq!(p["status"], status);
    assert!(p["type"].as_str().unwrap().starts_with("urn:gatehouse:problem:"), "{p}");
    assert!(p["title"].is_string() && p["detail"].is_string(), "{p}");
    assert_eq!(p["request_id"].as_str(), r.header("x-request-id"), "{p}");
}

#[tokio::test]
async fn a_token_is_required_whole_and_exact() {
    let gw = Gateway::start_with_admin(&format!("token = \"{TOKEN}\""), &[], "").await;
    let get = |auth: Option<String>| {
        let gw = &gw;
        async move {
            let h: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", a.as_str())).collect();
            gw.admin_send("GET", "/status", &h, b"").await
        }
    };
    let r = get(None).await;
    is_problem(&r, 401);
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    for wrong in [
        "Bearer wrong-token-of-same-len".to_string(),
        format!("Bearer {}", &TOKEN[..16]),
        format!("Bearer {TOKEN}x"),
        format!("Basic {TOKEN}"),
        TOKEN.to_string(),
        "Bearer ".to_string(),
    ] {
        let r = get(Some(wrong.clone())).await;
        is_problem(&r, 401);
        assert_eq!(r.header("www-authenticate"), Some("Bearer"), "{wrong}");
    }
    assert_eq!(get(Some(format!("Bearer {TOKEN}"))).await.status, 200);
    assert_eq!(get(Some(format!("bearer {TOKEN}"))).await.status, 200, "the scheme is case-insensitive");
    // Without the token nothing is revealed: unknown paths, the document and reload are 401 too.
    is_problem(&gw.admin_get("/nope").await, 401);
    is_problem(&gw.admin_get("/openapi.json").await, 401);
    is_problem(&gw.admin_post("/reload").await, 401);
}

#[tokio::test]
async fn the_token_can_come_from_the_environment() {
    let env = [("GATEHOUSE_TEST_ADMIN_TOKEN", TOKEN)];
    let gw = Gateway::start_with_admin("token_env = \"GATEHOUSE_TEST_ADMIN_TOKEN\"", &env, "").await;
    is_problem(&gw.admin_get("/status").await, 401);
    let auth = format!("Bearer {TOKEN}");
    let r = gw.admin_send("GET", "/status", &[("Authorization", &auth)], b"").await;
    assert_eq!(r.status, 200, "{}", r.text());
}

#[tokio::test]
async fn status_apis_and_problems_for_unknown_paths_and_methods() {
    let up = Upstream::start("u").await;
    let gw = Gateway::start(&simple_config(&[&up], "", "")).await;
    let s = gw.admin_get("/status").await.json();
    assert_eq!(s["status"], "ok");
    assert_eq!(s["apis"], 1);
    assert_eq!(s["version"], env!("CARGO_PKG_VERSION"));
    assert!(s["config"]["file"].as_str().unwrap().ends_with("gatehouse.toml"));
    assert_eq!(s["config"]["hash"].as_str().unwrap().len(), 64);
    assert!(humantime::parse_rfc3339(s["config"]["loaded_at"].as_str().unwrap()).is_ok());
    assert!(s["uptime_seconds"].is_u64());
    assert_eq!(s["last_reload"]["result"], "ok");
    assert_eq!(gw.admin_get("/apis").await.json()["apis"][0]["name"], "a");

    is_problem(&gw.admin_get("/nope").await, 404);
    let r = gw.admin_get("/reload").await;
    is_problem(&r, 405);
    assert_eq!(r.header("allow"), Some("POST"));
    let r = gw.admin_send("DELETE", "/status", &[], b"").await;
    is_problem(&r, 405);
    assert!(r.header("allow").unwrap().contains("GET"), "{:?}", r.headers);
    // No path normalization: these name no route, and never reach /reload.
    for path in ["//status", "/status/", "/status/../reload", "/%73tatus", "/status%00"] {
        is_problem(&gw.admin_send("POST", path, &[], b"").await, 404);
    }
    assert_eq!(gw.admin_get("/status").await.json()["last_reload"]["at"], s["last_reload"]["at"]);
    // A client's request id is kept.
    let r = gw.admin_send("GET", "/nope", &[("X-Request-Id", "trace-42")], b"").await;
    assert_eq!(r.json()["request_id"], "trace-42");
    let r = gw.admin_send("HEAD", "/status", &[], b"").await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn clusters_show_the_health_check_results() {
    let (a, b) = (Upstream::start("a").await, Upstream::start("b").await);
    b.set_healthy(false);
    let health = "[cluster.health]\nhttp_path = \"/health\"\ninterval = \"100ms\"\nunhealthy_after = 2";
    let gw = Gateway::start(&simple_config(&[&a, &b], health, "")).await;
    let peer = |c: &serde_json::Value, addr: &str| {
        c["clusters"][0]["upstreams"].as_array().unwrap().iter().find(|u| u["addr"] == addr).cloned().unwrap()
    };
    let (a_addr, b_addr) = (a.addr.to_string(), b.addr.to_string());
    eventually(10, "b unhealthy after two failed checks", || async {
        peer(&gw.admin_get("/clusters").await.json(), &b_addr)["healthy"] == false
    })
    .await;
    let c = gw.admin_get("/clusters").await.json();
    assert_eq!(c["clusters"][0]["active_checks"], true);
    assert!(humantime::parse_rfc3339(c["time"].as_str().unwrap()).is_ok());
    let (ua, ub) = (peer(&c, &a_addr), peer(&c, &b_addr));
    assert_eq!(ua["healthy"], true);
    assert_eq!(ua["last_check_ok"], true);
    assert_eq!(ua["last_check_error"], serde_json::Value::Null);
    assert!(ua["consecutive_successes"].as_u64().unwrap() >= 1, "{ua}");
    assert_eq!(ua["consecutive_failures"], 0);
    assert!(humantime::parse_rfc3339(ua["last_check"].as_str().unwrap()).is_ok(), "{ua}");
    assert_eq!(ub["last_check_ok"], false);
    assert!(ub["last_check_error"].as_str().unwrap().contains("503"), "{ub}");
    assert!(ub["consecutive_failures"].as_u64().unwrap() >= 2, "{ub}");
    assert_eq!(ub["consecutive_successes"], 0);
    assert!(ua["in_flight"].is_u64() && ua["weight"].is_u64(), "{ua}");
}

#[tokio::test]
async fn the_openapi_document_describes_every_route() {
    let gw = Gateway::start("").await;
    let r = gw.admin_get("/openapi.json").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let doc = r.json();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    let paths = doc["paths"].as_object().unwrap();
    for p in ["/status", "/metrics", "/apis", "/clusters", "/reload", "/openapi.json"] {
        assert!(paths.contains_key(p), "{p} missing");
    }
    // Every documented operation without path parameters is served (neither 404 nor 405); GETs
    // answer 200, a POST may refuse the empty body (422).
    for (path, item) in paths.iter().filter(|(p, _)| !p.contains('{')) {
        for method in item.as_object().unwrap().keys().filter(|m| ["get", "post"].contains(&m.as_str())) {
            let r = gw.admin_send(&method.to_uppercase(), path, &[], b"").await;
            let ok = r.status == 200 || (method == "post" && r.status == 422);
            assert!(ok, "{method} {path}: {} {}", r.status, r.text());
        }
    }
}

/// Send `head`, then (in the background, ignoring write errors) `body`; read one response.
async fn send_streaming(addr: std::net::SocketAddr, head: String, body: Vec<u8>) -> Response {
    let (mut rd, mut wr) = TcpStream::connect(addr).await.unwrap().into_split();
    wr.write_all(head.as_bytes()).await.unwrap();
    let writer = tokio::spawn(async move {
        for piece in body.chunks(64 * 1024) {
            if wr.write_all(piece).await.is_err() {
                return;
            }
        }
        let _ = wr.flush().await;
        tokio::time::sleep(Duration::from_secs(5)).await;
    });
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(20);
    let r = loop {
        let n = tokio::time::timeout_at(deadline.into(), rd.read(&mut chunk)).await.expect("an answer in time");
        match n {
            Ok(0) | Err(_) => break common::client::parse(&buf),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if let Some(r) = common::client::parse(&buf) {
            break Some(r);
        }
    };
    writer.abort();
    r.expect("a complete response")
}

#[tokio::test]
async fn huge_bodies_get_413_and_the_listener_keeps_serving() {
    let gw = Gateway::start_with_admin(&format!("token = \"{TOKEN}\""), &[], "").await;
    let auth = format!("Authorization: Bearer {TOKEN}\r\n");
    // A declared length over the cap is refused before any of the body is read.
    let head = format!("POST /reload HTTP/1.1\r\nHost: t\r\n{auth}Content-Length: 104857600\r\n\r\n");
    let r = send_streaming(gw.admin, head, vec![b'x'; 256 * 1024]).await;
    is_problem(&r, 413);
    assert_eq!(r.header("connection"), Some("close"));
    // A chunked body is cut off once it passes the cap.
    let mut chunked = Vec::new();
    for _ in 0..40 {
        chunked.extend_from_slice(format!("{:x}\r\n", 64 * 1024).as_bytes());
        chunked.extend_from_slice(&[b'y'; 64 * 1024]);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let head = format!("POST /reload HTTP/1.1\r\nHost: t\r\n{auth}Transfer-Encoding: chunked\r\n\r\n");
    is_problem(&send_streaming(gw.admin, head, chunked.clone()).await, 413);
    // Without the token the body is not even read: 401, and the connection is closed.
    let head = "POST /reload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n".to_string();
    let r = send_streaming(gw.admin, head, chunked).await;
    is_problem(&r, 401);
    assert_eq!(r.header("connection"), Some("close"));
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    let bearer = format!("Bearer {TOKEN}");
    let r = gw.admin_send("GET", "/status", &[("Authorization", &bearer)], b"").await;
    assert_eq!(r.status, 200, "still serving");
    // A body under the cap is read and ignored by a route that takes none.
    let r = gw.admin_send("POST", "/reload", &[("Authorization", &bearer)], &[b'z'; 4096]).await;
    assert_eq!(r.status, 200, "{}", r.text());
}

#[tokio::test]
async fn a_slow_request_head_is_cut_off() {
    let gw = Gateway::start("").await;
    let started = Instant::now();
    let mut slow = TcpStream::connect(gw.admin).await.unwrap();
    slow.write_all(b"GET /status HTTP/1.1\r\nHost: t\r\n").await.unwrap();
    // Others are served meanwhile.
    assert_eq!(gw.admin_get("/status").await.status, 200);
    let mut buf = [0u8; 64];
    let mut closed = false;
    while started.elapsed() < Duration::from_secs(20) {
        // One header byte at a time, each well within Pingora's per-read timeout.
        if slow.write_all(b"X").await.is_err() {
            closed = true;
            break;
        }
        match tokio::time::timeout(Duration::from_millis(500), slow.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                closed = true;
                break;
            }
            _ => {}
        }
    }
    assert!(closed, "the connection is closed");
    assert!(started.elapsed() < Duration::from_secs(15), "within the head timeout: {:?}", started.elapsed());
    assert_eq!(gw.admin_get("/status").await.status, 200);
}
