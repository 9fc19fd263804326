//! One `[[api]]` built into its routes: the spec (if any) gives the route entries, every policy
//! of the registry adds its plugins, and each route's chain is sorted once here.

use super::{Api, ClusterIndex, Route, Shared};
use crate::config::{ApiConfig, ApiStatus, Config, ConfigError, MethodSet, RouteConfig};
use crate::pipeline::Chain;
use crate::plugins::registry::{ApiPlugins, ApiScope, Plugins, RouteScope, Setup, POLICIES};
use crate::runtime::router::Router;
use std::collections::HashMap;
use std::sync::Arc;

/// A route to build: pattern, exact, methods, its `[[api.route]]` entry, and its error key.
type RouteEntry<'a> = (String, bool, MethodSet, Option<&'a RouteConfig>, String);

/// Build API `i` and insert its routes into `router`.
pub fn build_api(
    i: usize,
    a: &ApiConfig,
    (setup, shared, clusters): (&Setup, &Shared, &ClusterIndex),
    in_family: bool,
    router: &mut Router<Route>,
) -> Result<Arc<Api>, Vec<ConfigError>> {
    let cluster = if a.cluster == "mock" {
        crate::openapi::routes::mock_cluster(&shared.health, &shared.metrics)
    } else {
        clusters.get(a.cluster.as_str()).cloned()
    };
    let Some(cluster) = cluster else {
        return Err(vec![ConfigError::new(format!("api[{i}].cluster"), format!("no cluster named {:?}", a.cluster))]);
    };
    let spec = crate::openapi::routes::load(a, setup.loaded, &format!("api[{i}].spec"))?;
    let scope = ApiScope { setup, api: a, index: i, spec: spec.as_ref() };
    let api = Arc::new(Api {
        name: a.name.clone(),
        version: a.version.clone(),
        title: a.title.clone(),
        base_path: a.base_path.clone(),
        hosts: a.hosts.clone(),
        cluster,
        metrics: shared.metrics.api(&a.name),
        vary: in_family.then(|| a.version_header.as_value().clone()),
        status: a.status,
        sunset: a.sunset,
        deprecated_operations: spec
            .iter()
            .flat_map(|s| s.operations.iter().filter(|o| o.deprecated))
            .map(|o| scope.pattern(&o.path))
            .collect(),
        config: Arc::new(a.clone()),
        spec: spec.as_ref().map(|s| Arc::new(s.doc.clone())),
    });
    let mut errors = Vec::new();
    let mut api_plugins = ApiPlugins::default();
    for policy in POLICIES {
        if let Err(e) = policy.for_api(&scope, &mut api_plugins) {
            errors.extend(e);
        }
    }
    let spec_routes = match &spec {
        Some(s) => crate::openapi::routes::route_configs(s, a, &setup.loaded.config, &format!("api[{i}].spec"))?,
        None => Vec::new(),
    };
    for (pattern, exact, methods, rc, key) in route_entries(&scope, &spec_routes) {
        let route_scope = RouteScope { api: &scope, route: rc, pattern: &pattern, key: &key };
        let chain = match chain(&route_scope, &api_plugins) {
            Ok(chain) => chain,
            Err(e) => {
                errors.extend(e);
                continue;
            }
        };
        let cache = crate::cache::RouteCache::build(a.cache.as_ref(), rc.and_then(|r| r.cache.as_ref()));
        let strip = if a.strip_base_path { a.base_path.trim_end_matches('/').len() } else { 0 };
        let labels =
            crate::analytics::Labels { api: a.name.clone(), version: a.version.clone(), operation: pattern.clone() };
        let labels = Arc::new(labels);
        let route =
            Route { api: api.clone(), pattern: pattern.clone(), methods, strip, chain, versions: None, cache, labels };
        if let Err(e) = router.insert(&a.hosts, &pattern, exact, methods, Arc::new(route)) {
            errors.push(ConfigError::new(key, e));
        }
    }
    if errors.is_empty() {
        Ok(api)
    } else {
        Err(errors)
    }
}

/// The routes of an API: the spec's operations (grouped by what they ask for), else its
/// `[[api.route]]` entries, else the whole base path; with `spec_passthrough` the base path
/// too, under the spec's routes (deeper and exact matches win).
fn route_entries<'a>(scope: &ApiScope<'a>, spec_routes: &'a [RouteConfig]) -> Vec<RouteEntry<'a>> {
    let (a, i) = (scope.api, scope.index);
    let base = (a.base_path.clone(), false, MethodSet::ANY, None, format!("api[{i}].base_path"));
    let has_spec = scope.spec.is_some();
    if !has_spec && a.route.is_empty() {
        return vec![base];
    }
    let entries = if has_spec { spec_routes } else { &a.route };
    entries
        .iter()
        .enumerate()
        .map(|(j, r)| {
            let key = if has_spec { format!("api[{i}].spec") } else { format!("api[{i}].route[{j}].path") };
            (scope.pattern(&r.path), r.exact, MethodSet::from_names(&r.methods), Some(r), key)
        })
        .chain(a.spec_passthrough.then_some(base))
        .collect()
}

/// A route's chain: what its API gives every route and its spec path, then each policy's own.
fn chain(r: &RouteScope, api: &ApiPlugins) -> Result<Chain, Vec<ConfigError>> {
    let mut plugins: Plugins = api.every_route.clone();
    plugins.extend(api.by_pattern.iter().filter(|(p, _)| p == r.pattern).map(|(_, p)| p.clone()));
    let mut errors = Vec::new();
    for policy in POLICIES {
        if let Err(e) = policy.for_route(r, &mut plugins) {
            errors.extend(e);
        }
    }
    if errors.is_empty() {
        Ok(Chain::new(plugins))
    } else {
        Err(errors)
    }
}

/// Versions sharing a base path: one switch route at the base path picks the version's own
/// router by `version_header` (the active version by default).
pub fn version_switches(
    cfg: &Config,
    families: &[Vec<usize>],
    apis: &[Arc<Api>],
    version_routers: &mut HashMap<usize, Router<Route>>,
    router: &mut Router<Route>,
    errors: &mut Vec<ConfigError>,
) {
    for members in families {
        let first = &cfg.apis[members[0]];
        let header = first.version_header.name().clone();
        let routers: Vec<_> = members
            .iter()
            .map(|&i| (cfg.apis[i].version.clone(), version_routers.remove(&i).unwrap_or_default()))
            .collect();
        let default = members.iter().position(|&i| cfg.apis[i].status == ApiStatus::Active).unwrap_or(0);
        let default_version = &cfg.apis[members[default]].version;
        let Some(api) = apis.iter().find(|a| a.name == first.name && &a.version == default_version) else {
            continue;
        };
        let versions = crate::runtime::versions::Versions::new(header, routers, default);
        let switch = Arc::new(crate::runtime::versions::switch_route(api.clone(), versions));
        if let Err(e) = router.insert(&first.hosts, &first.base_path, false, MethodSet::ANY, switch) {
            errors.push(ConfigError::new(format!("api[{}].base_path", members[0]), e));
        }
    }
}
