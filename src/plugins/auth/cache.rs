//! A small bounded cache of verification results keyed by a sha256 digest, each entry valid
//! until its own deadline. When full, expired entries go first, then everything (verification
//! is still correct after a flush, only slower for a moment).

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Instant;

pub struct TtlCache<V> {
    map: RwLock<HashMap<[u8; 32], (V, Instant)>>,
    cap: usize,
}

impl<V: Clone> TtlCache<V> {
    pub fn new(cap: usize) -> Self {
        TtlCache { map: RwLock::new(HashMap::new()), cap }
    }

    pub fn get(&self, key: &[u8; 32]) -> Option<V> {
        let map = self.map.read().unwrap_or_else(|e| e.into_inner());
        match map.get(key) {
            Some((v, until)) if Instant::now() < *until => Some(v.clone()),
            _ => None,
        }
    }

    pub fn insert(&self, key: [u8; 32], value: V, until: Instant) {
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
