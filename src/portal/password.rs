//! Account passwords: argon2id, hashed and verified on a blocking thread, and a decoy hash
//! that unknown emails are verified against so they take as long as known ones.

use super::page::PageError;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

pub const MIN_PASSWORD: usize = 10;
pub const MAX_PASSWORD: usize = 256;

fn hasher() -> Argon2<'static> {
    Argon2::default() // argon2id, 19 MiB, 2 passes (OWASP's baseline)
}

/// Hash on a blocking thread: argon2 takes tens of milliseconds by design.
pub async fn hash_password(pw: String) -> Result<String, PageError> {
    tokio::task::spawn_blocking(move || {
        let mut salt = [0u8; 16];
        getrandom::getrandom(&mut salt)?;
        let salt = SaltString::encode_b64(&salt).map_err(|_| PageError::Unavailable)?;
        hasher().hash_password(pw.as_bytes(), &salt).map(|h| h.to_string()).map_err(|_| PageError::Unavailable)
    })
    .await
    .map_err(|_| PageError::Unavailable)?
}

/// A hash no password matches, verified for unknown emails so they take as long as known ones.
/// Made once with `hasher()` (the same parameters) and kept here as text: hashing it at start
/// took 19 MiB that the allocator then kept, most of the idle process's memory.
pub const DECOY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$Z2F0ZWhvdXNlLWRlY295IQ$CPqmfPQnnLbbQtOdTrM9uN0qau9eNOibGTGaBe3tO5k";

pub async fn verify_password(pw: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash).is_ok_and(|h| hasher().verify_password(pw.as_bytes(), &h).is_ok())
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The decoy costs what a real account's hash costs (same algorithm and parameters as
    /// `hasher()`), and it is a real hash: verifying it does the whole work.
    #[test]
    fn the_decoy_hash_costs_what_a_real_one_does() {
        let decoy = PasswordHash::new(DECOY_HASH).unwrap();
        let salt = SaltString::encode_b64(&[7u8; 16]).unwrap();
        let real = hasher().hash_password(b"x", &salt).unwrap().to_string();
        let real = PasswordHash::new(&real).unwrap();
        assert_eq!((decoy.algorithm, decoy.version), (real.algorithm, real.version));
        assert_eq!(decoy.params, real.params);
        assert!(hasher().verify_password(b"not a password anyone has", &decoy).is_ok());
        assert!(hasher().verify_password(b"guess", &decoy).is_err());
    }
}
