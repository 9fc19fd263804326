//! Typed credential values of `[[consumer]]` and `[[jwt_issuer]]`: API key digests, Basic-auth
//! password hashes, JWT algorithms and JWKS URLs, each parsed once at deserialization with the
//! message `check` prints (see `values.rs`).

use super::values::parse_str;
use serde::{Deserialize, Deserializer};
use std::sync::Arc;

/// An API key as the config holds it: `"sha256:<64 lowercase hex>"` (see `gatehouse hash-key`),
/// the sha256 of the key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ApiKeyDigest([u8; 32]);

impl ApiKeyDigest {
    pub fn parse(s: &str) -> Result<ApiKeyDigest, String> {
        let bad = || "expected \"sha256:<64 lowercase hex digits>\" (gatehouse hash-key)".to_string();
        let hex = s.strip_prefix("sha256:").filter(|h| h.len() == 64).ok_or_else(bad)?;
        let digit = |b: u8| match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            _ => None,
        };
        let mut out = [0u8; 32];
        for (o, pair) in out.iter_mut().zip(hex.as_bytes().chunks_exact(2)) {
            *o = digit(pair[0]).zip(digit(pair[1])).map(|(h, l)| h << 4 | l).ok_or_else(bad)?;
        }
        Ok(ApiKeyDigest(out))
    }

    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl<'de> Deserialize<'de> for ApiKeyDigest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        parse_str(d, ApiKeyDigest::parse)
    }
}

/// How a Basic-auth password hash is computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PasswordScheme {
    /// PHC form, `$argon2id$…`.
    Argon2id,
    /// `$2a$`, `$2b$` or `$2y$`, 60 characters.
    Bcrypt,
}

/// A Basic-auth password hash of `[[consumer]] basic`: argon2id in PHC form or bcrypt.
/// Cheap to clone (the text is shared).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasswordHash {
    scheme: PasswordScheme,
    text: Arc<str>,
}

impl PasswordHash {
    pub fn parse(h: &str) -> Result<PasswordHash, String> {
        let scheme = if h.starts_with("$argon2id$") {
            match argon2::PasswordHash::new(h) {
                Ok(p) if p.salt.is_some() && p.hash.is_some() => PasswordScheme::Argon2id,
                Ok(_) => return Err("not a valid argon2id hash: no salt or hash".into()),
                Err(e) => return Err(format!("not a valid argon2id hash: {e}")),
            }
        } else if ["$2a$", "$2b$", "$2y$"].iter().any(|p| h.starts_with(p)) {
            if h.len() != 60 {
                return Err("not a valid bcrypt hash (60 characters)".into());
            }
            PasswordScheme::Bcrypt
        } else {
            return Err("expected an argon2id (\"$argon2id$…\") or bcrypt (\"$2b$…\") hash".into());
        };
        Ok(PasswordHash { scheme, text: h.into() })
    }

    pub fn scheme(&self) -> PasswordScheme {
        self.scheme
    }

    /// The hash as written (what the hashing library verifies against).
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl<'de> Deserialize<'de> for PasswordHash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        parse_str(d, PasswordHash::parse)
    }
}

pub const HMAC_ALGS: &[&str] = &["HS256", "HS384", "HS512"];
pub const PUBLIC_ALGS: &[&str] = &["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"];

/// One of an issuer's pinned `algorithms`: a name of [`HMAC_ALGS`] or [`PUBLIC_ALGS`] (never
/// `none`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JwtAlgorithm(jsonwebtoken::Algorithm);

impl JwtAlgorithm {
    pub fn parse(a: &str) -> Result<JwtAlgorithm, String> {
        let unknown =
            || format!("unknown algorithm {a:?}; expected one of {}, {}", HMAC_ALGS.join(", "), PUBLIC_ALGS.join(", "));
        if !HMAC_ALGS.contains(&a) && !PUBLIC_ALGS.contains(&a) {
            return Err(unknown());
        }
        a.parse().map(JwtAlgorithm).map_err(|_| unknown())
    }

