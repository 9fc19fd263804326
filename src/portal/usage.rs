//! `/usage`: one app's calls, errors and latency per API — per hour for the last 24 hours and
//! per day for 30 days — from the analytics rollups of its consumer; its plan's remaining
//! quota; and notices for deprecated APIs it still calls.

use super::chart;
use super::extract::SignedIn;
use super::layout::Nav;
use super::page::{render, store, PageError};
use super::PortalState;
use crate::limits::Kind;
use crate::store::analytics::{Rollup, RollupFilter};
use crate::store::hist::Hist;
use crate::store::portal::App;
use axum::extract::{Query, State};
use axum::response::Response;
use maud::{html, Markup};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;

const HOUR: i64 = 3600;
const DAY: i64 = 86400;

#[derive(Deserialize, Default)]
pub struct Which {
    #[serde(default)]
    app: String,
}

/// Totals of one bucket.
#[derive(Default, Clone)]
struct Bucket {
    calls: i64,
    errors: i64,
    hist: Hist,
}

impl Bucket {
    fn add(&mut self, r: &Rollup) {
        self.calls += r.count;
        self.errors += r.errors;
        self.hist.merge(&r.hist);
    }
}

/// Per API (name, version): buckets by start time.
type Series = BTreeMap<(String, String), BTreeMap<i64, Bucket>>;

struct Usage {
    hourly: Series,
    daily: Series,
    /// Operations called in the window, per API.
    operations: BTreeMap<(String, String), Vec<String>>,
}

async fn usage_of(st: &PortalState, app: &App, now: i64) -> Result<Usage, PageError> {
    let db = store(st).await?;
    let f = RollupFilter {
        since: (now / DAY - 29) * DAY,
        until: now + 60,
        consumer: Some(app.consumer.clone()),
        ..RollupFilter::default()
    };
    let rows = db.run(move |db| async move { db.read_rollups(&f, true).await }).await?.unwrap_or_default();
    let mut u = Usage { hourly: Series::new(), daily: Series::new(), operations: BTreeMap::new() };
    let first_hour = (now / HOUR - 23) * HOUR;
    for (k, r) in &rows {
        let api = (k.api.clone(), k.version.clone());
        u.daily.entry(api.clone()).or_default().entry(k.start / DAY * DAY).or_default().add(r);
        if k.start >= first_hour {
            u.hourly.entry(api.clone()).or_default().entry(k.start / HOUR * HOUR).or_default().add(r);
        }
        let ops = u.operations.entry(api).or_default();
        if !ops.contains(&k.operation) {
            ops.push(k.operation.clone());
        }
    }
    Ok(u)
}

fn stamp(t: i64, hourly: bool) -> String {
    let s = crate::store::rfc3339(t * 1000);
    if hourly {
        s[11..16].to_string()
    } else {
        s[..10].to_string()
    }
}

/// Every bucket of the window, zero where there were no calls.
fn filled(series: Option<&BTreeMap<i64, Bucket>>, first: i64, step: i64, n: i64) -> Vec<(i64, Bucket)> {
    (0..n).map(|i| first + i * step).map(|t| (t, series.and_then(|s| s.get(&t)).cloned().unwrap_or_default())).collect()
}

fn ms(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.0} ms")).unwrap_or_else(|| "–".into())
}

fn section(id: &str, caption: &str, rows: &[(i64, Bucket)], hourly: bool) -> Markup {
    let bars: Vec<(String, i64, i64)> = rows.iter().map(|(t, b)| (stamp(*t, hourly), b.calls, b.errors)).collect();
    html! {
        figure {
            (chart::bars(id, caption, &bars))
            figcaption { (caption) }
        }
        details {
            summary { "Numbers: " (caption) }
            table class="usage" {
                thead { tr { th scope="col" { @if hourly { "Hour (UTC)" } @else { "Day (UTC)" } } th scope="col" { "Calls" } th scope="col" { "Errors" } th scope="col" { "p50" } th scope="col" { "p95" } } }
                tbody {
                    @for (t, b) in rows.iter().filter(|(_, b)| b.calls > 0) {
                        tr { th scope="row" { (stamp(*t, hourly)) } td { (b.calls) } td { (b.errors) } td { (ms(b.hist.quantile(0.5))) } td { (ms(b.hist.quantile(0.95))) } }
                    }
                }
            }
        }
    }
}

