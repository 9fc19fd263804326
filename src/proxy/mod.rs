//! The data plane: `Gateway` implements Pingora's `ProxyHttp`. Each hook only delegates —
//! to the route's plugin chain (`phases.rs`), routing (`start.rs`), peers and forwarding
//! (`forward.rs`) or the cache (`cache_hooks.rs`) — so a request's path reads top to bottom.

mod cache_hooks;
pub mod ctx;
mod forward;
mod hop;

mod phases;

mod start;

use crate::access_log::AccessLog;
use crate::pipeline::{respond, Problem};
use crate::runtime::{RuntimeHandle, Shared};
use async_trait::async_trait;
use bytes::Bytes;
use ctx::ProxyCtx;
use pingora::modules::http::HttpModules;
use pingora::proxy::{FailToProxy, ProxyHttp, Session};
use pingora::upstreams::peer::HttpPeer;
use pingora::{Error, ErrorType, Result};
use pingora_http::{RequestHeader, ResponseHeader};
use std::sync::Arc;

pub struct Gateway {
    pub runtime: RuntimeHandle,
    pub shared: Arc<Shared>,
    pub access_log: Option<AccessLog>,
}

#[async_trait]
impl ProxyHttp for Gateway {
    type CTX = ProxyCtx;

    fn new_ctx(&self) -> ProxyCtx {
        ProxyCtx::new(self.runtime.load_full())
    }

    /// No downstream modules: compression is a plugin of the chain (`plugins/compression.rs`).
    fn init_downstream_modules(&self, _modules: &mut HttpModules) {}

    async fn early_request_filter(&self, session: &mut Session, ctx: &mut ProxyCtx) -> Result<()> {
        self.shared.metrics.in_flight.inc();
        ctx.counted = true;
        start::begin(session, ctx);
        Ok(())
    }

    async fn request_filter(&self, session: &mut Session, ctx: &mut ProxyCtx) -> Result<bool> {
        // PURGE is about the cache key, not a route: a path no route takes may still be stored.
        if ctx.reject.as_ref().is_none_or(|p| matches!(p.status, 404 | 405))
            && cache_hooks::purge(&self.shared, session, ctx).await?
        {
            return Ok(true);
        }
        if let Some(p) = ctx.reject.take() {
            respond::send(session, ctx, &p).await?;
            return Ok(true);
        }
        phases::request(session, ctx).await
    }

    async fn request_body_filter(
        &self,
        _s: &mut Session,
        body: &mut Option<Bytes>,
        eos: bool,
        ctx: &mut ProxyCtx,
    ) -> Result<()> {
        phases::request_body(body, eos, ctx)
    }

    fn request_cache_filter(&self, session: &mut Session, ctx: &mut ProxyCtx) -> Result<()> {
        cache_hooks::enable(&self.shared.cache, session, ctx);
        Ok(())
    }

    fn cache_key_callback(&self, session: &Session, ctx: &mut ProxyCtx) -> Result<pingora_cache::CacheKey> {
        cache_hooks::cache_key(session, ctx)
    }

    fn cache_miss(&self, session: &mut Session, ctx: &mut ProxyCtx) {
        cache_hooks::on_miss(ctx);
        session.cache.cache_miss();
    }

    async fn cache_hit_filter(
        &self,
        session: &mut Session,
        meta: &pingora_cache::CacheMeta,
        _hit: &mut pingora_cache::HitHandler,
        is_fresh: bool,
        ctx: &mut ProxyCtx,
    ) -> Result<Option<pingora_cache::ForcedFreshness>> {
        Ok(cache_hooks::on_hit(session, meta, is_fresh, ctx))
    }

    fn response_cache_filter(
        &self,
        session: &Session,
        resp: &ResponseHeader,
        ctx: &mut ProxyCtx,
    ) -> Result<pingora_cache::RespCacheable> {
        Ok(cache_hooks::cacheable(session, resp, ctx))
    }

    fn cache_vary_filter(
        &self,
        meta: &pingora_cache::CacheMeta,
        ctx: &mut ProxyCtx,
        req: &RequestHeader,
    ) -> Option<pingora_cache::key::HashBinary> {
        cache_hooks::variance(meta, ctx, req)
    }

    fn should_serve_stale(&self, _s: &mut Session, _ctx: &mut ProxyCtx, error: Option<&Error>) -> bool {
        cache_hooks::serve_stale(error)
    }

    async fn upstream_peer(&self, session: &mut Session, ctx: &mut ProxyCtx) -> Result<Box<HttpPeer>> {
        forward::pick_peer(session, ctx)
    }

    fn fail_to_connect(&self, _s: &mut Session, _peer: &HttpPeer, ctx: &mut ProxyCtx, mut e: Box<Error>) -> Box<Error> {
        let retry = forward::on_peer_failure(ctx, &e, true);
        e.set_retry(retry);
        e
    }

