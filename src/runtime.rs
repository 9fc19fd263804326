//! `Runtime`: a validated config built into the objects the proxy uses — router, clusters,
//! per-route plugin chains, metric handles. Held in an `ArcSwap`; each request loads it once.

use crate::config::{ConfigError, LoadedConfig};
use crate::metrics::{ApiMetrics, Metrics};
use crate::net::TrustedProxies;
use crate::pipeline::Chain;
use crate::plugins::auth::AuthShared;
use crate::plugins::registry::Setup;
use crate::runtime::router::{MethodSet, Router};
use crate::upstream::{build_cluster, Cluster, HealthRegistry};
use arc_swap::ArcSwap;
use std::collections::HashMap;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::SystemTime;

mod apis;
pub mod reload;
pub mod router;
pub mod versions;

pub type RuntimeHandle = Arc<ArcSwap<Runtime>>;

/// Process-wide state that outlives any one config: metrics and upstream health.
#[derive(Default)]
pub struct Shared {
    pub metrics: Metrics,
    pub health: HealthRegistry,
    /// Set once this process is being replaced (SIGQUIT) or stopped (SIGTERM).
    pub stopping: std::sync::atomic::AtomicBool,
    /// Proxy connections open now (counted from accept to close): a draining process waits for
    /// them too, so one accepted just before the stop is answered, not reset by the exit.
    pub open_connections: Arc<AtomicUsize>,
    /// Listening services whose accept loops still run: a draining process trusts a zero
    /// `open_connections` only once these have stopped (a connection accepted at the last
    /// moment is counted when its task starts, a moment after the accept).
    pub listening_services: Arc<AtomicUsize>,
    /// The last good key set of every `jwks_url`, so a reload starts from it instead of
    /// nothing (an identity provider that is down during a reload must not stop JWT auth).
    pub jwks: Arc<crate::plugins::auth::jwks::JwksMemory>,
    /// Limiter state (local backend), kept across reloads: a limit's cells are keyed by its
    /// identity and config, so an unchanged limit keeps its counts.
    pub limits: Arc<crate::limits::local::LocalStore>,
    /// The Redis connection of `[limits] backend = "redis"`, kept while the URL is unchanged.
    pub redis: crate::limits::RedisSlot,
    /// The response cache: its objects outlive any one config.
    pub cache: Arc<crate::cache::Cache>,
    /// Consumers and keys from the management store, refreshed in the background.
    pub store: Arc<crate::store::StoreState>,
    /// The analytics event queue (on when `[analytics] enabled`).
    pub analytics: Arc<crate::analytics::Analytics>,
}

/// Request limits and hygiene settings from `[server]`.
pub struct Settings {
    pub trusted: TrustedProxies,
    pub max_body_size: u64,
    pub max_header_size: usize,
    pub max_uri_length: usize,
    pub allow_encoded_slash: bool,
    /// `[server] ip_allow` / `ip_deny`, checked before routing; `None` when both are empty.
    pub ip_rules: Option<crate::plugins::ip::IpRules>,
    pub header_read_timeout: std::time::Duration,
    pub max_conns_per_ip: Option<u32>,
}

pub struct Api {
    pub name: String,
    pub version: String,
    /// `Vary` of answers when this version shares its base path with others (header-picked).
    pub vary: Option<http::HeaderValue>,
    pub status: crate::config::ApiStatus,
    pub sunset: Option<crate::config::Moment>,
    /// Route patterns of spec operations marked `deprecated: true` (analytics' `operation`).
    pub deprecated_operations: Vec<String>,
    pub title: Option<String>,
    pub base_path: String,
    pub hosts: Vec<String>,
    pub cluster: Arc<Cluster>,
    pub metrics: ApiMetrics,
    /// The `[[api]]` table as written (the portal shows its description, auth and routes).
    pub config: Arc<crate::config::ApiConfig>,
    /// The parsed OpenAPI document of `spec`, if any (the portal renders it).
    pub spec: Option<Arc<serde_json::Value>>,
}

