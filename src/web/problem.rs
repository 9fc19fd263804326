//! `application/problem+json` (RFC 9457) on the management listeners. Handlers and middleware
//! return the pipeline's [`Problem`] (one vocabulary with the proxy); the [`problems`] middleware renders it with the request id, and turns
//! any other error answer (axum's 405, an extractor's rejection) into one too, so no error leaves
//! as plain text or an empty body.

use axum::body::Body;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::header::{CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderValue, StatusCode};
use std::borrow::Cow;

pub use crate::pipeline::problem::{Problem, ProblemKind, PROBLEM_JSON};

/// The request id of one management request, set by the adaptor; echoed as `X-Request-Id`.
#[derive(Clone, Debug)]
pub struct RequestId(pub HeaderValue);

fn set_body(res: &mut Response, body: Vec<u8>) {
    let h = res.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
    *res.body_mut() = Body::from(body);
}

/// Rendered by [`problems`]; the body is filled in there, where the request id is known.
impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut res = Response::new(Body::empty());
        *res.status_mut() = self.status_code();
        res.extensions_mut().insert(self);
        res
    }
}

/// Outermost middleware: every error answer leaves as problem+json with the request id.
pub async fn problems(req: Request, next: Next) -> Response {
    let id = req.extensions().get::<RequestId>().cloned();
    let mut res = next.run(req).await;
    let status = res.status();
    let is_error = status.is_client_error() || status.is_server_error();
    let is_problem = res.headers().get(CONTENT_TYPE).is_some_and(|v| v.as_bytes() == PROBLEM_JSON.as_bytes());
    if is_error && !is_problem && res.extensions().get::<Problem>().is_none() {
        // e.g. axum's 405 or an extractor's rejection
        let p = Problem::new(status, fallback_detail(&mut res).await);
        res.extensions_mut().insert(p);
    }
    finish(res, id.as_ref())
}

/// Render the [`Problem`] `res` carries, if any (headers already set, such as `Allow` or
/// `WWW-Authenticate`, are kept), and set `X-Request-Id`.
pub fn finish(mut res: Response, id: Option<&RequestId>) -> Response {
    if let Some(p) = res.extensions_mut().remove::<Problem>() {
        set_body(&mut res, p.to_json(id.and_then(|i| i.0.to_str().ok())));
    }
    if let Some(id) = id {
        res.headers_mut().insert("x-request-id", id.0.clone());
    }
    res
}

/// An extractor's rejection explains itself in a short text body: keep that as the detail.
async fn fallback_detail(res: &mut Response) -> Cow<'static, str> {
    let status = res.status();
    let body = std::mem::take(res.body_mut());
    let text = axum::body::to_bytes(body, 1024).await.ok().and_then(|b| String::from_utf8(b.to_vec()).ok());
    match text {
        Some(t) if !t.trim().is_empty() => Cow::Owned(t.trim().to_string()),
        _ if status == StatusCode::METHOD_NOT_ALLOWED => "this path does not accept that method; see Allow".into(),
        _ => "the request could not be processed".into(),
    }
}
