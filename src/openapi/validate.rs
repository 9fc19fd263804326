//! An operation's schemas compiled once at load (the `jsonschema` crate, JSON Schema 2020-12).
//! The whole spec is registered as one resource, so `$ref`s inside schemas resolve against it;
//! each compiled schema is a `$ref` to its place in the document. OpenAPI 3.0 schemas are
//! converted first: `nullable: true` adds `null`, boolean `exclusiveMinimum/Maximum` become the
//! numeric form.

use super::params::{Param, ParamIn};
use super::{problem, Operation, SpecError};
use jsonschema::{Draft, Registry, Validator};
use serde_json::Value;

const SPEC_URI: &str = "urn:gatehouse:spec";

/// One compiled schema and the top-level types a raw string is coerced to before checking.
pub struct Schema {
    validator: Validator,
    pub types: Vec<String>,
    /// For an array: its items' types.
    pub items: Vec<String>,
}

/// One violation, located (`in`: path, query, header, body; `pointer` inside the value).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Violation {
    #[serde(rename = "in")]
    pub location: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub pointer: String,
    pub problem: String,
}

impl Schema {
    /// Every violation of `value`; messages leave the value out (it is the client's own data).
    pub fn check(&self, value: &Value, location: &'static str, name: Option<&str>, out: &mut Vec<Violation>) {
        for e in self.validator.iter_errors(value) {
            out.push(Violation {
                location,
                name: name.map(str::to_string),
                pointer: e.instance_path().as_str().to_string(),
                problem: e.masked().to_string(),
            });
        }
    }
}

pub struct CompiledParam {
    pub param: Param,
    pub schema: Option<Schema>,
}

/// (media range in lower case, schema).
pub type Media = Vec<(String, Option<Schema>)>;

pub struct CompiledBody {
    pub required: bool,
    pub media: Media,
}

/// An operation's documented responses: (`200`, `2XX` or `default`, media types).
pub struct Responses(Vec<(String, Media)>);

impl Responses {
    /// The media types documented for `status` (the exact code, else its class, else
    /// `default`); `None` when the status is not documented at all.
    pub fn for_status(&self, status: u16) -> Option<&Media> {
        let (code, class) = (status.to_string(), format!("{}XX", status / 100));
        [code.as_str(), class.as_str(), "default"]
            .iter()
            .find_map(|want| self.0.iter().find(|(c, _)| c.eq_ignore_ascii_case(want)).map(|(_, m)| m))
    }
}

/// The documented media type a `Content-Type` falls under: an exact match first, then
/// `type/*`, then `*/*`.
pub fn find_media<'a>(media: &'a Media, content_type: &str) -> Option<&'a (String, Option<Schema>)> {
    let mime = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let (kind, _) = mime.split_once('/')?;
    let range = |m: &str| m.split(';').next().unwrap_or("").trim().to_string();
    media
        .iter()
        .find(|(m, _)| range(m) == mime)
        .or_else(|| media.iter().find(|(m, _)| range(m) == format!("{kind}/*")))
        .or_else(|| media.iter().find(|(m, _)| range(m) == "*/*"))
}

/// What one operation accepts, ready to check requests.
pub struct Accepts {
    pub params: Vec<CompiledParam>,
    pub body: Option<CompiledBody>,
}

/// The spec as a schema registry.
pub struct Compiler {
    registry: Registry<'static>,
    doc: Value,
}

impl Compiler {
    pub fn new(spec: &super::Spec) -> Result<Compiler, SpecError> {
        let mut doc = spec.doc.clone();
        if doc.get("openapi").and_then(Value::as_str).is_some_and(|v| v.starts_with("3.0")) {
            from_openapi_30(&mut doc);
        }
        let registry = Registry::new()
            .draft(Draft::Draft202012)
            .add(SPEC_URI, doc.clone())
            .and_then(|b| b.prepare())
            .map_err(|e| problem("", format!("schemas: {e}")))?;
        Ok(Compiler { registry, doc })
    }

    /// The schema at `pointer` in the spec.
    pub fn schema(&self, pointer: &str) -> Result<Schema, SpecError> {
        let wrapper = serde_json::json!({ "$ref": format!("{SPEC_URI}#{}", fragment(pointer)) });
        let validator = jsonschema::options()
            .with_draft(Draft::Draft202012)
            .with_registry(&self.registry)
            .should_validate_formats(true)
            // `pattern`s run on what clients send: the linear-time engine, no backtracking
            // (a pattern it cannot compile is reported at load).
            .with_pattern_options(jsonschema::PatternOptions::regex())
            .offline()
            .build(&wrapper)
            .map_err(|e| problem(pointer, format!("schema: {}", e.masked())))?;
        let here = self.resolve(self.doc.pointer(pointer));
        let items = self.resolve(here.and_then(|s| s.get("items")));
        Ok(Schema { validator, types: types(here), items: types(items) })
    }

