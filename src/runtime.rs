//! `Runtime`: a validated config built into the objects the proxy uses — router, clusters,
//! per-route plugin chains, metric handles. Held in an `ArcSwap`; each request loads it once.

use crate::config::{ConfigError, LoadedConfig};
use crate::metrics::{ApiMetrics, Metrics};
use crate::net::TrustedProxies;
use crate::plugins::auth::{Auth, AuthShared};
use crate::plugins::cors::Cors;
use crate::plugins::headers::{HeaderOps, RequestHeaders, ResponseHeaders};
use crate::plugins::ip::{IpFilter, IpRules};
use crate::plugins::rate_limit::RateLimit;
use crate::plugins::{Chain, Plugin};
use crate::proxy::router::{MethodSet, Router};
use crate::upstream::{build_cluster, Cluster, HealthRegistry};
use arc_swap::ArcSwap;
use std::collections::HashMap;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::SystemTime;

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
    /// `json_transform_limit`: bodies buffered for JSON edits at most.
    pub json_limit: usize,
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
    /// Response compression (`[server] compression`, or the API's own table); `None` = off.
    pub compression: Option<Arc<crate::proxy::compress::Compression>>,
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
    pub versions: Option<Arc<crate::proxy::versions::Versions>>,
    /// `json_set` / `json_remove` on request and response bodies.
    pub body: crate::plugins::json_body::BodyEdits,
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

pub(crate) fn join_path(base: &str, rel: &str) -> String {
    let base = base.trim_end_matches('/');
    let rel = rel.trim_start_matches('/');
    match (base.is_empty(), rel.is_empty()) {
        (true, true) => "/".into(),
        (true, false) => format!("/{rel}"),
        (false, true) => base.into(),
        (false, false) => format!("{base}/{rel}"),
    }
}

