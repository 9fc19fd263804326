//! The admin routes' handlers. Each reads one `Runtime` snapshot.

use super::AdminState;
use crate::web::problem::{Problem, ProblemKind};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::header::CONTENT_TYPE;
use http::StatusCode;
use serde_json::{json, Value};
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

type St = State<Arc<AdminState>>;

/// The admin API's own description; `info.version` is filled in when served.
pub const OPENAPI: &str = include_str!("openapi.json");
pub const VERSION_PLACEHOLDER: &str = "\"version\": \"0.0.0\"";

pub async fn status(State(st): St) -> Json<Value> {
    let rt = st.runtime.load();
    let last = st.reloader.status();
    let stopping = st.shared.stopping.load(std::sync::atomic::Ordering::Acquire);
    Json(json!({
        "status": if stopping { "stopping" } else { "ok" },
        "version": env!("CARGO_PKG_VERSION"),
        "pid": std::process::id(),
        "uptime_seconds": st.started.elapsed().as_secs(),
        "config": {
            "file": rt.source.display().to_string(),
            "loaded_at": humantime::format_rfc3339_seconds(rt.loaded_at).to_string(),
            "hash": last.config_hash,
        },
        "last_reload": last,
        "apis": rt.apis.len(),
        "clusters": rt.clusters.len(),
        "requests_in_flight": st.shared.metrics.in_flight.get(),
        "limits": match &*rt.limits {
            crate::limits::Backend::Local => json!({ "backend": "local" }),
            crate::limits::Backend::Redis(r) => json!({
                "backend": "redis",
                "redis": if r.conn.is_up() { "up" } else { "down" },
                "on_backend_error": r.on_error.as_str(),
            }),
        },
        "store": st.shared.store.health(),
    }))
}

pub async fn metrics(State(st): St) -> Response {
    ([(CONTENT_TYPE, "text/plain; version=0.0.4")], st.shared.metrics.render()).into_response()
}

pub async fn apis(State(st): St) -> Json<Value> {
    let rt = st.runtime.load();
    let apis: Vec<_> = rt
        .apis
        .iter()
        .map(|a| {
            json!({
                "name": a.name, "version": a.version, "title": a.title, "base_path": a.base_path,
                "hosts": a.hosts, "cluster": a.cluster.name,
            })
        })
        .collect();
    Json(json!({ "apis": apis }))
}

pub async fn clusters(State(st): St) -> Json<Value> {
    let rt = st.runtime.load();
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
    let time = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    Json(json!({ "clusters": clusters, "time": time }))
}

pub async fn reload(State(st): St) -> Response {
    // In the seconds after a binary upgrade both processes accept on the admin socket; a reload
    // applied to the outgoing one would be lost, so it asks the caller to retry (reaching the
    // new process) instead.
    if st.shared.stopping.load(std::sync::atomic::Ordering::Acquire) {
        let mut res = Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "this process is stopping or handing over to a new one; retry to reach the new process",
        )
        .kind(ProblemKind::Stopping)
        .into_response();
        res.headers_mut().insert(http::header::RETRY_AFTER, http::HeaderValue::from_static("1"));
        return res;
    }
    match st.reloader.reload().await {
        Ok(status) => Json(json!({ "reload": status })).into_response(),
        Err(status) => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "the config file is invalid; the running config keeps serving",
        )
        .kind(ProblemKind::InvalidConfig)
        .errors(status.errors)
        .into_response(),
    }
}

pub async fn openapi() -> Response {
    // Text replacement keeps the document as written (a serde_json round trip sorts its keys).
    static DOC: OnceLock<String> = OnceLock::new();
    let doc = DOC.get_or_init(|| {
        OPENAPI.replacen(VERSION_PLACEHOLDER, &format!("\"version\": \"{}\"", env!("CARGO_PKG_VERSION")), 1)
    });
    ([(CONTENT_TYPE, "application/json")], doc.clone()).into_response()
}

pub async fn not_found() -> Problem {
    Problem::new(StatusCode::NOT_FOUND, "no such admin endpoint; see /openapi.json")
}
