//! Wire-level helpers shared below the proxy: client addresses (CIDR parsing, the trusted-proxy
//! rule for `X-Forwarded-For`) and request-path normalization (`path.rs`).

pub mod path;

use ipnet::IpNet;
use std::net::IpAddr;

/// Parse `"10.0.0.0/8"` or a bare address (`"10.1.2.3"` = a /32 or /128).
pub fn parse_cidr(s: &str) -> Option<IpNet> {
    s.parse::<IpNet>().ok().or_else(|| s.parse::<IpAddr>().ok().map(IpNet::from))
}

/// The set of proxies whose `X-Forwarded-*` headers are believed.
#[derive(Debug, Default, Clone)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    pub fn new(nets: impl IntoIterator<Item = IpNet>) -> Self {
        TrustedProxies(nets.into_iter().collect())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|n| n.contains(&ip))
    }

    /// The client address: the peer, or — when the peer is trusted — the right-most address in
    /// `X-Forwarded-For` that is not itself a trusted proxy.
    pub fn client_ip(&self, peer: IpAddr, xff: Option<&[u8]>) -> IpAddr {
        let peer = canonical(peer);
        if !self.contains(peer) {
            return peer;
        }
        let Some(xff) = xff.and_then(|v| std::str::from_utf8(v).ok()) else { return peer };
        let mut last = peer;
        for part in xff.rsplit(',') {
            match part.trim().parse::<IpAddr>() {
                Ok(ip) => {
                    let ip = canonical(ip);
                    last = ip;
                    if !self.contains(ip) {
                        return ip;
                    }
                }
                Err(_) => return last,
            }
        }
        last
    }
}

/// IPv4-mapped IPv6 addresses compare as IPv4.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// Formats an address without going through `fmt` (it is on every request).
pub struct IpBuf([u8; 48], usize);

impl Default for IpBuf {
    fn default() -> Self {
        IpBuf([0; 48], 0)
    }
}

impl IpBuf {
    pub fn format(&mut self, ip: std::net::IpAddr) -> &[u8] {
        match ip {
            std::net::IpAddr::V4(v4) => {
                let mut n = 0;
                for (i, octet) in v4.octets().iter().enumerate() {
                    if i > 0 {
                        self.0[n] = b'.';
                        n += 1;
                    }
                    let (h, t, o) = (octet / 100, octet / 10 % 10, octet % 10);
                    if h > 0 {
                        self.0[n] = b'0' + h;
                        n += 1;
                    }
                    if h > 0 || t > 0 {
                        self.0[n] = b'0' + t;
                        n += 1;
                    }
                    self.0[n] = b'0' + o;
                    n += 1;
                }
                self.1 = n;
            }
            std::net::IpAddr::V6(v6) => {
                use std::io::Write;
                let mut cur = std::io::Cursor::new(&mut self.0[..]);
                let _ = write!(cur, "{v6}");
                self.1 = cur.position() as usize;
            }
        }
        &self.0[..self.1]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_addresses() {
        for ip in
            ["0.0.0.0", "127.0.0.1", "10.20.30.40", "255.255.255.255", "1.100.9.99", "::1", "2001:db8::ff00:42:8329"]
        {
            let mut b = IpBuf::default();
            assert_eq!(b.format(ip.parse().unwrap()), ip.as_bytes());
        }
    }

    #[test]
    fn untrusted_peer_is_the_client() {
        let t = TrustedProxies::new(parse_cidr("10.0.0.0/8"));
        let peer: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(t.client_ip(peer, Some(b"1.2.3.4")), peer);
    }

    #[test]
    fn trusted_chain_is_walked_from_the_right() {
        let t = TrustedProxies::new(parse_cidr("10.0.0.0/8"));
        let peer: IpAddr = "10.0.0.1".parse().unwrap();
        let got = t.client_ip(peer, Some(b"6.6.6.6, 1.2.3.4, 10.0.0.2"));
        assert_eq!(got, "1.2.3.4".parse::<IpAddr>().unwrap());
        assert_eq!(t.client_ip(peer, Some(b"garbage")), peer);
    }
}