pub struct Route {
    pub api: Arc<Api>,
    /// The route's path as configured, joined to the API's base path.
    pub pattern: String,
    pub methods: MethodSet,
    /// Bytes of the base path removed before forwarding (`strip_base_path`), 0 = none.
    pub strip: usize,
    pub chain: Chain,
    /// Set on the switch route of versions sharing a base path (`proxy/versions.rs`).
    pub versions: Option<Arc<crate::runtime::versions::Versions>>,
    /// What analytics reports this route's requests under.
    pub labels: Arc<crate::analytics::Labels>,
    /// Response caching for this route (`cache.enabled`), `None` = off.
    pub cache: Option<Arc<crate::cache::RouteCache>>,
}

pub struct Runtime {
    pub router: Router<Route>,
    pub apis: Vec<Arc<Api>>,
    pub clusters: Vec<Arc<Cluster>>,
    pub settings: Settings,
    /// Certificates of the TLS listeners, chosen per handshake by SNI.
    pub tls: crate::tls::TlsCerts,
    /// Metric handles for requests that matched no route.
    pub unrouted: ApiMetrics,
    /// Consumers, JWT issuers and the basic-auth cache, shared by every route's auth plugin.
    pub auth: Arc<crate::plugins::auth::AuthShared>,
    /// Where limit counts live (`[limits] backend`).
    pub limits: Arc<crate::limits::Backend>,
    /// The `[[plan]]`s as built (the portal reads an app's remaining quota from their cells).
    pub plans: Arc<crate::limits::Plans>,
    pub loaded_at: SystemTime,
    pub source: std::path::PathBuf,
    /// `[cache]`, applied to the shared store by the requests that use it.
    pub cache: crate::cache::Settings,
}

impl Runtime {
    /// Start what needs a thread of its own (after daemonizing: threads do not survive a fork).
    pub fn start_background(&self) {
        if let crate::limits::Backend::Redis(r) = &*self.limits {
            r.conn.start();
        }
    }
}

fn limits_backend(
    cfg: &crate::config::Config,
    shared: &Shared,
    errors: &mut Vec<ConfigError>,
) -> crate::limits::Backend {
    use crate::config::LimitsBackend;
    let l = &cfg.limits;
    match (l.backend, &l.redis_url) {
        (LimitsBackend::Redis, Some(url)) => match shared.redis.get(url) {
            Ok(conn) => crate::limits::Backend::Redis(crate::limits::RedisBackend {
                conn,
                timeout: l.timeout.0,
                on_error: l.on_backend_error,
            }),
            Err(e) => {
                errors.push(ConfigError::new("limits.redis_url", e));
                crate::limits::Backend::Local
            }
        },
        _ => crate::limits::Backend::Local,
    }
}

type ClusterIndex<'a> = HashMap<&'a str, Arc<Cluster>>;

/// Every `[[cluster]]`, by name and in order.
fn build_clusters<'a>(
    loaded: &'a LoadedConfig,
    shared: &Shared,
    errors: &mut Vec<ConfigError>,
) -> (ClusterIndex<'a>, Vec<Arc<Cluster>>) {
    let mut clusters = HashMap::new();
    let mut list = Vec::new();
    for (i, c) in loaded.config.clusters.iter().enumerate() {
        // A failed TLS setup is reported; the cluster is still built so APIs naming it resolve.
        let tls = crate::tls::upstream::UpstreamTls::build(c, &format!("cluster[{i}]"), loaded).unwrap_or_else(|e| {
            errors.push(e);
            None
        });
        match build_cluster(c, tls, &shared.health, &shared.metrics) {
            Ok(built) => {
                let built = Arc::new(built);
                clusters.insert(c.name.as_str(), built.clone());
                list.push(built);
            }
            Err(e) => errors.push(ConfigError::new(format!("cluster[{i}]"), e)),
        }
    }
    (clusters, list)
}

