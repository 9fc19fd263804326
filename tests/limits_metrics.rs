//! Request limits (413/414/431), metrics, the access log. The admin API: `tests/admin.rs`.

mod common;
use common::client::send_raw;
use common::*;

#[tokio::test]
async fn oversized_requests_get_problems() {
    let up = Upstream::start("u").await;
    let gw = Gateway::start_with(
        "max_body_size = \"1KiB\"\nmax_uri_length = 64\nmax_header_size = \"2KiB\"",
        &simple_config(&[&up], "", ""),
    )
    .await;
    let r = gw.send("POST", "/", &[], &[b'x'; 2048]).await;
    assert_eq!(r.status, 413, "{}", r.text());
    assert_eq!(r.header("connection"), Some("close"));
    assert_eq!(r.json()["type"], "urn:gatehouse:problem:body-too-large");

    // A chunked body that grows past the limit is cut off too.
    let mut raw = b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..4 {
        raw.extend_from_slice(b"400\r\n");
        raw.extend_from_slice(&[b'y'; 1024]);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"0\r\n\r\n");
    let r = send_raw(gw.addr, &raw).await.expect("an answer");
    assert_eq!(r.status, 413, "{}", r.text());
    assert_eq!(up.requests(), 0, "the upstream never got a whole request");
    let ok =
        b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    let r = send_raw(gw.addr, ok).await.expect("an answer");
    assert_eq!((r.status, r.json()["body"].as_str()), (200, Some("hello")), "chunked bodies under the limit pass");

    let r = gw.get(&format!("/{}", "a".repeat(100))).await;
    assert_eq!(r.status, 414);
    let big = "v".repeat(3000);
    let r = gw.send("GET", "/", &[("X-Big", &big)], b"").await;
    assert_eq!(r.status, 431);
    let r = gw.send("POST", "/", &[], &[b'x'; 512]).await;
    assert_eq!(r.status, 200, "bodies under the limit pass");
    assert_eq!(r.json()["body"].as_str().unwrap().len(), 512);
}

#[tokio::test]
async fn metrics_count_requests_by_api_method_and_status() {
    let up = Upstream::start("u").await;
    let gw = Gateway::start(&simple_config(&[&up], "", "")).await;
    for _ in 0..3 {
        assert_eq!(gw.get("/x").await.status, 200);
    }
    assert_eq!(gw.send("GET", "/x", &[("x-echo-status", "503")], b"").await.status, 503);
    assert_eq!(gw.send("PURGE", "/x", &[], b"").await.status, 200);
    gw.metrics_contain(&[
        "gatehouse_requests_total{api=\"a\",method=\"GET\",status=\"200\"} 3",
        "gatehouse_requests_total{api=\"a\",method=\"GET\",status=\"503\"} 1",
        "gatehouse_requests_total{api=\"a\",method=\"OTHER\",status=\"200\"} 1",
        "gatehouse_request_duration_seconds_count{api=\"a\"} 5",
        "gatehouse_upstream_duration_seconds_count{api=\"a\"} 5",
        "gatehouse_requests_in_flight 0",
        &format!("gatehouse_upstream_healthy{{cluster=\"c\",upstream=\"{}\"}} 1", up.addr),
    ])
    .await;
}

#[tokio::test]
async fn unrouted_requests_count_under_a_dash() {
    let up = Upstream::start("u").await;
    let cfg = format!(
        "[[cluster]]\nname = \"c\"\nupstreams = [\"{}\"]\n[[api]]\nname = \"a\"\nbase_path = \"/a\"\ncluster = \"c\"\n",
        up.addr
    );
    let gw = Gateway::start(&cfg).await;
    assert_eq!(gw.get("/nowhere").await.status, 404);
    gw.metrics_contain(&["gatehouse_requests_total{api=\"-\",method=\"GET\",status=\"404\"} 1"]).await;
}

#[tokio::test]
async fn access_log_writes_one_json_line_per_request() {
    let up = Upstream::start("u").await;
    let gw = Gateway::start_with("access_log = \"access.log\"", &simple_config(&[&up], "", "")).await;
    let r = gw.send("GET", "/logged?x=1", &[("X-Request-Id", "trace-me-1")], b"").await;
    assert_eq!(r.status, 200);
    let file = gw.dir.path().join("access.log");
    eventually(10, "access log line", || async {
        std::fs::read_to_string(&file).unwrap_or_default().contains("trace-me-1")
    })
    .await;
    let text = std::fs::read_to_string(&file).unwrap();
    let line: serde_json::Value =
        serde_json::from_str(text.lines().find(|l| l.contains("trace-me-1")).unwrap()).unwrap();
    assert_eq!(line["status"], 200);
    assert_eq!(line["api"], "a");
    assert_eq!(line["path"], "/logged?x=1");
    assert_eq!(line["method"], "GET");
}
