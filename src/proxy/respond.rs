//! Every gateway-made answer: `application/problem+json` (RFC 9457) with the request id.
//! Never an upstream address, a file path or a backtrace.

use super::ctx::RequestCtx;
use bytes::Bytes;
use pingora::{Error, ErrorSource, ErrorType};
use pingora_http::ResponseHeader;
use pingora_proxy::Session;
use std::borrow::Cow;

/// Request bodies up to this size are drained so the connection can be reused after an early
/// answer; larger or chunked bodies close the connection instead.
const DRAIN_LIMIT: u64 = 64 * 1024;

/// Error context set by peer selection when no peer is usable (as opposed to peers that failed).
pub const NO_HEALTHY_UPSTREAM: &str = "no healthy upstream";

#[derive(Debug, Clone)]
pub struct Problem {
    pub status: u16,
    pub detail: Cow<'static, str>,
    /// `Allow` header for 405.
    pub allow: Option<String>,
    /// Close the connection after answering.
    pub close: bool,
    /// `WWW-Authenticate` challenges for 401, one header each.
    pub challenges: Option<std::sync::Arc<Vec<http::HeaderValue>>>,
    /// Every problem found with the request (request validation), as the `errors` member.
    pub errors: Option<std::sync::Arc<serde_json::Value>>,
}

impl Problem {
    pub fn new(status: u16, detail: impl Into<Cow<'static, str>>) -> Self {
        Problem { status, detail: detail.into(), allow: None, close: false, challenges: None, errors: None }
    }

    pub fn closing(mut self) -> Self {
        self.close = true;
        self
    }

    fn slug(&self) -> &'static str {
        match self.status {
            400 => "bad-request",
            401 => "unauthorized",
            403 => "forbidden",
            408 => "request-timeout",
            410 => "gone",
            404 => "no-route",
            405 => "method-not-allowed",
            413 => "body-too-large",
            415 => "unsupported-media-type",
            414 => "uri-too-long",
            429 => "rate-limited",
            431 => "headers-too-large",
            502 => "bad-gateway",
            503 => "unavailable",
            504 => "upstream-timeout",
            _ => "error",
        }
    }

    pub fn body(&self, request_id: &str) -> Bytes {
        let title = http::StatusCode::from_u16(self.status).ok().and_then(|s| s.canonical_reason()).unwrap_or("Error");
        let mut v = serde_json::json!({
            "type": format!("urn:gatehouse:problem:{}", self.slug()),
            "title": title,
            "status": self.status,
            "detail": self.detail,
            "request_id": request_id,
        });
        if let (Some(errors), Some(o)) = (&self.errors, v.as_object_mut()) {
            o.insert("errors".into(), errors.as_ref().clone());
        }
        Bytes::from(serde_json::to_vec(&v).unwrap_or_default())
    }

    /// The problem for an error that ended a request in Pingora.
    pub fn from_error(e: &Error) -> Option<Problem> {
        use ErrorType::*;
        let p = match e.etype() {
            HTTPStatus(code) => match *code {
                413 => Problem::new(413, "the request body is larger than this gateway accepts").closing(),
                502 if e.context.as_ref().is_some_and(|c| c.as_str() == NO_HEALTHY_UPSTREAM) => {
                    Problem::new(502, "no healthy upstream is available for this API")
                }
                502 => Problem::new(502, "the upstream failed to answer"),
                504 => Problem::new(504, "the upstream did not answer in time"),
                c => Problem::new(c, "the request could not be processed"),
            },
            ConnectTimedout | ReadTimedout | WriteTimedout => Problem::new(504, "the upstream did not answer in time"),
            // A failed handshake or certificate check toward the upstream (say so, not where).
            TLSHandshakeFailure | InvalidCert | HandshakeError | TLSWantX509Lookup => {
                Problem::new(502, "the upstream failed to answer")
            }
            _ => match e.esource() {
                ErrorSource::Upstream => Problem::new(502, "the upstream failed to answer"),
                ErrorSource::Downstream => match e.etype() {
                    WriteError | ReadError | ConnectionClosed => return None,
                    _ => Problem::new(400, "the request is malformed").closing(),
                },
                _ => Problem::new(500, "the gateway failed to handle the request"),
            },
        };
        Some(p)
    }
}

