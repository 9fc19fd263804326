//! JWK sets: parsed into keys by `kid`, read from `jwks_file` or fetched from `jwks_url` with a
//! minimal HTTP/1.0 GET (TLS verified against the system roots; plain `http://` only to a
//! loopback host). Bounded: 5 s for the whole fetch, 1 MiB of answer.

use crate::config::JwksUrl;
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
    Url(JwksFetcher),
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

/// Fetches the set of a `jwks_url` (parsed by the config).
pub struct JwksFetcher {
    url: JwksUrl,
    tls: Option<SslConnector>,
}

impl JwksFetcher {
    pub fn new(url: &JwksUrl) -> Result<JwksFetcher, String> {
        let tls = if url.https() {
            // Verifies the chain against the system roots and, via `into_ssl`, the host name.
            let mut b = SslConnector::builder(SslMethod::tls()).map_err(|e| e.to_string())?;
            b.set_alpn_protos(b"\x08http/1.1").map_err(|e| e.to_string())?;
            Some(b.build())
        } else {
            None
        };
        Ok(JwksFetcher { url: url.clone(), tls })
    }

    pub async fn get(&self) -> Result<Vec<u8>, String> {
        tokio::time::timeout(FETCH_TIMEOUT, self.get_inner())
            .await
            .map_err(|_| format!("no answer from {} within {FETCH_TIMEOUT:?}", self.url.host()))?
    }

    async fn get_inner(&self) -> Result<Vec<u8>, String> {
        let tcp =
            tokio::net::TcpStream::connect((self.url.host(), self.url.port())).await.map_err(|e| e.to_string())?;
        match &self.tls {
            None => self.exchange(tcp).await,
            Some(c) => {
                let ssl = c.configure().and_then(|cfg| cfg.into_ssl(self.url.host())).map_err(|e| e.to_string())?;
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
            self.url.path(),
            self.url.host()
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
