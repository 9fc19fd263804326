//! `[cache]` (the process-wide store) and the `cache` table of `[[api]]` / `[[api.route]]`
//! (which responses are cached): the serde model and the checks that need more than a type.

use super::model::Config;
use super::units::{ByteSize, HumanDuration};
use serde::Deserialize;
use std::time::Duration;

type Err<'a> = dyn FnMut(String, String) + 'a;

/// `[cache]`: one in-memory store for the whole process, kept across reloads.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    /// Bytes of bodies kept; the least recently used objects are evicted beyond it.
    pub max_size: ByteSize,
    /// Bigger responses are passed through, never stored.
    pub max_object_size: ByteSize,
    /// How long concurrent misses for one key wait for the one request that fills it.
    pub lock_timeout: HumanDuration,
    /// Accept `PURGE <url>` on the proxy listeners, with the admin token as a bearer token.
    pub purge_method: bool,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            max_size: ByteSize(256 << 20),
            max_object_size: ByteSize(8 << 20),
            lock_timeout: HumanDuration(Duration::from_secs(5)),
            purge_method: false,
        }
    }
}

/// The `cache` table of an API or route (a route's table replaces the API's).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiCacheConfig {
    pub enabled: bool,
    /// Freshness for responses that carry none (no `max-age`, `s-maxage` or `Expires`) but are
    /// otherwise storable; absent: such responses are not stored.
    pub default_ttl: Option<HumanDuration>,
    /// Key entries by consumer as well, so an authenticated response is stored for its own
    /// consumer only; without it, an authenticated request is cached only when the response says
    /// `public` or `s-maxage`.
    pub per_consumer: bool,
}

pub fn validate(cfg: &Config, err: &mut Err) {
    let c = &cfg.cache;
    if c.max_size.0 < 1024 {
        err("cache.max_size".into(), "must be at least 1KiB".into());
    }
    if c.max_object_size.0 == 0 {
        err("cache.max_object_size".into(), "must be greater than zero".into());
    } else if c.max_object_size.0 > c.max_size.0 {
        err("cache.max_object_size".into(), "must not be larger than cache.max_size".into());
    }
    if c.lock_timeout.0.is_zero() {
        err("cache.lock_timeout".into(), "must be greater than zero".into());
    }
    if c.purge_method && cfg.admin.as_ref().is_none_or(|a| a.token.is_none() && a.token_env.is_none()) {
        err("cache.purge_method".into(), "needs admin.token or admin.token_env (PURGE is gated by it)".into());
    }
    super::compression::validate(&cfg.server.compression, "server.compression", err);
    for (i, a) in cfg.apis.iter().enumerate() {
        if let Some(c) = &a.compression {
            super::compression::validate(c, &format!("api[{i}].compression"), err);
        }
        api_cache(a.cache.as_ref(), &format!("api[{i}].cache"), err);
        for (j, r) in a.route.iter().enumerate() {
            api_cache(r.cache.as_ref(), &format!("api[{i}].route[{j}].cache"), err);
        }
    }
}

fn api_cache(c: Option<&ApiCacheConfig>, p: &str, err: &mut Err) {
    let Some(c) = c else { return };
    if c.default_ttl.is_some_and(|t| t.0.is_zero()) {
        err(
            format!("{p}.default_ttl"),
            "must be greater than zero (leave it out to store nothing without freshness)".into(),
        );
    }
    if !c.enabled && (c.default_ttl.is_some() || c.per_consumer) {
        err(
            format!("{p}.enabled"),
            "is false, so default_ttl and per_consumer have no effect; set enabled = true".into(),
        );
    }
}
