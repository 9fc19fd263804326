//! The serde model of `gatehouse.toml`. Every table rejects unknown keys; defaults follow
//! DESIGN.md §4. Values that need more than a type check (addresses, cross references) are
//! checked in `validate.rs`.

pub use super::auth::{AuthMethod, ConsumerConfig, JwtIssuerConfig};
pub use super::cache::{ApiCacheConfig, CacheConfig};
pub use super::compression::CompressionConfig;
pub use super::lifecycle::{ApiStatus, Moment};
pub use super::limits::{
    LimitConfig, LimitKey, LimitsBackend, LimitsConfig, OnBackendError, PlanConfig, Quota, QuotaWindow, Rate,
};
use super::units::{ByteSize, HumanDuration};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

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

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub listen: Vec<String>,
    /// Worker threads of the proxy service; absent = one per CPU.
    pub threads: Option<usize>,
    pub data_dir: String,
    pub pid_file: Option<String>,
    pub upgrade_sock: Option<String>,
    pub grace_period: HumanDuration,
    pub trusted_proxies: Vec<String>,
    pub max_body_size: ByteSize,
    pub max_header_size: ByteSize,
    pub max_uri_length: usize,
    /// Concurrent connections one client address (the TCP peer) may hold; absent = no cap.
    pub max_conns_per_ip: Option<u32>,
    /// Time for a whole request head, from its first byte (slowloris protection).
    pub header_read_timeout: HumanDuration,
    /// Client addresses or CIDRs allowed / denied everywhere (deny wins; a non-empty allow
    /// list denies everything else).
    pub ip_allow: Vec<String>,
    pub ip_deny: Vec<String>,
    pub allow_encoded_slash: bool,
    /// `"off"`, `"stdout"`, `"stderr"` or a file path.
    pub access_log: String,
    /// Idle upstream connections kept per proxy process (Pingora's keep-alive pool).
    pub upstream_keepalive_pool: usize,
    /// `[[server.tls]]`: TLS listeners; entries with the same `listen` share one listener.
    pub tls: Vec<TlsListenerConfig>,
    /// Largest body buffered for `json_set`/`json_remove`; bigger ones pass unchanged.
    pub json_transform_limit: ByteSize,
    /// Response compression by `Accept-Encoding` (an API's table replaces this one).
    pub compression: CompressionConfig,
}

