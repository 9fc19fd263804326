//! What one request carries through the plugin chain: its id, the client's address, the
//! consumer authentication found, the answer headers, the body read whole (when a plugin needed
//! it before forwarding) and the plugins' own per-request state. The proxy's context wraps this
//! one with what only the proxy needs (the runtime snapshot, the route, peers, the cache).

use super::answer::AnswerHeaders;
use super::state::PluginState;
use crate::consumers::Consumer;
use bytes::Bytes;
use http::HeaderValue;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

pub struct RequestCtx {
    pub start: Instant,
    pub request_id: HeaderValue,
    pub client_ip: Option<IpAddr>,
    /// Set by authentication for every later step (limits, cache key, upstream headers, logs).
    pub consumer: Option<Arc<Consumer>>,
    /// Headers for the answer, whoever makes it (see `answer.rs`).
    pub answer: AnswerHeaders,
    /// Request body bytes seen so far.
    pub body_bytes: u64,
    /// The request body as read whole before forwarding (e.g. to validate it), replayed as is.
    pub request_body: Option<Bytes>,
    pub state: PluginState,
}

impl Default for RequestCtx {
    fn default() -> Self {
        RequestCtx {
            start: Instant::now(),
            request_id: HeaderValue::from_static(""),
            client_ip: None,
            consumer: None,
            answer: AnswerHeaders::default(),
            body_bytes: 0,
            request_body: None,
            state: PluginState::default(),
        }
    }
}

impl RequestCtx {
    pub fn request_id_str(&self) -> &str {
        self.request_id.to_str().unwrap_or("")
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
