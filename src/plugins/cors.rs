//! CORS per API (`[api.cors]`). The gateway answers preflights itself (204 with the allowed
//! methods and headers, or 403 when the origin, method or a header is not allowed) and adds
//! `Access-Control-Allow-Origin` to actual requests from an allowed origin. It runs before
//! authentication: a preflight carries no credentials. Upstream `Access-Control-*` response
//! headers are replaced on a CORS-enabled API: the gateway owns the policy.

use super::registry::{fail, ApiPlugins, ApiScope, Built, Policy};
use crate::config::CorsConfig;
use crate::pipeline::RequestCtx;
use crate::pipeline::{respond, Problem};
use crate::pipeline::{Flow, Phases, Plugin};
use async_trait::async_trait;
use http::header::*;
use http::{HeaderValue, Method};
use pingora_http::ResponseHeader;
use pingora_proxy::Session;

const DEFAULT_METHODS: [Method; 6] =
    [Method::GET, Method::HEAD, Method::POST, Method::PUT, Method::PATCH, Method::DELETE];
/// Request headers a browser sends without asking (Fetch: CORS-safelisted request headers).
const SAFELISTED: &[&str] = &["accept", "accept-language", "content-language", "content-type"];

pub struct Cors {
    /// Lower-case origins; empty with `any`.
    origins: Vec<String>,
    any: bool,
    credentials: bool,
    methods: Vec<Method>,
    allow_methods: HeaderValue,
    /// Lower-case names; empty = reflect what the preflight asks for.
    headers: Vec<String>,
    allow_headers: Option<HeaderValue>,
    expose: Option<HeaderValue>,
    max_age: Option<HeaderValue>,
}

/// True when the request is a CORS preflight (RFC: OPTIONS with `Origin` and
/// `Access-Control-Request-Method`); gives the method it asks about.
pub fn preflight_method(req: &pingora_http::RequestHeader) -> Option<Method> {
    if req.method != Method::OPTIONS || !req.headers.contains_key(ORIGIN) {
        return None;
    }
    Method::from_bytes(req.headers.get(ACCESS_CONTROL_REQUEST_METHOD)?.as_bytes()).ok()
}

impl Cors {
    pub fn new(c: &CorsConfig) -> Result<Cors, String> {
        let any = c.origins.iter().any(|o| o == "*");
        let methods: Vec<Method> = if c.methods.is_empty() {
            DEFAULT_METHODS.to_vec()
        } else {
            c.methods.iter().map(|m| m.as_http().clone()).collect()
        };
        // Method and header names are tokens: joined with ", " they make a valid value.
        let value = |list: Vec<&str>, what: &str| {
            HeaderValue::from_str(&list.join(", ")).map_err(|_| format!("invalid {what} list"))
        };
        let headers: Vec<String> = c.headers.iter().map(|h| h.name().as_str().to_string()).collect();
        let expose: Vec<&str> = c.expose_headers.iter().map(|h| h.as_str()).collect();
        Ok(Cors {
            origins: if any { Vec::new() } else { c.origins.iter().map(|o| o.to_ascii_lowercase()).collect() },
            any,
            credentials: c.credentials,
            allow_methods: value(methods.iter().map(Method::as_str).collect(), "methods")?,
            methods,
            allow_headers: (!headers.is_empty())
                .then(|| value(headers.iter().map(String::as_str).collect(), "headers"))
                .transpose()?,
            headers,
            expose: (!expose.is_empty()).then(|| value(expose, "expose_headers")).transpose()?,
            max_age: c.max_age.map(|d| HeaderValue::from(d.0.as_secs())),
        })
    }

    fn origin_allowed(&self, origin: &[u8]) -> bool {
        self.any || self.origins.iter().any(|o| o.as_bytes().eq_ignore_ascii_case(origin))
    }

    /// The `Access-Control-Allow-Origin` value for an allowed origin.
    fn allow_origin(&self, origin: &HeaderValue) -> HeaderValue {
        if self.any && !self.credentials {
            HeaderValue::from_static("*")
        } else {
            origin.clone()
        }
    }

    /// Every header the preflight asks for is allowed (or the list is open).
    fn headers_allowed(&self, asked: Option<&HeaderValue>) -> bool {
        let Some(asked) = asked.and_then(|v| v.to_str().ok()) else { return true };
        self.headers.is_empty()
            || asked.split(',').map(str::trim).filter(|h| !h.is_empty()).all(|h| {
                let h = h.to_ascii_lowercase();
                SAFELISTED.contains(&h.as_str()) || self.headers.contains(&h)
            })
    }

