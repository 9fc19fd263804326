//! JWT auth through the real gateway: tokens are built here with keys generated at test time
//! (never a committed private key), and each rejection of issue 4 is tried on its own.

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use common::{simple_config, Gateway, Response, Upstream};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use std::path::Path;

const ISS: &str = "https://idp.test";
const AUD: &str = "gatehouse";

struct Rsa {
    private: Vec<u8>,
    public: Vec<u8>,
    n: String,
    e: String,
}

fn rsa() -> Rsa {
    let k = openssl::rsa::Rsa::generate(2048).unwrap();
    Rsa {
        private: k.private_key_to_pem().unwrap(),
        public: k.public_key_to_pem().unwrap(),
        n: B64.encode(k.n().to_vec()),
        e: B64.encode(k.e().to_vec()),
    }
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

fn claims(extra: Value) -> Value {
    let mut c = json!({ "iss": ISS, "aud": AUD, "sub": "alice", "exp": now() + 600, "email": "alice@example.com" });
    for (k, v) in extra.as_object().unwrap() {
        if v.is_null() {
            c.as_object_mut().unwrap().remove(k);
        } else {
            c[k] = v.clone();
        }
    }
    c
}

fn sign(key: &Rsa, kid: Option<&str>, c: &Value) -> String {
    let mut h = Header::new(Algorithm::RS256);
    h.kid = kid.map(str::to_string);
    jsonwebtoken::encode(&h, c, &EncodingKey::from_rsa_pem(&key.private).unwrap()).unwrap()
}

/// A token with a hand-made header, signed by `key` (RS256) so only the header is wrong.
fn sign_raw_header(key: &Rsa, header: Value, c: &Value) -> String {
    let msg = format!("{}.{}", B64.encode(header.to_string()), B64.encode(c.to_string()));
    let sig =
        jsonwebtoken::crypto::sign(msg.as_bytes(), &EncodingKey::from_rsa_pem(&key.private).unwrap(), Algorithm::RS256)
            .unwrap();
    format!("{msg}.{sig}")
}

fn jwks(keys: &[(&str, &Rsa)]) -> String {
    let keys: Vec<Value> = keys
        .iter()
        .map(|(kid, k)| json!({ "kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": k.n, "e": k.e }))
        .collect();
    json!({ "keys": keys }).to_string()
}

/// `/` needs a JWT; `/orders` also scopes read+write; consumer alice exists, bob does not.
fn config(up: &Upstream, key_source: &str) -> String {
    format!(
        r#"{}
[[api.route]]
path = "/orders"
scopes = ["read", "write"]

[[api.route]]
path = "/"

[[consumer]]
name = "alice"
groups = ["staff"]

[[jwt_issuer]]
issuer = "{ISS}"
audiences = ["{AUD}"]
algorithms = ["RS256"]
{key_source}
claims_to_headers = {{ email = "X-User-Email" }}
"#,
        simple_config(&[up], "", "auth = [\"jwt\"]"),
    )
}

async fn start_with_key_file(dir: &Path, key: &Rsa) -> (Upstream, Gateway) {
    let pem = dir.join("issuer.pem");
    std::fs::write(&pem, &key.public).unwrap();
    let up = Upstream::start("u").await;
    let gw = Gateway::start(&config(&up, &format!("key_file = {:?}", pem.display().to_string()))).await;
    (up, gw)
}

async fn call(gw: &Gateway, path: &str, token: &str) -> Response {
    let auth = format!("Bearer {token}");
    gw.send("GET", path, &[("Authorization", &auth), ("X-User-Email", "spoof@evil")], b"").await
}

async fn assert_rejected(gw: &Gateway, case: &str, token: &str) {
    let r = call(gw, "/x", token).await;
    assert_eq!(r.status, 401, "{case}: {}", r.text());
    assert!(r.header("www-authenticate").is_some_and(|v| v.starts_with("Bearer realm=")), "{case}");
}

#[tokio::test]
async fn valid_token_gives_consumer_and_claim_headers() {
    let dir = tempfile::tempdir().unwrap();
    let key = rsa();
    let (_up, gw) = start_with_key_file(dir.path(), &key).await;
    let token = sign(&key, None, &claims(json!({})));
    for _ in 0..2 {
        // The second request is answered from the verified-token cache.
        let r = call(&gw, "/x", &token).await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.echoed_header("x-consumer-name").as_deref(), Some("alice"));
        assert_eq!(r.echoed_header("x-consumer-groups").as_deref(), Some("staff"));
        assert_eq!(r.echoed_header("x-user-email").as_deref(), Some("alice@example.com"));
        assert_eq!(r.echoed_header("authorization"), None, "the token is not forwarded");
    }
    // Within the 30 s leeway an expired token still passes.
    assert_eq!(call(&gw, "/x", &sign(&key, None, &claims(json!({ "exp": now() - 10 })))).await.status, 200);
    // Without the claim, a client's own X-User-Email is still dropped.
    let r = call(&gw, "/x", &sign(&key, None, &claims(json!({ "email": null })))).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.echoed_header("x-user-email"), None);
}

