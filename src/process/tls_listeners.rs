//! The TLS listeners of `[[server.tls]]`: each handshake picks its certificate by SNI from the
//! current runtime, so a reload that changes certificates applies to the next handshake.

use crate::config::LoadedConfig;
use crate::runtime::RuntimeHandle;
use crate::tls::listen_addrs;
use async_trait::async_trait;
use pingora::listeners::tls::TlsSettings;
use pingora::listeners::{TlsAccept, TlsAcceptCallbacks};
use pingora::services::listening::Service;
use pingora::tls::ext;
use pingora::tls::ssl::{NameType, SslRef, SslVersion};
use std::net::SocketAddr;

/// Picks the certificate for each handshake from the current runtime.
struct SniResolver {
    listen: SocketAddr,
    runtime: RuntimeHandle,
}

#[async_trait]
impl TlsAccept for SniResolver {
    async fn certificate_callback(&self, ssl: &mut SslRef) {
        let rt = self.runtime.load();
        let sni = ssl.servername(NameType::HOST_NAME).map(str::to_string);
        // No certificate (the listener left the config in a reload): the handshake fails.
        let Some(c) = rt.tls.by_listen.get(&self.listen).and_then(|l| l.pick(sni.as_deref())) else { return };
        let ok = ext::ssl_use_certificate(ssl, &c.leaf).is_ok()
            && ext::ssl_use_private_key(ssl, &c.key).is_ok()
            && c.chain.iter().all(|x| ext::ssl_add_chain_cert(ssl, x).is_ok());
        if !ok {
            log::error!("tls {}: cannot use the certificate for {:?}", self.listen, sni);
        }
    }
}

/// Add one TLS endpoint per distinct `[[server.tls]]` address to the proxy service.
pub fn add_listeners<A>(svc: &mut Service<A>, loaded: &LoadedConfig, runtime: &RuntimeHandle) -> Result<(), String> {
    for addr in listen_addrs(loaded) {
        let cb: TlsAcceptCallbacks = Box::new(SniResolver { listen: addr, runtime: runtime.clone() });
        let mut settings = TlsSettings::with_callbacks(cb).map_err(|e| format!("server.tls {addr}: {e}"))?;
        settings.set_min_proto_version(Some(SslVersion::TLS1_2)).map_err(|e| format!("server.tls {addr}: {e}"))?;
        settings.enable_h2();
        svc.add_tls_with_settings(&addr.to_string(), None, settings);
    }
    Ok(())
}