/// Write `p` as the whole response.
pub async fn send(session: &mut Session, ctx: &RequestCtx, p: &Problem) -> pingora::Result<()> {
    let body = p.body(ctx.request_id_str());
    let mut resp = ResponseHeader::build(p.status, Some(8))?;
    resp.insert_header(http::header::CONTENT_TYPE, "application/problem+json")?;
    resp.insert_header(http::header::CONTENT_LENGTH, body.len())?;
    resp.insert_header(http::header::CACHE_CONTROL, "no-store")?;
    resp.insert_header("x-request-id", ctx.request_id.clone())?;
    if let Some(allow) = &p.allow {
        resp.insert_header(http::header::ALLOW, allow.as_str())?;
    }
    // A script on an allowed origin may read the gateway's own refusals (401, 403, 429…) too.
    for (name, value) in &ctx.cors {
        resp.insert_header(name.clone(), value.clone())?;
    }
    if !ctx.cors.is_empty() {
        resp.append_header(http::header::VARY, "Origin")?;
    }
    for (name, value) in &ctx.answer_headers {
        resp.append_header(name.clone(), value.clone())?;
    }
    for c in p.challenges.iter().flat_map(|c| c.iter()) {
        resp.append_header(http::header::WWW_AUTHENTICATE, c.clone())?;
    }
    if p.close || !body_is_small(session) {
        session.set_keepalive(None);
        resp.insert_header(http::header::CONNECTION, "close")?;
    }
    session.write_response_header(Box::new(resp), false).await?;
    session.write_response_body(Some(body), true).await
}

/// Write a gateway-made answer without a body (e.g. a CORS preflight's 204), under the same
/// rule as `send`: an unread body that is not small closes the connection.
pub async fn send_head(session: &mut Session, ctx: &RequestCtx, resp: ResponseHeader) -> pingora::Result<()> {
    send_head_open(session, ctx, resp, true).await
}

async fn send_head_open(
    session: &mut Session,
    ctx: &RequestCtx,
    mut resp: ResponseHeader,
    end: bool,
) -> pingora::Result<()> {
    resp.insert_header("x-request-id", ctx.request_id.clone())?;
    if !body_is_small(session) {
        session.set_keepalive(None);
        resp.insert_header(http::header::CONNECTION, "close")?;
    }
    session.write_response_header(Box::new(resp), end).await
}

/// A whole answer made by the gateway (a mock): the request id, CORS and per-request headers
/// (lifecycle, rate limits) added as on any gateway answer.
pub async fn send_full(
    session: &mut Session,
    ctx: &RequestCtx,
    mut resp: ResponseHeader,
    body: Bytes,
) -> pingora::Result<()> {
    for (name, value) in ctx.cors.iter().chain(&ctx.answer_headers) {
        resp.append_header(name.clone(), value.clone())?;
    }
    let end = body.is_empty() || session.req_header().method == http::Method::HEAD;
    send_head_open(session, ctx, resp, end).await?;
    if !end {
        session.write_response_body(Some(body), true).await?;
    }
    Ok(())
}

/// True when the unread request body is small enough to drain (so keep-alive is safe).
fn body_is_small(session: &Session) -> bool {
    let h = session.req_header();
    // A client waiting for `100 Continue` never sends the body after a final answer: draining
    // would swallow its next request. Likewise a chunked body has no known end.
    if h.headers.contains_key(http::header::TRANSFER_ENCODING) || h.headers.contains_key(http::header::EXPECT) {
        return false;
    }
    match h.headers.get(http::header::CONTENT_LENGTH) {
        None => true,
        Some(v) => std::str::from_utf8(v.as_bytes())
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .is_some_and(|n| n <= DRAIN_LIMIT),
    }
}
