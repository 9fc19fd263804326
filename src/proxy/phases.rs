//! Runs a route's plugin chain in each of Pingora's phases. The chain lives in the route, the
//! state it works on in the request's `RequestCtx`; the two are borrowed apart here so no
//! phase clones the route.

use super::ctx::ProxyCtx;
use super::forward::X_REQUEST_ID;
use crate::pipeline::{edit, respond, Chain, Flow, RequestCtx};
use bytes::Bytes;
use pingora::proxy::Session;
use pingora::Result;
use pingora_http::ResponseHeader;

/// The route's chain (none before routing) and the context its plugins see.
fn split(ctx: &mut ProxyCtx) -> (Option<&Chain>, &mut RequestCtx) {
    (ctx.route.as_deref().map(|r| &r.chain), &mut ctx.req)
}

/// The request phase in priority order; `Ok(true)` when a plugin answered.
pub async fn request(session: &mut Session, ctx: &mut ProxyCtx) -> Result<bool> {
    let (Some(chain), req) = split(ctx) else { return Ok(false) };
    for plugin in &chain.request {
        let flow = match plugin.request_now(session, req) {
            Some(flow) => flow,
            None => plugin.request(session, req).await,
        };
        match flow {
            Flow::Continue => {}
            Flow::Respond(p) => {
                respond::send(session, req, &p).await?;
                return Ok(true);
            }
            Flow::Done => return Ok(true),
        }
    }
    Ok(false)
}

/// Each request body chunk: counted as the client sent it, then through the chain.
pub fn request_body(body: &mut Option<Bytes>, eos: bool, ctx: &mut ProxyCtx) -> Result<()> {
    if let Some(b) = body {
        ctx.req.body_bytes += b.len() as u64;
    }
    let (Some(chain), req) = split(ctx) else { return Ok(()) };
    for plugin in &chain.request_body {
        plugin.request_body(body, eos, req)?;
    }
    Ok(())
}

pub fn upstream_response(session: &Session, resp: &mut ResponseHeader, ctx: &mut ProxyCtx) {
    let (Some(chain), req) = split(ctx) else { return };
    for plugin in &chain.upstream_response {
        plugin.upstream_response(session, resp, req);
    }
}

pub fn upstream_body(body: &mut Option<Bytes>, eos: bool, ctx: &mut ProxyCtx) {
    let (Some(chain), req) = split(ctx) else { return };
    for plugin in &chain.upstream_body {
        plugin.upstream_body(body, eos, req);
    }
}

/// The answer's head: the request id and the answer headers (rate limits, lifecycle, CORS…)
/// move in before the response plugins run, so a route's `remove_headers` can still drop them.
pub fn response(session: &Session, resp: &mut ResponseHeader, ctx: &mut ProxyCtx) -> Result<()> {
    let (chain, req) = split(ctx);
    let plugins = chain.map(|c| c.response.as_slice()).unwrap_or_default();
    let answer = std::mem::take(&mut req.answer);
    // Room for the request id, two headers per plugin, and the answer headers.
    edit::response(resp, 1 + plugins.len() * 2 + answer.len(), |parts| {
        parts.headers.insert(X_REQUEST_ID.clone(), req.request_id.clone());
        answer.apply(&mut parts.headers);
        for plugin in plugins {
            plugin.response(session, parts, req)?;
        }
        Ok(())
    })
}

pub fn response_body(body: &mut Option<Bytes>, eos: bool, ctx: &mut ProxyCtx) {
    let (Some(chain), req) = split(ctx) else { return };
    for plugin in &chain.response_body {
        plugin.response_body(body, eos, req);
    }
}

pub fn logging(ctx: &mut ProxyCtx, status: u16) {
    let (Some(chain), req) = split(ctx) else { return };
    for plugin in &chain.logging {
        plugin.logging(req, status);
    }
}
