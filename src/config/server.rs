//! `[server]` and `[admin]`: the serde model (defaults as the configuration reference gives)
//! and the checks that need more than a type (addresses, ranges, TLS listener pairs).

use super::compression::CompressionConfig;
use super::units::{ByteSize, HumanDuration};
use super::validate::socket_addr;
use super::values::IpNetwork;
use serde::Deserialize;
use std::time::Duration;

type Err<'a> = dyn FnMut(String, String) + 'a;

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
    pub trusted_proxies: Vec<IpNetwork>,
    pub max_body_size: ByteSize,
    pub max_header_size: ByteSize,
    pub max_uri_length: usize,
    /// Concurrent connections one client address (the TCP peer) may hold; absent = no cap.
    pub max_conns_per_ip: Option<u32>,
    /// Time for a whole request head, from its first byte (slowloris protection).
    pub header_read_timeout: HumanDuration,
    /// Client addresses or CIDRs allowed / denied everywhere (deny wins; a non-empty allow
    /// list denies everything else).
    pub ip_allow: Vec<IpNetwork>,
    pub ip_deny: Vec<IpNetwork>,
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

pub(super) fn validate_server(s: &ServerConfig, err: &mut Err) {
    if s.listen.is_empty() {
        err("server.listen".into(), "needs at least one address".into());
    }
    for (i, l) in s.listen.iter().enumerate() {
        if let Err(m) = socket_addr(l) {
            err(format!("server.listen[{i}]"), m);
        }
    }
    if let Some(t) = s.threads {
        if t == 0 || t > 512 {
            err("server.threads".into(), "must be between 1 and 512".into());
        }
    }
    if s.max_conns_per_ip == Some(0) {
        err("server.max_conns_per_ip".into(), "must be at least 1 (leave it out for no cap)".into());
    }
    if s.header_read_timeout.0.is_zero() {
        err("server.header_read_timeout".into(), "must be greater than zero".into());
    }
    if s.max_uri_length < 16 {
        err("server.max_uri_length".into(), "must be at least 16".into());
    }
    if s.max_header_size.0 < 1024 {
        err("server.max_header_size".into(), "must be at least 1KiB".into());
    }
    if s.access_log.is_empty() {
        err("server.access_log".into(), "use \"off\", \"stdout\", \"stderr\" or a file path".into());
    }
    if s.upstream_keepalive_pool == 0 {
        err("server.upstream_keepalive_pool".into(), "must be at least 1".into());
    }
    tls_listeners(s, err);
}

fn tls_listeners(s: &ServerConfig, err: &mut Err) {
    for (i, t) in s.tls.iter().enumerate() {
        let p = format!("server.tls[{i}]");
        match socket_addr(&t.listen) {
            Err(m) => err(format!("{p}.listen"), m),
            Ok(a) if s.listen.iter().any(|l| socket_addr(l) == Ok(a)) => {
                err(format!("{p}.listen"), format!("{:?} is also a plain listener (server.listen)", t.listen))
            }
            Ok(_) => {}
        }
        match (&t.cert, &t.key) {
            (Some(_), None) => err(format!("{p}.key"), "needed with cert".into()),
            (None, Some(_)) => err(format!("{p}.cert"), "needed with key".into()),
            (None, None) if t.certs.is_empty() => err(p.clone(), "needs cert and key, or a certs list".into()),
            _ => {}
        }
    }
}

pub(super) fn validate_admin(a: &AdminConfig, err: &mut Err) {
    match socket_addr(&a.listen) {
        Err(m) => err("admin.listen".into(), m),
        Ok(addr) => {
            let has_token = a.token.is_some() || a.token_env.is_some();
            if !addr.ip().is_loopback() && !has_token {
                err("admin.listen".into(), "listening beyond loopback needs admin.token or admin.token_env".into());
            }
        }
    }
    if let Some(t) = &a.token {
        if t.len() < 16 {
            err("admin.token".into(), "must be at least 16 characters".into());
        }
    }
    if let Some(var) = &a.token_env {
        match std::env::var(var) {
            Ok(v) if v.len() >= 16 => {}
            Ok(_) => err("admin.token_env".into(), format!("${var} must hold at least 16 characters")),
            Err(_) => err("admin.token_env".into(), format!("environment variable {var} is not set")),
        }
    }
}
