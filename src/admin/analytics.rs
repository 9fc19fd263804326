//! `GET /analytics` and `GET /analytics/top`: the store's minute rollups of every node, merged
//! into minute, hour or day buckets, as JSON or (with `Accept: text/csv`) CSV.

use super::AdminState;
use crate::store::analytics::{Rollup, RollupFilter, RollupKey};
use crate::store::{now_ms, rfc3339};
use crate::web::problem::Problem;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

type St = State<Arc<AdminState>>;

const COLUMNS: &[&str] = &[
    "start",
    "api",
    "version",
    "operation",
    "consumer",
    "status_class",
    "count",
    "errors",
    "bytes_in",
    "bytes_out",
    "p50_ms",
    "p95_ms",
    "p99_ms",
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    api: Option<String>,
    version: Option<String>,
    consumer: Option<String>,
    since: Option<String>,
    until: Option<String>,
    bucket: Option<String>,
    limit: Option<usize>,
}

fn bad(m: impl Into<String>) -> Problem {
    Problem::new(StatusCode::BAD_REQUEST, m.into())
}

fn time_param(name: &str, v: &Option<String>, default: i64) -> Result<i64, Problem> {
    match v {
        None => Ok(default),
        Some(t) => humantime::parse_rfc3339_weak(t)
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_secs() as i64)
            .ok_or_else(|| bad(format!("{name}: expected an RFC 3339 time such as 2030-01-01T00:00:00Z"))),
    }
}

/// The filter (default: the last hour, up to now) and the bucket width in seconds.
fn filter(p: &Params) -> Result<(RollupFilter, i64), Problem> {
    let now = now_ms() / 1000;
    let until = time_param("until", &p.until, now + 60)?;
    let since = time_param("since", &p.since, until - 3600)?;
    if since >= until {
        return Err(bad("since must be before until"));
    }
    let width = match p.bucket.as_deref().unwrap_or("minute") {
        "minute" => 60,
        "hour" => 3600,
        "day" => 86400,
        _ => return Err(bad("bucket: minute, hour or day")),
    };
    // Hour and day buckets start on their boundary (UTC), and so does the range.
    let since = since.div_euclid(width) * width;
    let f = RollupFilter { since, until, api: p.api.clone(), version: p.version.clone(), consumer: p.consumer.clone() };
    Ok((f, width))
}

/// Rollups from the store; `hourly` reads the rolled-up hours where there are some.
async fn read(st: &AdminState, f: RollupFilter, hourly: bool) -> Result<Vec<(RollupKey, Rollup)>, Problem> {
    let store = super::consumers::store(st).await?;
    match store.run(move |s| async move { s.read_rollups(&f, hourly).await }).await? {
        Some(rows) => Ok(rows),
        None => Err(Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "too many rows; narrow the time range or filter")),
    }
}

fn wants_csv(h: &HeaderMap) -> bool {
    h.get(http::header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("text/csv"))
}

fn row_json(k: &RollupKey, r: &Rollup) -> Value {
    json!({
        "start": rfc3339(k.start * 1000), "api": k.api, "version": k.version, "operation": k.operation,
        "consumer": (!k.consumer.is_empty()).then_some(&k.consumer), "status_class": k.status_class,
        "count": r.count, "errors": r.errors, "bytes_in": r.bytes_in, "bytes_out": r.bytes_out,
        "p50_ms": r.hist.quantile(0.5), "p95_ms": r.hist.quantile(0.95), "p99_ms": r.hist.quantile(0.99),
    })
}

