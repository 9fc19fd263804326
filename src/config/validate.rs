//! Checks that need more than a type: addresses, names, cross references, value ranges.

use super::model::*;
use super::parse::SeenNames;
use super::ConfigError;
use crate::net::path::is_normalized_path;
use crate::upstream::HashOn;
use std::collections::BTreeSet;
use std::net::{SocketAddr, ToSocketAddrs};

pub use super::methods::METHODS;

pub fn validate(cfg: &Config, seen: &SeenNames, errors: &mut Vec<ConfigError>) {
    let mut err = |path: String, msg: String| errors.push(ConfigError::new(path, msg));
    server(&cfg.server, &mut err);
    if let Some(admin) = &cfg.admin {
        admin_cfg(admin, &mut err);
    }
    if let Some(portal) = &cfg.portal {
        super::portal::validate(portal, &mut err);
    }
    super::auth::validate(cfg, &mut err);
    super::limits::validate(cfg, &mut err);
    super::lifecycle::validate(cfg, &mut err);
    super::cache::validate(cfg, &mut err);
    super::store::validate(&cfg.store, &mut err);
    super::analytics::validate(&cfg.analytics, &mut err);
    let mut names = BTreeSet::new();
    for (i, c) in cfg.clusters.iter().enumerate() {
        cluster(c, &format!("cluster[{i}]"), &mut err);
        if !names.insert(c.name.as_str()) {
            err(format!("cluster[{i}].name"), format!("duplicate cluster name {:?}", c.name));
        }
    }
    let mut apis = BTreeSet::new();
    for (i, a) in cfg.apis.iter().enumerate() {
        let p = format!("api[{i}]");
        api(a, &p, &mut err);
        super::auth::validate_api(a, cfg, &p, &mut err);
        if !apis.insert((a.name.as_str(), a.version.as_str())) {
            err(format!("{p}.version"), format!("duplicate api {:?} version {:?}", a.name, a.version));
        }
        if a.cluster == "mock" {
            if a.spec.is_none() {
                err(format!("{p}.cluster"), "\"mock\" answers from the spec's examples: it needs spec".into());
            }
        } else if !seen.clusters.contains(&a.cluster) {
            err(format!("{p}.cluster"), format!("no cluster named {:?}", a.cluster));
        }
        for (key, on) in [("validate_requests", a.validate_requests), ("validate_responses", a.validate_responses)] {
            if on && a.spec.is_none() {
                err(format!("{p}.{key}"), "validation checks against the API's spec: it needs spec".into());
            }
        }
        if a.spec_passthrough && (a.spec.is_none() || a.cluster == "mock") {
            err(format!("{p}.spec_passthrough"), "passes what the spec does not describe to a real cluster: it needs spec and a cluster other than \"mock\"".into());
        }
        if a.spec.is_some() && !a.route.is_empty() {
            err(format!("{p}.route"), "an API with a spec takes its routes from the spec's operations".into());
        }
    }
}

type Err<'a> = dyn FnMut(String, String) + 'a;

