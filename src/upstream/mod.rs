//! Clusters of upstream peers: balancing, passive ejection, and the health state that the one
//! background health-check loop (`health.rs`) keeps current. Health state lives in a registry
//! outside the `Runtime`, so a reload that keeps a peer keeps its state.

mod balancer;
pub mod health;

pub use balancer::{hash64, Policy};

use crate::config::{Balance, ClusterConfig, HashOn, HealthConfig};
use crate::metrics::Metrics;
use crate::tls::upstream::UpstreamTls;
use pingora::upstreams::peer::{HttpPeer, HttpUpstreamRequestPolicy};
use prometheus::IntGauge;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

/// Milliseconds on a monotonic clock (0 = process start); 0 is never a real deadline.
pub fn now_ms() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_millis() as u64 + 1
}

/// Health of one upstream, shared across reloads.
pub struct PeerHealth {
    active_ok: AtomicBool,
    ok_streak: AtomicU32,
    fail_streak: AtomicU32,
    passive_fails: AtomicU32,
    ejected_until: AtomicU64,
    pub(crate) next_check: AtomicU64,
    pub(crate) checking: AtomicBool,
    last_check_unix_ms: AtomicU64,
    /// Why the last active check failed (`None` after a passing one); shown by `/clusters`.
    last_check_error: Mutex<Option<String>>,
    pub in_flight: AtomicUsize,
    gauge: IntGauge,
}

impl PeerHealth {
    fn new(gauge: IntGauge) -> Self {
        gauge.set(1);
        PeerHealth {
            active_ok: AtomicBool::new(true),
            ok_streak: AtomicU32::new(0),
            fail_streak: AtomicU32::new(0),
            passive_fails: AtomicU32::new(0),
            ejected_until: AtomicU64::new(0),
            next_check: AtomicU64::new(0),
            checking: AtomicBool::new(false),
            last_check_unix_ms: AtomicU64::new(0),
            last_check_error: Mutex::new(None),
            in_flight: AtomicUsize::new(0),
            gauge,
        }
    }

    /// Healthy by the active check and not ejected by passive failures.
    pub fn usable(&self) -> bool {
        if !self.active_ok.load(Relaxed) {
            return false;
        }
        let until = self.ejected_until.load(Relaxed);
        if until == 0 {
            return true;
        }
        if now_ms() >= until {
            // The cool-down is over: the peer gets traffic again.
            if self.ejected_until.compare_exchange(until, 0, Relaxed, Relaxed).is_ok() {
                self.refresh_gauge();
            }
            return true;
        }
        false
    }

    /// Without an active check a peer is healthy unless ejected.
    fn clear_active(&self) {
        self.active_ok.store(true, Relaxed);
        self.fail_streak.store(0, Relaxed);
        self.refresh_gauge();
    }

    fn refresh_gauge(&self) {
        let up = self.active_ok.load(Relaxed) && self.ejected_until.load(Relaxed) == 0;
        self.gauge.set(up as i64);
    }

    /// Record an active check result; returns `Some(new state)` when the state flipped.
    pub(crate) fn record_check(&self, ok: bool, cfg: &HealthConfig) -> Option<bool> {
        let unix = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
        self.last_check_unix_ms.store(unix.as_millis() as u64, Relaxed);
        let was = self.active_ok.load(Relaxed);
        let flipped = if ok {
            self.fail_streak.store(0, Relaxed);
            let n = self.ok_streak.fetch_add(1, Relaxed) + 1;
            (!was && n >= cfg.healthy_after).then_some(true)
        } else {
            self.ok_streak.store(0, Relaxed);
            let n = self.fail_streak.fetch_add(1, Relaxed) + 1;
            (was && n >= cfg.unhealthy_after).then_some(false)
        };
        if let Some(state) = flipped {
            self.active_ok.store(state, Relaxed);
        }
        self.refresh_gauge();
        flipped
    }

    /// The active check's outcome, recorded just before `record_check`.
    pub(crate) fn set_check_error(&self, error: Option<String>) {
        *self.last_check_error.lock().unwrap_or_else(|e| e.into_inner()) = error;
    }

    pub fn snapshot(&self) -> serde_json::Value {
        let last = self.last_check_unix_ms.load(Relaxed);
        let error = self.last_check_error.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let at = SystemTime::UNIX_EPOCH + Duration::from_millis(last);
        serde_json::json!({
            "healthy": self.active_ok.load(Relaxed),
            "ejected": self.ejected_until.load(Relaxed) > now_ms(),
            "consecutive_failures": self.fail_streak.load(Relaxed).max(self.passive_fails.load(Relaxed)),
            "consecutive_successes": self.ok_streak.load(Relaxed),
            "last_check": (last > 0).then(|| humantime::format_rfc3339_millis(at).to_string()),
            "last_check_ok": (last > 0).then_some(error.is_none()),
            "last_check_error": error,
            "in_flight": self.in_flight.load(Relaxed),
        })
    }
}

pub struct Peer {
    /// As written in the config (`host:port`); used for metrics labels and health-check Host.
    pub label: String,
    pub addr: SocketAddr,
    pub weight: u32,
    /// Built once at load time and cloned per request.
    pub http: HttpPeer,
    pub health: Arc<PeerHealth>,
}

pub struct Cluster {
    pub name: String,
    pub peers: Vec<Peer>,
    pub policy: Policy,
    pub retries: u32,
    pub eject_after: u32,
    pub eject_for: Duration,
    pub health: Option<HealthConfig>,
    /// `tls = true`: how to speak TLS to the peers (also used by the health check).
    pub tls: Option<Arc<UpstreamTls>>,
}

