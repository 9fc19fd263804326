//! Cache keys: scheme + host + normalized path + query, never the path alone (two hosts that
//! share a path must never share an entry). A route with `per_consumer` adds the consumer after
//! a newline, which no URL can hold. `Vary` headers extend the key in `policy::variance`.

use pingora_cache::key::HashBinary;
use pingora_cache::CacheKey;
use pingora_http::RequestHeader;
use std::hash::{BuildHasher, RandomState};
use std::sync::LazyLock;

/// A SipHash key drawn at start. Entries are found by the 128-bit hash of their key alone, so
/// the hash must be one an attacker cannot aim a collision at: keyed with a secret, it is (and
/// costs a tenth of pingora's unkeyed blake2). Per process is enough: the store is in memory.
static SECRET: LazyLock<RandomState> = LazyLock::new(RandomState::new);

/// `scheme://host/path?query` of a request, as routed (the path was normalized at the start).
pub fn url(req: &RequestHeader, tls: bool) -> String {
    let host = req.headers.get(http::header::HOST).map(|h| h.as_bytes()).unwrap_or_default();
    let target = req.raw_path();
    let mut url = String::with_capacity(8 + host.len() + target.len());
    url.push_str(if tls { "https://" } else { "http://" });
    // Host names are case-insensitive; the target is kept as sent (already normalized).
    let start = url.len();
    url.push_str(&String::from_utf8_lossy(host));
    url[start..].make_ascii_lowercase();
    url.push_str(&String::from_utf8_lossy(target));
    url
}

pub fn build(url: String, consumer: Option<&str>) -> CacheKey {
    let mut primary = url.into_bytes();
    if let Some(c) = consumer {
        primary.push(b'\n');
        primary.extend_from_slice(c.as_bytes());
    }
    // Pingora would re-hash the primary key at every use (lookup, lock, eviction): hash it once.
    let hash = primary_hash(&primary);
    let mut key = CacheKey::new(primary, "");
    key.set_primary_bin_override(hash);
    key
}

/// Two halves from one secret key over domain-separated inputs.
fn primary_hash(primary: &[u8]) -> HashBinary {
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&SECRET.hash_one((0u8, primary)).to_le_bytes());
    out[8..].copy_from_slice(&SECRET.hash_one((1u8, primary)).to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use pingora_cache::key::CacheHashKey;

    fn req(host: &str, path: &str) -> RequestHeader {
        let mut r = RequestHeader::build("GET", path.as_bytes(), None).unwrap();
        r.insert_header("host", host).unwrap();
        r
    }

    #[test]
    fn host_scheme_and_query_are_part_of_the_key() {
        let k = |r: &RequestHeader, tls| build(url(r, tls), None).primary_bin();
        let a = req("a.example", "/x?q=1");
        assert_eq!(url(&a, false), "http://a.example/x?q=1");
        assert_ne!(k(&a, false), k(&req("b.example", "/x?q=1"), false));
        assert_ne!(k(&a, false), k(&a, true));
        assert_ne!(k(&a, false), k(&req("a.example", "/x?q=2"), false));
        assert_eq!(k(&a, false), k(&req("A.Example", "/x?q=1"), false));
    }

    #[test]
    fn consumers_get_their_own_entries() {
        let u = "http://a/x".to_string();
        assert_ne!(build(u.clone(), Some("alice")).primary_bin(), build(u.clone(), Some("bob")).primary_bin());
        assert_ne!(build(u.clone(), Some("alice")).primary_bin(), build(u, None).primary_bin());
    }
}
