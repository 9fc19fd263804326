//! API lifecycle on every request of a deprecated, sunsetting or retired API version:
//! `Deprecation: @<unix>` (RFC 9745), `Sunset: <HTTP-date>` (RFC 8594), `Link` to the
//! deprecation notice (`rel="deprecation"`) and to the successor (`rel="successor-version"`);
//! once retired or past its sunset, 410 problem+json naming the successor. The headers go on
//! the gateway's own answers (401, 429…) too: a client learns about the sunset either way.

use super::registry::{fail, ApiPlugins, ApiScope, Built, Policy};
use crate::config::{ApiConfig, ApiStatus, Config};
use crate::pipeline::Problem;
use crate::pipeline::RequestCtx;
use crate::pipeline::{Flow, Phases, Plugin};
use async_trait::async_trait;
use http::{HeaderName, HeaderValue};
use pingora_proxy::Session;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

static DEPRECATION: HeaderName = HeaderName::from_static("deprecation");
static SUNSET: HeaderName = HeaderName::from_static("sunset");

pub struct Lifecycle {
    retired: bool,
    /// Unix seconds from which requests get 410.
    sunset: Option<u64>,
    /// For answers before the sunset.
    headers: Vec<(HeaderName, HeaderValue)>,
    /// The 410's `Link` to the successor, and its detail.
    gone_link: Option<HeaderValue>,
    gone_detail: String,
}

impl Lifecycle {
    /// `None` for an active API without a sunset: its requests pay nothing.
    pub fn build(a: &ApiConfig, cfg: &Config) -> Option<Lifecycle> {
        if a.status == ApiStatus::Active && a.sunset.is_none() {
            return None;
        }
        let successor =
            a.successor.as_ref().and_then(|v| cfg.apis.iter().find(|o| o.name == a.name && &o.version == v));
        let successor_link = successor.map(|s| format!("<{}>; rel=\"successor-version\"", s.base_path));
        let mut headers = Vec::new();
        let mut links = Vec::new();
        if a.status == ApiStatus::Deprecated {
            if let Some(since) = a.deprecated_since {
                headers.push((DEPRECATION.clone(), HeaderValue::from_str(&format!("@{}", since.unix())).ok()?));
            }
            if let Some(l) = &a.deprecation_link {
                links.push(format!("<{l}>; rel=\"deprecation\"; type=\"text/html\""));
            }
            links.extend(successor_link.clone());
        }
        if let Some(sunset) = a.sunset {
            headers.push((SUNSET.clone(), HeaderValue::from_str(&httpdate::fmt_http_date(sunset.0)).ok()?));
        }
        if !links.is_empty() {
            headers.push((http::header::LINK, HeaderValue::from_str(&links.join(", ")).ok()?));
        }
        let gone_detail = match successor {
            Some(s) => format!("{} {} is retired; use {} at {}", a.name, a.version, s.version, s.base_path),
            None => format!("{} {} is retired", a.name, a.version),
        };
        Some(Lifecycle {
            retired: a.status == ApiStatus::Retired,
            sunset: a.sunset.map(|s| s.unix()),
            headers,
            gone_link: successor_link.and_then(|l| HeaderValue::from_str(&l).ok()),
            gone_detail,
        })
    }

    /// Retired, or past the sunset at `unix` seconds.
    pub fn gone_at(&self, unix: u64) -> bool {
        self.retired || self.sunset.is_some_and(|s| unix >= s)
    }
}

#[async_trait]
impl Plugin for Lifecycle {
    fn name(&self) -> &'static str {
        "lifecycle"
    }
    /// After the IP rules (a denied address learns nothing), before everything else.
    fn priority(&self) -> u32 {
        15
    }
    fn phases(&self) -> Phases {
        Phases { request: true, ..Default::default() }
    }

    fn request_now(&self, _session: &mut Session, ctx: &mut RequestCtx) -> Option<Flow> {
        let unix = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        if self.gone_at(unix) {
            if let Some(link) = &self.gone_link {
                ctx.answer.push(http::header::LINK, link.clone());
            }
            return Some(Flow::Respond(Problem::new(410, self.gone_detail.clone())));
        }
        ctx.answer.extend(self.headers.iter().cloned());
        Some(Flow::Continue)
    }
}

