//! The admin listener: `/status`, `/metrics`, `/apis`, `/clusters`. Served as a Pingora
//! service so its socket is handed over on a binary upgrade like the proxy's.

use crate::reload::Reloader;
use crate::runtime::{RuntimeHandle, Shared};
use async_trait::async_trait;
use http::{Response, StatusCode};
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;
use serde_json::json;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

pub struct AdminApp {
    pub runtime: RuntimeHandle,
    pub shared: Arc<Shared>,
    pub reloader: Arc<Reloader>,
    pub token: Option<String>,
    pub started: Instant,
}

#[async_trait]
impl ServeHttp for AdminApp {
    async fn response(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        // Admin requests carry no body we use; drain it so keep-alive stays safe.
        let _ = session.drain_request_body().await;
        let req = session.req_header();
        if let Some(token) = &self.token {
            let given =
                req.headers.get(http::header::AUTHORIZATION).and_then(|v| v.as_bytes().strip_prefix(b"Bearer "));
            if !given.is_some_and(|g| constant_time_eq(g, token.as_bytes())) {
                let mut r = problem(401, "a valid admin token is required");
                r.headers_mut().insert(http::header::WWW_AUTHENTICATE, http::HeaderValue::from_static("Bearer"));
                return r;
            }
        }
        let method = req.method.clone();
        let path = req.uri.path().to_string();
        match (method.as_str(), path.as_str()) {
            ("GET", "/status") => json_response(200, &self.status()),
            ("GET", "/metrics") => Response::builder()
                .status(200)
                .header(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")
                .body(self.shared.metrics.render())
                .unwrap_or_default(),
            ("GET", "/apis") => json_response(200, &self.apis()),
            ("GET", "/clusters") => json_response(200, &self.clusters()),
            ("POST", "/reload") => match self.reloader.reload().await {
                Ok(st) => json_response(200, &json!({ "reload": st })),
                Err(st) => {
                    let body = json!({
                        "type": "about:blank",
                        "title": "Unprocessable Content",
                        "status": 422,
                        "detail": "the config file is invalid; the running config keeps serving",
                        "errors": st.errors,
                    });
                    Response::builder()
                        .status(422)
                        .header(http::header::CONTENT_TYPE, "application/problem+json")
                        .body(serde_json::to_vec(&body).unwrap_or_default())
                        .unwrap_or_default()
                }
            },
            (_, "/status" | "/metrics" | "/apis" | "/clusters" | "/reload") => problem(405, "method not allowed"),
            _ => problem(404, "no such admin endpoint"),
        }
    }
}

impl AdminApp {
    fn status(&self) -> serde_json::Value {
        let rt = self.runtime.load();
        json!({
            "status": "ok",
            "version": env!("CARGO_PKG_VERSION"),
            "pid": std::process::id(),
            "uptime_seconds": self.started.elapsed().as_secs(),
            "config": {
                "file": rt.source.display().to_string(),
                "loaded_at": humantime::format_rfc3339_seconds(rt.loaded_at).to_string(),
                "hash": self.reloader.status().config_hash,
            },
            "last_reload": self.reloader.status(),
            "apis": rt.apis.len(),
            "clusters": rt.clusters.len(),
            "requests_in_flight": self.shared.metrics.in_flight.get(),
        })
    }

    fn apis(&self) -> serde_json::Value {
        let rt = self.runtime.load();
        let apis: Vec<_> = rt
            .apis
            .iter()
            .map(|a| json!({"name": a.name, "version": a.version, "title": a.title, "base_path": a.base_path, "hosts": a.hosts, "cluster": a.cluster.name}))
            .collect();
        json!({ "apis": apis })
    }

    fn clusters(&self) -> serde_json::Value {
        let rt = self.runtime.load();
        let clusters: Vec<_> = rt
            .clusters
            .iter()
            .map(|c| {
                let ups: Vec<_> = c
                    .peers
                    .iter()
                    .map(|p| {
                        let mut v = p.health.snapshot();
                        v["addr"] = json!(p.label);
                        v["weight"] = json!(p.weight);
                        v
                    })
                    .collect();
                json!({"name": c.name, "active_checks": c.health.is_some(), "upstreams": ups})
            })
            .collect();
        json!({ "clusters": clusters, "time": humantime::format_rfc3339_seconds(SystemTime::now()).to_string() })
    }
}

fn json_response(status: u16, v: &serde_json::Value) -> Response<Vec<u8>> {
    Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(serde_json::to_vec_pretty(v).unwrap_or_default())
        .unwrap_or_default()
}

fn problem(status: u16, detail: &str) -> Response<Vec<u8>> {
    let title = StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("Error");
    let body = json!({"type": "about:blank", "title": title, "status": status, "detail": detail});
    Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "application/problem+json")
        .body(serde_json::to_vec(&body).unwrap_or_default())
        .unwrap_or_default()
}

/// Compare without an early exit, so response time does not reveal how much of a token matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
