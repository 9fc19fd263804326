//! Sessions. A session is a random 32-byte cookie value of which the store keeps only the
//! sha256; each session has its own CSRF token (checked in `csrf.rs`).

use super::page::{store, PageError};
use super::PortalState;
use crate::store::keys::hex;
use crate::store::portal::Session;
use base64::Engine;
use http::header::COOKIE;
use http::HeaderMap;
use sha2::{Digest, Sha256};
use std::time::Duration;

pub const SESSION_COOKIE: &str = "gh_session";
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);

/// 32 random bytes, base64url.
pub fn random_token() -> Result<String, PageError> {
    let mut b = [0u8; 32];
    getrandom::getrandom(&mut b)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b))
}

pub fn sha256_hex(s: &str) -> String {
    hex(&Sha256::digest(s.as_bytes()))
}

pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, Path=/, and Secure when the portal is reached
/// over https (`public_url`, or a TLS-terminating proxy's `X-Forwarded-Proto: https`; a client
/// that sends that header over plain http only keeps its own cookie from coming back).
pub fn set_cookie(st: &PortalState, headers: &HeaderMap, name: &str, value: &str, max_age: Duration) -> String {
    let proxied_https = headers.get("x-forwarded-proto").is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"));
    let secure = if st.secure_cookies || proxied_https { "; Secure" } else { "" };
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}", max_age.as_secs())
}

/// The signed-in developer, if the session cookie names a live session.
pub async fn current(st: &PortalState, headers: &HeaderMap) -> Result<Option<Session>, PageError> {
    let Some(token) = cookie(headers, SESSION_COOKIE) else { return Ok(None) };
    if token.len() != 43 {
        return Ok(None);
    }
    let s = store(st).await?;
    let hash = sha256_hex(token);
    Ok(s.run(move |s| async move { s.session(&hash).await }).await?)
}
