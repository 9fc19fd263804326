//! Response caching (issue 6), RFC 9111 directive by directive, against the real binary and a
//! real echo upstream. The echo upstream answers with the headers a test asks for
//! (`x-echo-header`, `x-echo-etag`); its request counter shows what reached it. Sharing, purge
//! and eviction are in `cache_sharing.rs`.

mod common;

use common::cache::*;
use common::{simple_config, Gateway, Upstream};
use std::time::Duration;

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

#[tokio::test]
async fn stale_if_error_covers_an_upstream_5xx_and_client_no_store_bypasses() {
    let up = Upstream::start("u").await;
    let g = gw(&up, CACHED).await;
    let cc = ("x-echo-header", "Cache-Control: max-age=1, stale-if-error=60");
    let first = get(&g, "/sie5", &[cc]).await;
    // Once stale, the upstream answers 503: the stored answer stands in.
    let stale = get_until(&g, "/sie5", &[cc, ("x-echo-status", "503")], "stale-if-error").await;
    assert_eq!(stale.status, 200);
    assert_eq!(upstream_request_id(&stale), upstream_request_id(&first));
    // A client's own no-store: straight to the upstream, nothing looked up or stored.
    let before = up.requests();
    let r = get(&g, "/sie5", &[cc, ("cache-control", "no-store")]).await;
    assert!(status_of(&r).contains("bypass"), "{}", status_of(&r));
    assert_eq!(up.requests(), before + 1);
}
