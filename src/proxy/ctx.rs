//! Per-request state, created by `new_ctx` with one `ArcSwap` load: a request sees one config
//! for its whole life, even across a reload.

use super::respond::Problem;
use crate::runtime::{Route, Runtime};
use http::HeaderValue;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct RequestCtx {
    pub rt: Arc<Runtime>,
    pub start: Instant,
    pub route: Option<Arc<Route>>,
    /// An answer decided before the plugin chain (bad path, no route, too large).
    pub reject: Option<Problem>,
    pub request_id: HeaderValue,
    pub client_ip: Option<IpAddr>,
    /// The peer index in the route's cluster currently holding an in-flight slot.
    pub peer: Option<usize>,
    /// The last peer that answered (for the access log).
    pub last_peer: Option<usize>,
    /// Bit i: peer i was already tried by this request.
    pub tried: u64,
    /// Retries used so far.
    pub retries: u32,
    /// The status the last failed try would give (502, or 504 for a timeout).
    pub last_failure: Option<u16>,
    pub upstream_start: Option<Instant>,
    pub upstream_time: Option<Duration>,
    pub body_bytes: u64,
    /// `Connection` nominations and WebSocket upgrade, found at request start.
    pub hop: super::hop::HopInfo,
    pub counted: bool,
    /// CORS response headers for a request from an allowed origin (set by the CORS plugin;
    /// added to the upstream's answer and to gateway-made ones such as 401 or 429).
    pub cors: Vec<(http::HeaderName, HeaderValue)>,
    /// Set by authentication (DESIGN §3 step 3) for every later step.
    pub consumer: Option<Arc<crate::consumers::Consumer>>,
    /// The verified JWT, when that is how the consumer authenticated.
    pub token: Option<Arc<crate::plugins::auth::jwt::Verified>>,
    /// Headers for the answer, whoever makes it (the upstream or the gateway): rate-limit state,
    /// lifecycle (`Deprecation`, `Sunset`, `Link`). Moved into the response by the proxy.
    pub answer_headers: Vec<(http::HeaderName, HeaderValue)>,
    /// A concurrency-limit slot, given back when the context is dropped (however the request ends).
    pub in_flight: Option<crate::limits::InFlight>,
    /// The request's dealings with the response cache.
    pub cache: super::cache_hooks::CacheCtx,
    /// The request body as read whole before forwarding (request validation), replayed as is.
    pub request_body: Option<bytes::Bytes>,
    /// The upstream's answer being checked against the spec (`validate_responses`).
    pub response_check: Option<crate::plugins::validate::ResponseCheck>,
    /// The edited JSON request body (`json_set`/`json_remove`).
    pub json_request: Option<bytes::Bytes>,
    /// A JSON response body being collected for editing.
    pub json_response: Option<super::body::Collecting>,
    /// The encoder of a response being compressed.
    pub compress: Option<super::compress::Encoder>,
}

impl RequestCtx {
    pub fn new(rt: Arc<Runtime>) -> Self {
        RequestCtx {
            rt,
            start: Instant::now(),
            route: None,
            reject: None,
            request_id: HeaderValue::from_static(""),
            client_ip: None,
            peer: None,
            last_peer: None,
            tried: 0,
            retries: 0,
            last_failure: None,
            upstream_start: None,
            upstream_time: None,
            body_bytes: 0,
            hop: Default::default(),
            counted: false,
            cors: Vec::new(),
            consumer: None,
            token: None,
            answer_headers: Vec::new(),
            in_flight: None,
            cache: Default::default(),
            request_body: None,
            response_check: None,
            json_request: None,
            json_response: None,
            compress: None,
        }
    }

    pub fn request_id_str(&self) -> &str {
        self.request_id.to_str().unwrap_or("")
    }

    /// Give back the in-flight slot of the current peer, if any.
    pub fn release_peer(&mut self) -> Option<usize> {
        let i = self.peer.take()?;
        if let Some(route) = &self.route {
            if let Some(p) = route.api.cluster.peers.get(i) {
                p.health.in_flight.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
        Some(i)
    }
}

/// A sane incoming request id is kept: 1-128 characters of `[A-Za-z0-9._:-]`.
pub fn sane_request_id(v: &[u8]) -> bool {
    !v.is_empty()
        && v.len() <= 128
        && v.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// 128 random bits as 32 lowercase hex characters.
pub fn new_request_id() -> HeaderValue {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let n = fastrand::u128(..);
    let mut buf = [0u8; 32];
    for (i, b) in buf.iter_mut().enumerate() {
        *b = HEX[((n >> (i * 4)) & 0xf) as usize];
    }
    HeaderValue::from_bytes(&buf).unwrap_or_else(|_| HeaderValue::from_static("-"))
}
