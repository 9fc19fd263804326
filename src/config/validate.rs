//! Checks that need more than a type: names, paths, origins, cross references. Values with a
//! type of their own (`values.rs`, `credentials.rs`) are checked when the file is deserialized;
//! sections with checks of their own keep them next to their model (`server.rs`, `cluster.rs`,
//! `auth.rs`, `limits.rs`, …).

use super::model::*;
use super::parse::SeenNames;
use super::ConfigError;
use crate::net::path::is_normalized_path;
use std::collections::BTreeSet;
use std::net::SocketAddr;

pub use super::methods::METHODS;

type Err<'a> = dyn FnMut(String, String) + 'a;

pub fn validate(cfg: &Config, seen: &SeenNames, errors: &mut Vec<ConfigError>) {
    let mut err = |path: String, msg: String| errors.push(ConfigError::new(path, msg));
    super::server::validate_server(&cfg.server, &mut err);
    if let Some(admin) = &cfg.admin {
        super::server::validate_admin(admin, &mut err);
    }
    if let Some(portal) = &cfg.portal {
        super::portal::validate(portal, &mut err);
    }
    super::auth::validate(cfg, seen, &mut err);
    super::limits::validate(cfg, &mut err);
    super::lifecycle::validate(cfg, &mut err);
    super::cache::validate(cfg, &mut err);
    super::store::validate(&cfg.store, &mut err);
    super::analytics::validate(&cfg.analytics, &mut err);
    let mut names = BTreeSet::new();
    for (i, c) in cfg.clusters.iter().enumerate() {
        super::cluster::validate_cluster(c, &format!("cluster[{i}]"), &mut err);
        if !names.insert(c.name.as_str()) {
            err(format!("cluster[{i}].name"), format!("duplicate cluster name {:?}", c.name));
        }
    }
    let mut apis = BTreeSet::new();
    for (i, a) in cfg.apis.iter().enumerate() {
        let p = format!("api[{i}]");
        api(a, &p, &mut err);
        api_refs(a, &p, seen, &mut err);
        super::auth::validate_api(a, cfg, &p, &mut err);
        if !apis.insert((a.name.as_str(), a.version.as_str())) {
            err(format!("{p}.version"), format!("duplicate api {:?} version {:?}", a.name, a.version));
        }
    }
}

/// What an API's keys ask of the rest of the file: its cluster, and a spec for the keys that
/// work from one.
fn api_refs(a: &ApiConfig, p: &str, seen: &SeenNames, err: &mut Err) {
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
        err(
            format!("{p}.spec_passthrough"),
            "passes what the spec does not describe to a real cluster: it needs spec and a cluster other than \"mock\""
                .into(),
        );
    }
    if a.spec.is_some() && !a.route.is_empty() {
        err(format!("{p}.route"), "an API with a spec takes its routes from the spec's operations".into());
    }
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
    if let Some(c) = &a.cors {
        cors(c, &format!("{p}.cors"), err);
    }
    for (i, r) in a.route.iter().enumerate() {
        route(r, &format!("{p}.route[{i}]"), err);
    }
}

fn route(r: &RouteConfig, rp: &str, err: &mut Err) {
    if !r.path.starts_with('/') || !is_normalized_path(&r.path) {
        err(format!("{rp}.path"), "must start with / and hold no empty, \".\" or \"..\" segments or %-escapes".into());
    }
    for seg in r.path.split('/') {
        if seg.contains(['{', '}']) && !(seg.starts_with('{') && seg.ends_with('}') && seg.len() > 2) {
            err(format!("{rp}.path"), format!("segment {seg:?}: a template segment is a whole {{name}}"));
        }
    }
    for (j, m) in r.methods.iter().enumerate() {
        if !METHODS.contains(&m.as_str()) {
            err(format!("{rp}.methods[{j}]"), format!("unknown method {m:?}; expected one of {}", METHODS.join(", ")));
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

/// A lower-case host name, or a `*.suffix` wildcard.
pub(super) fn host_ok(h: &str) -> bool {
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
