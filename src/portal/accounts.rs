//! Sign-up, sign-in, sign-out. Messages never tell whether an email has an account: a wrong
//! password and an unknown email read the same (and take as long: an unknown email still
//! verifies a password against a fixed hash), and signing up with a taken email answers like a
//! success without signing in.

use super::form::Form;
use super::layout::Nav;
use super::page::{render, see_other, store, PageError};
use super::session::{self, anonymous_token, check_anonymous, set_cookie, SESSION_COOKIE, SESSION_TTL};
use super::PortalState;
use crate::admin::ClientAddr;
use crate::store::portal::Account;
use crate::store::{now_ms, StoreError};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use http::header::SET_COOKIE;
use http::{HeaderMap, StatusCode};
use maud::{html, Markup};
use std::sync::Arc;

type St = State<Arc<PortalState>>;

pub const MIN_PASSWORD: usize = 10;
const MAX_PASSWORD: usize = 256;
const WRONG: &str = "The email or password is wrong.";
const CHECK_DETAILS: &str =
    "If these details are new, your account is ready: sign in. Otherwise check them, or sign in with the account you have.";

fn form_page(title: &str, action: &str, token: &str, message: Option<&str>, email: &str, new_password: bool) -> Markup {
    html! {
        div class="narrow" {
            h1 { (title) }
            @if let Some(m) = message { p class="notice" role="alert" id="form-message" { (m) } }
            form method="post" action=(action) class="stack" {
                input type="hidden" name="csrf" value=(token);
                label for="email" { "Email" }
                input id="email" name="email" type="email" required autocomplete="email" value=(email) maxlength="254";
                label for="password" { "Password" }
                @if new_password {
                    input id="password" name="password" type="password" required minlength=(MIN_PASSWORD) autocomplete="new-password" aria-describedby="pw-help";
                    small id="pw-help" { "At least " (MIN_PASSWORD) " characters." }
                } @else {
                    input id="password" name="password" type="password" required autocomplete="current-password";
                }
                button type="submit" { (title) }
            }
            @if new_password { p { "Have an account? " a href="/login" { "Sign in" } } }
            @else { p { "New here? " a href="/signup" { "Create an account" } } }
        }
    }
}

/// The page with its form token (and the cookie that token is bound to, when new).
async fn anonymous_page(
    st: &PortalState,
    headers: &HeaderMap,
    status: StatusCode,
    signup: bool,
    message: Option<&str>,
    email: &str,
) -> Result<Response, PageError> {
    let (token, cookie) = anonymous_token(st, headers).await?;
    let (title, action, section) =
        if signup { ("Create an account", "/signup", "signup") } else { ("Sign in", "/login", "login") };
    let body = form_page(title, action, &token, message, email, signup);
    let mut res = render(st, &Nav::anonymous(section), title, body);
    *res.status_mut() = status;
    if let Some(c) = cookie.and_then(|c| c.parse().ok()) {
        res.headers_mut().append(SET_COOKIE, c);
    }
    Ok(res)
}

pub async fn signup_page(State(st): St, headers: HeaderMap) -> Result<Response, PageError> {
    anonymous_page(&st, &headers, StatusCode::OK, true, None, "").await
}

pub async fn login_page(State(st): St, headers: HeaderMap) -> Result<Response, PageError> {
    anonymous_page(&st, &headers, StatusCode::OK, false, None, "").await
}

/// Lower-cased, and plausibly an address (the portal sends no mail; this only catches typos).
fn normalize_email(e: &str) -> Option<String> {
    let e = e.trim().to_lowercase();
    let (user, domain) = e.split_once('@')?;
    let ok = !user.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && e.len() <= 254
        && !e.chars().any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>');
    ok.then_some(e)
}

fn hasher() -> Argon2<'static> {
    Argon2::default() // argon2id, 19 MiB, 2 passes (OWASP's baseline)
}

/// Hash on a blocking thread: argon2 takes tens of milliseconds by design.
async fn hash_password(pw: String) -> Result<String, PageError> {
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
const DECOY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$Z2F0ZWhvdXNlLWRlY295IQ$CPqmfPQnnLbbQtOdTrM9uN0qau9eNOibGTGaBe3tO5k";

async fn verify_password(pw: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash).is_ok_and(|h| hasher().verify_password(pw.as_bytes(), &h).is_ok())
    })
    .await
    .unwrap_or(false)
}