impl Cluster {
    /// Requests to this cluster may go over HTTP/2 (so `TE: trailers` is kept).
    pub fn h2(&self) -> bool {
        self.tls.as_ref().is_some_and(|t| t.h2)
    }

    pub fn hash_on(&self) -> Option<&HashOn> {
        match &self.policy {
            Policy::Ring { on, .. } => Some(on),
            _ => None,
        }
    }

    /// Pick a usable peer not in `tried` (bit i = peer i already tried by this request).
    pub fn select(&self, key: Option<&[u8]>, tried: u64) -> Option<usize> {
        let peers = &self.peers;
        self.policy.pick(
            peers.len(),
            key,
            |i| (peers[i].health.in_flight.load(Relaxed), peers[i].weight),
            |i| tried & bit(i) == 0 && peers[i].health.usable(),
        )
    }

    /// A connect failure or a reset before any response byte: count toward ejection.
    pub fn record_failure(&self, i: usize) {
        let h = &self.peers[i].health;
        if self.eject_after == 0 {
            return;
        }
        let n = h.passive_fails.fetch_add(1, Relaxed) + 1;
        if n >= self.eject_after {
            h.passive_fails.store(0, Relaxed);
            h.ejected_until.store(now_ms() + self.eject_for.as_millis() as u64, Relaxed);
            h.refresh_gauge();
            log::warn!(
                "cluster {}: upstream {} ejected for {:?} after {n} consecutive failures",
                self.name,
                self.peers[i].label,
                self.eject_for
            );
        }
    }

    pub fn record_success(&self, i: usize) {
        let h = &self.peers[i].health;
        if h.passive_fails.load(Relaxed) != 0 {
            h.passive_fails.store(0, Relaxed);
        }
    }
}

pub fn bit(i: usize) -> u64 {
    1u64 << i.min(63)
}

/// Health state by (cluster, upstream, health-check config), kept across reloads: a reload that
/// leaves a peer and its checks alone keeps what was learned about it; changed checks start fresh.
#[derive(Default)]
pub struct HealthRegistry {
    peers: Mutex<HashMap<PeerKey, Arc<PeerHealth>>>,
}

type PeerKey = (String, String, Option<HealthConfig>);

impl HealthRegistry {
    fn get(&self, cluster: &str, label: &str, health: &Option<HealthConfig>, metrics: &Metrics) -> Arc<PeerHealth> {
        let mut map = self.peers.lock().unwrap_or_else(|e| e.into_inner());
        map.entry((cluster.to_string(), label.to_string(), health.clone()))
            .or_insert_with(|| Arc::new(PeerHealth::new(metrics.upstream_gauge(cluster, label))))
            .clone()
    }

    /// Forget peers that the running config no longer has.
    pub fn retain(&self, clusters: &[Arc<Cluster>], metrics: &Metrics) {
        let mut map = self.peers.lock().unwrap_or_else(|e| e.into_inner());
        let live = |c: &str, u: &str, h: Option<&Option<HealthConfig>>| {
            clusters
                .iter()
                .any(|cl| cl.name == c && h.is_none_or(|h| cl.health == *h) && cl.peers.iter().any(|p| p.label == u))
        };
        map.retain(|(c, u, h), _| live(c, u, Some(h)));
        for (c, u) in metrics.upstream_gauge_labels() {
            if !live(&c, &u, None) {
                metrics.remove_upstream_gauge(&c, &u);
            }
        }
        // A peer whose checks changed has a fresh state object: its gauge follows that one.
        for ((_, _, _), h) in map.iter() {
            h.refresh_gauge();
        }
    }

    pub fn len(&self) -> usize {
        self.peers.lock().map(|m| m.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Build a cluster from its (validated) config.
pub fn build_cluster(
    c: &ClusterConfig,
    tls: Option<Arc<UpstreamTls>>,
    registry: &HealthRegistry,
    metrics: &Metrics,
) -> Result<Cluster, String> {
    let mut peers = Vec::with_capacity(c.upstreams.len());
    for u in &c.upstreams {
        let addr = crate::config::resolve_addr(u.addr())?;
        let health = registry.get(&c.name, u.addr(), &c.health, metrics);
        if c.health.is_none() {
            health.clear_active();
        }
        let mut http = match &tls {
            Some(t) => t.peer(addr, u.addr()),
            None => HttpPeer::new(addr, false, String::new()),
        };
        http.options.connection_timeout = Some(c.connect_timeout.0);
        http.options.read_timeout = Some(c.read_timeout.0);
        http.options.write_timeout = c.write_timeout.map(|d| d.0);
        http.options.idle_timeout = c.idle_timeout.map(|d| d.0);
        // Hop-by-hop fields are handled by the gateway (proxy/hop.rs), more cheaply.
        http.options.http_upstream_request_policy = HttpUpstreamRequestPolicy::preserve();
        peers.push(Peer { label: u.addr().to_string(), addr, weight: u.weight(), http, health });
    }
    let weights: Vec<u32> = peers.iter().map(|p| p.weight).collect();
    let policy = match c.balance {
        Balance::RoundRobin | Balance::Weighted => Policy::schedule(&weights),
        Balance::LeastRequest => Policy::LeastRequest { next: AtomicUsize::new(0) },
        Balance::ConsistentHash => {
            let on = c.hash_on.clone().unwrap_or(HashOn::Ip);
            let labels: Vec<String> = peers.iter().map(|p| p.label.clone()).collect();
            Policy::ring(&weights, &labels, on)
        }
    };
    Ok(Cluster {
        name: c.name.clone(),
        peers,
        policy,
        retries: c.retries,
        eject_after: c.eject_after,
        eject_for: c.eject_for.0,
        health: c.health.clone(),
        tls,
    })
}
