//! OpenAPI 3.0 / 3.1 documents (YAML or JSON) as the gateway reads them: the operations (path
//! templates and methods) that become an API's routes, and each operation's responses with their
//! examples (for `cluster = "mock"`). Local `$ref`s (`#/…`) are followed; remote ones are refused
//! (the gateway does not fetch while loading a config). Problems name their JSON Pointer.

pub mod params;
pub mod routes;
pub mod security;
pub mod validate;

use serde_json::Value;
use std::path::Path;

pub const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

pub struct Spec {
    pub title: Option<String>,
    pub operations: Vec<Operation>,
    /// The whole document: schemas are compiled against it (their `$ref`s point into it).
    pub doc: Value,
}

pub struct Operation {
    /// The path template as written in the spec (`/pets/{id}`).
    pub path: String,
    /// Upper case (`GET`).
    pub method: String,
    pub deprecated: bool,
    /// `x-deprecated-since`, unix seconds.
    pub deprecated_since: Option<u64>,
    /// The operation's JSON Pointer in the spec (for problems found later).
    pub pointer: String,
    /// Authentication and scopes from `security` / `x-gatehouse-scopes`.
    pub security: security::Security,
    /// `x-gatehouse-plan`: the plan of this operation's requests.
    pub plan: Option<String>,
    /// `x-gatehouse-cache`: a route `cache` table (`enabled`, `default_ttl`, `per_consumer`).
    pub cache: Option<Value>,
    pub responses: std::sync::Arc<Vec<ResponseSpec>>,
    /// Where the operation object is once `$ref`s are followed (its schemas' pointers start here).
    pub location: String,
    pub params: Vec<params::Param>,
    pub body: Option<params::RequestBody>,
}

/// One documented response: its status and, per media type, the examples given for it.
pub struct ResponseSpec {
    pub status: u16,
    pub content: Vec<Content>,
}

pub struct Content {
    pub media_type: String,
    /// (name, value); an `example` without a name is called "default".
    pub examples: Vec<(String, Value)>,
    /// Where the media type's `schema` is in the spec.
    pub schema: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    pub pointer: String,
    pub problem: String,
}

impl std::fmt::Display for SpecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = if self.pointer.is_empty() { "/" } else { &self.pointer };
        write!(f, "{at}: {}", self.problem)
    }
}

fn problem(pointer: impl Into<String>, problem: impl Into<String>) -> SpecError {
    SpecError { pointer: pointer.into(), problem: problem.into() }
}

/// A JSON Pointer token (RFC 6901): `~` and `/` escaped.
fn token(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

/// Follow `$ref`s from `v` (at `at`) to the value they name.
fn deref<'a>(doc: &'a Value, v: &'a Value, at: &str) -> Result<&'a Value, SpecError> {
    deref_at(doc, v, at).map(|(v, _)| v)
}

/// `deref`, with the JSON Pointer of the value reached (where its own members are).
fn deref_at<'a>(doc: &'a Value, mut v: &'a Value, at: &str) -> Result<(&'a Value, String), SpecError> {
    let mut here = at.to_string();
    for _ in 0..32 {
        let Some(r) = v.get("$ref").and_then(Value::as_str) else { return Ok((v, here)) };
        let Some(pointer) = r.strip_prefix('#') else {
            return Err(problem(at, format!("$ref {r:?}: only local references (#/...) are supported")));
        };
        v = doc.pointer(pointer).ok_or_else(|| problem(at, format!("$ref {r:?} points nowhere")))?;
        here = pointer.to_string();
    }
    Err(problem(at, "$ref chain too long (a cycle?)"))
}

/// Read and check a spec file.
pub fn load(path: &Path) -> Result<Spec, Vec<SpecError>> {
    let text = std::fs::read_to_string(path).map_err(|e| vec![problem("", format!("cannot read the file: {e}"))])?;
    let is_json = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let doc: Value = if is_json {
        serde_json::from_str(&text).map_err(|e| vec![problem("", format!("not JSON: {e}"))])?
    } else {
        yaml_serde::from_str(&text).map_err(|e| vec![problem("", format!("not YAML: {e}"))])?
    };
    parse(&doc)
}

