//! What is stored and for how long (RFC 9111 §3 and §4.2), from the response's
//! `Cache-Control`, `Expires`, `Date`, `Age` and validators, and the route's `default_ttl`.
//! Nothing without explicit freshness or a validator is stored unless the route sets a
//! `default_ttl`; the heuristic (a tenth of the time since `Last-Modified`) applies only to
//! status codes the RFC calls heuristically cacheable.

use super::RouteCache;
use pingora_cache::cache_control::{CacheControl, InterpretCacheControl};
use pingora_cache::filters::calculate_serve_stale_durations;
use pingora_cache::{CacheMeta, CacheMetaDefaults, NoCacheReason, RespCacheable};
use pingora_http::{RequestHeader, ResponseHeader};
use std::time::{Duration, SystemTime};

/// No stale serving unless the response asks for it.
const NO_STALE_DEFAULTS: CacheMetaDefaults = CacheMetaDefaults::new(|_| None, 0, 0);
/// The heuristic never promises more than a day.
const HEURISTIC_CAP: Duration = Duration::from_secs(86_400);

/// Status codes a cache may store given explicit freshness (RFC 9110 §15: "understood" final
/// codes without per-request meaning; 206 and 304 are handled by pingora itself).
fn storable_status(code: u16) -> bool {
    matches!(code, 200 | 203 | 204 | 300 | 301 | 302 | 307 | 308 | 404 | 405 | 410 | 414 | 501)
}

/// Heuristically cacheable (RFC 9110 §15.1).
fn heuristic_status(code: u16) -> bool {
    matches!(code, 200 | 203 | 204 | 300 | 301 | 308 | 404 | 405 | 410 | 414 | 501)
}

/// Who asked, as far as sharing goes.
pub struct Requester {
    /// The request carried `Authorization`, or authenticated as a consumer on a route whose
    /// entries are shared by all consumers: only `public`/`s-maxage` answers may be stored.
    pub shared_needs_consent: bool,
}

pub fn response(resp: &ResponseHeader, route: &RouteCache, who: &Requester) -> RespCacheable {
    let no = |why: &'static str| RespCacheable::Uncacheable(NoCacheReason::Custom(why));
    let code = resp.status.as_u16();
    if !storable_status(code) {
        return no("status");
    }
    let h = &resp.headers;
    // A shared cache must not hand one client's cookie to another.
    if h.contains_key(http::header::SET_COOKIE) {
        return no("set-cookie");
    }
    if h.get_all(http::header::VARY).iter().any(|v| v.as_bytes().split(|&b| b == b',').any(|n| n.trim_ascii() == b"*"))
    {
        return no("vary-star");
    }
    let cc = CacheControl::from_resp_headers(resp);
    if cc.as_ref().is_some_and(|c| c.no_store() || c.private()) {
        return RespCacheable::Uncacheable(NoCacheReason::OriginNotCache);
    }
    if who.shared_needs_consent && !cc.as_ref().is_some_and(|c| c.allow_caching_authorized_req()) {
        return no("authorization");
    }
    let now = SystemTime::now();
    let date = http_date(h.get(http::header::DATE));
    let Some(lifetime) = lifetime(resp, cc.as_ref(), date, route, code) else {
        return RespCacheable::Uncacheable(NoCacheReason::OriginNotCache);
    };
    // The response may have aged on the way (RFC 9111 §4.2.3): upstream caches' Age, clock gap.
    let age_header = h.get(http::header::AGE).and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok()).unwrap_or(0);
    let apparent = date.and_then(|d| now.duration_since(d).ok()).unwrap_or_default();
    let age = apparent.max(Duration::from_secs(age_header));
    let created = now.checked_sub(age).unwrap_or(now);
    let fresh_until = if lifetime.is_zero() {
        // Stored, but stale at once: every use revalidates.
        created.checked_sub(Duration::from_secs(1)).unwrap_or(created)
    } else {
        created.checked_add(lifetime).unwrap_or(now)
    };
    let (swr, sie) = calculate_serve_stale_durations(cc.as_ref(), &NO_STALE_DEFAULTS);
    let mut header = resp.clone();
    if let Some(c) = &cc {
        c.strip_private_headers(&mut header);
    }
    // `Age` is computed on every use from `created`; hop-by-hop fields belong to the upstream
    // connection that carried this answer, not to the stored response (RFC 9111 §3.1).
    header.remove_header(&http::header::AGE);
    strip_hop_by_hop(&mut header);
    RespCacheable::Cacheable(CacheMeta::new(fresh_until, created, swr, sie, header))
}

