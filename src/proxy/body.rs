//! JSON body edits on the way through (DESIGN §3 steps 3 and 8). A request body is read whole in
//! `request_filter` (so the upstream gets a correct `Content-Length`) and handed to Pingora
//! through its retry buffer, which is why requests are edited up to 64 KiB at most. A response
//! body is collected as it arrives from the upstream and sent (and cached) once edited; its
//! `Content-Length` is dropped at the header, as the edited length is not known yet.

use super::ctx::RequestCtx;
use super::respond::Problem;
use crate::plugins::json_body::{is_json, JsonOps};
use bytes::Bytes;
use pingora::proxy::Session;
use pingora::Result;
use pingora_http::{RequestHeader, ResponseHeader};
use std::sync::Arc;
use std::time::Duration;

/// Pingora replays a pre-read body from its retry buffer, which holds this much.
const RETRY_BUFFER: usize = 64 * 1024;
/// A client gets this long to send a body the gateway must read before forwarding.
const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// A response body being collected for JSON edits.
pub struct Collecting {
    ops: Arc<JsonOps>,
    buf: Vec<u8>,
    /// Over the limit: the rest streams through unchanged.
    passthrough: bool,
}

fn content_length(h: &http::HeaderMap) -> Option<usize> {
    h.get(http::header::CONTENT_LENGTH)?.to_str().ok()?.trim().parse().ok()
}

fn skipped(ctx: &RequestCtx, shared: &crate::runtime::Shared, direction: &str, reason: &str) {
    shared.metrics.json_skipped.with_label_values(&[direction, reason]).inc();
    log::info!("json {direction} edit skipped ({reason}), request {}", ctx.request_id_str());
}

/// Read and edit a JSON request body. `Err(problem)` when the body could not be read.
pub async fn edit_request(
    session: &mut Session,
    ctx: &mut RequestCtx,
    shared: &crate::runtime::Shared,
) -> std::result::Result<(), Problem> {
    let Some(ops) = ctx.route.as_ref().and_then(|r| r.body.request.clone()) else { return Ok(()) };
    let req: &RequestHeader = session.req_header();
    if !is_json(req.headers.get(http::header::CONTENT_TYPE)) {
        return Ok(());
    }
    let limit = ctx.rt.settings.json_limit.min(RETRY_BUFFER);
    let chunked = req.headers.contains_key(http::header::TRANSFER_ENCODING);
    let too_large = chunked || content_length(&req.headers).is_some_and(|n| n > limit);
    if too_large {
        skipped(ctx, shared, "request", "too_large");
        return Ok(());
    }
    if content_length(&req.headers).unwrap_or(0) == 0 {
        return Ok(());
    }
    let body = match ctx.request_body.clone() {
        Some(b) => b,
        None => read_whole(session, limit).await?,
    };
    match ops.apply(&body) {
        Ok(edited) => ctx.json_request = Some(Bytes::from(edited)),
        Err(_) => skipped(ctx, shared, "request", "invalid_json"),
    }
    Ok(())
}

/// The request body, read whole before forwarding (Pingora replays it from its retry buffer):
/// at most `limit` bytes (never over the retry buffer), else 413.
pub async fn read_whole(session: &mut Session, limit: usize) -> std::result::Result<Bytes, Problem> {
    let limit = limit.min(RETRY_BUFFER);
    let too_large = || Problem::new(413, "the request body is larger than this gateway checks").closing();
    if content_length(&session.req_header().headers).is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    session.as_mut().enable_retry_buffering();
    let mut body = Vec::new();
    let read = async {
        while let Some(chunk) = session.read_request_body().await? {
            body.extend_from_slice(&chunk);
            if body.len() > limit {
                return Ok(false);
            }
        }
        Ok::<bool, Box<pingora::Error>>(true)
    };
    match tokio::time::timeout(BODY_READ_TIMEOUT, read).await {
        Ok(Ok(true)) => Ok(Bytes::from(body)),
        Ok(Ok(false)) => Err(too_large()),
        Ok(Err(_)) => Err(Problem::new(400, "the request body could not be read").closing()),
        Err(_) => Err(Problem::new(408, "the request body did not arrive in time").closing()),
    }
}

/// `upstream_request_filter`: the edited body's length.
pub fn request_length(req: &mut RequestHeader, ctx: &RequestCtx) -> Result<()> {
    if let Some(b) = &ctx.json_request {
        req.insert_header(http::header::CONTENT_LENGTH, b.len())?;
    }
    Ok(())
}

/// `request_body_filter`: the (replayed) original body becomes the edited one.
pub fn request_chunk(body: &mut Option<Bytes>, eos: bool, ctx: &RequestCtx) {
    if let Some(edited) = &ctx.json_request {
        *body = eos.then(|| edited.clone());
    }
}

/// `upstream_response_filter`: start collecting a JSON response that is to be edited.
pub fn start_response(
    session: &Session,
    resp: &mut ResponseHeader,
    ctx: &mut RequestCtx,
    shared: &crate::runtime::Shared,
) {
    let Some(ops) = ctx.route.as_ref().and_then(|r| r.body.response.clone()) else { return };
    let h = &resp.headers;
    let no_body = session.req_header().method == http::Method::HEAD || matches!(resp.status.as_u16(), 204 | 304);
    if no_body || !is_json(h.get(http::header::CONTENT_TYPE)) || h.contains_key(http::header::CONTENT_ENCODING) {
        return;
    }
    if content_length(h).is_some_and(|n| n > ctx.rt.settings.json_limit) {
        return skipped(ctx, shared, "response", "too_large");
    }
    resp.remove_header(&http::header::CONTENT_LENGTH);
    ctx.json_response = Some(Collecting { ops, buf: Vec::new(), passthrough: false });
}

/// `upstream_response_body_filter`: hold the body until its end, then send it edited.
pub fn response_chunk(body: &mut Option<Bytes>, eos: bool, ctx: &mut RequestCtx, shared: &crate::runtime::Shared) {
    let limit = ctx.rt.settings.json_limit;
    let Some(c) = ctx.json_response.as_mut() else { return };
    if c.passthrough {
        return;
    }
    if let Some(b) = body.take() {
        c.buf.extend_from_slice(&b);
    }
    if c.buf.len() > limit {
        c.passthrough = true;
        *body = Some(Bytes::from(std::mem::take(&mut c.buf)));
        return skipped(ctx, shared, "response", "too_large");
    }
    if !eos {
        return;
    }
    let buf = std::mem::take(&mut c.buf);
    match c.ops.apply(&buf) {
        Ok(edited) => *body = Some(Bytes::from(edited)),
        Err(_) => {
            *body = Some(Bytes::from(buf));
            skipped(ctx, shared, "response", "invalid_json");
        }
    }
}
