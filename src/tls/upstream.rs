//! Upstream TLS per cluster (`tls`, `sni`, `ca_file`, `verify`, `h2`): the peer options Pingora
//! connects with, and a client context for the HTTP health check with the same trust.

use crate::config::{ClusterConfig, ConfigError, LoadedConfig};
use pingora::protocols::ALPN;
use pingora::tls::ssl::{SslConnector, SslMethod, SslVerifyMode};
use pingora::tls::tokio_ssl::SslStream;
use pingora::tls::x509::store::X509StoreBuilder;
use pingora::tls::x509::X509;
use pingora::upstreams::peer::HttpPeer;
use std::pin::Pin;
use std::sync::Arc;
use tokio::net::TcpStream;

/// How a cluster speaks TLS to its upstreams, built once at load time.
pub struct UpstreamTls {
    pub sni: Option<String>,
    pub verify: bool,
    pub h2: bool,
    /// Trusted CAs from `ca_file`; `None` = the system roots.
    ca: Option<Arc<Box<[X509]>>>,
    /// For health checks (Pingora's own connector is not reachable from outside a request).
    probe: SslConnector,
}

impl UpstreamTls {
    /// `Ok(None)` for a plain cluster; errors carry the key path `cluster[i].ca_file`.
    pub fn build(c: &ClusterConfig, p: &str, loaded: &LoadedConfig) -> Result<Option<Arc<Self>>, ConfigError> {
        if !c.tls {
            return Ok(None);
        }
        let fail = |m: String| ConfigError::new(format!("{p}.ca_file"), m);
        let ca = match &c.ca_file {
            None => None,
            Some(f) => {
                let path = loaded.resolve(f);
                let pem = std::fs::read(&path).map_err(|e| fail(format!("cannot read {}: {e}", path.display())))?;
                let certs = X509::stack_from_pem(&pem).unwrap_or_default();
                if certs.is_empty() {
                    return Err(fail(format!("{} holds no PEM certificate", path.display())));
                }
                Some(Arc::new(certs.into_boxed_slice()))
            }
        };
        let probe = probe_connector(ca.as_deref().map(|c| &c[..]), c.verify)
            .map_err(|e| ConfigError::new(p.to_string(), format!("cannot set up TLS: {e}")))?;
        Ok(Some(Arc::new(UpstreamTls { sni: c.sni.clone(), verify: c.verify, h2: c.h2, ca, probe })))
    }

    /// The SNI (and name checked) for an upstream written as `host:port`.
    pub fn sni_for(&self, addr: &str) -> String {
        match &self.sni {
            Some(s) => s.clone(),
            None => {
                let host = crate::config::host_of(addr);
                if host.parse::<std::net::IpAddr>().is_ok() {
                    String::new()
                } else {
                    host.to_ascii_lowercase()
                }
            }
        }
    }

    /// A TLS peer for `addr` with this cluster's trust and ALPN.
    pub fn peer(&self, addr: std::net::SocketAddr, label: &str) -> HttpPeer {
        let mut http = HttpPeer::new(addr, true, self.sni_for(label));
        let o = &mut http.options;
        o.verify_cert = self.verify;
        o.verify_hostname = self.verify;
        o.ca = self.ca.clone();
        if self.h2 {
            o.alpn = ALPN::H2H1;
            // Without this Pingora opens one connection per concurrent request.
            o.max_h2_streams = 100;
        }
        http
    }

    /// Handshake for a health check, verifying like the proxy does.
    pub async fn connect(&self, tcp: TcpStream, sni: &str) -> std::io::Result<SslStream<TcpStream>> {
        let mut cfg = self.probe.configure().map_err(std::io::Error::other)?;
        cfg.set_use_server_name_indication(!sni.is_empty());
        cfg.set_verify_hostname(self.verify && !sni.is_empty());
        let ssl = cfg.into_ssl(if sni.is_empty() { "localhost" } else { sni }).map_err(std::io::Error::other)?;
        let mut stream = SslStream::new(ssl, tcp).map_err(std::io::Error::other)?;
        Pin::new(&mut stream).connect().await.map_err(std::io::Error::other)?;
        Ok(stream)
    }
}

fn probe_connector(ca: Option<&[X509]>, verify: bool) -> Result<SslConnector, pingora::tls::error::ErrorStack> {
    let mut b = SslConnector::builder(SslMethod::tls())?;
    if let Some(ca) = ca {
        let mut store = X509StoreBuilder::new()?;
        for c in ca {
            store.add_cert(c.clone())?;
        }
        b.set_cert_store(store.build());
    }
    if !verify {
        b.set_verify(SslVerifyMode::NONE);
    }
    b.set_alpn_protos(b"\x08http/1.1")?;
    Ok(b.build())
}