/// Operations marked `deprecated: true` in the spec of an API that is not deprecated as a
/// whole: `Deprecation` (dated by the operation's `x-deprecated-since`, else the API's
/// `deprecated_since`) and the API's `Link`s, on those methods of the route only.
pub struct DeprecatedOperations {
    methods: crate::config::MethodSet,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl DeprecatedOperations {
    /// `Ok(None)` when none of `ops` is deprecated (or the whole API is); `Err` names an
    /// operation with no date to announce.
    pub fn build(
        a: &ApiConfig,
        cfg: &Config,
        ops: &[&crate::openapi::Operation],
    ) -> Result<Option<Vec<DeprecatedOperations>>, String> {
        if a.status != ApiStatus::Active {
            return Ok(None);
        }
        let mut out = Vec::new();
        for op in ops.iter().filter(|o| o.deprecated) {
            let since = op.deprecated_since.or(a.deprecated_since.map(|m| m.unix())).ok_or_else(|| {
                format!("{}: deprecated: true needs x-deprecated-since (or the API's deprecated_since)", op.pointer)
            })?;
            let mut headers =
                vec![(DEPRECATION.clone(), HeaderValue::from_str(&format!("@{since}")).map_err(|e| e.to_string())?)];
            let mut links = Vec::new();
            if let Some(l) = &a.deprecation_link {
                links.push(format!("<{l}>; rel=\"deprecation\"; type=\"text/html\""));
            }
            let successor =
                a.successor.as_ref().and_then(|v| cfg.apis.iter().find(|o| o.name == a.name && &o.version == v));
            links.extend(successor.map(|s| format!("<{}>; rel=\"successor-version\"", s.base_path)));
            if !links.is_empty() {
                headers
                    .push((http::header::LINK, HeaderValue::from_str(&links.join(", ")).map_err(|e| e.to_string())?));
            }
            out.push(DeprecatedOperations {
                methods: crate::config::MethodSet::from_names(std::slice::from_ref(&op.method)),
                headers,
            });
        }
        Ok((!out.is_empty()).then_some(out))
    }
}

#[async_trait]
impl Plugin for DeprecatedOperations {
    fn name(&self) -> &'static str {
        "deprecated-operation"
    }
    fn priority(&self) -> u32 {
        16
    }
    fn phases(&self) -> Phases {
        Phases { request: true, ..Default::default() }
    }
    fn request_now(&self, session: &mut Session, ctx: &mut RequestCtx) -> Option<Flow> {
        if self.methods.0 & crate::config::MethodSet::bit(&session.req_header().method) != 0 {
            ctx.answer.extend(self.headers.iter().cloned());
        }
        Some(Flow::Continue)
    }
}

/// `status`, `sunset` and the rest of an API's lifecycle, and deprecated spec operations.
pub struct LifecyclePolicy;
pub static POLICY: LifecyclePolicy = LifecyclePolicy;

impl Policy for LifecyclePolicy {
    fn for_api(&self, api: &ApiScope, out: &mut ApiPlugins) -> Built {
        let (a, cfg) = (api.api, &api.setup.loaded.config);
        if let Some(l) = Lifecycle::build(a, cfg) {
            out.every_route.push(Arc::new(l));
        }
        let Some(spec) = api.spec else { return Ok(()) };
        let mut errors = Vec::new();
        for (path, ops) in crate::openapi::routes::paths(spec) {
            match DeprecatedOperations::build(a, cfg, &ops) {
                Ok(Some(d)) => out.by_pattern.extend(d.into_iter().map(|d| (api.pattern(&path), Arc::new(d) as _))),
                Ok(None) => {}
                Err(e) => errors.extend(fail(
                    format!("{}.spec", api.key()),
                    format!("{}: {e}", a.spec.as_deref().unwrap_or_default()),
                )),
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Config {
        crate::config::load_str(text).unwrap_or_else(|e| panic!("{e:?}"))
    }

    const TWO_VERSIONS: &str = r#"
[[cluster]]
name = "c"
upstreams = ["127.0.0.1:1"]

[[api]]
name = "pets"
version = "v1"
base_path = "/pets/v1"
cluster = "c"
status = "deprecated"
deprecated_since = "2026-01-01"
sunset = "2026-06-30"
successor = "v2"
deprecation_link = "https://dev.example.com/pets/v1-deprecation"

[[api]]
name = "pets"
version = "v2"
base_path = "/pets/v2"
cluster = "c"
"#;

    #[test]
    fn deprecated_headers_then_gone_at_the_sunset() {
        let cfg = config(TWO_VERSIONS);
        let l = Lifecycle::build(&cfg.apis[0], &cfg).unwrap();
        let h: Vec<(&str, &str)> = l.headers.iter().map(|(n, v)| (n.as_str(), v.to_str().unwrap())).collect();
        assert_eq!(
            h,
            [
                ("deprecation", "@1767225600"),
                ("sunset", "Tue, 30 Jun 2026 00:00:00 GMT"),
                (
                    "link",
                    "<https://dev.example.com/pets/v1-deprecation>; rel=\"deprecation\"; type=\"text/html\", </pets/v2>; rel=\"successor-version\""
                ),
            ]
        );
        let sunset = 1_782_777_600;
        assert!(!l.gone_at(sunset - 1));
        assert!(l.gone_at(sunset));
        assert_eq!(l.gone_detail, "pets v1 is retired; use v2 at /pets/v2");
        assert!(Lifecycle::build(&cfg.apis[1], &cfg).is_none(), "active without sunset costs nothing");
    }
}
