//! What parses credentials an attacker sends, before and after a signature check. The first
//! line picks the part:
//! - `key`: request target, then an `X-API-Key` value: the key is found (header or `api_key`
//!   query parameter) and, once stripped, never reaches the upstream.
//! - `authz`: an `Authorization` value through `scheme_value` for `Bearer` and `Basic`.
//! - `jwt`: a bearer token through the verifier (header, `iss` and claims decoding): no token
//!   verifies without a valid HS256 signature.
//! - `signed`: a header JSON and a claims JSON line, signed with the issuer's secret by the
//!   target, so the claims handling after the signature check is fuzzed too.
#![no_main]

use base64::Engine;
use gatehouse::config::{load_file, HeaderName, LoadedConfig};
use gatehouse::consumers::Consumers;
use gatehouse::plugins::auth::api_key::KeySource;
use gatehouse::plugins::auth::jwks::JwksMemory;
use gatehouse::plugins::auth::jwt::JwtVerifier;
use gatehouse::plugins::auth::scheme_value;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Validation};
use libfuzzer_sys::fuzz_target;
use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Waker};

const SECRET: &[u8] = b"fuzzing-secret-of-at-least-32-bytes!";

const CONFIG: &str = r#"
[[consumer]]
name = "alice"

[[jwt_issuer]]
issuer = "https://issuer.test"
algorithms = ["HS256"]
key_file = "hs256.key"
claims_to_headers = { email = "X-Email", groups = "X-Groups" }
"#;

fn verifier() -> &'static JwtVerifier {
    static V: OnceLock<JwtVerifier> = OnceLock::new();
    V.get_or_init(|| {
        let dir = gatehouse_fuzz::scratch_dir();
        std::fs::write(dir.join("hs256.key"), SECRET).expect("key file");
        std::fs::write(dir.join("fuzz.toml"), CONFIG).expect("config file");
        let loaded: LoadedConfig = load_file(&dir.join("fuzz.toml")).expect("the fixed config is valid");
        let consumers = Arc::new(Consumers::build(&loaded));
        let mut errors = Vec::new();
        let v =
            JwtVerifier::build(&loaded, consumers, &Default::default(), &Arc::new(JwksMemory::default()), &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        v.expect("a verifier")
    })
}

/// With a key file there is nothing to fetch: verification never waits.
fn now<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("verification waited with nothing to fetch"),
    }
}

fn verify(token: &[u8]) {
    let Ok(v) = now(verifier().verify(token)) else { return };
    assert_eq!(v.consumer.name, "alice");
    // Accepted: the signature must be valid for the issuer's secret.
    let token = std::str::from_utf8(token).expect("an accepted token is text");
    let mut check = Validation::new(Algorithm::HS256);
    check.validate_exp = false;
    check.validate_aud = false;
    check.required_spec_claims.clear();
    let decoded = jsonwebtoken::decode::<serde_json::Value>(token, &DecodingKey::from_secret(SECRET), &check);
    assert!(decoded.is_ok(), "accepted a token without a valid signature: {decoded:?}");
}

fn api_key(target: &[u8], header: Option<&[u8]>) {
    let Ok(mut req) = pingora_http::RequestHeader::build("GET", target, None) else { return };
    if let Some(v) = header.and_then(|h| http::HeaderValue::from_bytes(h).ok()) {
        let _ = req.insert_header("X-API-Key", v);
    }
    let source = KeySource::new(&HeaderName::known("X-API-Key"), Some("api_key"));
    let _ = source.find(&req);
    source.strip(&mut req);
    assert!(source.find(&req).is_none(), "the key survives stripping: {:?}", String::from_utf8_lossy(req.raw_path()));
}

fn authz(v: &[u8]) {
    for scheme in [&b"bearer"[..], b"basic"] {
        let Some(cred) = scheme_value(v, scheme) else { continue };
        assert!(v[..scheme.len()].eq_ignore_ascii_case(scheme));
        assert_eq!(cred, cred.trim_ascii());
        let start = cred.as_ptr() as usize - v.as_ptr() as usize;
        assert!(start > scheme.len() && start + cred.len() <= v.len());
    }
}

fn signed(header: &[u8], claims: &[u8]) {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let message = format!("{}.{}", b64.encode(header), b64.encode(claims));
    let sig = jsonwebtoken::crypto::sign(message.as_bytes(), &EncodingKey::from_secret(SECRET), Algorithm::HS256)
        .expect("HMAC signing");
    verify(format!("{message}.{sig}").as_bytes());
}

fuzz_target!(|data: &[u8]| {
    let mut lines = data.splitn(3, |&b| b == b'\n');
    let (Some(mode), Some(first)) = (lines.next(), lines.next()) else { return };
    let rest = lines.next();
    match mode {
        b"key" => api_key(first, rest),
        b"authz" => authz(first),
        b"jwt" => verify(first),
        b"signed" => signed(first, rest.unwrap_or_default()),
        _ => {}
    }
});
