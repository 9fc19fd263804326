//! Active health checks (HTTP and TCP), passive ejection, failover and retries, and the
//! statuses a client sees when upstreams fail.

mod common;
use common::*;

async fn upstream_state(gw: &Gateway, addr: &str) -> serde_json::Value {
    let c = gw.admin_get("/clusters").await.json();
    c["clusters"][0]["upstreams"].as_array().unwrap().iter().find(|u| u["addr"] == addr).cloned().unwrap()
}

#[tokio::test]
async fn http_health_check_ejects_and_returns_a_peer() {
    let (a, b) = (Upstream::start("a").await, Upstream::start("b").await);
    let health = "[cluster.health]\nhttp_path = \"/health\"\ninterval = \"100ms\"\ntimeout = \"500ms\"\nhealthy_after = 2\nunhealthy_after = 2";
    let gw = Gateway::start(&simple_config(&[&a, &b], health, "")).await;
    a.set_healthy(false);
    let addr = a.addr.to_string();
    eventually(10, "a marked unhealthy", || async { upstream_state(&gw, &addr).await["healthy"] == false }).await;
    gw.metrics_contain(&[&format!("gatehouse_upstream_healthy{{cluster=\"c\",upstream=\"{addr}\"}} 0")]).await;
    for _ in 0..10 {
        assert_eq!(gw.get("/").await.json()["upstream"], "b");
    }
    a.set_healthy(true);
    eventually(10, "a healthy again", || async { upstream_state(&gw, &addr).await["healthy"] == true }).await;
    let mut saw_a = false;
    for _ in 0..10 {
        saw_a |= gw.get("/").await.json()["upstream"] == "a";
    }
    assert!(saw_a, "a gets traffic again");
    assert!(a.state.health_checks.load(std::sync::atomic::Ordering::SeqCst) >= 4);
}

#[tokio::test]
async fn tcp_health_check_follows_a_dying_and_returning_peer() {
    let (mut a, b) = (Upstream::start("a").await, Upstream::start("b").await);
    let health = "[cluster.health]\ninterval = \"100ms\"\ntimeout = \"300ms\"\nhealthy_after = 1\nunhealthy_after = 1";
    let gw = Gateway::start(&simple_config(&[&a, &b], health, "")).await;
    let addr = a.addr.to_string();
    a.kill();
    eventually(10, "a unhealthy", || async { upstream_state(&gw, &addr).await["healthy"] == false }).await;
    a.restart().await;
    eventually(10, "a healthy", || async { upstream_state(&gw, &addr).await["healthy"] == true }).await;
    let last_check = upstream_state(&gw, &addr).await["last_check"].clone();
    assert!(last_check.is_string(), "{last_check}");
}

#[tokio::test]
async fn a_dead_peer_is_retried_elsewhere_then_ejected() {
    let (mut a, b) = (Upstream::start("a").await, Upstream::start("b").await);
    let gw = Gateway::start(&simple_config(&[&a, &b], "eject_after = 2\neject_for = \"60s\"", "")).await;
    a.kill();
    for _ in 0..10 {
        let r = gw.get("/").await;
        assert_eq!(r.status, 200, "failover hides the dead peer: {}", r.text());
        assert_eq!(r.json()["upstream"], "b");
    }
    let st = upstream_state(&gw, &a.addr.to_string()).await;
    assert_eq!(st["ejected"], true, "{st}");
    gw.metrics_contain(&[&format!("gatehouse_upstream_healthy{{cluster=\"c\",upstream=\"{}\"}} 0", a.addr)]).await;
}

#[tokio::test]
async fn ejected_peer_returns_after_the_cool_down() {
    let (mut a, b) = (Upstream::start("a").await, Upstream::start("b").await);
    let gw = Gateway::start(&simple_config(&[&a, &b], "eject_after = 1\neject_for = \"300ms\"", "")).await;
    a.kill();
    for _ in 0..4 {
        assert_eq!(gw.get("/").await.status, 200);
    }
    a.restart().await;
    eventually(10, "a serves again", || async { gw.get("/").await.json()["upstream"] == "a" }).await;
}

#[tokio::test]
async fn reset_before_response_retries_idempotent_requests_only() {
    let (a, b) = (Upstream::start("a").await, Upstream::start("b").await);
    let gw = Gateway::start(&simple_config(&[&a, &b], "retries = 1\neject_after = 0", "")).await;
    let r = gw.send("GET", "/", &[("x-echo-reset", "1")], b"").await;
    assert_eq!(r.status, 502, "{}", r.text());
    assert_eq!(a.requests() + b.requests(), 2, "GET tried on both peers");
    let r = gw.send("POST", "/", &[("x-echo-reset", "1")], b"{}").await;
    assert_eq!(r.status, 502);
    assert_eq!(a.requests() + b.requests(), 3, "POST is not retried");
}

#[tokio::test]
async fn no_healthy_upstream_is_a_502_problem_without_addresses() {
    let mut a = Upstream::start("a").await;
    let gw = Gateway::start(&simple_config(&[&a], "", "")).await;
    a.kill();
    let r = gw.get("/").await;
    assert_eq!(r.status, 502);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    let body = r.text();
    assert!(!body.contains(&a.addr.port().to_string()), "upstream address leaked: {body}");
    assert!(!body.contains("127.0.0.1"), "{body}");
    let j = r.json();
    assert_eq!(j["status"], 502);
    assert_eq!(j["request_id"].as_str(), r.header("x-request-id"));
}

#[tokio::test]
async fn slow_upstream_is_a_504_problem() {
    let a = Upstream::start("a").await;
    let gw = Gateway::start(&simple_config(&[&a], "read_timeout = \"200ms\"\nretries = 0", "")).await;
    let r = gw.send("GET", "/", &[("x-echo-delay-ms", "3000")], b"").await;
    assert_eq!(r.status, 504, "{}", r.text());
    assert_eq!(r.json()["type"], "urn:gatehouse:problem:upstream-timeout");
    // The upstream is fine for requests that do not wait.
    assert_eq!(gw.get("/").await.status, 200);
}

#[tokio::test]
async fn every_peer_down_by_health_check_says_no_healthy_upstream() {
    let a = Upstream::start("a").await;
    let health =
        "[cluster.health]\nhttp_path = \"/health\"\ninterval = \"100ms\"\nhealthy_after = 1\nunhealthy_after = 1";
    let gw = Gateway::start(&simple_config(&[&a], health, "")).await;
    a.set_healthy(false);
    let addr = a.addr.to_string();
    eventually(10, "a unhealthy", || async { upstream_state(&gw, &addr).await["healthy"] == false }).await;
    let before = a.requests();
    let r = gw.get("/").await;
    assert_eq!(r.status, 502);
    assert_eq!(r.json()["detail"], "no healthy upstream is available for this API");
    assert_eq!(a.requests(), before, "an unhealthy peer gets no traffic");
}
