//! Example values for code samples and the try-it form: the spec's own examples first, else one
//! made up from the schema (enum, default, format, type), bounded in depth and following local
//! `$ref`s without looping.

use super::schema::resolve;
use serde_json::{Map, Value};

const MAX_DEPTH: usize = 6;
/// Values one example holds at most (schemas that refer to each other widely would multiply).
const MAX_NODES: usize = 200;

/// The references being followed (a cycle guard) and the values still allowed.
struct Walk {
    stack: Vec<String>,
    left: usize,
}

/// The example of a media type object (`example`, the first `examples` entry), else its schema's.
pub fn of_media(doc: &Value, media: &Value) -> Option<Value> {
    if let Some(e) = media.get("example") {
        return Some(e.clone());
    }
    let first = media.get("examples").and_then(Value::as_object).and_then(|m| m.values().next());
    if let Some(e) = first {
        let e = super::schema::deref(doc, e);
        if let Some(v) = e.get("value") {
            return Some(v.clone());
        }
    }
    media.get("schema").map(|s| of_schema(doc, s))
}

/// A parameter's example (`example`, first `examples` entry, schema example/default/enum).
pub fn of_param(doc: &Value, p: &Value) -> Option<Value> {
    if let Some(e) = p.get("example") {
        return Some(e.clone());
    }
    let first = p.get("examples").and_then(Value::as_object).and_then(|m| m.values().next());
    if let Some(v) = first.map(|e| super::schema::deref(doc, e)).and_then(|e| e.get("value")) {
        return Some(v.clone());
    }
    let s = super::schema::deref(doc, p.get("schema")?);
    declared(s)
}

/// What the schema itself offers as an example.
fn declared(s: &Value) -> Option<Value> {
    s.get("example")
        .or_else(|| s.get("examples").and_then(Value::as_array).and_then(|e| e.first()))
        .or_else(|| s.get("default"))
        .or_else(|| s.get("const"))
        .or_else(|| s.get("enum").and_then(Value::as_array).and_then(|e| e.first()))
        .cloned()
}

/// A value the schema accepts, as plausible as the schema allows.
pub fn of_schema(doc: &Value, s: &Value) -> Value {
    build(doc, s, &mut Walk { stack: Vec::new(), left: MAX_NODES }, 0)
}

fn build(doc: &Value, s: &Value, w: &mut Walk, depth: usize) -> Value {
    if depth > MAX_DEPTH || w.left == 0 {
        return Value::Null;
    }
    w.left -= 1;
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        if w.stack.iter().any(|x| x == r) {
            return Value::Null;
        }
        let Some(target) = resolve(doc, r) else { return Value::Null };
        w.stack.push(r.to_string());
        let v = build(doc, target, w, depth + 1);
        w.stack.pop();
        return v;
    }
    if let Some(v) = declared(s) {
        return v;
    }
    if let Some(all) = s.get("allOf").and_then(Value::as_array) {
        let mut merged = Map::new();
        for part in all {
            if let Value::Object(m) = build(doc, part, w, depth + 1) {
                merged.extend(m);
            }
        }
        return Value::Object(merged);
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(first) = s.get(key).and_then(Value::as_array).and_then(|a| a.first()) {
            return build(doc, first, w, depth + 1);
        }
    }
    let ty = match s.get("type") {
        Some(Value::String(t)) => t.as_str(),
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).find(|t| *t != "null").unwrap_or("null"),
        _ if s.get("properties").is_some() => "object",
        _ if s.get("items").is_some() => "array",
        _ => "",
    };
    match ty {
        "object" => {
            let mut m = Map::new();
            for (name, p) in s.get("properties").and_then(Value::as_object).into_iter().flatten() {
                if p.get("readOnly").and_then(Value::as_bool) != Some(true) {
                    m.insert(name.clone(), build(doc, p, w, depth + 1));
                }
            }
            Value::Object(m)
        }
        "array" => match s.get("items") {
            Some(i) => Value::Array(vec![build(doc, i, w, depth + 1)]),
            None => Value::Array(Vec::new()),
        },
        "string" => Value::String(string_for(s.get("format").and_then(Value::as_str)).into()),
        "integer" => s.get("minimum").filter(|m| m.is_i64() || m.is_u64()).cloned().unwrap_or(Value::from(1)),
        "number" => s.get("minimum").filter(|m| m.is_number()).cloned().unwrap_or(Value::from(1.5)),
        "boolean" => Value::Bool(true),
        _ => Value::Null,
    }
}

fn string_for(format: Option<&str>) -> &'static str {
    match format {
        Some("date-time") => "2026-01-01T12:00:00Z",
        Some("date") => "2026-01-01",
        Some("email") => "dev@example.com",
        Some("uuid") => "3fa85f64-5717-4562-b3fc-2c963f66afa6",
        Some("uri") | Some("url") => "https://example.com/",
        Some("ipv4") => "192.0.2.1",
        Some("ipv6") => "2001:db8::1",
        _ => "string",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn builds_from_schema_with_refs_and_cycles() {
        let doc = json!({"components": {"schemas": {
            "Node": {"type": "object", "properties": {
                "name": {"type": "string"},
                "kind": {"enum": ["cat", "dog"]},
                "at": {"type": "string", "format": "date-time"},
                "id": {"type": "integer", "readOnly": true},
                "next": {"$ref": "#/components/schemas/Node"}}}}}});
        let v = of_schema(&doc, &json!({"$ref": "#/components/schemas/Node"}));
        assert_eq!(v, json!({"name": "string", "kind": "cat", "at": "2026-01-01T12:00:00Z", "next": null}));
    }

    #[test]
    fn media_example_wins_over_schema() {
        let doc = json!({});
        let media = json!({"examples": {"a": {"value": {"x": 1}}}, "schema": {"type": "string"}});
        assert_eq!(of_media(&doc, &media), Some(json!({"x": 1})));
    }
}
