//! Editing Pingora headers as plain `http` parts. Pingora's `insert_header` keeps a second,
//! case-preserving map and grows both one insert at a time (~1.6k instructions per header for
//! a small request); moving the header into `http::request::Parts`, reserving room once and
//! inserting into one map costs a fraction of that. Header names then go out in lower case
//! (standard ones title-cased), which HTTP allows and Envoy does by default.

use http::{request, response, Method};
use pingora::Result;
use pingora_http::{RequestHeader, ResponseHeader};

pub fn request(req: &mut RequestHeader, extra: usize, f: impl FnOnce(&mut request::Parts) -> Result<()>) -> Result<()> {
    let placeholder = RequestHeader::build_no_case(Method::GET, b"/", Some(0))?;
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
    let placeholder = ResponseHeader::build_no_case(200, Some(0))?;
    let mut parts: response::Parts = std::mem::replace(resp, placeholder).into();
    parts.headers.reserve(extra);
    let r = f(&mut parts);
    *resp = ResponseHeader::from(parts);
    r
}
