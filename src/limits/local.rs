//! The local backend: one atomic cell per (limit, key), in a sharded map that lives in `Shared`
//! so a reload keeps the counts of every limit whose config did not change (a limit's identity
//! includes its config). Idle cells are evicted when a shard grows: memory is bounded by the keys
//! active at once.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

const SHARDS: usize = 64;
/// A shard this large is swept of idle cells before it takes a new one.
const SWEEP_AT: usize = 1024;

/// One limit's state for one key.
pub struct Cell {
    /// GCRA: the TAT; quota: window and count; concurrency: requests in flight.
    pub state: AtomicU64,
    /// When the cell is as good as new (store clock, ns; unix seconds for quotas are mapped
    /// by `LocalStore::idle_until`).
    idle_at: AtomicU64,
}

impl Cell {
    pub fn set_idle_at(&self, at: u64) {
        self.idle_at.fetch_max(at, Ordering::Relaxed);
    }
}

/// The key of a cell: the limit's identity (with its config) and the key value.
#[derive(Clone, PartialEq, Eq)]
pub struct CellKey {
    pub limit: u64,
    pub value: Box<[u8]>,
}

/// A key as a borrowed view, so a lookup needs no allocation.
trait AsKey {
    fn key(&self) -> (u64, &[u8]);
}

impl AsKey for CellKey {
    fn key(&self) -> (u64, &[u8]) {
        (self.limit, &self.value)
    }
}

impl AsKey for (u64, &[u8]) {
    fn key(&self) -> (u64, &[u8]) {
        *self
    }
}

impl<'a> std::borrow::Borrow<dyn AsKey + 'a> for CellKey {
    fn borrow(&self) -> &(dyn AsKey + 'a) {
        self
    }
}

impl Hash for CellKey {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.key().hash(h)
    }
}

impl Hash for dyn AsKey + '_ {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.key().hash(h)
    }
}

impl PartialEq for dyn AsKey + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for dyn AsKey + '_ {}

/// foldhash, seeded at random per process: several times cheaper than SipHash on these short
/// keys. Keys may come from clients (IPs, header values), but the seed is never shown and no
/// hash value leaves the process, so collisions cannot be aimed.
type KeyHasher = foldhash::fast::RandomState;
type Shard = Mutex<HashMap<CellKey, Arc<Cell>, KeyHasher>>;

pub struct LocalStore {
    shards: Box<[Shard]>,
    hasher: KeyHasher,
    epoch: Instant,
}

impl Default for LocalStore {
    fn default() -> Self {
        LocalStore {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::with_hasher(KeyHasher::default()))).collect(),
            hasher: Default::default(),
            epoch: Instant::now(),
        }
    }
}

impl LocalStore {
    /// Nanoseconds on the store's monotonic clock (never 0, so a fresh cell is always idle).
    pub fn now(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64 + 1
    }

    /// The cell of `key`, created when missing.
    pub fn cell(&self, limit: u64, value: &[u8]) -> Arc<Cell> {
        let mut h = self.hasher.build_hasher();
        limit.hash(&mut h);
        value.hash(&mut h);
        let shard = &self.shards[(h.finish() as usize) % SHARDS];
        let mut map = shard.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = map.get(&(limit, value) as &dyn AsKey) {
            return c.clone();
        }
        if map.len() >= SWEEP_AT {
            let now = self.now();
            // Nobody holds it (no concurrency guard, no request between lookup and decision)
            // and its state is back to fresh.
            map.retain(|_, c| Arc::strong_count(c) > 1 || c.idle_at.load(Ordering::Relaxed) > now);
        }
        let c = Arc::new(Cell { state: AtomicU64::new(0), idle_at: AtomicU64::new(0) });
        map.insert(CellKey { limit, value: value.into() }, c.clone());
        c
    }

    /// Cells currently held (for tests and the admin status).
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().map(|m| m.len()).unwrap_or(0)).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_cells_are_evicted_busy_ones_kept() {
        let s = LocalStore::default();
        let held = s.cell(1, b"held");
        let busy = s.cell(1, b"busy");
        busy.set_idle_at(u64::MAX);
        busy.state.store(7, Ordering::Relaxed);
        drop(busy);
        for i in 0..(SHARDS * SWEEP_AT * 3) {
            let _ = s.cell(2, i.to_string().as_bytes());
        }
        assert!(s.len() <= SHARDS * (SWEEP_AT + 1));
        assert!(Arc::ptr_eq(&held, &s.cell(1, b"held")));
        assert_eq!(s.cell(1, b"busy").state.load(Ordering::Relaxed), 7);
    }
}
