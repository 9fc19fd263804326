//! Versions of one API on one base path (same `name`, `base_path` and `hosts`), picked per
//! request by a header (`version_header`, default `API-Version`). Each version keeps its own
//! router; the main router holds one switch route at the shared base path. Requests without the
//! header get the first `active` version in config order (else the first): adding a version
//! never moves existing clients.

use super::router::{Match, MethodSet, Router};
use super::{Api, Route};
use crate::pipeline::Problem;
use http::{HeaderName, HeaderValue};
use pingora_http::RequestHeader;
use std::sync::Arc;

pub struct Versions {
    pub header: HeaderName,
    /// `Vary` for every answer: the same URL answers differently per version.
    pub vary: HeaderValue,
    /// (version, its routes), in config order.
    pub routers: Vec<(String, Router<Route>)>,
    pub default: usize,
    /// "v1, v2", for the refusal of an unknown version.
    known: String,
}

impl Versions {
    pub fn new(header: HeaderName, routers: Vec<(String, Router<Route>)>, default: usize) -> Versions {
        let known = routers.iter().map(|(v, _)| v.as_str()).collect::<Vec<_>>().join(", ");
        let vary = HeaderValue::from(header.clone());
        Versions { header, vary, routers, default, known }
    }

    fn pick(&self, req: &RequestHeader) -> Result<&Router<Route>, Problem> {
        let Some(asked) = req.headers.get(&self.header) else {
            return Ok(&self.routers[self.default].1);
        };
        match self.routers.iter().find(|(v, _)| v.as_bytes() == asked.as_bytes()) {
            Some((_, router)) => Ok(router),
            None => Err(Problem::new(
                400,
                format!("unknown API version in {}; this path serves {}", self.header, self.known),
            )),
        }
    }
}

/// Look `path` up, through the version switch when it lands on one.
pub fn lookup<'a>(
    router: &'a Router<Route>,
    req: &RequestHeader,
    host: &str,
    path: &str,
    method: u16,
) -> Result<Match<'a, Route>, Problem> {
    match router.lookup(host, path, method) {
        Match::Found(route) => match &route.versions {
            Some(v) => Ok(v.pick(req)?.lookup(host, path, method)),
            None => Ok(Match::Found(route)),
        },
        other => Ok(other),
    }
}

/// The switch route of a family: it carries the default version's API (for metrics) and no
/// plugins of its own.
pub fn switch_route(default: Arc<Api>, versions: Versions) -> Route {
    let labels = crate::analytics::Labels {
        api: default.name.clone(),
        version: default.version.clone(),
        operation: default.base_path.clone(),
    };
    Route {
        pattern: default.base_path.clone(),
        labels: Arc::new(labels),
        api: default,
        methods: MethodSet::ANY,
        strip: 0,
        chain: Default::default(),
        versions: Some(Arc::new(versions)),
        cache: None,
    }
}
