//! `/consumers`; their keys are `keys.rs`. Writes go to the store, then
//! the live tables are reloaded before the answer, so a change holds on this node as soon as it
//! is answered. Consumers from the config file are listed read-only.

use super::AdminState;
use crate::store::consumers::{ConsumerPatch, ConsumerRow};
use crate::store::{rfc3339, Store, StoreError};
use crate::web::problem::{Problem, ProblemKind};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::StatusCode;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

type St = State<Arc<AdminState>>;

const MAX_GROUPS: usize = 32;
const MAX_METADATA: usize = 4096;

impl From<StoreError> for Problem {
    fn from(e: StoreError) -> Problem {
        match e {
            StoreError::NotFound(m) => Problem::new(StatusCode::NOT_FOUND, m),
            StoreError::Conflict(m) => Problem::new(StatusCode::CONFLICT, m).kind(ProblemKind::Conflict),
            other => {
                log::warn!("admin: store error: {other}");
                Problem::new(StatusCode::SERVICE_UNAVAILABLE, "the store is unavailable; retry later")
                    .kind(ProblemKind::StoreUnavailable)
            }
        }
    }
}

/// The open store; just after start, wait a moment for it.
pub(super) async fn store(st: &AdminState) -> Result<Store, Problem> {
    st.shared.store.wait_open(Duration::from_secs(3)).await.ok_or_else(|| {
        Problem::new(StatusCode::SERVICE_UNAVAILABLE, "the store is not open yet; retry later")
            .kind(ProblemKind::StoreUnavailable)
    })
}

/// After a write: reload this node's tables (a failure is reported in `/status`; the periodic
/// resync retries).
pub(super) async fn refresh(st: &AdminState) {
    let _ = st.shared.store.reload().await;
}

/// A JSON body; an empty one is `{}`. Unknown members are refused.
pub(super) fn body<T: DeserializeOwned>(b: &Bytes) -> Result<T, Problem> {
    let b: &[u8] = if b.iter().all(u8::is_ascii_whitespace) { b"{}" } else { b };
    serde_json::from_slice(b)
        .map_err(|e| Problem::new(StatusCode::UNPROCESSABLE_ENTITY, format!("invalid request body: {e}")))
}

pub(super) fn invalid(m: impl Into<String>) -> Problem {
    Problem::new(StatusCode::UNPROCESSABLE_ENTITY, m.into())
}

/// A consumer this API may change: not one of the config file's (those are read-only here).
pub(super) fn writable(st: &AdminState, name: &str) -> Result<(), Problem> {
    if is_config_consumer(st, name) {
        let detail = format!("consumer {name:?} is defined in the config file and is read-only here");
        return Err(Problem::new(StatusCode::CONFLICT, detail).kind(ProblemKind::ReadOnly));
    }
    Ok(())
}

fn check_name(what: &str, n: &str) -> Result<(), Problem> {
    if crate::config::name_valid(n) {
        Ok(())
    } else {
        Err(invalid(format!("{what} {n:?}: use 1-64 letters, digits, '-', '_' or '.'")))
    }
}

fn check_groups(g: &[String]) -> Result<(), Problem> {
    if g.len() > MAX_GROUPS {
        return Err(invalid(format!("at most {MAX_GROUPS} groups")));
    }
    g.iter().try_for_each(|g| check_name("group", g))
}

fn check_plan(st: &AdminState, plan: &str) -> Result<(), Problem> {
    check_name("plan", plan)?;
    if st.reloader.has_plan(plan) {
        Ok(())
    } else {
        Err(invalid(format!("no [[plan]] named {plan:?} in the config")))
    }
}

fn check_metadata(m: &Value) -> Result<(), Problem> {
    if !m.is_object() {
        return Err(invalid("metadata must be a JSON object"));
    }
    if m.to_string().len() > MAX_METADATA {
        return Err(invalid(format!("metadata is larger than {MAX_METADATA} bytes")));
    }
    Ok(())
}

pub(super) fn is_config_consumer(st: &AdminState, name: &str) -> bool {
    st.runtime.load().auth.consumers.by_name.contains_key(name)
}

fn consumer_json(c: &ConsumerRow) -> Value {
    json!({
        "name": c.name, "plan": c.plan, "groups": c.groups, "metadata": c.metadata, "source": "store",
        "read_only": false, "created_at": rfc3339(c.created_at), "updated_at": rfc3339(c.updated_at),
    })
}

