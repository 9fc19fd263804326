//! `/consumers/{name}/keys`: a store consumer's API keys. A new key's secret is in the answer
//! once (never cached); the store keeps its sha256. Keys of config consumers live in the file.

use super::consumers::{body, invalid, is_config_consumer, refresh, store, writable};
use super::AdminState;
use crate::store::consumers::KeyRow;
use crate::store::{keys, now_ms, rfc3339};
use crate::web::problem::Problem;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

type St = State<Arc<AdminState>>;

const MAX_LABEL: usize = 100;
const MAX_GRACE: Duration = Duration::from_secs(30 * 86400);
const DEFAULT_GRACE: Duration = Duration::from_secs(3600);

fn key_json(k: &KeyRow) -> Value {
    json!({
        "id": k.id, "prefix": k.prefix, "label": k.label, "created_at": rfc3339(k.created_at),
        "expires_at": k.expires_at.map(rfc3339),
    })
}

pub async fn list_keys(State(st): St, Path(name): Path<String>) -> Result<Json<Value>, Problem> {
    if is_config_consumer(&st, &name) {
        // The config holds only digests; there is nothing to show but that they are managed there.
        return Ok(Json(json!({ "keys": [], "read_only": true })));
    }
    let s = store(&st).await?;
    let rows = s.run(move |s| async move { s.list_keys(&name).await }).await?;
    Ok(Json(json!({ "keys": rows.iter().map(key_json).collect::<Vec<_>>() })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKey {
    label: Option<String>,
    expires_at: Option<String>,
}

fn check_label(l: &Option<String>) -> Result<(), Problem> {
    match l {
        Some(l) if l.chars().count() > MAX_LABEL || l.chars().any(char::is_control) => {
            Err(invalid(format!("label: at most {MAX_LABEL} characters, no control characters")))
        }
        _ => Ok(()),
    }
}

/// The shared key maker's only failure (no random bytes), as this API says it.
fn no_key(e: getrandom::Error) -> Problem {
    log::error!("admin: no random bytes for a key: {e}");
    Problem::new(StatusCode::SERVICE_UNAVAILABLE, "cannot make a key now; retry later")
}

fn issued(row: &KeyRow, secret: &str) -> Value {
    let mut v = key_json(row);
    v["key"] = json!(secret);
    v
}

pub async fn create_key(State(st): St, Path(name): Path<String>, b: Bytes) -> Result<Response, Problem> {
    writable(&st, &name)?;
    let n: NewKey = body(&b)?;
    check_label(&n.label)?;
    let expires_at = match &n.expires_at {
        None => None,
        Some(t) => {
            let t = humantime::parse_rfc3339_weak(t)
                .map_err(|_| invalid("expires_at: expected an RFC 3339 time such as 2030-01-01T00:00:00Z"))?;
            let ms = t.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
            if ms <= now_ms() {
                return Err(invalid("expires_at is in the past"));
            }
            Some(ms)
        }
    };
    let (row, k) = keys::issue(&name, n.label, expires_at).map_err(no_key)?;
    let s = store(&st).await?;
    let stored = row.clone();
    let hash = k.hash.clone();
    s.run(move |s| async move { s.add_key(&stored, &hash).await }).await?;
    refresh(&st).await;
    Ok((StatusCode::CREATED, no_store(), Json(issued(&row, &k.secret))).into_response())
}

/// A shown secret must not be cached anywhere.
fn no_store() -> [(http::HeaderName, &'static str); 1] {
    [(http::header::CACHE_CONTROL, "no-store")]
}

pub async fn delete_key(State(st): St, Path((name, id)): Path<(String, String)>) -> Result<StatusCode, Problem> {
    writable(&st, &name)?;
    let s = store(&st).await?;
    s.run(move |s| async move { s.delete_key(&name, &id).await }).await?;
    refresh(&st).await;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Rotate {
    grace: Option<String>,
    label: Option<String>,
}

pub async fn rotate_key(
    State(st): St,
    Path((name, id)): Path<(String, String)>,
    b: Bytes,
) -> Result<Response, Problem> {
    writable(&st, &name)?;
    let r: Rotate = body(&b)?;
    check_label(&r.label)?;
    let grace = match &r.grace {
        None => DEFAULT_GRACE,
        Some(g) => humantime::parse_duration(g).map_err(|_| invalid("grace: expected a duration such as \"10m\""))?,
    };
    if grace > MAX_GRACE {
        return Err(invalid("grace: at most 30d"));
    }
    let (row, k) = keys::issue(&name, r.label, None).map_err(no_key)?;
    let s = store(&st).await?;
    let (stored, hash) = (row.clone(), k.hash.clone());
    let until = now_ms() + grace.as_millis() as i64;
    let old_until = s.run(move |s| async move { s.rotate_key(&id, &stored, &hash, until).await }).await?;
    refresh(&st).await;
    let mut v = issued(&row, &k.secret);
    v["previous_key_expires_at"] = json!(rfc3339(old_until));
    Ok((StatusCode::CREATED, no_store(), Json(v)).into_response())
}
