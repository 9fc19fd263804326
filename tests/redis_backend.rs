//! The Redis backend's connection: Redis killed, frozen (SIGSTOP: connections open, no answers)
//! or not there at start — `on_backend_error` decides what requests get, nothing hangs, a metric
//! and a log line record it, the gateway reconnects by itself — and Redis over TLS, verified.

mod common;

use common::redis::RedisServer;
use common::{simple_config, Gateway, Upstream};
use std::time::{Duration, Instant};

fn config(up: &Upstream, redis: &RedisServer, limits_extra: &str) -> String {
    simple_config(&[up], "", "limits = [{ rate = \"1000/hour\", key = \"route\" }]")
        + &format!("\n[limits]\nbackend = \"redis\"\nredis_url = \"{}\"\n{limits_extra}\n", redis.url)
}

/// A request decided by Redis carries the limit's headers.
async fn limited_by_redis(gw: &Gateway) -> bool {
    let r = gw.get("/x").await;
    r.status == 200 && r.header("ratelimit").is_some()
}

async fn backend_errors(gw: &Gateway, reason: &str, action: &str) -> u64 {
    let line = format!("gatehouse_ratelimit_backend_errors_total{{action=\"{action}\",reason=\"{reason}\"}} ");
    gw.metrics().await.lines().find_map(|l| l.strip_prefix(line.as_str())).and_then(|v| v.parse().ok()).unwrap_or(0)
}

async fn redis_status(gw: &Gateway) -> String {
    gw.admin_get("/status").await.json()["limits"]["redis"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn killed_with_allow_lets_requests_through_and_reconnects() {
    let Some(mut redis) = RedisServer::start().await else { return };
    let up = Upstream::start("u").await;
    let gw = Gateway::start(&config(&up, &redis, "")).await;
    assert!(limited_by_redis(&gw).await);
    assert_eq!(redis_status(&gw).await, "up");
    redis.kill();
    for _ in 0..5 {
        let r = gw.get("/x").await;
        assert_eq!(r.status, 200, "allowed without a decision");
        assert_eq!(r.header("ratelimit"), None, "no made-up limit headers");
    }
    let errors = backend_errors(&gw, "error", "allow").await + backend_errors(&gw, "unavailable", "allow").await;
    assert!(errors >= 5, "every undecided request is counted ({errors})");
    assert!(gw.stderr_text().contains("rate limits: Redis"), "{}", gw.stderr_text());
    common::eventually(5, "/status shows Redis down", || async { redis_status(&gw).await == "down" }).await;
    redis.restart().await;
    common::eventually(10, "limits decided by Redis again", || limited_by_redis(&gw)).await;
    assert_eq!(redis_status(&gw).await, "up");
}

#[tokio::test]
async fn killed_with_deny_refuses_with_503_until_redis_is_back() {
    let Some(mut redis) = RedisServer::start().await else { return };
    let up = Upstream::start("u").await;
    let gw = Gateway::start(&config(&up, &redis, "on_backend_error = \"deny\"")).await;
    assert!(limited_by_redis(&gw).await);
    let before = up.requests();
    redis.kill();
    for _ in 0..3 {
        let r = gw.get("/x").await;
        assert_eq!(r.status, 503);
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
        assert_eq!(r.header("retry-after"), Some("1"));
    }
    assert_eq!(up.requests(), before, "denied requests never reach the upstream");
    assert!(backend_errors(&gw, "unavailable", "deny").await + backend_errors(&gw, "error", "deny").await >= 3);
    redis.restart().await;
    common::eventually(10, "requests allowed again", || limited_by_redis(&gw)).await;
}

#[tokio::test]
async fn a_frozen_redis_costs_each_request_at_most_the_timeout() {
    let Some(redis) = RedisServer::start().await else { return };
    let up = Upstream::start("u").await;
    let gw = Gateway::start(&config(&up, &redis, "timeout = \"100ms\"\non_backend_error = \"deny\"")).await;
    assert!(limited_by_redis(&gw).await);
    redis.freeze(true);
    let started = Instant::now();
    for _ in 0..5 {
        assert_eq!(gw.get("/x").await.status, 503);
    }
    // A hang check, not a latency assertion: five requests far within their 100 ms each + slack.
    assert!(started.elapsed() < Duration::from_secs(5), "requests hung: {:?}", started.elapsed());
    assert!(backend_errors(&gw, "timeout", "deny").await >= 1);
    redis.freeze(false);
    common::eventually(15, "requests allowed again", || limited_by_redis(&gw)).await;
}

#[tokio::test]
async fn a_gateway_started_before_redis_connects_when_it_comes() {
    let Some(mut redis) = RedisServer::start().await else { return };
    redis.kill();
    let up = Upstream::start("u").await;
    let gw = Gateway::start(&config(&up, &redis, "")).await;
    let r = gw.get("/x").await;
    assert_eq!((r.status, r.header("ratelimit")), (200, None));
    assert_eq!(redis_status(&gw).await, "down");
    redis.restart().await;
    common::eventually(10, "limits decided by Redis", || limited_by_redis(&gw)).await;
}

#[tokio::test]
async fn rediss_verifies_the_servers_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let ca = common::tls::Ca::new(dir.path(), "redis-test");
    let Some(redis) = RedisServer::start_tls(&ca, "redis-test").await else { return };
    let up = Upstream::start("u").await;
    // Trusted through the system store's environment override (OpenSSL reads SSL_CERT_FILE).
    let ca_file = ca.ca_file("redis-test").display().to_string();
    let trusted = Gateway::start_with_admin("", &[("SSL_CERT_FILE", &ca_file)], &config(&up, &redis, "")).await;
    common::eventually(10, "connected to Redis over TLS", || limited_by_redis(&trusted)).await;
    // Without the CA the handshake fails: never connected, requests get on_backend_error.
    let other = tempfile::tempdir().unwrap();
    let empty = other.path().join("none.pem");
    std::fs::write(&empty, "").unwrap();
    let untrusted = Gateway::start_with_admin(
        "",
        &[("SSL_CERT_FILE", &empty.display().to_string())],
        &config(&up, &redis, "on_backend_error = \"deny\""),
    )
    .await;
    assert_eq!(untrusted.get("/x").await.status, 503);
    assert_eq!(redis_status(&untrusted).await, "down");
}
