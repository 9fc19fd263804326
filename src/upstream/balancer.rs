//! Balancing policies. Each picks an index into the cluster's peer list, skipping peers that are
//! down or already tried by this request. State is atomics only: no lock on the hot path.

use crate::config::HashOn;
use std::sync::atomic::{AtomicUsize, Ordering};

pub enum Policy {
    /// Round robin over a precomputed smooth weighted schedule (all weights 1 = plain rotation).
    Schedule { order: Vec<u32>, next: AtomicUsize },
    /// A hash ring with points in proportion to weight.
    Ring { points: Vec<(u64, u32)>, on: HashOn },
    /// Fewest requests in flight relative to weight.
    LeastRequest { next: AtomicUsize },
}

impl Policy {
    pub fn schedule(weights: &[u32]) -> Policy {
        Policy::Schedule { order: smooth_weighted_order(weights), next: AtomicUsize::new(fastrand::usize(..1024)) }
    }

    pub fn ring(weights: &[u32], labels: &[String], on: HashOn) -> Policy {
        let mut points = Vec::new();
        for (i, (w, label)) in weights.iter().zip(labels).enumerate() {
            for v in 0..(*w as u64 * 64).min(16_384) {
                let mut key = label.as_bytes().to_vec();
                key.extend_from_slice(&v.to_le_bytes());
                points.push((hash64(&key), i as u32));
            }
        }
        points.sort_unstable();
        Policy::Ring { points, on }
    }

    /// Pick a peer index for which `usable` is true, or `None`.
    pub fn pick(
        &self,
        n: usize,
        key: Option<&[u8]>,
        in_flight: impl Fn(usize) -> (usize, u32),
        usable: impl Fn(usize) -> bool,
    ) -> Option<usize> {
        match self {
            Policy::Schedule { order, next } => {
                let start = next.fetch_add(1, Ordering::Relaxed);
                (0..order.len()).map(|k| order[(start + k) % order.len()] as usize).find(|&i| usable(i))
            }
            Policy::Ring { points, .. } => {
                if points.is_empty() {
                    return None;
                }
                let h = hash64(key.unwrap_or_default());
                let start = points.partition_point(|p| p.0 < h);
                // Walk the ring: at most every point once, so a down peer's keys move to the next one.
                (0..points.len()).map(|k| points[(start + k) % points.len()].1 as usize).find(|&i| usable(i))
            }
            Policy::LeastRequest { next } => {
                let start = next.fetch_add(1, Ordering::Relaxed);
                let mut best: Option<(usize, usize, u32)> = None;
                for k in 0..n {
                    let i = (start + k) % n;
                    if !usable(i) {
                        continue;
                    }
                    let (load, w) = in_flight(i);
                    // load/w < best_load/best_w, compared without division.
                    if best.is_none_or(|(_, bl, bw)| (load as u64) * (bw as u64) < (bl as u64) * (w as u64)) {
                        best = Some((i, load, w));
                    }
                }
                best.map(|b| b.0)
            }
        }
    }
}

/// Nginx-style smooth weighted round robin, unrolled once into a fixed order.
fn smooth_weighted_order(weights: &[u32]) -> Vec<u32> {
    let g = weights.iter().copied().fold(0, gcd).max(1);
    let w: Vec<i64> = weights.iter().map(|&x| (x / g) as i64).collect();
    let total: i64 = w.iter().sum();
    let mut current = vec![0i64; w.len()];
    let mut order = Vec::with_capacity(total as usize);
    for _ in 0..total {
        for (c, wi) in current.iter_mut().zip(&w) {
            *c += wi;
        }
        let (best, _) = current.iter().enumerate().max_by_key(|(i, c)| (**c, -(*i as i64))).unwrap_or((0, &0));
        current[best] -= total;
        order.push(best as u32);
    }
    order
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// FNV-1a with a final avalanche: stable across processes and versions, so every gateway node
/// maps a key to the same peer.
pub fn hash64(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smooth_order_spreads_weights() {
        let o = smooth_weighted_order(&[5, 1, 1]);
        assert_eq!(o.len(), 7);
        assert_eq!(o.iter().filter(|&&i| i == 0).count(), 5);
        assert_ne!(&o[..3], &[0, 0, 0][..], "heavy peer interleaved, not bunched: {o:?}");
        assert_eq!(smooth_weighted_order(&[2, 2]), vec![0, 1]);
    }

    #[test]
    fn ring_is_stable_and_skips_down_peers() {
        let labels: Vec<String> = (0..4).map(|i| format!("10.0.0.{i}:80")).collect();
        let p = Policy::ring(&[1, 1, 1, 1], &labels, HashOn::Path);
        let a = p.pick(4, Some(b"/user/42"), |_| (0, 1), |_| true).unwrap();
        assert_eq!(p.pick(4, Some(b"/user/42"), |_| (0, 1), |_| true), Some(a));
        let b = p.pick(4, Some(b"/user/42"), |_| (0, 1), |i| i != a).unwrap();
        assert_ne!(a, b);
    }
}
