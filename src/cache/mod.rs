//! Response caching on `pingora-cache`: one in-memory store per process
//! (kept in `Shared`, so it survives reloads), an LRU eviction manager bounded in bytes, an
//! admission filter that keeps one-off objects from pushing out hot ones, and the cache lock
//! that coalesces concurrent misses. `policy.rs` decides what is stored and for how long,
//! `key.rs` what an entry is keyed by, `status.rs` the `Cache-Status` header.

mod admission;
pub mod key;
mod metrics;
pub mod policy;
pub mod status;
pub mod store;

use pingora_cache::eviction::{lru, CacheEntryKey, CacheEntryKeyRef, EvictionManager};
use pingora_cache::lock::{CacheKeyLockImpl, CacheLock};
use pingora_cache::CacheOptionOverrides;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;
pub use store::MemStore;

/// Eviction shards: independent LRUs, so admits on different keys rarely contend.
const SHARDS: usize = 16;

/// The process-wide cache. Its parts are leaked once per process: pingora wants `'static`.
pub struct Cache {
    pub store: &'static MemStore,
    pub eviction: &'static lru::Manager<SHARDS>,
    pub lock: &'static CacheKeyLockImpl,
    admission: &'static admission::Doorkeeper,
    /// `gatehouse_cache_requests_total{result}`.
    pub results: status::Results,
    /// The `max_size` the eviction manager was last given (changed by a reload).
    max_size: AtomicUsize,
    metrics_registered: AtomicBool,
}

impl Default for Cache {
    fn default() -> Self {
        let settings = Settings::default();
        let store: &'static MemStore = Box::leak(Box::default());
        store.max_object_size.store(settings.max_object_size, Relaxed);
        let lock: Box<CacheKeyLockImpl> = Box::new(CacheLock::new(settings.lock_timeout));
        Cache {
            store,
            eviction: Box::leak(Box::new(lru::Manager::with_capacity(settings.max_size, 1024))),
            lock: Box::leak(lock),
            admission: Box::leak(Box::new(admission::Doorkeeper::new(store, settings.max_size))),
            results: status::Results::default(),
            max_size: AtomicUsize::new(settings.max_size),
            metrics_registered: AtomicBool::new(false),
        }
    }
}

/// `[cache]` as the proxy uses it.
#[derive(Clone)]
pub struct Settings {
    pub max_size: usize,
    pub max_object_size: usize,
    pub lock_timeout: Duration,
    /// SHA-256 of the admin token when `purge_method` is on.
    pub purge_token: Option<[u8; 32]>,
}

impl Default for Settings {
    fn default() -> Self {
        let c = crate::config::CacheConfig::default();
        Settings {
            max_size: c.max_size.0 as usize,
            max_object_size: c.max_object_size.0 as usize,
            lock_timeout: c.lock_timeout.0,
            purge_token: None,
        }
    }
}

impl Settings {
    pub fn build(cfg: &crate::config::Config) -> Settings {
        use sha2::Digest;
        let c = &cfg.cache;
        let token = cfg
            .admin
            .as_ref()
            .and_then(|a| a.token.clone().or_else(|| a.token_env.as_ref().and_then(|v| std::env::var(v).ok())));
        Settings {
            max_size: usize::try_from(c.max_size.0).unwrap_or(usize::MAX),
            max_object_size: usize::try_from(c.max_object_size.0).unwrap_or(usize::MAX),
            lock_timeout: c.lock_timeout.0,
            purge_token: token.filter(|_| c.purge_method).map(|t| sha2::Sha256::digest(t.as_bytes()).into()),
        }
    }
}

/// A route's `cache` table, resolved (route over API).
#[derive(Clone, Debug)]
pub struct RouteCache {
    pub default_ttl: Option<Duration>,
    pub per_consumer: bool,
}

impl RouteCache {
    pub fn build(
        api: Option<&crate::config::ApiCacheConfig>,
        route: Option<&crate::config::ApiCacheConfig>,
    ) -> Option<Arc<RouteCache>> {
        let c = route.or(api)?;
        c.enabled
            .then(|| Arc::new(RouteCache { default_ttl: c.default_ttl.map(|d| d.0), per_consumer: c.per_consumer }))
    }
}

impl Cache {
    /// Bring the store in line with the current config (cheap when nothing changed) and hand
    /// the request its lock options.
    pub fn apply(&self, s: &Settings) -> CacheOptionOverrides {
        if self.max_size.swap(s.max_size, Relaxed) != s.max_size {
            self.eviction.set_weight_limit(s.max_size);
            self.admission.set_capacity(s.max_size);
        }
        self.store.max_object_size.store(s.max_object_size, Relaxed);
        let mut o = CacheOptionOverrides::default();
        o.wait_timeout = Some(s.lock_timeout);
        o
    }

    pub fn admission(&self) -> &'static admission::Doorkeeper {
        self.admission
    }

    /// Register the cache's metrics with `registry` (once per process).
    pub fn register_metrics(&self, registry: &prometheus::Registry) {
        if !self.metrics_registered.swap(true, Relaxed) {
            let collector = metrics::CacheCollector::new(self.store, self.eviction);
            for c in [Box::new(collector) as Box<dyn prometheus::core::Collector>, Box::new(self.results.vec.clone())] {
                if let Err(e) = registry.register(c) {
                    log::warn!("cache metrics not registered: {e}");
                }
            }
        }
    }

    /// Remove every stored object whose URL `matches` (all variants and consumers); returns how
    /// many objects went.
    pub fn purge(&self, matches: impl Fn(&str) -> bool) -> usize {
        let removed = self.store.purge_where(matches);
        for k in &removed {
            let entry = CacheEntryKey::key_only(k.clone());
            self.eviction.remove(CacheEntryKeyRef::from(&entry));
        }
        removed.len()
    }
}
