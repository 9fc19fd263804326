//! `[[consumer]]`, `[[jwt_issuer]]` and the auth keys of `[[api]]`/`[[api.route]]`: the serde
//! model and the checks that need more than a type. Key files are read when the runtime is
//! built (`plugins::auth`), so `check` reports an unreadable one too.

use super::model::{ApiConfig, Config};
use super::units::HumanDuration;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    ApiKey,
    Jwt,
    Basic,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsumerConfig {
    pub name: String,
    #[serde(default)]
    pub groups: Vec<String>,
    /// The name of a `[[plan]]` (checked in `limits.rs`).
    pub plan: Option<String>,
    /// `"sha256:<64 lowercase hex>"` (see `gatehouse hash-key`).
    #[serde(default)]
    pub api_keys: Vec<String>,
    /// user → `$argon2id$…` or `$2b$…` (bcrypt) hash.
    #[serde(default)]
    pub basic: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtIssuerConfig {
    pub issuer: String,
    /// Empty: `aud` is not checked.
    #[serde(default)]
    pub audiences: Vec<String>,
    pub algorithms: Vec<String>,
    pub key_file: Option<String>,
    pub jwks_file: Option<String>,
    pub jwks_url: Option<String>,
    #[serde(default = "d_10m")]
    pub jwks_refresh: HumanDuration,
    #[serde(default = "d_sub")]
    pub consumer_claim: String,
    #[serde(default = "d_30s")]
    pub leeway: HumanDuration,
    #[serde(default)]
    pub claims_to_headers: BTreeMap<String, String>,
}

fn d_10m() -> HumanDuration {
    HumanDuration(Duration::from_secs(600))
}
fn d_30s() -> HumanDuration {
    HumanDuration(Duration::from_secs(30))
}
fn d_sub() -> String {
    "sub".into()
}

pub const HMAC_ALGS: &[&str] = &["HS256", "HS384", "HS512"];
pub const PUBLIC_ALGS: &[&str] = &["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"];

type Err<'a> = dyn FnMut(String, String) + 'a;

/// True for `sha256:` followed by 64 lowercase hex digits.
pub fn key_hash_ok(s: &str) -> bool {
    s.strip_prefix("sha256:")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
}

pub fn validate(cfg: &Config, err: &mut Err) {
    let mut names = BTreeSet::new();
    let mut keys = BTreeSet::new();
    let mut users = BTreeSet::new();
    for (i, c) in cfg.consumers.iter().enumerate() {
        let p = format!("consumer[{i}]");
        super::validate::name_ok(&c.name, &format!("{p}.name"), err);
        if !names.insert(c.name.as_str()) {
            err(format!("{p}.name"), format!("duplicate consumer name {:?}", c.name));
        }
        for (j, g) in c.groups.iter().enumerate() {
            super::validate::name_ok(g, &format!("{p}.groups[{j}]"), err);
        }
        for (j, k) in c.api_keys.iter().enumerate() {
            if !key_hash_ok(k) {
                err(
                    format!("{p}.api_keys[{j}]"),
                    "expected \"sha256:<64 lowercase hex digits>\" (gatehouse hash-key)".into(),
                );
            } else if !keys.insert(k.as_str()) {
                err(format!("{p}.api_keys[{j}]"), "this key is already given to a consumer".into());
            }
        }
        for (user, hash) in &c.basic {
            if user.is_empty() || user.contains(':') || user.bytes().any(|b| b.is_ascii_control()) {
                err(format!("{p}.basic.{user}"), "a user name is non-empty, without ':' or control characters".into());
            }
            if !users.insert(user.as_str()) {
                err(format!("{p}.basic.{user}"), "this user is already given to a consumer".into());
            }
            if let Err(m) = crate::plugins::auth::basic::check_hash(hash) {
                err(format!("{p}.basic.{user}"), m);
            }
        }
    }
    let mut issuers = BTreeSet::new();
    for (i, j) in cfg.jwt_issuers.iter().enumerate() {
        issuer(j, &format!("jwt_issuer[{i}]"), err);
        if !issuers.insert(j.issuer.as_str()) {
            err(format!("jwt_issuer[{i}].issuer"), format!("duplicate issuer {:?}", j.issuer));
        }
    }
}

fn issuer(j: &JwtIssuerConfig, p: &str, err: &mut Err) {
    if j.issuer.is_empty() {
        err(format!("{p}.issuer"), "must not be empty".into());
    }
    if j.algorithms.is_empty() {
        err(format!("{p}.algorithms"), "name at least one algorithm (they are pinned per issuer)".into());
    }
    let mut hmac = false;
    let mut public = false;
    for (k, a) in j.algorithms.iter().enumerate() {
        if HMAC_ALGS.contains(&a.as_str()) {
            hmac = true;
        } else if PUBLIC_ALGS.contains(&a.as_str()) {
            public = true;
        } else {
            err(
                format!("{p}.algorithms[{k}]"),
                format!(
                    "unknown algorithm {a:?}; expected one of {}, {}",
                    HMAC_ALGS.join(", "),
                    PUBLIC_ALGS.join(", ")
                ),
            );
        }
    }
    if hmac && public {
        err(format!("{p}.algorithms"), "do not mix HMAC (HS*) and public-key algorithms in one issuer".into());
    }
    let sources = [j.key_file.is_some(), j.jwks_file.is_some(), j.jwks_url.is_some()];
    match sources.iter().filter(|s| **s).count() {
        1 => {}
        0 => err(p.into(), "needs one of key_file, jwks_file or jwks_url".into()),
        _ => err(p.into(), "use only one of key_file, jwks_file and jwks_url".into()),
    }
    if let Some(u) = &j.jwks_url {
        if let Err(m) = crate::plugins::auth::jwks::JwksUrl::parse(u) {
            err(format!("{p}.jwks_url"), m);
        }
    }
    if hmac && (j.jwks_file.is_some() || j.jwks_url.is_some()) {
        err(p.into(), "HMAC algorithms take a key_file holding the shared secret".into());
    }
    if j.jwks_refresh.0 < Duration::from_secs(1) {
        err(format!("{p}.jwks_refresh"), "must be at least 1s".into());
    }
    if j.consumer_claim.is_empty() {
        err(format!("{p}.consumer_claim"), "must not be empty".into());
    }
    if j.leeway.0 > Duration::from_secs(600) {
        err(format!("{p}.leeway"), "must be at most 10m".into());
    }
    for (claim, header) in &j.claims_to_headers {
        if http::HeaderName::from_bytes(header.as_bytes()).is_err() {
            err(format!("{p}.claims_to_headers.{claim}"), format!("{header:?} is not a valid header name"));
        }
    }
}

/// The auth keys of one API and its routes.
pub fn validate_api(a: &ApiConfig, cfg: &Config, p: &str, err: &mut Err) {
    let mut check_methods = |methods: &[AuthMethod], at: String| {
        if methods.contains(&AuthMethod::Jwt) && cfg.jwt_issuers.is_empty() {
            err(at.clone(), "\"jwt\" needs at least one [[jwt_issuer]]".into());
        }
        let mut seen = BTreeSet::new();
        if methods.iter().any(|m| !seen.insert(*m)) {
            err(at, "a method is listed twice".into());
        }
    };
    check_methods(&a.auth, format!("{p}.auth"));
    for (i, r) in a.route.iter().enumerate() {
        if let Some(m) = &r.auth {
            check_methods(m, format!("{p}.route[{i}].auth"));
        }
    }
    if http::HeaderName::from_bytes(a.key_header.as_bytes()).is_err() {
        err(format!("{p}.key_header"), format!("{:?} is not a valid header name", a.key_header));
    }
    if let Some(q) = &a.key_query {
        let ok = !q.is_empty() && q.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !ok {
            err(format!("{p}.key_query"), "use letters, digits, '-', '_' or '.'".into());
        }
    }
    for (i, r) in a.route.iter().enumerate() {
        let methods = r.auth.as_ref().unwrap_or(&a.auth);
        if methods.is_empty() && (!r.groups.is_empty() || !r.scopes.is_empty()) {
            err(format!("{p}.route[{i}]"), "groups and scopes need auth methods (on the route or its API)".into());
        }
        if !r.scopes.is_empty() && !methods.contains(&AuthMethod::Jwt) {
            err(format!("{p}.route[{i}].scopes"), "scopes come from JWTs: \"jwt\" must be an auth method".into());
        }
        for (j, g) in r.groups.iter().enumerate() {
            super::validate::name_ok(g, &format!("{p}.route[{i}].groups[{j}]"), err);
        }
    }
}
