//! JWK sets: parsed into keys by `kid`, read from `jwks_file` or fetched from `jwks_url` with a
//! minimal HTTP/1.0 GET (TLS verified against the system roots; plain `http://` only to a
//! loopback host). Bounded: 5 s for the whole fetch, 1 MiB of answer.

use jsonwebtoken::jwk::{JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use pingora::tls::ssl::{SslConnector, SslMethod};
use std::collections::HashMap;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_SET: u64 = 1 << 20;

#[derive(Default)]
pub struct Keys {
    /// `key_file`, or the only key of a set (used by tokens without `kid`).
    pub single: Option<DecodingKey>,
    pub by_kid: HashMap<String, (DecodingKey, Option<Algorithm>)>,
}

pub fn parse_jwks(bytes: &[u8]) -> Result<Keys, String> {
    let set: JwkSet = serde_json::from_slice(bytes).map_err(|e| format!("not a JWK set: {e}"))?;
    let mut keys = Keys::default();
    let usable: Vec<_> =
        set.keys.iter().filter(|k| !matches!(k.common.public_key_use, Some(PublicKeyUse::Encryption))).collect();
    if usable.is_empty() {
        return Err("the set holds no signing key".into());
    }
    for jwk in &usable {
        let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("key {:?}: {e}", jwk.common.key_id))?;
        let alg = jwk.common.key_algorithm.and_then(|a| Algorithm::from_str(&format!("{a:?}")).ok());
        match &jwk.common.key_id {
            Some(kid) => {
                keys.by_kid.insert(kid.clone(), (key.clone(), alg));
            }
            None if usable.len() > 1 => return Err("every key of a set with several keys needs a \"kid\"".into()),
            None => {}
        }
        if usable.len() == 1 {
            keys.single = Some(key);
        }
    }
    Ok(keys)
}

/// The last good key set per `jwks_url`, shared by every runtime a process builds.
#[derive(Default)]
pub struct JwksMemory(std::sync::Mutex<HashMap<String, std::sync::Arc<Keys>>>);

impl JwksMemory {
    pub fn get(&self, url: &str) -> Option<std::sync::Arc<Keys>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).get(url).cloned()
    }

    pub fn put(&self, url: &str, keys: std::sync::Arc<Keys>) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).insert(url.to_string(), keys);
    }
}

pub enum JwksSource {
    File(PathBuf),
    Url(JwksUrl),
}

impl JwksSource {
    /// Read or fetch the set without blocking the async threads.
    pub async fn fetch(&self) -> Result<Keys, String> {
        match self {
            JwksSource::File(path) => {
                let path = path.clone();
                tokio::task::spawn_blocking(move || read_file(&path)).await.map_err(|e| e.to_string())?
            }
            JwksSource::Url(url) => parse_jwks(&url.get().await?),
        }
    }
}

pub fn read_file(path: &PathBuf) -> Result<Keys, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    parse_jwks(&bytes)
}

pub struct JwksUrl {
    host: String,
    port: u16,
    path: String,
    tls: Option<SslConnector>,
}

impl JwksUrl {
    /// `https://host[:port]/path`, or `http://` to a loopback host (a local sidecar or a test).
    pub fn parse(url: &str) -> Result<JwksUrl, String> {
        let bad = || format!("{url:?} is not an https:// URL");
        let (tls, rest) = match url.split_once("://") {
            Some(("https", rest)) => (true, rest),
            Some(("http", rest)) => (false, rest),
            _ => return Err(bad()),
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let default_port = if tls { 443 } else { 80 };
        let port_of = |p: &str| p.parse::<u16>().map_err(|_| format!("{url:?}: bad port"));
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or_else(bad)?;
            match after.strip_prefix(':') {
                Some(p) => (h, port_of(p)?),
                None if after.is_empty() => (h, default_port),
                None => return Err(bad()),
            }
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, port_of(p)?),
                None => (authority, default_port),
            }
        };
        let clean = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic() && b != b'@' && b != b'#');
        if !clean(host) || !clean(path) || authority.contains('@') {
            return Err(bad());
        }
        let loopback = host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
        if !tls && !loopback {
            return Err(format!("{url:?}: plain http:// is allowed only to a loopback host; use https://"));
        }
        let tls = if tls {
            // Verifies the chain against the system roots and, via `into_ssl`, the host name.
            let mut b = SslConnector::builder(SslMethod::tls()).map_err(|e| e.to_string())?;
            b.set_alpn_protos(b"\x08http/1.1").map_err(|e| e.to_string())?;
            Some(b.build())
        } else {
            None
        };
        Ok(JwksUrl { host: host.to_string(), port, path: path.to_string(), tls })
    }

    pub async fn get(&self) -> Result<Vec<u8>, String> {
        tokio::time::timeout(FETCH_TIMEOUT, self.get_inner())
            .await
            .map_err(|_| format!("no answer from {} within {FETCH_TIMEOUT:?}", self.host))?
    }

    async fn get_inner(&self) -> Result<Vec<u8>, String> {
        let tcp = tokio::net::TcpStream::connect((self.host.as_str(), self.port)).await.map_err(|e| e.to_string())?;
        match &self.tls {
            None => self.exchange(tcp).await,
            Some(c) => {
                let ssl = c.configure().and_then(|cfg| cfg.into_ssl(&self.host)).map_err(|e| e.to_string())?;
                let mut s = pingora::tls::tokio_ssl::SslStream::new(ssl, tcp).map_err(|e| e.to_string())?;
                std::pin::Pin::new(&mut s).connect().await.map_err(|e| format!("TLS: {e}"))?;
                self.exchange(s).await
            }
        }
    }

    /// HTTP/1.0 so the answer is never chunked: the body runs to the end of the connection.
    async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(&self, mut s: S) -> Result<Vec<u8>, String> {
        let req = format!(
            "GET {} HTTP/1.0\r\nHost: {}\r\nAccept: application/json\r\nUser-Agent: gatehouse\r\n\r\n",
            self.path, self.host
        );
        s.write_all(req.as_bytes()).await.map_err(|e| e.to_string())?;
        let mut buf = Vec::new();
        (&mut s).take(MAX_SET + 1).read_to_end(&mut buf).await.map_err(|e| e.to_string())?;
        if buf.len() as u64 > MAX_SET {
            return Err("the answer is over 1 MiB".into());
        }
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut resp = httparse::Response::new(&mut headers);
        let head = match resp.parse(&buf) {
            Ok(httparse::Status::Complete(n)) => n,
            _ => return Err("not an HTTP answer".into()),
        };
        if resp.code != Some(200) {
            return Err(format!("answered {:?}, not 200", resp.code.unwrap_or(0)));
        }
        Ok(buf[head..].to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert!(JwksUrl::parse("https://idp.example.com/.well-known/jwks.json").is_ok());
        assert!(JwksUrl::parse("https://idp.example.com:8443").is_ok());
        assert!(JwksUrl::parse("http://127.0.0.1:9/jwks").is_ok());
        assert!(JwksUrl::parse("http://localhost/jwks").is_ok());
        assert!(JwksUrl::parse("http://[::1]:8080/jwks").is_ok());
        assert!(JwksUrl::parse("http://[::1]/jwks").is_ok());
        assert!(JwksUrl::parse("http://idp.example.com/jwks").is_err());
        assert!(JwksUrl::parse("ftp://x/y").is_err());
        assert!(JwksUrl::parse("https://user@idp.example.com/").is_err());
        assert!(JwksUrl::parse("https://idp.example.com:99999/").is_err());
    }
}