#[tokio::test]
async fn each_bad_token_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let key = rsa();
    let other = rsa();
    let (up, gw) = start_with_key_file(dir.path(), &key).await;
    let good = claims(json!({}));
    let good_token = sign(&key, None, &good);
    let parts: Vec<&str> = good_token.split('.').collect();

    for alg in ["none", "NONE", "None", "nOnE"] {
        let t = format!("{}.{}.", B64.encode(json!({ "alg": alg, "typ": "JWT" }).to_string()), parts[1]);
        assert_rejected(&gw, &format!("alg {alg}"), &t).await;
    }
    // HS256 with the issuer's public key as the HMAC secret (algorithm confusion).
    let hs =
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &good, &EncodingKey::from_secret(&key.public)).unwrap();
    assert_rejected(&gw, "HMAC signed with the public key", &hs).await;
    let jwk = json!({ "kty": "RSA", "n": other.n, "e": other.e });
    for (name, extra) in [("jwk", jwk), ("jku", json!("https://evil.test/jwks")), ("x5u", json!("https://evil.test/c"))]
    {
        let mut h = json!({ "alg": "RS256", "typ": "JWT" });
        h[name] = extra;
        assert_rejected(&gw, name, &sign_raw_header(&key, h, &good)).await;
    }
    let tampered_payload = B64.encode(claims(json!({ "sub": "alice", "admin": true })).to_string());
    assert_rejected(&gw, "tampered payload", &format!("{}.{}.{}", parts[0], tampered_payload, parts[2])).await;
    let mut sig = parts[2].to_string();
    let flip = if sig.ends_with('A') { "B" } else { "A" };
    sig.replace_range(sig.len() - 1.., flip);
    assert_rejected(&gw, "tampered signature", &format!("{}.{}.{}", parts[0], parts[1], sig)).await;
    assert_rejected(&gw, "signed by another key", &sign(&other, None, &good)).await;
    assert_rejected(&gw, "expired", &sign(&key, None, &claims(json!({ "exp": now() - 120 })))).await;
    assert_rejected(&gw, "no exp", &sign(&key, None, &claims(json!({ "exp": null })))).await;
    assert_rejected(&gw, "not yet valid", &sign(&key, None, &claims(json!({ "nbf": now() + 300 })))).await;
    assert_rejected(&gw, "wrong issuer", &sign(&key, None, &claims(json!({ "iss": "https://evil.test" })))).await;
    assert_rejected(&gw, "no issuer", &sign(&key, None, &claims(json!({ "iss": null })))).await;
    assert_rejected(&gw, "wrong audience", &sign(&key, None, &claims(json!({ "aud": "other" })))).await;
    assert_rejected(&gw, "unknown consumer", &sign(&key, None, &claims(json!({ "sub": "mallory" })))).await;
    let big = sign(&key, None, &claims(json!({ "pad": "x".repeat(9000) })));
    assert_rejected(&gw, "over 8 KiB", &big).await;
    for garbage in ["x", "a.b.c", "....", "eyJhbGciOiJSUzI1NiJ9.e30", "%%%.!!!.@@@"] {
        assert_rejected(&gw, &format!("garbage {garbage:?}"), garbage).await;
    }
    assert_eq!(up.requests(), 0, "no bad token reached the upstream");
    assert_eq!(call(&gw, "/x", &good_token).await.status, 200);
}