/// Freshness lifetime: explicit (`s-maxage`, `max-age`, `Expires` - `Date`), the route's
/// `default_ttl`, the `Last-Modified` heuristic, or zero for a response with only an `ETag`
/// (stored so it can be revalidated). `None`: not storable.
fn lifetime(
    resp: &ResponseHeader,
    cc: Option<&CacheControl>,
    date: Option<SystemTime>,
    route: &RouteCache,
    code: u16,
) -> Option<Duration> {
    if let Some(d) = cc.and_then(|c| c.fresh_duration()) {
        return Some(d);
    }
    let h = &resp.headers;
    let mut expires = h.get_all(http::header::EXPIRES).iter();
    if let (Some(e), None) = (expires.next(), expires.next()) {
        // An invalid Expires means "already expired" (RFC 9111 §5.3).
        let Some(at) = http_date(Some(e)) else { return Some(Duration::ZERO) };
        let base = date.unwrap_or_else(SystemTime::now);
        return Some(at.duration_since(base).unwrap_or_default());
    }
    if let Some(ttl) = route.default_ttl {
        return Some(ttl);
    }
    let public = cc.is_some_and(|c| c.public());
    if heuristic_status(code) || public {
        if let Some(lm) = http_date(h.get(http::header::LAST_MODIFIED)) {
            let since = date.unwrap_or_else(SystemTime::now).duration_since(lm).unwrap_or_default();
            return Some((since / 10).min(HEURISTIC_CAP));
        }
    }
    h.contains_key(http::header::ETAG).then_some(Duration::ZERO)
}

fn strip_hop_by_hop(header: &mut ResponseHeader) {
    let nominated: Vec<http::HeaderName> = header
        .headers
        .get_all(http::header::CONNECTION)
        .iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b','))
        .filter_map(|n| http::HeaderName::from_bytes(n.trim_ascii()).ok())
        .collect();
    for name in nominated {
        header.remove_header(&name);
    }
    for name in ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "trailer"] {
        header.remove_header(name);
    }
}

fn http_date(v: Option<&http::HeaderValue>) -> Option<SystemTime> {
    httpdate::parse_http_date(v?.to_str().ok()?.trim()).ok()
}

/// What the client's own `Cache-Control` asks of a stored response.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ClientAsks {
    Anything,
    /// `no-cache`, `max-age=0` or `Pragma: no-cache`: revalidate before use.
    Revalidate,
}

pub fn client_asks(req: &RequestHeader) -> ClientAsks {
    let cc = CacheControl::from_req_headers(req);
    let pragma = req.headers.get(http::header::PRAGMA).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"no-cache"));
    let revalidate = pragma || cc.is_some_and(|c| c.no_cache() || matches!(c.max_age(), Ok(Some(0))));
    if revalidate {
        ClientAsks::Revalidate
    } else {
        ClientAsks::Anything
    }
}

/// The client said `Cache-Control: no-store`: do not store this exchange.
pub fn client_forbids_store(req: &RequestHeader) -> bool {
    CacheControl::from_req_headers(req).is_some_and(|c| c.no_store())
}

