//! The plugin trait: one policy, the phases it takes part in, and a priority that orders it in
//! every phase. Phases follow Pingora's `ProxyHttp` hooks; each has a no-op default, and a
//! route's chain lists a plugin only under the phases it declares, so a phase no plugin uses
//! costs nothing.

use super::ctx::RequestCtx;
use super::problem::Problem;
use async_trait::async_trait;
use bytes::Bytes;
use pingora_http::ResponseHeader;
use pingora_proxy::Session;

/// What a request-phase plugin decides.
pub enum Flow {
    Continue,
    /// Answer now with this problem; later plugins and the upstream are skipped.
    Respond(Problem),
    /// The plugin wrote the whole response itself (e.g. a CORS preflight answer).
    Done,
}

/// The phases a plugin takes part in.
#[derive(Clone, Copy, Default)]
pub struct Phases {
    /// The request head, before anything is forwarded (may answer instead).
    pub request: bool,
    /// Each chunk of the request body on its way upstream.
    pub request_body: bool,
    /// The request head as sent upstream.
    pub upstream_request: bool,
    /// The upstream's answer head, before the cache stores it.
    pub upstream_response: bool,
    /// Each chunk of the upstream's answer body, before the cache stores it.
    pub upstream_body: bool,
    /// The answer head on its way to the client (from the upstream or the cache).
    pub response: bool,
    /// Each chunk of the answer body on its way to the client.
    pub response_body: bool,
    /// After the answer was sent (or the request failed).
    pub logging: bool,
}

#[async_trait]
pub trait Plugin: Send + Sync {
    fn name(&self) -> &'static str;
    /// Lower runs first in every phase: IP rules, lifecycle, CORS, authentication,
    /// authorization, limits, validation, mock, rewrite, compression.
    fn priority(&self) -> u32;
    fn phases(&self) -> Phases;
    /// Answers CORS preflights: an `OPTIONS` preflight is routed by the method it asks about.
    fn answers_preflight(&self) -> bool {
        false
    }

    /// The request phase when the plugin can decide without waiting: `Some` is the decision,
    /// `None` goes on to `request`. Spares the boxed future of an async call on the hot path.
    fn request_now(&self, _session: &mut Session, _ctx: &mut RequestCtx) -> Option<Flow> {
        None
    }
    async fn request(&self, _session: &mut Session, _ctx: &mut RequestCtx) -> Flow {
        Flow::Continue
    }
    /// A chunk of the request body (`None` at the end); an error ends the request.
    fn request_body(&self, _body: &mut Option<Bytes>, _eos: bool, _ctx: &mut RequestCtx) -> pingora::Result<()> {
        Ok(())
    }
    /// Edit the request sent upstream (as `http` parts: see `edit.rs`).
    fn upstream_request(&self, _req: &mut http::request::Parts, _ctx: &RequestCtx) -> pingora::Result<()> {
        Ok(())
    }
    fn upstream_response(&self, _session: &Session, _resp: &mut ResponseHeader, _ctx: &mut RequestCtx) {}
    fn upstream_body(&self, _body: &mut Option<Bytes>, _eos: bool, _ctx: &mut RequestCtx) {}
    /// Edit the answer sent to the client.
    fn response(
        &self,
        _session: &Session,
        _resp: &mut http::response::Parts,
        _ctx: &mut RequestCtx,
    ) -> pingora::Result<()> {
        Ok(())
    }
    fn response_body(&self, _body: &mut Option<Bytes>, _eos: bool, _ctx: &mut RequestCtx) {}
    /// `status` is what the client got (0: nothing was sent).
    fn logging(&self, _ctx: &RequestCtx, _status: u16) {}
}
