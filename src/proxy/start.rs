//! The start of every request: request id, client address, size limits,
//! path normalization, routing. Anything refused here is answered by `request_filter`.

use super::ctx::{new_request_id, sane_request_id, ProxyCtx};
use crate::net::path::{normalize, PathError};
use crate::pipeline::{Problem, ProblemKind};
use crate::runtime::router::{Match, MethodSet};
use crate::runtime::versions;
use crate::runtime::{Route, Runtime};
use pingora::proxy::Session;
use std::borrow::Cow;
use std::sync::Arc;

pub fn begin(session: &mut Session, ctx: &mut ProxyCtx) {
    let req = session.req_header();
    ctx.request_id = match req.headers.get("x-request-id") {
        Some(v) if sane_request_id(v.as_bytes()) => v.clone(),
        _ => new_request_id(),
    };
    if let Some(peer) = session.client_addr().and_then(|a| a.as_inet()).map(|a| a.ip()) {
        let trusted = &ctx.rt.settings.trusted;
        let xff = if trusted.is_empty() { None } else { req.headers.get("x-forwarded-for").map(|v| v.as_bytes()) };
        ctx.client_ip = Some(trusted.client_ip(peer, xff));
    }
    // Client-sent identity headers never reach auth, plugins or the upstream.
    crate::plugins::auth::strip_identity(session.req_header_mut());
    if let Some(rules) = &ctx.rt.settings.ip_rules {
        if !rules.permits(ctx.client_ip) {
            ctx.reject = Some(crate::plugins::ip::forbidden());
            return;
        }
    }
    match super::hop::inspect(session.req_header()) {
        Ok(hop) => ctx.hop = hop,
        Err(detail) => {
            ctx.reject = Some(Problem::new(400, detail).closing());
            return;
        }
    }
    match check_and_route(session, &ctx.rt) {
        Ok(route) => {
            if let Some(vary) = &route.api.vary {
                ctx.answer.push(http::header::VARY, vary.clone());
            }
            ctx.route = Some(route)
        }
        Err(p) => ctx.reject = Some(p),
    }
}

fn check_and_route(session: &mut Session, rt: &Runtime) -> Result<Arc<Route>, Problem> {
    let settings = &rt.settings;
    let req = session.req_header();
    if req.raw_path().len() > settings.max_uri_length {
        return Err(Problem::new(414, "the request target is longer than this gateway accepts"));
    }
    // RFC 9112 §3.2: an HTTP/1.1 request without Host is refused (the host it would be routed
    // by, and the one the upstream would be told, are otherwise guesses).
    if req.version == http::Version::HTTP_11 && !req.headers.contains_key(http::header::HOST) {
        return Err(Problem::new(400, "an HTTP/1.1 request needs a Host header").closing());
    }
    let header_bytes: usize = req.headers.iter().map(|(n, v)| n.as_str().len() + v.len() + 4).sum();
    if header_bytes > settings.max_header_size {
        return Err(Problem::new(431, "the request headers are larger than this gateway accepts").closing());
    }
    if let Some(len) = req.headers.get(http::header::CONTENT_LENGTH) {
        let len = std::str::from_utf8(len.as_bytes()).ok().and_then(|s| s.trim().parse::<u64>().ok());
        match len {
            Some(n) if n > settings.max_body_size => {
                return Err(Problem::new(413, "the request body is larger than this gateway accepts").closing())
            }
            None => return Err(Problem::new(400, "invalid Content-Length").closing()),
            _ => {}
        }
    }

    // RFC 3986: other bytes travel percent-encoded. Refusing raw ones keeps the target exactly
    // representable as a URI, so nothing is lost when the request is edited and forwarded.
    if !req.raw_path().is_ascii() {
        return Err(Problem::new(400, "the request target must be ASCII; percent-encode other bytes"));
    }
    // The target: origin form, or absolute form whose authority then acts as the host.
    let (path, query, authority) = split_target(req);
    let path = path.into_owned();
    let normalized = normalize(&path, settings.allow_encoded_slash).map_err(path_problem)?;
    if let Some(new_path) = &normalized {
        let mut target = new_path.clone();
        if let Some(q) = &query {
            target.push(b'?');
            target.extend_from_slice(q);
        }
        session.req_header_mut().set_raw_path(&target).map_err(|_| path_problem(PathError::BadEscape))?;
    } else if authority.is_some() {
        // Forward absolute-form as origin-form; the authority becomes the Host.
        let mut target = path.clone();
        if let Some(q) = &query {
            target.push(b'?');
            target.extend_from_slice(q);
        }
        session.req_header_mut().set_raw_path(&target).map_err(|_| path_problem(PathError::BadEscape))?;
    }
    if let Some(a) = &authority {
        session
            .req_header_mut()
            .insert_header(http::header::HOST, a.as_str())
            .map_err(|_| Problem::new(400, "invalid authority"))?;
    }
    let final_path = normalized.as_deref().unwrap_or(&path);
    let path_str =
        std::str::from_utf8(final_path).map_err(|_| Problem::new(400, "the request path is not valid UTF-8"))?;
    route(session.req_header(), rt, authority.as_deref(), path_str)
}

