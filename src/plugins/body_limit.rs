//! `[server] max_body_size` on bodies as they stream: a request whose body grows past the
//! limit is cut off with 413 (and its connection closed). A declared `Content-Length` over the
//! limit is refused before routing, with the other request-hygiene checks (`proxy/start.rs`).

use super::registry::{ApiPlugins, ApiScope, Built, Policy};
use crate::pipeline::{Phases, Plugin, RequestCtx};
use bytes::Bytes;
use pingora::{Error, ErrorType};
use std::sync::Arc;

pub struct BodyLimit {
    pub max: u64,
}

impl Plugin for BodyLimit {
    fn name(&self) -> &'static str {
        "body-limit"
    }
    /// First: nothing else should spend work on a body that is refused.
    fn priority(&self) -> u32 {
        5
    }
    fn phases(&self) -> Phases {
        Phases { request_body: true, ..Default::default() }
    }

    /// `ctx.body_bytes` counts what the client sent so far (the proxy adds each chunk).
    fn request_body(&self, _body: &mut Option<Bytes>, _eos: bool, ctx: &mut RequestCtx) -> pingora::Result<()> {
        if ctx.body_bytes > self.max {
            return Error::e_explain(ErrorType::HTTPStatus(413), "request body over max_body_size");
        }
        Ok(())
    }
}

pub struct BodyLimitPolicy;
pub static POLICY: BodyLimitPolicy = BodyLimitPolicy;

impl Policy for BodyLimitPolicy {
    fn for_api(&self, api: &ApiScope, out: &mut ApiPlugins) -> Built {
        out.every_route.push(Arc::new(BodyLimit { max: api.setup.max_body_size }));
        Ok(())
    }
}
