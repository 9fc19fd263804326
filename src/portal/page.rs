//! What every portal answer shares: security headers, and the generic error pages (they say
//! what the visitor can do, never why in detail: no store errors, no account hints).

use super::layout::{layout, Nav};
use super::PortalState;
use crate::store::{Store, StoreError};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS};
use http::{HeaderValue, StatusCode};
use maud::html;
use std::time::Duration;

/// Scripts and styles only from the portal itself; no framing; forms post only here.
const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
                   frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'";

pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    // Pages carry per-visitor content (CSRF tokens, keys): never cached. Assets set their own.
    h.entry(CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    res
}

#[derive(Debug)]
pub enum PageError {
    NotFound,
    /// A form without a valid CSRF token, or from another origin.
    Forbidden,
    TooManyAttempts,
    /// E.g. a reload of the page a form answered (its address takes only the form's POST).
    WrongMethod,
    Unavailable,
    BadRequest(String),
}

impl From<StoreError> for PageError {
    fn from(e: StoreError) -> PageError {
        match e {
            StoreError::NotFound(_) => PageError::NotFound,
            other => {
                log::warn!("portal: store error: {other}");
                PageError::Unavailable
            }
        }
    }
}

/// No random bytes for a token, key or id.
impl From<getrandom::Error> for PageError {
    fn from(_: getrandom::Error) -> PageError {
        PageError::Unavailable
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, title, text) = match &self {
            PageError::NotFound => (StatusCode::NOT_FOUND, "Not found", "There is no such page.".to_string()),
            PageError::Forbidden => (
                StatusCode::FORBIDDEN,
                "Form expired",
                "This form was not sent from this portal's page, or it expired. Go back, reload the page and try again."
                    .to_string(),
            ),
            PageError::TooManyAttempts => (
                StatusCode::TOO_MANY_REQUESTS,
                "Too many attempts",
                "Too many sign-in attempts. Wait a few minutes and try again.".to_string(),
            ),
            PageError::WrongMethod => (
                StatusCode::METHOD_NOT_ALLOWED,
                "Nothing to show here",
                "This address takes a form, not a visit. Go back to the page you came from.".to_string(),
            ),
            PageError::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again later",
                "The portal cannot do this right now. Try again in a moment.".to_string(),
            ),
            PageError::BadRequest(m) => (StatusCode::BAD_REQUEST, "Cannot do that", m.clone()),
        };
        // Error pages have no branding state at hand: a plain, self-contained page.
        let body = html! {
            (maud::DOCTYPE)
            html lang="en" {
                head { meta charset="utf-8"; meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (title) } link rel="stylesheet" href="/assets/portal.css"; }
                body { main id="main" class="narrow" { h1 { (title) } p class="error" role="alert" { (text) } p { a href="/" { "Back to the APIs" } } } }
            }
        };
        let mut res = (status, Html(body.into_string())).into_response();
        if matches!(self, PageError::TooManyAttempts) {
            res.headers_mut().insert(http::header::RETRY_AFTER, HeaderValue::from_static("60"));
        }
        res
    }
}

pub async fn not_found() -> PageError {
    PageError::NotFound
}

pub async fn wrong_method() -> PageError {
    PageError::WrongMethod
}

/// The open store (just after start, wait a moment for it).
pub async fn store(st: &PortalState) -> Result<Store, PageError> {
    st.shared.store.wait_open(Duration::from_secs(3)).await.ok_or(PageError::Unavailable)
}

/// A full page with the portal's layout.
pub fn render(st: &PortalState, nav: &Nav, title: &str, body: maud::Markup) -> Response {
    Html(layout(st, nav, title, body).into_string()).into_response()
}

/// 303 to `to` after a successful form post (the reload does not post again).
pub fn see_other(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(http::header::LOCATION, to.to_string())]).into_response()
}