    pub fn get(self) -> jsonwebtoken::Algorithm {
        self.0
    }

    /// HS256, HS384 or HS512: a shared secret, not a public key.
    pub fn is_hmac(self) -> bool {
        use jsonwebtoken::Algorithm::*;
        matches!(self.0, HS256 | HS384 | HS512)
    }
}

impl<'de> Deserialize<'de> for JwtAlgorithm {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        parse_str(d, JwtAlgorithm::parse)
    }
}

/// A `jwks_url`: `https://host[:port]/path`, or `http://` to a loopback host (a local sidecar
/// or a test). No user info or fragment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JwksUrl {
    url: String,
    host: String,
    port: u16,
    path: String,
    https: bool,
}

impl JwksUrl {
    pub fn parse(url: &str) -> Result<JwksUrl, String> {
        let bad = || format!("{url:?} is not an https:// URL");
        let (https, rest) = match url.split_once("://") {
            Some(("https", rest)) => (true, rest),
            Some(("http", rest)) => (false, rest),
            _ => return Err(bad()),
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let default_port = if https { 443 } else { 80 };
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
        if !https && !loopback {
            return Err(format!("{url:?}: plain http:// is allowed only to a loopback host; use https://"));
        }
        Ok(JwksUrl { url: url.to_string(), host: host.to_string(), port, path: path.to_string(), https })
    }

    /// The URL as written.
    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// The host, without the brackets of an IPv6 literal.
    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The request target: `/` when the URL has no path.
    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn https(&self) -> bool {
        self.https
    }
}

impl<'de> Deserialize<'de> for JwksUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        parse_str(d, JwksUrl::parse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_digests() {
        let d = ApiKeyDigest::parse("sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad").unwrap();
        assert_eq!(d.bytes()[..3], [0xba, 0x78, 0x16]);
        assert!(ApiKeyDigest::parse("sha256:ABC").is_err());
        assert!(ApiKeyDigest::parse("sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD").is_err());
        assert!(ApiKeyDigest::parse("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad").is_err());
    }

    #[test]
    fn password_hashes() {
        let bc = bcrypt::hash("s3cret", 4).unwrap();
        assert_eq!(PasswordHash::parse(&bc).unwrap().scheme(), PasswordScheme::Bcrypt);
        assert!(PasswordHash::parse("plain").is_err());
        assert!(PasswordHash::parse("$argon2id$garbage").is_err());
        assert!(PasswordHash::parse("$2b$04$short").is_err());
    }

    #[test]
    fn algorithms() {
        for a in HMAC_ALGS.iter().chain(PUBLIC_ALGS) {
            assert_eq!(JwtAlgorithm::parse(a).unwrap().is_hmac(), a.starts_with("HS"), "{a}");
        }
        assert!(JwtAlgorithm::parse("none").is_err());
        assert!(JwtAlgorithm::parse("hs256").is_err());
    }

    #[test]
    fn urls() {
        let u = JwksUrl::parse("https://idp.example.com/.well-known/jwks.json").unwrap();
        assert_eq!((u.host(), u.port(), u.path(), u.https()), ("idp.example.com", 443, "/.well-known/jwks.json", true));
        assert_eq!(JwksUrl::parse("https://idp.example.com:8443").unwrap().path(), "/");
        assert!(JwksUrl::parse("http://127.0.0.1:9/jwks").is_ok());
        assert!(JwksUrl::parse("http://localhost/jwks").is_ok());
        assert!(JwksUrl::parse("http://[::1]:8080/jwks").is_ok());
        assert_eq!(JwksUrl::parse("http://[::1]/jwks").unwrap().host(), "::1");
        assert!(JwksUrl::parse("http://idp.example.com/jwks").is_err());
        assert!(JwksUrl::parse("ftp://x/y").is_err());
        assert!(JwksUrl::parse("https://user@idp.example.com/").is_err());
        assert!(JwksUrl::parse("https://idp.example.com:99999/").is_err());
    }
}
