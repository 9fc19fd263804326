//! Editing Pingora headers as plain `http` parts. Pingora's `insert_header` keeps a second,
//! case-preserving map and grows both one insert at a time (~1.6k instructions per header for
//! a small request); moving the header into `http::request::Parts`, reserving room once and
//! inserting into one map costs a fraction of that. Header names then go out in lower case
//! (standard ones title-cased), which HTTP allows and Envoy does by default.

use http::{request, response, Method};
use pingora::Result;
use pingora_http::{RequestHeader, ResponseHeader};
use std::sync::OnceLock;

/// Empty headers to stand in while the real one is taken apart; cloning an empty one is cheaper
/// than building one.
fn empty_request() -> Result<RequestHeader> {
    static EMPTY: OnceLock<Option<RequestHeader>> = OnceLock::new();
    match EMPTY.get_or_init(|| RequestHeader::build_no_case(Method::GET, b"/", Some(0)).ok()) {
        Some(h) => Ok(h.clone()),
        None => RequestHeader::build_no_case(Method::GET, b"/", Some(0)),
    }
}

fn empty_response() -> Result<ResponseHeader> {
    static EMPTY: OnceLock<Option<ResponseHeader>> = OnceLock::new();
    match EMPTY.get_or_init(|| ResponseHeader::build_no_case(200, Some(0)).ok()) {
        Some(h) => Ok(h.clone()),
        None => ResponseHeader::build_no_case(200, Some(0)),
    }
}

pub fn request(req: &mut RequestHeader, extra: usize, f: impl FnOnce(&mut request::Parts) -> Result<()>) -> Result<()> {
    let placeholder = empty_request()?;
    let mut parts: request::Parts = std::mem::replace(req, placeholder).into();
    parts.headers.reserve(extra);
    let r = f(&mut parts);
    *req = RequestHeader::from(parts);
    r
}

pub fn response(
    resp: &mut ResponseHeader,
    extra: usize,
    f: impl FnOnce(&mut response::Parts) -> Result<()>,
) -> Result<()> {
    let placeholder = empty_response()?;
    let mut parts: response::Parts = std::mem::replace(resp, placeholder).into();
    parts.headers.reserve(extra);
    let r = f(&mut parts);
    *resp = ResponseHeader::from(parts);
    r
}
