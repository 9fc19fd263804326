//! Response caching (issue 6): one case per RFC 9111 directive, against the real binary and a
//! real echo upstream. The echo upstream answers with the headers a test asks for
//! (`x-echo-header`, `x-echo-etag`); its request counter shows what reached it.

mod common;

use common::{simple_config, Gateway, Response, Upstream};
use std::time::Duration;

const CACHED: &str = "cache = { enabled = true }";

async fn gw(up: &Upstream, api_extra: &str) -> Gateway {
    Gateway::start(&simple_config(&[up], "", api_extra)).await
}

async fn get(g: &Gateway, path: &str, headers: &[(&str, &str)]) -> Response {
    g.send("GET", path, headers, b"").await
}

fn status_of(r: &Response) -> String {
    r.header("cache-status").unwrap_or("-").to_string()
}

/// The echo upstream's view of the request id: the same id twice means the same upstream
/// answer was served twice.
fn upstream_request_id(r: &Response) -> String {
    r.echoed_header("x-request-id").unwrap_or_default()
}

#[tokio::test]
async fn fresh_response_is_served_from_cache_with_age() {
    let up = Upstream::start("u").await;
    let g = gw(&up, CACHED).await;
    let h = [("x-echo-header", "Cache-Control: max-age=60")];
    let a = get(&g, "/fresh", &h).await;
    assert_eq!(a.status, 200);
    assert!(status_of(&a).contains("fwd=uri-miss; stored"), "{}", status_of(&a));
    let b = get(&g, "/fresh", &h).await;
    assert_eq!(b.status, 200);
    assert!(status_of(&b).starts_with("gatehouse; hit; ttl="), "{}", status_of(&b));
    assert!(b.header("age").is_some(), "a stored response carries Age");
    assert_eq!(upstream_request_id(&a), upstream_request_id(&b));
    assert_eq!(up.requests(), 1);
    g.metrics_contain(&[
        "gatehouse_cache_requests_total{result=\"hit\"} 1",
        "gatehouse_cache_requests_total{result=\"miss\"} 1",
    ])
    .await;
    let m = g.metrics().await;
    assert!(m.lines().any(|l| l.starts_with("gatehouse_cache_bytes ") && !l.ends_with(" 0")), "{m}");
}

#[tokio::test]
async fn routes_without_cache_are_not_cached() {
    let up = Upstream::start("u").await;
    let g = gw(&up, "").await;
    let h = [("x-echo-header", "Cache-Control: max-age=60")];
    get(&g, "/x", &h).await;
    let b = get(&g, "/x", &h).await;
    assert!(b.header("cache-status").is_none());
    assert_eq!(up.requests(), 2);
}

