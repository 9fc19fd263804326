//! A fixed-bucket latency histogram: mergeable by adding counts (across flushes, nodes and
//! time buckets), quantiles by linear interpolation inside a bucket.

/// Upper bounds of the buckets in milliseconds; one more bucket holds everything above.
pub const BOUNDS_MS: &[f64] = &[
    1.0, 2.0, 3.0, 5.0, 7.0, 10.0, 15.0, 20.0, 30.0, 50.0, 70.0, 100.0, 150.0, 200.0, 300.0, 500.0, 700.0, 1000.0,
    1500.0, 2000.0, 3000.0, 5000.0, 7000.0, 10000.0, 15000.0, 30000.0, 60000.0,
];
pub const BUCKETS: usize = BOUNDS_MS.len() + 1;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hist(pub [u64; BUCKETS]);

impl Default for Hist {
    fn default() -> Self {
        Hist([0; BUCKETS])
    }
}

impl Hist {
    pub fn record(&mut self, ms: f64) {
        let i = BOUNDS_MS.partition_point(|&b| b < ms);
        self.0[i] += 1;
    }

    pub fn merge(&mut self, o: &Hist) {
        for (a, b) in self.0.iter_mut().zip(o.0.iter()) {
            *a += b;
        }
    }

    /// The `q` quantile (0..=1) in ms; `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let total: u64 = self.0.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = (q * total as f64).max(1.0);
        let mut seen = 0u64;
        for (i, &n) in self.0.iter().enumerate() {
            if n == 0 {
                continue;
            }
            if (seen + n) as f64 >= rank {
                let lo = if i == 0 { 0.0 } else { BOUNDS_MS[i - 1] };
                let Some(&hi) = BOUNDS_MS.get(i) else { return Some(lo) };
                let frac = (rank - seen as f64) / n as f64;
                return Some(((lo + (hi - lo) * frac) * 100.0).round() / 100.0);
            }
            seen += n;
        }
        BOUNDS_MS.last().copied()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.0[..]).unwrap_or_default()
    }

    /// A stored histogram; a malformed one (or one with another bucket count) reads as empty.
    pub fn from_json(s: &str) -> Hist {
        let v: Vec<u64> = serde_json::from_str(s).unwrap_or_default();
        let mut h = Hist::default();
        if v.len() == BUCKETS {
            h.0.copy_from_slice(&v);
        }
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_merge_and_round_trip() {
        let mut a = Hist::default();
        for ms in 1..=100 {
            a.record(ms as f64);
        }
        let p50 = a.quantile(0.5).unwrap();
        assert!((30.0..=70.0).contains(&p50), "{p50}");
        let p99 = a.quantile(0.99).unwrap();
        assert!((70.0..=100.0).contains(&p99), "{p99}");
        let mut b = Hist::default();
        b.record(90_000.0);
        a.merge(&b);
        assert_eq!(a.0.iter().sum::<u64>(), 101);
        assert_eq!(Hist::from_json(&a.to_json()), a);
        assert_eq!(Hist::from_json("[1,2]"), Hist::default());
        assert_eq!(Hist::default().quantile(0.5), None);
        assert_eq!(b.quantile(0.5), Some(60000.0));
    }
}
