//! JSON body edits on the way through (`request`/`response` tables' `json_set` and
//! `json_remove`). A request body is read whole before forwarding (so the upstream gets a
//! correct `Content-Length`) and handed to Pingora through its retry buffer, which is why
//! requests are edited up to 64 KiB at most. A response body is collected as it arrives from the
//! upstream and sent (and cached) once edited; its `Content-Length` is dropped at the header, as
//! the edited length is not known yet. Bodies over `json_transform_limit` and invalid JSON pass
//! unchanged, logged and counted.

mod ops;

use super::registry::{Built, Plugins, Policy, RouteScope};
use crate::pipeline::body::{content_length, is_json, read_whole, RETRY_BUFFER};
use crate::pipeline::{Flow, Phases, Plugin, RequestCtx};
use async_trait::async_trait;
use bytes::Bytes;
pub use ops::JsonOps;
use pingora_http::ResponseHeader;
use pingora_proxy::Session;
use prometheus::IntCounterVec;
use std::sync::Arc;

pub struct JsonBody {
    request: Option<Arc<JsonOps>>,
    response: Option<Arc<JsonOps>>,
    /// `[server] json_transform_limit`: bodies buffered for editing at most.
    limit: usize,
    /// `gatehouse_json_transform_skipped_total{direction,reason}`.
    skipped: IntCounterVec,
}

/// The edited request body, replayed in place of the original.
struct EditedRequest(Bytes);

/// A response body being collected for editing.
struct Collecting {
    ops: Arc<JsonOps>,
    buf: Vec<u8>,
    /// Over the limit: the rest streams through unchanged.
    passthrough: bool,
}

impl JsonBody {
    /// `None` when the route edits no body.
    pub fn build(
        api: &crate::config::ApiConfig,
        route: Option<&crate::config::RouteConfig>,
        limit: usize,
        metrics: &crate::metrics::Metrics,
    ) -> Option<JsonBody> {
        let request = JsonOps::merge(api.request.as_ref(), route.and_then(|r| r.request.as_ref()));
        let response = JsonOps::merge(api.response.as_ref(), route.and_then(|r| r.response.as_ref()));
        if request.is_none() && response.is_none() {
            return None;
        }
        Some(JsonBody { request, response, limit, skipped: metrics.json_skipped.clone() })
    }

    fn skipped(&self, ctx: &RequestCtx, direction: &str, reason: &str) {
        self.skipped.with_label_values(&[direction, reason]).inc();
        log::info!("json {direction} edit skipped ({reason}), request {}", ctx.request_id_str());
    }
}

#[async_trait]
impl Plugin for JsonBody {
    fn name(&self) -> &'static str {
        "json-body"
    }
    /// Last in the request phase: what reaches the upstream is what every check let through.
    fn priority(&self) -> u32 {
        1100
    }
    fn phases(&self) -> Phases {
        let (req, resp) = (self.request.is_some(), self.response.is_some());
        Phases {
            request: req,
            request_body: req,
            upstream_request: req,
            upstream_response: resp,
            upstream_body: resp,
            ..Default::default()
        }
    }

    /// Read and edit a JSON request body.
    async fn request(&self, session: &mut Session, ctx: &mut RequestCtx) -> Flow {
        let Some(ops) = &self.request else { return Flow::Continue };
        let req = session.req_header();
        if !is_json(req.headers.get(http::header::CONTENT_TYPE)) {
            return Flow::Continue;
        }
        let limit = self.limit.min(RETRY_BUFFER);
        let chunked = req.headers.contains_key(http::header::TRANSFER_ENCODING);
        if chunked || content_length(&req.headers).is_some_and(|n| n > limit) {
            self.skipped(ctx, "request", "too_large");
            return Flow::Continue;
        }
        if content_length(&req.headers).unwrap_or(0) == 0 {
            return Flow::Continue;
        }
        let body = match ctx.request_body.clone() {
            Some(b) => b,
            None => match read_whole(session, limit).await {
                Ok(b) => b,
                Err(p) => return Flow::Respond(p),
            },
        };
        match ops.apply(&body) {
            Ok(edited) => ctx.state.insert(EditedRequest(Bytes::from(edited))),
            Err(_) => self.skipped(ctx, "request", "invalid_json"),
        }
        Flow::Continue
    }

    /// The (replayed) original body becomes the edited one.
    fn request_body(&self, body: &mut Option<Bytes>, eos: bool, ctx: &mut RequestCtx) -> pingora::Result<()> {
        if let Some(EditedRequest(edited)) = ctx.state.get() {
            *body = eos.then(|| edited.clone());
        }
        Ok(())
    }

    /// The edited body's length.
    fn upstream_request(&self, req: &mut http::request::Parts, ctx: &RequestCtx) -> pingora::Result<()> {
        if let Some(EditedRequest(b)) = ctx.state.get() {
            req.headers.insert(http::header::CONTENT_LENGTH, b.len().into());
        }
        Ok(())
    }

    /// Start collecting a JSON response that is to be edited.
    fn upstream_response(&self, session: &Session, resp: &mut ResponseHeader, ctx: &mut RequestCtx) {
        let Some(ops) = &self.response else { return };
        let h = &resp.headers;
        let no_body = session.req_header().method == http::Method::HEAD || matches!(resp.status.as_u16(), 204 | 304);
        if no_body || !is_json(h.get(http::header::CONTENT_TYPE)) || h.contains_key(http::header::CONTENT_ENCODING) {
            return;
        }
        if content_length(h).is_some_and(|n| n > self.limit) {
            return self.skipped(ctx, "response", "too_large");
        }
        resp.remove_header(&http::header::CONTENT_LENGTH);
        ctx.state.insert(Collecting { ops: ops.clone(), buf: Vec::new(), passthrough: false });
    }

    /// Hold the body until its end, then send it edited.
    fn upstream_body(&self, body: &mut Option<Bytes>, eos: bool, ctx: &mut RequestCtx) {
        let Some(c) = ctx.state.get_mut::<Collecting>() else { return };
        if c.passthrough {
            return;
        }
        if let Some(b) = body.take() {
            c.buf.extend_from_slice(&b);
        }
        if c.buf.len() > self.limit {
            c.passthrough = true;
            *body = Some(Bytes::from(std::mem::take(&mut c.buf)));
            return self.skipped(ctx, "response", "too_large");
        }
        if !eos {
            return;
        }
        let buf = std::mem::take(&mut c.buf);
        match c.ops.apply(&buf) {
            Ok(edited) => *body = Some(Bytes::from(edited)),
            Err(_) => {
                *body = Some(Bytes::from(buf));
                self.skipped(ctx, "response", "invalid_json");
            }
        }
    }
}

pub struct JsonBodyPolicy;
pub static POLICY: JsonBodyPolicy = JsonBodyPolicy;

impl Policy for JsonBodyPolicy {
    fn for_route(&self, r: &RouteScope, out: &mut Plugins) -> Built {
        let setup = r.api.setup;
        if let Some(j) = JsonBody::build(r.api.api, r.route, setup.json_limit, setup.metrics) {
            out.push(Arc::new(j));
        }
        Ok(())
    }
}
