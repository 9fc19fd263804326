//! HTTP Basic auth against argon2id or bcrypt hashes from `[[consumer]] basic`. Hashing is slow
//! on purpose, so it runs on the blocking pool, and a success is remembered for a minute keyed by
//! the sha256 of the whole `Authorization` value (failures are not cached).

use super::ttl_cache::TtlCache;
use super::{sha256, Consumer, Consumers};
use base64::Engine;
use std::sync::Arc;
use std::time::{Duration, Instant};

const CACHE_FOR: Duration = Duration::from_secs(60);
const CACHE_ENTRIES: usize = 10_000;

/// Checks a configured hash at load time: argon2id in PHC form or bcrypt `$2a$/$2b$/$2y$`.
pub fn check_hash(h: &str) -> Result<(), String> {
    if h.starts_with("$argon2id$") {
        match argon2::PasswordHash::new(h) {
            Ok(p) if p.salt.is_some() && p.hash.is_some() => Ok(()),
            Ok(_) => Err("not a valid argon2id hash: no salt or hash".into()),
            Err(e) => Err(format!("not a valid argon2id hash: {e}")),
        }
    } else if ["$2a$", "$2b$", "$2y$"].iter().any(|p| h.starts_with(p)) {
        if h.len() == 60 {
            Ok(())
        } else {
            Err("not a valid bcrypt hash (60 characters)".into())
        }
    } else {
        Err("expected an argon2id (\"$argon2id$…\") or bcrypt (\"$2b$…\") hash".into())
    }
}

fn verify_password(password: &[u8], hash: &str) -> bool {
    if hash.starts_with("$argon2id$") {
        use argon2::PasswordVerifier;
        argon2::PasswordHash::new(hash).is_ok_and(|h| argon2::Argon2::default().verify_password(password, &h).is_ok())
    } else {
        bcrypt::verify(password, hash).unwrap_or(false)
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
    fn hashes_checked_and_verified() {
        let bc = bcrypt::hash("s3cret", 4).unwrap();
        assert!(check_hash(&bc).is_ok());
        assert!(verify_password(b"s3cret", &bc));
        assert!(!verify_password(b"wrong", &bc));
        assert!(check_hash("plain").is_err());
        assert!(check_hash("$argon2id$garbage").is_err());
        assert!(check_hash("$2b$04$short").is_err());
    }
}