#[tokio::test]
async fn hmac_issuer_takes_its_secret_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "0123456789abcdef0123456789abcdef-test-secret\n").unwrap();
    let up = Upstream::start("u").await;
    let source = format!("key_file = {:?}", secret.display().to_string());
    let gw =
        Gateway::start(&config(&up, &source).replace(r#"algorithms = ["RS256"]"#, r#"algorithms = ["HS256"]"#)).await;
    let c = claims(json!({}));
    let hs = |secret: &[u8]| {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &c, &EncodingKey::from_secret(secret)).unwrap()
    };
    assert_eq!(call(&gw, "/x", &hs(b"0123456789abcdef0123456789abcdef-test-secret")).await.status, 200);
    assert_rejected(&gw, "other secret", &hs(b"0123456789abcdef0123456789abcdef-test-secreT")).await;
    assert_rejected(&gw, "RS256 to an HS256 issuer", &sign(&rsa(), None, &c)).await;
}

#[tokio::test]
async fn scopes_from_scope_or_scp_must_all_be_granted() {
    let dir = tempfile::tempdir().unwrap();
    let key = rsa();
    let (_up, gw) = start_with_key_file(dir.path(), &key).await;
    for (granted, status) in [
        (json!({ "scope": "read write admin" }), 200),
        (json!({ "scp": ["write", "read"] }), 200),
        (json!({ "scope": "read" }), 403),
        (json!({ "scp": "read" }), 403),
        (json!({}), 403),
    ] {
        let r = call(&gw, "/orders", &sign(&key, None, &claims(granted.clone()))).await;
        assert_eq!(r.status, status, "{granted}: {}", r.text());
    }
}

#[tokio::test]
async fn jwks_file_keys_by_kid_and_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let (k1, k2) = (rsa(), rsa());
    let set = dir.path().join("jwks.json");
    std::fs::write(&set, jwks(&[("k1", &k1)])).unwrap();
    let up = Upstream::start("u").await;
    let gw = Gateway::start(&config(&up, &format!("jwks_file = {:?}", set.display().to_string()))).await;
    assert_eq!(call(&gw, "/x", &sign(&k1, Some("k1"), &claims(json!({})))).await.status, 200);
    // A set of one key also verifies tokens without a kid.
    assert_eq!(call(&gw, "/x", &sign(&k1, None, &claims(json!({ "n": 1 })))).await.status, 200);
    assert_rejected(&gw, "kid naming another key", &sign(&k2, Some("k1"), &claims(json!({})))).await;

    // Rotation: k2 replaces k1 in the file. An unknown kid re-reads the set (at most once a
    // minute), so k2 is picked up at once and k1 is gone.
    std::fs::write(&set, jwks(&[("k2", &k2)])).unwrap();
    let r = call(&gw, "/x", &sign(&k2, Some("k2"), &claims(json!({})))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_rejected(&gw, "removed kid", &sign(&k1, Some("k1"), &claims(json!({ "n": 2 })))).await;
    assert_rejected(&gw, "unknown kid", &sign(&k2, Some("k9"), &claims(json!({})))).await;
}

/// A JWKS endpoint: answers every GET with the current status and body, counting fetches.
struct JwksServer {
    url: String,
    state: std::sync::Arc<std::sync::Mutex<(u16, String)>>,
    fetches: std::sync::Arc<std::sync::atomic::AtomicU32>,
}

