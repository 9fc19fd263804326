//! JSON Schemas (OpenAPI 3.0 and 3.1 dialects) as nested, readable trees: type, facets,
//! properties, arrays, compositions. Local `$ref`s are followed (a named component is also
//! linked to its own section); a schema already being expanded, or one nested too deep, is only
//! linked, so cycles and huge documents stay finite.

use super::html::{esc, markdown, slug};
use serde_json::Value;
use std::fmt::Write;

/// Deeper schemas are linked, not expanded.
const MAX_DEPTH: usize = 8;
const SCHEMA_PREFIX: &str = "#/components/schemas/";

/// The anchor of a named component schema.
pub fn anchor(name: &str) -> String {
    format!("schema-{}", slug(name))
}

/// One schema as a tree.
pub fn tree(doc: &Value, schema: &Value) -> String {
    let mut out = String::from("<div class=\"docs-schema\">");
    node(&mut out, doc, schema, &mut Walk { stack: Vec::new(), left: MAX_NODES }, 0);
    out.push_str("</div>");
    out
}

/// A `$ref`'s target, when it is local.
pub fn resolve<'a>(doc: &'a Value, r: &str) -> Option<&'a Value> {
    doc.pointer(r.strip_prefix('#')?)
}

/// Follow `$ref`s (bounded) to the object they name.
pub fn deref<'a>(doc: &'a Value, mut v: &'a Value) -> &'a Value {
    for _ in 0..16 {
        match v.get("$ref").and_then(Value::as_str).and_then(|r| resolve(doc, r)) {
            Some(t) => v = t,
            None => break,
        }
    }
    v
}

/// Where a tree walk is: the references being expanded (a cycle guard) and how many more nodes
/// it may show (a budget: wide schemas that refer to each other would otherwise multiply).
struct Walk {
    stack: Vec<String>,
    left: usize,
}

/// Nodes one tree shows at most; past that, references are links only.
const MAX_NODES: usize = 400;

fn node(out: &mut String, doc: &Value, s: &Value, w: &mut Walk, depth: usize) {
    if w.left == 0 {
        out.push_str("<span class=\"docs-note\">…</span>");
        return;
    }
    w.left -= 1;
    if let Some(b) = s.as_bool() {
        out.push_str(if b {
            "<span class=\"docs-type\">any value</span>"
        } else {
            "<span class=\"docs-type\">nothing</span>"
        });
        return;
    }
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        reference(out, doc, r, w, depth);
        if let Some(d) = s.get("description").and_then(Value::as_str) {
            let _ = write!(out, "<div class=\"docs-desc\">{}</div>", markdown(d));
        }
        return;
    }
    let _ = write!(out, "<span class=\"docs-type\">{}</span>", esc(&type_name(s)));
    facets(out, s);
    if let Some(d) = s.get("description").and_then(Value::as_str) {
        let _ = write!(out, "<div class=\"docs-desc\">{}</div>", markdown(d));
    }
    if depth >= MAX_DEPTH {
        return;
    }
    if let Some(props) = s.get("properties").and_then(Value::as_object) {
        let required: Vec<&str> =
            s.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
        out.push_str("<ul class=\"docs-props\">");
        for (name, p) in props {
            if w.left == 0 {
                out.push_str("<li class=\"docs-note\">… (see the schemas below)</li>");
                break;
            }
            let _ = write!(out, "<li><code class=\"docs-prop\">{}</code> ", esc(name));
            if required.contains(&name.as_str()) {
                out.push_str("<span class=\"docs-required\">required</span> ");
            }
            node(out, doc, p, w, depth + 1);
            out.push_str("</li>");
        }
        out.push_str("</ul>");
    }
    match s.get("additionalProperties") {
        Some(Value::Bool(true)) => out.push_str("<div class=\"docs-note\">Other properties allowed.</div>"),
        Some(Value::Bool(false)) => out.push_str("<div class=\"docs-note\">No other properties.</div>"),
        Some(ap @ Value::Object(_)) => child(out, doc, "Other properties, each", ap, w, depth),
        _ => {}
    }
    if let Some(items) = s.get("items").filter(|i| i.is_object() || i.is_boolean()) {
        child(out, doc, "Items", items, w, depth);
    }
    if let Some(items) = s.get("prefixItems").and_then(Value::as_array) {
        alternatives(out, doc, "Leading items, in order", items, w, depth);
    }
    for (key, label) in [("allOf", "All of"), ("oneOf", "Exactly one of"), ("anyOf", "Any of")] {
        if let Some(alts) = s.get(key).and_then(Value::as_array) {
            alternatives(out, doc, label, alts, w, depth);
        }
    }
    if let Some(not) = s.get("not") {
        child(out, doc, "Not", not, w, depth);
    }
}

