//! One concrete example call of an operation: what the code samples and the try-it form are
//! built from. Values from the spec are already percent-encoded in `path` and `query`; header
//! values lose control characters (they could not be sent anyway).

use crate::config::AuthMethod;
use serde_json::Value;

/// The placeholder the browser swaps for a freshly issued key.
pub const KEY_PLACEHOLDER: &str = "YOUR_API_KEY";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    None,
    /// An API key in this header.
    Header(String),
    /// An API key in this query parameter.
    Query(String),
    /// `Authorization: Bearer` (a JWT).
    Bearer,
    /// `Authorization: Basic`.
    Basic,
}

impl Credential {
    /// The credential a developer most likely has for these methods: the portal issues API keys,
    /// so a key wins when the API takes one.
    pub fn pick(methods: &[AuthMethod], key_header: &str, key_query: Option<&str>) -> Credential {
        if methods.contains(&AuthMethod::ApiKey) {
            match key_query {
                Some(q) if key_header.is_empty() => Credential::Query(q.to_string()),
                _ => Credential::Header(key_header.to_string()),
            }
        } else if methods.contains(&AuthMethod::Jwt) {
            Credential::Bearer
        } else if methods.contains(&AuthMethod::Basic) {
            Credential::Basic
        } else {
            Credential::None
        }
    }
}

#[derive(Debug, Clone)]
pub struct Body {
    pub media: String,
    /// The example as JSON, when the media type is JSON.
    pub json: Option<Value>,
    /// The example as sent: pretty JSON, or the text of a string example.
    pub text: String,
}

#[derive(Debug, Clone)]
pub struct Call {
    /// Upper case.
    pub method: String,
    /// The full gateway path (base path + operation path) with path parameters filled.
    pub path: String,
    /// Required query parameters, encoded, without `?`.
    pub query: String,
    /// Required header parameters.
    pub headers: Vec<(String, String)>,
    pub auth: Credential,
    pub body: Option<Body>,
}

impl Call {
    /// `path?query` as it goes on a request line.
    pub fn target(&self) -> String {
        if self.query.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{}", self.path, self.query)
        }
    }
}

/// A path segment or query value as text, percent-encoded for a URL.
pub fn encode(v: &str) -> String {
    percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC)
        .to_string()
        .replace("%2D", "-")
        .replace("%2E", ".")
        .replace("%5F", "_")
        .replace("%7E", "~")
}

/// A parameter value as it is written in a URL or header (strings bare, the rest as JSON).
pub fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(plain).collect::<Vec<_>>().join(","),
        v => v.to_string(),
    }
}

/// Header values without control characters (a CR or LF would end the header).
pub fn header_safe(v: &str) -> String {
    v.chars().filter(|c| !c.is_control()).collect()
}

/// `/pets/{id}` with each `{name}` replaced by its value (encoded), or by a placeholder.
pub fn fill_path(template: &str, values: &[(String, String)]) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else { break };
        out.push_str(&rest[..open]);
        let name = &rest[open + 1..open + close];
        match values.iter().find(|(n, _)| n == name) {
            Some((_, v)) => out.push_str(&encode(v)),
            None => out.push_str(&encode(&name.to_ascii_uppercase())),
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_values_are_encoded() {
        let v = vec![("id".to_string(), "1'$(rm -rf)/x y".to_string())];
        assert_eq!(fill_path("/pets/{id}/toys/{toy}", &v), "/pets/1%27%24%28rm%20-rf%29%2Fx%20y/toys/TOY");
    }

    #[test]
    fn a_key_wins_over_other_methods() {
        let m = [AuthMethod::Jwt, AuthMethod::ApiKey];
        assert_eq!(Credential::pick(&m, "X-API-Key", None), Credential::Header("X-API-Key".into()));
        assert_eq!(Credential::pick(&[AuthMethod::Basic], "X-API-Key", None), Credential::Basic);
        assert_eq!(Credential::pick(&[], "X-API-Key", None), Credential::None);
    }
}
