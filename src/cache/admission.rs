//! Admission: while the store has room every miss is stored; once it is nearly full, a key must
//! have been missed before (a small frequency sketch remembers recent misses) to be stored, so a
//! scan of one-off URLs cannot push the hot objects out. The counts are halved periodically so
//! old popularity fades.

use super::MemStore;
use pingora_cache::admission::{AdmissionPolicy, Decision};
use pingora_cache::key::CacheHashKey;
use pingora_cache::CacheKey;
use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering::Relaxed};

const SLOTS: usize = 1 << 16;
/// Halve every count after this many observations.
const AGE_EVERY: u64 = (SLOTS as u64) * 4;

pub struct Doorkeeper {
    counts: Box<[AtomicU8]>,
    observed: AtomicU64,
    /// Bytes the store may hold.
    capacity: AtomicUsize,
    store: &'static MemStore,
}

impl Doorkeeper {
    pub fn new(store: &'static MemStore, capacity: usize) -> Self {
        Doorkeeper {
            counts: (0..SLOTS).map(|_| AtomicU8::new(0)).collect(),
            observed: AtomicU64::new(0),
            capacity: AtomicUsize::new(capacity),
            store,
        }
    }

    pub fn set_capacity(&self, bytes: usize) {
        self.capacity.store(bytes, Relaxed);
    }

    fn nearly_full(&self) -> bool {
        let cap = self.capacity.load(Relaxed);
        self.store.bytes() >= cap - cap / 10
    }

    fn slot(&self, key: &CacheKey) -> &AtomicU8 {
        let h = key.primary_bin();
        let i = u16::from_le_bytes([h[0], h[1]]) as usize;
        &self.counts[i % SLOTS]
    }
}

impl AdmissionPolicy for Doorkeeper {
    fn observe(&self, key: &CacheKey) -> Decision {
        let slot = self.slot(key);
        let seen = slot.fetch_update(Relaxed, Relaxed, |c| Some(c.saturating_add(1))).unwrap_or(0) as u32 + 1;
        if self.observed.fetch_add(1, Relaxed) % AGE_EVERY == AGE_EVERY - 1 {
            for c in self.counts.iter() {
                let _ = c.fetch_update(Relaxed, Relaxed, |v| Some(v / 2));
            }
        }
        if seen < 2 && self.nearly_full() {
            Decision::Defer { observed: seen }
        } else {
            Decision::Ready { observed: seen }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_off_keys_wait_only_when_nearly_full() {
        let store: &'static MemStore = Box::leak(Box::default());
        let d = Doorkeeper::new(store, 1000);
        let k = |s: &str| CacheKey::new(s, "");
        assert!(!d.observe(&k("a")).is_deferred(), "room left: admitted at once");
        d.set_capacity(0);
        assert!(d.observe(&k("b")).is_deferred(), "full: a first sighting waits");
        assert!(!d.observe(&k("b")).is_deferred(), "full: a second sighting is admitted");
    }
}
