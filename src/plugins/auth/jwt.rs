//! JWT bearer tokens from `[[jwt_issuer]]`s. The issuer is picked by the token's `iss`; its
//! pinned `algorithms` must hold the token's `alg` (so an HMAC token never meets a public key);
//! `jwk`/`jku`/`x5u`/`x5c` headers are refused, never fetched; the key comes from `key_file` or
//! from `jwks_file`/`jwks_url` by `kid` (`jwks.rs`). A verified token is cached (by the whole
//! token) until its `exp`.
//! `consumer_claim` (default `sub`) must name a `[[consumer]]`, as Kong's JWT plugin requires a
//! credential's consumer: a valid token of an unknown consumer is refused with 401.

use super::jwks::{read_file, JwksFetcher, JwksMemory, JwksSource, Keys};
use super::ttl_cache::TtlCache;
use super::{Consumer, Consumers};
use crate::config::{ConfigError, JwtIssuerConfig, LoadedConfig};
use arc_swap::ArcSwap;
use base64::Engine;
use http::{HeaderName, HeaderValue};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub const MAX_TOKEN: usize = 8 * 1024;
/// At most this many verified tokens (of at most `MAX_TOKEN` bytes each) are kept.
const CACHE_ENTRIES: usize = 20_000;
/// An unknown `kid` re-reads the key set at most this often.
const KID_RELOAD_EVERY: Duration = Duration::from_secs(60);

/// What a verified token gives the rest of the request.
#[derive(Debug)]
pub struct Verified {
    pub consumer: Arc<Consumer>,
    /// The consumer came from the store: checked again on every cache hit (it may have been
    /// changed or deleted since).
    from_store: bool,
    pub scopes: Vec<String>,
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

struct Issuer {
    validations: Vec<(Algorithm, Validation)>,
    keys: ArcSwap<Keys>,
    source: Option<JwksSource>,
    /// For a `jwks_url`: the URL and where its last good set is remembered across reloads.
    memory: Option<(String, Arc<JwksMemory>)>,
    refresh: Duration,
    /// When the key set was last read (`None`: never), and when an unknown `kid` last caused a read.
    loaded: Mutex<(Option<Instant>, Option<Instant>)>,
    consumer_claim: String,
    claim_headers: Vec<(String, HeaderName)>,
}

pub struct JwtVerifier {
    issuers: HashMap<String, Arc<Issuer>>,
    consumers: Arc<Consumers>,
    /// Consumers made through the admin API, looked up after the config's.
    live: Arc<crate::consumers::LiveDirectory>,
    /// Keyed by the whole token: a hit costs one SipHash and one compare of the token's bytes,
    /// not a sha256 (the cache holds only tokens that verified, so keeping them is no new risk).
    cache: TtlCache<Box<[u8]>, Arc<Verified>>,
}

/// Key type of an algorithm: a `key_file` holds one key, so its algorithms share one type.
fn family(a: Algorithm) -> u8 {
    use Algorithm::*;
    match a {
        HS256 | HS384 | HS512 => 0,
        RS256 | RS384 | RS512 | PS256 | PS384 | PS512 => 1,
        ES256 | ES384 => 2,
        EdDSA => 3,
    }
}

fn load_key_file(path: &PathBuf, algs: &[Algorithm]) -> Result<Keys, String> {
    let Some(&first) = algs.first() else { return Err("no algorithms".into()) };
    if algs.iter().any(|a| family(*a) != family(first)) {
        return Err("a key_file holds one key: its algorithms must share one key type".into());
    }
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let pem = |r: jsonwebtoken::errors::Result<DecodingKey>| {
        r.map_err(|e| format!("not a PEM public key for {first:?}: {e}"))
    };
    let key = match family(first) {
        0 => {
            let secret = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
            let secret = secret.strip_suffix(b"\r").unwrap_or(secret);
            if secret.len() < 32 {
                return Err("an HMAC secret must be at least 32 bytes".into());
            }
            DecodingKey::from_secret(secret)
        }
        1 => pem(DecodingKey::from_rsa_pem(&bytes))?,
        2 => pem(DecodingKey::from_ec_pem(&bytes))?,
        _ => pem(DecodingKey::from_ed_pem(&bytes))?,
    };
    Ok(Keys { single: Some(key), by_kid: HashMap::new() })
}

impl Issuer {
    fn build(
        j: &JwtIssuerConfig,
        loaded: &LoadedConfig,
        memory: &Arc<JwksMemory>,
    ) -> Result<Issuer, (&'static str, String)> {
        let algs: Vec<Algorithm> = j.algorithms.iter().map(|a| a.get()).collect();
        let (keys, source) = match (&j.key_file, &j.jwks_file, &j.jwks_url) {
            (Some(f), _, _) => (Arc::new(load_key_file(&loaded.resolve(f), &algs).map_err(|e| ("key_file", e))?), None),
            (None, Some(f), _) => {
                let path = loaded.resolve(f);
                (Arc::new(read_file(&path).map_err(|e| ("jwks_file", e))?), Some(JwksSource::File(path)))
            }
            // Fetched by the first request that needs it, then refreshed (see `maybe_reload`);
            // after a reload it starts from the set the previous runtime last fetched.
            (None, None, Some(u)) => {
                let source = JwksSource::Url(JwksFetcher::new(u).map_err(|e| ("jwks_url", e))?);
                (Arc::new(Keys::default()), Some(source))
            }
            (None, None, None) => return Err(("key_file", "needs key_file, jwks_file or jwks_url".into())),
        };
        let memory = j.jwks_url.as_ref().map(|u| (u.as_str().to_string(), memory.clone()));
        let remembered = memory.as_ref().and_then(|(u, m)| m.get(u));
        let keys = remembered.clone().unwrap_or(keys);
        // Read already: a file or key file, or a remembered set (then refreshed in the background).
        let fetched = (!matches!(source, Some(JwksSource::Url(_))) || remembered.is_some()).then(Instant::now);
        let validations = algs
            .iter()
            .map(|&alg| {
                let mut v = Validation::new(alg);
                v.set_issuer(&[&j.issuer]);
                v.leeway = j.leeway.0.as_secs();
                v.validate_nbf = true;
                let mut required = vec!["exp", "iss"];
                if j.audiences.is_empty() {
                    v.validate_aud = false;
                } else {
                    v.set_audience(&j.audiences);
                    required.push("aud");
                }
                v.set_required_spec_claims(&required);
                (alg, v)
            })
            .collect();
        let claim_headers = j.claims_to_headers.iter().map(|(c, h)| (c.clone(), h.name().clone())).collect();
        Ok(Issuer {
            validations,
            keys: ArcSwap::new(keys),
            source,
            memory,
            refresh: j.jwks_refresh.0,
            loaded: Mutex::new((fetched, None)),
            consumer_claim: j.consumer_claim.clone(),
            claim_headers,
        })
    }

