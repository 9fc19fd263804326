//! `validate_requests` / `validate_responses`: requests checked against the spec operation they
//! matched (path, query and header parameters, the JSON body) before anything is forwarded — a
//! 400 problem+json lists every violation, a body of an undocumented media type is a 415.
//! Upstream answers are checked report-only (status, `Content-Type`, JSON body): a metric and a
//! log line, the answer itself untouched. Schemas were compiled at load (`openapi/validate.rs`).

use crate::openapi::params::ParamIn;
use crate::openapi::validate::{check_param, find_media, Accepts, Compiler, Responses, Schema, Violation};
use crate::openapi::{Operation, SpecError};
use crate::pipeline::body::is_json;
use crate::pipeline::{Flow, Phases, Plugin};
use crate::pipeline::{Problem, RequestCtx};
use crate::plugins::registry::{ApiPlugins, ApiScope};
use async_trait::async_trait;
use bytes::Bytes;
use pingora_http::{RequestHeader, ResponseHeader};
use pingora_proxy::Session;
use prometheus::IntCounter;
use std::sync::Arc;

struct Op {
    method: String,
    accepts: Option<Accepts>,
    responses: Option<Arc<Responses>>,
}

/// One route's operations (one per method).
pub struct Validate {
    /// The route pattern's segments: `Some(name)` where the template has `{name}`.
    segments: Vec<Option<String>>,
    ops: Vec<Op>,
    requests_refused: IntCounter,
    responses_reported: IntCounter,
    /// `[server] json_transform_limit`: bodies read or copied for checking at most.
    limit: usize,
    /// The API's name, for the log line of a response that does not match.
    api: Arc<str>,
}

/// A response being checked (`validate_responses`), carried in the request's plugin state.
pub struct ResponseCheck {
    responses: Arc<Responses>,
    counter: IntCounter,
    head: bool,
    /// Where the JSON body is checked once whole: the media type's index in its list.
    collecting: Option<(u16, usize, Vec<u8>)>,
}

impl Validate {
    pub fn build(
        pattern: &str,
        ops: &[&Operation],
        compiler: &Compiler,
        (requests, responses): (bool, bool),
        metrics: &crate::metrics::Metrics,
        (api, limit): (&str, usize),
    ) -> Result<Validate, Vec<SpecError>> {
        let mut errors = Vec::new();
        let mut built = Vec::new();
        for op in ops {
            let accepts = if requests { compiler.operation(op).map_err(|e| errors.extend(e)).ok() } else { None };
            let resp = if responses { compiler.responses(op).map_err(|e| errors.extend(e)).ok() } else { None };
            built.push(Op { method: op.method.clone(), accepts, responses: resp.map(Arc::new) });
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let segments = pattern
            .split('/')
            .map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')).map(str::to_string))
            .collect();
        Ok(Validate {
            segments,
            ops: built,
            requests_refused: metrics.validation_failures.with_label_values(&[api, "request"]),
            responses_reported: metrics.validation_failures.with_label_values(&[api, "response"]),
            limit,
            api: Arc::from(api),
        })
    }

    fn op(&self, method: &http::Method) -> Option<&Op> {
        let m = method.as_str();
        self.ops.iter().find(|o| o.method == m || (m == "HEAD" && o.method == "GET"))
    }

    /// `request` on a request whose body is already in hand, without a session: the refusal,
    /// or `None` when it passes (the fuzz target's entry point).
    #[doc(hidden)]
    pub fn check_whole(&self, req: &RequestHeader, body: &[u8]) -> Option<Problem> {
        let accepts = self.op(&req.method)?.accepts.as_ref()?;
        let mut out = Vec::new();
        self.params(req, accepts, &mut out);
        match body_schema(accepts, &req.headers, &mut out) {
            Err(p) => return Some(p),
            Ok(Some(schema)) => check_json(body, schema, &mut out),
            Ok(None) => {}
        }
        (!out.is_empty()).then(|| refusal(out))
    }

    /// Parameter violations (every one) of this request.
    fn params(&self, req: &RequestHeader, accepts: &Accepts, out: &mut Vec<Violation>) {
        let path: Vec<&str> = req.uri.path().split('/').collect();
        let query: Vec<(String, String)> = form_urlencoded::parse(req.uri.query().unwrap_or("").as_bytes())
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        for p in &accepts.params {
            let name = p.param.name.as_str();
            let raw: Vec<String> = match p.param.location {
                ParamIn::Path => {
                    let i = self.segments.iter().position(|s| s.as_deref() == Some(name));
                    let seg = i.and_then(|i| path.get(i));
                    seg.map(|s| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned())
                        .into_iter()
                        .collect()
                }
                ParamIn::Query => query.iter().filter(|(k, _)| k == name).map(|(_, v)| v.clone()).collect(),
                ParamIn::Header => {
                    match req.headers.get_all(name).iter().map(|v| v.to_str()).collect::<Result<Vec<_>, _>>() {
                        Ok(values) => values.into_iter().map(str::to_string).collect::<Vec<String>>(),
                        Err(_) => {
                            out.push(violation("header", Some(name), "not visible ASCII"));
                            continue;
                        }
                    }
                }
            };
            let raw: Vec<&str> = raw.iter().map(String::as_str).collect();
            check_param(p, &raw, out);
        }
    }
}

fn violation(location: &'static str, name: Option<&str>, problem: &str) -> Violation {
    Violation { location, name: name.map(str::to_string), pointer: String::new(), problem: problem.to_string() }
}

fn has_body(h: &http::HeaderMap) -> bool {
    h.contains_key(http::header::TRANSFER_ENCODING)
        || h.get(http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).is_some_and(|v| v.trim() != "0")
}

/// The body's violations; `Err` for an answer other than 400 (415, 413, 408).
async fn body(
    session: &mut Session,
    ctx: &mut RequestCtx,
    (accepts, limit): (&Accepts, usize),
    out: &mut Vec<Violation>,
) -> Result<(), Problem> {
    let Some(schema) = body_schema(accepts, &session.req_header().headers, out)? else { return Ok(()) };
    let bytes = crate::pipeline::body::read_whole(session, limit).await?;
    ctx.request_body = Some(bytes.clone());
    check_json(&bytes, schema, out);
    Ok(())
}

/// What the body needs from its headers alone: `Ok(Some(schema))` when it is JSON to read and
/// check (against `schema` if the media type has one); `Err` for an undocumented media type.
fn body_schema<'a>(
    accepts: &'a Accepts,
    headers: &http::HeaderMap,
    out: &mut Vec<Violation>,
) -> Result<Option<Option<&'a Schema>>, Problem> {
    let Some(b) = &accepts.body else { return Ok(None) };
    if !has_body(headers) {
        if b.required {
            out.push(violation("body", None, "required and missing"));
        }
        return Ok(None);
    }
    let content_type = headers.get(http::header::CONTENT_TYPE);
    let found = content_type.and_then(|v| v.to_str().ok()).and_then(|ct| find_media(&b.media, ct));
    let Some((media, schema)) = found else {
        let accepted: Vec<&str> = b.media.iter().map(|(m, _)| m.as_str()).collect();
        return Err(Problem::new(415, format!("the body's Content-Type must be one of: {}", accepted.join(", "))));
    };
    let json = is_json(content_type) || media.ends_with("json");
    Ok(json.then_some(schema.as_ref()))
}

