//! Helpers for the cache tests (`tests/cache*.rs`).

use super::{simple_config, Gateway, Response, Upstream};
use std::time::Duration;

pub const CACHED: &str = "cache = { enabled = true }";

pub async fn gw(up: &Upstream, api_extra: &str) -> Gateway {
    Gateway::start(&simple_config(&[up], "", api_extra)).await
}

pub async fn get(g: &Gateway, path: &str, headers: &[(&str, &str)]) -> Response {
    g.send("GET", path, headers, b"").await
}

pub fn status_of(r: &Response) -> String {
    r.header("cache-status").unwrap_or("-").to_string()
}

/// The echo upstream's view of the request id: the same id twice means the same upstream
/// answer was served twice.
pub fn upstream_request_id(r: &Response) -> String {
    r.echoed_header("x-request-id").unwrap_or_default()
}

/// Poll `GET path` until its `Cache-Status` contains `want` (bounded); returns that response.
pub async fn get_until(g: &Gateway, path: &str, headers: &[(&str, &str)], want: &str) -> Response {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let r = get(g, path, headers).await;
        if status_of(&r).contains(want) {
            return r;
        }
        assert!(std::time::Instant::now() < deadline, "no {want:?} in time; last: {} {}", r.status, status_of(&r));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
