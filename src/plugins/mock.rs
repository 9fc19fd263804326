//! `cluster = "mock"`: the API answers from its OpenAPI examples, with no backend. Per request:
//! the operation's lowest 2xx response (else its first), its first media type and first example.
//! `Prefer: code=404` and `Prefer: example=dog` (RFC 7240 preferences) pick others; an honoured
//! preference is named in `Preference-Applied`.

use super::registry::{ApiPlugins, ApiScope, Built, Policy};
use crate::openapi::{Operation, ResponseSpec};
use crate::pipeline::RequestCtx;
use crate::pipeline::{respond, Problem};
use crate::pipeline::{Flow, Phases, Plugin};
use async_trait::async_trait;
use bytes::Bytes;
use pingora_http::ResponseHeader;
use pingora_proxy::Session;
use serde_json::Value;
use std::sync::Arc;

/// One route's operations (one per method).
pub struct Mock {
    ops: Vec<(String, Arc<Vec<ResponseSpec>>)>,
}

impl Mock {
    pub fn new(ops: &[&Operation]) -> Mock {
        Mock { ops: ops.iter().map(|o| (o.method.clone(), o.responses.clone())).collect() }
    }
}

/// `code=…` and `example=…` from `Prefer` headers (tokens separated by `,`, parameters by `;`).
fn preferences(session: &Session) -> (Option<u16>, Option<String>) {
    let (mut code, mut example) = (None, None);
    for v in session.req_header().headers.get_all("prefer") {
        let Ok(v) = v.to_str() else { continue };
        for pref in v.split([',', ';']) {
            let Some((k, val)) = pref.split_once('=') else { continue };
            let val = val.trim().trim_matches('"');
            match k.trim().to_ascii_lowercase().as_str() {
                "code" => code = val.parse().ok(),
                "example" => example = Some(val.to_string()),
                _ => {}
            }
        }
    }
    (code, example)
}

/// The answer for these responses and preferences: status, content type, body, applied prefs.
pub fn choose(
    responses: &[ResponseSpec],
    code: Option<u16>,
    example: Option<&str>,
) -> Option<(u16, Option<String>, Bytes, Vec<String>)> {
    let mut applied = Vec::new();
    let by_code = code.and_then(|c| responses.iter().find(|r| r.status == c));
    if let Some(r) = by_code {
        applied.push(format!("code={}", r.status));
    }
    let resp =
        by_code.or_else(|| responses.iter().find(|r| (200..300).contains(&r.status))).or_else(|| responses.first())?;
    let Some(content) = resp.content.first() else {
        return Some((resp.status, None, Bytes::new(), applied));
    };
    let named = example.and_then(|n| content.examples.iter().find(|(name, _)| name == n));
    if let Some((n, _)) = named {
        applied.push(format!("example={n}"));
    }
    let body = match named.or_else(|| content.examples.first()).map(|(_, v)| v) {
        // A string example of a non-JSON type is the body itself.
        Some(Value::String(s)) if !content.media_type.contains("json") => Bytes::from(s.clone()),
        Some(v) => Bytes::from(serde_json::to_vec(v).unwrap_or_default()),
        None => Bytes::new(),
    };
    Some((resp.status, Some(content.media_type.clone()), body, applied))
}

#[async_trait]
impl Plugin for Mock {
    fn name(&self) -> &'static str {
        "mock"
    }
    /// Last: a mock answers what authentication, limits and validation let through.
    fn priority(&self) -> u32 {
        1000
    }
    fn phases(&self) -> Phases {
        Phases { request: true, ..Default::default() }
    }

    async fn request(&self, session: &mut Session, ctx: &mut RequestCtx) -> Flow {
        let method = session.req_header().method.as_str().to_string();
        let Some((_, responses)) = self.ops.iter().find(|(m, _)| *m == method || (method == "HEAD" && m == "GET"))
        else {
            return Flow::Respond(Problem::new(405, "the spec has no such operation"));
        };
        let (code, example) = preferences(session);
        let Some((status, media, body, applied)) = choose(responses, code, example.as_deref()) else {
            return Flow::Respond(Problem::new(501, "the spec documents no response to mock"));
        };
        let head = || -> pingora::Result<ResponseHeader> {
            let mut resp = ResponseHeader::build(status, Some(4))?;
            if let Some(m) = &media {
                resp.insert_header(http::header::CONTENT_TYPE, m.as_str())?;
            }
            resp.insert_header(http::header::CONTENT_LENGTH, body.len())?;
            if !applied.is_empty() {
                resp.insert_header("preference-applied", applied.join(", "))?;
            }
            Ok(resp)
        };
        match head() {
            Ok(resp) => match respond::send_full(session, ctx, resp, body).await {
                Ok(()) => Flow::Done,
                Err(_) => Flow::Respond(Problem::new(500, "the gateway failed to answer").closing()),
            },
            Err(_) => Flow::Respond(Problem::new(500, "the mock answer could not be built")),
        }
    }
}

/// `cluster = "mock"`: each spec path answers from its examples.
pub struct MockPolicy;
pub static POLICY: MockPolicy = MockPolicy;

impl Policy for MockPolicy {
    fn for_api(&self, api: &ApiScope, out: &mut ApiPlugins) -> Built {
        let Some(spec) = api.spec.filter(|_| api.api.cluster == "mock") else { return Ok(()) };
        for (path, ops) in crate::openapi::routes::paths(spec) {
            out.by_pattern.push((api.pattern(&path), Arc::new(Mock::new(&ops))));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openapi::Content;
    use serde_json::json;

    #[test]
    fn lowest_2xx_first_example_unless_preferred() {
        let r = |status, examples: Vec<(&str, Value)>| ResponseSpec {
            status,
            content: vec![Content {
                media_type: "application/json".into(),
                examples: examples.into_iter().map(|(n, v)| (n.to_string(), v)).collect(),
                schema: None,
            }],
        };
        let responses =
            vec![r(201, vec![("cat", json!({"n": 1})), ("dog", json!({"n": 2}))]), r(404, vec![("x", json!("gone"))])];
        let (s, m, b, a) = choose(&responses, None, None).unwrap();
        assert_eq!((s, m.as_deref(), &b[..], a.len()), (201, Some("application/json"), &br#"{"n":1}"#[..], 0));
        let (s, _, b, a) = choose(&responses, None, Some("dog")).unwrap();
        assert_eq!((s, &b[..], a), (201, &br#"{"n":2}"#[..], vec!["example=dog".to_string()]));
        let (s, _, b, a) = choose(&responses, Some(404), None).unwrap();
        assert_eq!((s, &b[..], a), (404, &br#""gone""#[..], vec!["code=404".to_string()]));
        // An unknown code falls back to the default choice, and says nothing was applied.
        assert_eq!(choose(&responses, Some(500), None).unwrap().3.len(), 0);
    }
}
