//! `[[consumer]]`, `[[jwt_issuer]]` and the auth keys of `[[api]]`/`[[api.route]]`: the serde
//! model and the checks that need more than a type. Key files are read when the runtime is
//! built (`plugins::auth`), so `check` reports an unreadable one too.

use super::credentials::{ApiKeyDigest, JwksUrl, JwtAlgorithm, PasswordHash};
use super::model::{ApiConfig, Config};
use super::parse::SeenNames;
use super::units::HumanDuration;
use super::values::HeaderName;
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
    pub api_keys: Vec<ApiKeyDigest>,
    /// user → `$argon2id$…` or `$2b$…` (bcrypt) hash.
    #[serde(default)]
    pub basic: BTreeMap<String, PasswordHash>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtIssuerConfig {
    pub issuer: String,
    /// Empty: `aud` is not checked.
    #[serde(default)]
    pub audiences: Vec<String>,
    pub algorithms: Vec<JwtAlgorithm>,
    pub key_file: Option<String>,
    pub jwks_file: Option<String>,
    pub jwks_url: Option<JwksUrl>,
    #[serde(default = "d_10m")]
    pub jwks_refresh: HumanDuration,
    #[serde(default = "d_sub")]
    pub consumer_claim: String,
    #[serde(default = "d_30s")]
    pub leeway: HumanDuration,
    #[serde(default)]
    pub claims_to_headers: BTreeMap<String, HeaderName>,
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

type Err<'a> = dyn FnMut(String, String) + 'a;

pub fn validate(cfg: &Config, seen: &SeenNames, err: &mut Err) {
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
            if !keys.insert(k) {
                err(format!("{p}.api_keys[{j}]"), "this key is already given to a consumer".into());
            }
        }
        for user in c.basic.keys() {
            if user.is_empty() || user.contains(':') || user.bytes().any(|b| b.is_ascii_control()) {
                err(format!("{p}.basic.{user}"), "a user name is non-empty, without ':' or control characters".into());
            }
            if !users.insert(user.as_str()) {
                err(format!("{p}.basic.{user}"), "this user is already given to a consumer".into());
            }
        }
    }
    let mut issuers = BTreeSet::new();
    for (i, j) in cfg.jwt_issuers.iter().enumerate() {
        issuer(j, &format!("jwt_issuer[{i}]"), seen, err);
        if !issuers.insert(j.issuer.as_str()) {
            err(format!("jwt_issuer[{i}].issuer"), format!("duplicate issuer {:?}", j.issuer));
        }
    }
}

fn issuer(j: &JwtIssuerConfig, p: &str, seen: &SeenNames, err: &mut Err) {
    if j.issuer.is_empty() {
        err(format!("{p}.issuer"), "must not be empty".into());
    }
    // Unknown algorithms were reported (and dropped) when the file was read.
    if j.algorithms.is_empty() && !seen.failed_under(&format!("{p}.algorithms[")) {
        err(format!("{p}.algorithms"), "name at least one algorithm (they are pinned per issuer)".into());
    }
    let hmac = j.algorithms.iter().any(|a| a.is_hmac());
    let public = j.algorithms.iter().any(|a| !a.is_hmac());
    if hmac && public {
        err(format!("{p}.algorithms"), "do not mix HMAC (HS*) and public-key algorithms in one issuer".into());
    }
    // A `jwks_url` that failed to parse (reported already) was given all the same.
    let url = j.jwks_url.is_some() || seen.failed(&format!("{p}.jwks_url"));
    let sources = [j.key_file.is_some(), j.jwks_file.is_some(), url];
    match sources.iter().filter(|s| **s).count() {
        1 => {}
        0 => err(p.into(), "needs one of key_file, jwks_file or jwks_url".into()),
        _ => err(p.into(), "use only one of key_file, jwks_file and jwks_url".into()),
    }
    if hmac && (j.jwks_file.is_some() || url) {
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
