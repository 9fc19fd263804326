//! Usage analytics through the real binary: the counts `/analytics` reports equal the requests
//! sent (by consumer and status class), the CSV has the same rows, `/analytics/top` ranks them,
//! on SQLite and on PostgreSQL.

mod common;

use common::postgres::Postgres;
use common::{eventually, simple_config, Gateway, Upstream};
use gatehouse::store::analytics::{Rollup, RollupFilter, RollupKey};
use gatehouse::store::Store;
use serde_json::Value;

fn config(up: &Upstream, store: &str) -> String {
    format!(
        "{}\n[[api.route]]\npath = \"/open\"\nauth = []\n\n[[api.route]]\npath = \"/\"\n\n[store]\n{store}\n\n[analytics]\nflush_interval = \"200ms\"\n",
        simple_config(&[up], "", "name = \"shop\"\nversion = \"v2\"\nauth = [\"api_key\"]").replace("name = \"a\"\n", ""),
    )
}

async fn json(g: &Gateway, path: &str) -> Value {
    let r = g.admin_get(path).await;
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    r.json()
}

/// (consumer, status_class) → count, summed over every bucket.
fn counts(doc: &Value) -> std::collections::BTreeMap<(String, String), u64> {
    let mut out = std::collections::BTreeMap::new();
    for b in doc["buckets"].as_array().unwrap() {
        let c = b["consumer"].as_str().unwrap_or("-").to_string();
        *out.entry((c, b["status_class"].as_str().unwrap().to_string())).or_default() += b["count"].as_u64().unwrap();
    }
    out
}