/// The plan's quota and what is left of it (from this process's limiter when limits are local).
fn quota(st: &PortalState, plan: Option<&str>, consumer: &str) -> Markup {
    let Some(plan) = plan else { return html! { p id="quota" { "No plan: the API's own limits apply." } } };
    let cfg = st.reloader.plans().into_iter().find(|p| p.name == plan);
    let Some(q) = cfg.as_ref().and_then(|p| p.quota) else {
        return html! { p id="quota" { "Plan " strong { (plan) } ": no quota." } };
    };
    let rt = st.runtime.load();
    let local = matches!(*rt.limits, crate::limits::Backend::Local);
    let unix = crate::store::now_ms() as u64 / 1000;
    let remaining = rt.plans.by_name.get(plan).filter(|_| local).and_then(|&i| {
        rt.plans.list[i].policies.iter().find_map(|p| match p.kind {
            Kind::Quota(rule) => Some(rule.remaining(&st.shared.limits.cell(p.id, consumer.as_bytes()).state, unix)),
            Kind::Rate(_) => None,
        })
    });
    let window = format!("{:?}", q.window).to_lowercase();
    html! {
        p id="quota" {
            "Plan " strong { (plan) } ": " (q.n) " calls per " (window) ". "
            @if let Some(r) = remaining { "Remaining now: " strong id="quota-remaining" { (r) } "." }
            @else { "(The remaining count is kept in the shared limiter.)" }
        }
    }
}

fn notices(st: &PortalState, u: &Usage) -> Markup {
    let rt = st.runtime.load();
    let mut out: Vec<(String, String)> = Vec::new();
    for ((name, version), ops) in &u.operations {
        let Some(api) = rt.apis.iter().find(|a| &a.name == name && &a.version == version) else { continue };
        let word = super::catalog::status_word(api);
        let sunset = api.sunset.map(|s| humantime::format_rfc3339_seconds(s.0).to_string()[..10].to_string());
        let what = format!("{} {}", super::catalog::title(api), api.version);
        if word != "active" {
            let when = sunset.clone().map(|s| format!(" Its sunset is {s}.")).unwrap_or_default();
            out.push((what.clone(), format!("is {word} and this app still calls it.{when}")));
        }
        for op in ops.iter().filter(|o| api.deprecated_operations.contains(o)) {
            out.push((what.clone(), format!("operation {op} is deprecated and this app still calls it.")));
        }
    }
    html! {
        @if !out.is_empty() {
            section class="notices" aria-label="Deprecation notices" id="deprecations" {
                h2 { "Deprecated APIs you call" }
                ul { @for (what, text) in &out { li class="notice" { strong { (what) } " " (text) } } }
            }
        }
    }
}

pub async fn page(
    State(st): State<Arc<PortalState>>,
    Query(which): Query<Which>,
    SignedIn(s): SignedIn,
) -> Result<Response, PageError> {
    let body = async {
        let db = store(&st).await?;
        let account = s.account_id.clone();
        let apps = db.run(move |db| async move { db.apps_of(&account).await }).await?;
        let Some(app) = apps.iter().find(|a| a.id == which.app).or(apps.first()).cloned() else {
            return Ok(html! { h1 { "Usage" } p { "Create an app first: " a href="/apps" { "your apps" } "." } });
        };
        let now = crate::store::now_ms() / 1000;
        let u = usage_of(&st, &app, now).await?;
        let consumer = app.consumer.clone();
        let plan = db.run(move |db| async move { db.get_consumer(&consumer).await }).await?.plan;
        let (first_hour, first_day) = ((now / HOUR - 23) * HOUR, (now / DAY - 29) * DAY);
        Ok::<_, PageError>(html! {
            h1 { "Usage of " (app.name) }
            form method="get" action="/usage" class="filter" {
                label for="usage-app" { "App" }
                select id="usage-app" name="app" { @for a in &apps { option value=(a.id) selected[a.id == app.id] { (a.name) } } }
                button type="submit" { "Show" }
            }
            (quota(&st, plan.as_deref(), &app.consumer))
            (notices(&st, &u))
            @if u.daily.is_empty() { p id="no-usage" { "No calls in the last 30 days." } }
            @for (i, (api, days)) in u.daily.iter().enumerate() {
                section class="usage-api" {
                    h2 { (api.0) " " span class="version" { (api.1) } }
                    @let total: i64 = days.values().map(|b| b.calls).sum();
                    p { strong class="calls-total" { (total) } " calls in 30 days." }
                    (section(&format!("hours-{i}"), "Calls per hour, last 24 hours", &filled(u.hourly.get(api), first_hour, HOUR, 24), true))
                    (section(&format!("days-{i}"), "Calls per day, last 30 days", &filled(Some(days), first_day, DAY, 30), false))
                }
            }
        })
    }
    .await?;
    Ok(render(&st, &Nav::of(Some(&s), "usage"), "Usage", body))
}