/// Poll `GET path` until its `Cache-Status` contains `want` (bounded); returns that response.
async fn get_until(g: &Gateway, path: &str, headers: &[(&str, &str)], want: &str) -> Response {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let r = get(g, path, headers).await;
        if status_of(&r).contains(want) {
            return r;
        }
        assert!(std::time::Instant::now() < deadline, "no {want:?} in time; last: {} {}", r.status, status_of(&r));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn expired_entry_is_revalidated_with_its_etag_and_a_304_refreshes_it() {
    let up = Upstream::start("u").await;
    let g = gw(&up, CACHED).await;
    let h = [("x-echo-header", "Cache-Control: max-age=1"), ("x-echo-etag", "\"v1\"")];
    let first = get(&g, "/doc", &h).await;
    assert_eq!(first.header("etag"), Some("\"v1\""));
    let revalidated = get_until(&g, "/doc", &h, "fwd-status=304").await;
    assert_eq!(revalidated.status, 200, "the stored body answers after a 304");
    assert_eq!(upstream_request_id(&revalidated), upstream_request_id(&first), "stored body reused");
    assert_eq!(up.requests(), 2, "one fill, one conditional request");
    let again = get(&g, "/doc", &h).await;
    assert!(status_of(&again).contains("hit"), "refreshed by the 304: {}", status_of(&again));
    assert_eq!(up.requests(), 2);
}

#[tokio::test]
async fn no_store_and_private_are_never_stored() {
    let up = Upstream::start("u").await;
    let g = gw(&up, CACHED).await;
    for (i, cc) in ["no-store, max-age=60", "private, max-age=60"].iter().enumerate() {
        let path = format!("/p{i}");
        let h = [("x-echo-header", &*format!("Cache-Control: {cc}"))];
        let a = get(&g, &path, &h).await;
        let b = get(&g, &path, &h).await;
        assert!(!status_of(&a).contains("stored") && !status_of(&b).contains("hit"), "{cc}: {}", status_of(&b));
        assert_ne!(upstream_request_id(&a), upstream_request_id(&b));
    }
    assert_eq!(up.requests(), 4);
}

#[tokio::test]
async fn no_cache_stores_but_revalidates_every_time() {
    let up = Upstream::start("u").await;
    let g = gw(&up, CACHED).await;
    let h = [("x-echo-header", "Cache-Control: no-cache"), ("x-echo-etag", "\"n\"")];
    let a = get(&g, "/nc", &h).await;
    let b = get(&g, "/nc", &h).await;
    assert!(status_of(&b).contains("fwd-status=304"), "{}", status_of(&b));
    assert_eq!(upstream_request_id(&a), upstream_request_id(&b));
    assert_eq!(up.requests(), 2);
}

#[tokio::test]
async fn vary_keeps_separate_variants() {
    let up = Upstream::start("u").await;
    let g = gw(&up, CACHED).await;
    let h = |lang: &'static str| {
        [
            ("x-echo-header", "Cache-Control: max-age=60"),
            ("x-echo-header", "Vary: Accept-Language"),
            ("accept-language", lang),
        ]
    };
    let en = get(&g, "/v", &h("en")).await;
    let de = get(&g, "/v", &h("de")).await;
    assert!(status_of(&de).contains("fwd=vary-miss; stored"), "{}", status_of(&de));
    let en2 = get(&g, "/v", &h("en")).await;
    let de2 = get(&g, "/v", &h("de")).await;
    assert!(status_of(&en2).contains("hit") && status_of(&de2).contains("hit"));
    assert_eq!(en2.echoed_header("accept-language").as_deref(), Some("en"));
    assert_eq!(de2.echoed_header("accept-language").as_deref(), Some("de"));
    assert_eq!(upstream_request_id(&en), upstream_request_id(&en2));
    assert_eq!(upstream_request_id(&de), upstream_request_id(&de2));
    assert_eq!(up.requests(), 2);
}

#[tokio::test]
async fn stale_while_revalidate_serves_stale_then_the_refreshed_response() {
    let up = Upstream::start("u").await;
    let g = gw(&up, CACHED).await;
    let h = [("x-echo-header", "Cache-Control: max-age=1, stale-while-revalidate=60")];
    let first = get(&g, "/swr", &h).await;
    let stale = get_until(&g, "/swr", &h, "stale-while-revalidate").await;
    assert_eq!(stale.status, 200);
    assert_eq!(upstream_request_id(&stale), upstream_request_id(&first), "the stale body, at once");
    // The background refresh lands; the next hit carries the new upstream answer.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let r = get(&g, "/swr", &h).await;
        if status_of(&r).starts_with("gatehouse; hit; ttl=") && upstream_request_id(&r) != upstream_request_id(&first) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "not refreshed: {}", status_of(&r));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(up.requests(), 2);
}

#[tokio::test]
async fn stale_if_error_answers_when_the_upstream_is_dead() {
    let mut up = Upstream::start("u").await;
    let g = gw(&up, CACHED).await;
    let sie = [("x-echo-header", "Cache-Control: max-age=1, stale-if-error=60")];
    let plain = [("x-echo-header", "Cache-Control: max-age=1")];
    let first = get(&g, "/sie", &sie).await;
    get(&g, "/plain", &plain).await;
    up.kill();
    let stale = get_until(&g, "/sie", &sie, "stale-if-error").await;
    assert_eq!(stale.status, 200);
    assert_eq!(upstream_request_id(&stale), upstream_request_id(&first));
    // Without stale-if-error an expired entry is not served on error.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut r = get(&g, "/plain", &plain).await;
    while r.status == 200 {
        assert!(std::time::Instant::now() < deadline, "still fresh?");
        tokio::time::sleep(Duration::from_millis(100)).await;
        r = get(&g, "/plain", &plain).await;
    }
    assert!(r.status >= 500, "{}", r.status);
    g.metrics_contain(&["gatehouse_cache_requests_total{result=\"stale\"}"]).await;
}

