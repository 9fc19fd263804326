//! Request bodies for plugins that must see one whole before anything is forwarded (request
//! validation, JSON edits). Pingora replays a pre-read body from its retry buffer, so a body
//! read here is at most that buffer's size.

use super::problem::Problem;
use bytes::Bytes;
use pingora_proxy::Session;
use std::time::Duration;

/// Pingora replays a pre-read body from its retry buffer, which holds this much.
pub const RETRY_BUFFER: usize = 64 * 1024;
/// A client gets this long to send a body the gateway must read before forwarding.
const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);

pub fn content_length(h: &http::HeaderMap) -> Option<usize> {
    h.get(http::header::CONTENT_LENGTH)?.to_str().ok()?.trim().parse().ok()
}

/// `application/json` or `application/*+json`.
pub fn is_json(content_type: Option<&http::HeaderValue>) -> bool {
    let Some(ct) = content_type.and_then(|v| v.to_str().ok()) else { return false };
    let mime = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

/// The request body, read whole before forwarding (Pingora replays it from its retry buffer):
/// at most `limit` bytes (never over the retry buffer), else 413.
pub async fn read_whole(session: &mut Session, limit: usize) -> Result<Bytes, Problem> {
    let limit = limit.min(RETRY_BUFFER);
    let too_large = || Problem::new(413, "the request body is larger than this gateway checks").closing();
    if content_length(&session.req_header().headers).is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    session.as_mut().enable_retry_buffering();
    let mut body = Vec::new();
    let read = async {
        while let Some(chunk) = session.read_request_body().await? {
            body.extend_from_slice(&chunk);
            if body.len() > limit {
                return Ok(false);
            }
        }
        Ok::<bool, Box<pingora::Error>>(true)
    };
    match tokio::time::timeout(BODY_READ_TIMEOUT, read).await {
        Ok(Ok(true)) => Ok(Bytes::from(body)),
        Ok(Ok(false)) => Err(too_large()),
        Ok(Err(_)) => Err(Problem::new(400, "the request body could not be read").closing()),
        Err(_) => Err(Problem::new(408, "the request body did not arrive in time").closing()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_types() {
        let v = |s: &'static str| http::HeaderValue::from_static(s);
        assert!(is_json(Some(&v("application/json; charset=utf-8"))));
        assert!(is_json(Some(&v("application/problem+json"))));
        assert!(!is_json(Some(&v("text/plain"))));
        assert!(!is_json(None));
    }
}
