//! Sessions and CSRF. A session is a random 32-byte cookie value of which the store keeps only
//! the sha256; each session has its own CSRF token. The anonymous sign-in and sign-up forms use
//! a signed double submit: a random `gh_form` cookie, and in the form HMAC(key, cookie).
//! Sign-in attempts are limited per client address and per account with the gateway's GCRA.

use super::form::{same, Form};
use super::page::{store, PageError};
use super::PortalState;
use crate::admin::ClientAddr;
use crate::limits::gcra::Gcra;
use crate::limits::local::LocalStore;
use crate::store::keys::hex;
use crate::store::portal::Session;
use base64::Engine;
use hmac::{Hmac, Mac};
use http::header::{COOKIE, HOST, ORIGIN};
use http::HeaderMap;
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use std::time::Duration;

pub const SESSION_COOKIE: &str = "gh_session";
pub const FORM_COOKIE: &str = "gh_form";
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

/// The signed-in developer, else a redirect to the sign-in page.
pub async fn required(st: &PortalState, headers: &HeaderMap) -> Result<Session, axum::response::Response> {
    use axum::response::IntoResponse;
    match current(st, headers).await {
        Ok(Some(s)) => Ok(s),
        Ok(None) => Err(super::page::see_other("/login")),
        Err(e) => Err(e.into_response()),
    }
}

/// A form post of a signed-in developer: same origin and the session's token.
pub fn check_csrf(headers: &HeaderMap, session: &Session, form: &Form) -> Result<(), PageError> {
    same_origin(headers)?;
    if same(form.get("csrf"), &session.csrf) {
        Ok(())
    } else {
        Err(PageError::Forbidden)
    }
}

/// A browser names the page a post came from in `Origin`; another site's is refused.
fn same_origin(headers: &HeaderMap) -> Result<(), PageError> {
    let Some(origin) = headers.get(ORIGIN).and_then(|v| v.to_str().ok()) else { return Ok(()) };
    let host = headers.get(HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let origin_host = origin.split_once("://").map(|(_, h)| h).unwrap_or_default();
    if !host.is_empty() && origin_host.eq_ignore_ascii_case(host) {
        Ok(())
    } else {
        Err(PageError::Forbidden)
    }
}

async fn form_key(st: &PortalState) -> Result<[u8; 32], PageError> {
    st.form_key
        .get_or_try_init(|| async {
            let s = store(st).await?;
            let fresh = random_token()?;
            let v = s.run(move |s| async move { s.portal_secret("form_key", &fresh).await }).await?;
            Ok::<_, PageError>(Sha256::digest(v.as_bytes()).into())
        })
        .await
        .copied()
}

fn sign(key: &[u8; 32], value: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(value.as_bytes());
    hex(&mac.finalize().into_bytes())
}

/// The anonymous form token for this visitor, and the `gh_form` cookie to set when it is new.
pub async fn anonymous_token(st: &PortalState, headers: &HeaderMap) -> Result<(String, Option<String>), PageError> {
    let key = form_key(st).await?;
    match cookie(headers, FORM_COOKIE).filter(|v| v.len() == 43) {
        Some(v) => Ok((sign(&key, v), None)),
        None => {
            let v = random_token()?;
            Ok((sign(&key, &v), Some(set_cookie(st, headers, FORM_COOKIE, &v, SESSION_TTL))))
        }
    }
}

/// Check an anonymous form's token against its cookie.
pub async fn check_anonymous(st: &PortalState, headers: &HeaderMap, form: &Form) -> Result<(), PageError> {
    same_origin(headers)?;
    let Some(v) = cookie(headers, FORM_COOKIE) else { return Err(PageError::Forbidden) };
    let key = form_key(st).await?;
    if same(form.get("csrf"), &sign(&key, v)) {
        Ok(())
    } else {
        Err(PageError::Forbidden)
    }
}

/// The client's address: the peer, or behind one of `server.trusted_proxies` the client it
/// names in `X-Forwarded-For` (as the proxy decides it), so clients behind a balancer are
/// limited one by one.
pub fn client_ip(st: &PortalState, headers: &HeaderMap, client: Option<&ClientAddr>) -> Option<IpAddr> {
    let peer = client?.0.ip();
    let xff = headers.get("x-forwarded-for").map(|v| v.as_bytes());
    Some(st.runtime.load().settings.trusted.client_ip(peer, xff))
}

/// Sign-in attempt limits: per client address (many accounts tried from one place) and per
/// account (one account tried from many places).
pub struct Attempts {
    cells: LocalStore,
    per_ip: Gcra,
    per_account: Gcra,
}

impl Default for Attempts {
    fn default() -> Self {
        Attempts {
            cells: LocalStore::default(),
            per_ip: Gcra::new(20, Duration::from_secs(60), 20),
            per_account: Gcra::new(5, Duration::from_secs(300), 5),
        }
    }
}

impl Attempts {
    /// Take one attempt for `ip` and `account`; false when either is over its limit.
    pub fn allow(&self, ip: Option<IpAddr>, account: &str) -> bool {
        let now = self.cells.now();
        let ip = ip.map(|ip| ip.to_string()).unwrap_or_default();
        let take = |limit: u64, g: &Gcra, value: &[u8]| {
            let cell = self.cells.cell(limit, value);
            let allowed = g.take(&cell.state, now).allowed;
            // Kept until its count is back to idle, even if the table is swept meanwhile.
            cell.set_idle_at(Gcra::idle_at(&cell.state));
            allowed
        };
        take(1, &self.per_ip, ip.as_bytes()) && take(2, &self.per_account, account.as_bytes())
    }
}
