//! The try-it form of an operation, and reading it back. The form is the developer's own
//! request, but whoever posts it is untrusted: `parse_try_form` admits a fixed set of methods,
//! an origin-form path (no scheme, no host), header tokens and values without CR/LF, and bounded
//! sizes, and the portal never lets the form pick where the request goes (`relay` does not
//! take a URL).

use super::call::{Call, Credential, KEY_PLACEHOLDER};
use super::html::esc;
use super::{DocsInput, TryRequest};
use base64::Engine;
use std::fmt::Write;

pub const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
pub const MAX_PATH: usize = 2048;
pub const MAX_QUERY: usize = 4096;
pub const MAX_HEADERS: usize = 32;
pub const MAX_HEADER_LEN: usize = 8192;
pub const MAX_BODY: usize = 256 * 1024;
/// Headers the relay sets itself; a form may not (they would change where or how it is sent).
const RESERVED: [&str; 11] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "expect",
    "proxy-connection",
    "accept-encoding",
];

/// The form of one operation (class `try-form`, the page's first also `#try-form`; DOCS_JS
/// posts it and fills `#try-result`). An API key or token goes in the headers (or the query) as
/// the placeholder, which DOCS_JS swaps for a key just issued; basic credentials get a field.
pub fn form(out: &mut String, input: &DocsInput, call: &Call, anchor: &str, n: usize) {
    let id = if n == 1 { "try-form".to_string() } else { format!("try-form-{n}") };
    let _ = write!(
        out,
        "<details class=\"docs-try\"{}><summary>Try it</summary><form class=\"try-form\" id=\"{id}\" method=\"post\" action=\"{}\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><input type=\"hidden\" name=\"op\" value=\"{}\">",
        if n == 1 { " open" } else { "" },
        esc(input.try_path),
        esc(input.csrf_token),
        esc(anchor),
    );
    if !input.signed_in && call.auth != Credential::None {
        out.push_str("<p class=\"docs-note\"><a href=\"/login\">Sign in</a> and create an app to get a key.</p>");
    }
    let _ = write!(out, "<label for=\"{id}-method\">Method</label><select id=\"{id}-method\" name=\"method\">");
    for m in METHODS {
        let sel = if m == call.method { " selected" } else { "" };
        let _ = write!(out, "<option{sel}>{m}</option>");
    }
    out.push_str("</select>");
    field(out, &id, "path", "Path", &call.path);
    let mut query = call.query.clone();
    let mut headers: Vec<String> = Vec::new();
    match &call.auth {
        Credential::None => {}
        Credential::Header(h) => headers.push(format!("{h}: {KEY_PLACEHOLDER}")),
        Credential::Bearer => headers.push("Authorization: Bearer YOUR_TOKEN".into()),
        Credential::Query(q) => {
            let pair = form_urlencoded::Serializer::new(String::new()).append_pair(q, KEY_PLACEHOLDER).finish();
            query = if query.is_empty() { pair } else { format!("{query}&{pair}") };
        }
        Credential::Basic => {
            let _ = write!(out, "<input type=\"hidden\" name=\"auth\" value=\"basic\">");
            field(out, &id, "key", "Username:password", "");
        }
    }
    field(out, &id, "query", "Query", &query);
    headers.extend(call.headers.iter().map(|(k, v)| format!("{k}: {v}")));
    if let Some(b) = &call.body {
        headers.push(format!("Content-Type: {}", b.media));
    }
    textarea(out, &id, "headers", "Headers (one per line, Name: value)", &headers.join("\n"), 3);
    let body = call.body.as_ref().map(|b| b.text.as_str()).unwrap_or("");
    textarea(out, &id, "body", "Body", body, if body.is_empty() { 3 } else { 8 });
    out.push_str("<button type=\"submit\" class=\"docs-send\">Send request</button></form></details>");
}

fn field(out: &mut String, id: &str, name: &str, label: &str, value: &str) {
    let _ = write!(
        out,
        "<label for=\"{id}-{name}\">{label}</label><input id=\"{id}-{name}\" name=\"{name}\" value=\"{}\" spellcheck=\"false\">",
        esc(value)
    );
}

fn textarea(out: &mut String, id: &str, name: &str, label: &str, value: &str, rows: u8) {
    let _ = write!(
        out,
        "<label for=\"{id}-{name}\">{label}</label><textarea id=\"{id}-{name}\" name=\"{name}\" rows=\"{rows}\" spellcheck=\"false\">{}</textarea>",
        esc(value)
    );
}

/// An HTTP token (RFC 9110 `tchar`s).
fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn no_crlf(what: &str, s: &str) -> Result<(), String> {
    if s.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
        return Err(format!("{what} may not contain line breaks"));
    }
    Ok(())
}

/// Characters a request target may not carry as they are: encoded (space, quotes, `<>`, non-ASCII…).
const TARGET_ESCAPE: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'<')
    .add(b'>')
    .add(b'`')
    .add(b'#')
    .add(b'{')
    .add(b'}')
    .add(b'\\')
    .add(b'^')
    .add(b'|');