/// One CSV field (RFC 4180): quoted when it holds a comma, quote or line break. A leading
/// `=`, `+`, `-` or `@` is prefixed with `'` so a spreadsheet does not run it as a formula.
fn csv_field(v: &Value) -> String {
    let s = match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let s = if v.is_string() && s.starts_with(['=', '+', '-', '@']) { format!("'{s}") } else { s };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

pub async fn analytics(State(st): St, Query(p): Query<Params>, headers: HeaderMap) -> Result<Response, Problem> {
    let (f, width) = filter(&p)?;
    let rows = read(&st, f, width >= 3600).await?;
    let mut merged: BTreeMap<RollupKey, Rollup> = BTreeMap::new();
    for (mut k, r) in rows {
        k.start = k.start.div_euclid(width) * width;
        merged.entry(k).or_default().merge(&r);
    }
    let buckets: Vec<Value> = merged.iter().map(|(k, r)| row_json(k, r)).collect();
    if !wants_csv(&headers) {
        return Ok(Json(json!({ "buckets": buckets })).into_response());
    }
    let mut out = COLUMNS.join(",");
    out.push_str("\r\n");
    for b in &buckets {
        let line: Vec<String> = COLUMNS.iter().map(|c| csv_field(&b[*c])).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    Ok(([(http::header::CONTENT_TYPE, "text/csv; charset=utf-8")], out).into_response())
}

/// The consumers with the most requests and the operations with the most errors (4xx/5xx).
pub async fn top(State(st): St, Query(p): Query<Params>) -> Result<Json<Value>, Problem> {
    let limit = p.limit.unwrap_or(10);
    if !(1..=1000).contains(&limit) {
        return Err(bad("limit is 1-1000"));
    }
    // Whole hours: rolled-up hours serve long ranges.
    let (mut f, _) = filter(&p)?;
    f.since = f.since.div_euclid(3600) * 3600;
    let rows = read(&st, f, true).await?;
    let mut consumers: HashMap<&str, (i64, i64)> = HashMap::new();
    let mut errors: HashMap<(&str, &str, &str, &str), i64> = HashMap::new();
    for (k, r) in &rows {
        let c = consumers.entry(&k.consumer).or_default();
        c.0 += r.count;
        c.1 += r.errors;
        if r.errors > 0 {
            *errors.entry((&k.api, &k.version, &k.operation, &k.status_class)).or_default() += r.errors;
        }
    }
    let mut consumers: Vec<_> = consumers.into_iter().collect();
    consumers.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then(a.0.cmp(b.0)));
    let mut errors: Vec<_> = errors.into_iter().collect();
    errors.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let consumers: Vec<Value> = consumers
        .iter()
        .take(limit)
        .map(|(c, (n, e))| json!({"consumer": (!c.is_empty()).then_some(c), "count": n, "errors": e}))
        .collect();
    let errors: Vec<Value> = errors
        .iter()
        .take(limit)
        .map(|((a, v, o, s), e)| json!({"api": a, "version": v, "operation": o, "status_class": s, "errors": e}))
        .collect();
    Ok(Json(json!({ "consumers": consumers, "errors": errors })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_defused() {
        assert_eq!(csv_field(&json!("plain")), "plain");
        assert_eq!(csv_field(&json!("a,b")), "\"a,b\"");
        assert_eq!(csv_field(&json!("say \"hi\"")), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field(&json!("=cmd()")), "'=cmd()");
        assert_eq!(csv_field(&json!(-3)), "-3");
        assert_eq!(csv_field(&Value::Null), "");
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageParams {
    since: Option<String>,
}

/// `GET /apis/{name}/{version}/deprecated-usage`: who still calls what is deprecated — the whole
/// version when its status is `deprecated` or `retired`, else the operations its spec marks
/// `deprecated: true` (by route; analytics keep no method) — with counts and the last minute
/// seen since `since` (default: 30 days ago), so they can be warned before the sunset.
pub async fn deprecated_usage(
    State(st): St,
    axum::extract::Path((name, version)): axum::extract::Path<(String, String)>,
    Query(p): Query<UsageParams>,
) -> Result<Response, Problem> {
    let rt = st.runtime.load();
    let Some(api) = rt.apis.iter().find(|a| a.name == name && a.version == version).cloned() else {
        return Err(Problem::new(StatusCode::NOT_FOUND, format!("no API {name:?} version {version:?}")));
    };
    drop(rt);
    let whole = api.status != crate::config::ApiStatus::Active;
    let now = now_ms() / 1000;
    let since = time_param("since", &p.since, now - 30 * 86400)?;
    let f = RollupFilter {
        since,
        until: now + 60,
        api: Some(name.clone()),
        version: Some(version.clone()),
        consumer: None,
    };
    let rows = read(&st, f, true).await?;
    // (consumer, operation) -> (count, last minute seen)
    let mut usage: BTreeMap<(String, String), (u64, i64)> = BTreeMap::new();
    for (k, r) in rows.iter().filter(|(k, _)| whole || api.deprecated_operations.contains(&k.operation)) {
        let e = usage.entry((k.consumer.clone(), k.operation.clone())).or_default();
        e.0 += r.count as u64;
        e.1 = e.1.max(k.start);
    }
    let mut list: Vec<Value> = usage
        .into_iter()
        .map(|((consumer, operation), (count, last))| {
            json!({
                "consumer": (!consumer.is_empty()).then_some(consumer), "operation": operation,
                "count": count, "last_seen": rfc3339(last * 1000),
            })
        })
        .collect();
    list.sort_by(|a, b| b["count"].as_u64().cmp(&a["count"].as_u64()));
    Ok(Json(json!({
        "api": name, "version": version,
        "status": match api.status {
            crate::config::ApiStatus::Active => "active",
            crate::config::ApiStatus::Deprecated => "deprecated",
            crate::config::ApiStatus::Retired => "retired",
        },
        "sunset": api.sunset.map(|s| rfc3339(s.unix() as i64 * 1000)),
        "deprecated": if whole { json!("all operations") } else { json!(api.deprecated_operations) },
        "since": rfc3339(since * 1000),
        "usage": list,
    }))
    .into_response())
}
