//! Purges reach every node that shares the store: on PostgreSQL through NOTIFY
//! within a second, on a shared SQLite file at the next resync. Each node's own unsafe-method
//! invalidations stay its own (RFC 9111 §4.4 speaks of the cache that saw the request).

mod common;

use common::cache::*;
use common::postgres::Postgres;
use common::{eventually, simple_config, Gateway, Upstream};
use std::time::{Duration, Instant};

const TOKEN: &str = "0123456789abcdef-admin";
const FRESH: [(&str, &str); 1] = [("x-echo-header", "Cache-Control: max-age=600")];

async fn node(up: &Upstream, store: &str) -> Gateway {
    let body = format!("{}\n[cache]\npurge_method = true\n\n[store]\n{store}\n", simple_config(&[up], "", CACHED));
    let g = Gateway::start_with_admin(&format!("token = \"{TOKEN}\""), &[], &body).await;
    let auth = format!("Bearer {TOKEN}");
    eventually(20, "store ok", || async {
        g.admin_send("GET", "/status", &[("authorization", &auth)], b"").await.json()["store"]["state"] == "ok"
    })
    .await;
    g
}

async fn hit(g: &Gateway, path: &str) -> bool {
    status_of(&get(g, path, &FRESH).await).contains("hit")
}

/// Fill `paths` on every node until each answers them from its cache.
async fn fill(nodes: &[&Gateway], paths: &[&str]) {
    for g in nodes {
        for p in paths {
            get(g, p, &FRESH).await;
            assert!(hit(g, p).await, "{p} is cached");
        }
    }
}

/// Wait (polling without refilling) until `path` is no hit on `g`.
async fn purged_within(g: &Gateway, path: &str, limit: Duration) {
    let start = Instant::now();
    loop {
        let r = g.send("HEAD", path, &FRESH, b"").await;
        if !status_of(&r).contains("hit") {
            return;
        }
        assert!(start.elapsed() < limit, "{path} still cached after {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn purges_reach_every_postgres_node_within_a_second() {
    let Some(pg) = Postgres::start().await else { return };
    let up = Upstream::start("u").await;
    let store = format!("url = \"{}\"", pg.url);
    let (a, b) = (node(&up, &store).await, node(&up, &store).await);
    let auth = format!("Bearer {TOKEN}");
    let admin = [("authorization", auth.as_str())];
    fill(&[&a, &b], &["/p/1", "/p/2", "/q/1"]).await;

    // One URL through A's admin API: gone from B, the rest stays.
    let r = a.admin_send("DELETE", "/cache?url=http://test.local/p/1", &admin, b"").await;
    assert_eq!((r.status, r.json()["purged"].as_u64()), (200, Some(1)), "{}", r.text());
    purged_within(&b, "/p/1", Duration::from_secs(1)).await;
    assert!(hit(&b, "/p/2").await && hit(&b, "/q/1").await);

    // A prefix by PURGE on B's proxy: gone from A.
    let r = b.send("PURGE", "/p/*", &admin, b"").await;
    assert_eq!(r.status, 200, "{}", r.text());
    purged_within(&a, "/p/2", Duration::from_secs(1)).await;
    assert!(hit(&a, "/q/1").await);

    // Everything.
    assert_eq!(b.admin_send("DELETE", "/cache", &admin, b"").await.status, 200);
    purged_within(&a, "/q/1", Duration::from_secs(1)).await;

    // A refused PURGE (no token) purges nowhere.
    fill(&[&a, &b], &["/q/1"]).await;
    assert_eq!(b.send("PURGE", "/q/1", &[], b"").await.status, 401);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(hit(&a, "/q/1").await && hit(&b, "/q/1").await);

    // A node started later does not replay old purges against its fresh entries.
    // A later purge of something else makes C read the log again: the old rows stay unapplied.
    let c = node(&up, &store).await;
    fill(&[&c], &["/q/2"]).await;
    let r = a.admin_send("DELETE", "/cache?url=http://test.local/elsewhere", &admin, b"").await;
    assert_eq!(r.status, 200, "{}", r.text());
    eventually(20, "C applies the new purge", || async { c.stderr_text().contains("applied a purge") }).await;
    assert!(hit(&c, "/q/2").await, "a new node replayed purges made before it started");
    let applied = c.stderr_text().matches("applied a purge").count();
    assert_eq!(applied, 1, "C applied only the purge made after it started:\n{}", c.stderr_text());
}

#[tokio::test]
async fn purges_reach_processes_on_one_sqlite_file_at_the_resync() {
    let up = Upstream::start("u").await;
    let dir = tempfile::tempdir().unwrap();
    let store = format!("url = \"sqlite://{}/shared.db\"\nresync_interval = \"1s\"", dir.path().display());
    let (a, b) = (node(&up, &store).await, node(&up, &store).await);
    fill(&[&a, &b], &["/s/1", "/s/2"]).await;
    let auth = format!("Bearer {TOKEN}");
    let r = a.admin_send("DELETE", "/cache?prefix=http://test.local/s/1", &[("authorization", &auth)], b"").await;
    assert_eq!(r.status, 200);
    purged_within(&b, "/s/1", Duration::from_secs(5)).await;
    assert!(hit(&b, "/s/2").await);
}
