//! From a spec to an API's routes: one exact route per spec path with the methods it documents.

use super::{Operation, Spec};
use crate::config::{ApiConfig, ConfigError, LoadedConfig};
use crate::metrics::Metrics;
use crate::upstream::{build_cluster, Cluster, HealthRegistry};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The API's spec, if it has one; its problems as `FILE: <JSON pointer>: <problem>` under `key`.
pub fn load(a: &ApiConfig, loaded: &LoadedConfig, key: &str) -> Result<Option<Spec>, Vec<ConfigError>> {
    let Some(file) = &a.spec else { return Ok(None) };
    super::load(&loaded.resolve(file))
        .map(Some)
        .map_err(|problems| problems.iter().map(|p| ConfigError::new(key, format!("{file}: {p}"))).collect())
}

/// The spec's operations grouped by path, in path order.
pub fn paths(spec: &Spec) -> Vec<(String, Vec<&Operation>)> {
    let mut by_path: BTreeMap<&str, Vec<&Operation>> = BTreeMap::new();
    for op in &spec.operations {
        by_path.entry(op.path.as_str()).or_default().push(op);
    }
    by_path.into_iter().map(|(p, ops)| (p.to_string(), ops)).collect()
}

/// The stand-in cluster of `cluster = "mock"` APIs: no upstreams (the mock answers first).
pub fn mock_cluster(health: &HealthRegistry, metrics: &Metrics) -> Option<Arc<Cluster>> {
    let cfg: crate::config::ClusterConfig = toml::from_str("name = \"mock\"\nupstreams = []").ok()?;
    build_cluster(&cfg, None, health, metrics).ok().map(Arc::new)
}

/// The spec's operations as route entries: one per path and (auth, scopes, plan, cache), with
/// the methods that share them (HEAD wherever GET is). Checks what the spec asks of the config:
/// the API-key scheme's header or query name must be the API's `key_header` / `key_query`, an
/// `x-gatehouse-plan` must be a `[[plan]]`, scopes need JWT, a cache table must parse.
pub fn route_configs(
    spec: &Spec,
    a: &ApiConfig,
    cfg: &crate::config::Config,
    key: &str,
) -> Result<Vec<crate::config::RouteConfig>, Vec<ConfigError>> {
    let file = a.spec.as_deref().unwrap_or_default();
    let mut errors = Vec::new();
    let mut err =
        |op: &Operation, m: String| errors.push(ConfigError::new(key, format!("{file}: {}: {m}", op.pointer)));
    let mut routes: Vec<crate::config::RouteConfig> = Vec::new();
    for op in &spec.operations {
        for (place, name) in &op.security.key_places {
            let ok = match place.as_str() {
                "header" => a.key_header.as_str().eq_ignore_ascii_case(name),
                _ => a.key_query.as_deref() == Some(name.as_str()),
            };
            if !ok {
                let k = if place == "header" { "key_header" } else { "key_query" };
                err(op, format!("the API key is read from {place} {name:?}: set {k} = {name:?} on this API"));
            }
        }
        if let Some(p) = &op.plan {
            if !cfg.plans.iter().any(|x| &x.name == p) {
                err(op, format!("x-gatehouse-plan: no plan named {p:?}"));
            }
        }
        let auth = op.security.auth.clone().unwrap_or_else(|| a.auth.clone());
        if auth.contains(&crate::config::AuthMethod::Jwt) && cfg.jwt_issuers.is_empty() {
            err(op, "a bearer/oauth2/openIdConnect scheme needs a [[jwt_issuer]]".into());
        }
        if !op.security.scopes.is_empty() && !auth.contains(&crate::config::AuthMethod::Jwt) {
            err(op, "scopes need a JWT (bearer, oauth2 or openIdConnect) scheme".into());
        }
        let cache = match &op.cache {
            None => None,
            Some(v) => match serde_json::from_value::<crate::config::ApiCacheConfig>(v.clone()) {
                Ok(c) => Some(c),
                Err(e) => {
                    err(op, format!("x-gatehouse-cache: {e}"));
                    None
                }
            },
        };
        let same = |r: &crate::config::RouteConfig| {
            r.path == op.path
                && r.auth == op.security.auth
                && r.scopes == op.security.scopes
                && r.plan == op.plan
                && format!("{:?}", r.cache) == format!("{cache:?}")
        };
        // HEAD goes wherever GET does (RFC 9110 §9.3.2), unless the spec has its own HEAD.
        let mut methods = vec![op.method.clone()];
        if op.method == "GET" && !spec.operations.iter().any(|o| o.path == op.path && o.method == "HEAD") {
            methods.push("HEAD".into());
        }
        match routes.iter_mut().find(|r| same(r)) {
            Some(r) => r.methods.extend(methods),
            None => routes.push(crate::config::RouteConfig {
                path: op.path.clone(),
                exact: true,
                methods,
                request: None,
                response: None,
                auth: op.security.auth.clone(),
                scopes: op.security.scopes.clone(),
                groups: Vec::new(),
                plan: op.plan.clone(),
                limits: Vec::new(),
                cache,
            }),
        }
    }
    if errors.is_empty() {
        Ok(routes)
    } else {
        Err(errors)
    }
}
