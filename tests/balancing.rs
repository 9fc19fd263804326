//! Each balancer over real upstreams.

mod common;
use common::*;
use std::collections::HashMap;

/// In-flight count of each upstream of the first cluster, from the admin API.
async fn in_flight(gw: &Gateway) -> Vec<u64> {
    let c = gw.admin_get("/clusters").await.json();
    c["clusters"][0]["upstreams"].as_array().unwrap().iter().map(|u| u["in_flight"].as_u64().unwrap()).collect()
}

async fn tally(gw: &Gateway, n: usize, headers: &[(&str, &str)]) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    for _ in 0..n {
        let r = gw.send("GET", "/x", headers, b"").await;
        assert_eq!(r.status, 200, "{}", r.text());
        *seen.entry(r.json()["upstream"].as_str().unwrap().to_string()).or_default() += 1;
    }
    seen
}

#[tokio::test]
async fn round_robin_spreads_evenly() {
    let ups = [Upstream::start("u0").await, Upstream::start("u1").await, Upstream::start("u2").await];
    let gw = Gateway::start(&simple_config(&ups.iter().collect::<Vec<_>>(), "", "")).await;
    let seen = tally(&gw, 90, &[]).await;
    for u in ["u0", "u1", "u2"] {
        assert_eq!(seen.get(u), Some(&30), "{seen:?}");
    }
}

#[tokio::test]
async fn weighted_follows_weights() {
    let (a, b) = (Upstream::start("heavy").await, Upstream::start("light").await);
    let cfg = format!(
        "[[cluster]]\nname = \"c\"\nbalance = \"weighted\"\nupstreams = [{{ addr = \"{}\", weight = 3 }}, {{ addr = \"{}\", weight = 1 }}]\n\n[[api]]\nname = \"a\"\nbase_path = \"/\"\ncluster = \"c\"\n",
        a.addr, b.addr
    );
    let gw = Gateway::start(&cfg).await;
    let seen = tally(&gw, 400, &[]).await;
    let heavy = *seen.get("heavy").unwrap_or(&0) as f64;
    assert!((heavy / 400.0 - 0.75).abs() < 0.05, "{seen:?}");
}

#[tokio::test]
async fn consistent_hash_is_stable_per_key_and_spreads_keys() {
    let ups = [Upstream::start("u0").await, Upstream::start("u1").await, Upstream::start("u2").await];
    let gw = Gateway::start(&simple_config(
        &ups.iter().collect::<Vec<_>>(),
        "balance = \"consistent_hash\"\nhash_on = \"header:x-user\"",
        "",
    ))
    .await;
    let mut owners = HashMap::new();
    for user in 0..30 {
        let id = format!("user-{user}");
        let seen = tally(&gw, 5, &[("x-user", &id)]).await;
        assert_eq!(seen.len(), 1, "key {id} moved between upstreams: {seen:?}");
        owners.insert(id, seen.into_keys().next().unwrap());
    }
    let distinct: std::collections::HashSet<_> = owners.values().collect();
    assert!(distinct.len() >= 2, "30 keys all on one upstream: {owners:?}");
}

#[tokio::test]
async fn consistent_hash_on_cookie_and_path() {
    let ups = [Upstream::start("u0").await, Upstream::start("u1").await];
    let refs: Vec<&Upstream> = ups.iter().collect();
    let gw = Gateway::start(&simple_config(&refs, "balance = \"consistent_hash\"\nhash_on = \"cookie:sid\"", "")).await;
    let seen = tally(&gw, 6, &[("Cookie", "a=1; sid=abc; b=2")]).await;
    assert_eq!(seen.len(), 1, "{seen:?}");
    let gw = Gateway::start(&simple_config(&refs, "balance = \"consistent_hash\"\nhash_on = \"path\"", "")).await;
    let seen = tally(&gw, 6, &[]).await;
    assert_eq!(seen.len(), 1, "{seen:?}");
}

#[tokio::test]
async fn least_request_avoids_the_busy_upstream() {
    let (slow, fast) = (Upstream::start("slow").await, Upstream::start("fast").await);
    let gw = Gateway::start_with("", &simple_config(&[&slow, &fast], "balance = \"least_request\"", "")).await;
    // Park two long requests; least_request sends them to different peers or both to one,
    // but while they are in flight every other request goes to the idle peer(s).
    let addr = gw.addr;
    let parked: Vec<_> = (0..2)
        .map(|_| tokio::spawn(async move { request(addr, "GET", "/x", &[("x-echo-delay-ms", "1500")], b"").await }))
        .collect();
    eventually(5, "two requests in flight", || async { in_flight(&gw).await.iter().sum::<u64>() == 2 }).await;
    let loads = in_flight(&gw).await;
    assert_eq!(loads, vec![1, 1], "least_request spread the parked requests");
    // Now make one peer busier: park one more, then the next quick ones go to the other.
    let extra = tokio::spawn(async move { request(addr, "GET", "/x", &[("x-echo-delay-ms", "1500")], b"").await });
    eventually(5, "three in flight", || async { in_flight(&gw).await.iter().sum::<u64>() == 3 }).await;
    let clusters = gw.admin_get("/clusters").await.json();
    let ups = clusters["clusters"][0]["upstreams"].as_array().unwrap();
    let idle = ups.iter().find(|u| u["in_flight"] == 1).unwrap()["addr"].as_str().unwrap().to_string();
    let idle_name = if idle == slow.addr.to_string() { "slow" } else { "fast" };
    let seen = tally(&gw, 5, &[]).await;
    assert_eq!(seen.get(idle_name), Some(&5), "{seen:?}");
    for p in parked {
        assert_eq!(p.await.unwrap().status, 200);
    }
    assert_eq!(extra.await.unwrap().status, 200);
}