    /// Follow `$ref`s (a few, local) to read a schema's `type`.
    fn resolve<'a>(&'a self, mut v: Option<&'a Value>) -> Option<&'a Value> {
        for _ in 0..16 {
            match v?.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix('#')) {
                Some(p) => v = self.doc.pointer(p),
                None => return v,
            }
        }
        None
    }

    /// The operation's responses with their schemas compiled.
    pub fn responses(&self, op: &Operation) -> Result<Responses, Vec<SpecError>> {
        let mut errors = Vec::new();
        let mut out = Vec::new();
        let at = format!("{}/responses", op.location);
        for (code, r) in self.doc.pointer(&at).and_then(Value::as_object).into_iter().flatten() {
            let (r, rat) = match super::deref_at(&self.doc, r, &format!("{at}/{}", super::token(code))) {
                Ok(r) => r,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            let mut media = Vec::new();
            for (m, c) in r.get("content").and_then(Value::as_object).into_iter().flatten() {
                let schema =
                    match c.get("schema").map(|_| self.schema(&format!("{rat}/content/{}/schema", super::token(m)))) {
                        None => None,
                        Some(Ok(s)) => Some(s),
                        Some(Err(e)) => {
                            errors.push(e);
                            None
                        }
                    };
                media.push((m.to_ascii_lowercase(), schema));
            }
            out.push((code.clone(), media));
        }
        if errors.is_empty() {
            Ok(Responses(out))
        } else {
            Err(errors)
        }
    }

    pub fn operation(&self, op: &Operation) -> Result<Accepts, Vec<SpecError>> {
        let mut errors = Vec::new();
        let mut compile = |pointer: &Option<String>| match pointer.as_deref().map(|p| self.schema(p)) {
            None => None,
            Some(Ok(s)) => Some(s),
            Some(Err(e)) => {
                errors.push(e);
                None
            }
        };
        let params = op.params.iter().map(|p| CompiledParam { param: p.clone(), schema: compile(&p.schema) }).collect();
        let body = op.body.as_ref().map(|b| CompiledBody {
            required: b.required,
            media: b.content.iter().map(|(m, s)| (m.to_ascii_lowercase(), compile(s))).collect(),
        });
        if errors.is_empty() {
            Ok(Accepts { params, body })
        } else {
            Err(errors)
        }
    }
}