#[tokio::test]
async fn fifty_concurrent_misses_make_one_upstream_request() {
    let up = Upstream::start("u").await;
    let g = gw(&up, CACHED).await;
    let h = [("x-echo-header", "Cache-Control: max-age=60"), ("x-echo-delay-ms", "300")];
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let addr = g.addr;
        tasks.spawn(async move { common::request(addr, "GET", "/hot", &h, b"").await });
    }
    let mut ids = std::collections::BTreeSet::new();
    while let Some(r) = tasks.join_next().await {
        let r = r.unwrap();
        assert_eq!(r.status, 200);
        ids.insert(upstream_request_id(&r));
    }
    assert_eq!(up.requests(), 1, "coalesced by the cache lock");
    assert_eq!(ids.len(), 1);
}

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

#[tokio::test]
async fn default_ttl_stores_responses_without_freshness_and_nothing_else_does() {
    let up = Upstream::start("u").await;
    let body = format!(
        "{}\n[[api.route]]\npath = \"/ttl\"\ncache = {{ enabled = true, default_ttl = \"60s\" }}\n\n[[api.route]]\npath = \"/\"\n",
        simple_config(&[&up], "", CACHED)
    );
    let g = Gateway::start(&body).await;
    get(&g, "/ttl/a", &[]).await;
    assert!(status_of(&get(&g, "/ttl/a", &[]).await).contains("hit"));
    get(&g, "/other", &[]).await;
    assert!(!status_of(&get(&g, "/other", &[]).await).contains("hit"), "no freshness, no default_ttl");
    assert_eq!(up.requests(), 3);
}

#[tokio::test]
async fn client_no_cache_forces_revalidation() {
    let up = Upstream::start("u").await;
    let g = gw(&up, CACHED).await;
    let h = [("x-echo-header", "Cache-Control: max-age=60"), ("x-echo-etag", "\"e\"")];
    get(&g, "/c", &h).await;
    let mut with_nc = h.to_vec();
    with_nc.push(("cache-control", "no-cache"));
    let r = get(&g, "/c", &with_nc).await;
    assert!(status_of(&r).contains("fwd-status=304"), "{}", status_of(&r));
    assert_eq!(up.requests(), 2);
}

#[tokio::test]
async fn oversized_responses_pass_through_unstored() {
    let up = Upstream::start("u").await;
    let body = format!("{}\n[cache]\nmax_object_size = \"100\"\n", simple_config(&[&up], "", CACHED));
    let g = Gateway::start(&body).await;
    let h = [("x-echo-header", "Cache-Control: max-age=60")];
    let a = get(&g, "/big", &h).await;
    assert_eq!(a.status, 200);
    assert!(a.body.len() > 100);
    let b = get(&g, "/big", &h).await;
    assert!(!status_of(&b).contains("hit"), "{}", status_of(&b));
    assert_eq!(up.requests(), 2);
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
    // The most recent object is still there.
    assert!(status_of(&get(&g, "/e/29", &h).await).contains("hit"));
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

#[tokio::test]
async fn the_store_survives_a_reload_and_head_uses_it() {
    let up = Upstream::start("u").await;
    let g = gw(&up, CACHED).await;
    let h = [("x-echo-header", "Cache-Control: max-age=60")];
    let first = get(&g, "/keep", &h).await;
    g.rewrite(&simple_config(&[&up], "", &format!("{CACHED}\ntitle = \"reloaded\"")));
    assert_eq!(g.admin_post("/reload").await.status, 200);
    let after = get(&g, "/keep", &h).await;
    assert!(status_of(&after).contains("hit"), "{}", status_of(&after));
    assert_eq!(upstream_request_id(&after), upstream_request_id(&first));
    let head = g.send("HEAD", "/keep", &h, b"").await;
    assert_eq!(head.status, 200);
    assert!(status_of(&head).contains("hit") && head.body.is_empty());
    assert_eq!(up.requests(), 1);
}