fn config_consumer_json(c: &crate::consumers::Consumer) -> Value {
    json!({
        "name": c.name, "plan": c.plan, "groups": c.groups, "metadata": {}, "source": "config", "read_only": true,
    })
}

#[derive(Deserialize)]
pub struct Page {
    limit: Option<i64>,
    offset: Option<i64>,
}

pub async fn list(State(st): St, Query(p): Query<Page>) -> Result<Json<Value>, Problem> {
    let limit = p.limit.unwrap_or(100);
    let offset = p.offset.unwrap_or(0);
    if !(1..=1000).contains(&limit) || offset < 0 {
        return Err(Problem::new(StatusCode::BAD_REQUEST, "limit is 1-1000 and offset at least 0"));
    }
    let s = store(&st).await?;
    let rows = s.run(move |s| async move { s.list_consumers(limit, offset).await }).await?;
    // The config's consumers come first, on the first page only.
    let mut out: Vec<Value> = Vec::new();
    if offset == 0 {
        let rt = st.runtime.load();
        let mut from_config: Vec<_> = rt.auth.consumers.by_name.values().collect();
        from_config.sort_by(|a, b| a.name.cmp(&b.name));
        out.extend(from_config.into_iter().map(|c| config_consumer_json(c)));
    }
    out.extend(rows.iter().map(consumer_json));
    Ok(Json(json!({ "consumers": out })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewConsumer {
    name: String,
    plan: Option<String>,
    #[serde(default)]
    groups: Vec<String>,
    metadata: Option<Value>,
}

pub async fn create(State(st): St, b: Bytes) -> Result<Response, Problem> {
    let n: NewConsumer = body(&b)?;
    check_name("name", &n.name)?;
    check_groups(&n.groups)?;
    if let Some(p) = &n.plan {
        check_plan(&st, p)?;
    }
    let metadata = n.metadata.unwrap_or_else(|| json!({}));
    check_metadata(&metadata)?;
    if is_config_consumer(&st, &n.name) {
        return Err(Problem::new(StatusCode::CONFLICT, format!("consumer {:?} is defined in the config file", n.name))
            .kind(ProblemKind::Conflict));
    }
    let row = ConsumerRow { name: n.name, plan: n.plan, groups: n.groups, metadata, created_at: 0, updated_at: 0 };
    let s = store(&st).await?;
    let name = row.name.clone();
    let stored = s
        .run(move |s| async move {
            s.create_consumer(&row).await?;
            s.get_consumer(&row.name).await
        })
        .await?;
    refresh(&st).await;
    let location = format!("/consumers/{name}");
    Ok((StatusCode::CREATED, [(http::header::LOCATION, location)], Json(consumer_json(&stored))).into_response())
}

pub async fn get(State(st): St, Path(name): Path<String>) -> Result<Json<Value>, Problem> {
    if let Some(c) = st.runtime.load().auth.consumers.by_name.get(&name) {
        return Ok(Json(config_consumer_json(c)));
    }
    let s = store(&st).await?;
    let row = s.run(move |s| async move { s.get_consumer(&name).await }).await?;
    Ok(Json(consumer_json(&row)))
}

/// `null` for a member that is present and null, absent members stay `None` (serde default).
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Patch {
    #[serde(default, deserialize_with = "present")]
    plan: Option<Option<String>>,
    groups: Option<Vec<String>>,
    metadata: Option<Value>,
}

pub async fn patch(State(st): St, Path(name): Path<String>, b: Bytes) -> Result<Json<Value>, Problem> {
    writable(&st, &name)?;
    let p: Patch = body(&b)?;
    if let Some(Some(plan)) = &p.plan {
        check_plan(&st, plan)?;
    }
    if let Some(g) = &p.groups {
        check_groups(g)?;
    }
    if let Some(m) = &p.metadata {
        check_metadata(m)?;
    }
    let patch = ConsumerPatch { plan: p.plan, groups: p.groups, metadata: p.metadata };
    let s = store(&st).await?;
    let row = s.run(move |s| async move { s.update_consumer(&name, patch).await }).await?;
    refresh(&st).await;
    Ok(Json(consumer_json(&row)))
}

pub async fn delete(State(st): St, Path(name): Path<String>) -> Result<StatusCode, Problem> {
    writable(&st, &name)?;
    let s = store(&st).await?;
    s.run(move |s| async move { s.delete_consumer(&name).await }).await?;
    refresh(&st).await;
    Ok(StatusCode::NO_CONTENT)
}