    fn error_while_proxy(
        &self,
        _peer: &HttpPeer,
        session: &mut Session,
        mut e: Box<Error>,
        ctx: &mut ProxyCtx,
        client_reused: bool,
    ) -> Box<Error> {
        // Retry only what is safe: an idempotent request whose body can be replayed, before any
        // byte of the response reached the client.
        // A request the client got wrong (e.g. a forbidden Connection nomination) is never
        // retried and never blamed on the peer.
        let safe = *e.esource() == pingora::ErrorSource::Upstream
            && session.req_header().method.is_idempotent()
            && !session.as_ref().retry_buffer_truncated()
            && session.response_written().is_none()
            && ctx.upstream_time.is_none();
        let retry = if safe {
            // A reset on a reused keep-alive connection is a stale connection, not a bad peer.
            forward::on_peer_failure(ctx, &e, !client_reused)
        } else {
            false
        };
        e.set_retry(retry);
        e
    }

    async fn upstream_request_filter(
        &self,
        session: &mut Session,
        req: &mut RequestHeader,
        ctx: &mut ProxyCtx,
    ) -> Result<()> {
        forward::upstream_request(session, req, ctx)
    }

    async fn upstream_response_filter(
        &self,
        session: &mut Session,
        resp: &mut ResponseHeader,
        ctx: &mut ProxyCtx,
    ) -> Result<()> {
        phases::upstream_response(session, resp, ctx);
        if let Some(t) = ctx.upstream_start {
            ctx.upstream_time = Some(t.elapsed());
        }
        if let (Some(route), Some(i)) = (&ctx.route, ctx.peer) {
            route.api.cluster.record_success(i);
        }
        Ok(())
    }

    fn upstream_response_body_filter(
        &self,
        _s: &mut Session,
        body: &mut Option<Bytes>,
        eos: bool,
        ctx: &mut ProxyCtx,
    ) -> Result<Option<std::time::Duration>> {
        phases::upstream_body(body, eos, ctx);
        Ok(None)
    }

    fn response_body_filter(
        &self,
        _s: &mut Session,
        body: &mut Option<Bytes>,
        eos: bool,
        ctx: &mut ProxyCtx,
    ) -> Result<Option<std::time::Duration>> {
        phases::response_body(body, eos, ctx);
        Ok(None)
    }

    async fn response_filter(
        &self,
        session: &mut Session,
        resp: &mut ResponseHeader,
        ctx: &mut ProxyCtx,
    ) -> Result<()> {
        cache_hooks::on_response(&self.shared.cache, session, resp, ctx)?;
        phases::response(session, resp, ctx)
    }

    async fn fail_to_proxy(&self, session: &mut Session, e: &Error, ctx: &mut ProxyCtx) -> FailToProxy {
        let Some(p) = Problem::from_error(e) else {
            return FailToProxy { error_code: 0, can_reuse_downstream: false };
        };
        // Once a response has started, the only honest signal left is closing the connection.
        if session.response_written().is_some() {
            return FailToProxy { error_code: p.status, can_reuse_downstream: false };
        }
        // Pingora does not reuse a client connection after a failed proxy attempt, whatever this
        // hook returns; say so. A client told keep-alive would send its next request into a
        // socket that is closing and get a reset (found by tests/chaos.rs).
        let p = p.closing();
        let _ = respond::send(session, ctx, &p).await;
        FailToProxy { error_code: p.status, can_reuse_downstream: false }
    }

    fn suppress_error_log(&self, _s: &Session, _ctx: &ProxyCtx, e: &Error) -> bool {
        // 4xx decided by the gateway and malformed client requests are answers, not errors.
        matches!(e.etype(), ErrorType::HTTPStatus(c) if *c < 500) || *e.esource() == pingora::ErrorSource::Downstream
    }

    async fn logging(&self, session: &mut Session, _e: Option<&Error>, ctx: &mut ProxyCtx) {
        ctx.release_peer();
        let status = session.response_written().map(|r| r.status.as_u16()).unwrap_or(0);
        phases::logging(ctx, status);
        if ctx.counted {
            self.shared.metrics.in_flight.dec();
        }
        let method = &session.req_header().method;
        let metrics = ctx.route.as_ref().map(|r| &r.api.metrics).unwrap_or(&ctx.rt.unrouted);
        metrics.count(method, status);
        if let Some(o) = ctx.cache.outcome {
            self.shared.cache.results.count(o);
        }
        metrics.duration.observe(ctx.start.elapsed().as_secs_f64());
        if let Some(t) = ctx.upstream_time {
            metrics.upstream.observe(t.as_secs_f64());
        }
        if let Some(log) = &self.access_log {
            log.write(&forward::access_entry(session, ctx, status));
        }
        self.record_analytics(session, ctx, status);
    }
}

impl Gateway {
    /// One analytics event per routed request: a lock-free push, no allocation.
    fn record_analytics(&self, session: &Session, ctx: &ProxyCtx, status: u16) {
        let (Some(route), true) = (&ctx.route, self.shared.analytics.enabled()) else { return };
        self.shared.analytics.push(crate::analytics::Event {
            at_ms: crate::store::now_ms(),
            labels: route.labels.clone(),
            consumer: ctx.consumer.clone(),
            status,
            latency_ms: ctx.start.elapsed().as_secs_f64() * 1000.0,
            bytes_in: ctx.body_bytes,
            bytes_out: session.body_bytes_sent() as u64,
        });
    }
}
