//! The cache phases of the proxy, called from `Gateway`'s hooks: which
//! requests use the cache, their key, what a stored response may answer, `Cache-Status`,
//! invalidation by unsafe methods, and `PURGE`.

use super::ctx::ProxyCtx;
use crate::cache::policy::{self, ClientAsks, Requester};
use crate::cache::status::{self, Outcome};
use crate::cache::{key, Cache, RouteCache};
use crate::pipeline::{respond, Problem};
use crate::store::purges::Purge;
use http::Method;
use pingora::proxy::Session;
use pingora::{Error, ErrorSource, ErrorType, OrErr, Result};
use pingora_cache::cache_control::{CacheControl, InterpretCacheControl};
use pingora_cache::{CacheKey, CacheMeta, ForcedFreshness, RespCacheable};
use pingora_http::{RequestHeader, ResponseHeader};
use std::sync::Arc;

/// A request's dealings with the cache.
#[derive(Default)]
pub struct CacheCtx {
    /// The route caches (set even when this request bypasses the cache).
    pub policy: Option<Arc<RouteCache>>,
    /// A cache key was made, so the cache was looked up.
    looked_up: bool,
    /// Between key and lookup result: a `Vary` check now means the URL is stored.
    in_lookup: bool,
    vary_seen: bool,
    /// The URL an unsafe request invalidates once it succeeds.
    invalidate: Option<String>,
    pub outcome: Option<Outcome>,
}

fn tls(session: &Session) -> bool {
    session.digest().is_some_and(|d| d.ssl_digest.is_some())
}

/// `request_cache_filter`: switch the cache on for GET/HEAD on caching routes.
pub fn enable(cache: &Cache, session: &mut Session, ctx: &mut ProxyCtx) {
    let Some(policy) = ctx.route.as_ref().and_then(|r| r.cache.clone()) else { return };
    ctx.cache.policy = Some(policy);
    let req = session.req_header();
    match req.method {
        Method::GET | Method::HEAD => {}
        Method::OPTIONS | Method::TRACE => return,
        // RFC 9111 §4.4: a successful unsafe request invalidates its target URI.
        _ => {
            ctx.cache.invalidate = Some(key::url(req, tls(session)));
            return;
        }
    }
    if ctx.hop.websocket || policy::client_forbids_store(req) {
        return;
    }
    let options = cache.apply(&ctx.rt.cache);
    session.cache.enable(cache.store, Some(cache.eviction), None, Some(cache.lock), Some(options));
    session.cache.set_max_file_size_bytes(ctx.rt.cache.max_object_size);
    session.cache.set_admission_policy(cache.admission());
}

/// `cache_key_callback`.
pub fn cache_key(session: &Session, ctx: &mut ProxyCtx) -> Result<CacheKey> {
    ctx.cache.in_lookup = true;
    ctx.cache.looked_up = true;
    let per_consumer = ctx.cache.policy.as_ref().is_some_and(|p| p.per_consumer);
    let consumer = ctx.consumer.as_ref().filter(|_| per_consumer).map(|c| c.name.as_str());
    Ok(key::build(key::url(session.req_header(), tls(session)), consumer))
}

pub fn on_miss(ctx: &mut ProxyCtx) {
    ctx.cache.in_lookup = false;
}

/// Whether this request must not share entries without the response's consent (RFC 9111
/// §3.5): it carries `Authorization`, or a consumer on a route whose entries are shared.
fn needs_consent(req: &RequestHeader, ctx: &ProxyCtx) -> bool {
    let per_consumer = ctx.cache.policy.as_ref().is_some_and(|p| p.per_consumer);
    let own_entry = per_consumer && ctx.consumer.is_some();
    (req.headers.contains_key(http::header::AUTHORIZATION) || ctx.consumer.is_some()) && !own_entry
}

/// `cache_hit_filter`: refuse entries this requester may not see; honour the client's
/// `no-cache` / `max-age=0` by revalidating.
pub fn on_hit(session: &Session, meta: &CacheMeta, fresh: bool, ctx: &mut ProxyCtx) -> Option<ForcedFreshness> {
    ctx.cache.in_lookup = false;
    let req = session.req_header();
    if needs_consent(req, ctx) {
        let shared_ok = CacheControl::from_headers_named("cache-control", meta.headers())
            .is_some_and(|c| c.allow_caching_authorized_req());
        if !shared_ok {
            return Some(ForcedFreshness::ForceMiss);
        }
    }
    (fresh && policy::client_asks(req) == ClientAsks::Revalidate).then_some(ForcedFreshness::ForceExpired)
}

/// `response_cache_filter`.
pub fn cacheable(session: &Session, resp: &ResponseHeader, ctx: &ProxyCtx) -> RespCacheable {
    let Some(route) = ctx.cache.policy.as_ref() else {
        return RespCacheable::Uncacheable(pingora_cache::NoCacheReason::NeverEnabled);
    };
    let who = Requester { shared_needs_consent: needs_consent(session.req_header(), ctx) };
    policy::response(resp, route, &who)
}

