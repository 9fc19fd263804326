//! Toward the upstream: pick a peer, decide retries, write the
//! forwarded request's headers, and format the access-log line.

use super::ctx::ProxyCtx;
use crate::config::HashOn;
use crate::pipeline::edit;
use crate::upstream::bit;
use http::{HeaderName, HeaderValue};
use pingora::proxy::Session;
use pingora::upstreams::peer::HttpPeer;
use pingora::{Error, ErrorType, OrErr, Result};
use pingora_http::RequestHeader;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

pub fn pick_peer(session: &Session, ctx: &mut ProxyCtx) -> Result<Box<HttpPeer>> {
    let Some(route) = ctx.route.as_ref() else {
        return Error::e_explain(ErrorType::HTTPStatus(404), "no route");
    };
    let cluster = &route.api.cluster;
    let key = cluster.hash_on().map(|on| hash_key(on, session, ctx));
    let Some(i) = cluster.select(key.as_deref(), ctx.tried) else {
        // After failed tries, say what went wrong with them rather than "no healthy upstream".
        return match ctx.last_failure {
            Some(code) => Error::e_explain(ErrorType::HTTPStatus(code), "no more upstreams to retry"),
            None => Error::e_explain(crate::pipeline::problem::NO_HEALTHY_UPSTREAM, "no peer is usable"),
        };
    };
    let peer = &cluster.peers[i];
    peer.health.in_flight.fetch_add(1, Relaxed);
    let mut http = Box::new(peer.http.clone());
    if ctx.hop.websocket && cluster.h2() {
        // Pingora tunnels upgrades over HTTP/1.1 only (no RFC 8441 extended CONNECT).
        http.options.alpn = pingora::protocols::ALPN::H1;
    }
    ctx.peer = Some(i);
    ctx.last_peer = Some(i);
    ctx.tried |= bit(i);
    ctx.upstream_start = Some(Instant::now());
    Ok(http)
}

fn hash_key(on: &HashOn, session: &Session, ctx: &ProxyCtx) -> Vec<u8> {
    let req = session.req_header();
    let ip = || ctx.client_ip.map(|ip| ip.to_string().into_bytes()).unwrap_or_default();
    match on {
        HashOn::Ip => ip(),
        HashOn::Path => req.uri.path().as_bytes().to_vec(),
        // A request without the header or cookie falls back to the client address.
        HashOn::Header(name) => req.headers.get(name).map(|v| v.as_bytes().to_vec()).unwrap_or_else(ip),
        HashOn::Cookie(name) => cookie(req, name).map(|v| v.to_vec()).unwrap_or_else(ip),
    }
}

fn cookie<'a>(req: &'a RequestHeader, name: &str) -> Option<&'a [u8]> {
    for h in req.headers.get_all(http::header::COOKIE) {
        for pair in h.as_bytes().split(|&b| b == b';') {
            let pair = pair.trim_ascii();
            if let Some(eq) = pair.iter().position(|&b| b == b'=') {
                if &pair[..eq] == name.as_bytes() {
                    return Some(&pair[eq + 1..]);
                }
            }
        }
    }
    None
}

