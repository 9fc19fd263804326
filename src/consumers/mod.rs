//! Consumers and their credentials: the domain types that authentication, the store, rate
//! limits, the cache and analytics all speak of. The config's consumers are indexed once per
//! runtime ([`Consumers`]); the store's live in [`LiveTables`], swapped whole on every sync.
//! Nothing here does I/O: the store fills the live tables, the auth plugin reads both.

use crate::config::{LoadedConfig, PasswordHash};
use arc_swap::ArcSwap;
use http::HeaderValue;
use std::collections::HashMap;
use std::sync::Arc;

/// A consumer, with its identity headers built once.
#[derive(Debug)]
pub struct Consumer {
    pub name: String,
    pub groups: Vec<String>,
    pub plan: Option<String>,
    name_header: HeaderValue,
    groups_header: Option<HeaderValue>,
}

impl Consumer {
    pub fn new(name: String, groups: Vec<String>, plan: Option<String>) -> Consumer {
        let joined = groups.join(",");
        Consumer {
            // Validated names are header-safe; the fallbacks are never used.
            name_header: HeaderValue::from_str(&name).unwrap_or_else(|_| HeaderValue::from_static("-")),
            groups_header: (!joined.is_empty()).then(|| HeaderValue::from_str(&joined).ok()).flatten(),
            name,
            groups,
            plan,
        }
    }

    /// `X-Consumer-Name` for the upstream.
    pub fn name_header(&self) -> &HeaderValue {
        &self.name_header
    }

    /// `X-Consumer-Groups` for the upstream; `None` without groups.
    pub fn groups_header(&self) -> Option<&HeaderValue> {
        self.groups_header.as_ref()
    }
}

/// Every consumer of one config, indexed for the hot path.
#[derive(Default)]
pub struct Consumers {
    pub by_name: HashMap<String, Arc<Consumer>>,
    /// sha256 of an API key → its consumer. The map is keyed by the digest, so a lookup compares
    /// digests, never the key: timing can at most reveal how many leading bytes of a digest
    /// matched, which does not help to find a key whose digest matches (preimage resistance).
    pub by_key_hash: HashMap<[u8; 32], Arc<Consumer>>,
    /// Basic-auth user → (consumer, password hash).
    pub by_user: HashMap<String, (Arc<Consumer>, PasswordHash)>,
}

impl Consumers {
    pub fn build(loaded: &LoadedConfig) -> Consumers {
        let mut out = Consumers::default();
        for c in &loaded.config.consumers {
            let consumer = Arc::new(Consumer::new(c.name.clone(), c.groups.clone(), c.plan.clone()));
            for k in &c.api_keys {
                out.by_key_hash.insert(*k.bytes(), consumer.clone());
            }
            for (user, hash) in &c.basic {
                out.by_user.insert(user.clone(), (consumer.clone(), hash.clone()));
            }
            out.by_name.insert(c.name.clone(), consumer);
        }
        out
    }
}

/// A key made through the admin API or the portal, as the proxy checks it.
pub struct LiveKey {
    pub consumer: Arc<Consumer>,
    /// Unix milliseconds; checked per request so a grace period ends on time, not at the next sync.
    pub expires_at: Option<i64>,
}

/// The store's consumers and keys as in-memory maps (one atomic load per lookup).
#[derive(Default)]
pub struct LiveTables {
    pub by_key_hash: HashMap<[u8; 32], LiveKey>,
    pub consumers: HashMap<String, Arc<Consumer>>,
}

/// The live tables of this process, replaced whole by each store sync; kept across reloads.
pub type LiveDirectory = ArcSwap<LiveTables>;

impl LiveTables {
    /// The consumer of a key digest, unless the key has expired at `now_ms`.
    pub fn consumer_of(&self, digest: &[u8; 32], now_ms: i64) -> Option<&Arc<Consumer>> {
        let k = self.by_key_hash.get(digest)?;
        match k.expires_at {
            Some(t) if t <= now_ms => None,
            _ => Some(&k.consumer),
        }
    }
}

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// 64 hex digits as 32 bytes (a key digest from the store).
pub fn parse_hex32(h: &str) -> Option<[u8; 32]> {
    let b = h.as_bytes();
    if b.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        let s = std::str::from_utf8(&b[i * 2..i * 2 + 2]).ok()?;
        *o = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

pub fn sha256(b: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::digest(b).into()
}
