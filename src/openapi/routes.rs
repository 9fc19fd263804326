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
