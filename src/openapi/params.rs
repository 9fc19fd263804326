//! What an operation accepts: its parameters (path, query, header; path-item ones merged with the
//! operation's, the operation's winning) and its request body's media types. Schemas are kept as
//! JSON Pointers into the spec: `validate.rs` compiles them against the whole document.

use super::{deref_at, problem, token, SpecError};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamIn {
    Path,
    Query,
    Header,
}

impl ParamIn {
    pub fn as_str(self) -> &'static str {
        match self {
            ParamIn::Path => "path",
            ParamIn::Query => "query",
            ParamIn::Header => "header",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Param {
    pub name: String,
    pub location: ParamIn,
    pub required: bool,
    /// Where the parameter's `schema` is in the spec.
    pub schema: Option<String>,
    /// Where the parameter is in the spec (for problems found later).
    pub pointer: String,
}

#[derive(Debug, Clone, Default)]
pub struct RequestBody {
    pub required: bool,
    /// (media type as written, pointer of its `schema`).
    pub content: Vec<(String, Option<String>)>,
}

/// The parameters of `item` (at `item_at`) and `op` (at `op_at`): one per (in, name), the
/// operation's winning. Cookie parameters are not checked (the gateway reads no cookies).
pub fn parameters(
    path: &str,
    doc: &Value,
    item: &Value,
    item_at: &str,
    op: &Value,
    op_at: &str,
) -> Result<Vec<Param>, Vec<SpecError>> {
    let mut out: Vec<Param> = Vec::new();
    let mut errors = Vec::new();
    for (owner, at) in [(item, item_at), (op, op_at)] {
        let Some(list) = owner.get("parameters") else { continue };
        let Some(list) = list.as_array() else {
            errors.push(problem(format!("{at}/parameters"), "must be an array"));
            continue;
        };
        for (i, p) in list.iter().enumerate() {
            match parameter(doc, p, &format!("{at}/parameters/{i}")) {
                Ok(Some(p)) => {
                    out.retain(|o| !(o.location == p.location && o.name.eq_ignore_ascii_case(&p.name)));
                    out.push(p);
                }
                Ok(None) => {}
                Err(e) => errors.push(e),
            }
        }
    }
    // A path parameter names a `{template}` of the path, or could never be given.
    for p in out.iter().filter(|p| p.location == ParamIn::Path) {
        if !path.split('/').any(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) == Some(&p.name)) {
            errors.push(problem(
                format!("{}/name", p.pointer),
                format!("path parameter {:?} is not in the path {path:?}", p.name),
            ));
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

fn parameter(doc: &Value, p: &Value, at: &str) -> Result<Option<Param>, SpecError> {
    let (p, at) = deref_at(doc, p, at)?;
    let Some(name) = p.get("name").and_then(Value::as_str) else {
        return Err(problem(format!("{at}/name"), "missing: a parameter has a name"));
    };
    let location = match p.get("in").and_then(Value::as_str) {
        Some("path") => ParamIn::Path,
        Some("query") => ParamIn::Query,
        Some("header") => ParamIn::Header,
        Some("cookie") => return Ok(None),
        other => {
            let given = other.map_or("missing".to_string(), |o| format!("{o:?}"));
            return Err(problem(format!("{at}/in"), format!("{given}: must be path, query, header or cookie")));
        }
    };
    // OpenAPI: these header parameters are described by other means and ignored.
    if location == ParamIn::Header
        && ["accept", "content-type", "authorization"].contains(&name.to_ascii_lowercase().as_str())
    {
        return Ok(None);
    }
    let required = p.get("required").and_then(Value::as_bool).unwrap_or(false) || location == ParamIn::Path;
    let schema = p.get("schema").map(|_| format!("{at}/schema"));
    Ok(Some(Param { name: name.to_string(), location, required, schema, pointer: at }))
}

/// The operation's `requestBody`, if it documents one.
pub fn request_body(doc: &Value, op: &Value, op_at: &str) -> Result<Option<RequestBody>, SpecError> {
    let Some(b) = op.get("requestBody") else { return Ok(None) };
    let (b, at) = deref_at(doc, b, &format!("{op_at}/requestBody"))?;
    let required = b.get("required").and_then(Value::as_bool).unwrap_or(false);
    let Some(content) = b.get("content").and_then(Value::as_object) else {
        return Err(problem(format!("{at}/content"), "missing: a request body lists its media types"));
    };
    let content = content
        .iter()
        .map(|(media, m)| (media.clone(), m.get("schema").map(|_| format!("{at}/content/{}/schema", token(media)))))
        .collect();
    Ok(Some(RequestBody { required, content }))
}
