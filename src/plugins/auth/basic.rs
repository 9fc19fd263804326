//! HTTP Basic auth against argon2id or bcrypt hashes from `[[consumer]] basic`. Hashing is slow
//! on purpose, so it runs on the blocking pool, and a success is remembered for a minute keyed by
//! the sha256 of the whole `Authorization` value (failures are not cached).

use super::ttl_cache::TtlCache;
use super::{sha256, Consumer, Consumers};
use crate::config::{PasswordHash, PasswordScheme};
use base64::Engine;
use std::sync::Arc;
use std::time::{Duration, Instant};

const CACHE_FOR: Duration = Duration::from_secs(60);
const CACHE_ENTRIES: usize = 10_000;

/// The hash was checked when the config was read (`config::PasswordHash`); the libraries take
/// its text and decode it again to verify.
fn verify_password(password: &[u8], hash: &PasswordHash) -> bool {
    match hash.scheme() {
        PasswordScheme::Argon2id => {
            use argon2::PasswordVerifier;
            argon2::PasswordHash::new(hash.as_str())
                .is_ok_and(|h| argon2::Argon2::default().verify_password(password, &h).is_ok())
        }
        PasswordScheme::Bcrypt => bcrypt::verify(password, hash.as_str()).unwrap_or(false),
    }
}

pub struct BasicVerifier {
    consumers: Arc<Consumers>,
    cache: TtlCache<[u8; 32], Arc<Consumer>>,
}

impl BasicVerifier {
    pub fn new(consumers: Arc<Consumers>) -> Self {
        BasicVerifier { consumers, cache: TtlCache::new(CACHE_ENTRIES) }
    }

    /// `header` is the whole `Authorization` value, `cred` the base64 part after `Basic `.
    pub async fn verify(&self, header: &[u8], cred: &[u8]) -> Result<Arc<Consumer>, &'static str> {
        const BAD: &str = "the user name or password is not valid";
        let key = sha256(header);
        if let Some(c) = self.cache.get(&key) {
            return Ok(c);
        }
        let decoded = base64::engine::general_purpose::STANDARD.decode(cred).map_err(|_| BAD)?;
        let colon = decoded.iter().position(|&b| b == b':').ok_or(BAD)?;
        let user = std::str::from_utf8(&decoded[..colon]).map_err(|_| BAD)?;
        let (consumer, hash) = self.consumers.by_user.get(user).ok_or(BAD)?;
        let password = decoded[colon + 1..].to_vec();
        let hash = hash.clone();
        let ok = tokio::task::spawn_blocking(move || verify_password(&password, &hash)).await.unwrap_or(false);
        if !ok {
            return Err(BAD);
        }
        self.cache.insert(key, consumer.clone(), Instant::now() + CACHE_FOR);
        Ok(consumer.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verified() {
        let bc = PasswordHash::parse(&bcrypt::hash("s3cret", 4).unwrap()).unwrap();
        assert!(verify_password(b"s3cret", &bc));
        assert!(!verify_password(b"wrong", &bc));
    }
}
