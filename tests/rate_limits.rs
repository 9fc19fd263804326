//! Rate limits, quotas and concurrency limits through the real gateway binary, each scenario on
//! the local backend and on a real Redis (`::local` / `::redis`): exactness under a concurrent
//! burst (on Redis: two gateway processes sharing it), header values step by step, Retry-After
//! honoured, one consumer never spending another's, a denied request taking nothing, concurrency
//! slots given back however a request ends. Window arithmetic with an injected clock:
//! `src/limits/gcra.rs` and `tests/redis_script.rs`; Redis outages and TLS: `tests/redis_backend.rs`.

mod common;

use common::redis::RedisServer;
use common::{check_config, simple_config, Gateway, Response, Upstream};
use sha2::{Digest, Sha256};
use std::time::Duration;

fn key_hash(key: &str) -> String {
    let d = Sha256::digest(key.as_bytes());
    format!("sha256:{}", d.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// alice (`alice-key`) and bob (`bob-key`) on plan `small`; the API needs an API key.
fn consumers_config(up: &Upstream, plan: &str) -> String {
    format!(
        "{}\n[[plan]]\nname = \"small\"\n{plan}\n\n[[consumer]]\nname = \"alice\"\nplan = \"small\"\napi_keys = [\"{}\"]\n\n[[consumer]]\nname = \"bob\"\nplan = \"small\"\napi_keys = [\"{}\"]\n",
        simple_config(&[up], "", "auth = [\"api_key\"]"),
        key_hash("alice-key"),
        key_hash("bob-key"),
    )
}

/// Where the gateways of a scenario keep their counts: the `[limits]` table to append to their
/// config, and the Redis server they share (alive for the test).
struct Counts {
    toml: String,
    redis: Option<RedisServer>,
}

impl Counts {
    /// Exact while Redis decides: wait for the gateway's connection (until then
    /// `on_backend_error` lets requests through undecided, as configured).
    async fn ready(&self, gw: &Gateway) {
        if self.redis.is_some() {
            common::eventually(10, "connected to Redis", || async {
                gw.admin_get("/status").await.json()["limits"]["redis"] == "up"
            })
            .await;
        }
    }
}

/// `None`: Redis wanted but not installed outside CI (the test skips with a printed reason).
async fn counts(redis: bool) -> Option<Counts> {
    if !redis {
        return Some(Counts { toml: String::new(), redis: None });
    }
    let r = RedisServer::start().await?;
    // Decisions, not outages, are tested here: a loaded test machine gets a generous timeout, and
    // a request Redis did not decide is refused (503), never mistaken for an allowed one.
    let toml = format!(
        "\n[limits]\nbackend = \"redis\"\nredis_url = \"{}\"\ntimeout = \"5s\"\non_backend_error = \"deny\"\n",
        r.url
    );
    Some(Counts { toml, redis: Some(r) })
}

/// Each scenario as two tests: `NAME::local` and `NAME::redis`.
macro_rules! on_both_backends {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn local() {
                super::$scenario(false).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn redis() {
                super::$scenario(true).await
            }
        }
    )*};
}

on_both_backends!(
    a_burst_of_200_against_50_lets_exactly_50_through,
    header_values_step_by_step,
    retry_after_is_honoured,
    one_consumer_never_spends_anothers,
    a_denied_request_consumes_no_other_limit,
    concurrency_slots_are_released_however_a_request_ends,
    a_reload_keeps_the_state_of_unchanged_limits,
    long_header_keys_count_apart_by_digest,
);

/// The value of one metric line (0 when absent).
async fn metric(gw: &Gateway, line_start: &str) -> u64 {
    let text = gw.metrics().await;
    text.lines().find_map(|l| l.strip_prefix(line_start)).and_then(|v| v.trim().parse().ok()).unwrap_or(0)
}