/// The route of a checked request: by host (the absolute-form authority, else `Host`), path and
/// method; a 404 or 405 problem when there is none.
fn route(
    req: &pingora_http::RequestHeader,
    rt: &Runtime,
    authority: Option<&str>,
    path_str: &str,
) -> Result<Arc<Route>, Problem> {
    let host_raw = authority.map(str::as_bytes).or_else(|| req.headers.get(http::header::HOST).map(|h| h.as_bytes()));
    let host = host_only(host_raw.unwrap_or_default());
    // A CORS preflight goes to the route of the method it asks about, when that route's chain
    // answers preflights; otherwise it is an ordinary OPTIONS request.
    if let Some(asked) = crate::plugins::cors::preflight_method(req) {
        if let Ok(Match::Found(route)) = versions::lookup(&rt.router, req, &host, path_str, MethodSet::bit(&asked)) {
            if route.chain.preflight {
                return Ok(route.clone());
            }
        }
    }
    let method = MethodSet::bit(&req.method);
    match versions::lookup(&rt.router, req, &host, path_str, method)? {
        Match::Found(route) => Ok(route.clone()),
        Match::MethodNotAllowed(allowed) => {
            let mut p = Problem::new(405, "this route does not accept this method");
            p.allow = Some(allowed.allow_header());
            Err(p)
        }
        Match::NotFound => Err(Problem::new(404, "no route matches this request").kind(ProblemKind::NoRoute)),
    }
}

fn path_problem(e: PathError) -> Problem {
    Problem::new(400, e.detail())
}

type Target<'a> = (Cow<'a, [u8]>, Option<Vec<u8>>, Option<String>);

fn split_target(req: &pingora_http::RequestHeader) -> Target<'_> {
    let raw = req.raw_path();
    if raw.first() == Some(&b'/') {
        let (p, q) = match raw.iter().position(|&b| b == b'?') {
            Some(i) => (&raw[..i], Some(raw[i + 1..].to_vec())),
            None => (raw, None),
        };
        return (Cow::Borrowed(p), q, None);
    }
    // Absolute form (`GET http://host/path?q`): Pingora keeps it verbatim in `raw_path`.
    let lower_starts = |p: &[u8]| raw.len() >= p.len() && raw[..p.len()].eq_ignore_ascii_case(p);
    let rest = if lower_starts(b"http://") {
        &raw[7..]
    } else if lower_starts(b"https://") {
        &raw[8..]
    } else {
        return (Cow::Borrowed(raw), None, None);
    };
    let end = rest.iter().position(|&b| b == b'/' || b == b'?').unwrap_or(rest.len());
    let authority = String::from_utf8_lossy(&rest[..end]).to_string();
    let tail = &rest[end..];
    let (p, q) = match tail.iter().position(|&b| b == b'?') {
        Some(i) => (&tail[..i], Some(tail[i + 1..].to_vec())),
        None => (tail, None),
    };
    let p = if p.is_empty() { b"/".to_vec() } else { p.to_vec() };
    (Cow::Owned(p), q, Some(authority))
}

/// `Host` value without port, lower-cased, without a trailing dot.
fn host_only(h: &[u8]) -> Cow<'_, str> {
    let end = if h.first() == Some(&b'[') {
        h.iter().position(|&b| b == b']').map_or(h.len(), |i| i + 1)
    } else {
        h.iter().rposition(|&b| b == b':').unwrap_or(h.len())
    };
    let mut host = &h[..end];
    if host.last() == Some(&b'.') {
        host = &host[..host.len() - 1];
    }
    match std::str::from_utf8(host) {
        Ok(s) if s.bytes().any(|b| b.is_ascii_uppercase()) => Cow::Owned(s.to_ascii_lowercase()),
        Ok(s) => Cow::Borrowed(s),
        Err(_) => Cow::Borrowed(""),
    }
}