impl JwksServer {
    async fn start(body: String) -> JwksServer {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
        let state = std::sync::Arc::new(std::sync::Mutex::new((200, body)));
        let fetches = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
        let (st, n) = (state.clone(), fetches.clone());
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut chunk).await {
                        Ok(0) | Err(_) => break,
                        Ok(k) => buf.extend_from_slice(&chunk[..k]),
                    }
                }
                n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let (status, body) = st.lock().unwrap().clone();
                let resp = format!("HTTP/1.0 {status} X\r\ncontent-type: application/json\r\n\r\n{body}");
                let _ = s.write_all(resp.as_bytes()).await;
            }
        });
        JwksServer { url, state, fetches }
    }

    fn fetches(&self) -> u32 {
        self.fetches.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[tokio::test]
async fn jwks_url_fetched_rotated_and_kept_on_failure() {
    let (k1, k2) = (rsa(), rsa());
    let idp = JwksServer::start(jwks(&[("k1", &k1)])).await;
    let up = Upstream::start("u").await;
    let source = format!("jwks_url = \"{}\"\njwks_refresh = \"1s\"", idp.url);
    let gw = Gateway::start(&config(&up, &source)).await;
    // The first token makes the gateway fetch the set.
    let r = call(&gw, "/x", &sign(&k1, Some("k1"), &claims(json!({})))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(idp.fetches() >= 1);

    // Rotation: the endpoint now serves k2 only; an unknown kid fetches again at once.
    idp.state.lock().unwrap().1 = jwks(&[("k2", &k2)]);
    let r = call(&gw, "/x", &sign(&k2, Some("k2"), &claims(json!({})))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_rejected(&gw, "removed kid", &sign(&k1, Some("k1"), &claims(json!({ "n": 1 })))).await;

    // A failing endpoint: refreshes (every 1 s here) fail and the last good keys stay.
    idp.state.lock().unwrap().0 = 500;
    let before = idp.fetches();
    let mut i = 0;
    common::eventually(20, "a refresh against the failing endpoint", || {
        i += 1;
        let token = sign(&k2, Some("k2"), &claims(json!({ "i": i })));
        let gw = &gw;
        let idp = &idp;
        async move {
            assert_eq!(call(gw, "/x", &token).await.status, 200);
            idp.fetches() > before
        }
    })
    .await;
    assert_eq!(call(&gw, "/x", &sign(&k2, Some("k2"), &claims(json!({ "i": "last" })))).await.status, 200);
}

/// A reload keeps the last good key set of a `jwks_url`: with the identity provider failing
/// during the reload, tokens signed by the known key still verify.
#[tokio::test]
async fn jwks_url_keys_survive_a_reload_while_the_provider_fails() {
    let k1 = rsa();
    let idp = JwksServer::start(jwks(&[("k1", &k1)])).await;
    let up = Upstream::start("u").await;
    let source = format!("jwks_url = \"{}\"", idp.url);
    let body = config(&up, &source);
    let gw = Gateway::start(&body).await;
    assert_eq!(call(&gw, "/x", &sign(&k1, Some("k1"), &claims(json!({})))).await.status, 200);

    idp.state.lock().unwrap().0 = 500;
    gw.rewrite(&body);
    let r = gw.admin_post("/reload").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = call(&gw, "/x", &sign(&k1, Some("k1"), &claims(json!({ "after": "reload" })))).await;
    assert_eq!(r.status, 200, "{}", r.text());
}

/// A consumer made through the admin API at run time is a token's consumer too (a refusal is
/// not cached, so the same token works once the consumer exists).
#[tokio::test]
async fn a_store_consumer_is_a_tokens_consumer() {
    let dir = tempfile::tempdir().unwrap();
    let key = rsa();
    let (_up, gw) = start_with_key_file(dir.path(), &key).await;
    let token = sign(&key, None, &claims(json!({ "sub": "carol" })));
    assert_rejected(&gw, "unknown consumer", &token).await;
    let r = gw.admin_send("POST", "/consumers", &[], br#"{"name":"carol","groups":["ops"]}"#).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let r = call(&gw, "/x", &token).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.echoed_header("x-consumer-name").as_deref(), Some("carol"));
    assert_eq!(r.echoed_header("x-consumer-groups").as_deref(), Some("ops"));
    // A change shows on the next request; a deleted consumer's cached token is refused.
    let r = gw.admin_send("PATCH", "/consumers/carol", &[], br#"{"groups":["dev"]}"#).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(call(&gw, "/x", &token).await.echoed_header("x-consumer-groups").as_deref(), Some("dev"));
    assert_eq!(gw.admin_send("DELETE", "/consumers/carol", &[], b"").await.status, 204);
    assert_rejected(&gw, "deleted consumer", &token).await;
}