/// Build a runtime; errors carry the same key paths as `gatehouse check`.
pub fn build(loaded: &LoadedConfig, shared: &Shared) -> Result<Runtime, Vec<ConfigError>> {
    let cfg = &loaded.config;
    let mut errors = Vec::new();
    let mut clusters: HashMap<&str, Arc<Cluster>> = HashMap::new();
    let mut cluster_list = Vec::new();
    for (i, c) in cfg.clusters.iter().enumerate() {
        // A failed TLS setup is reported; the cluster is still built so APIs naming it resolve.
        let tls = crate::tls::upstream::UpstreamTls::build(c, &format!("cluster[{i}]"), loaded).unwrap_or_else(|e| {
            errors.push(e);
            None
        });
        match build_cluster(c, tls, &shared.health, &shared.metrics) {
            Ok(built) => {
                let built = Arc::new(built);
                clusters.insert(&c.name, built.clone());
                cluster_list.push(built);
            }
            Err(e) => errors.push(ConfigError::new(format!("cluster[{i}]"), e)),
        }
    }
    let tls = crate::tls::load(loaded, &mut errors);
    if let Some(Err(e)) = cfg.portal.as_ref().map(|p| crate::config::portal::read_logo(loaded, p)) {
        errors.push(e);
    }
    let auth = Arc::new(AuthShared::build(loaded, &shared.jwks, &shared.store.tables, &mut errors));
    let plans = Arc::new(crate::limits::Plans::build(loaded));
    let backend = Arc::new(limits_backend(cfg, shared, &mut errors));
    let limit_setup = crate::plugins::rate_limit::LimitSetup {
        store: &shared.limits,
        plans: &plans,
        backend: &backend,
        metrics: &shared.metrics,
    };
    let mut router = Router::default();
    let mut apis = Vec::new();
    let families = version_families(cfg);
    // Routes of versions that share a base path go to their version's own router.
    let mut version_routers: HashMap<usize, Router<Route>> = HashMap::new();
    for (i, a) in cfg.apis.iter().enumerate() {
        let in_family = families.iter().any(|f| f.contains(&i));
        let mock = a.cluster == "mock";
        let cluster = if mock {
            crate::openapi::routes::mock_cluster(&shared.health, &shared.metrics)
        } else {
            clusters.get(a.cluster.as_str()).cloned()
        };
        let Some(cluster) = cluster else {
            errors.push(ConfigError::new(format!("api[{i}].cluster"), format!("no cluster named {:?}", a.cluster)));
            continue;
        };
        let spec = match crate::openapi::routes::load(a, loaded, &format!("api[{i}].spec")) {
            Ok(spec) => spec,
            Err(e) => {
                errors.extend(e);
                continue;
            }
        };
        let api = Arc::new(Api {
            name: a.name.clone(),
            version: a.version.clone(),
            title: a.title.clone(),
            base_path: a.base_path.clone(),
            hosts: a.hosts.clone(),
            cluster: cluster.clone(),
            metrics: shared.metrics.api(&a.name),
            vary: in_family.then(|| http::HeaderValue::from_str(&a.version_header).ok()).flatten(),
            status: a.status,
            sunset: a.sunset,
            deprecated_operations: spec
                .iter()
                .flat_map(|s| s.operations.iter().filter(|o| o.deprecated))
                .map(|o| join_path(&a.base_path, &o.path))
                .collect(),
            compression: crate::proxy::compress::Compression::build(&cfg.server.compression, a.compression.as_ref()),
            config: Arc::new(a.clone()),
            spec: spec.as_ref().map(|s| Arc::new(s.doc.clone())),
        });
        apis.push(api.clone());
        let mut api_plugins = api_plugins(a, &format!("api[{i}]"), &mut errors);
        if let Some(l) = crate::plugins::lifecycle::Lifecycle::build(a, cfg) {
            api_plugins.push(Arc::new(l));
        }
        let api_scope = format!("api:{}:{}", a.name, a.version);
        let api_limits = crate::limits::limit_policies(&api_scope, "api", &a.limits);
        let strip = if a.strip_base_path { a.base_path.trim_end_matches('/').len() } else { 0 };
        // An API without routes is one route: its base path, every method.
        // The spec's paths (each with its methods and a mock when the cluster is "mock"), else
        // the route entries, else the whole base path.
        let mut mocks: HashMap<String, Arc<dyn Plugin>> = HashMap::new();
        // Spec operations marked deprecated, by route pattern.
        let mut op_plugins: Vec<(String, Arc<dyn Plugin>)> = Vec::new();
        // Request/response validation against the spec, by route pattern.
        let validators = match &spec {
            Some(spec) => crate::plugins::validate::for_api(a, spec, &format!("api[{i}].spec"), &shared.metrics, |p| {
                join_path(&a.base_path, p)
            })
            .unwrap_or_else(|e| {
                errors.extend(e);
                Vec::new()
            }),
            None => Vec::new(),
        };
        // A spec's paths get their mock and deprecated-operation plugins; its operations are the
        // route entries (grouped by what they ask for), else `[[api.route]]`, else the base path.
        let spec_routes = match &spec {
            Some(spec) => {
                for (path, ops) in crate::openapi::routes::paths(spec) {
                    let pattern = join_path(&a.base_path, &path);
                    if mock {
                        mocks.insert(pattern.clone(), Arc::new(crate::plugins::mock::Mock::new(&ops)));
                    }
                    match crate::plugins::lifecycle::DeprecatedOperations::build(a, cfg, &ops) {
                        Ok(Some(d)) => {
                            op_plugins.extend(d.into_iter().map(|d| (pattern.clone(), Arc::new(d) as Arc<dyn Plugin>)))
                        }
                        Ok(None) => {}
                        Err(e) => errors.push(ConfigError::new(
                            format!("api[{i}].spec"),
                            format!("{}: {e}", a.spec.as_deref().unwrap_or_default()),
                        )),
                    }
                }
                crate::openapi::routes::route_configs(spec, a, cfg, &format!("api[{i}].spec")).unwrap_or_else(|e| {
                    errors.extend(e);
                    Vec::new()
                })
            }
            None => Vec::new(),
        };
        let entries = if spec.is_some() { &spec_routes } else { &a.route };
        // Without a spec or routes: the whole base path; with `spec_passthrough`, the base path
        // too, under the spec's routes (deeper and exact matches win).
        let base = (a.base_path.clone(), false, MethodSet::ANY, None, format!("api[{i}].base_path"));
        let routes: Vec<(String, bool, MethodSet, Option<&_>, String)> = if spec.is_none() && a.route.is_empty() {
            vec![base]
        } else {
            entries
                .iter()
                .enumerate()
                .map(|(j, r)| {
                    let key =
                        if spec.is_some() { format!("api[{i}].spec") } else { format!("api[{i}].route[{j}].path") };
                    (join_path(&a.base_path, &r.path), r.exact, MethodSet::from_names(&r.methods), Some(r), key)
                })
                .chain(a.spec_passthrough.then_some(base))
                .collect()
        };
        for (pattern, exact, methods, rc, key) in routes {
            let mut plugins: Vec<Arc<dyn Plugin>> = api_plugins.clone();
            plugins.extend(mocks.get(&pattern).cloned());
            plugins.extend(validators.iter().filter(|(p, _)| *p == pattern).map(|(_, v)| v.clone()));
            plugins.extend(op_plugins.iter().filter(|(p, _)| *p == pattern).map(|(_, d)| d.clone()));
            let authenticated = match Auth::build(a, rc, &auth) {
                Some(p) => {
                    plugins.push(Arc::new(p));
                    true
                }
                None => false,
            };
            let mut limits = api_limits.clone();
            if let Some(r) = rc {
                let scope = format!("{api_scope}:{}:{:?}", pattern, r.methods);
                limits.extend(crate::limits::limit_policies(&scope, "route", &r.limits));
            }
            let plan = rc.and_then(|r| r.plan.as_deref()).or(a.plan.as_deref());
            let limiter = RateLimit::build(&limit_setup, &a.name, plan, limits, authenticated);
            if let Some(l) = limiter {
                plugins.push(Arc::new(l));
            }
            let (req, resp) = (rc.and_then(|r| r.request.as_ref()), rc.and_then(|r| r.response.as_ref()));
            match HeaderOps::merge(a.request.as_ref(), req) {
                Ok(Some(ops)) => plugins.push(Arc::new(RequestHeaders(ops))),
                Ok(None) => {}
                Err(e) => errors.push(ConfigError::new(key.clone(), e)),
            }
            match HeaderOps::merge(a.response.as_ref(), resp) {
                Ok(Some(ops)) => plugins.push(Arc::new(ResponseHeaders(ops))),
                Ok(None) => {}
                Err(e) => errors.push(ConfigError::new(key.clone(), e)),
            }
            let body = crate::plugins::json_body::BodyEdits::build(a, rc).unwrap_or_else(|e| {
                errors.push(ConfigError::new(key.clone(), e));
                Default::default()
            });
            let route = Arc::new(Route {
                api: api.clone(),
                pattern: pattern.clone(),
                methods,
                strip,
                chain: Chain::new(plugins),
                versions: None,
                body,
                cache: crate::cache::RouteCache::build(a.cache.as_ref(), rc.and_then(|r| r.cache.as_ref())),
            });
            let target = if in_family { version_routers.entry(i).or_default() } else { &mut router };
            if let Err(e) = target.insert(&a.hosts, &pattern, exact, methods, route) {
                errors.push(ConfigError::new(key, e));
            }
        }
    }
    for members in &families {
        let first = &cfg.apis[members[0]];
        let Ok(header) = http::HeaderName::from_bytes(first.version_header.as_bytes()) else { continue };
        let routers: Vec<_> = members
            .iter()
            .map(|&i| (cfg.apis[i].version.clone(), version_routers.remove(&i).unwrap_or_default()))
            .collect();
        let default = members.iter().position(|&i| cfg.apis[i].status == crate::config::ApiStatus::Active).unwrap_or(0);
        let Some(api) = apis.iter().find(|a| a.name == first.name && a.version == cfg.apis[members[default]].version)
        else {
            continue;
        };
        let versions = crate::proxy::versions::Versions::new(header, routers, default);
        let switch = Arc::new(crate::proxy::versions::switch_route(api.clone(), versions));
        if let Err(e) = router.insert(&first.hosts, &first.base_path, false, MethodSet::ANY, switch) {
            errors.push(ConfigError::new(format!("api[{}].base_path", members[0]), e));
        }
    }
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
            trusted: TrustedProxies::new(&s.trusted_proxies),
            max_body_size: s.max_body_size.0,
            max_header_size: s.max_header_size.0 as usize,
            max_uri_length: s.max_uri_length,
            allow_encoded_slash: s.allow_encoded_slash,
            ip_rules: crate::plugins::ip::IpRules::new(&s.ip_allow, &s.ip_deny),
            header_read_timeout: s.header_read_timeout.0,
            max_conns_per_ip: s.max_conns_per_ip,
            json_limit: usize::try_from(s.json_transform_limit.0).unwrap_or(usize::MAX),
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

/// The plugins an API gives every one of its routes: IP rules, CORS.
fn api_plugins(a: &crate::config::ApiConfig, key: &str, errors: &mut Vec<ConfigError>) -> Vec<Arc<dyn Plugin>> {
    let mut plugins: Vec<Arc<dyn Plugin>> = Vec::new();
    if let Some(rules) = IpRules::new(&a.ip_allow, &a.ip_deny) {
        plugins.push(Arc::new(IpFilter(rules)));
    }
    if let Some(c) = &a.cors {
        match Cors::new(c) {
            Ok(cors) => plugins.push(Arc::new(cors)),
            Err(e) => errors.push(ConfigError::new(format!("{key}.cors"), e)),
        }
    }
    plugins
}
