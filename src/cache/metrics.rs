//! The store's gauges and counters, read from the store when `/metrics` is scraped (so the hot
//! path does not touch them): `gatehouse_cache_bytes`, `gatehouse_cache_objects`,
//! `gatehouse_cache_evictions_total`. Per-request results are counted in `status.rs`.

use super::{MemStore, SHARDS};
use pingora_cache::eviction::{lru, EvictionManager};
use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{IntCounter, IntGauge};

pub struct CacheCollector {
    store: &'static MemStore,
    eviction: &'static lru::Manager<SHARDS>,
    bytes: IntGauge,
    objects: IntGauge,
    evictions: IntCounter,
}

impl CacheCollector {
    pub fn new(store: &'static MemStore, eviction: &'static lru::Manager<SHARDS>) -> Self {
        CacheCollector {
            store,
            eviction,
            bytes: IntGauge::new("gatehouse_cache_bytes", "Bytes of responses held by the cache")
                .expect("static metric definition"),
            objects: IntGauge::new("gatehouse_cache_objects", "Responses held by the cache")
                .expect("static metric definition"),
            evictions: IntCounter::new("gatehouse_cache_evictions_total", "Responses evicted to stay within max_size")
                .expect("static metric definition"),
        }
    }
}

impl Collector for CacheCollector {
    fn desc(&self) -> Vec<&Desc> {
        [self.bytes.desc(), self.objects.desc(), self.evictions.desc()].concat()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        self.bytes.set(self.store.bytes() as i64);
        self.objects.set(self.store.objects() as i64);
        // Evictions decided by the manager; the store counts those it carried out.
        let evicted = (self.eviction.evicted_items() as u64).max(self.store.evictions());
        self.evictions.inc_by(evicted.saturating_sub(self.evictions.get()));
        [self.bytes.collect(), self.objects.collect(), self.evictions.collect()].concat()
    }
}