    /// Refresh the key set: awaited when it was never fetched or for an unknown `kid` (at most
    /// once a minute); in the background once `jwks_refresh` has passed. A failed read or fetch
    /// keeps the last good keys. True when this call loaded new keys.
    async fn maybe_reload(self: &Arc<Self>, unknown_kid: bool) -> bool {
        let Some(source) = &self.source else { return false };
        let wait = {
            let mut at = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            let never = at.0.is_none();
            let kid_ok = unknown_kid && at.1.is_none_or(|t| now.duration_since(t) >= KID_RELOAD_EVERY);
            let due = at.0.is_some_and(|t| now.duration_since(t) >= self.refresh);
            if !never && !kid_ok && !due {
                return false;
            }
            at.0 = Some(now);
            if kid_ok && !never {
                at.1 = Some(now);
            }
            never || kid_ok
        };
        if !wait {
            let me = self.clone();
            tokio::spawn(async move { me.store(me.source.as_ref().map(JwksSource::fetch)).await });
            return false;
        }
        self.store(Some(source.fetch())).await
    }

    async fn store(&self, fetch: Option<impl std::future::Future<Output = Result<Keys, String>>>) -> bool {
        let Some(fetch) = fetch else { return false };
        match fetch.await {
            Ok(keys) => {
                let keys = Arc::new(keys);
                if let Some((url, memory)) = &self.memory {
                    memory.put(url, keys.clone());
                }
                self.keys.store(keys);
                true
            }
            Err(e) => {
                log::warn!("jwt issuer keys: keeping the last good ones: {e}");
                false
            }
        }
    }
}

impl JwtVerifier {
    pub fn build(
        loaded: &LoadedConfig,
        consumers: Arc<Consumers>,
        live: &Arc<crate::consumers::LiveDirectory>,
        memory: &Arc<JwksMemory>,
        errors: &mut Vec<ConfigError>,
    ) -> Option<Self> {
        let mut issuers = HashMap::new();
        for (i, j) in loaded.config.jwt_issuers.iter().enumerate() {
            match Issuer::build(j, loaded, memory) {
                Ok(iss) => {
                    issuers.insert(j.issuer.clone(), Arc::new(iss));
                }
                Err((key, e)) => errors.push(ConfigError::new(format!("jwt_issuer[{i}].{key}"), e)),
            }
        }
        Some(JwtVerifier { issuers, consumers, live: live.clone(), cache: TtlCache::new(CACHE_ENTRIES) })
    }

    /// Every header name some issuer sets from a claim.
    pub fn header_names(&self) -> Vec<HeaderName> {
        let mut v: Vec<HeaderName> =
            self.issuers.values().flat_map(|i| i.claim_headers.iter().map(|(_, h)| h.clone())).collect();
        v.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        v.dedup();
        v
    }

