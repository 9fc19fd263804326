//! Rate limits, quotas and concurrency limits (issue 5), local backend. Policies are built once
//! per config; their state lives in `LocalStore` (kept in `Shared` across reloads).

pub mod gcra;
pub mod local;
pub mod redis;

use crate::config::{LimitConfig, LimitKey, LoadedConfig, PlanConfig};
use gcra::{Decision, Gcra, QuotaRule};
use local::Cell;
#[cfg(test)]
use local::LocalStore;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::atomic::Ordering;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Rate(Gcra),
    Quota(QuotaRule),
}

/// One limit: what it counts, by what key, under which name in the headers and metrics.
pub struct Policy {
    /// The `RateLimit-Policy` name (an sf-string, without quotes) and the metric label.
    pub name: String,
    /// The limit's identity including its config: state is kept across a reload when equal.
    pub id: u64,
    pub kind: Kind,
    pub key: LimitKey,
}

impl Policy {
    fn new(scope: &str, name: String, kind: Kind, key: LimitKey) -> Policy {
        // A fixed-key SipHash: the same config gives the same id in every runtime.
        #[allow(deprecated)]
        let mut h = std::hash::SipHasher::new();
        scope.hash(&mut h);
        kind.hash(&mut h);
        key.hash(&mut h);
        Policy { name, id: h.finish(), kind, key }
    }

    /// `q` of `RateLimit-Policy`: the requests allowed at once from idle / per window.
    pub fn quota_units(&self) -> u64 {
        match self.kind {
            Kind::Rate(g) => g.burst,
            Kind::Quota(q) => q.n,
        }
    }

    /// `w` of `RateLimit-Policy`; `unix` matters only for monthly quotas.
    pub fn window_secs(&self, unix: u64) -> u64 {
        match self.kind {
            Kind::Rate(g) => g.window_secs(),
            Kind::Quota(q) => q.window_secs(unix),
        }
    }

    /// Check and take one request from `cell`.
    pub fn take(&self, cell: &Cell, clock: &Clock) -> Decision {
        let d = match self.kind {
            Kind::Rate(g) => g.take(&cell.state, clock.now),
            Kind::Quota(q) => q.take(&cell.state, clock.unix()),
        };
        // Idle again once the TAT has passed / the window has ended.
        cell.set_idle_at(clock.now.saturating_add(d.reset.saturating_mul(1_000_000_000)));
        d
    }

    /// The limit as the Redis script takes it: kind, a, b (see `redis.lua`).
    pub fn script_args(&self) -> (&'static str, u64, u64) {
        use crate::config::QuotaWindow::*;
        match self.kind {
            // The script counts in µs (exact in a Lua double for centuries of unix time).
            Kind::Rate(g) => ("r", (g.interval / 1000).max(1), g.burst),
            Kind::Quota(q) => (
                match q.window {
                    Hour => "h",
                    Day => "d",
                    Month => "m",
                },
                q.n,
                0,
            ),
        }
    }

    pub fn undo(&self, cell: &Cell, clock: &Clock) {
        match self.kind {
            Kind::Rate(g) => g.undo(&cell.state),
            Kind::Quota(q) => q.undo(&cell.state, clock.unix()),
        }
    }
}

/// The times of one decision: the local store's monotonic clock (ns) for rates, and unix seconds
/// for quotas, read only when a quota asks (a rate-only request reads one clock).
pub struct Clock {
    pub now: u64,
    unix: std::cell::Cell<Option<u64>>,
}

impl Clock {
    pub fn new(now: u64) -> Clock {
        Clock { now, unix: std::cell::Cell::new(None) }
    }

    /// A clock whose wall time is given too (tests and fuzzing step it instead of waiting).
    pub fn at(now: u64, unix: u64) -> Clock {
        Clock { now, unix: std::cell::Cell::new(Some(unix)) }
    }

    pub fn unix(&self) -> u64 {
        *self.unix.get().get_or_insert_with(|| {
            let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
            let unix = since.map(|d| d.as_secs()).unwrap_or(0);
            self.unix.set(Some(unix));
            unix
        })
    }
}