/// `cache_vary_filter`.
pub fn variance(meta: &CacheMeta, ctx: &mut ProxyCtx, req: &RequestHeader) -> Option<pingora_cache::key::HashBinary> {
    let v = policy::variance(meta, req);
    if ctx.cache.in_lookup && v.is_some() {
        ctx.cache.vary_seen = true;
    }
    v
}

/// `should_serve_stale`: while revalidating (no error) whenever the stored response allows it;
/// on an error unless the client caused it.
pub fn serve_stale(error: Option<&Error>) -> bool {
    error.is_none_or(|e| *e.esource() != ErrorSource::Downstream)
}

static CACHE_STATUS: http::HeaderName = http::HeaderName::from_static("cache-status");

/// `response_filter`: `Cache-Status`, and the invalidation an unsafe request earned.
pub fn on_response(cache: &Cache, session: &Session, resp: &mut ResponseHeader, ctx: &mut ProxyCtx) -> Result<()> {
    if ctx.cache.policy.is_none() {
        return Ok(());
    }
    if let Some(url) = ctx.cache.invalidate.take() {
        if resp.status.is_success() || resp.status.is_redirection() {
            cache.purge(|u| u == url);
        }
    }
    let (outcome, value) = if ctx.cache.looked_up {
        status::describe(session.cache.phase(), session.cache.maybe_cache_meta(), ctx.cache.vary_seen)
    } else {
        (Outcome::Bypass, "gatehouse; fwd=bypass".to_string())
    };
    ctx.cache.outcome = Some(outcome);
    // With the other per-request headers, in one edit of the header (a stored header keeps
    // Pingora's case map, and inserting into both maps here cost ~2k instructions per hit).
    let value = http::HeaderValue::try_from(value).or_err(ErrorType::InternalError, "cache-status")?;
    ctx.answer.push(CACHE_STATUS.clone(), value);
    Ok(())
}

/// `PURGE <url>` on the proxy (when `cache.purge_method` is on): the admin token as a bearer
/// token; a target ending in `*` purges by prefix, on every node (through the store). Returns
/// false when this is no PURGE.
pub async fn purge(shared: &crate::runtime::Shared, session: &mut Session, ctx: &ProxyCtx) -> Result<bool> {
    let Some(token) = ctx.rt.cache.purge_token else { return Ok(false) };
    if session.req_header().method.as_str() != "PURGE" {
        return Ok(false);
    }
    if !bearer_matches(session.req_header(), &token) {
        let mut p = Problem::new(401, "PURGE needs the admin token as a bearer token");
        p.challenges = Some(Arc::new(vec![http::HeaderValue::from_static("Bearer")]));
        respond::send(session, ctx, &p).await?;
        return Ok(true);
    }
    let url = key::url(session.req_header(), tls(session));
    let target = match url.strip_suffix('*') {
        Some(prefix) => Purge::Prefix(prefix.to_string()),
        None => Purge::Url(url),
    };
    let n = shared.cache.purge(|u| target.matches(u));
    shared.store.announce_purge(target);
    let body = bytes::Bytes::from(serde_json::to_vec(&serde_json::json!({ "purged": n })).unwrap_or_default());
    let mut resp = ResponseHeader::build(200, Some(4))?;
    resp.insert_header(http::header::CONTENT_TYPE, "application/json")?;
    resp.insert_header(http::header::CONTENT_LENGTH, body.len())?;
    resp.insert_header(http::header::CACHE_CONTROL, "no-store")?;
    resp.insert_header("x-request-id", ctx.request_id.clone())?;
    // A PURGE carries no body; one that declares one is not read, so the connection ends here
    // rather than the body being taken for the next request.
    let h = &session.req_header().headers;
    let declares_body = h.contains_key(http::header::TRANSFER_ENCODING)
        || h.get(http::header::CONTENT_LENGTH).is_some_and(|v| v.as_bytes() != b"0");
    if declares_body {
        session.set_keepalive(None);
        resp.insert_header(http::header::CONNECTION, "close")?;
    }
    session.write_response_header(Box::new(resp), false).await?;
    session.write_response_body(Some(body), true).await?;
    Ok(true)
}

fn bearer_matches(req: &RequestHeader, token_sha: &[u8; 32]) -> bool {
    use sha2::Digest;
    let Some(v) = req.headers.get(http::header::AUTHORIZATION) else { return false };
    let v = v.as_bytes();
    let Some(given) = v.get(..7).filter(|p| p.eq_ignore_ascii_case(b"bearer ")).map(|_| v[7..].trim_ascii()) else {
        return false;
    };
    let d: [u8; 32] = sha2::Sha256::digest(given).into();
    // Compare digests without an early exit.
    d.iter().zip(token_sha).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}
