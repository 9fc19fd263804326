//! What an operation's `security` asks for, as the gateway's auth methods:
//! `apiKey` in a header or the query → `api_key`, `http` `bearer` (and `oauth2`/`openIdConnect`,
//! whose tokens are JWTs here) → `jwt` with the requirement's scopes, `http` `basic` → `basic`.
//! Alternatives (the list) are any-of, as in the gateway; several schemes in one requirement
//! (all-of) and cookie keys are refused. `security: []` or a `{}` alternative make it public.

use super::{deref, problem, token, SpecError};
use crate::config::AuthMethod;
use serde_json::Value;

/// An operation's authentication as the spec states it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Security {
    /// `None`: the spec says nothing, the API's `auth` applies; `Some([])`: public.
    pub auth: Option<Vec<AuthMethod>>,
    /// Scopes a JWT must grant (from the requirement, or `x-gatehouse-scopes`).
    pub scopes: Vec<String>,
    /// (`header` | `query`, name) of the API-key schemes used.
    pub key_places: Vec<(String, String)>,
}

/// The operation's `security`, else the document's.
pub fn of(doc: &Value, op: &Value, at: &str) -> Result<Security, SpecError> {
    let (reqs, rat) = match op.get("security") {
        Some(r) => (r, format!("{at}/security")),
        None => match doc.get("security") {
            Some(r) => (r, "/security".to_string()),
            None => return extension_scopes(op, at, Security::default()),
        },
    };
    let Some(reqs) = reqs.as_array() else { return Err(problem(rat, "must be an array of requirements")) };
    let mut out = Security { auth: Some(Vec::new()), ..Default::default() };
    let mut public = false;
    for (i, req) in reqs.iter().enumerate() {
        let at = format!("{rat}/{i}");
        let Some(req) = req.as_object() else { return Err(problem(at, "must be an object")) };
        let mut names = req.iter();
        let Some((name, scopes)) = names.next() else {
            public = true;
            continue;
        };
        if names.next().is_some() {
            return Err(problem(at, "several schemes in one requirement (all of them) are not supported"));
        }
        let pointer = format!("/components/securitySchemes/{}", token(name));
        let scheme = doc.pointer(&pointer).ok_or_else(|| problem(&at, format!("no security scheme {name:?}")))?;
        let scheme = deref(doc, scheme, &pointer)?;
        let method = method_of(scheme, &pointer, &mut out.key_places)?;
        if method == AuthMethod::Jwt {
            let s: Vec<String> =
                scopes.as_array().into_iter().flatten().filter_map(|s| s.as_str().map(str::to_string)).collect();
            if !s.is_empty() {
                out.scopes = s;
            }
        }
        let auth = out.auth.get_or_insert_with(Vec::new);
        if !auth.contains(&method) {
            auth.push(method);
        }
    }
    if public {
        out.auth = Some(Vec::new());
        out.scopes.clear();
    }
    extension_scopes(op, at, out)
}

fn method_of(scheme: &Value, at: &str, key_places: &mut Vec<(String, String)>) -> Result<AuthMethod, SpecError> {
    let field = |k: &str| scheme.get(k).and_then(Value::as_str).unwrap_or_default().to_ascii_lowercase();
    match field("type").as_str() {
        "apikey" => match field("in").as_str() {
            place @ ("header" | "query") => {
                let name = scheme.get("name").and_then(Value::as_str).unwrap_or_default();
                key_places.push((place.to_string(), name.to_string()));
                Ok(AuthMethod::ApiKey)
            }
            other => Err(problem(format!("{at}/in"), format!("API keys in {other:?} are not supported"))),
        },
        "http" => match field("scheme").as_str() {
            "bearer" => Ok(AuthMethod::Jwt),
            "basic" => Ok(AuthMethod::Basic),
            other => Err(problem(format!("{at}/scheme"), format!("HTTP scheme {other:?} is not supported"))),
        },
        "oauth2" | "openidconnect" => Ok(AuthMethod::Jwt),
        other => Err(problem(format!("{at}/type"), format!("security scheme type {other:?} is not supported"))),
    }
}

fn extension_scopes(op: &Value, at: &str, mut s: Security) -> Result<Security, SpecError> {
    if let Some(x) = op.get("x-gatehouse-scopes") {
        let list = x.as_array().filter(|a| a.iter().all(Value::is_string));
        let Some(list) = list else {
            return Err(problem(format!("{at}/x-gatehouse-scopes"), "must be an array of strings"));
        };
        s.scopes = list.iter().filter_map(|v| v.as_str().map(str::to_string)).collect();
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(security: Value) -> Value {
        json!({
            "security": security,
            "components": { "securitySchemes": {
                "key": { "type": "apiKey", "in": "query", "name": "k" },
                "cookie": { "type": "apiKey", "in": "cookie", "name": "c" },
                "jwt": { "type": "http", "scheme": "bearer" },
                "oidc": { "type": "openIdConnect", "openIdConnectUrl": "https://idp/.well-known" },
                "digest": { "type": "http", "scheme": "digest" }
            } }
        })
    }

    #[test]
    fn requirements_become_auth_methods() {
        let d = doc(json!([{ "key": [] }, { "oidc": ["pets:read"] }]));
        let s = of(&d, &json!({}), "/paths/~1a/get").unwrap();
        assert_eq!(s.auth, Some(vec![AuthMethod::ApiKey, AuthMethod::Jwt]));
        assert_eq!(s.scopes, ["pets:read"]);
        assert_eq!(s.key_places, [("query".to_string(), "k".to_string())]);
        // An operation's own list wins; `{}` among the alternatives makes it public.
        let s = of(&d, &json!({ "security": [{ "jwt": [] }, {}] }), "/x").unwrap();
        assert_eq!(s.auth, Some(vec![]));
        // Nothing anywhere: the API's auth applies.
        assert_eq!(of(&json!({}), &json!({ "x-gatehouse-scopes": ["a"] }), "/x").unwrap().auth, None);
    }

    #[test]
    fn unsupported_requirements_are_named() {
        let bad = |sec: Value| of(&doc(sec), &json!({}), "/p").unwrap_err().to_string();
        assert!(bad(json!([{ "key": [], "jwt": [] }])).contains("several schemes in one requirement"));
        assert!(bad(json!([{ "cookie": [] }])).contains("API keys in \"cookie\" are not supported"));
        assert!(bad(json!([{ "digest": [] }])).contains("HTTP scheme \"digest\" is not supported"));
        assert!(bad(json!([{ "nope": [] }])).starts_with("/security/0: no security scheme \"nope\""));
    }
}