fn reference(out: &mut String, doc: &Value, r: &str, w: &mut Walk, depth: usize) {
    let Some(target) = resolve(doc, r) else {
        let _ = write!(out, "<span class=\"docs-type\">unresolved reference <code>{}</code></span>", esc(r));
        return;
    };
    if let Some(name) = r.strip_prefix(SCHEMA_PREFIX) {
        let name = name.replace("~1", "/").replace("~0", "~");
        let _ = write!(out, "<a class=\"docs-ref\" href=\"#{}\">{}</a> ", esc(&anchor(&name)), esc(&name));
    }
    if w.stack.iter().any(|s| s == r) {
        out.push_str("<span class=\"docs-note\">(recursive: see above)</span>");
        return;
    }
    if depth >= MAX_DEPTH || w.left == 0 {
        return;
    }
    w.stack.push(r.to_string());
    node(out, doc, target, w, depth + 1);
    w.stack.pop();
}

fn child(out: &mut String, doc: &Value, label: &str, s: &Value, w: &mut Walk, depth: usize) {
    let _ = write!(out, "<div class=\"docs-sub\"><span class=\"docs-label\">{}:</span> ", esc(label));
    node(out, doc, s, w, depth + 1);
    out.push_str("</div>");
}

fn alternatives(out: &mut String, doc: &Value, label: &str, alts: &[Value], w: &mut Walk, depth: usize) {
    let _ = write!(
        out,
        "<div class=\"docs-sub\"><span class=\"docs-label\">{}:</span><ol class=\"docs-alts\">",
        esc(label)
    );
    for a in alts {
        if w.left == 0 {
            out.push_str("<li class=\"docs-note\">…</li>");
            break;
        }
        out.push_str("<li>");
        node(out, doc, a, w, depth + 1);
        out.push_str("</li>");
    }
    out.push_str("</ol></div>");
}