/// One `[[server.tls]]` entry: an address and one certificate (`cert` + `key`) and/or a
/// `certs` list; the certificate is chosen per handshake by SNI.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsListenerConfig {
    pub listen: String,
    pub cert: Option<String>,
    pub key: Option<String>,
    #[serde(default)]
    pub certs: Vec<CertKeyConfig>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertKeyConfig {
    pub cert: String,
    pub key: String,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: vec!["127.0.0.1:8080".into()],
            threads: None,
            data_dir: "var".into(),
            pid_file: None,
            upgrade_sock: None,
            grace_period: HumanDuration(Duration::from_secs(30)),
            trusted_proxies: Vec::new(),
            max_body_size: ByteSize(10 << 20),
            max_header_size: ByteSize(32 << 10),
            max_uri_length: 8192,
            max_conns_per_ip: None,
            header_read_timeout: HumanDuration(Duration::from_secs(10)),
            ip_allow: Vec::new(),
            ip_deny: Vec::new(),
            allow_encoded_slash: false,
            access_log: "stdout".into(),
            upstream_keepalive_pool: 1024,
            tls: Vec::new(),
            json_transform_limit: ByteSize(1 << 20),
            compression: CompressionConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    pub listen: String,
    pub token: Option<String>,
    pub token_env: Option<String>,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig { listen: "127.0.0.1:9080".into(), token: None, token_env: None }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Balance {
    #[default]
    RoundRobin,
    Weighted,
    ConsistentHash,
    LeastRequest,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum UpstreamSpec {
    Addr(String),
    Weighted(WeightedUpstream),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightedUpstream {
    pub addr: String,
    #[serde(default = "one")]
    pub weight: u32,
}

fn one() -> u32 {
    1
}

impl UpstreamSpec {
    pub fn addr(&self) -> &str {
        match self {
            UpstreamSpec::Addr(a) => a,
            UpstreamSpec::Weighted(w) => &w.addr,
        }
    }
    pub fn weight(&self) -> u32 {
        match self {
            UpstreamSpec::Addr(_) => 1,
            UpstreamSpec::Weighted(w) => w.weight,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    pub name: String,
    pub upstreams: Vec<UpstreamSpec>,
    #[serde(default)]
    pub balance: Balance,
    /// `ip`, `header:NAME`, `cookie:NAME` or `path`; only with `balance = "consistent_hash"`.
    pub hash_on: Option<String>,
    #[serde(default = "d_connect")]
    pub connect_timeout: HumanDuration,
    #[serde(default = "d_60s")]
    pub read_timeout: HumanDuration,
    /// Unset: no timer (writes of the request body are bounded by the client's own pace).
    pub write_timeout: Option<HumanDuration>,
    /// Unset: idle pooled connections stay until the upstream closes them or the pool
    /// (`server.upstream_keepalive_pool`) evicts them. Each timer costs on every request.
    pub idle_timeout: Option<HumanDuration>,
    #[serde(default = "one")]
    pub retries: u32,
    /// Passive health: consecutive connect failures that eject a peer (0 = never eject).
    #[serde(default = "three")]
    pub eject_after: u32,
    /// How long an ejected peer sits out before it gets traffic again.
    #[serde(default = "d_10s")]
    pub eject_for: HumanDuration,
    pub health: Option<HealthConfig>,
    /// Speak TLS to the upstreams.
    #[serde(default)]
    pub tls: bool,
    /// SNI and the name the certificate must carry; default: the upstream's host when it is a
    /// name (an IP address gives none, so `sni` is then required unless `verify = false`).
    pub sni: Option<String>,
    /// PEM bundle of trusted CAs; default: the system roots.
    pub ca_file: Option<String>,
    /// Verify the upstream certificate and name (default true). `false` is an explicit opt-out.
    #[serde(default = "yes")]
    pub verify: bool,
    /// Offer HTTP/2 by ALPN (h2, then http/1.1) to TLS upstreams.
    #[serde(default)]
    pub h2: bool,
}

fn yes() -> bool {
    true
}
fn three() -> u32 {
    3
}
fn two() -> u32 {
    2
}
fn d_connect() -> HumanDuration {
    HumanDuration(Duration::from_secs(5))
}
fn d_60s() -> HumanDuration {
    HumanDuration(Duration::from_secs(60))
}
fn d_10s() -> HumanDuration {
    HumanDuration(Duration::from_secs(10))
}
fn d_5s() -> HumanDuration {
    HumanDuration(Duration::from_secs(5))
}
fn d_2s() -> HumanDuration {
    HumanDuration(Duration::from_secs(2))
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthConfig {
    /// Absent: a TCP connect check. Present: `GET http_path` must answer 2xx.
    pub http_path: Option<String>,
    #[serde(default = "d_5s")]
    pub interval: HumanDuration,
    #[serde(default = "d_2s")]
    pub timeout: HumanDuration,
    #[serde(default = "two")]
    pub healthy_after: u32,
    #[serde(default = "three")]
    pub unhealthy_after: u32,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderRewrite {
    #[serde(default)]
    pub set_headers: BTreeMap<String, String>,
    #[serde(default)]
    pub remove_headers: Vec<String>,
    /// JSON Pointer (RFC 6901) → value, set in JSON bodies.
    #[serde(default)]
    pub json_set: BTreeMap<String, serde_json::Value>,
    /// JSON Pointers removed from JSON bodies.
    #[serde(default)]
    pub json_remove: Vec<String>,
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
    pub ip_allow: Vec<String>,
    #[serde(default)]
    pub ip_deny: Vec<String>,
    pub cors: Option<CorsConfig>,
    #[serde(default)]
    pub route: Vec<RouteConfig>,
    /// Accepted authentication methods (any one suffices); empty = public.
    #[serde(default)]
    pub auth: Vec<AuthMethod>,
    #[serde(default = "d_key_header")]
    pub key_header: String,
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
    #[serde(default = "d_version_header")]
    pub version_header: String,
}

fn d_version_header() -> String {
    "API-Version".into()
}

/// `[api.cors]`: which browser origins may call the API, answered by the gateway.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CorsConfig {
    /// `"https://app.example.com"` entries, or `"*"` (not with `credentials`).
    pub origins: Vec<String>,
    /// Empty: GET, HEAD, POST, PUT, PATCH, DELETE.
    pub methods: Vec<String>,
    /// Request headers a browser may send; empty: whatever the preflight asks for.
    pub headers: Vec<String>,
    /// Response headers a script may read beyond the safelisted ones.
    pub expose_headers: Vec<String>,
    pub credentials: bool,
    /// How long a browser may cache a preflight answer; absent: the browser's default.
    pub max_age: Option<HumanDuration>,
}

fn d_key_header() -> String {
    "X-API-Key".into()
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
