//! Every policy in one list. A policy says how it is built for an API (plugins every route of
//! the API gets, or plugins for the routes of one spec path) and for a route; the runtime
//! builder loops over this list and knows no policy by name. Adding a policy: its file with a
//! `Plugin` and a `Policy`, one line here, its config field, its docs.

use super::{auth, body_limit, compression, cors, headers, ip, json_body, lifecycle, mock, rate_limit, validate};
use crate::config::{ApiConfig, ConfigError, LoadedConfig, RouteConfig};
use crate::metrics::Metrics;
use crate::pipeline::Plugin;
use std::sync::Arc;

pub static POLICIES: &[&dyn Policy] = &[
    &body_limit::POLICY,
    &ip::POLICY,
    &lifecycle::POLICY,
    &cors::POLICY,
    &auth::POLICY,
    &rate_limit::POLICY,
    &validate::POLICY,
    &mock::POLICY,
    &headers::POLICY,
    &json_body::POLICY,
    &compression::POLICY,
];

pub type Plugins = Vec<Arc<dyn Plugin>>;
pub type Built = Result<(), Vec<ConfigError>>;

pub trait Policy: Sync {
    /// Plugins for all the routes of an API (built once per API).
    fn for_api(&self, _api: &ApiScope, _out: &mut ApiPlugins) -> Built {
        Ok(())
    }
    /// Plugins of one route.
    fn for_route(&self, _route: &RouteScope, _out: &mut Plugins) -> Built {
        Ok(())
    }
}

/// What an API gives its routes.
#[derive(Default)]
pub struct ApiPlugins {
    pub every_route: Plugins,
    /// For the route of one spec path (the route pattern joined to the base path).
    pub by_pattern: Vec<(String, Arc<dyn Plugin>)>,
}

/// What every policy of one config is built from.
pub struct Setup<'a> {
    pub loaded: &'a LoadedConfig,
    pub metrics: &'a Metrics,
    pub auth: &'a Arc<auth::AuthShared>,
    pub limits: rate_limit::LimitSetup<'a>,
    /// `[server] json_transform_limit`: bodies buffered for JSON edits and checks at most.
    pub json_limit: usize,
    pub max_body_size: u64,
}

pub struct ApiScope<'a> {
    pub setup: &'a Setup<'a>,
    pub api: &'a ApiConfig,
    /// The API's index in the file, for error keys (`api[i]`).
    pub index: usize,
    pub spec: Option<&'a crate::openapi::Spec>,
}

impl ApiScope<'_> {
    pub fn key(&self) -> String {
        format!("api[{}]", self.index)
    }

    /// `base_path` joined with a path relative to it.
    pub fn pattern(&self, rel: &str) -> String {
        join_path(&self.api.base_path, rel)
    }
}

pub struct RouteScope<'a> {
    pub api: &'a ApiScope<'a>,
    /// `None` for an API without routes (its whole base path).
    pub route: Option<&'a RouteConfig>,
    pub pattern: &'a str,
    /// Where the route is defined, for error keys.
    pub key: &'a str,
}

impl RouteScope<'_> {
    /// Route `auth` wins over the API's.
    pub fn auth_methods(&self) -> &[crate::config::AuthMethod] {
        self.route.and_then(|r| r.auth.as_deref()).unwrap_or(&self.api.api.auth)
    }
}

pub fn join_path(base: &str, rel: &str) -> String {
    let base = base.trim_end_matches('/');
    let rel = rel.trim_start_matches('/');
    match (base.is_empty(), rel.is_empty()) {
        (true, true) => "/".into(),
        (true, false) => format!("/{rel}"),
        (false, true) => base.into(),
        (false, false) => format!("{base}/{rel}"),
    }
}

/// One error at `key`, as the `Built` of a policy.
pub fn fail(key: impl Into<String>, problem: impl Into<String>) -> Vec<ConfigError> {
    vec![ConfigError::new(key, problem)]
}