fn types(schema: Option<&Value>) -> Vec<String> {
    match schema.and_then(|s| s.get("type")) {
        Some(Value::String(t)) => vec![t.clone()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        _ => Vec::new(),
    }
}

/// A JSON Pointer as a URI fragment: characters a fragment may not hold are percent-encoded.
fn fragment(pointer: &str) -> String {
    const KEEP: &percent_encoding::AsciiSet =
        &percent_encoding::NON_ALPHANUMERIC.remove(b'/').remove(b'~').remove(b'-').remove(b'_').remove(b'.');
    percent_encoding::utf8_percent_encode(pointer, KEEP).to_string()
}

/// A string from the URL or a header, typed as the schema says (`7` for an integer); a value
/// that does not parse stays a string, so the schema reports it.
pub fn coerce(raw: &str, types: &[String]) -> Value {
    let has = |t: &str| types.iter().any(|x| x == t);
    if has("integer") || has("number") {
        if let Ok(i) = raw.parse::<i64>() {
            return Value::from(i);
        }
    }
    if has("number") {
        if let Some(n) = raw.parse::<f64>().ok().and_then(serde_json::Number::from_f64) {
            return Value::Number(n);
        }
    }
    if has("boolean") && (raw == "true" || raw == "false") {
        return Value::Bool(raw == "true");
    }
    if has("null") && raw.is_empty() && !has("string") {
        return Value::Null;
    }
    Value::String(raw.to_string())
}

/// OpenAPI 3.0 schema keywords in their JSON Schema 2020-12 form, everywhere in the document.
fn from_openapi_30(v: &mut Value) {
    match v {
        Value::Object(m) => {
            match m.remove("nullable") {
                Some(Value::Bool(true)) => {
                    if let Some(Value::String(t)) = m.get("type") {
                        let t = Value::String(t.clone());
                        m.insert("type".into(), Value::Array(vec![t, "null".into()]));
                    }
                    if let Some(Value::Array(e)) = m.get_mut("enum") {
                        if !e.contains(&Value::Null) {
                            e.push(Value::Null);
                        }
                    }
                }
                Some(Value::Bool(false)) | None => {}
                // Not the keyword (a property named "nullable"): put it back.
                Some(other) => {
                    m.insert("nullable".into(), other);
                }
            }
            for (flag, bound) in [("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")] {
                match m.get(flag) {
                    Some(Value::Bool(true)) => {
                        if let Some(b) = m.remove(bound) {
                            m.insert(flag.into(), b);
                        } else {
                            m.remove(flag);
                        }
                    }
                    Some(Value::Bool(false)) => {
                        m.remove(flag);
                    }
                    _ => {}
                }
            }
            m.values_mut().for_each(from_openapi_30);
        }
        Value::Array(a) => a.iter_mut().for_each(from_openapi_30),
        _ => {}
    }
}

/// Parameters as strings, typed and checked: every violation goes to `out`.
pub fn check_param(p: &CompiledParam, raw: &[&str], out: &mut Vec<Violation>) {
    let location = p.param.location.as_str();
    if raw.is_empty() {
        if p.param.required {
            out.push(Violation {
                location,
                name: Some(p.param.name.clone()),
                pointer: String::new(),
                problem: "required and missing".into(),
            });
        }
        return;
    }
    let Some(schema) = &p.schema else { return };
    let is_array = schema.types.iter().any(|t| t == "array");
    let value = if is_array {
        // Repeated keys (`?tag=a&tag=b`), or a comma-separated list in a path or header.
        let parts: Vec<&str> = if raw.len() == 1 && p.param.location != ParamIn::Query {
            raw[0].split(',').map(str::trim).collect()
        } else {
            raw.to_vec()
        };
        Value::Array(parts.iter().map(|r| coerce(r, &schema.items)).collect())
    } else {
        coerce(raw[raw.len() - 1], &schema.types)
    };
    schema.check(&value, location, Some(&p.param.name), out);
    if !is_array && raw.len() > 1 {
        out.push(Violation {
            location,
            name: Some(p.param.name.clone()),
            pointer: String::new(),
            problem: "given more than once".into(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn compiled(doc: Value) -> (super::super::Spec, Compiler) {
        let spec = super::super::parse(&doc).unwrap();
        let c = Compiler::new(&spec).unwrap();
        (spec, c)
    }

    #[test]
    fn openapi_30_nullable_and_exclusive_bounds() {
        let (spec, c) = compiled(json!({
            "openapi": "3.0.3", "info": { "title": "t", "version": "1" },
            "paths": { "/a": { "get": {
                "parameters": [
                    { "name": "n", "in": "query", "schema": { "type": "integer", "minimum": 1, "exclusiveMinimum": true, "nullable": true } },
                    { "$ref": "#/components/parameters/Pet" }
                ],
                "responses": { "204": { "description": "ok" } } } } },
            "components": {
                "parameters": { "Pet": { "name": "pet", "in": "header", "schema": { "$ref": "#/components/schemas/Pet" } } },
                "schemas": { "Pet": { "type": "string", "enum": ["cat", "dog"] } }
            }
        }));
        let a = c.operation(&spec.operations[0]).unwrap();
        let n = a.params[0].schema.as_ref().unwrap();
        let errs = |s: &Schema, v: Value| {
            let mut out = Vec::new();
            s.check(&v, "query", None, &mut out);
            out.len()
        };
        assert_eq!((errs(n, json!(1)), errs(n, json!(2)), errs(n, Value::Null)), (1, 0, 0));
        let pet = a.params[1].schema.as_ref().unwrap();
        assert_eq!(pet.types, ["string"]);
        assert_eq!((errs(pet, json!("cat")), errs(pet, json!("cow"))), (0, 1));
    }

    #[test]
    fn patterns_run_in_linear_time_and_refs_must_be_local() {
        let doc = |schema: Value| {
            json!({
                "openapi": "3.1.0", "info": { "title": "t", "version": "1" },
                "paths": { "/a": { "get": {
                    "parameters": [{ "name": "q", "in": "query", "schema": schema }],
                    "responses": { "204": { "description": "ok" } } } } }
            })
        };
        let (spec, c) = compiled(doc(json!({ "type": "string", "pattern": "^(a+)+$" })));
        let q = c.operation(&spec.operations[0]).unwrap().params.remove(0).schema.unwrap();
        let evil = "a".repeat(5000) + "!";
        let started = std::time::Instant::now();
        let mut out = Vec::new();
        q.check(&json!(evil), "query", Some("q"), &mut out);
        assert_eq!(out.len(), 1);
        assert!(started.elapsed() < std::time::Duration::from_secs(1), "{:?}", started.elapsed());
        // A backreference needs a backtracking engine: refused at load, by pointer.
        let (spec, c) = compiled(doc(json!({ "type": "string", "pattern": "^(a)\\1$" })));
        let e = c.operation(&spec.operations[0]).err().unwrap();
        assert!(e[0].to_string().starts_with("/paths/~1a/get/parameters/0/schema: schema"), "{e:?}");
        let (spec, c) = compiled(doc(json!({ "$ref": "https://example.com/pet.json" })));
        assert!(c.operation(&spec.operations[0]).is_err(), "nothing is fetched");
    }

    #[test]
    fn coercion_follows_the_schema_type() {
        let t = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(coerce("7", &t(&["integer"])), json!(7));
        assert_eq!(coerce("7", &t(&["string"])), json!("7"));
        assert_eq!(coerce("1.5", &t(&["number"])), json!(1.5));
        assert_eq!(coerce("1.5", &t(&["integer"])), json!("1.5"));
        assert_eq!(coerce("true", &t(&["boolean"])), json!(true));
        assert_eq!(fragment("/paths/~1pets~1{id}/get"), "/paths/~1pets~1%7Bid%7D/get");
    }
}