    pub async fn verify(&self, token: &[u8]) -> Result<Arc<Verified>, &'static str> {
        if token.len() > MAX_TOKEN {
            return Err("the token is too large");
        }
        if let Some(v) = self.cache.get(token).filter(|v| self.still_current(v)) {
            return Ok(v);
        }
        let key: Box<[u8]> = token.into();
        let token = std::str::from_utf8(token).map_err(|_| "the token is malformed")?;
        let (verified, exp) = self.verify_uncached(token).await?;
        let left = exp.saturating_sub(now_unix());
        self.cache.insert(key, verified.clone(), Instant::now() + Duration::from_secs(left));
        Ok(verified)
    }

    /// A cached token's consumer is as it was: config consumers are fixed for this runtime; a
    /// store consumer must still exist with the same groups and plan, else the token is
    /// verified again (and refused once its consumer is gone).
    fn still_current(&self, v: &Verified) -> bool {
        if !v.from_store {
            return true;
        }
        let tables = self.live.load();
        tables.consumers.get(&v.consumer.name).is_some_and(|c| {
            Arc::ptr_eq(c, &v.consumer) || (c.groups == v.consumer.groups && c.plan == v.consumer.plan)
        })
    }

    async fn verify_uncached(&self, token: &str) -> Result<(Arc<Verified>, u64), &'static str> {
        const BAD: &str = "the token is not valid";
        // alg "none" (any case) and unknown algorithms fail to parse here.
        let header = jsonwebtoken::decode_header(token).map_err(|_| "the token is malformed")?;
        if header.jwk.is_some() || header.jku.is_some() || header.x5u.is_some() || header.x5c.is_some() {
            return Err("tokens carrying their own key (jwk, jku, x5u, x5c) are refused");
        }
        let iss = unverified_iss(token).ok_or("the token has no issuer")?;
        let issuer = self.issuers.get(&iss).ok_or("the token's issuer is not trusted")?;
        let validation = issuer
            .validations
            .iter()
            .find(|(a, _)| *a == header.alg)
            .map(|(_, v)| v)
            .ok_or("the token's algorithm is not accepted for its issuer")?;
        issuer.maybe_reload(false).await;
        let mut keys = issuer.keys.load_full();
        let pick = |keys: &Keys| -> Option<DecodingKey> {
            match &header.kid {
                Some(kid) => match keys.by_kid.get(kid) {
                    Some((_, Some(a))) if *a != header.alg => None,
                    Some((k, _)) => Some(k.clone()),
                    None => keys.by_kid.is_empty().then(|| keys.single.clone()).flatten(),
                },
                None => keys.single.clone(),
            }
        };
        let mut dkey = pick(&keys);
        if dkey.is_none() && header.kid.is_some() && issuer.maybe_reload(true).await {
            keys = issuer.keys.load_full();
            dkey = pick(&keys);
        }
        let dkey = dkey.ok_or("the token's key id is not known")?;
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &dkey, validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind::*;
            match e.kind() {
                ExpiredSignature => "the token has expired",
                ImmatureSignature => "the token is not valid yet",
                InvalidIssuer => "the token's issuer is not trusted",
                InvalidAudience => "the token is not meant for this audience",
                _ => BAD,
            }
        })?;
        let claims = data.claims;
        let exp = claims.get("exp").and_then(Value::as_u64).ok_or(BAD)?;
        let name = claims.get(&issuer.consumer_claim).and_then(Value::as_str).ok_or("the token names no consumer")?;
        let (consumer, from_store) = match self.consumers.by_name.get(name) {
            Some(c) => (c.clone(), false),
            None => {
                let c = self.live.load().consumers.get(name).cloned();
                (c.ok_or("the token's consumer is not known")?, true)
            }
        };
        let headers = issuer
            .claim_headers
            .iter()
            .filter_map(|(c, h)| Some((h.clone(), HeaderValue::from_str(&claim_text(claims.get(c)?)).ok()?)))
            .collect();
        Ok((Arc::new(Verified { consumer, from_store, scopes: scopes(&claims), headers }), exp))
    }
}

fn now_unix() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// `iss` read from the payload before verification, only to choose the issuer's keys.
fn unverified_iss(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).ok()?;
    #[derive(serde::Deserialize)]
    struct Iss {
        iss: Option<String>,
    }
    serde_json::from_slice::<Iss>(&bytes).ok()?.iss
}

/// `scope` (space-separated string) and `scp` (array or string) together.
fn scopes(claims: &Map<String, Value>) -> Vec<String> {
    let mut out = Vec::new();
    for key in ["scope", "scp"] {
        match claims.get(key) {
            Some(Value::String(s)) => out.extend(s.split_whitespace().map(str::to_string)),
            Some(Value::Array(a)) => out.extend(a.iter().filter_map(Value::as_str).map(str::to_string)),
            _ => {}
        }
    }
    out
}

fn claim_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(a) => a
            .iter()
            .map(|x| x.as_str().map(str::to_string).unwrap_or_else(|| x.to_string()))
            .collect::<Vec<_>>()
            .join(","),
        other => other.to_string(),
    }
}