pub fn parse(doc: &Value) -> Result<Spec, Vec<SpecError>> {
    let mut errors = Vec::new();
    match doc.get("openapi").and_then(Value::as_str) {
        Some(v) if v.starts_with("3.0") || v.starts_with("3.1") => {}
        Some(v) => errors.push(problem("/openapi", format!("version {v:?}: only OpenAPI 3.0 and 3.1 are supported"))),
        None => errors.push(problem("/openapi", "missing: not an OpenAPI 3 document")),
    }
    let title = doc.pointer("/info/title").and_then(Value::as_str).map(str::to_string);
    let mut operations = Vec::new();
    match doc.get("paths").and_then(Value::as_object) {
        None => errors.push(problem("/paths", "missing: the API has no operations")),
        Some(paths) => {
            for (path, item) in paths {
                let at = format!("/paths/{}", token(path));
                if let Err(e) = path_ok(path) {
                    errors.push(problem(&at, e));
                    continue;
                }
                let (item, item_at) = match deref_at(doc, item, &at) {
                    Ok(i) => i,
                    Err(e) => {
                        errors.push(e);
                        continue;
                    }
                };
                for method in METHODS {
                    let Some(op) = item.get(method) else { continue };
                    let at = format!("{at}/{method}");
                    let op_at = format!("{item_at}/{method}");
                    let accepts = deref_at(doc, op, &op_at).map_err(|e| vec![e]).and_then(|(op, op_at)| {
                        match (
                            params::parameters(path, doc, item, &item_at, op, &op_at),
                            params::request_body(doc, op, &op_at),
                        ) {
                            (Ok(params), Ok(body)) => Ok((params, body, op_at)),
                            (params, body) => Err(params.err().into_iter().flatten().chain(body.err()).collect()),
                        }
                    });
                    match (operation(doc, op, &op_at), accepts) {
                        (Ok((deprecated, deprecated_since, responses)), Ok((params, body, location))) => operations
                            .push(Operation {
                                path: path.clone(),
                                method: method.to_ascii_uppercase(),
                                deprecated,
                                deprecated_since,
                                security: match security::of(doc, op, &op_at) {
                                    Ok(s) => s,
                                    Err(e) => {
                                        errors.push(e);
                                        Default::default()
                                    }
                                },
                                plan: op.get("x-gatehouse-plan").and_then(Value::as_str).map(str::to_string),
                                cache: op.get("x-gatehouse-cache").cloned(),
                                pointer: at.clone(),
                                responses: std::sync::Arc::new(responses),
                                location,
                                params,
                                body,
                            }),
                        (a, b) => errors.extend(a.err().into_iter().chain(b.err()).flatten()),
                    }
                }
            }
        }
    }
    if errors.is_empty() && operations.is_empty() {
        errors.push(problem("/paths", "no operations"));
    }
    if errors.is_empty() {
        Ok(Spec { title, operations, doc: doc.clone() })
    } else {
        Err(errors)
    }
}

/// The router takes `/a/{b}/c`: whole-segment templates, no empty or dot segments.
fn path_ok(path: &str) -> Result<(), String> {
    if !path.starts_with('/') {
        return Err("a path must start with /".into());
    }
    for seg in path.split('/').skip(1) {
        if seg == "." || seg == ".." || (seg.is_empty() && path != "/") {
            return Err(format!("segment {seg:?}: empty and dot segments are not routable"));
        }
        if seg.contains(['{', '}']) && !(seg.starts_with('{') && seg.ends_with('}') && seg.len() > 2) {
            return Err(format!("segment {seg:?}: a template must be a whole segment ({{name}})"));
        }
    }
    Ok(())
}

type Parsed = (bool, Option<u64>, Vec<ResponseSpec>);

