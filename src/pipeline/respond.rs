//! Every gateway-made answer: `application/problem+json` (RFC 9457) with the request id.
//! Never an upstream address, a file path or a backtrace.

use super::ctx::RequestCtx;
use super::problem::Problem;
use bytes::Bytes;
use pingora_http::ResponseHeader;
use pingora_proxy::Session;

/// Request bodies up to this size are drained so the connection can be reused after an early
/// answer; larger or chunked bodies close the connection instead.
const DRAIN_LIMIT: u64 = 64 * 1024;

/// Write `p` as the whole response.
pub async fn send(session: &mut Session, ctx: &RequestCtx, p: &Problem) -> pingora::Result<()> {
    let body = bytes::Bytes::from(p.to_json(Some(ctx.request_id_str())));
    let mut resp = ResponseHeader::build(p.status, Some(8))?;
    resp.insert_header(http::header::CONTENT_TYPE, "application/problem+json")?;
    resp.insert_header(http::header::CONTENT_LENGTH, body.len())?;
    resp.insert_header(http::header::CACHE_CONTROL, "no-store")?;
    resp.insert_header("x-request-id", ctx.request_id.clone())?;
    if let Some(allow) = &p.allow {
        resp.insert_header(http::header::ALLOW, allow.as_str())?;
    }
    // CORS (a script on an allowed origin may read the gateway's refusals too), rate-limit
    // state, lifecycle: the same headers as on an upstream's answer.
    ctx.answer.apply_to(&mut resp)?;
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

/// A whole answer made by the gateway (a mock): the request id and the answer headers (CORS,
/// lifecycle, rate limits) added as on any answer.
pub async fn send_full(
    session: &mut Session,
    ctx: &RequestCtx,
    mut resp: ResponseHeader,
    body: Bytes,
) -> pingora::Result<()> {
    ctx.answer.apply_to(&mut resp)?;
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
