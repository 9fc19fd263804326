//! Response caching (issue 6): who may share an entry (hosts, consumers, `Authorization`),
//! invalidation by unsafe methods, purge (admin and `PURGE`), eviction, and `check`.

mod common;

use common::cache::*;
use common::{simple_config, Gateway, Upstream};

#[tokio::test]
async fn two_hosts_with_the_same_path_never_share_an_entry() {
    let up = Upstream::start("u").await;
    let g = gw(&up, CACHED).await;
    let h = |host: &'static str| [("host", host), ("x-echo-header", "Cache-Control: max-age=60")];
    let a = get(&g, "/same", &h("a.example")).await;
    let b = get(&g, "/same", &h("b.example")).await;
    assert!(!status_of(&b).contains("hit"), "{}", status_of(&b));
    assert_eq!(b.echoed_header("host").as_deref(), Some("b.example"));
    let a2 = get(&g, "/same", &h("a.example")).await;
    assert_eq!(a2.echoed_header("host").as_deref(), Some("a.example"));
    assert_eq!(upstream_request_id(&a), upstream_request_id(&a2));
    assert_eq!(up.requests(), 2);
}

#[tokio::test]
async fn unsafe_methods_invalidate_and_pass_through() {
    let up = Upstream::start("u").await;
    let g = gw(&up, CACHED).await;
    let h = [("x-echo-header", "Cache-Control: max-age=60")];
    get(&g, "/item?id=1", &h).await;
    assert!(status_of(&get(&g, "/item?id=1", &h).await).contains("hit"));
    let post = g.send("POST", "/item?id=1", &h, b"x").await;
    assert_eq!(post.status, 200);
    assert_eq!(post.json()["method"], "POST", "unsafe methods always reach the upstream");
    assert!(status_of(&post).contains("bypass"));
    let after = get(&g, "/item?id=1", &h).await;
    assert!(status_of(&after).contains("uri-miss"), "{}", status_of(&after));
    assert_eq!(up.requests(), 3);
}

const TOKEN: &str = "0123456789abcdef";

#[tokio::test]
async fn admin_purges_everything_one_url_or_a_prefix_and_proxy_purge_needs_the_token() {
    let up = Upstream::start("u").await;
    let body = format!("{}\n[cache]\npurge_method = true\n", simple_config(&[&up], "", CACHED));
    let g = Gateway::start_with_admin(&format!("token = \"{TOKEN}\""), &[], &body).await;
    let h = [("x-echo-header", "Cache-Control: max-age=60")];
    let paths = ["/a/1", "/a/2", "/b/1", "/c?x=1"];
    let fill = || async {
        for p in paths {
            get(&g, p, &h).await;
        }
    };
    let is_hit = |p: &'static str| {
        let g = &g;
        async move { status_of(&get(g, p, &h).await).contains("hit") }
    };
    let auth = format!("Bearer {TOKEN}");
    let admin = [("authorization", auth.as_str())];
    fill().await;
    let r = g.admin_send("DELETE", "/cache?url=http://TEST.local/a/1", &admin, b"").await;
    assert_eq!((r.status, r.json()["purged"].as_u64()), (200, Some(1)), "{}", r.text());
    assert!(!is_hit("/a/1").await && is_hit("/a/2").await);
    let r = g.admin_send("DELETE", "/cache?prefix=http://test.local/a/", &admin, b"").await;
    assert_eq!(r.json()["purged"], 2);
    assert!(!is_hit("/a/2").await && is_hit("/b/1").await);
    let r = g.admin_send("DELETE", "/cache", &admin, b"").await;
    assert_eq!(r.json()["purged"], 3, "everything (the checks above stored /a/2 again)");
    assert!(!is_hit("/c?x=1").await);
    assert_eq!(g.admin_send("DELETE", "/cache?url=/a/1", &admin, b"").await.status, 400);
    assert_eq!(g.admin_send("DELETE", "/cache", &[], b"").await.status, 401);

    // PURGE on the proxy: the admin token, or nothing is purged.
    fill().await;
    let r = g.send("PURGE", "/b/1", &[], b"").await;
    assert_eq!(r.status, 401);
    let r = g.send("PURGE", "/b/1", &[("authorization", "Bearer wrong-token-123456")], b"").await;
    assert_eq!(r.status, 401);
    assert!(is_hit("/b/1").await);
    let r = g.send("PURGE", "/b/1", &admin, b"").await;
    assert_eq!((r.status, r.json()["purged"].as_u64()), (200, Some(1)));
    assert!(!is_hit("/b/1").await);
    let r = g.send("PURGE", "/a/*", &admin, b"").await;
    assert_eq!(r.json()["purged"], 2, "a trailing * purges a prefix");
    // A body on a PURGE is never read as the next request: the connection is closed.
    let smuggled = format!(
        "PURGE /c?x=1 HTTP/1.1\r\nHost: test.local\r\nAuthorization: {auth}\r\nContent-Length: 32\r\n\r\nGET /c?x=1 HTTP/1.1\r\nHost: x\r\n\r\n"
    );
    let r = common::client::send_raw(g.addr, smuggled.as_bytes()).await.unwrap();
    assert_eq!((r.status, r.header("connection")), (200, Some("close")));
}