    fn preflight(&self, req: &pingora_http::RequestHeader, method: &Method) -> Result<ResponseHeader, Problem> {
        let deny = |why: &'static str| Problem::new(403, why);
        let origin = req.headers.get(ORIGIN).ok_or_else(|| deny("CORS preflight without an origin"))?;
        if !self.origin_allowed(origin.as_bytes()) {
            return Err(deny("this origin may not call this API (CORS)"));
        }
        if !self.methods.contains(method) {
            return Err(deny("this method is not allowed for cross-origin requests (CORS)"));
        }
        let asked = req.headers.get(ACCESS_CONTROL_REQUEST_HEADERS);
        if !self.headers_allowed(asked) {
            return Err(deny("a requested header is not allowed for cross-origin requests (CORS)"));
        }
        let internal = |_| Problem::new(500, "the gateway failed to handle the request");
        let mut resp = ResponseHeader::build(204, Some(8)).map_err(internal)?;
        let mut set = |name: HeaderName, v: HeaderValue| resp.insert_header(name, v).map_err(internal);
        set(ACCESS_CONTROL_ALLOW_ORIGIN, self.allow_origin(origin))?;
        set(ACCESS_CONTROL_ALLOW_METHODS, self.allow_methods.clone())?;
        match (&self.allow_headers, asked) {
            (Some(list), _) => set(ACCESS_CONTROL_ALLOW_HEADERS, list.clone())?,
            (None, Some(asked)) => set(ACCESS_CONTROL_ALLOW_HEADERS, asked.clone())?,
            (None, None) => {}
        }
        if self.credentials {
            set(ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"))?;
        }
        if let Some(age) = &self.max_age {
            set(ACCESS_CONTROL_MAX_AGE, age.clone())?;
        }
        set(VARY, HeaderValue::from_static("Origin, Access-Control-Request-Method, Access-Control-Request-Headers"))?;
        Ok(resp)
    }
}

#[async_trait]
impl Plugin for Cors {
    fn name(&self) -> &'static str {
        "cors"
    }
    /// After IP rules, before authentication (a preflight carries no credentials).
    fn priority(&self) -> u32 {
        20
    }
    fn phases(&self) -> Phases {
        Phases { request: true, upstream_response: true, ..Default::default() }
    }
    fn answers_preflight(&self) -> bool {
        true
    }

    async fn request(&self, session: &mut Session, ctx: &mut RequestCtx) -> Flow {
        let req = session.req_header();
        if let Some(method) = preflight_method(req) {
            return match self.preflight(req, &method) {
                Ok(resp) => match respond::send_head(session, ctx, resp).await {
                    Ok(()) => Flow::Done,
                    Err(_) => Flow::Respond(Problem::new(500, "the gateway failed to answer").closing()),
                },
                Err(p) => Flow::Respond(p),
            };
        }
        if let Some(origin) = req.headers.get(ORIGIN) {
            if self.origin_allowed(origin.as_bytes()) {
                ctx.answer.push(ACCESS_CONTROL_ALLOW_ORIGIN, self.allow_origin(origin));
                if self.credentials {
                    ctx.answer.push(ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
                }
                if let Some(e) = &self.expose {
                    ctx.answer.push(ACCESS_CONTROL_EXPOSE_HEADERS, e.clone());
                }
            }
        }
        // The answer depends on the Origin unless it is the same `*` for everyone.
        if !self.any || self.credentials {
            ctx.answer.push(VARY, HeaderValue::from_static("Origin"));
        }
        Flow::Continue
    }

    /// The upstream's own CORS headers go (before the cache stores the answer): the gateway
    /// owns the policy, and its headers come with the answer headers.
    fn upstream_response(&self, _session: &Session, resp: &mut ResponseHeader, _ctx: &mut RequestCtx) {
        for name in [
            ACCESS_CONTROL_ALLOW_ORIGIN,
            ACCESS_CONTROL_ALLOW_CREDENTIALS,
            ACCESS_CONTROL_EXPOSE_HEADERS,
            ACCESS_CONTROL_ALLOW_METHODS,
            ACCESS_CONTROL_ALLOW_HEADERS,
            ACCESS_CONTROL_MAX_AGE,
        ] {
            resp.remove_header(&name);
        }
    }
}

pub struct CorsPolicy;
pub static POLICY: CorsPolicy = CorsPolicy;

impl Policy for CorsPolicy {
    fn for_api(&self, api: &ApiScope, out: &mut ApiPlugins) -> Built {
        let Some(c) = &api.api.cors else { return Ok(()) };
        let cors = Cors::new(c).map_err(|e| fail(format!("{}.cors", api.key()), e))?;
        out.every_route.push(std::sync::Arc::new(cors));
        Ok(())
    }
}