/// Indices of `[[api]]` entries that share name, base path and hosts (two or more each).
fn version_families(cfg: &crate::config::Config) -> Vec<Vec<usize>> {
    // By key, not by comparing each API with every group: 10,000 APIs made that 50M compares.
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut by_key: HashMap<(&str, &str, &[String]), usize> = HashMap::new();
    for (i, a) in cfg.apis.iter().enumerate() {
        match by_key.entry((a.name.as_str(), a.base_path.as_str(), a.hosts.as_slice())) {
            std::collections::hash_map::Entry::Occupied(g) => groups[*g.get()].push(i),
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(groups.len());
                groups.push(vec![i]);
            }
        }
    }
    groups.retain(|g| g.len() > 1);
    groups
}

pub use crate::plugins::registry::join_path;

/// Build a runtime; errors carry the same key paths as `gatehouse check`.
pub fn build(loaded: &LoadedConfig, shared: &Shared) -> Result<Runtime, Vec<ConfigError>> {
    let cfg = &loaded.config;
    let mut errors = Vec::new();
    let (clusters, cluster_list) = build_clusters(loaded, shared, &mut errors);
    let tls = crate::tls::load(loaded, &mut errors);
    if let Some(Err(e)) = cfg.portal.as_ref().map(|p| crate::config::portal::read_logo(loaded, p)) {
        errors.push(e);
    }
    let auth = Arc::new(AuthShared::build(loaded, &shared.jwks, &shared.store.tables, &mut errors));
    let plans = Arc::new(crate::limits::Plans::build(loaded));
    let backend = Arc::new(limits_backend(cfg, shared, &mut errors));
    let setup = Setup {
        loaded,
        metrics: &shared.metrics,
        auth: &auth,
        limits: crate::plugins::rate_limit::LimitSetup {
            store: &shared.limits,
            plans: &plans,
            backend: &backend,
            metrics: &shared.metrics,
        },
        json_limit: usize::try_from(cfg.server.json_transform_limit.0).unwrap_or(usize::MAX),
        max_body_size: cfg.server.max_body_size.0,
    };
    let families = version_families(cfg);
    let mut router = Router::default();
    let mut apis = Vec::new();
    // Routes of versions that share a base path go to their version's own router.
    let mut version_routers: HashMap<usize, Router<Route>> = HashMap::new();
    for (i, a) in cfg.apis.iter().enumerate() {
        let in_family = families.iter().any(|f| f.contains(&i));
        let target = if in_family { version_routers.entry(i).or_default() } else { &mut router };
        let built = apis::build_api(i, a, (&setup, shared, &clusters), in_family, target);
        match built {
            Ok(api) => apis.push(api),
            Err(e) => errors.extend(e),
        }
    }
    apis::version_switches(cfg, &families, &apis, &mut version_routers, &mut router, &mut errors);
    if !errors.is_empty() {
        return Err(errors);
    }
    shared.cache.register_metrics(&shared.metrics.registry);
    let s = &cfg.server;
    Ok(Runtime {
        plans,
        router,
        apis,
        clusters: cluster_list,
        settings: Settings {
            trusted: TrustedProxies::new(s.trusted_proxies.iter().map(|n| n.net())),
            max_body_size: s.max_body_size.0,
            max_header_size: s.max_header_size.0 as usize,
            max_uri_length: s.max_uri_length,
            allow_encoded_slash: s.allow_encoded_slash,
            ip_rules: crate::plugins::ip::IpRules::new(&s.ip_allow, &s.ip_deny),
            header_read_timeout: s.header_read_timeout.0,
            max_conns_per_ip: s.max_conns_per_ip,
        },
        tls,
        unrouted: shared.metrics.api("-"),
        auth,
        limits: backend,
        loaded_at: SystemTime::now(),
        source: loaded.file.clone(),
        cache: crate::cache::Settings::build(cfg),
    })
}