/// `string`, `integer or null`, `array of string`, `object` (inferred when `type` is absent).
pub fn type_name(s: &Value) -> String {
    let mut types: Vec<String> = match s.get("type") {
        Some(Value::String(t)) => vec![t.clone()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        _ if s.get("properties").is_some() || s.get("additionalProperties").is_some() => vec!["object".into()],
        _ if s.get("items").is_some() => vec!["array".into()],
        _ if s.get("enum").is_some() || s.get("const").is_some() => vec!["value".into()],
        _ if ["allOf", "oneOf", "anyOf"].iter().any(|k| s.get(k).is_some()) => vec!["composed".into()],
        _ => vec!["any".into()],
    };
    if s.get("nullable").and_then(Value::as_bool) == Some(true) && !types.iter().any(|t| t == "null") {
        types.push("null".into());
    }
    let items =
        s.get("items").map(|i| i.get("$ref").and_then(Value::as_str).map(ref_name).unwrap_or_else(|| type_name(i)));
    let types: Vec<String> = types
        .into_iter()
        .map(|t| match (&*t, &items) {
            ("array", Some(i)) => format!("array of {i}"),
            _ => t,
        })
        .collect();
    types.join(" or ")
}

/// The last segment of a reference: the component's name.
fn ref_name(r: &str) -> String {
    r.rsplit('/').next().unwrap_or(r).replace("~1", "/").replace("~0", "~")
}

fn json(v: &Value) -> String {
    esc(&serde_json::to_string(v).unwrap_or_default())
}

/// The schema's constraints and hints, each a small tag.
fn facets(out: &mut String, s: &Value) {
    let mut tags: Vec<String> = Vec::new();
    if let Some(f) = s.get("format").and_then(Value::as_str) {
        tags.push(format!("format <code>{}</code>", esc(f)));
    }
    let bounds = [
        ("minimum", "≥"),
        ("maximum", "≤"),
        ("minLength", "min length"),
        ("maxLength", "max length"),
        ("minItems", "min items"),
        ("maxItems", "max items"),
        ("minProperties", "min properties"),
        ("maxProperties", "max properties"),
        ("multipleOf", "multiple of"),
    ];
    for (key, label) in bounds {
        if let Some(v) = s.get(key).filter(|v| v.is_number()) {
            // 3.0: `exclusiveMinimum: true` turns the bound strict.
            let strict = |k: &str| s.get(k).and_then(Value::as_bool) == Some(true);
            let label = match key {
                "minimum" if strict("exclusiveMinimum") => ">",
                "maximum" if strict("exclusiveMaximum") => "<",
                _ => label,
            };
            tags.push(format!("{} {}", esc(label), json(v)));
        }
    }
    // 3.1: exclusive bounds are numbers of their own.
    for (key, label) in [("exclusiveMinimum", ">"), ("exclusiveMaximum", "<")] {
        if let Some(v) = s.get(key).filter(|v| v.is_number()) {
            tags.push(format!("{} {}", esc(label), json(v)));
        }
    }
    if let Some(p) = s.get("pattern").and_then(Value::as_str) {
        tags.push(format!("pattern <code>{}</code>", esc(p)));
    }
    for (key, label) in [("uniqueItems", "unique items"), ("readOnly", "read-only"), ("writeOnly", "write-only")] {
        if s.get(key).and_then(Value::as_bool) == Some(true) {
            tags.push(label.into());
        }
    }
    if s.get("deprecated").and_then(Value::as_bool) == Some(true) {
        tags.push("<span class=\"docs-deprecated\">deprecated</span>".into());
    }
    if let Some(values) = s.get("enum").and_then(Value::as_array) {
        let list: Vec<String> = values.iter().map(|v| format!("<code>{}</code>", json(v))).collect();
        tags.push(format!("one of {}", list.join(", ")));
    }
    if let Some(c) = s.get("const") {
        tags.push(format!("always <code>{}</code>", json(c)));
    }
    if let Some(d) = s.get("default") {
        tags.push(format!("default <code>{}</code>", json(d)));
    }
    if let Some(d) = s.pointer("/discriminator/propertyName").and_then(Value::as_str) {
        tags.push(format!("picked by <code>{}</code>", esc(d)));
    }
    let example = s.get("example").or_else(|| s.get("examples").and_then(Value::as_array).and_then(|e| e.first()));
    if let Some(e) = example {
        tags.push(format!("example <code>{}</code>", json(e)));
    }
    for t in tags {
        let _ = write!(out, " <span class=\"docs-facet\">{t}</span>");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn compositions_maps_and_bounds_are_shown() {
        let doc = json!({"components": {"schemas": {"Cat": {"type": "object", "properties": {"lives": {"type": "integer", "minimum": 0, "exclusiveMaximum": 10}}}}}});
        let s = json!({
            "type": "object",
            "properties": {
                "pet": {"oneOf": [{"$ref": "#/components/schemas/Cat"}, {"type": "string"}], "discriminator": {"propertyName": "kind"}},
                "tags": {"type": "object", "additionalProperties": {"type": "string", "format": "uri"}},
                "closed": {"type": "object", "additionalProperties": false},
                "n": {"type": ["integer", "null"], "minimum": 1, "exclusiveMinimum": true, "multipleOf": 2},
                "list": {"type": "array", "items": {"$ref": "#/components/schemas/Cat"}, "minItems": 1, "uniqueItems": true},
                "all": {"allOf": [{"$ref": "#/components/schemas/Cat"}, {"type": "object", "properties": {"x": {}}}]},
                "any": {"anyOf": [{"type": "boolean"}, {"const": 3}]},
                "old": {"type": "string", "deprecated": true, "readOnly": true, "default": "a"}
            }
        });
        let html = tree(&doc, &s);
        for want in [
            "Exactly one of:",
            "picked by <code>kind</code>",
            "Other properties, each:",
            "format <code>uri</code>",
            "No other properties.",
            "integer or null",
            "&gt; 1",
            "multiple of 2",
            "array of Cat",
            "min items 1",
            "unique items",
            "All of:",
            "Any of:",
            "always <code>3</code>",
            "&lt; 10",
            "≥ 0",
            "deprecated",
            "read-only",
            "default <code>&quot;a&quot;</code>",
            "href=\"#schema-Cat\">Cat</a>",
        ] {
            assert!(html.contains(want), "{want} missing in {html}");
        }
    }

    /// Eight levels of twenty properties that each refer to the next level: 20^8 nodes if expanded.
    pub fn fan_out() -> Value {
        let mut schemas = serde_json::Map::new();
        for level in 0..8 {
            let props: serde_json::Map<String, Value> = (0..20)
                .map(|i| (format!("p{i}"), json!({"$ref": format!("#/components/schemas/L{}", level + 1)})))
                .collect();
            schemas.insert(format!("L{level}"), json!({"type": "object", "properties": props}));
        }
        schemas.insert("L8".into(), json!({"type": "string"}));
        json!({"components": {"schemas": schemas}})
    }

    #[test]
    fn wide_reference_graphs_stay_small() {
        let doc = fan_out();
        let html = tree(&doc, &json!({"$ref": "#/components/schemas/L0"}));
        assert!(html.len() < 200_000, "{} bytes", html.len());
        assert!(html.contains("href=\"#schema-L4\""), "deeper levels are linked");
        let ex = super::super::example::of_schema(&doc, &json!({"$ref": "#/components/schemas/L0"}));
        assert!(ex.to_string().len() < 20_000, "{}", ex.to_string().len());
    }

    #[test]
    fn cycles_and_depth_stop() {
        let doc = json!({"components": {"schemas": {"A": {"type": "object", "properties": {"b": {"$ref": "#/components/schemas/B"}}},
                                                     "B": {"type": "array", "items": {"$ref": "#/components/schemas/A"}}}}});
        let html = tree(&doc, &json!({"$ref": "#/components/schemas/A"}));
        assert_eq!(html.matches("(recursive: see above)").count(), 1, "{html}");
        // A chain deeper than the cap ends in a link.
        let mut deep = json!({"type": "string"});
        for _ in 0..40 {
            deep = json!({"type": "array", "items": deep});
        }
        assert!(tree(&doc, &deep).matches("<div class=\"docs-sub\">").count() <= MAX_DEPTH + 1);
    }
}