pub async fn signup(
    State(st): St,
    client: Option<Extension<ClientAddr>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = Form::parse(&body);
    check_anonymous(&st, &headers, &form).await?;
    // Each sign-up hashes a password: the same per-address budget as sign-ins.
    if !st.attempts.allow(session::client_ip(&st, &headers, client.as_ref().map(|c| &c.0)), "(sign-up)") {
        return Err(PageError::TooManyAttempts);
    }
    let raw_email = form.get("email");
    let pw = form.get("password");
    let again = |m: String| {
        let st = st.clone();
        let headers = headers.clone();
        let email = raw_email.to_string();
        async move { anonymous_page(&st, &headers, StatusCode::UNPROCESSABLE_ENTITY, true, Some(&m), &email).await }
    };
    let Some(email) = normalize_email(raw_email) else {
        return again("Enter an email address such as dev@example.com.".into()).await;
    };
    let len = pw.chars().count();
    if !(MIN_PASSWORD..=MAX_PASSWORD).contains(&len) {
        return again(format!("Choose a password of {MIN_PASSWORD} to {MAX_PASSWORD} characters.")).await;
    }
    let hash = hash_password(pw.to_string()).await?;
    let account = Account { id: crate::store::keys::generate()?.id, email, password_hash: hash };
    let s = store(&st).await?;
    match s.run(move |s| async move { s.create_account(&account).await }).await {
        // A taken email gets the same answer as a new account: the visitor is sent to sign in.
        Ok(()) | Err(StoreError::Conflict(_)) => {}
        Err(e) => return Err(e.into()),
    }
    anonymous_page(&st, &headers, StatusCode::OK, false, Some(CHECK_DETAILS), raw_email.trim()).await
}

pub async fn login(
    State(st): St,
    client: Option<Extension<ClientAddr>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = Form::parse(&body);
    check_anonymous(&st, &headers, &form).await?;
    let email = normalize_email(form.get("email")).unwrap_or_default();
    if !st.attempts.allow(session::client_ip(&st, &headers, client.as_ref().map(|c| &c.0)), &email) {
        return Err(PageError::TooManyAttempts);
    }
    let s = store(&st).await?;
    let lookup = email.clone();
    let account = s.run(move |s| async move { s.account_by_email(&lookup).await }).await?;
    let pw = form.get("password").chars().take(MAX_PASSWORD).collect::<String>();
    let (hash, id) = match &account {
        Some(a) => (a.password_hash.clone(), Some(a.id.clone())),
        None => (DECOY_HASH.to_string(), None),
    };
    let ok = verify_password(pw, hash).await;
    let Some(id) = id.filter(|_| ok) else {
        return anonymous_page(&st, &headers, StatusCode::UNAUTHORIZED, false, Some(WRONG), form.get("email")).await;
    };
    let token = session::random_token()?;
    let csrf = session::random_token()?;
    let token_hash = session::sha256_hex(&token);
    let expires = now_ms() + SESSION_TTL.as_millis() as i64;
    s.run(move |s| async move { s.create_session(&token_hash, &id, &csrf, expires).await }).await?;
    let mut res = see_other("/apps");
    if let Ok(v) = set_cookie(&st, &headers, SESSION_COOKIE, &token, SESSION_TTL).parse() {
        res.headers_mut().append(SET_COOKIE, v);
    }
    Ok(res)
}

pub async fn logout(State(st): St, headers: HeaderMap, body: Bytes) -> Result<Response, PageError> {
    let form = Form::parse(&body);
    let Some(session) = session::current(&st, &headers).await? else { return Ok(see_other("/")) };
    session::check_csrf(&headers, &session, &form)?;
    if let Some(token) = session::cookie(&headers, SESSION_COOKIE) {
        let hash = session::sha256_hex(token);
        let s = store(&st).await?;
        s.run(move |s| async move { s.delete_session(&hash).await }).await?;
    }
    let mut res = see_other("/");
    let gone = set_cookie(&st, &headers, SESSION_COOKIE, "", std::time::Duration::ZERO);
    if let Ok(v) = gone.parse() {
        res.headers_mut().append(SET_COOKIE, v);
    }
    Ok(res.into_response())
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
