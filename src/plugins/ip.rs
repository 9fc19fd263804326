//! IP rules (`ip_allow` / `ip_deny`, in `[server]` and per `[[api]]`) on the client address
//! resolved with `trusted_proxies`. As nginx and Kong: deny wins over allow, and a non-empty
//! allow list denies every address not in it. The lists are compiled at load time into sorted,
//! merged ranges over one 128-bit space (IPv4 as v4-mapped IPv6), so a check is one binary
//! search per list.

use super::registry::{ApiPlugins, ApiScope, Built, Policy};
use crate::config::IpNetwork;
use crate::pipeline::Problem;
use crate::pipeline::RequestCtx;
use crate::pipeline::{Flow, Phases, Plugin};
use async_trait::async_trait;
use pingora_proxy::Session;
use std::net::IpAddr;

/// A set of addresses as sorted, disjoint, inclusive ranges.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct IpSet(Vec<(u128, u128)>);

fn key(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

impl IpSet {
    pub fn new(list: &[IpNetwork]) -> IpSet {
        let mut ranges: Vec<(u128, u128)> = list
            .iter()
            .map(|n| {
                let net = n.net().trunc();
                (key(net.network()), key(net.broadcast()))
            })
            .collect();
        ranges.sort_unstable();
        let mut merged: Vec<(u128, u128)> = Vec::with_capacity(ranges.len());
        for (lo, hi) in ranges {
            match merged.last_mut() {
                Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
                _ => merged.push((lo, hi)),
            }
        }
        IpSet(merged)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let k = key(ip);
        // The last range starting at or below k is the only one that can hold it.
        let i = self.0.partition_point(|&(lo, _)| lo <= k);
        i > 0 && self.0[i - 1].1 >= k
    }
}

/// One allow/deny pair.
#[derive(Debug, Default, Clone)]
pub struct IpRules {
    allow: IpSet,
    deny: IpSet,
}

impl IpRules {
    /// `None` when both lists are empty (nothing to check).
    pub fn new(allow: &[IpNetwork], deny: &[IpNetwork]) -> Option<IpRules> {
        let r = IpRules { allow: IpSet::new(allow), deny: IpSet::new(deny) };
        (!r.allow.is_empty() || !r.deny.is_empty()).then_some(r)
    }

    /// An unknown address (not an inet peer) passes only when no allow list is set.
    pub fn permits(&self, ip: Option<IpAddr>) -> bool {
        match ip {
            Some(ip) => !self.deny.contains(ip) && (self.allow.is_empty() || self.allow.contains(ip)),
            None => self.allow.is_empty(),
        }
    }
}

pub fn forbidden() -> Problem {
    Problem::new(403, "this client address is not allowed to use this API")
}

/// The per-API rules as the first plugin of a route's chain (the global rules run before
/// routing, in `proxy::start`).
pub struct IpFilter(pub IpRules);

#[async_trait]
impl Plugin for IpFilter {
    fn name(&self) -> &'static str {
        "ip-rules"
    }
    fn priority(&self) -> u32 {
        10
    }
    fn phases(&self) -> Phases {
        Phases { request: true, ..Default::default() }
    }
    async fn request(&self, _session: &mut Session, ctx: &mut RequestCtx) -> Flow {
        if self.0.permits(ctx.client_ip) {
            Flow::Continue
        } else {
            Flow::Respond(forbidden())
        }
    }
}

/// `ip_allow` / `ip_deny` of an API (the server's are checked before routing).
pub struct IpPolicy;
pub static POLICY: IpPolicy = IpPolicy;

impl Policy for IpPolicy {
    fn for_api(&self, api: &ApiScope, out: &mut ApiPlugins) -> Built {
        if let Some(rules) = IpRules::new(&api.api.ip_allow, &api.api.ip_deny) {
            out.every_route.push(std::sync::Arc::new(IpFilter(rules)));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn list(items: &[&str]) -> Vec<IpNetwork> {
        items.iter().map(|s| IpNetwork::parse(s).unwrap()).collect()
    }

    #[test]
    fn ranges_merge_and_match() {
        let s = IpSet::new(&list(&["10.0.0.0/9", "10.128.0.0/9", "192.0.2.7", "2001:db8::/32", "10.1.2.3"]));
        assert_eq!(s.0.len(), 3, "{s:?}");
        for yes in ["10.0.0.0", "10.255.255.255", "192.0.2.7", "2001:db8::1", "::ffff:10.2.3.4"] {
            assert!(s.contains(ip(yes)), "{yes}");
        }
        for no in ["9.255.255.255", "11.0.0.0", "192.0.2.8", "2001:db9::", "::1", "::a00:1"] {
            assert!(!s.contains(ip(no)), "{no}");
        }
        let all = IpSet::new(&list(&["0.0.0.0/0", "::/0"]));
        assert!(all.contains(ip("255.255.255.255")) && all.contains(ip("ffff::1")));
        assert!(IpSet::new(&list(&["10.0.0.1/8"])).contains(ip("10.9.9.9")), "host bits ignored");
    }

    #[test]
    fn deny_wins_and_allow_lists_are_exclusive() {
        let r = IpRules::new(&list(&["10.0.0.0/8"]), &list(&["10.6.6.0/24"])).unwrap();
        assert!(r.permits(Some(ip("10.1.1.1"))));
        assert!(!r.permits(Some(ip("10.6.6.6"))));
        assert!(!r.permits(Some(ip("192.0.2.1"))));
        assert!(!r.permits(None));
        let deny_only = IpRules::new(&[], &list(&["192.0.2.0/24"])).unwrap();
        assert!(deny_only.permits(Some(ip("10.1.1.1"))) && deny_only.permits(None));
        assert!(!deny_only.permits(Some(ip("::ffff:192.0.2.9"))));
        assert!(IpRules::new(&[], &[]).is_none());
    }
}