/// One gateway locally; on Redis two gateway processes share the count, each sent half.
async fn a_burst_of_200_against_50_lets_exactly_50_through(redis: bool) {
    let Some(counts) = counts(redis).await else { return };
    let up = Upstream::start("u").await;
    let config = simple_config(&[&up], "", "limits = [{ rate = \"50/hour\", key = \"route\" }]") + &counts.toml;
    let mut gateways = vec![Gateway::start_with("threads = 2", &config).await];
    if counts.redis.is_some() {
        gateways.push(Gateway::start_with("threads = 2", &config).await);
    }
    for gw in &gateways {
        counts.ready(gw).await;
    }
    let addrs: Vec<_> = gateways.iter().map(|g| g.addr).collect();
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let addr = addrs[i % addrs.len()];
            tokio::spawn(async move { common::request(addr, "GET", "/x", &[], b"").await.status })
        })
        .collect();
    let mut ok = 0;
    let mut limited = 0;
    for t in tasks {
        match t.await.unwrap() {
            200 => ok += 1,
            429 => limited += 1,
            s => panic!("unexpected status {s}"),
        }
    }
    assert_eq!((ok, limited), (50, 150));
    assert_eq!(up.requests(), 50);
    let (mut allowed, mut denied) = (0, 0);
    for gw in &gateways {
        let line = "gatehouse_ratelimit_decisions_total{api=\"a\",policy=\"api-0\",result=";
        allowed += metric(gw, &format!("{line}\"allowed\"}}")).await;
        denied += metric(gw, &format!("{line}\"limited\"}}")).await;
    }
    assert_eq!((allowed, denied), (50, 150));
}

fn limit_headers(r: &Response) -> [Option<&str>; 5] {
    [
        r.header("ratelimit-policy"),
        r.header("ratelimit"),
        r.header("x-ratelimit-limit"),
        r.header("x-ratelimit-remaining"),
        r.header("x-ratelimit-reset"),
    ]
}

async fn header_values_step_by_step(redis: bool) {
    let Some(counts) = counts(redis).await else { return };
    let up = Upstream::start("u").await;
    let gw =
        Gateway::start(&(simple_config(&[&up], "", "limits = [{ rate = \"3/hour\", key = \"ip\" }]") + &counts.toml))
            .await;
    counts.ready(&gw).await;
    let policy = Some("\"api-0\";q=3;w=3600");
    for (i, (r, t)) in [(2, 1200), (1, 2400), (0, 3600)].into_iter().enumerate() {
        let resp = gw.get("/x").await;
        assert_eq!(resp.status, 200, "request {i}");
        let state = format!("\"api-0\";r={r};t={t}");
        let (r, t) = (r.to_string(), t.to_string());
        assert_eq!(
            limit_headers(&resp),
            [policy, Some(state.as_str()), Some("3"), Some(r.as_str()), Some(t.as_str())],
            "request {i}"
        );
    }
    let resp = gw.get("/x").await;
    assert_eq!(resp.status, 429);
    assert_eq!(resp.header("content-type"), Some("application/problem+json"));
    assert_eq!(resp.json()["status"], 429);
    assert_eq!(resp.header("retry-after"), Some("1200"));
    assert_eq!(limit_headers(&resp), [policy, Some("\"api-0\";r=0;t=3600"), Some("3"), Some("0"), Some("3600")]);
    assert_eq!(up.requests(), 3);
}

async fn retry_after_is_honoured(redis: bool) {
    let Some(counts) = counts(redis).await else { return };
    let up = Upstream::start("u").await;
    let gw = Gateway::start(&(simple_config(&[&up], "", "limits = [{ rate = \"2/s\" }]") + &counts.toml)).await;
    counts.ready(&gw).await;
    assert_eq!(gw.get("/x").await.status, 200);
    assert_eq!(gw.get("/x").await.status, 200);
    let denied = gw.get("/x").await;
    assert_eq!(denied.status, 429);
    let wait: u64 = denied.header("retry-after").unwrap().parse().unwrap();
    assert_eq!(wait, 1, "Retry-After of 2/s");
    tokio::time::sleep(Duration::from_secs(wait)).await;
    assert_eq!(gw.get("/x").await.status, 200);
}

