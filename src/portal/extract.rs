//! What a portal handler needs of a request before it runs, as axum extractors: the signed-in
//! developer ([`SignedIn`]), a form that developer posted ([`CsrfForm`]), a form of a visitor
//! who is not signed in ([`AnonymousForm`]), and the client's address ([`ClientIp`]). Each
//! rejects with the answer the page gives: the sign-in page for a visitor without a session,
//! the "form expired" page (403) for a form without its token.
//!
//! A form extractor is the handler's last argument: it reads the body (with axum's default
//! body limit, as `Bytes` does), then checks the session and the token, in that order.

use super::csrf::{check_anonymous_form, check_session_form};
use super::form::Form;
use super::page::{see_other, PageError};
use super::session::current;
use super::PortalState;
use crate::store::portal::Session;
use crate::web::ClientAddr;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, OptionalFromRequest, OptionalFromRequestParts, Request};
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::HeaderMap;
use std::net::IpAddr;
use std::sync::Arc;

type St = Arc<PortalState>;

/// The signed-in developer; without a live session, a redirect to the sign-in page.
/// `Option<SignedIn>` is for pages anyone may see (the navigation differs when signed in).
pub struct SignedIn(pub Session);

impl OptionalFromRequestParts<St> for SignedIn {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, st: &St) -> Result<Option<Self>, PageError> {
        Ok(current(st, &parts.headers).await?.map(SignedIn))
    }
}

impl FromRequestParts<St> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, st: &St) -> Result<Self, Response> {
        match <Self as OptionalFromRequestParts<St>>::from_request_parts(parts, st).await {
            Ok(Some(signed_in)) => Ok(signed_in),
            Ok(None) => Err(see_other("/login")),
            Err(e) => Err(e.into_response()),
        }
    }
}

/// A form the signed-in developer posted from a portal page: same origin, and the session's
/// CSRF token. Without a session, the sign-in page; `Option<CsrfForm>` is `None` then instead
/// (sign-out answers that itself).
pub struct CsrfForm {
    pub session: Session,
    pub form: Form,
}

impl OptionalFromRequest<St> for CsrfForm {
    type Rejection = Response;

    async fn from_request(req: Request, st: &St) -> Result<Option<Self>, Response> {
        let (headers, form) = posted(req, st).await?;
        let Some(session) = current(st, &headers).await.map_err(IntoResponse::into_response)? else {
            return Ok(None);
        };
        check_session_form(&headers, &session, &form).map_err(IntoResponse::into_response)?;
        Ok(Some(CsrfForm { session, form }))
    }
}

impl FromRequest<St> for CsrfForm {
    type Rejection = Response;

    async fn from_request(req: Request, st: &St) -> Result<Self, Response> {
        <Self as OptionalFromRequest<St>>::from_request(req, st).await?.ok_or_else(|| see_other("/login"))
    }
}

/// A form of a visitor who is not signed in (sign-in, sign-up): same origin, and the token
/// signed for the visitor's `gh_form` cookie.
pub struct AnonymousForm(pub Form);

impl FromRequest<St> for AnonymousForm {
    type Rejection = Response;

    async fn from_request(req: Request, st: &St) -> Result<Self, Response> {
        let (headers, form) = posted(req, st).await?;
        check_anonymous_form(st, &headers, &form).await.map_err(IntoResponse::into_response)?;
        Ok(AnonymousForm(form))
    }
}

/// The request's headers and its form body (a body that cannot be read answers as `Bytes`'s
/// rejection does).
async fn posted(req: Request, st: &St) -> Result<(HeaderMap, Form), Response> {
    let headers = req.headers().clone();
    let body = Bytes::from_request(req, st).await.map_err(IntoResponse::into_response)?;
    Ok((headers, Form::parse(&body)))
}

/// The client's address: the peer, or behind one of `server.trusted_proxies` the client it
/// names in `X-Forwarded-For` (as the proxy decides it), so clients behind a balancer are
/// limited one by one. `None` on a Unix socket.
pub struct ClientIp(pub Option<IpAddr>);

impl FromRequestParts<St> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, st: &St) -> Result<Self, Self::Rejection> {
        let Some(ClientAddr(peer)) = parts.extensions.get::<ClientAddr>().copied() else { return Ok(ClientIp(None)) };
        let xff = parts.headers.get("x-forwarded-for").map(|v| v.as_bytes());
        Ok(ClientIp(Some(st.runtime.load().settings.trusted.client_ip(peer.ip(), xff))))
    }
}
