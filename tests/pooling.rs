//! Upstream keep-alive: connections to an upstream are reused across client requests and
//! closed after `idle_timeout`.

mod common;
use common::*;
use std::sync::atomic::Ordering::SeqCst;

#[tokio::test]
async fn upstream_connections_are_reused() {
    let up = Upstream::start("u").await;
    let gw = Gateway::start(&simple_config(&[&up], "", "")).await;
    // Each client request comes on its own connection (the test client closes it), yet the
    // gateway keeps talking to the upstream over its pooled connection.
    for _ in 0..20 {
        assert_eq!(gw.get("/").await.status, 200);
    }
    let conns = up.state.connections.load(SeqCst);
    assert!(conns <= 2, "20 requests opened {conns} upstream connections");
}

#[tokio::test]
async fn idle_pooled_connections_close_after_idle_timeout() {
    let up = Upstream::start("u").await;
    let gw = Gateway::start(&simple_config(&[&up], "idle_timeout = \"200ms\"", "")).await;
    assert_eq!(gw.get("/").await.status, 200);
    assert_eq!(up.state.connections.load(SeqCst), 1);
    // The gateway closes the idle connection after 200 ms; then a request needs a new one.
    eventually(10, "idle upstream connection closed", || async { up.state.open_connections.load(SeqCst) == 0 }).await;
    assert_eq!(gw.get("/").await.status, 200);
    assert_eq!(up.state.connections.load(SeqCst), 2);
}