/// The policies of one `rate`/`quota` pair (a plan or a `limits` entry).
fn policies(
    scope: &str,
    name: &str,
    rate: Option<crate::config::Rate>,
    burst: Option<u64>,
    quota: Option<crate::config::Quota>,
    key: &LimitKey,
) -> Vec<Arc<Policy>> {
    let mut out = Vec::new();
    if let Some(r) = rate {
        let g = Gcra::new(r.n, r.per, burst.unwrap_or(r.n));
        out.push(Arc::new(Policy::new(scope, name.to_string(), Kind::Rate(g), key.clone())));
    }
    if let Some(q) = quota {
        let qname = if rate.is_some() { format!("{name}-quota") } else { name.to_string() };
        let rule = QuotaRule { n: q.n, window: q.window };
        out.push(Arc::new(Policy::new(scope, qname, Kind::Quota(rule), key.clone())));
    }
    out
}

/// Max requests in flight per consumer.
pub struct Concurrency {
    pub id: u64,
    pub max: u64,
    pub name: String,
}

pub struct Plan {
    pub name: String,
    pub policies: Vec<Arc<Policy>>,
    pub concurrency: Option<Concurrency>,
}

impl Plan {
    fn build(p: &PlanConfig) -> Plan {
        let scope = format!("plan:{}", p.name);
        let policies = policies(&scope, &p.name, p.rate, p.burst, p.quota, &LimitKey::Consumer);
        let concurrency = p.concurrency.map(|max| {
            #[allow(deprecated)]
            let mut h = std::hash::SipHasher::new();
            (&scope, "concurrency").hash(&mut h);
            Concurrency { id: h.finish(), max: max as u64, name: format!("{}-concurrency", p.name) }
        });
        Plan { name: p.name.clone(), policies, concurrency }
    }
}

/// Every plan of a config, by name.
#[derive(Default)]
pub struct Plans {
    pub list: Vec<Arc<Plan>>,
    pub by_name: HashMap<String, usize>,
    /// Plans exist, so a consumer may have one — from the config, or made at run time through
    /// the admin API — and every route with authentication needs the limiter.
    pub consumers_may_have_plans: bool,
}

impl Plans {
    pub fn build(loaded: &LoadedConfig) -> Plans {
        let cfg = &loaded.config;
        let list: Vec<Arc<Plan>> = cfg.plans.iter().map(|p| Arc::new(Plan::build(p))).collect();
        let by_name = list.iter().enumerate().map(|(i, p)| (p.name.clone(), i)).collect();
        Plans { list, by_name, consumers_may_have_plans: !cfg.plans.is_empty() }
    }
}

/// The policies of an API's or a route's `limits`.
pub fn limit_policies(scope: &str, prefix: &str, limits: &[LimitConfig]) -> Vec<Arc<Policy>> {
    let mut out = Vec::new();
    for (i, l) in limits.iter().enumerate() {
        let scope = format!("{scope}.limits[{i}]");
        out.extend(policies(&scope, &format!("{prefix}-{i}"), l.rate, l.burst, l.quota, &l.key));
    }
    out
}

/// Where this config's limit counts live: in this process, or in Redis (shared by every node).
pub enum Backend {
    Local,
    Redis(RedisBackend),
}

/// A config's Redis settings around the process's connection.
pub struct RedisBackend {
    pub conn: Arc<redis::RedisConn>,
    pub timeout: std::time::Duration,
    pub on_error: crate::config::OnBackendError,
}

/// The process's Redis connection, kept across reloads while `redis_url` stays the same.
#[derive(Default)]
pub struct RedisSlot(std::sync::Mutex<Option<Arc<redis::RedisConn>>>);

impl RedisSlot {
    pub fn get(&self, url: &str) -> Result<Arc<redis::RedisConn>, String> {
        let mut slot = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match &*slot {
            Some(c) if c.url == url => Ok(c.clone()),
            _ => {
                let c = redis::RedisConn::new(url)?;
                *slot = Some(c.clone());
                Ok(c)
            }
        }
    }
}

/// A slot taken from a concurrency limit, given back on drop (however the request ends).
pub struct InFlight(Arc<Cell>);

impl InFlight {
    /// Take a slot, or `None` when `max` are in flight.
    pub fn acquire(cell: Arc<Cell>, max: u64) -> Option<InFlight> {
        cell.state.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < max).then_some(n + 1)).ok()?;
        Some(InFlight(cell))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.state.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_flight_slots_come_back_on_drop() {
        let s = LocalStore::default();
        let a = InFlight::acquire(s.cell(9, b"c"), 2).unwrap();
        let _b = InFlight::acquire(s.cell(9, b"c"), 2).unwrap();
        assert!(InFlight::acquire(s.cell(9, b"c"), 2).is_none());
        drop(a);
        assert!(InFlight::acquire(s.cell(9, b"c"), 2).is_some());
    }
}