fn operation(doc: &Value, op: &Value, at: &str) -> Result<Parsed, Vec<SpecError>> {
    let (op, at) = deref_at(doc, op, at).map_err(|e| vec![e])?;
    let at = at.as_str();
    let deprecated = op.get("deprecated").and_then(Value::as_bool).unwrap_or(false);
    let since = match op.get("x-deprecated-since") {
        None => None,
        Some(v) => {
            let text = v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
            match crate::config::Moment::try_from(text) {
                Ok(m) => Some(m.unix()),
                Err(e) => return Err(vec![problem(format!("{at}/x-deprecated-since"), e)]),
            }
        }
    };
    let Some(responses) = op.get("responses").and_then(Value::as_object) else {
        return Err(vec![problem(format!("{at}/responses"), "missing: an operation documents its responses")]);
    };
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (code, resp) in responses {
        let rat = format!("{at}/responses/{}", token(code));
        let status = match code.as_str() {
            "default" => continue,
            c if c.len() == 3 && c.ends_with("XX") => c[..1].parse::<u16>().ok().map(|d| d * 100),
            c => c.parse::<u16>().ok().filter(|s| (100..600).contains(s)),
        };
        let Some(status) = status else {
            errors.push(problem(&rat, format!("{code:?} is not a status code, NXX or default")));
            continue;
        };
        match deref_at(doc, resp, &rat) {
            Ok((resp, rat)) => out.push(ResponseSpec { status, content: content(doc, resp, &rat, &mut errors) }),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        out.sort_by_key(|r| r.status);
        Ok((deprecated, since, out))
    } else {
        Err(errors)
    }
}

fn content(doc: &Value, resp: &Value, at: &str, errors: &mut Vec<SpecError>) -> Vec<Content> {
    let Some(media) = resp.get("content").and_then(Value::as_object) else { return Vec::new() };
    let mut out = Vec::new();
    for (media_type, m) in media {
        let mat = format!("{at}/content/{}", token(media_type));
        let mut examples = Vec::new();
        if let Some(e) = m.get("example") {
            examples.push(("default".to_string(), e.clone()));
        }
        if let Some(named) = m.get("examples").and_then(Value::as_object) {
            for (name, ex) in named {
                match deref(doc, ex, &format!("{mat}/examples/{}", token(name))) {
                    Ok(ex) => examples.extend(ex.get("value").map(|v| (name.clone(), v.clone()))),
                    Err(e) => errors.push(e),
                }
            }
        }
        if examples.is_empty() {
            let schema = m.get("schema").map(|s| deref(doc, s, &format!("{mat}/schema")));
            if let Some(Ok(ex)) = schema.map(|s| s.map(|s| s.get("example"))) {
                examples.extend(ex.map(|v| ("default".to_string(), v.clone())));
            }
        }
        let schema = m.get("schema").map(|_| format!("{mat}/schema"));
        out.push(Content { media_type: media_type.clone(), examples, schema });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn operations_examples_and_refs() {
        let doc = json!({
            "openapi": "3.1.0",
            "info": { "title": "Pets", "version": "1" },
            "paths": {
                "/pets/{id}": {
                    "get": {
                        "deprecated": true,
                        "responses": {
                            "200": { "$ref": "#/components/responses/Pet" },
                            "404": { "description": "none", "content": { "application/json": { "example": { "error": "no" } } } },
                            "default": { "description": "error" }
                        }
                    }
                }
            },
            "components": { "responses": { "Pet": {
                "description": "a pet",
                "content": { "application/json": {
                    "schema": { "type": "object" },
                    "examples": { "cat": { "value": { "name": "Tom" } }, "dog": { "$ref": "#/components/examples/Dog" } }
                } }
            } }, "examples": { "Dog": { "value": { "name": "Rex" } } } }
        });
        let spec = parse(&doc).unwrap();
        assert_eq!(spec.title.as_deref(), Some("Pets"));
        let op = &spec.operations[0];
        assert_eq!((op.path.as_str(), op.method.as_str(), op.deprecated), ("/pets/{id}", "GET", true));
        assert_eq!(op.responses.iter().map(|r| r.status).collect::<Vec<_>>(), [200, 404]);
        let names: Vec<&str> = op.responses[0].content[0].examples.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["cat", "dog"]);
        assert_eq!(op.responses[0].content[0].examples[1].1, json!({ "name": "Rex" }));
    }

    #[test]
    fn problems_name_their_pointer() {
        let doc = json!({
            "openapi": "2.0",
            "paths": {
                "/a/b{c}": { "get": { "responses": {} } },
                "/d": { "get": { "summary": "no responses" } },
                "/e": { "post": { "responses": { "20x": {}, "201": { "$ref": "#/nowhere" }, "202": { "$ref": "other.yaml#/x" } } } },
                "/f/{id}": { "get": {
                    "parameters": [{ "name": "ident", "in": "path", "required": true }, { "name": "x", "in": "body" }],
                    "requestBody": { "description": "no content" },
                    "responses": { "204": { "description": "ok" } } } }
            }
        });
        let errors: Vec<String> = parse(&doc).err().unwrap().iter().map(|e| e.to_string()).collect();
        for want in [
            "/openapi: version \"2.0\": only OpenAPI 3.0 and 3.1 are supported",
            "/paths/~1a~1b{c}: segment \"b{c}\": a template must be a whole segment ({name})",
            "/paths/~1d/get/responses: missing",
            "/paths/~1e/post/responses/20x: \"20x\" is not a status code",
            "/paths/~1e/post/responses/201: $ref \"#/nowhere\" points nowhere",
            "/paths/~1e/post/responses/202: $ref \"other.yaml#/x\": only local references",
            "/paths/~1f~1{id}/get/parameters/1/in: \"body\": must be path, query, header or cookie",
            "/paths/~1f~1{id}/get/parameters/0/name: path parameter \"ident\" is not in the path \"/f/{id}\"",
            "/paths/~1f~1{id}/get/requestBody/content: missing",
        ] {
            assert!(errors.iter().any(|e| e.starts_with(want)), "missing {want:?} in {errors:#?}");
        }
    }
}
