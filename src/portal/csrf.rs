//! CSRF. A signed-in developer's forms carry the session's own token. The anonymous sign-in
//! and sign-up forms use a signed double submit: a random `gh_form` cookie, and in the form
//! HMAC(key, cookie). Either way a post from another origin is refused.

use super::form::{same, Form};
use super::page::{store, PageError};
use super::session::{cookie, random_token, set_cookie, SESSION_TTL};
use super::PortalState;
use crate::store::keys::hex;
use crate::store::portal::Session;
use hmac::{Hmac, Mac};
use http::header::{HOST, ORIGIN};
use http::HeaderMap;
use sha2::{Digest, Sha256};

pub const FORM_COOKIE: &str = "gh_form";

/// A form post of a signed-in developer: same origin and the session's token.
pub fn check_session_form(headers: &HeaderMap, session: &Session, form: &Form) -> Result<(), PageError> {
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
pub async fn check_anonymous_form(st: &PortalState, headers: &HeaderMap, form: &Form) -> Result<(), PageError> {
    same_origin(headers)?;
    let Some(v) = cookie(headers, FORM_COOKIE) else { return Err(PageError::Forbidden) };
    let key = form_key(st).await?;
    if same(form.get("csrf"), &sign(&key, v)) {
        Ok(())
    } else {
        Err(PageError::Forbidden)
    }
}
