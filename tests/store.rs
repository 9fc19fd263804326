//! The management store through the real binary: consumers and keys made with the admin API
//! work in the proxy at once, rotation keeps the old key for its grace period, revocation and
//! deletion end a key, on SQLite and on a real PostgreSQL; PostgreSQL nodes see each other's
//! keys through LISTEN/NOTIFY; a store that dies leaves the known keys working.

mod common;

use common::postgres::Postgres;
use common::{eventually, simple_config, Gateway, Response, Upstream};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const TOKEN: &str = "0123456789abcdef-admin";

fn body(up: &Upstream, store: &str) -> String {
    format!(
        "{}\n[[plan]]\nname = \"gold\"\nrate = \"1000/s\"\n\n[[consumer]]\nname = \"filed\"\napi_keys = [\"sha256:{}\"]\n\n[store]\n{store}\nresync_interval = \"30s\"\n",
        simple_config(&[up], "", "auth = [\"api_key\"]"),
        "ab".repeat(32),
    )
}

async fn start(up: &Upstream, store: &str) -> Gateway {
    let g = Gateway::start_with_admin(&format!("token = \"{TOKEN}\""), &[], &body(up, store)).await;
    store_ok(&g).await;
    g
}

async fn status(g: &Gateway) -> Value {
    admin(g, "GET", "/status", "").await.json()
}

async fn store_ok(g: &Gateway) {
    eventually(20, "store ok in /status", || async { status(g).await["store"]["state"] == "ok" }).await;
}

async fn admin(g: &Gateway, method: &str, path: &str, body: &str) -> Response {
    let auth = format!("Bearer {TOKEN}");
    let mut h = vec![("Authorization", auth.as_str())];
    if !body.is_empty() {
        h.push(("Content-Type", "application/json"));
    }
    g.admin_send(method, path, &h, body.as_bytes()).await
}

async fn with_key(g: &Gateway, key: &str) -> u16 {
    g.send("GET", "/x", &[("X-API-Key", key)], b"").await.status
}

async fn new_key(g: &Gateway, consumer: &str, body: &str) -> Value {
    let r = admin(g, "POST", &format!("/consumers/{consumer}/keys"), body).await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.header("cache-control"), Some("no-store"));
    r.json()
}

