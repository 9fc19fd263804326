//! A route's plugins, built once at load time: one list per phase, each in priority order.

use super::plugin::Plugin;
use std::sync::Arc;

#[derive(Default, Clone)]
pub struct Chain {
    pub request: Vec<Arc<dyn Plugin>>,
    pub request_body: Vec<Arc<dyn Plugin>>,
    pub upstream_request: Vec<Arc<dyn Plugin>>,
    pub upstream_response: Vec<Arc<dyn Plugin>>,
    pub upstream_body: Vec<Arc<dyn Plugin>>,
    pub response: Vec<Arc<dyn Plugin>>,
    pub response_body: Vec<Arc<dyn Plugin>>,
    pub logging: Vec<Arc<dyn Plugin>>,
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
            let lists = [
                (ph.request, &mut c.request),
                (ph.request_body, &mut c.request_body),
                (ph.upstream_request, &mut c.upstream_request),
                (ph.upstream_response, &mut c.upstream_response),
                (ph.upstream_body, &mut c.upstream_body),
                (ph.response, &mut c.response),
                (ph.response_body, &mut c.response_body),
                (ph.logging, &mut c.logging),
            ];
            for (on, list) in lists {
                if on {
                    list.push(p.clone());
                }
            }
        }
        c
    }
}
