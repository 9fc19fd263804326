//! The proxy's per-request state, created by `new_ctx` with one `ArcSwap` load: a request sees
//! one config for its whole life, even across a reload. It wraps the pipeline's `RequestCtx`
//! (what plugins see) with what only the proxy needs: the route, peers tried, the cache.

use crate::pipeline::problem::Problem;
use crate::pipeline::RequestCtx;
use crate::runtime::{Route, Runtime};
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use crate::pipeline::ctx::{new_request_id, sane_request_id};

pub struct ProxyCtx {
    /// What the plugin chain sees.
    pub req: RequestCtx,
    pub rt: Arc<Runtime>,
    pub route: Option<Arc<Route>>,
    /// An answer decided before the plugin chain (bad path, no route, too large).
    pub reject: Option<Problem>,
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
    /// `Connection` nominations and WebSocket upgrade, found at request start.
    pub hop: super::hop::HopInfo,
    pub counted: bool,
    /// The request's dealings with the response cache.
    pub cache: super::cache_hooks::CacheCtx,
}

impl Deref for ProxyCtx {
    type Target = RequestCtx;
    fn deref(&self) -> &RequestCtx {
        &self.req
    }
}

impl DerefMut for ProxyCtx {
    fn deref_mut(&mut self) -> &mut RequestCtx {
        &mut self.req
    }
}

impl ProxyCtx {
    pub fn new(rt: Arc<Runtime>) -> Self {
        ProxyCtx {
            req: RequestCtx::default(),
            rt,
            route: None,
            reject: None,
            peer: None,
            last_peer: None,
            tried: 0,
            retries: 0,
            last_failure: None,
            upstream_start: None,
            upstream_time: None,
            hop: Default::default(),
            counted: false,
            cache: Default::default(),
        }
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