fn key_hash(key: &str) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(key.as_bytes());
    format!("sha256:{}", d.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// `/shared` caches for everyone; `/own` keys entries by consumer.
fn auth_config(up: &Upstream) -> String {
    format!(
        "{}\n[[api.route]]\npath = \"/own\"\ncache = {{ enabled = true, per_consumer = true }}\n\n[[api.route]]\npath = \"/\"\n\n\
         [[consumer]]\nname = \"alice\"\napi_keys = [\"{}\"]\n\n[[consumer]]\nname = \"bob\"\napi_keys = [\"{}\"]\n",
        simple_config(&[up], "", &format!("auth = [\"api_key\"]\n{CACHED}")),
        key_hash("alice-key"),
        key_hash("bob-key"),
    )
}

#[tokio::test]
async fn an_authenticated_request_is_never_served_another_consumers_entry() {
    let up = Upstream::start("u").await;
    let g = Gateway::start(&auth_config(&up)).await;
    let as_ = |key: &'static str, cc: &'static str| [("x-api-key", key), ("x-echo-header", cc)];
    // Shared entries: a response that does not say public/s-maxage is not stored for anyone.
    let a = get(&g, "/shared", &as_("alice-key", "Cache-Control: max-age=60")).await;
    let b = get(&g, "/shared", &as_("bob-key", "Cache-Control: max-age=60")).await;
    assert_eq!(b.echoed_header("x-consumer-name").as_deref(), Some("bob"), "{}", b.text());
    assert_ne!(upstream_request_id(&a), upstream_request_id(&b));
    // With consent (public) the entry is shared, and only authenticated consumers reach it.
    get(&g, "/pub", &as_("alice-key", "Cache-Control: public, max-age=60")).await;
    let b = get(&g, "/pub", &as_("bob-key", "Cache-Control: public, max-age=60")).await;
    assert!(status_of(&b).contains("hit"), "{}", status_of(&b));
    assert_eq!(get(&g, "/pub", &[]).await.status, 401, "auth runs before the cache");
    // Per-consumer keys: each consumer gets its own entry.
    let a1 = get(&g, "/own", &as_("alice-key", "Cache-Control: max-age=60")).await;
    let b1 = get(&g, "/own", &as_("bob-key", "Cache-Control: max-age=60")).await;
    let a2 = get(&g, "/own", &as_("alice-key", "Cache-Control: max-age=60")).await;
    assert_eq!(b1.echoed_header("x-consumer-name").as_deref(), Some("bob"));
    assert_eq!(upstream_request_id(&a1), upstream_request_id(&a2));
    assert!(status_of(&a2).contains("hit"));
    assert_ne!(upstream_request_id(&a1), upstream_request_id(&b1));
}

#[tokio::test]
async fn authorization_requests_are_not_served_an_anonymous_entry() {
    let up = Upstream::start("u").await;
    let g = gw(&up, CACHED).await;
    let h = [("x-echo-header", "Cache-Control: max-age=60")];
    let anon = get(&g, "/me", &h).await;
    let mut with_auth = h.to_vec();
    with_auth.push(("authorization", "Bearer someone"));
    let authed = get(&g, "/me", &with_auth).await;
    assert!(!status_of(&authed).contains("hit"), "{}", status_of(&authed));
    assert_ne!(upstream_request_id(&anon), upstream_request_id(&authed));
    assert!(status_of(&get(&g, "/me", &h).await).contains("hit"), "the anonymous entry stays");
}

#[tokio::test]
async fn max_size_evicts_and_keeps_within_bound() {
    let up = Upstream::start("u").await;
    let body =
        format!("{}\n[cache]\nmax_size = \"4KiB\"\nmax_object_size = \"2KiB\"\n", simple_config(&[&up], "", CACHED));
    let g = Gateway::start(&body).await;
    let h = [("x-echo-header", "Cache-Control: max-age=60")];
    for i in 0..30 {
        // Twice each: once the store is nearly full, a key is admitted on its second miss.
        for _ in 0..2 {
            assert_eq!(get(&g, &format!("/e/{i}"), &h).await.status, 200);
        }
    }
    let value = |m: &str, name: &str| -> f64 {
        m.lines().find_map(|l| l.strip_prefix(name)?.trim().parse().ok()).unwrap_or_else(|| panic!("{name} in\n{m}"))
    };
    // Evicted objects are dropped by a task just after the fill that pushed them out.
    common::eventually(10, "evictions done and the store within max_size", || async {
        let m = g.metrics().await;
        value(&m, "gatehouse_cache_evictions_total ") > 0.0 && value(&m, "gatehouse_cache_bytes ") <= 4096.0
    })
    .await;
    // Still caching after evictions (which entry goes is pingora's sharded, approximate LRU).
    let m = g.metrics().await;
    assert!(value(&m, "gatehouse_cache_objects ") >= 2.0, "{m}");
}

#[test]
fn check_names_bad_cache_keys() {
    let up = "[[cluster]]\nname = \"c\"\nupstreams = [\"127.0.0.1:1\"]\n";
    let bad = format!(
        "{up}\n[[api]]\nname = \"a\"\ncluster = \"c\"\ncache = {{ enabled = true, default_ttl = \"0s\", ttl = 1 }}\n\n\
         [cache]\nmax_size = \"1MiB\"\nmax_object_size = \"2MiB\"\nlock_timeout = \"soon\"\npurge_method = true\n"
    );
    let (code, out) = common::check_config(&bad);
    assert_eq!(code, Some(1), "{out}");
    for want in [
        "api[0].cache.ttl: unknown key",
        "api[0].cache.default_ttl: must be greater than zero",
        "cache.max_object_size: must not be larger than cache.max_size",
        "cache.lock_timeout: invalid duration",
        "cache.purge_method: needs admin.token",
    ] {
        assert!(out.contains(want), "missing {want:?} in\n{out}");
    }
    let good = format!("{up}\n[[api]]\nname = \"a\"\ncluster = \"c\"\ncache = {{ enabled = true, default_ttl = \"30s\" }}\n\n[cache]\nmax_size = \"64MiB\"\n");
    assert_eq!(common::check_config(&good).0, Some(0));
}
