//! Serve an axum `Router` on a Pingora-owned listener. Pingora accepts and parses; this reads
//! the request head and body (bounded in size and time), calls the router once with
//! `oneshot`, and writes the whole response. Because Pingora owns the socket, a binary upgrade
//! hands it over like the proxy's. Reusable by any management listener.

use crate::web::problem::{finish, Problem, RequestId};
use async_trait::async_trait;
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use axum::Router;
use bytes::{Bytes, BytesMut};
use http::header::{CONTENT_LENGTH, EXPECT, TRANSFER_ENCODING};
use http::{HeaderMap, Method, StatusCode};
use pingora::apps::{HttpPersistentSettings, HttpServerApp, ReusedHttpStream};
use pingora::protocols::http::ServerSession;
use pingora::server::ShutdownWatch;
use pingora_http::ResponseHeader;
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;

/// The client's address, as a request extension (absent on a Unix socket).
#[derive(Clone, Copy, Debug)]
pub struct ClientAddr(pub std::net::SocketAddr);

#[derive(Clone, Debug)]
pub struct Limits {
    /// Larger request bodies get 413 and the connection is closed.
    pub max_body: usize,
    /// Time for a whole request head, idle keep-alive time included (slow senders are cut off:
    /// Pingora's own timeout is per read, which a byte-at-a-time client never trips).
    pub head_timeout: Duration,
    /// Time for a whole request body.
    pub body_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_body: 1 << 20, head_timeout: Duration::from_secs(10), body_timeout: Duration::from_secs(30) }
    }
}

/// Looks at a request head before its body is read; an answer ends the request there.
pub type HeadCheck = Box<dyn Fn(&HeaderMap) -> Option<Response> + Send + Sync>;

pub struct AxumApp {
    router: Router,
    limits: Limits,
    head_check: Option<HeadCheck>,
}

impl AxumApp {
    pub fn new(router: Router, limits: Limits) -> Self {
        AxumApp { router, limits, head_check: None }
    }

    /// E.g. a token check, so an unauthenticated client cannot make us read and hold a body.
    /// The router must check the same again: this is an early exit, not the rule.
    pub fn with_head_check(mut self, check: HeadCheck) -> Self {
        self.head_check = Some(check);
        self
    }

    /// The body, or the problem that ends the request (the connection is then closed).
    async fn read_body(&self, http: &mut ServerSession) -> Result<Bytes, Problem> {
        let max = self.limits.max_body;
        let too_large =
            || Problem::new(StatusCode::PAYLOAD_TOO_LARGE, format!("the request body is larger than {max} bytes"));
        let h = http.req_header();
        let declared = match h.headers.get(CONTENT_LENGTH) {
            Some(v) => std::str::from_utf8(v.as_bytes()).ok().and_then(|s| s.trim().parse::<u64>().ok()),
            None => Some(0),
        };
        match declared {
            Some(n) if n > max as u64 => return Err(too_large()),
            Some(0) if !h.headers.contains_key(TRANSFER_ENCODING) => return Ok(Bytes::new()),
            _ => {}
        }
        if h.headers.get(EXPECT).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue")) {
            let _ = http.write_continue_response().await;
        }
        let read = async {
            let mut buf = BytesMut::new();
            while let Some(chunk) = http.read_request_body().await.map_err(|_| {
                Problem::new(StatusCode::BAD_REQUEST, "the request body could not be read (malformed or cut off)")
            })? {
                if buf.len() + chunk.len() > max {
                    return Err(too_large());
                }
                buf.extend_from_slice(&chunk);
            }
            Ok(buf.freeze())
        };
        match tokio::time::timeout(self.limits.body_timeout, read).await {
            Ok(r) => r,
            Err(_) => Err(Problem::new(StatusCode::REQUEST_TIMEOUT, "the request body did not arrive in time")),
        }
    }

    async fn call(&self, http: &ServerSession, body: Bytes, id: RequestId) -> Response {
        let mut req = http::Request::from_parts(http.req_header().as_owned_parts(), Body::from(body));
        if let Some(addr) = http.client_addr().and_then(|a| a.as_inet()) {
            req.extensions_mut().insert(ClientAddr(*addr));
        }
        req.extensions_mut().insert(id);
        match self.router.clone().oneshot(req).await {
            Ok(res) => res,
            Err(never) => match never {},
        }
    }
}

#[async_trait]
impl HttpServerApp for AxumApp {
    async fn process_new_http(
        self: &Arc<Self>,
        mut http: ServerSession,
        shutdown: &ShutdownWatch,
    ) -> Option<ReusedHttpStream> {
        // Closed, malformed or too slow: drop the connection without an answer.
        match tokio::time::timeout(self.limits.head_timeout, http.read_request()).await {
            Ok(Ok(true)) => {}
            _ => return None,
        }
        let keepalive = (!*shutdown.borrow()).then_some(self.limits.head_timeout.as_secs().max(1));
        http.set_keepalive(keepalive);
        let id = request_id(&http);
        let early = self.head_check.as_ref().and_then(|check| check(&http.req_header().headers));
        let res = match early {
            Some(res) => {
                if has_body(&http.req_header().headers) {
                    http.set_keepalive(None);
                }
                finish(res, Some(&id))
            }
            None => match self.read_body(&mut http).await {
                Ok(body) => self.call(&http, body, id).await,
                Err(p) => {
                    // The rest of the body is unread: the connection cannot be reused.
                    http.set_keepalive(None);
                    finish(p.into_response(), Some(&id))
                }
            },
        };
        let head_only = http.req_header().method == Method::HEAD;
        let (parts, body) = res.into_parts();
        let body = match axum::body::to_bytes(body, usize::MAX).await {
            Ok(b) => b,
            Err(e) => {
                log::error!("management response body failed: {e}");
                return None;
            }
        };
        let mut head = ResponseHeader::from(parts);
        let _ = head.remove_header(&TRANSFER_ENCODING);
        // HEAD: axum already set the length of the body it left out.
        if !head_only && !matches!(head.status.as_u16(), 204 | 304) {
            let _ = head.insert_header(CONTENT_LENGTH, body.len());
        }
        if let Err(e) = http.write_response_header(Box::new(head)).await {
            log::debug!("management response: {e}");
            return None;
        }
        if !head_only && !body.is_empty() {
            if let Err(e) = http.write_response_body(body, true).await {
                log::debug!("management response: {e}");
                return None;
            }
        }
        let settings = HttpPersistentSettings::for_session(&http);
        match http.finish().await {
            Ok(reusable) => reusable.map(|s| ReusedHttpStream::from_reusable_stream(s, settings)),
            Err(_) => None,
        }
    }
}

fn has_body(h: &HeaderMap) -> bool {
    h.contains_key(TRANSFER_ENCODING) || h.get(CONTENT_LENGTH).is_some_and(|v| v.as_bytes() != b"0")
}

/// A sane client-sent `X-Request-Id` is kept (as the proxy does); otherwise a new one.
fn request_id(http: &ServerSession) -> RequestId {
    use crate::pipeline::ctx::{new_request_id, sane_request_id};
    RequestId(match http.req_header().headers.get("x-request-id") {
        Some(v) if sane_request_id(v.as_bytes()) => v.clone(),
        _ => new_request_id(),
    })
}
