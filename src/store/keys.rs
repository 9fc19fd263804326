//! API keys made by the gateway: `gh_` + 32 random bytes (base64url, 43 characters). Only the
//! sha256 is stored, with a short display prefix so an operator can tell keys apart.

use super::consumers::KeyRow;
use base64::Engine;

pub const KEY_PREFIX: &str = "gh_";
/// Characters of the key shown in listings: `gh_` and the first 8 of the secret.
const DISPLAY_LEN: usize = 11;

pub struct NewKey {
    /// The key itself: shown once, never stored.
    pub secret: String,
    /// sha256 of the key, lowercase hex.
    pub hash: String,
    pub prefix: String,
    pub id: String,
}

/// A fresh key and id from the operating system's CSPRNG.
pub fn generate() -> Result<NewKey, getrandom::Error> {
    let mut secret = [0u8; 32];
    getrandom::getrandom(&mut secret)?;
    let mut id = [0u8; 8];
    getrandom::getrandom(&mut id)?;
    let secret = format!("{KEY_PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret));
    Ok(NewKey {
        hash: hex(&crate::consumers::sha256(secret.as_bytes())),
        prefix: secret[..DISPLAY_LEN].to_string(),
        id: hex(&id),
        secret,
    })
}

/// A new key of `consumer`, as the admin API and the portal both issue one: the row to store
/// (made now) and the key, whose secret is shown once and whose hash is stored.
pub fn issue(
    consumer: &str,
    label: Option<String>,
    expires_at: Option<i64>,
) -> Result<(KeyRow, NewKey), getrandom::Error> {
    let key = generate()?;
    let row = KeyRow {
        id: key.id.clone(),
        consumer: consumer.to_string(),
        prefix: key.prefix.clone(),
        label,
        created_at: super::now_ms(),
        expires_at,
    };
    Ok((row, key))
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_long_distinct_and_hashed() {
        let a = generate().unwrap();
        let b = generate().unwrap();
        assert!(a.secret.starts_with("gh_") && a.secret.len() == 3 + 43);
        assert_ne!(a.secret, b.secret);
        assert_ne!(a.id, b.id);
        assert!(a.secret.starts_with(&a.prefix));
        assert_eq!(crate::consumers::parse_hex32(&a.hash), Some(crate::consumers::sha256(a.secret.as_bytes())));
        assert!(!a.hash.contains(&a.secret));
    }

    #[test]
    fn an_issued_key_row_names_its_key() {
        let before = crate::store::now_ms();
        let (row, key) = issue("c1", Some("ci".into()), Some(42)).unwrap();
        assert_eq!((row.id.as_str(), row.prefix.as_str()), (key.id.as_str(), key.prefix.as_str()));
        assert_eq!((row.consumer.as_str(), row.label.as_deref(), row.expires_at), ("c1", Some("ci"), Some(42)));
        assert!(row.created_at >= before);
    }
}