/// create → works → rotate → both work → grace ends → old 401 → revoke → 401.
async fn lifecycle(g: &Gateway) {
    let r =
        admin(g, "POST", "/consumers", r#"{"name":"acme","plan":"gold","groups":["partners"],"metadata":{"tier":2}}"#)
            .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.header("location"), Some("/consumers/acme"));
    assert_eq!(r.json()["groups"], json!(["partners"]));
    let k1 = new_key(g, "acme", r#"{"label":"ci"}"#).await;
    let key1 = k1["key"].as_str().unwrap().to_string();
    assert!(key1.starts_with("gh_") && key1.len() >= 46, "{key1}");
    assert!(key1.starts_with(k1["prefix"].as_str().unwrap()));
    // Works at once on this node, with the store consumer's identity.
    let r = g.send("GET", "/x", &[("X-API-Key", &key1)], b"").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.echoed_header("x-consumer-name").as_deref(), Some("acme"));
    assert_eq!(r.echoed_header("x-consumer-groups").as_deref(), Some("partners"));
    assert_eq!(r.echoed_header("x-api-key"), None, "the key is not forwarded");
    // The list never shows a secret.
    let list = admin(g, "GET", "/consumers/acme/keys", "").await;
    assert_eq!(list.status, 200);
    assert!(!list.text().contains(&key1[3..]), "{}", list.text());
    assert_eq!(list.json()["keys"][0]["label"], "ci");
    assert!(list.json()["keys"][0].get("key").is_none());

    let id1 = k1["id"].as_str().unwrap();
    let r = admin(g, "POST", &format!("/consumers/acme/keys/{id1}/rotate"), r#"{"grace":"2s"}"#).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let key2 = r.json()["key"].as_str().unwrap().to_string();
    assert_ne!(key1, key2);
    assert_eq!(with_key(g, &key2).await, 200);
    assert_eq!(with_key(g, &key1).await, 200, "the old key works during the grace period");
    eventually(10, "the old key expires", || async { with_key(g, &key1).await == 401 }).await;
    assert_eq!(with_key(g, &key2).await, 200);

    let id2 = r.json()["id"].as_str().unwrap().to_string();
    let r = admin(g, "DELETE", &format!("/consumers/acme/keys/{id2}"), "").await;
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(with_key(g, &key2).await, 401, "revoked at once");
    assert_eq!(admin(g, "DELETE", &format!("/consumers/acme/keys/{id2}"), "").await.status, 404);

    // Deleting the consumer ends its keys; PATCH changes what the proxy sends.
    let key3 = new_key(g, "acme", "{}").await["key"].as_str().unwrap().to_string();
    let r = admin(g, "PATCH", "/consumers/acme", r#"{"groups":["a","b"],"plan":null}"#).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["plan"], Value::Null);
    assert_eq!(r.json()["metadata"], json!({"tier": 2}), "metadata kept");
    let r = g.send("GET", "/x", &[("X-API-Key", &key3)], b"").await;
    assert_eq!(r.echoed_header("x-consumer-groups").as_deref(), Some("a,b"));
    assert_eq!(admin(g, "DELETE", "/consumers/acme", "").await.status, 204);
    assert_eq!(with_key(g, &key3).await, 401);
    assert_eq!(admin(g, "GET", "/consumers/acme", "").await.status, 404);
}

#[tokio::test]
async fn key_lifecycle_on_sqlite() {
    let up = Upstream::start("up").await;
    let g = start(&up, "").await;
    let s = status(&g).await;
    assert_eq!(s["store"]["backend"], "sqlite");
    assert_eq!(s["store"]["schema_version"], 5);
    assert!(g.dir.path().join("gatehouse.db").exists(), "default store under data_dir");
    lifecycle(&g).await;
}

#[tokio::test]
async fn key_lifecycle_on_postgres() {
    let Some(pg) = Postgres::start().await else { return };
    let up = Upstream::start("up").await;
    let g = start(&up, &format!("url = \"{}\"", pg.url)).await;
    let s = status(&g).await;
    assert_eq!(s["store"]["backend"], "postgres");
    assert_eq!(s["store"]["schema_version"], 5);
    lifecycle(&g).await;
}

/// Made on node A, the key works on node B within a second (NOTIFY; the resync is 30 s). When
/// PostgreSQL dies both nodes keep serving the keys they know, and `/status` says so.
#[tokio::test]
async fn postgres_nodes_share_keys_and_survive_a_dead_store() {
    let Some(mut pg) = Postgres::start().await else { return };
    let up = Upstream::start("up").await;
    let store = format!("url = \"{}\"", pg.url);
    let a = start(&up, &store).await;
    let b = start(&up, &store).await;
    assert_eq!(admin(&a, "POST", "/consumers", r#"{"name":"shared"}"#).await.status, 201);
    let key = new_key(&a, "shared", "{}").await["key"].as_str().unwrap().to_string();
    let made = Instant::now();
    while with_key(&b, &key).await != 200 {
        assert!(made.elapsed() < Duration::from_secs(1), "node B did not see the key within 1 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // B's admin API shows A's consumer too (one store).
    assert_eq!(admin(&b, "GET", "/consumers/shared", "").await.json()["source"], "store");

    pg.kill();
    for g in [&a, &b] {
        eventually(10, "store unavailable in /status", || async { status(g).await["store"]["state"] == "unavailable" })
            .await;
        assert_eq!(with_key(g, &key).await, 200, "known keys keep working");
        assert_eq!(with_key(g, "gh_unknown").await, 401);
        let r = admin(g, "POST", "/consumers", r#"{"name":"later"}"#).await;
        assert_eq!(r.status, 503, "{}", r.text());
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
    }
    // Back up: both nodes reconnect and follow changes again.
    pg.run().await;
    store_ok(&a).await;
    store_ok(&b).await;
    let id = admin(&a, "GET", "/consumers/shared/keys", "").await.json()["keys"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(admin(&a, "DELETE", &format!("/consumers/shared/keys/{id}"), "").await.status, 204);
    eventually(5, "revocation reaches node B", || async { with_key(&b, &key).await == 401 }).await;
}

/// Two processes on one SQLite file: the periodic resync carries a key across; the file
/// outlives the process.
#[tokio::test]
async fn sqlite_file_is_shared_and_kept() {
    let up = Upstream::start("up").await;
    let dir = tempfile::tempdir().unwrap();
    let store = format!("url = \"sqlite://{}/shared.db\"\nresync_interval = \"1s\"", dir.path().display());
    let text = body(&up, &store).replace("resync_interval = \"30s\"\n", "");
    let a = Gateway::start_with_admin(&format!("token = \"{TOKEN}\""), &[], &text).await;
    store_ok(&a).await;
    assert_eq!(admin(&a, "POST", "/consumers", r#"{"name":"c1"}"#).await.status, 201);
    let key = new_key(&a, "c1", "{}").await["key"].as_str().unwrap().to_string();
    drop(a);
    let b = Gateway::start_with_admin(&format!("token = \"{TOKEN}\""), &[], &text).await;
    store_ok(&b).await;
    assert_eq!(with_key(&b, &key).await, 200, "kept across a restart");
    let c = Gateway::start_with_admin(&format!("token = \"{TOKEN}\""), &[], &text).await;
    store_ok(&c).await;
    let key2 = new_key(&c, "c1", "{}").await["key"].as_str().unwrap().to_string();
    eventually(5, "the other process's key", || async { with_key(&b, &key2).await == 200 }).await;
}

/// What a careless or hostile admin client sends is refused with problem+json.
#[tokio::test]
async fn admin_input_is_validated() {
    let up = Upstream::start("up").await;
    let g = start(&up, "").await;
    let no_token = g.admin_send("GET", "/consumers", &[], b"").await;
    assert_eq!(no_token.status, 401);
    let cases = [
        ("POST", "/consumers", r#"{"name":"bad name"}"#, 422),
        ("POST", "/consumers", r#"{"name":"x\r\nX-Evil: 1"}"#, 422),
        ("POST", "/consumers", r#"{"name":"ok","plan":"platinum"}"#, 422),
        ("POST", "/consumers", r#"{"name":"ok","groups":["a b"]}"#, 422),
        ("POST", "/consumers", r#"{"name":"ok","metadata":[1]}"#, 422),
        ("POST", "/consumers", r#"{"name":"ok","admin":true}"#, 422),
        ("POST", "/consumers", r#"{"name":"#, 422),
        ("POST", "/consumers", r#"{"name":"filed"}"#, 409),
        ("PATCH", "/consumers/filed", r#"{"groups":[]}"#, 409),
        ("DELETE", "/consumers/filed", "", 409),
        ("POST", "/consumers/filed/keys", "{}", 409),
        ("POST", "/consumers/nobody/keys", "{}", 404),
        ("GET", "/consumers?limit=0", "", 400),
    ];
    for (method, path, b, want) in cases {
        let r = admin(&g, method, path, b).await;
        assert_eq!(r.status, want, "{method} {path} {b}: {}", r.text());
        assert_eq!(r.header("content-type"), Some("application/problem+json"), "{method} {path}");
    }
    let big = format!(r#"{{"name":"big","metadata":{{"x":"{}"}}}}"#, "a".repeat(5000));
    assert_eq!(admin(&g, "POST", "/consumers", &big).await.status, 422);
    assert_eq!(admin(&g, "POST", "/consumers", r#"{"name":"ok"}"#).await.status, 201);
    assert_eq!(admin(&g, "POST", "/consumers", r#"{"name":"ok"}"#).await.status, 409);
    for b in [r#"{"expires_at":"2001-01-01T00:00:00Z"}"#, r#"{"expires_at":"soon"}"#, r#"{"label":"a\u0000b"}"#] {
        assert_eq!(admin(&g, "POST", "/consumers/ok/keys", b).await.status, 422, "{b}");
    }
    let k = new_key(&g, "ok", r#"{"expires_at":"2100-01-01T00:00:00Z"}"#).await;
    assert_eq!(k["expires_at"], "2100-01-01T00:00:00Z");
    let id = k["id"].as_str().unwrap();
    let r = admin(&g, "POST", &format!("/consumers/ok/keys/{id}/rotate"), r#"{"grace":"400d"}"#).await;
    assert_eq!(r.status, 422);
    // A key of one consumer cannot be revoked through another's path.
    assert_eq!(admin(&g, "POST", "/consumers", r#"{"name":"other"}"#).await.status, 201);
    assert_eq!(admin(&g, "DELETE", &format!("/consumers/other/keys/{id}"), "").await.status, 404);
    assert_eq!(with_key(&g, k["key"].as_str().unwrap()).await, 200);
    // The config's consumers are listed, read-only, before the store's.
    let list = admin(&g, "GET", "/consumers", "").await.json();
    let names: Vec<&str> = list["consumers"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["filed", "ok", "other"]);
    assert_eq!(list["consumers"][0]["read_only"], true);
}

#[test]
fn check_names_bad_store_keys() {
    let (code, out) = common::check_config(
        "[store]\nurl = \"mysql://db/gh\"\nresync_interval = \"10ms\"\n\n[[cluster]]\nname = \"c\"\nupstreams = [\"127.0.0.1:1\"]\n",
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("gatehouse.toml: store.url: expected sqlite://PATH or postgres://"), "{out}");
    assert!(out.contains("gatehouse.toml: store.resync_interval: must be between 1s and 1h"), "{out}");
    let (code, out) = common::check_config("[store]\nurl = \"sqlite://:memory:\"\n");
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("store.url: an in-memory SQLite store"), "{out}");
    let (code, out) = common::check_config("[store]\nuri = \"sqlite://x.db\"\n");
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("store.uri: unknown key"), "{out}");
}

/// `[store]` is read once at start: a reload that changes it says so instead of pretending.
#[tokio::test]
async fn a_reload_reports_store_changes_as_not_applied() {
    let up = Upstream::start("up").await;
    let g = start(&up, "").await;
    g.rewrite(&body(&up, "").replace("resync_interval = \"30s\"", "resync_interval = \"5s\""));
    let r = admin(&g, "POST", "/reload", "").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let not_applied = r.json()["reload"]["not_applied"].to_string();
    assert!(not_applied.contains("store changed: it takes effect on restart"), "{not_applied}");
}

/// A store consumer's plan is the one its requests are limited by, whether or not the API has
/// a default plan (plans exist, so every authenticated route has a limiter).
#[tokio::test]
async fn a_store_consumers_plan_limits_it() {
    let up = Upstream::start("up").await;
    for api_plan in ["plan = \"free\"", ""] {
        let text = format!(
            "{}\n[[plan]]\nname = \"free\"\nrate = \"1000/s\"\n\n[[plan]]\nname = \"tiny\"\nrate = \"1/min\"\n",
            simple_config(&[&up], "", &format!("auth = [\"api_key\"]\n{api_plan}")),
        );
        let g = Gateway::start_with_admin(&format!("token = \"{TOKEN}\""), &[], &text).await;
        store_ok(&g).await;
        assert_eq!(admin(&g, "POST", "/consumers", r#"{"name":"small","plan":"tiny"}"#).await.status, 201);
        assert_eq!(admin(&g, "POST", "/consumers", r#"{"name":"big"}"#).await.status, 201);
        let small = new_key(&g, "small", "{}").await["key"].as_str().unwrap().to_string();
        let big = new_key(&g, "big", "{}").await["key"].as_str().unwrap().to_string();
        assert_eq!(with_key(&g, &small).await, 200);
        assert_eq!(with_key(&g, &small).await, 429, "plan tiny: 1/min ({api_plan:?})");
        for _ in 0..3 {
            assert_eq!(with_key(&g, &big).await, 200, "the API's plan, or none");
        }
    }
}
