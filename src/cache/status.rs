//! How a request went through the cache: the `Cache-Status` response header (RFC 9211) and the
//! `result` label of `gatehouse_cache_requests_total`.

use pingora_cache::{CacheMeta, CachePhase};
use prometheus::{IntCounter, IntCounterVec, Opts};
use std::time::SystemTime;

/// The cache's name in `Cache-Status`.
const NAME: &str = "gatehouse";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Served from cache without asking the upstream.
    Hit,
    /// Served from cache although stale (while revalidating, or because the upstream failed).
    Stale,
    /// Forwarded; stored afterwards if `stored`.
    Miss,
    /// Forwarded as a conditional request; the upstream said 304 and the stored body was used.
    Revalidated,
    /// Not eligible (method, client `no-store`, purge…): forwarded without a lookup.
    Bypass,
}

impl Outcome {
    const ALL: [Outcome; 5] = [Outcome::Hit, Outcome::Stale, Outcome::Miss, Outcome::Revalidated, Outcome::Bypass];

    fn label(self) -> &'static str {
        match self {
            Outcome::Hit => "hit",
            Outcome::Stale => "stale",
            Outcome::Miss => "miss",
            Outcome::Revalidated => "revalidated",
            Outcome::Bypass => "bypass",
        }
    }
}

/// Pre-resolved `gatehouse_cache_requests_total{result}` counters.
pub struct Results {
    pub vec: IntCounterVec,
    cells: [IntCounter; 5],
}

impl Default for Results {
    fn default() -> Self {
        let vec = IntCounterVec::new(
            Opts::new("gatehouse_cache_requests_total", "Requests on cached routes by result"),
            &["result"],
        )
        .expect("static metric definition");
        let cells = Outcome::ALL.map(|o| vec.with_label_values(&[o.label()]));
        Results { vec, cells }
    }
}

impl Results {
    pub fn count(&self, o: Outcome) {
        self.cells[Outcome::ALL.iter().position(|x| *x == o).unwrap_or(0)].inc();
    }
}

/// The phase the response left the cache in, turned into an outcome and a `Cache-Status` value.
/// `vary_miss`: the URL was stored, but not for this request's `Vary` values.
pub fn describe(phase: CachePhase, meta: Option<&CacheMeta>, vary_miss: bool) -> (Outcome, String) {
    let ttl = || {
        meta.map(|m| {
            let now = SystemTime::now();
            match m.fresh_until().duration_since(now) {
                Ok(d) => d.as_secs() as i64,
                Err(e) => -(e.duration().as_secs() as i64),
            }
        })
    };
    // Built by pushing, not `format!`: this runs on every cache hit.
    let value = |parts: &[&str], ttl: Option<i64>| {
        let mut s = String::with_capacity(48);
        s.push_str(NAME);
        parts.iter().for_each(|p| s.push_str(p));
        if let Some(t) = ttl {
            s.push_str("; ttl=");
            s.push_str(itoa::Buffer::new().format(t));
        }
        s
    };
    let miss = if vary_miss { "; fwd=vary-miss" } else { "; fwd=uri-miss" };
    match phase {
        CachePhase::Hit => (Outcome::Hit, value(&["; hit"], ttl())),
        CachePhase::StaleUpdating => (Outcome::Stale, value(&["; hit; detail=stale-while-revalidate"], ttl())),
        // Still stale at the response: the upstream failed and the stored response stood in.
        CachePhase::Stale => (Outcome::Stale, value(&["; fwd=stale; detail=stale-if-error"], ttl())),
        CachePhase::Miss => (Outcome::Miss, value(&[miss, "; stored"], ttl())),
        CachePhase::Expired => (Outcome::Miss, value(&["; fwd=stale; stored"], ttl())),
        CachePhase::Revalidated => (Outcome::Revalidated, value(&["; fwd=stale; fwd-status=304"], ttl())),
        CachePhase::RevalidatedNoCache(_) => (Outcome::Revalidated, value(&["; fwd=stale; fwd-status=304"], None)),
        CachePhase::Disabled(r) => (Outcome::Miss, value(&[miss, "; detail=", r.as_str()], None)),
        _ => (Outcome::Bypass, value(&["; fwd=bypass"], None)),
    }
}
