//! A small bounded cache of verification results, each entry valid until its own deadline.
//! When full, expired entries go first, then everything (verification is still correct after a
//! flush, only slower for a moment). Keys are hashed with std's randomly seeded SipHash, so an
//! attacker cannot aim collisions at one bucket.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::RwLock;
use std::time::Instant;

pub struct TtlCache<K, V> {
    map: RwLock<HashMap<K, (V, Instant)>>,
    cap: usize,
}

impl<K: Hash + Eq, V: Clone> TtlCache<K, V> {
    pub fn new(cap: usize) -> Self {
        TtlCache { map: RwLock::new(HashMap::new()), cap }
    }

    pub fn get<Q: Hash + Eq + ?Sized>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        let map = self.map.read().unwrap_or_else(|e| e.into_inner());
        match map.get(key) {
            Some((v, until)) if Instant::now() < *until => Some(v.clone()),
            _ => None,
        }
    }

    pub fn insert(&self, key: K, value: V, until: Instant) {
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        if map.len() >= self.cap {
            let now = Instant::now();
            map.retain(|_, (_, u)| *u > now);
            if map.len() >= self.cap {
                map.clear();
            }
        }
        map.insert(key, (value, until));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn expires_and_stays_bounded() {
        let c = TtlCache::new(2);
        let later = Instant::now() + Duration::from_secs(60);
        c.insert([1; 32], 1, later);
        c.insert([2; 32], 2, Instant::now());
        assert_eq!(c.get(&[1; 32]), Some(1));
        assert_eq!(c.get(&[2; 32]), None, "expired");
        c.insert([3; 32], 3, later);
        c.insert([4; 32], 4, later);
        assert!(c.map.read().unwrap().len() <= 2);
        assert_eq!(c.get(&[4; 32]), Some(4));
    }
}