async fn one_consumer_never_spends_anothers(redis: bool) {
    let Some(counts) = counts(redis).await else { return };
    let up = Upstream::start("u").await;
    let gw = Gateway::start(&(consumers_config(&up, "rate = \"2/hour\"\nquota = \"100/day\"") + &counts.toml)).await;
    counts.ready(&gw).await;
    let alice = [("x-api-key", "alice-key")];
    let bob = [("x-api-key", "bob-key")];
    assert_eq!(gw.send("GET", "/x", &alice, b"").await.status, 200);
    assert_eq!(gw.send("GET", "/x", &alice, b"").await.status, 200);
    let denied = gw.send("GET", "/x", &alice, b"").await;
    assert_eq!(denied.status, 429);
    // Denied by the rate: the quota gave its count back (98 left after two).
    let first = gw.send("GET", "/x", &bob, b"").await;
    assert_eq!(first.status, 200);
    assert_eq!(first.header("x-ratelimit-remaining"), Some("1"));
    let rl = first.header("ratelimit").unwrap();
    assert!(rl.starts_with("\"small\";r=1;t=1800, \"small-quota\";r=99;t="), "{rl}");
    assert_eq!(first.header("ratelimit-policy"), Some("\"small\";q=2;w=3600, \"small-quota\";q=100;w=86400"));
    assert_eq!(gw.send("GET", "/x", &bob, b"").await.status, 200);
    assert_eq!(gw.send("GET", "/x", &bob, b"").await.status, 429);
    // Anonymous requests never reach the limiter (401 first).
    assert_eq!(gw.get("/x").await.status, 401);
}

async fn a_denied_request_consumes_no_other_limit(redis: bool) {
    let Some(counts) = counts(redis).await else { return };
    let up = Upstream::start("u").await;
    // The quota allows 3; the route rate 1/hour denies the second request, which must not count
    // against the quota: after that, the quota still has 2 for other header values.
    let gw = Gateway::start(
        &(simple_config(
            &[&up],
            "",
            "limits = [{ quota = \"3/day\", key = \"route\" }, { rate = \"1/hour\", key = \"header:x-tenant\" }]",
        ) + &counts.toml),
    )
    .await;
    counts.ready(&gw).await;
    let t = |v: &'static str| [("x-tenant", v)];
    assert_eq!(gw.send("GET", "/x", &t("a"), b"").await.status, 200);
    for _ in 0..3 {
        assert_eq!(gw.send("GET", "/x", &t("a"), b"").await.status, 429);
    }
    assert_eq!(gw.send("GET", "/x", &t("b"), b"").await.status, 200);
    let last = gw.send("GET", "/x", &t("c"), b"").await;
    assert_eq!(last.status, 200);
    assert_eq!(last.header("x-ratelimit-remaining"), Some("0"));
    assert_eq!(gw.send("GET", "/x", &t("d"), b"").await.status, 429);
}

async fn concurrency_slots_are_released_however_a_request_ends(redis: bool) {
    let Some(counts) = counts(redis).await else { return };
    let up = Upstream::start("u").await;
    let gw = Gateway::start(&(consumers_config(&up, "concurrency = 1") + &counts.toml)).await;
    counts.ready(&gw).await;
    let addr = gw.addr;
    // Counted before the slow request starts: it may reach the upstream before this task runs.
    let before = up.requests();
    let slow = tokio::spawn(async move {
        common::request(addr, "GET", "/slow", &[("x-api-key", "alice-key"), ("x-echo-delay-ms", "800")], b"").await
    });
    common::eventually(15, "the slow request reached the upstream", || async { up.requests() > before }).await;
    let busy = gw.send("GET", "/x", &[("x-api-key", "alice-key")], b"").await;
    assert_eq!(busy.status, 429);
    assert_eq!(busy.header("retry-after"), Some("1"));
    assert_eq!(
        limit_headers(&busy),
        [
            Some("\"small-concurrency\";q=1;qu=\"concurrent-requests\""),
            Some("\"small-concurrency\";r=0;t=1"),
            Some("1"),
            Some("0"),
            Some("1")
        ]
    );
    // Another consumer has its own slot.
    assert_eq!(gw.send("GET", "/x", &[("x-api-key", "bob-key")], b"").await.status, 200);
    assert_eq!(slow.await.unwrap().status, 200);
    // A failed upstream gives the slot back too.
    let failed = gw.send("GET", "/x", &[("x-api-key", "alice-key"), ("x-echo-reset", "1")], b"").await;
    assert_eq!(failed.status, 502);
    for _ in 0..3 {
        assert_eq!(gw.send("GET", "/x", &[("x-api-key", "alice-key")], b"").await.status, 200);
    }
}