/// Read a posted try-it form into a request (fields: method, path, query, auth, key, headers, body).
pub fn parse_try_form(form: &[(String, String)]) -> Result<TryRequest, String> {
    if form.len() > 64 {
        return Err("too many form fields".into());
    }
    let get = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or("");
    let method = get("method").trim().to_ascii_uppercase();
    if !METHODS.contains(&method.as_str()) {
        return Err(format!("method must be one of {}", METHODS.join(", ")));
    }
    let (path, query) = target(get("path"), get("query"))?;
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in get("headers").lines() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(format!("header line {line:?} has no colon"));
        };
        push_header(&mut headers, name.trim(), value.trim())?;
    }
    let key = get("key").trim();
    no_crlf("the key", key)?;
    let mut query = query;
    if !key.is_empty() {
        match get("auth") {
            "" => {}
            "bearer" => push_header(&mut headers, "Authorization", &format!("Bearer {key}"))?,
            "basic" => {
                let b64 = base64::engine::general_purpose::STANDARD.encode(key);
                push_header(&mut headers, "Authorization", &format!("Basic {b64}"))?
            }
            a => match (a.strip_prefix("header:"), a.strip_prefix("query:")) {
                (Some(h), _) => push_header(&mut headers, h, key)?,
                (_, Some(q)) if !q.is_empty() => {
                    let pair = form_urlencoded::Serializer::new(String::new()).append_pair(q, key).finish();
                    query = if query.is_empty() { pair } else { format!("{query}&{pair}") };
                    if query.len() > MAX_QUERY {
                        return Err(format!("the query is longer than {MAX_QUERY} bytes"));
                    }
                }
                _ => return Err("unknown auth kind".into()),
            },
        }
    }
    let body = get("body").to_string();
    if body.len() > MAX_BODY {
        return Err(format!("the body is larger than {} KiB", MAX_BODY / 1024));
    }
    if !body.is_empty() && !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type")) {
        headers.push(("Content-Type".into(), "application/json".into()));
    }
    Ok(TryRequest { method, path, query, headers, body })
}

/// The path (origin form: starts with one `/`, no scheme or host) and query, encoded.
fn target(path: &str, query: &str) -> Result<(String, String), String> {
    no_crlf("the path", path)?;
    no_crlf("the query", query)?;
    let path = path.trim();
    let (path, inline_query) = path.split_once('?').unwrap_or((path, ""));
    if !path.starts_with('/') || path.starts_with("//") || path.contains("://") {
        return Err("the path must start with / (a path on the gateway, not a URL)".into());
    }
    if path.len() > MAX_PATH {
        return Err(format!("the path is longer than {MAX_PATH} bytes"));
    }
    let query = query.trim().trim_start_matches('?');
    let query = [inline_query, query].iter().filter(|q| !q.is_empty()).copied().collect::<Vec<_>>().join("&");
    if query.len() > MAX_QUERY {
        return Err(format!("the query is longer than {MAX_QUERY} bytes"));
    }
    let enc = |s: &str| percent_encoding::utf8_percent_encode(s, TARGET_ESCAPE).to_string();
    Ok((enc(path), enc(&query)))
}

fn push_header(headers: &mut Vec<(String, String)>, name: &str, value: &str) -> Result<(), String> {
    if !is_token(name) {
        return Err(format!("{name:?} is not a valid header name"));
    }
    no_crlf("a header value", value)?;
    if RESERVED.contains(&name.to_ascii_lowercase().as_str()) {
        return Err(format!("the {name} header is set by the portal"));
    }
    if name.len() + value.len() > MAX_HEADER_LEN || value.bytes().any(|b| b < 0x20 && b != b'\t' || b == 0x7f) {
        return Err(format!("the {name} header is too long or has control characters"));
    }
    if headers.len() >= MAX_HEADERS {
        return Err(format!("at most {MAX_HEADERS} headers"));
    }
    headers.push((name.to_string(), value.to_string()));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn credentials_go_where_the_api_takes_them() {
        let base = [("method", "get"), ("path", "/p"), ("query", "a=1")];
        let with = |auth: &str, key: &str| {
            let mut f = form(&base);
            f.extend(form(&[("auth", auth), ("key", key)]));
            parse_try_form(&f).unwrap()
        };
        let r = with("basic", "u:p w");
        assert_eq!(r.headers, vec![("Authorization".to_string(), "Basic dTpwIHc=".to_string())]);
        assert_eq!(with("bearer", "t").headers[0].1, "Bearer t");
        let r = with("query:api_key", "k&x=1");
        assert_eq!(r.query, "a=1&api_key=k%26x%3D1");
        assert!(r.headers.is_empty());
        assert_eq!(with("header:X-Key", "k").headers[0], ("X-Key".to_string(), "k".to_string()));
        // No key typed: nothing added.
        assert!(with("header:X-Key", "").headers.is_empty());
    }

    #[test]
    fn a_body_without_type_is_sent_as_json() {
        let r = parse_try_form(&form(&[("method", "POST"), ("path", "/p"), ("body", "{}")])).unwrap();
        assert_eq!(r.headers, vec![("Content-Type".to_string(), "application/json".to_string())]);
        let r = parse_try_form(&form(&[
            ("method", "POST"),
            ("path", "/p"),
            ("headers", "content-type: text/plain"),
            ("body", "x"),
        ]))
        .unwrap();
        assert_eq!(r.headers.len(), 1);
    }
}
