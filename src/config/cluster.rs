//! `[[cluster]]`: the serde model of a cluster of upstreams and the checks that need more than a
//! type (addresses, ranges, the TLS keys that go together).

use super::units::HumanDuration;
use super::validate::{host_ok, name_ok};
use super::values::HashOn;
use serde::Deserialize;
use std::collections::BTreeSet;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

type Err<'a> = dyn FnMut(String, String) + 'a;

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
    pub hash_on: Option<HashOn>,
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

pub(super) fn validate_cluster(c: &ClusterConfig, p: &str, err: &mut Err) {
    name_ok(&c.name, &format!("{p}.name"), err);
    if c.name == "mock" {
        err(format!("{p}.name"), "the name \"mock\" is reserved".into());
    }
    upstreams(c, p, err);
    if c.hash_on.is_some() && c.balance != Balance::ConsistentHash {
        err(format!("{p}.hash_on"), "only applies with balance = \"consistent_hash\"".into());
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
        health(h, p, err);
    }
}

fn upstreams(c: &ClusterConfig, p: &str, err: &mut Err) {
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
}

fn health(h: &HealthConfig, p: &str, err: &mut Err) {
    if let Some(path) = &h.http_path {
        if !path.starts_with('/') || path.bytes().any(|b| b <= b' ' || b == 0x7f) {
            err(format!("{p}.health.http_path"), "must start with / and hold no spaces or control characters".into());
        }
    }
    if h.interval.0.is_zero() || h.timeout.0.is_zero() {
        err(format!("{p}.health"), "interval and timeout must be greater than zero".into());
    }
    if h.healthy_after == 0 || h.unhealthy_after == 0 {
        err(format!("{p}.health"), "healthy_after and unhealthy_after must be at least 1".into());
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
