//! API keys, basic auth, groups, identity headers, 401 vs 403 and the early-401 smuggling case,
//! through the real gateway binary.

mod common;

use base64::Engine;
use common::{simple_config, Gateway, Response, Upstream};
use sha2::{Digest, Sha256};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn key_hash(key: &str) -> String {
    let d = Sha256::digest(key.as_bytes());
    format!("sha256:{}", d.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

fn argon2_hash(password: &str) -> String {
    use argon2::password_hash::{PasswordHasher, SaltString};
    // Small parameters keep the debug-build test quick; the format is the production one.
    let params = argon2::Params::new(64, 1, 1, None).unwrap();
    let a = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let salt = SaltString::encode_b64(b"gatehouse-test-salt").unwrap();
    a.hash_password(password.as_bytes(), &salt).unwrap().to_string()
}

fn basic(user: &str, pass: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}")))
}

/// alice (admins, staff) has key `alice-key` and bcrypt user `alice`; bob (no groups) has key
/// `bob-key` and argon2id user `bob`. `/admin` needs group admins; `/public` is public.
fn config(up: &Upstream, auth: &str) -> String {
    let api = format!("auth = {auth}\nkey_query = \"apikey\"\n");
    format!(
        r#"{}
[[api.route]]
path = "/admin"
groups = ["admins"]

[[api.route]]
path = "/public"
auth = []

[[api.route]]
path = "/"

[[consumer]]
name = "alice"
groups = ["admins", "staff"]
plan = "gold"
api_keys = ["{}"]
basic = {{ alice = "{}" }}

[[consumer]]
name = "bob"
api_keys = ["{}"]
basic = {{ bob = "{}" }}

[[plan]]
name = "gold"
"#,
        simple_config(&[up], "", &api),
        key_hash("alice-key"),
        bcrypt::hash("alice-pw", 4).unwrap(),
        key_hash("bob-key"),
        argon2_hash("bob-pw"),
    )
}

async fn setup(auth: &str) -> (Upstream, Gateway) {
    let up = Upstream::start("u").await;
    let gw = Gateway::start(&config(&up, auth)).await;
    (up, gw)
}

fn assert_401(r: &Response, challenges: &[&str]) {
    assert_eq!(r.status, 401, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    let got: Vec<&str> =
        r.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case("www-authenticate")).map(|(_, v)| v.as_str()).collect();
    assert_eq!(got.len(), challenges.len(), "{got:?}");
    for (g, want) in got.iter().zip(challenges) {
        assert!(g.starts_with(want), "{g} vs {want}");
    }
    assert_eq!(r.json()["status"], 401);
}

#[tokio::test]
async fn api_key_in_header_accepted_rejected_and_removed() {
    let (_up, gw) = setup(r#"["api_key"]"#).await;
    let r = gw.send("GET", "/x", &[("X-API-Key", "alice-key")], b"").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.echoed_header("x-consumer-name").as_deref(), Some("alice"));
    assert_eq!(r.echoed_header("x-consumer-groups").as_deref(), Some("admins,staff"));
    assert_eq!(r.echoed_header("x-api-key"), None, "the key is not forwarded");

    assert_401(
        &gw.send("GET", "/x", &[("X-API-Key", "wrong")], b"").await,
        &["ApiKey header=\"X-API-Key\", query=\"apikey\""],
    );
    assert_401(&gw.get("/x").await, &["ApiKey"]);
    // Public route: no credentials needed.
    assert_eq!(gw.get("/public").await.status, 200);
}

#[tokio::test]
async fn api_key_in_query_is_removed_before_forwarding() {
    let (_up, gw) = setup(r#"["api_key"]"#).await;
    let r = gw.get("/x?a=1&apikey=bob-key&b=2").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.echoed_header("x-consumer-name").as_deref(), Some("bob"));
    assert_eq!(r.json()["path"], "/x?a=1&b=2");
    let r = gw.get("/x?apikey=bob-key").await;
    assert_eq!(r.json()["path"], "/x");
    assert_401(&gw.get("/x?apikey=nope").await, &["ApiKey"]);
}

#[tokio::test]
async fn basic_auth_bcrypt_and_argon2id() {
    let (_up, gw) = setup(r#"["basic"]"#).await;
    for (user, pass, consumer) in [("alice", "alice-pw", "alice"), ("bob", "bob-pw", "bob")] {
        let auth = basic(user, pass);
        for _ in 0..2 {
            // The second time comes from the verification cache.
            let r = gw.send("GET", "/x", &[("Authorization", &auth)], b"").await;
            assert_eq!(r.status, 200, "{user}: {}", r.text());
            assert_eq!(r.echoed_header("x-consumer-name").as_deref(), Some(consumer));
            assert_eq!(r.echoed_header("authorization"), None, "credentials are not forwarded");
        }
    }
    for bad in [basic("alice", "bob-pw"), basic("carol", "x"), "Basic !!!".into(), basic("alice", "")] {
        assert_401(&gw.send("GET", "/x", &[("Authorization", &bad)], b"").await, &["Basic realm=\"a\""]);
    }
    // An API key is no credential on a basic-only API.
    assert_401(&gw.send("GET", "/x", &[("X-API-Key", "alice-key")], b"").await, &["Basic"]);
}

#[tokio::test]
async fn any_accepted_method_suffices_and_401_lists_each() {
    let (_up, gw) = setup(r#"["api_key", "basic"]"#).await;
    assert_401(&gw.get("/x").await, &["ApiKey", "Basic"]);
    assert_eq!(gw.send("GET", "/x", &[("X-API-Key", "bob-key")], b"").await.status, 200);
    assert_eq!(gw.send("GET", "/x", &[("Authorization", &basic("bob", "bob-pw"))], b"").await.status, 200);
}

#[tokio::test]
async fn groups_give_403_when_authenticated_but_not_allowed() {
    let (_up, gw) = setup(r#"["api_key"]"#).await;
    let r = gw.send("GET", "/admin", &[("X-API-Key", "alice-key")], b"").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = gw.send("GET", "/admin", &[("X-API-Key", "bob-key")], b"").await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    assert!(r.header("www-authenticate").is_none());
    assert_401(&gw.get("/admin").await, &["ApiKey"]);
}

#[tokio::test]
async fn client_sent_identity_headers_never_reach_the_upstream() {
    let (_up, gw) = setup(r#"["api_key"]"#).await;
    let spoof = [("X-Consumer-Name", "admin"), ("X-Consumer-Groups", "admins"), ("X-Authenticated-User", "root")];
    let mut headers = spoof.to_vec();
    headers.push(("X-API-Key", "bob-key"));
    let r = gw.send("GET", "/x", &headers, b"").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.echoed_header("x-consumer-name").as_deref(), Some("bob"));
    assert_eq!(r.echoed_header("x-consumer-groups"), None, "bob has no groups");
    assert_eq!(r.echoed_header("x-authenticated-user"), None);
    // A spoofed group does not open /admin either.
    assert_eq!(gw.send("GET", "/admin", &headers, b"").await.status, 403);
    let r = gw.send("GET", "/public", &spoof, b"").await;
    assert_eq!(r.status, 200);
    for (n, _) in spoof {
        assert_eq!(r.echoed_header(&n.to_ascii_lowercase()), None, "{n}");
    }
}

/// A 401 answered before the body is read: a request hidden in that body must never be read as
/// the next request on the connection.
#[tokio::test]
async fn request_in_the_body_of_a_401_is_not_smuggled() {
    let (up, gw) = setup(r#"["api_key"]"#).await;
    let hidden = "GET /public/smuggled HTTP/1.1\r\nHost: test.local\r\n\r\n";
    for (label, body_len) in [("small body", hidden.len()), ("large body", 100_000)] {
        let mut body = hidden.as_bytes().to_vec();
        body.resize(body_len, b'x');
        let mut s = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
        let head = format!("POST /x HTTP/1.1\r\nHost: test.local\r\nContent-Length: {}\r\n\r\n", body.len());
        s.write_all(head.as_bytes()).await.unwrap();
        // The gateway may answer and close before reading it all: a failed write is fine.
        let _ = s.write_all(&body).await;
        let _ = s.write_all(b"GET /public/last HTTP/1.1\r\nHost: test.local\r\nConnection: close\r\n\r\n").await;
        let mut out = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut out)).await;
        assert!(read.is_ok(), "{label}: the connection neither closed nor finished");
        let text = String::from_utf8_lossy(&out);
        let statuses: Vec<&str> = text.matches("HTTP/1.1 ").collect();
        assert!(text.starts_with("HTTP/1.1 401"), "{label}: {text}");
        assert!(statuses.len() <= 2, "{label}: {text}");
        assert!(!text.contains("smuggled"), "{label}: the hidden request was answered: {text}");
    }
    // The only upstream requests are the `/public/last` ones (at most one per connection).
    assert!(up.requests() <= 2, "upstream saw {} requests", up.requests());
}

/// Run `gatehouse check` on `text` written to `dir/name`; it must fail, and each of `want` must
/// be among the lines it prints.
fn check_fails_with(dir: &std::path::Path, text: &str, want: &[&str]) {
    let file = dir.join("check.toml");
    std::fs::write(&file, text).unwrap();
    let out = std::process::Command::new(common::BIN).args(["check", "-c"]).arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    for w in want {
        assert!(err.contains(w), "missing {w:?} in\n{err}");
    }
}

#[tokio::test]
async fn check_reports_bad_auth_config() {
    let dir = tempfile::tempdir().unwrap();
    let text = r#"
[[cluster]]
name = "c"
upstreams = ["127.0.0.1:1"]

[[api]]
name = "a"
cluster = "c"
auth = ["jwt", "api_key", "api_key"]
key_header = "bad header"

[[api.route]]
path = "/r"
auth = []
groups = ["g"]

[[consumer]]
name = "x"
api_keys = ["sha256:ABC"]
basic = { u = "plaintext" }

[[consumer]]
name = "x"
"#;
    let want = [
        "api[0].auth: \"jwt\" needs at least one [[jwt_issuer]]",
        "api[0].auth: a method is listed twice",
        "api[0].key_header:",
        "api[0].route[0]: groups and scopes need auth methods",
        "consumer[0].api_keys[0]: expected \"sha256:",
        "consumer[0].basic.u: expected an argon2id",
        "consumer[1].name: duplicate consumer name",
    ];
    check_fails_with(dir.path(), text, &want);
    let issuer = r#"
[[jwt_issuer]]
issuer = "https://idp.test"
algorithms = ["RS256", "HS256", "XS1"]
jwks_url = "http://idp.test/jwks"
"#;
    let want = [
        "jwt_issuer[0].algorithms[2]: unknown algorithm \"XS1\"",
        "jwt_issuer[0].algorithms: do not mix HMAC",
        "jwt_issuer[0].jwks_url: \"http://idp.test/jwks\": plain http:// is allowed only to a loopback host",
    ];
    check_fails_with(dir.path(), issuer, &want);
}

/// Key files are read when the config is built: `check` reports unreadable or wrong ones.
#[tokio::test]
async fn check_reports_bad_key_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("not-a-key.pem"), "hello").unwrap();
    std::fs::write(dir.path().join("short-secret"), "too short").unwrap();
    let text = r#"
[[jwt_issuer]]
issuer = "a"
algorithms = ["RS256"]
key_file = "missing.pem"

[[jwt_issuer]]
issuer = "b"
algorithms = ["ES256"]
key_file = "not-a-key.pem"

[[jwt_issuer]]
issuer = "c"
algorithms = ["HS256"]
key_file = "short-secret"

[[jwt_issuer]]
issuer = "d"
algorithms = ["RS256", "ES256"]
jwks_file = "not-a-key.pem"
"#;
    let want = [
        "jwt_issuer[0].key_file: cannot read",
        "jwt_issuer[1].key_file: not a PEM public key for ES256",
        "jwt_issuer[2].key_file: an HMAC secret must be at least 32 bytes",
        "jwt_issuer[3].jwks_file: not a JWK set",
    ];
    check_fails_with(dir.path(), text, &want);
}
