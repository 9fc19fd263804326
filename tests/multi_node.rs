//! Three gateway processes on one PostgreSQL and one Redis behave as one system (issue 11):
//! a consumer and key made on one node work on all, a rate limit and a quota are shared
//! exactly, a purge on one node empties the others, and analytics read on any node count the
//! requests all of them answered.

mod common;

use common::cache::status_of;
use common::postgres::Postgres;
use common::redis::RedisServer;
use common::{eventually, Gateway, Upstream};
use serde_json::Value;

const TOKEN: &str = "0123456789abcdef-admin";

fn body(up: &Upstream, pg: &str, redis: &str) -> String {
    format!(
        "[[cluster]]\nname = \"c\"\nupstreams = [\"{}\"]\n\n\
         [[plan]]\nname = \"metered\"\nquota = \"9/day\"\n\n\
         [[api]]\nname = \"metered\"\nbase_path = \"/metered\"\ncluster = \"c\"\nauth = [\"api_key\"]\nplan = \"metered\"\n\n\
         [[api]]\nname = \"burst\"\nbase_path = \"/burst\"\ncluster = \"c\"\nlimits = [{{ rate = \"12/hour\", key = \"ip\" }}]\n\n\
         [[api]]\nname = \"cached\"\nbase_path = \"/cached\"\ncluster = \"c\"\ncache = {{ enabled = true, default_ttl = \"1h\" }}\n\n\
         [cache]\npurge_method = true\n\n\
         [store]\nurl = \"{pg}\"\n\n[analytics]\nflush_interval = \"200ms\"\n\n\
         [limits]\nbackend = \"redis\"\nredis_url = \"{redis}\"\ntimeout = \"2s\"\non_backend_error = \"deny\"\n",
        up.addr
    )
}

async fn admin(g: &Gateway, method: &str, path: &str, body: &str) -> common::Response {
    let auth = format!("Bearer {TOKEN}");
    g.admin_send(method, path, &[("authorization", &auth), ("content-type", "application/json")], body.as_bytes()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_act_as_one() {
    let Some(pg) = Postgres::start().await else { return };
    let Some(redis) = RedisServer::start().await else { return };
    let up = Upstream::start("u").await;
    let text = body(&up, &pg.url, &redis.url);
    let mut nodes = Vec::new();
    for _ in 0..3 {
        let g = Gateway::start_with_admin(&format!("token = \"{TOKEN}\""), &[], &text).await;
        eventually(20, "store ok", || async {
            let s = admin(&g, "GET", "/status", "").await.json();
            s["store"]["state"] == "ok" && s["limits"]["redis"] == "up"
        })
        .await;
        nodes.push(g);
    }

    // A consumer and key made on node 0 work on every node within a second.
    assert_eq!(admin(&nodes[0], "POST", "/consumers", r#"{"name":"acme"}"#).await.status, 201);
    let key = admin(&nodes[0], "POST", "/consumers/acme/keys", "{}").await.json()["key"].as_str().unwrap().to_string();
    // Every request to the metered API is counted by analytics, refused ones too.
    let sent = std::sync::atomic::AtomicU64::new(0);
    for g in &nodes {
        eventually(2, "the key reaches every node", || async {
            sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            g.send("GET", "/metered/warm", &[("X-API-Key", &key)], b"").await.status != 401
        })
        .await;
    }
    // Three requests above were the warm-up (one per node): the quota of 9 has 6 left, shared.
    let mut passed = 3;
    for i in 0..12 {
        sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let r = nodes[i % 3].send("GET", "/metered/x", &[("X-API-Key", &key)], b"").await;
        match r.status {
            200 => passed += 1,
            429 => assert!(r.header("retry-after").is_some(), "{:?}", r.headers),
            s => panic!("unexpected {s}: {}", r.text()),
        }
    }
    assert_eq!(passed, 9, "the day's quota counted across nodes");

    // A rate limit keyed by client IP: 12 per hour in all, whichever node answers.
    let mut ok = 0;
    for i in 0..30 {
        if nodes[i % 3].get("/burst/y").await.status == 200 {
            ok += 1;
        }
    }
    assert_eq!(ok, 12, "one bucket across nodes");

    // A purge on node 2 empties node 0 and 1.
    let fresh = [("x-echo-header", "Cache-Control: max-age=600")];
    for g in &nodes {
        g.send("GET", "/cached/p", &fresh, b"").await;
        assert!(status_of(&g.send("GET", "/cached/p", &fresh, b"").await).contains("hit"));
    }
    assert_eq!(admin(&nodes[2], "DELETE", "/cache?prefix=http://test.local/cached/", "").await.status, 200);
    for g in &nodes[..2] {
        eventually(2, "the purge reaches every node", || async {
            !status_of(&g.send("HEAD", "/cached/p", &fresh, b"").await).contains("hit")
        })
        .await;
    }

    // Analytics, read on any node, count what every node answered for the metered API.
    let want = sent.load(std::sync::atomic::Ordering::Relaxed);
    for g in &nodes {
        eventually(20, "analytics of all nodes", || async {
            let doc: Value = admin(g, "GET", "/analytics?api=metered&bucket=hour", "").await.json();
            let n: u64 = doc["buckets"].as_array().unwrap().iter().map(|b| b["count"].as_u64().unwrap()).sum();
            n == want
        })
        .await;
    }
}
