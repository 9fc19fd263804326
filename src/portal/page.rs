//! What every portal answer shares: security headers, and the generic error pages (they say
//! what the visitor can do, never why in detail: no store errors, no account hints).

use super::layout::{layout, Nav};
use super::PortalState;
use crate::pipeline::problem::{Problem, ProblemKind};
use crate::store::{Store, StoreError};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS};
use http::{HeaderValue, StatusCode};
use maud::html;
use std::borrow::Cow;
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

impl PageError {
    /// The error in the gateway's one vocabulary: its kind, status and the text the page shows
    /// (the portal answers HTML, not problem+json, but says the same thing with the same codes).
    pub fn problem(&self) -> Problem {
        let (status, kind, text): (_, _, Cow<'static, str>) = match self {
            PageError::NotFound => (StatusCode::NOT_FOUND, ProblemKind::NotFound, "There is no such page.".into()),
            PageError::Forbidden => (
                StatusCode::FORBIDDEN,
                ProblemKind::Forbidden,
                "This form was not sent from this portal's page, or it expired. Go back, reload the page and try again."
                    .into(),
            ),
            PageError::TooManyAttempts => (
                StatusCode::TOO_MANY_REQUESTS,
                ProblemKind::RateLimited,
                "Too many sign-in attempts. Wait a few minutes and try again.".into(),
            ),
            PageError::WrongMethod => (
                StatusCode::METHOD_NOT_ALLOWED,
                ProblemKind::MethodNotAllowed,
                "This address takes a form, not a visit. Go back to the page you came from.".into(),
            ),
            PageError::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                ProblemKind::Unavailable,
                "The portal cannot do this right now. Try again in a moment.".into(),
            ),
            PageError::BadRequest(m) => (StatusCode::BAD_REQUEST, ProblemKind::BadRequest, m.clone().into()),
        };
        Problem::new(status, text).kind(kind)
    }

    /// The error page's heading.
    fn title(&self) -> &'static str {
        match self {
            PageError::NotFound => "Not found",
            PageError::Forbidden => "Form expired",
            PageError::TooManyAttempts => "Too many attempts",
            PageError::WrongMethod => "Nothing to show here",
            PageError::Unavailable => "Try again later",
            PageError::BadRequest(_) => "Cannot do that",
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (title, problem) = (self.title(), self.problem());
        let text = problem.detail.as_ref();
        // Error pages have no branding state at hand: a plain, self-contained page.
        let body = html! {
            (maud::DOCTYPE)
            html lang="en" {
                head { meta charset="utf-8"; meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (title) } link rel="stylesheet" href="/assets/portal.css"; }
                body { main id="main" class="narrow" { h1 { (title) } p class="error" role="alert" { (text) } p { a href="/" { "Back to the APIs" } } } }
            }
        };
        let mut res = (problem.status_code(), Html(body.into_string())).into_response();
        if problem.kind == ProblemKind::RateLimited {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Each page error keeps its status, and its kind is the one the vocabulary gives that status.
    #[test]
    fn page_errors_in_the_shared_vocabulary() {
        let all = [
            (PageError::NotFound, 404, "not-found"),
            (PageError::Forbidden, 403, "forbidden"),
            (PageError::TooManyAttempts, 429, "rate-limited"),
            (PageError::WrongMethod, 405, "method-not-allowed"),
            (PageError::Unavailable, 503, "unavailable"),
            (PageError::BadRequest("No.".into()), 400, "bad-request"),
        ];
        for (e, status, slug) in all {
            let p = e.problem();
            assert_eq!((p.status, p.kind.slug()), (status, slug), "{e:?}");
            assert_eq!(ProblemKind::for_status(p.status), p.kind, "{e:?}");
            assert_eq!(e.into_response().status(), status);
        }
        assert_eq!(PageError::BadRequest("No.".into()).problem().detail, "No.");
    }

    #[test]
    fn too_many_attempts_says_when_to_try_again() {
        let res = PageError::TooManyAttempts.into_response();
        assert_eq!(res.headers()[http::header::RETRY_AFTER], "60");
        assert!(PageError::Forbidden.into_response().headers().get(http::header::RETRY_AFTER).is_none());
    }
}