fn check_json(bytes: &[u8], schema: Option<&Schema>, out: &mut Vec<Violation>) {
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Err(e) => out.push(violation("body", None, &format!("not JSON: {e}"))),
        Ok(v) => {
            if let Some(s) = schema {
                s.check(&v, "body", None, out);
            }
        }
    }
}

/// At most this many violations are listed: a small body of many bad items must not make a
/// large answer.
const MAX_LISTED: usize = 50;

fn refusal(mut out: Vec<Violation>) -> Problem {
    let detail = match out.len() {
        n if n > MAX_LISTED => {
            format!("the request does not match the API's spec ({n} problems, the first {MAX_LISTED} listed)")
        }
        n => format!("the request does not match the API's spec ({n} problems)"),
    };
    out.truncate(MAX_LISTED);
    let mut p = Problem::new(400, detail);
    p.errors = Some(Arc::new(serde_json::to_value(out).unwrap_or_default()));
    p
}

#[async_trait]
impl Plugin for Validate {
    fn name(&self) -> &'static str {
        "validate"
    }
    /// After authentication and limits (a refused caller costs no validation), before the mock.
    fn priority(&self) -> u32 {
        400
    }
    fn phases(&self) -> Phases {
        let responses = self.ops.iter().any(|o| o.responses.is_some());
        Phases { request: true, upstream_response: responses, upstream_body: responses, ..Default::default() }
    }

    fn request_now(&self, session: &mut Session, ctx: &mut RequestCtx) -> Option<Flow> {
        let method = session.req_header().method.clone();
        let op = self.op(&method)?;
        if let Some(responses) = &op.responses {
            ctx.state.insert(ResponseCheck {
                responses: responses.clone(),
                counter: self.responses_reported.clone(),
                head: method == http::Method::HEAD,
                collecting: None,
            });
        }
        // Requests to check go on to `request`, which may read the body.
        op.accepts.is_none().then_some(Flow::Continue)
    }

    async fn request(&self, session: &mut Session, ctx: &mut RequestCtx) -> Flow {
        let method = session.req_header().method.clone();
        let Some(accepts) = self.op(&method).and_then(|o| o.accepts.as_ref()) else { return Flow::Continue };
        let mut out = Vec::new();
        self.params(session.req_header(), accepts, &mut out);
        if let Err(p) = body(session, ctx, (accepts, self.limit), &mut out).await {
            self.requests_refused.inc();
            return Flow::Respond(p);
        }
        if out.is_empty() {
            return Flow::Continue;
        }
        self.requests_refused.inc();
        Flow::Respond(refusal(out))
    }

    fn upstream_response(&self, _session: &Session, resp: &mut ResponseHeader, ctx: &mut RequestCtx) {
        self.response_head(resp, ctx);
    }

    fn upstream_body(&self, body: &mut Option<Bytes>, eos: bool, ctx: &mut RequestCtx) {
        self.response_chunk(body, eos, ctx);
    }
}

