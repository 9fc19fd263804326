//! Policies as plugins. Each plugin declares the phases it works in; a route's chain is built
//! once at load time with one list per phase, so a phase with no plugins costs nothing.

pub mod auth;
pub mod cors;
pub mod headers;
pub mod ip;
pub mod json_body;
pub mod lifecycle;
pub mod mock;
pub mod rate_limit;
pub mod validate;

use crate::proxy::ctx::RequestCtx;
use crate::proxy::respond::Problem;
use async_trait::async_trait;
use pingora_proxy::Session;
use std::sync::Arc;

/// What a request-phase plugin decides.
pub enum Flow {
    Continue,
    /// Answer now with this problem; later plugins and the upstream are skipped.
    Respond(Problem),
    /// The plugin wrote the whole response itself (e.g. a CORS preflight answer).
    Done,
}

/// The phases a plugin takes part in (DESIGN §3 steps 3, 7 and 8).
#[derive(Clone, Copy, Default)]
pub struct Phases {
    pub request: bool,
    pub upstream_request: bool,
    pub response: bool,
}

#[async_trait]
pub trait Plugin: Send + Sync {
    fn name(&self) -> &'static str;
    /// Lower runs first: IP rules, authentication, authorization, limits, validation, rewrite.
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
    /// Edit the request sent upstream (as `http` parts: see `proxy::edit`).
    fn upstream_request(&self, _req: &mut http::request::Parts, _ctx: &RequestCtx) -> pingora::Result<()> {
        Ok(())
    }
    /// Edit the response sent to the client.
    fn response(&self, _resp: &mut http::response::Parts, _ctx: &RequestCtx) -> pingora::Result<()> {
        Ok(())
    }
}

/// A route's plugins, split by phase and sorted by priority.
#[derive(Default, Clone)]
pub struct Chain {
    pub request: Vec<Arc<dyn Plugin>>,
    pub upstream_request: Vec<Arc<dyn Plugin>>,
    pub response: Vec<Arc<dyn Plugin>>,
    /// A plugin answers CORS preflights (see `Plugin::answers_preflight`).
    pub preflight: bool,
}

impl Chain {
    pub fn new(mut plugins: Vec<Arc<dyn Plugin>>) -> Chain {
        plugins.sort_by_key(|p| p.priority());
        let mut c = Chain::default();
        for p in plugins {
            c.preflight |= p.answers_preflight();
            let ph = p.phases();
            if ph.request {
                c.request.push(p.clone());
            }
            if ph.upstream_request {
                c.upstream_request.push(p.clone());
            }
            if ph.response {
                c.response.push(p);
            }
        }
        c
    }

    pub fn names(&self) -> Vec<&'static str> {
        let mut n: Vec<&'static str> =
            self.request.iter().chain(&self.upstream_request).chain(&self.response).map(|p| p.name()).collect();
        n.dedup();
        n
    }
}