#[test]
fn check_reports_plans_and_limits() {
    let text = r#"
[[cluster]]
name = "c"
upstreams = ["127.0.0.1:1"]

[[plan]]
name = "p"
burst = 0
rate = "5/week"

[[consumer]]
name = "alice"
plan = "nope"

[[api]]
name = "a"
cluster = "c"
plan = "missing"
limits = [{ key = "cookie:x", rate = "1/s" }, { burst = 2 }]
"#;
    let (code, out) = check_config(text);
    assert_eq!(code, Some(1), "{out}");
    for want in [
        "plan[0].rate:",
        "consumer[0].plan: no plan named \"nope\"",
        "api[0].plan: no plan named \"missing\"",
        "api[0].limits[0].key:",
        "api[0].limits[1]: needs a rate or a quota",
        "api[0].limits[1].burst: needs a rate",
    ] {
        assert!(out.contains(want), "missing {want:?} in\n{out}");
    }
}

#[test]
fn check_reports_the_limits_backend() {
    let base = "[[cluster]]\nname = \"c\"\nupstreams = [\"127.0.0.1:1\"]\n";
    for (limits, want) in [
        ("backend = \"redis\"", "limits.redis_url: backend = \"redis\" needs a redis_url"),
        ("backend = \"redis\"\nredis_url = \"http://secret@example.com\"", "limits.redis_url: not a Redis URL"),
        ("timeout = \"0s\"", "limits.timeout: must be between 1ms and 10s"),
        ("backend = \"memcached\"", "limits.backend:"),
        ("on_backend_error = \"maybe\"", "limits.on_backend_error:"),
        ("redis = \"x\"", "limits.redis:"),
    ] {
        let (code, out) = check_config(&format!("{base}\n[limits]\n{limits}\n"));
        assert_eq!(code, Some(1), "{limits}: {out}");
        assert!(out.contains(want), "{limits}: missing {want:?} in\n{out}");
        assert!(!out.contains("secret"), "a Redis URL's credentials are never printed: {out}");
    }
    let (code, out) = check_config(&format!(
        "{base}\n[limits]\nbackend = \"redis\"\nredis_url = \"redis://:pw@127.0.0.1:6399/2\"\ntimeout = \"20ms\"\non_backend_error = \"deny\"\n"
    ));
    assert_eq!(code, Some(0), "{out}");
}

async fn a_reload_keeps_the_state_of_unchanged_limits(redis: bool) {
    let Some(counts) = counts(redis).await else { return };
    let up = Upstream::start("u").await;
    let body = |limits: &str, title: &str| {
        simple_config(&[&up], "", &format!("title = \"{title}\"\nlimits = [{limits}]")) + &counts.toml
    };
    let gw = Gateway::start(&body("{ rate = \"2/hour\" }", "one")).await;
    counts.ready(&gw).await;
    assert_eq!(gw.get("/x").await.status, 200);
    assert_eq!(gw.get("/x").await.status, 200);
    assert_eq!(gw.get("/x").await.status, 429);
    // Same limit, something else changed: the count survives.
    gw.rewrite(&body("{ rate = \"2/hour\" }", "two"));
    assert_eq!(gw.admin_post("/reload").await.status, 200);
    assert_eq!(gw.get("/x").await.status, 429);
    // A changed limit starts afresh.
    gw.rewrite(&body("{ rate = \"3/hour\" }", "two"));
    assert_eq!(gw.admin_post("/reload").await.status, 200);
    let r = gw.get("/x").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-ratelimit-remaining"), Some("2"));
}

/// Header values over 64 bytes are counted by their SHA-256 (a client cannot make the limiter
/// hold kilobytes per key): equal long values share a count, values differing in the last byte
/// do not.
async fn long_header_keys_count_apart_by_digest(redis: bool) {
    let Some(counts) = counts(redis).await else { return };
    let up = Upstream::start("u").await;
    let gw = Gateway::start(
        &(simple_config(&[&up], "", "limits = [{ rate = \"1/hour\", key = \"header:x-tenant\" }]") + &counts.toml),
    )
    .await;
    counts.ready(&gw).await;
    let (a, b) = ("t".repeat(99) + "a", "t".repeat(99) + "b");
    let send = |v: &str| {
        let v = v.to_string();
        let gw = &gw;
        async move { gw.send("GET", "/x", &[("x-tenant", v.as_str())], b"").await.status }
    };
    assert_eq!(send(&a).await, 200);
    assert_eq!(send(&a).await, 429);
    assert_eq!(send(&b).await, 200);
    if let Some(r) = &counts.redis {
        let keys = r.command("KEYS *").await.unwrap_or_default();
        assert!(keys.contains(":sha256:") && !keys.contains("tttttttt"), "{keys}");
    }
}
