//! Downstream TLS: `[[server.tls]]` listeners. Certificates are read and checked when the config
//! is built (so `gatehouse check` reports bad files) and live in the `Runtime`; each handshake
//! picks one by SNI from the runtime snapshot, so a reload that changes certificates applies to
//! the next handshake. Listener addresses themselves are bound at start.
//!
//! Every listener: TLS 1.2 at least, ALPN h2 then http/1.1.

pub mod upstream;

use crate::config::{ConfigError, LoadedConfig};
use pingora::tls::pkey::{PKey, Private};
use pingora::tls::x509::X509;
use std::collections::BTreeMap;
use std::net::SocketAddr;

/// One certificate (leaf + chain) with its key and the names it answers for.
pub struct CertKey {
    /// Lower-case DNS names from the SAN (or the CN when there is no SAN); `*.x` wildcards.
    pub names: Vec<String>,
    pub leaf: X509,
    pub chain: Vec<X509>,
    pub key: PKey<Private>,
}

/// The certificates of one listener, in config order; the first is the default.
#[derive(Default)]
pub struct ListenerCerts {
    pub certs: Vec<CertKey>,
}

impl ListenerCerts {
    /// Exact name first, then a one-label wildcard, else the first certificate (no SNI, an
    /// unknown name, or a name with bytes no certificate name has).
    pub fn pick(&self, sni: Option<&str>) -> Option<&CertKey> {
        let name = sni.map(|s| s.trim_end_matches('.').to_ascii_lowercase()).filter(|s| !s.is_empty());
        if let Some(name) = name {
            if let Some(c) = self.certs.iter().find(|c| c.names.iter().any(|n| *n == name && !n.starts_with('*'))) {
                return Some(c);
            }
            if let Some((_, parent)) = name.split_once('.') {
                let wild = format!("*.{parent}");
                if let Some(c) = self.certs.iter().find(|c| c.names.contains(&wild)) {
                    return Some(c);
                }
            }
        }
        self.certs.first()
    }
}

/// Certificates of every TLS listener, keyed by listen address.
#[derive(Default)]
pub struct TlsCerts {
    pub by_listen: BTreeMap<SocketAddr, ListenerCerts>,
}

/// The distinct TLS listen addresses, in config order (validated already).
pub fn listen_addrs(loaded: &LoadedConfig) -> Vec<SocketAddr> {
    let mut out: Vec<SocketAddr> = Vec::new();
    for t in &loaded.config.server.tls {
        if let Ok(a) = t.listen.parse() {
            if !out.contains(&a) {
                out.push(a);
            }
        }
    }
    out
}

/// Read every certificate and key named by `[[server.tls]]`; problems go to `errors` with the
/// key path (`server.tls[0].cert: cannot read …`).
pub fn load(loaded: &LoadedConfig, errors: &mut Vec<ConfigError>) -> TlsCerts {
    let mut out = TlsCerts::default();
    for (i, t) in loaded.config.server.tls.iter().enumerate() {
        let Ok(addr) = t.listen.parse::<SocketAddr>() else { continue };
        let mut pairs = Vec::new();
        if let (Some(c), Some(k)) = (&t.cert, &t.key) {
            pairs.push((format!("server.tls[{i}]"), c, k));
        }
        for (j, ck) in t.certs.iter().enumerate() {
            pairs.push((format!("server.tls[{i}].certs[{j}]"), &ck.cert, &ck.key));
        }
        for (p, cert, key) in pairs {
            match read_pair(loaded, &p, cert, key) {
                Ok(ck) => out.by_listen.entry(addr).or_default().certs.push(ck),
                Err(e) => errors.push(e),
            }
        }
    }
    out
}

fn read_pair(loaded: &LoadedConfig, p: &str, cert: &str, key: &str) -> Result<CertKey, ConfigError> {
    let cert_path = loaded.resolve(cert);
    let key_path = loaded.resolve(key);
    let read = |path: &std::path::Path, k: &str| {
        std::fs::read(path)
            .map_err(|e| ConfigError::new(format!("{p}.{k}"), format!("cannot read {}: {e}", path.display())))
    };
    let pem = read(&cert_path, "cert")?;
    let mut stack = X509::stack_from_pem(&pem).unwrap_or_default().into_iter();
    let Some(leaf) = stack.next() else {
        return Err(ConfigError::new(format!("{p}.cert"), format!("{} holds no PEM certificate", cert_path.display())));
    };
    let key_pem = read(&key_path, "key")?;
    let key = PKey::private_key_from_pem(&key_pem).map_err(|_| {
        ConfigError::new(format!("{p}.key"), format!("{} holds no PEM private key", key_path.display()))
    })?;
    let matches = leaf.public_key().map(|pk| pk.public_eq(&key)).unwrap_or(false);
    if !matches {
        return Err(ConfigError::new(
            format!("{p}.key"),
            format!("{} does not belong to the certificate in {}", key_path.display(), cert_path.display()),
        ));
    }
    Ok(CertKey { names: cert_names(&leaf), leaf, chain: stack.collect(), key })
}

/// DNS names of a certificate: SAN entries, or the subject CN when there is no SAN DNS name.
pub fn cert_names(cert: &X509) -> Vec<String> {
    let mut names: Vec<String> = cert
        .subject_alt_names()
        .map(|sans| sans.iter().filter_map(|n| n.dnsname().map(|d| d.to_ascii_lowercase())).collect())
        .unwrap_or_default();
    if names.is_empty() {
        let cn = cert.subject_name().entries_by_nid(pingora::tls::nid::Nid::COMMONNAME).next();
        if let Some(cn) = cn.and_then(|e| std::str::from_utf8(e.data().as_slice()).ok()) {
            names.push(cn.to_ascii_lowercase());
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&[&str]]) -> ListenerCerts {
        let key = PKey::generate_ed25519().unwrap();
        let mut b = X509::builder().unwrap();
        b.set_pubkey(&key).unwrap();
        b.sign(&key, pingora::tls::hash::MessageDigest::null()).unwrap();
        let leaf = b.build();
        let certs = names
            .iter()
            .map(|n| CertKey {
                names: n.iter().map(|s| s.to_string()).collect(),
                leaf: leaf.clone(),
                chain: vec![],
                key: key.clone(),
            })
            .collect();
        ListenerCerts { certs }
    }

    fn picked(l: &ListenerCerts, sni: Option<&str>) -> String {
        l.pick(sni).unwrap().names[0].clone()
    }

    #[test]
    fn sni_picks_exact_then_wildcard_then_first() {
        let l = set(&[&["default.test"], &["*.api.test"], &["a.api.test"]]);
        assert_eq!(picked(&l, Some("a.api.test")), "a.api.test");
        assert_eq!(picked(&l, Some("A.API.test.")), "a.api.test");
        assert_eq!(picked(&l, Some("b.api.test")), "*.api.test");
        // A wildcard covers one label only.
        assert_eq!(picked(&l, Some("x.b.api.test")), "default.test");
        assert_eq!(picked(&l, Some("api.test")), "default.test");
        assert_eq!(picked(&l, None), "default.test");
        assert_eq!(picked(&l, Some("")), "default.test");
        assert_eq!(picked(&l, Some("*.api.test\u{0}")), "default.test");
    }
}