/// The current peer failed before answering. Count it against the peer (when `blame`), free its
/// slot, and say whether the request may try another peer within the cluster's `retries`.
pub fn on_peer_failure(ctx: &mut ProxyCtx, e: &Error, blame: bool) -> bool {
    let Some(i) = ctx.release_peer() else { return false };
    let timeout = matches!(e.etype(), ErrorType::ConnectTimedout | ErrorType::ReadTimedout | ErrorType::WriteTimedout);
    ctx.last_failure = Some(if timeout { 504 } else { 502 });
    let Some(route) = ctx.route.clone() else { return false };
    let cluster = &route.api.cluster;
    if blame {
        cluster.record_failure(i);
    }
    ctx.upstream_start = None;
    if ctx.retries < cluster.retries {
        ctx.retries += 1;
        true
    } else {
        false
    }
}

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
static X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Step 7 on the upstream copy of the request: path rewrite, hop-by-hop and `Connection`-named
/// fields removed (`hop.rs`), then `X-Forwarded-*`, `X-Request-Id` and the route's rewrites —
/// added after the removal, so a client can never make the gateway drop a header it adds.
pub fn upstream_request(session: &Session, req: &mut RequestHeader, ctx: &ProxyCtx) -> Result<()> {
    let Some(route) = ctx.route.as_ref() else { return Ok(()) };
    if route.strip > 0 {
        let raw = req.raw_path();
        let rest = raw.get(route.strip..).unwrap_or_default();
        let mut target = Vec::with_capacity(rest.len() + 1);
        if rest.first() != Some(&b'/') {
            target.push(b'/');
        }
        target.extend_from_slice(rest);
        req.set_raw_path(&target)?;
    }
    let peer_ip = session.client_addr().and_then(|a| a.as_inet()).map(|a| crate::net::canonical(a.ip()));
    let tls = session.digest().is_some_and(|d| d.ssl_digest.is_some());
    let trusted = peer_ip.is_some_and(|ip| ctx.rt.settings.trusted.contains(ip));
    edit::request(req, 4 + route.chain.upstream_request.len() * 2, |parts| {
        let h = &mut parts.headers;
        super::hop::strip(h, &ctx.hop, route.api.cluster.h2());
        if let Some(ip) = peer_ip {
            let mut buf = crate::net::IpBuf::default();
            let ip = buf.format(ip);
            let value = match h.get(&X_FORWARDED_FOR).filter(|_| trusted) {
                Some(prev) => {
                    let mut v = Vec::with_capacity(prev.len() + 2 + ip.len());
                    v.extend_from_slice(prev.as_bytes());
                    v.extend_from_slice(b", ");
                    v.extend_from_slice(ip);
                    HeaderValue::from_bytes(&v)
                }
                None => HeaderValue::from_bytes(ip),
            };
            h.insert(X_FORWARDED_FOR.clone(), value.or_err(ErrorType::InvalidHTTPHeader, "x-forwarded-for")?);
        }
        // Identical duplicate lengths are one length (RFC 9110 §8.6; Pingora refuses differing
        // ones): forward it once, so no upstream has to decide what two mean.
        let mut lengths = h.get_all(http::header::CONTENT_LENGTH).iter();
        if let (Some(first), Some(_)) = (lengths.next(), lengths.next()) {
            let one = first.clone();
            h.insert(http::header::CONTENT_LENGTH, one);
        }
        if !trusted {
            // Other spellings of the client's address, from a client that may not set them:
            // an upstream that believes them would take a spoofed address (`X-Forwarded-For`,
            // set above, is the one the gateway vouches for).
            h.remove(&X_REAL_IP);
            h.remove(http::header::FORWARDED);
        }
        if !trusted || !h.contains_key(&X_FORWARDED_PROTO) {
            h.insert(X_FORWARDED_PROTO.clone(), HeaderValue::from_static(if tls { "https" } else { "http" }));
        }
        if !trusted || !h.contains_key(&X_FORWARDED_HOST) {
            match h.get(http::header::HOST).cloned() {
                Some(host) => h.insert(X_FORWARDED_HOST.clone(), host),
                None => h.remove(&X_FORWARDED_HOST),
            };
        }
        h.insert(X_REQUEST_ID.clone(), ctx.request_id.clone());
        for plugin in &route.chain.upstream_request {
            plugin.upstream_request(parts, ctx)?;
        }
        Ok(())
    })
}

/// What the access log says of this request.
pub fn access_entry<'a>(session: &'a Session, ctx: &'a ProxyCtx, status: u16) -> crate::access_log::Entry<'a> {
    let req = session.req_header();
    let route = ctx.route.as_ref();
    let upstream = route.zip(ctx.last_peer).and_then(|(r, i)| r.api.cluster.peers.get(i)).map(|p| p.label.as_str());
    crate::access_log::Entry {
        api: route.map(|r| r.api.name.as_str()),
        bytes_in: ctx.body_bytes,
        bytes_out: session.body_bytes_sent() as u64,
        client: ctx.client_ip,
        consumer: ctx.consumer.as_ref().map(|c| c.name.as_str()),
        duration: ctx.start.elapsed(),
        method: req.method.as_str(),
        path: req.raw_path(),
        request_id: ctx.request_id_str(),
        route: route.map(|r| r.pattern.as_str()),
        status,
        upstream,
        upstream_time: ctx.upstream_time,
    }
}
