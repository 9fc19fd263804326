//! Hop-by-hop request headers (RFC 9110 §7.6.1), handled by the gateway instead of Pingora's
//! generic pass (`HttpUpstreamRequestPolicy::preserve()` on every peer): the same rules, but
//! checked once at request start and applied with one scan of a plain `http::HeaderMap`,
//! which for the usual request (no hop-by-hop fields at all) costs a few comparisons.
//!
//! Rules: at most 9 `Connection` tokens; each a valid token; `Host`, `X-Forwarded-*` and
//! pseudo-headers may not be nominated (400); nominated fields and the standard hop-by-hop
//! fields are removed; a WebSocket upgrade on HTTP/1.1 is forwarded as `Connection: Upgrade`
//! with `Upgrade: websocket`, any other upgrade is dropped. `TE` is dropped, except that a request
//! whose `TE` names `trailers` (gRPC) keeps exactly `te: trailers` toward an HTTP/2-capable
//! cluster: RFC 9113 §8.2.2 allows no other `TE` value in HTTP/2.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use pingora_http::RequestHeader;

const MAX_NOMINATIONS: usize = 9;

static KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
static PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");
static HTTP2_SETTINGS: HeaderName = HeaderName::from_static("http2-settings");

/// What request start found in `Connection`/`Upgrade`, for the forwarding step.
#[derive(Default, Debug)]
pub struct HopInfo {
    pub nominated: Vec<HeaderName>,
    pub websocket: bool,
    /// `TE` names `trailers`.
    pub te_trailers: bool,
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Parse `Connection` nominations; `Err` names the problem (answered with 400).
pub fn inspect(req: &RequestHeader) -> Result<HopInfo, &'static str> {
    let mut info = HopInfo::default();
    let mut count = 0;
    for value in req.headers.get_all(header::CONNECTION) {
        for token in value.as_bytes().split(|&b| b == b',').map(|t| t.trim_ascii()).filter(|t| !t.is_empty()) {
            count += 1;
            if count > MAX_NOMINATIONS {
                return Err("the Connection header names too many fields");
            }
            if !token.iter().all(|&b| is_tchar(b)) {
                return Err("the Connection header holds an invalid token");
            }
            let name = HeaderName::from_bytes(token).map_err(|_| "the Connection header holds an invalid token")?;
            if matches!(name.as_str(), "host" | "x-forwarded-for" | "x-forwarded-host" | "x-forwarded-proto") {
                return Err("the Connection header may not name Host or X-Forwarded-* fields");
            }
            info.nominated.push(name);
        }
    }
    info.te_trailers = req.headers.get_all(header::TE).iter().any(|v| {
        v.as_bytes().split(|&b| b == b',').any(|t| {
            let t = t.split(|&b| b == b';').next().unwrap_or_default().trim_ascii();
            t.eq_ignore_ascii_case(b"trailers")
        })
    });
    info.websocket = req.version == http::Version::HTTP_11
        && req.headers.get(header::UPGRADE).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"));
    Ok(info)
}

fn is_hop_by_hop(n: &HeaderName) -> bool {
    *n == header::CONNECTION
        || *n == header::TE
        || *n == header::TRAILER
        || *n == header::TRANSFER_ENCODING
        || *n == header::UPGRADE
        || *n == header::PROXY_AUTHENTICATE
        || *n == header::PROXY_AUTHORIZATION
        || *n == KEEP_ALIVE
        || *n == PROXY_CONNECTION
        || *n == HTTP2_SETTINGS
}

/// Remove hop-by-hop and nominated fields. (Pingora re-frames a body left without
/// `Content-Length` or `Transfer-Encoding` as chunked.) `h2_upstream`: keep `te: trailers`.
pub fn strip(h: &mut HeaderMap, info: &HopInfo, h2_upstream: bool) {
    for n in &info.nominated {
        h.remove(n);
    }
    if h.keys().any(is_hop_by_hop) {
        for n in [
            &header::CONNECTION,
            &header::TE,
            &header::TRAILER,
            &header::TRANSFER_ENCODING,
            &header::UPGRADE,
            &header::PROXY_AUTHENTICATE,
            &header::PROXY_AUTHORIZATION,
            &KEEP_ALIVE,
            &PROXY_CONNECTION,
            &HTTP2_SETTINGS,
        ] {
            h.remove(n);
        }
    }
    if info.te_trailers && h2_upstream {
        h.insert(header::TE, HeaderValue::from_static("trailers"));
    }
    if info.websocket {
        h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(headers: &[(&str, &str)]) -> RequestHeader {
        let mut r = RequestHeader::build("GET", b"/", None).unwrap();
        for (n, v) in headers {
            r.append_header(n.to_string(), *v).unwrap();
        }
        r
    }

    #[test]
    fn nominations_are_checked() {
        assert!(inspect(&req(&[("Connection", "keep-alive, X-Foo")])).is_ok());
        assert!(inspect(&req(&[("Connection", "X-Forwarded-For")])).is_err());
        assert!(inspect(&req(&[("Connection", "host")])).is_err());
        assert!(inspect(&req(&[("Connection", "\"x-foo\"")])).is_err());
        assert!(inspect(&req(&[("Connection", "a,b,c,d,e,f,g,h,i,j")])).is_err());
    }

    #[test]
    fn strip_removes_hop_by_hop_and_nominated() {
        let r =
            req(&[("Connection", "X-Foo"), ("X-Foo", "1"), ("TE", "trailers"), ("Keep-Alive", "5"), ("X-Bar", "2")]);
        let info = inspect(&r).unwrap();
        let mut h = r.headers.clone();
        strip(&mut h, &info, false);
        let names: Vec<&str> = h.keys().map(|k| k.as_str()).collect();
        assert_eq!(names, vec!["x-bar"]);
    }

    #[test]
    fn te_keeps_only_trailers_toward_h2() {
        for (te, h2, kept) in [
            ("trailers", true, Some("trailers")),
            ("gzip, Trailers;q=1", true, Some("trailers")),
            ("gzip", true, None),
            ("trailers", false, None),
        ] {
            let r = req(&[("TE", te), ("Connection", "TE")]);
            let info = inspect(&r).unwrap();
            let mut h = r.headers.clone();
            strip(&mut h, &info, h2);
            assert_eq!(h.get("te").map(|v| v.to_str().unwrap()), kept, "{te} {h2}");
            assert!(!h.contains_key("connection"));
        }
    }

    #[test]
    fn websocket_upgrade_is_normalized() {
        let r = req(&[("Connection", "keep-alive, Upgrade"), ("Upgrade", "WebSocket"), ("Sec-WebSocket-Key", "k")]);
        let info = inspect(&r).unwrap();
        let mut h = r.headers.clone();
        strip(&mut h, &info, false);
        assert_eq!(h.get("connection").unwrap(), "Upgrade");
        assert_eq!(h.get("upgrade").unwrap(), "websocket");
        assert!(h.contains_key("sec-websocket-key"));
    }
}
