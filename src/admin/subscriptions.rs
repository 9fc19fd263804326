//! Portal subscriptions an operator decides on (`[[plan]] approval = true`):
//! `GET /subscriptions?status=pending`, `POST /subscriptions/{id}/approve|reject`. Approving
//! sets the app consumer's plan; the live tables are reloaded before the answer.

use super::consumers::store;
use super::AdminState;
use crate::store::portal::Subscription;
use crate::store::rfc3339;
use crate::web::problem::Problem;
use axum::extract::{Path, Query, State};
use axum::Json;
use http::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

type St = State<Arc<AdminState>>;

const STATUSES: &[&str] = &["pending", "approved", "rejected"];

#[derive(Deserialize)]
pub struct Filter {
    status: Option<String>,
}

fn sub_json(s: &Subscription) -> Value {
    json!({
        "id": s.id, "app": s.app_id, "consumer": crate::store::portal::app_consumer(&s.app_id),
        "api": s.api, "version": s.version, "plan": s.plan, "status": s.status,
        "created_at": rfc3339(s.created_at), "decided_at": s.decided_at.map(rfc3339),
    })
}

pub async fn list(State(st): St, Query(f): Query<Filter>) -> Result<Json<Value>, Problem> {
    if let Some(s) = f.status.as_deref().filter(|s| !STATUSES.contains(s)) {
        return Err(Problem::new(StatusCode::BAD_REQUEST, format!("status {s:?}: one of {}", STATUSES.join(", "))));
    }
    let db = store(&st).await?;
    let rows = db.run(move |db| async move { db.list_subscriptions(f.status.as_deref(), 1000).await }).await?;
    let list: Vec<Value> = rows
        .iter()
        .map(|(s, app_name, email)| {
            let mut v = sub_json(s);
            v["app_name"] = json!(app_name);
            v["account"] = json!(email);
            v
        })
        .collect();
    Ok(Json(json!({ "subscriptions": list })))
}

async fn decide(st: &AdminState, id: String, status: &'static str) -> Result<Json<Value>, Problem> {
    let db = store(st).await?;
    let s = db.run(move |db| async move { db.decide_subscription(&id, status).await }).await?;
    let _ = st.shared.store.reload().await;
    Ok(Json(sub_json(&s)))
}

pub async fn approve(State(st): St, Path(id): Path<String>) -> Result<Json<Value>, Problem> {
    decide(&st, id, "approved").await
}

pub async fn reject(State(st): St, Path(id): Path<String>) -> Result<Json<Value>, Problem> {
    decide(&st, id, "rejected").await
}
