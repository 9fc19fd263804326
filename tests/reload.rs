//! Hot reload (SIGHUP and `POST /reload`): atomic swap, refused broken files, in-flight requests
//! and open connections untouched, health state kept.

mod common;
use common::client::KeepAlive;
use common::*;

fn api(name: &str, base: &str, ups: &[&Upstream], cluster_extra: &str) -> String {
    let list: Vec<String> = ups.iter().map(|u| format!("\"{}\"", u.addr)).collect();
    format!(
        "[[cluster]]\nname = \"c\"\nupstreams = [{}]\n{cluster_extra}\n\n[[api]]\nname = \"{name}\"\nbase_path = \"{base}\"\ncluster = \"c\"\n",
        list.join(", ")
    )
}

#[tokio::test]
async fn post_reload_swaps_routes_and_keeps_connections() {
    let up = Upstream::start("u").await;
    let gw = Gateway::start(&api("a", "/a", &[&up], "")).await;
    let mut conn = KeepAlive::connect(gw.addr).await;
    assert_eq!(conn.get("/a/1", &[]).await.unwrap().status, 200);
    // A slow request in flight across the reload finishes on the old snapshot.
    let addr = gw.addr;
    let slow = tokio::spawn(async move { request(addr, "GET", "/a/slow", &[("x-echo-delay-ms", "1000")], b"").await });
    eventually(5, "slow request upstream", || async { up.requests() >= 2 }).await;

    gw.rewrite(&api("b", "/b", &[&up], ""));
    let r = gw.admin_post("/reload").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(gw.get("/a/1").await.status, 404);
    assert_eq!(gw.get("/b/1").await.status, 200);
    assert_eq!(slow.await.unwrap().status, 200, "in-flight request finished");
    // The keep-alive connection opened before the reload still works, on the new config.
    assert_eq!(conn.get("/b/2", &[]).await.expect("connection kept open").status, 200);
    gw.metrics_contain(&["gatehouse_config_reloads_total{result=\"ok\"} 2"]).await;
    let status = gw.admin_get("/status").await.json();
    assert_eq!(status["last_reload"]["result"], "ok");
}

#[tokio::test]
async fn sighup_reloads() {
    let up = Upstream::start("u").await;
    let gw = Gateway::start(&api("a", "/a", &[&up], "")).await;
    gw.rewrite(&api("b", "/b", &[&up], ""));
    let ok = std::process::Command::new("kill").args(["-HUP", &gw.pid().to_string()]).status().unwrap();
    assert!(ok.success());
    eventually(10, "route /b served after SIGHUP", || async { gw.get("/b/1").await.status == 200 }).await;
    assert_eq!(gw.get("/a/1").await.status, 404);
}

#[tokio::test]
async fn a_broken_file_is_refused_and_the_old_config_keeps_serving() {
    let up = Upstream::start("u").await;
    let gw = Gateway::start(&api("a", "/a", &[&up], "")).await;
    let before = gw.admin_get("/status").await.json()["config"]["hash"].clone();
    gw.rewrite("[[api]]\nname = \"b\"\nbase_path = \"/b\"\ncluster = \"nowhere\"\ncolour = \"red\"\n");
    let r = gw.admin_post("/reload").await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    let errors: Vec<String> =
        r.json()["errors"].as_array().unwrap().iter().map(|e| e.as_str().unwrap().to_string()).collect();
    let file = gw.config.display().to_string();
    // The list of expected keys grows with every feature: check its start only.
    let unknown = format!("{file}: api[0].colour: unknown key; expected one of `name`, `version`, `title`, ");
    assert!(errors.iter().any(|e| e.starts_with(&unknown)), "{errors:?}");
    assert!(errors.contains(&format!("{file}: api[0].cluster: no cluster named \"nowhere\"")), "{errors:?}");
    assert_eq!(gw.get("/a/1").await.status, 200, "old config still serving");
    let status = gw.admin_get("/status").await.json();
    assert_eq!(status["last_reload"]["result"], "error");
    assert_eq!(status["last_reload"]["errors"].as_array().unwrap().len(), errors.len());
    assert_eq!(status["config"]["hash"], before, "the serving config did not change");
    gw.metrics_contain(&["gatehouse_config_reloads_total{result=\"error\"} 1"]).await;
}

#[tokio::test]
async fn upstream_health_survives_a_reload_that_keeps_the_cluster() {
    let (a, b) = (Upstream::start("a").await, Upstream::start("b").await);
    // Slow to come back (healthy_after = 1000 checks), so only kept state explains "still down".
    let health =
        "[cluster.health]\nhttp_path = \"/health\"\ninterval = \"100ms\"\nunhealthy_after = 1\nhealthy_after = 1000";
    let gw = Gateway::start(&api("x", "/x", &[&a, &b], health)).await;
    a.set_healthy(false);
    eventually(10, "a down", || async {
        let c = gw.admin_get("/clusters").await.json();
        c["clusters"][0]["upstreams"][0]["healthy"] == false
    })
    .await;
    a.set_healthy(true);
    gw.rewrite(&api("y", "/y", &[&a, &b], health));
    assert_eq!(gw.admin_post("/reload").await.status, 200);
    let before = a.requests();
    for _ in 0..10 {
        assert_eq!(gw.get("/y/1").await.json()["upstream"], "b");
    }
    assert_eq!(a.requests(), before, "a is still out after the reload");
    let c = gw.admin_get("/clusters").await.json();
    assert_eq!(c["clusters"][0]["upstreams"][0]["healthy"], false);
}
