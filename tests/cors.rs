//! CORS per API: preflights answered by the gateway (allowed: 204 with the policy; not allowed:
//! 403 without CORS headers), actual requests get the allowed origin, credentials, exposed
//! headers and `Vary: Origin`.

mod common;
use common::*;

const ORIGIN: &str = "https://app.example";

const CORS: &str = r#"
[api.cors]
origins = ["https://app.example", "http://localhost:3000"]
methods = ["GET", "POST"]
headers = ["X-Token", "Content-Type"]
expose_headers = ["X-Upstream"]
credentials = true
max_age = "10m"

[[api.route]]
path = "/r"
methods = ["GET", "POST", "PUT"]
"#;

async fn gateway(api_extra: &str) -> (Gateway, Upstream) {
    let up = Upstream::start("u").await;
    let gw = Gateway::start(&simple_config(&[&up], "", api_extra)).await;
    (gw, up)
}

async fn preflight(gw: &Gateway, origin: &str, method: &str, headers: Option<&str>) -> Response {
    let mut h = vec![("Origin", origin), ("Access-Control-Request-Method", method)];
    if let Some(v) = headers {
        h.push(("Access-Control-Request-Headers", v));
    }
    gw.send("OPTIONS", "/r", &h, b"").await
}

#[tokio::test]
async fn allowed_preflight_is_answered_by_the_gateway() {
    let (gw, up) = gateway(CORS).await;
    let r = preflight(&gw, ORIGIN, "POST", Some("x-token, content-type")).await;
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(r.header("access-control-allow-origin"), Some(ORIGIN));
    assert_eq!(r.header("access-control-allow-methods"), Some("GET, POST"));
    assert_eq!(r.header("access-control-allow-headers"), Some("x-token, content-type"));
    assert_eq!(r.header("access-control-allow-credentials"), Some("true"));
    assert_eq!(r.header("access-control-max-age"), Some("600"));
    assert!(r.header("vary").unwrap().contains("Origin"));
    let r = preflight(&gw, "http://localhost:3000", "GET", None).await;
    assert_eq!(r.status, 204);
    assert_eq!(r.header("access-control-allow-origin"), Some("http://localhost:3000"));
    assert_eq!(up.requests(), 0, "preflights never reach the upstream");
}

#[tokio::test]
async fn refused_preflights_get_403_without_cors_headers() {
    let (gw, up) = gateway(CORS).await;
    for (origin, method, headers) in [
        ("https://evil.example", "GET", None),
        ("https://app.example.evil", "GET", None),
        (ORIGIN, "PUT", None),
        (ORIGIN, "POST", Some("x-token, x-other")),
    ] {
        let r = preflight(&gw, origin, method, headers).await;
        assert_eq!(r.status, 403, "{origin} {method} {headers:?}: {}", r.text());
        assert_eq!(r.header("access-control-allow-origin"), None);
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
    }
    // A method the route does not serve at all: the ordinary 405, no CORS headers either.
    let r = preflight(&gw, ORIGIN, "DELETE", None).await;
    assert_eq!((r.status, r.header("access-control-allow-origin")), (405, None));
    // OPTIONS without Access-Control-Request-Method is no preflight: routed as OPTIONS (405 here).
    let r = gw.send("OPTIONS", "/r", &[("Origin", ORIGIN)], b"").await;
    assert_eq!(r.status, 405);
    assert_eq!(up.requests(), 0);
}

#[tokio::test]
async fn actual_requests_carry_the_policy() {
    let (gw, _up) = gateway(CORS).await;
    let r = gw.send("GET", "/r", &[("Origin", ORIGIN)], b"").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("access-control-allow-origin"), Some(ORIGIN));
    assert_eq!(r.header("access-control-allow-credentials"), Some("true"));
    assert_eq!(r.header("access-control-expose-headers"), Some("X-Upstream"));
    assert!(r.header("vary").is_some_and(|v| v.contains("Origin")));
    let r = gw.send("GET", "/r", &[("Origin", "https://evil.example")], b"").await;
    assert_eq!(r.status, 200, "the browser enforces; the gateway just says nothing");
    assert_eq!(r.header("access-control-allow-origin"), None);
    assert_eq!(r.header("access-control-allow-credentials"), None);
    let r = gw.get("/r").await;
    assert_eq!(r.header("access-control-allow-origin"), None);
    assert!(r.header("vary").is_some_and(|v| v.contains("Origin")));
}

#[tokio::test]
async fn a_wildcard_without_credentials_answers_star() {
    let (gw, _up) = gateway("[api.cors]\norigins = [\"*\"]\n").await;
    let r = gw.send("GET", "/x", &[("Origin", "https://any.example")], b"").await;
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert_eq!(r.header("access-control-allow-credentials"), None);
    assert_eq!(r.header("vary"), None);
    let r = gw
        .send(
            "OPTIONS",
            "/x",
            &[
                ("Origin", "https://any.example"),
                ("Access-Control-Request-Method", "PUT"),
                ("Access-Control-Request-Headers", "x-anything"),
            ],
            b"",
        )
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert_eq!(r.header("access-control-allow-headers"), Some("x-anything"), "no list: what was asked");
}

#[tokio::test]
async fn check_rejects_a_wildcard_with_credentials_and_bad_origins() {
    let (code, text) = check_config(
        "[[cluster]]\nname = \"c\"\nupstreams = [\"127.0.0.1:9\"]\n[[api]]\nname = \"a\"\ncluster = \"c\"\n[api.cors]\norigins = [\"*\", \"https://ok.example:8443\", \"https://x.example/path\", \"http://[::1]:3000\"]\ncredentials = true\nmethods = [\"FETCH\"]\nheaders = [\"bad header\"]\n",
    );
    assert_eq!(code, Some(1), "{text}");
    for key in ["api[0].cors.origins[0]", "api[0].cors.origins[2]", "api[0].cors.methods[0]", "api[0].cors.headers[0]"]
    {
        assert!(text.contains(&format!(": {key}: ")), "{key} in {text}");
    }
    for ok in ["origins[1]", "origins[3]"] {
        assert!(!text.contains(ok), "{ok} is valid: {text}");
    }
}

#[tokio::test]
async fn gateway_made_answers_carry_the_policy_too() {
    let (gw, mut up) = gateway(CORS).await;
    up.kill();
    let r = gw.send("GET", "/r", &[("Origin", ORIGIN)], b"").await;
    assert_eq!(r.status, 502, "{}", r.text());
    assert_eq!(r.header("access-control-allow-origin"), Some(ORIGIN), "a script may read the refusal");
    assert_eq!(r.header("access-control-allow-credentials"), Some("true"));
    assert_eq!(r.header("vary"), Some("Origin"));
}

/// Preflights carry no credentials: on an API that needs a key they are still answered (CORS
/// runs before authentication), and the 401 for a keyless request carries the CORS headers so
/// the calling script can read it.
#[tokio::test]
async fn preflight_passes_authentication_and_refusals_carry_cors() {
    let (gw, up) = gateway(&format!("auth = [\"api_key\"]\n{CORS}")).await;
    let r = preflight(&gw, ORIGIN, "POST", Some("x-token")).await;
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(r.header("access-control-allow-origin"), Some(ORIGIN));
    let r = gw.send("GET", "/r", &[("Origin", ORIGIN)], b"").await;
    assert_eq!(r.status, 401, "{}", r.text());
    assert_eq!(r.header("access-control-allow-origin"), Some(ORIGIN));
    assert!(r.header("www-authenticate").is_some());
    assert_eq!(up.requests(), 0);
}
