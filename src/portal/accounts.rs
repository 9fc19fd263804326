//! Sign-up, sign-in, sign-out. Messages never tell whether an email has an account: a wrong
//! password and an unknown email read the same (and take as long: an unknown email still
//! verifies a password against a fixed hash), and signing up with a taken email answers like a
//! success without signing in.

use super::csrf::anonymous_token;
use super::extract::{AnonymousForm, ClientIp, CsrfForm};
use super::layout::Nav;
use super::page::{render, see_other, store, PageError};
use super::password::{hash_password, verify_password, DECOY_HASH, MAX_PASSWORD, MIN_PASSWORD};
use super::session::{self, set_cookie, SESSION_COOKIE, SESSION_TTL};
use super::PortalState;
use crate::store::portal::Account;
use crate::store::{now_ms, StoreError};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::header::SET_COOKIE;
use http::{HeaderMap, StatusCode};
use maud::{html, Markup};
use std::sync::Arc;

type St = State<Arc<PortalState>>;

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

pub async fn signup(
    State(st): St,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    AnonymousForm(form): AnonymousForm,
) -> Result<Response, PageError> {
    // Each sign-up hashes a password: the same per-address budget as sign-ins.
    if !st.attempts.allow(ip, "(sign-up)") {
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
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    AnonymousForm(form): AnonymousForm,
) -> Result<Response, PageError> {
    let email = normalize_email(form.get("email")).unwrap_or_default();
    if !st.attempts.allow(ip, &email) {
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

/// Without a session there is nothing to end: back to the catalog.
pub async fn logout(State(st): St, headers: HeaderMap, posted: Option<CsrfForm>) -> Result<Response, PageError> {
    if posted.is_none() {
        return Ok(see_other("/"));
    }
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
