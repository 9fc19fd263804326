//! The serde model of `gatehouse.toml`. Every table rejects unknown keys; the defaults are the
//! ones `conf/gatehouse.toml` and the configuration reference give. Values are typed (`values.rs`, `credentials.rs`, `units.rs`): a bad one is
//! reported when the file is deserialized. What needs more than a type (addresses, ranges, cross
//! references) is checked in `validate.rs` and the section files.

pub use super::auth::{AuthMethod, ConsumerConfig, JwtIssuerConfig};
pub use super::cache::{ApiCacheConfig, CacheConfig};
pub use super::cluster::{Balance, ClusterConfig, HealthConfig, UpstreamSpec, WeightedUpstream};
pub use super::compression::CompressionConfig;
pub use super::lifecycle::{ApiStatus, Moment};
pub use super::limits::{
    LimitConfig, LimitKey, LimitsBackend, LimitsConfig, OnBackendError, PlanConfig, Quota, QuotaWindow, Rate,
};
use super::methods::Method;
pub use super::server::{AdminConfig, CertKeyConfig, ServerConfig, TlsListenerConfig};
use super::units::HumanDuration;
use super::values::{keyed_table, HeaderName, HeaderValue, IpNetwork, JsonPointer};
use serde::Deserialize;
use std::collections::BTreeMap;

/// The whole file. Sections are deserialized one by one by `parse.rs` so that every error is
/// reported, not just the first; this struct is what they add up to.
#[derive(Debug, Default, Clone)]
pub struct Config {
    pub server: ServerConfig,
    pub admin: Option<AdminConfig>,
    /// `[portal]`: absent = no portal listener.
    pub portal: Option<super::portal::PortalConfig>,
    pub clusters: Vec<ClusterConfig>,
    pub apis: Vec<ApiConfig>,
    pub consumers: Vec<ConsumerConfig>,
    pub jwt_issuers: Vec<JwtIssuerConfig>,
    pub plans: Vec<PlanConfig>,
    pub limits: LimitsConfig,
    pub cache: CacheConfig,
    pub store: super::store::StoreConfig,
    pub analytics: super::analytics::AnalyticsConfig,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderRewrite {
    #[serde(default, deserialize_with = "keyed_table")]
    pub set_headers: BTreeMap<HeaderName, HeaderValue>,
    #[serde(default)]
    pub remove_headers: Vec<HeaderName>,
    /// JSON Pointer (RFC 6901) → value, set in JSON bodies.
    #[serde(default, deserialize_with = "keyed_table")]
    pub json_set: BTreeMap<JsonPointer, serde_json::Value>,
    /// JSON Pointers removed from JSON bodies.
    #[serde(default)]
    pub json_remove: Vec<JsonPointer>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    pub name: String,
    #[serde(default = "d_version")]
    pub version: String,
    pub title: Option<String>,
    pub description: Option<String>,
    #[serde(default = "d_base")]
    pub base_path: String,
    #[serde(default)]
    pub hosts: Vec<String>,
    pub cluster: String,
    #[serde(default)]
    pub strip_base_path: bool,
    pub request: Option<HeaderRewrite>,
    pub response: Option<HeaderRewrite>,
    #[serde(default)]
    pub ip_allow: Vec<IpNetwork>,
    #[serde(default)]
    pub ip_deny: Vec<IpNetwork>,
    pub cors: Option<CorsConfig>,
    #[serde(default)]
    pub route: Vec<RouteConfig>,
    /// Accepted authentication methods (any one suffices); empty = public.
    #[serde(default)]
    pub auth: Vec<AuthMethod>,
    #[serde(default = "d_key_header")]
    pub key_header: HeaderName,
    /// Query parameter that may carry the API key (removed before forwarding); default off.
    pub key_query: Option<String>,
    /// The plan of requests whose consumer has none (and of anonymous ones, keyed by IP).
    pub plan: Option<String>,
    #[serde(default)]
    pub limits: Vec<LimitConfig>,
    /// Response caching (off unless `enabled`).
    pub cache: Option<ApiCacheConfig>,
    /// Replaces `[server] compression` for this API.
    pub compression: Option<CompressionConfig>,
    /// An OpenAPI 3.0/3.1 file (YAML or JSON): its operations are the API's routes.
    pub spec: Option<String>,
    /// Check requests against the spec's parameters and bodies: 400 listing every violation.
    #[serde(default)]
    pub validate_requests: bool,
    /// Check upstream answers against the spec's responses, report-only (a metric and a log line).
    #[serde(default)]
    pub validate_responses: bool,
    /// Requests matching no operation of the spec go to the cluster unchecked (else 404/405).
    #[serde(default)]
    pub spec_passthrough: bool,
    /// Lifecycle (`config/lifecycle.rs`): `active` (default), `deprecated`, `retired`.
    #[serde(default)]
    pub status: ApiStatus,
    pub deprecated_since: Option<Moment>,
    /// From this moment on, requests get 410 whatever the status.
    pub sunset: Option<Moment>,
    /// Another `version` of this API, named in `Link: rel="successor-version"` and in the 410.
    pub successor: Option<String>,
    /// Where the deprecation is explained (`Link: rel="deprecation"`).
    pub deprecation_link: Option<String>,
    /// The header that picks a version when versions share a `base_path`.
    #[serde(default = "d_version_header", deserialize_with = "super::values::version_header")]
    pub version_header: HeaderName,
}

fn d_version_header() -> HeaderName {
    HeaderName::known("API-Version")
}

/// `[api.cors]`: which browser origins may call the API, answered by the gateway.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CorsConfig {
    /// `"https://app.example.com"` entries, or `"*"` (not with `credentials`).
    pub origins: Vec<String>,
    /// Empty: GET, HEAD, POST, PUT, PATCH, DELETE.
    pub methods: Vec<Method>,
    /// Request headers a browser may send; empty: whatever the preflight asks for.
    pub headers: Vec<HeaderName>,
    /// Response headers a script may read beyond the safelisted ones.
    pub expose_headers: Vec<HeaderName>,
    pub credentials: bool,
    /// How long a browser may cache a preflight answer; absent: the browser's default.
    pub max_age: Option<HumanDuration>,
}

fn d_key_header() -> HeaderName {
    HeaderName::known("X-API-Key")
}
fn d_version() -> String {
    "v1".into()
}
fn d_base() -> String {
    "/".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Relative to the API's `base_path`: a prefix on segment boundaries, or a template with
    /// `{param}` segments.
    pub path: String,
    /// `true`: the path must match exactly (no deeper segments).
    #[serde(default)]
    pub exact: bool,
    /// Empty = every method.
    #[serde(default)]
    pub methods: Vec<String>,
    pub request: Option<HeaderRewrite>,
    pub response: Option<HeaderRewrite>,
    /// Overrides the API's `auth` (`[]` = public).
    pub auth: Option<Vec<AuthMethod>>,
    /// JWT scopes that must all be granted.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// The consumer must be in one of these groups.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Overrides the API's `plan`.
    pub plan: Option<String>,
    /// Limits of this route, checked with the API's.
    #[serde(default)]
    pub limits: Vec<LimitConfig>,
    /// Replaces the API's `cache` table for this route.
    pub cache: Option<ApiCacheConfig>,
}