/// The variance of a request against a stored response's `Vary` (one header per name).
pub fn variance(meta: &CacheMeta, req: &RequestHeader) -> Option<pingora_cache::key::HashBinary> {
    let mut names: Vec<String> = Vec::new();
    for v in meta.headers().get_all(http::header::VARY) {
        for n in v.as_bytes().split(|&b| b == b',') {
            let n = String::from_utf8_lossy(n.trim_ascii()).to_ascii_lowercase();
            if !n.is_empty() && !names.contains(&n) {
                names.push(n);
            }
        }
    }
    if names.is_empty() {
        return None;
    }
    names.sort();
    let mut b = pingora_cache::VarianceBuilder::new();
    for n in &names {
        // Several fields of one name are one list value; an absent field differs from an empty one.
        let mut value = Vec::new();
        for (i, v) in req.headers.get_all(n.as_str()).iter().enumerate() {
            if i > 0 {
                value.extend_from_slice(b", ");
            }
            value.extend_from_slice(v.as_bytes());
        }
        if !req.headers.contains_key(n.as_str()) {
            value = b"\0absent".to_vec();
        }
        b.add_owned_name_value(n.clone(), value);
    }
    b.finalize()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(headers: &[(&str, &str)]) -> ResponseHeader {
        let mut r = ResponseHeader::build(200, None).unwrap();
        for (n, v) in headers {
            r.append_header(n.to_string(), *v).unwrap();
        }
        r
    }
    const ROUTE: RouteCache = RouteCache { default_ttl: None, per_consumer: false };
    const ANON: Requester = Requester { shared_needs_consent: false };

    fn ttl(headers: &[(&str, &str)], route: &RouteCache, who: &Requester) -> Option<i64> {
        match response(&resp(headers), route, who) {
            RespCacheable::Cacheable(m) => {
                let now = SystemTime::now();
                Some(match m.fresh_until().duration_since(now) {
                    Ok(d) => d.as_secs_f64().round() as i64,
                    Err(e) => -(e.duration().as_secs_f64().round() as i64),
                })
            }
            RespCacheable::Uncacheable(_) => None,
        }
    }

    #[test]
    fn directives() {
        assert_eq!(ttl(&[("cache-control", "max-age=60")], &ROUTE, &ANON), Some(60));
        assert_eq!(ttl(&[("cache-control", "max-age=60, s-maxage=30")], &ROUTE, &ANON), Some(30));
        assert_eq!(ttl(&[("cache-control", "max-age=60"), ("age", "50")], &ROUTE, &ANON), Some(10));
        assert_eq!(ttl(&[("cache-control", "no-store, max-age=60")], &ROUTE, &ANON), None);
        assert_eq!(ttl(&[("cache-control", "private, max-age=60")], &ROUTE, &ANON), None);
        assert!(ttl(&[("cache-control", "no-cache")], &ROUTE, &ANON).is_some_and(|t| t <= 0), "stored, stale");
        assert_eq!(ttl(&[("cache-control", "max-age=60"), ("set-cookie", "a=b")], &ROUTE, &ANON), None);
        assert_eq!(ttl(&[("cache-control", "max-age=60"), ("vary", "*")], &ROUTE, &ANON), None);
        assert_eq!(ttl(&[], &ROUTE, &ANON), None, "no freshness, no validator");
        let stored = match response(
            &resp(&[
                ("cache-control", "max-age=60"),
                ("connection", "close, x-hop"),
                ("x-hop", "1"),
                ("keep-alive", "5"),
            ]),
            &ROUTE,
            &ANON,
        ) {
            RespCacheable::Cacheable(m) => m,
            RespCacheable::Uncacheable(r) => panic!("{r:?}"),
        };
        for h in ["connection", "x-hop", "keep-alive"] {
            assert!(!stored.headers().contains_key(h), "{h} stored");
        }
        assert!(ttl(&[("etag", "\"x\"")], &ROUTE, &ANON).is_some_and(|t| t <= 0), "validator only: revalidate");
        let route = RouteCache { default_ttl: Some(Duration::from_secs(5)), per_consumer: false };
        assert_eq!(ttl(&[], &route, &ANON), Some(5));
    }

    #[test]
    fn expires_counts_from_date() {
        let now = SystemTime::now();
        let date = httpdate::fmt_http_date(now - Duration::from_secs(1000));
        let expires = httpdate::fmt_http_date(now - Duration::from_secs(940));
        // 60 s of lifetime, but 1000 s old already.
        assert!(ttl(&[("date", &date), ("expires", &expires)], &ROUTE, &ANON).is_some_and(|t| t < 0));
        assert!(ttl(&[("expires", "not a date")], &ROUTE, &ANON).is_some_and(|t| t <= 0));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(120));
        let t = ttl(&[("date", &httpdate::fmt_http_date(now)), ("expires", &later)], &ROUTE, &ANON).unwrap();
        assert!((118..=121).contains(&t), "{t}");
    }

    #[test]
    fn authorized_requests_need_the_response_to_allow_sharing() {
        let auth = Requester { shared_needs_consent: true };
        assert_eq!(ttl(&[("cache-control", "max-age=60")], &ROUTE, &auth), None);
        assert_eq!(ttl(&[("cache-control", "public, max-age=60")], &ROUTE, &auth), Some(60));
        assert_eq!(ttl(&[("cache-control", "s-maxage=60")], &ROUTE, &auth), Some(60));
    }

    #[test]
    fn heuristic_is_a_tenth_of_the_age_since_last_modified() {
        let now = SystemTime::now();
        let lm = httpdate::fmt_http_date(now - Duration::from_secs(1000));
        let t = ttl(&[("date", &httpdate::fmt_http_date(now)), ("last-modified", &lm)], &ROUTE, &ANON).unwrap();
        assert!((99..=101).contains(&t), "{t}");
    }
}