impl Validate {
    fn report(&self, ctx: &RequestCtx, check: &ResponseCheck, out: &[Violation]) {
        check.counter.inc();
        let list = serde_json::to_string(out).unwrap_or_default();
        let (api, id) = (&self.api, ctx.request_id_str());
        log::warn!("response of api {api} does not match its spec: {list}, request {id}");
    }

    /// The status and `Content-Type` against the spec; a JSON body to check starts being copied.
    fn response_head(&self, resp: &ResponseHeader, ctx: &mut RequestCtx) {
        let Some(mut check) = ctx.state.take::<ResponseCheck>() else { return };
        let status = resp.status.as_u16();
        let Some(media) = check.responses.for_status(status) else {
            let why = format!("status {status} is not documented");
            return self.report(ctx, &check, &[violation("response", None, &why)]);
        };
        let h = &resp.headers;
        let empty = !has_body(h) && h.contains_key("content-length");
        if media.is_empty() || check.head || matches!(status, 204 | 304) || empty {
            return;
        }
        let ct = h.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        let Some(i) = find_media(media, ct).and_then(|m| media.iter().position(|x| std::ptr::eq(x, m))) else {
            let why = format!("Content-Type {ct:?} is not documented for {status}");
            return self.report(ctx, &check, &[violation("response", None, &why)]);
        };
        let checkable = media[i].1.is_some() && is_json(h.get(http::header::CONTENT_TYPE));
        if checkable && !h.contains_key(http::header::CONTENT_ENCODING) {
            check.collecting = Some((status, i, Vec::new()));
            ctx.state.insert(check);
        }
    }

    /// Copy the body (never change it) and check it at its end.
    fn response_chunk(&self, body: &Option<Bytes>, eos: bool, ctx: &mut RequestCtx) {
        let Some(check) = ctx.state.get_mut::<ResponseCheck>() else { return };
        let Some((_, _, buf)) = check.collecting.as_mut() else { return };
        if let Some(b) = body {
            buf.extend_from_slice(b);
        }
        if buf.len() > self.limit {
            log::info!("response validation skipped (body over json_limit), request {}", ctx.request_id_str());
            ctx.state.take::<ResponseCheck>();
            return;
        }
        if !eos {
            return;
        }
        let Some(check) = ctx.state.take::<ResponseCheck>() else { return };
        let Some((status, i, buf)) = &check.collecting else { return };
        let mut out = Vec::new();
        match serde_json::from_slice::<serde_json::Value>(buf) {
            Err(e) => out.push(violation("response", None, &format!("not JSON: {e}"))),
            Ok(v) => {
                let media = check.responses.for_status(*status).and_then(|m| m.get(*i));
                if let Some(s) = media.and_then(|(_, s)| s.as_ref()) {
                    s.check(&v, "response", None, &mut out);
                }
            }
        }
        if !out.is_empty() {
            self.report(ctx, &check, &out);
        }
    }
}

/// Plugins by the route pattern they belong to.
pub type ByPattern = Vec<(String, Arc<dyn Plugin>)>;

/// The validators of an API with `validate_requests` or `validate_responses`, by route pattern
/// (`pattern` joins a spec path to the base path); problems under `key` as `FILE: <pointer>: …`.
pub fn for_api(
    a: &crate::config::ApiConfig,
    spec: &crate::openapi::Spec,
    key: &str,
    (metrics, limit): (&crate::metrics::Metrics, usize),
    pattern: impl Fn(&str) -> String,
) -> Result<ByPattern, Vec<crate::config::ConfigError>> {
    if !a.validate_requests && !a.validate_responses {
        return Ok(Vec::new());
    }
    let file = a.spec.as_deref().unwrap_or_default();
    let to_config = |e: &SpecError| crate::config::ConfigError::new(key, format!("{file}: {e}"));
    let compiler = Compiler::new(spec).map_err(|e| vec![to_config(&e)])?;
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (path, ops) in crate::openapi::routes::paths(spec) {
        let p = pattern(&path);
        match Validate::build(
            &p,
            &ops,
            &compiler,
            (a.validate_requests, a.validate_responses),
            metrics,
            (&a.name, limit),
        ) {
            Ok(v) => out.push((p, Arc::new(v) as Arc<dyn Plugin>)),
            Err(e) => errors.extend(e.iter().map(to_config)),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// `validate_requests` / `validate_responses`: one validator per spec path.
pub struct ValidatePolicy;
pub static POLICY: ValidatePolicy = ValidatePolicy;

impl crate::plugins::registry::Policy for ValidatePolicy {
    fn for_api(&self, api: &ApiScope, out: &mut ApiPlugins) -> crate::plugins::registry::Built {
        let Some(spec) = api.spec else { return Ok(()) };
        let setup = (api.setup.metrics, api.setup.json_limit);
        out.by_pattern.extend(for_api(api.api, spec, &format!("{}.spec", api.key()), setup, |p| api.pattern(p))?);
        Ok(())
    }
}
