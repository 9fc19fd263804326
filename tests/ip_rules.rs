//! IP rules: `ip_allow` / `ip_deny` globally and per API, on the client address resolved with
//! `trusted_proxies` (X-Forwarded-For counts only from a trusted peer). The test client is
//! always 127.0.0.1; other client addresses arrive through X-Forwarded-For.

mod common;
use common::*;

fn two_apis(up: &Upstream, open_extra: &str, guarded_extra: &str) -> String {
    format!(
        "[[cluster]]\nname = \"c\"\nupstreams = [\"{}\"]\n\n[[api]]\nname = \"open\"\nbase_path = \"/open\"\ncluster = \"c\"\n{open_extra}\n\n[[api]]\nname = \"guarded\"\nbase_path = \"/guarded\"\ncluster = \"c\"\n{guarded_extra}\n",
        up.addr
    )
}

fn assert_forbidden(r: &Response) {
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    assert_eq!(r.json()["type"], "urn:gatehouse:problem:forbidden");
}

#[tokio::test]
async fn per_api_lists_apply_to_their_api_only() {
    let up = Upstream::start("u").await;
    let gw =
        Gateway::start(&two_apis(&up, "ip_deny = [\"10.0.0.0/8\"]", "ip_allow = [\"192.0.2.0/24\", \"::1\"]")).await;
    assert_eq!(gw.get("/open/x").await.status, 200, "127.0.0.1 is not denied");
    assert_forbidden(&gw.get("/guarded/x").await);
    // A denied POST is answered before its body is read; the upstream sees nothing.
    let r = gw.send("POST", "/guarded/x", &[], b"payload").await;
    assert_forbidden(&r);
    assert_eq!(up.requests(), 1);
}

#[tokio::test]
async fn global_lists_cover_every_api_and_unrouted_paths() {
    let up = Upstream::start("u").await;
    let gw = Gateway::start_with("ip_deny = [\"127.0.0.0/8\"]", &two_apis(&up, "", "")).await;
    assert_forbidden(&gw.get("/open/x").await);
    assert_forbidden(&gw.get("/nowhere").await);
    assert_eq!(up.requests(), 0);
    let gw2 =
        Gateway::start_with("ip_allow = [\"127.0.0.1\"]", &two_apis(&up, "", "ip_deny = [\"127.0.0.1/32\"]")).await;
    assert_eq!(gw2.get("/open/x").await.status, 200);
    assert_forbidden(&gw2.get("/guarded/x").await);
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_client_counts() {
    let up = Upstream::start("u").await;
    let gw = Gateway::start_with(
        "trusted_proxies = [\"127.0.0.0/8\"]\nip_allow = [\"198.51.100.0/24\", \"203.0.113.0/24\"]",
        &two_apis(&up, "", "ip_deny = [\"203.0.113.0/24\"]"),
    )
    .await;
    let from = |ip: &'static str| [("X-Forwarded-For", ip)];
    assert_eq!(gw.send("GET", "/guarded/x", &from("198.51.100.7"), b"").await.status, 200);
    assert_forbidden(&gw.send("GET", "/guarded/x", &from("203.0.113.9"), b"").await);
    assert_eq!(gw.send("GET", "/open/x", &from("203.0.113.9"), b"").await.status, 200, "deny is per API");
    // Not in the global allow list: the forwarded client, and the proxy itself without XFF.
    assert_forbidden(&gw.send("GET", "/open/x", &from("192.0.2.1"), b"").await);
    assert_forbidden(&gw.get("/open/x").await);
    // The right-most untrusted address is the client; what it claims before that is ignored.
    assert_forbidden(&gw.send("GET", "/guarded/x", &from("198.51.100.7, 203.0.113.9"), b"").await);
}

#[tokio::test]
async fn from_an_untrusted_peer_forwarded_for_is_ignored() {
    let up = Upstream::start("u").await;
    let gw = Gateway::start(&two_apis(&up, "ip_deny = [\"203.0.113.0/24\"]", "ip_allow = [\"203.0.113.0/24\"]")).await;
    let spoof = [("X-Forwarded-For", "203.0.113.9")];
    assert_eq!(gw.send("GET", "/open/x", &spoof, b"").await.status, 200, "a spoofed denied address is not used");
    assert_forbidden(&gw.send("GET", "/guarded/x", &spoof, b"").await);
}

#[tokio::test]
async fn check_reports_bad_entries() {
    let (code, text) = check_config(
        "[server]\nip_allow = [\"10.0.0.0/33\"]\nip_deny = [\"nope\"]\nmax_conns_per_ip = 0\n[[cluster]]\nname = \"c\"\nupstreams = [\"127.0.0.1:9\"]\n[[api]]\nname = \"a\"\ncluster = \"c\"\nip_deny = [\"::1\", \"1.2.3\"]\n",
    );
    assert_eq!(code, Some(1), "{text}");
    for key in ["server.ip_allow[0]", "server.ip_deny[0]", "server.max_conns_per_ip", "api[0].ip_deny[1]"] {
        assert!(text.contains(&format!(": {key}: ")), "{key} in {text}");
    }
    assert!(!text.contains("ip_deny[0]: \"::1\""), "{text}");
}

#[tokio::test]
async fn a_reload_applies_new_rules() {
    let up = Upstream::start("u").await;
    let gw = Gateway::start(&two_apis(&up, "", "")).await;
    assert_eq!(gw.get("/guarded/x").await.status, 200);
    gw.rewrite(&two_apis(&up, "", "ip_deny = [\"127.0.0.0/8\", \"::1\"]"));
    assert_eq!(gw.admin_post("/reload").await.status, 200);
    assert_forbidden(&gw.get("/guarded/x").await);
    assert_eq!(gw.get("/open/x").await.status, 200);
}
