//! `request`/`response` header rewriting (`set_headers`, `remove_headers`), api level merged
//! with route level at load time: the route's `set_headers` win, both `remove_headers` apply.

use super::registry::{Built, Plugins, Policy, RouteScope};
use crate::config::HeaderRewrite;
use crate::pipeline::RequestCtx;
use crate::pipeline::{Phases, Plugin};
use http::{HeaderName, HeaderValue};

#[derive(Default, Debug, Clone)]
pub struct HeaderOps {
    remove: Vec<HeaderName>,
    set: Vec<(HeaderName, HeaderValue)>,
}

impl HeaderOps {
    /// Merge API-level and route-level rewrites; `None` when there is nothing to do.
    pub fn merge(api: Option<&HeaderRewrite>, route: Option<&HeaderRewrite>) -> Option<HeaderOps> {
        // By lower-case name, in name order: the route's value wins.
        let mut set = std::collections::BTreeMap::new();
        let mut remove = Vec::new();
        for r in [api, route].into_iter().flatten() {
            for (k, v) in &r.set_headers {
                set.insert(k.name().as_str(), (k.name(), v.as_http()));
            }
            remove.extend(r.remove_headers.iter().map(|k| k.name().clone()));
        }
        let set: Vec<(HeaderName, HeaderValue)> = set.into_values().map(|(k, v)| (k.clone(), v.clone())).collect();
        remove.dedup();
        (!set.is_empty() || !remove.is_empty()).then_some(HeaderOps { remove, set })
    }
}

impl HeaderOps {
    fn apply(&self, headers: &mut http::HeaderMap) {
        for n in &self.remove {
            headers.remove(n);
        }
        for (n, v) in &self.set {
            headers.insert(n.clone(), v.clone());
        }
    }
}

/// Rewrites the request sent upstream.
pub struct RequestHeaders(pub HeaderOps);
/// Rewrites the response sent to the client.
pub struct ResponseHeaders(pub HeaderOps);

impl Plugin for RequestHeaders {
    fn name(&self) -> &'static str {
        "request-headers"
    }
    fn priority(&self) -> u32 {
        900
    }
    fn phases(&self) -> Phases {
        Phases { upstream_request: true, ..Default::default() }
    }
    fn upstream_request(&self, req: &mut http::request::Parts, _ctx: &RequestCtx) -> pingora::Result<()> {
        self.0.apply(&mut req.headers);
        Ok(())
    }
}

impl Plugin for ResponseHeaders {
    fn name(&self) -> &'static str {
        "response-headers"
    }
    fn priority(&self) -> u32 {
        900
    }
    fn phases(&self) -> Phases {
        Phases { response: true, ..Default::default() }
    }
    fn response(
        &self,
        _session: &pingora_proxy::Session,
        resp: &mut http::response::Parts,
        _ctx: &mut RequestCtx,
    ) -> pingora::Result<()> {
        self.0.apply(&mut resp.headers);
        Ok(())
    }
}

/// `request`/`response` `set_headers` and `remove_headers`.
pub struct HeadersPolicy;
pub static POLICY: HeadersPolicy = HeadersPolicy;

impl Policy for HeadersPolicy {
    fn for_route(&self, r: &RouteScope, out: &mut Plugins) -> Built {
        let (api, route) = (r.api.api, r.route);
        if let Some(ops) = HeaderOps::merge(api.request.as_ref(), route.and_then(|r| r.request.as_ref())) {
            out.push(std::sync::Arc::new(RequestHeaders(ops)));
        }
        if let Some(ops) = HeaderOps::merge(api.response.as_ref(), route.and_then(|r| r.response.as_ref())) {
            out.push(std::sync::Arc::new(ResponseHeaders(ops)));
        }
        Ok(())
    }
}