fn server(s: &ServerConfig, err: &mut Err) {
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
    for (key, list) in [("trusted_proxies", &s.trusted_proxies), ("ip_allow", &s.ip_allow), ("ip_deny", &s.ip_deny)] {
        cidrs(list, &format!("server.{key}"), err);
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

fn admin_cfg(a: &AdminConfig, err: &mut Err) {
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

fn cluster(c: &ClusterConfig, p: &str, err: &mut Err) {
    name_ok(&c.name, &format!("{p}.name"), err);
    if c.name == "mock" {
        err(format!("{p}.name"), "the name \"mock\" is reserved".into());
    }
    if c.upstreams.is_empty() {
        err(format!("{p}.upstreams"), "needs at least one upstream".into());
    }
    let mut addrs = BTreeSet::new();
    for (i, u) in c.upstreams.iter().enumerate() {
        if let Err(m) = resolve(u.addr()) {
            err(format!("{p}.upstreams[{i}]"), m);
        }
        if !addrs.insert(u.addr()) {
            err(format!("{p}.upstreams[{i}]"), format!("duplicate upstream {:?}", u.addr()));
        }
        if !(1..=1000).contains(&u.weight()) {
            err(format!("{p}.upstreams[{i}].weight"), "must be between 1 and 1000".into());
        }
    }
    match (&c.hash_on, c.balance) {
        (Some(h), Balance::ConsistentHash) => {
            if let Err(m) = h.parse::<HashOn>() {
                err(format!("{p}.hash_on"), m);
            }
        }
        (Some(_), _) => err(format!("{p}.hash_on"), "only applies with balance = \"consistent_hash\"".into()),
        _ => {}
    }
    for (key, d) in [
        ("connect_timeout", Some(c.connect_timeout)),
        ("read_timeout", Some(c.read_timeout)),
        ("write_timeout", c.write_timeout),
        ("idle_timeout", c.idle_timeout),
        ("eject_for", Some(c.eject_for)),
    ] {
        if d.is_some_and(|d| d.0.is_zero()) {
            err(format!("{p}.{key}"), "must be greater than zero".into());
        }
    }
    upstream_tls(c, p, err);
    if c.retries > 10 {
        err(format!("{p}.retries"), "must be at most 10".into());
    }
    if let Some(h) = &c.health {
        if let Some(path) = &h.http_path {
            if !path.starts_with('/') || path.bytes().any(|b| b <= b' ' || b == 0x7f) {
                err(
                    format!("{p}.health.http_path"),
                    "must start with / and hold no spaces or control characters".into(),
                );
            }
        }
        if h.interval.0.is_zero() || h.timeout.0.is_zero() {
            err(format!("{p}.health"), "interval and timeout must be greater than zero".into());
        }
        if h.healthy_after == 0 || h.unhealthy_after == 0 {
            err(format!("{p}.health"), "healthy_after and unhealthy_after must be at least 1".into());
        }
    }
}

fn upstream_tls(c: &ClusterConfig, p: &str, err: &mut Err) {
    if !c.tls {
        for (key, set) in
            [("sni", c.sni.is_some()), ("ca_file", c.ca_file.is_some()), ("verify", !c.verify), ("h2", c.h2)]
        {
            if set {
                err(format!("{p}.{key}"), "applies only with tls = true".into());
            }
        }
        return;
    }
    match &c.sni {
        Some(sni) if !host_ok(sni) || sni.starts_with("*.") => {
            err(format!("{p}.sni"), format!("{sni:?} is not a lower-case host name"))
        }
        // Pingora skips certificate checks on a peer without SNI: an IP upstream needs a name.
        None if c.verify && c.upstreams.iter().any(|u| host_of(u.addr()).parse::<std::net::IpAddr>().is_ok()) => err(
            format!("{p}.sni"),
            "needed to verify the certificate of an upstream given by IP address (or set verify = false)".into(),
        ),
        _ => {}
    }
}

/// The host part of `host:port` (brackets of an IPv6 literal removed).
pub fn host_of(addr: &str) -> &str {
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    host.trim_start_matches('[').trim_end_matches(']')
}

fn api(a: &ApiConfig, p: &str, err: &mut Err) {
    name_ok(&a.name, &format!("{p}.name"), err);
    name_ok(&a.version, &format!("{p}.version"), err);
    if !a.base_path.starts_with('/') || !is_normalized_path(&a.base_path) {
        err(
            format!("{p}.base_path"),
            "must start with / and hold no empty, \".\" or \"..\" segments or %-escapes".into(),
        );
    }
    for (i, h) in a.hosts.iter().enumerate() {
        if !host_ok(h) {
            err(format!("{p}.hosts[{i}]"), format!("{h:?} is not a host name or *.suffix wildcard"));
        }
    }
    rewrite(a.request.as_ref(), &format!("{p}.request"), err);
    rewrite(a.response.as_ref(), &format!("{p}.response"), err);
    cidrs(&a.ip_allow, &format!("{p}.ip_allow"), err);
    cidrs(&a.ip_deny, &format!("{p}.ip_deny"), err);
    if let Some(c) = &a.cors {
        cors(c, &format!("{p}.cors"), err);
    }
    for (i, r) in a.route.iter().enumerate() {
        let rp = format!("{p}.route[{i}]");
        if !r.path.starts_with('/') || !is_normalized_path(&r.path) {
            err(
                format!("{rp}.path"),
                "must start with / and hold no empty, \".\" or \"..\" segments or %-escapes".into(),
            );
        }
        for seg in r.path.split('/') {
            if seg.contains(['{', '}']) && !(seg.starts_with('{') && seg.ends_with('}') && seg.len() > 2) {
                err(format!("{rp}.path"), format!("segment {seg:?}: a template segment is a whole {{name}}"));
            }
        }
        for (j, m) in r.methods.iter().enumerate() {
            if !METHODS.contains(&m.as_str()) {
                err(
                    format!("{rp}.methods[{j}]"),
                    format!("unknown method {m:?}; expected one of {}", METHODS.join(", ")),
                );
            }
        }
        rewrite(r.request.as_ref(), &format!("{rp}.request"), err);
        rewrite(r.response.as_ref(), &format!("{rp}.response"), err);
    }
}

fn cidrs(list: &[String], p: &str, err: &mut Err) {
    for (i, c) in list.iter().enumerate() {
        if crate::net::parse_cidr(c).is_none() {
            err(format!("{p}[{i}]"), format!("{c:?} is not an IP address or CIDR"));
        }
    }
}

fn cors(c: &CorsConfig, p: &str, err: &mut Err) {
    if c.origins.is_empty() {
        err(format!("{p}.origins"), "needs at least one origin (or \"*\")".into());
    }
    for (i, o) in c.origins.iter().enumerate() {
        if o == "*" {
            if c.credentials {
                err(
                    format!("{p}.origins[{i}]"),
                    "\"*\" cannot be used with credentials = true; list the origins".into(),
                );
            }
        } else if !origin_ok(o) {
            err(format!("{p}.origins[{i}]"), format!("{o:?} is not an origin such as \"https://app.example.com\""));
        }
    }
    for (i, m) in c.methods.iter().enumerate() {
        if !METHODS.contains(&m.as_str()) {
            err(format!("{p}.methods[{i}]"), format!("unknown method {m:?}; expected one of {}", METHODS.join(", ")));
        }
    }
    for (key, list) in [("headers", &c.headers), ("expose_headers", &c.expose_headers)] {
        for (i, h) in list.iter().enumerate() {
            if http::HeaderName::from_bytes(h.as_bytes()).is_err() {
                err(format!("{p}.{key}[{i}]"), format!("{h:?} is not a valid header name"));
            }
        }
    }
}

/// `scheme://host[:port]`, nothing after (what a browser sends in `Origin`), or `null`.
fn origin_ok(o: &str) -> bool {
    let Some((scheme, rest)) = o.split_once("://") else { return o == "null" };
    let (host, port) = match rest.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((ip, port)) => (ip, port),
            None => return false,
        },
        None => rest.split_once(':').map_or((rest, ""), |(h, p)| (h, &rest[h.len()..][..p.len() + 1])),
    };
    let port_ok = port.is_empty() || port.strip_prefix(':').is_some_and(|p| p.parse::<u16>().is_ok());
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    scheme_ok
        && port_ok
        && !host.is_empty()
        && host.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b':'))
}