async fn counts_match_requests(store: &str) {
    let up = Upstream::start("up").await;
    let g = Gateway::start(&config(&up, store)).await;
    common::eventually(20, "store ok", || async { json(&g, "/status").await["store"]["state"] == "ok" }).await;
    let r = g.admin_send("POST", "/consumers", &[], br#"{"name":"alice"}"#).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let key = g.admin_post("/consumers/alice/keys").await.json()["key"].as_str().unwrap().to_string();
    for _ in 0..7 {
        assert_eq!(g.send("POST", "/orders", &[("X-API-Key", &key)], b"{\"n\":1}").await.status, 200);
    }
    for _ in 0..4 {
        assert_eq!(g.get("/orders").await.status, 401);
    }
    assert_eq!(g.send("GET", "/orders", &[("X-API-Key", "gh_wrong")], b"").await.status, 401);
    for _ in 0..3 {
        assert_eq!(g.get("/open").await.status, 200);
    }

    let want: std::collections::BTreeMap<(String, String), u64> = [
        (("-".to_string(), "2xx".to_string()), 3),
        (("-".to_string(), "4xx".to_string()), 5),
        (("alice".to_string(), "2xx".to_string()), 7),
    ]
    .into_iter()
    .collect();
    eventually(10, "analytics counts equal the requests sent", || async {
        counts(&json(&g, "/analytics").await) == want
    })
    .await;
    let doc = json(&g, "/analytics?bucket=hour").await;
    assert_eq!(counts(&doc), want);
    let alice = doc["buckets"].as_array().unwrap().iter().find(|b| b["consumer"] == "alice").unwrap();
    assert_eq!(alice["api"], "shop");
    assert_eq!(alice["version"], "v2");
    assert_eq!(alice["operation"], "/");
    assert_eq!(alice["errors"], 0);
    assert_eq!(alice["bytes_in"], 7 * 7);
    assert!(alice["bytes_out"].as_u64().unwrap() > 0);
    assert!(alice["p50_ms"].as_f64().unwrap() <= alice["p99_ms"].as_f64().unwrap());
    let anon_4xx = doc["buckets"].as_array().unwrap().iter().find(|b| b["status_class"] == "4xx").unwrap();
    assert_eq!(anon_4xx["errors"], 5);
    assert!(anon_4xx["start"].as_str().unwrap().ends_with(":00:00Z"), "{anon_4xx}");

    // Filters.
    assert_eq!(counts(&json(&g, "/analytics?consumer=alice").await).len(), 1);
    assert!(json(&g, "/analytics?api=other").await["buckets"].as_array().unwrap().is_empty());
    assert!(json(&g, "/analytics?since=2000-01-01T00:00:00Z&until=2000-01-02T00:00:00Z").await["buckets"]
        .as_array()
        .unwrap()
        .is_empty());
    for bad in [
        "/analytics?bucket=week",
        "/analytics?since=yesterday",
        "/analytics?since=2001-01-01T00:00:00Z&until=2000-01-01T00:00:00Z",
        "/analytics?x=1",
    ] {
        let r = g.admin_get(bad).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
    }

    // CSV: the same rows and columns.
    let r = g.admin_send("GET", "/analytics?bucket=day", &[("Accept", "text/csv")], b"").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/csv; charset=utf-8"));
    let text = r.text();
    let mut lines = text.split("\r\n").filter(|l| !l.is_empty());
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(
        header,
        [
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
            "p99_ms"
        ]
    );
    let mut csv_counts = std::collections::BTreeMap::new();
    for l in lines {
        let f: Vec<&str> = l.split(',').collect();
        assert_eq!(f.len(), header.len(), "{l}");
        let c = if f[4].is_empty() { "-" } else { f[4] };
        *csv_counts.entry((c.to_string(), f[5].to_string())).or_default() += f[6].parse::<u64>().unwrap();
    }
    assert_eq!(csv_counts, want);

    let top = json(&g, "/analytics/top").await;
    // Anonymous callers (null) made 8 requests, alice 7.
    assert_eq!(top["consumers"][0]["consumer"], Value::Null);
    assert_eq!(top["consumers"][0]["count"], 8);
    assert_eq!(top["consumers"][1]["consumer"], "alice");
    assert_eq!(top["consumers"][1]["count"], 7);
    assert_eq!(json(&g, "/analytics/top?limit=1").await["consumers"].as_array().unwrap().len(), 1);
    assert_eq!(top["errors"][0]["status_class"], "4xx");
    assert_eq!(top["errors"][0]["errors"], 5);
    assert!(g.metrics().await.contains("gatehouse_analytics_dropped_events_total 0"));
}

#[tokio::test]
async fn counts_equal_requests_on_sqlite() {
    counts_match_requests("").await;
}

#[tokio::test]
async fn counts_equal_requests_on_postgres() {
    let Some(pg) = Postgres::start().await else { return };
    counts_match_requests(&format!("url = \"{}\"", pg.url)).await;
}

#[test]
fn check_names_bad_analytics_keys() {
    let (code, out) = common::check_config(
        "[analytics]\nflush_interval = \"1ms\"\nretention = \"1m\"\nhour_retention = \"30s\"\nqueue = 5\n",
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("analytics.flush_interval: must be between 100ms and 5m"), "{out}");
    assert!(out.contains("analytics.retention: must be at least 3h"), "{out}");
    assert!(out.contains("analytics.queue: unknown key"), "{out}");
    assert!(out.contains("analytics.hour_retention: must be at least analytics.retention"), "{out}");
}

fn row(start: i64, consumer: &str, count: i64, ms: f64) -> (RollupKey, Rollup) {
    let key = RollupKey {
        start,
        api: "a".into(),
        version: "v1".into(),
        operation: "/".into(),
        consumer: consumer.into(),
        status_class: "2xx".into(),
    };
    let mut r = Rollup { count, bytes_in: count, ..Default::default() };
    for _ in 0..count {
        r.hist.record(ms);
    }
    (key, r)
}

fn total(rows: &[(RollupKey, Rollup)]) -> i64 {
    rows.iter().map(|(_, r)| r.count).sum()
}

/// Two nodes' minutes of an old hour become one hour row; hourly reads give the same totals
/// before and after (and never twice), a second roll-up finds nothing, pruning drops minutes.
async fn hours_roll_up_once(url: &str) {
    let store = Store::open(url).await.unwrap();
    let h = 1_700_000_000 / 3600 * 3600;
    store.write_rollups("n1", &[row(h, "c", 3, 5.0), row(h + 60, "c", 2, 50.0)]).await.unwrap();
    store.write_rollups("n2", &[row(h + 120, "c", 4, 500.0), row(h + 3600, "c", 1, 1.0)]).await.unwrap();
    let f = RollupFilter { since: h, until: h + 7200, ..Default::default() };
    let before = store.read_rollups(&f, true).await.unwrap().unwrap();
    assert_eq!(total(&before), 10);
    // Two nodes roll up at the same moment: exactly one does the hour.
    let other = Store::open(url).await.unwrap();
    let (x, y) = tokio::join!(store.roll_up_hours(h + 3600, 10), other.roll_up_hours(h + 3600, 10));
    assert_eq!(x.unwrap() + y.unwrap(), 1);
    assert_eq!(store.roll_up_hours(h + 3600, 10).await.unwrap(), 0, "claimed once");
    let after = store.read_rollups(&f, true).await.unwrap().unwrap();
    assert_eq!(total(&after), 10, "{after:?}");
    let hour = after.iter().find(|(k, _)| k.start == h).unwrap();
    assert_eq!(hour.1.count, 9);
    assert_eq!(hour.1.hist.0.iter().sum::<u64>(), 9);
    assert_eq!(total(&store.read_rollups(&f, false).await.unwrap().unwrap()), 10, "minutes stay until retention");
    store.prune_rollups(h + 3600, 0).await.unwrap();
    assert_eq!(total(&store.read_rollups(&f, false).await.unwrap().unwrap()), 1);
    assert_eq!(total(&store.read_rollups(&f, true).await.unwrap().unwrap()), 10, "the hour row serves");
    let narrow = RollupFilter { consumer: Some("other".into()), ..f };
    assert!(store.read_rollups(&narrow, true).await.unwrap().unwrap().is_empty());
}

#[tokio::test]
async fn hours_roll_up_once_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    hours_roll_up_once(&format!("sqlite://{}/s.db", dir.path().display())).await;
}

#[tokio::test]
async fn hours_roll_up_once_on_postgres() {
    let Some(pg) = Postgres::start().await else { return };
    hours_roll_up_once(&pg.url).await;
}