fn rewrite(r: Option<&HeaderRewrite>, p: &str, err: &mut Err) {
    let Some(r) = r else { return };
    for (name, value) in &r.set_headers {
        if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            err(format!("{p}.set_headers.{name}"), "not a valid header name".into());
        }
        if http::HeaderValue::from_str(value).is_err() {
            err(format!("{p}.set_headers.{name}"), "not a valid header value".into());
        }
    }
    for (i, name) in r.remove_headers.iter().enumerate() {
        if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            err(format!("{p}.remove_headers[{i}]"), format!("{name:?} is not a valid header name"));
        }
    }
    for ptr in r.json_set.keys() {
        if let Err(m) = crate::plugins::json_body::parse_pointer(ptr) {
            err(format!("{p}.json_set.{ptr}"), m);
        }
    }
    for (i, ptr) in r.json_remove.iter().enumerate() {
        if let Err(m) = crate::plugins::json_body::parse_pointer(ptr) {
            err(format!("{p}.json_remove[{i}]"), m);
        }
    }
}

/// 1-64 letters, digits, '-', '_' or '.': the names of consumers, groups, plans (header-safe).
pub fn name_valid(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

pub(super) fn name_ok(name: &str, path: &str, err: &mut Err) {
    if !name_valid(name) {
        err(path.into(), format!("{name:?}: use 1-64 letters, digits, '-', '_' or '.'"));
    }
}

fn host_ok(h: &str) -> bool {
    let bare = h.strip_prefix("*.").unwrap_or(h);
    !bare.is_empty()
        && bare.len() <= 253
        && bare.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

pub fn socket_addr(s: &str) -> Result<SocketAddr, String> {
    s.parse::<SocketAddr>().map_err(|_| format!("{s:?} is not an address such as \"127.0.0.1:8080\" or \"[::1]:8080\""))
}

/// Resolve `host:port` (a name is looked up once, at load time).
pub fn resolve(s: &str) -> Result<SocketAddr, String> {
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    let Some((host, port)) = s.rsplit_once(':') else {
        return Err(format!("{s:?} is not \"host:port\""));
    };
    if host.is_empty() || port.parse::<u16>().is_err() {
        return Err(format!("{s:?} is not \"host:port\""));
    }
    let mut addrs: Vec<SocketAddr> = s.to_socket_addrs().map_err(|e| format!("cannot resolve {s:?}: {e}"))?.collect();
    addrs.sort_by_key(|a| a.is_ipv6());
    addrs.into_iter().next().ok_or_else(|| format!("{s:?} resolves to no address"))
}
