//! One spec operation as a docs section: method badge, gateway path, summary, description,
//! deprecation, auth, parameters, request body, responses, code samples and a try-it form.

use super::call::{fill_path, header_safe, plain, Body, Call, Credential};
use super::html::{description, esc, slug};
use super::schema::{deref, tree};
use super::{example, samples, tryit, DocsInput};
use crate::config::AuthMethod;
use serde_json::Value;
use std::fmt::Write;

/// An operation as found in the document.
pub struct Op<'a> {
    pub path: &'a str,
    pub method: &'a str,
    pub item: &'a Value,
    pub op: &'a Value,
}

impl Op<'_> {
    /// A stable anchor: the `operationId`, else method and path.
    pub fn anchor(&self) -> String {
        match self.op.get("operationId").and_then(Value::as_str) {
            Some(id) => format!("op-{}", slug(id)),
            None => format!("op-{}-{}", self.method, slug(self.path)),
        }
    }

    /// Path-item parameters merged with the operation's (the operation's win, by name and `in`).
    fn params<'d>(&self, doc: &'d Value) -> Vec<&'d Value>
    where
        Self: 'd,
    {
        let own: Vec<&Value> = list(self.op.get("parameters")).map(|p| deref(doc, p)).collect();
        let key = |p: &Value| (p.get("name").cloned(), p.get("in").cloned());
        let inherited =
            list(self.item.get("parameters")).map(|p| deref(doc, p)).filter(|p| !own.iter().any(|o| key(o) == key(p)));
        inherited.chain(own.iter().copied()).collect()
    }
}

fn list(v: Option<&Value>) -> impl Iterator<Item = &Value> {
    v.and_then(Value::as_array).into_iter().flatten()
}

fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// The auth methods this operation needs (spec `security`, else the API's `auth`) and scopes.
fn auth_of(input: &DocsInput, doc: &Value, op: &Op) -> (Vec<AuthMethod>, Vec<String>) {
    let at = format!("/paths/{}/{}", op.path.replace('~', "~0").replace('/', "~1"), op.method);
    match crate::openapi::security::of(doc, op.op, &at) {
        Ok(s) => (s.auth.unwrap_or_else(|| input.api.config.auth.clone()), s.scopes),
        Err(_) => (input.api.config.auth.clone(), Vec::new()),
    }
}

pub fn auth_text(methods: &[AuthMethod], key_header: &str, key_query: Option<&str>, scopes: &[String]) -> String {
    if methods.is_empty() {
        return "<span class=\"docs-auth\">Public: no credentials needed.</span>".into();
    }
    let names: Vec<String> = methods
        .iter()
        .map(|m| match m {
            AuthMethod::ApiKey => match key_query {
                Some(q) => {
                    format!("API key in header <code>{}</code> or query <code>{}</code>", esc(key_header), esc(q))
                }
                None => format!("API key in header <code>{}</code>", esc(key_header)),
            },
            AuthMethod::Jwt => "JWT as <code>Authorization: Bearer</code>".into(),
            AuthMethod::Basic => "HTTP Basic".into(),
        })
        .collect();
    let mut s = format!("<span class=\"docs-auth\">Needs one of: {}", names.join("; "));
    if !scopes.is_empty() {
        let scopes: Vec<String> = scopes.iter().map(|s| format!("<code>{}</code>", esc(s))).collect();
        let _ = write!(s, ". JWT scopes: {}", scopes.join(", "));
    }
    s.push_str(".</span>");
    s
}

/// The operation's section.
pub fn render(out: &mut String, input: &DocsInput, doc: &Value, op: &Op, n: usize) {
    let full = crate::runtime::join_path(&input.api.base_path, op.path);
    let method = op.method.to_ascii_uppercase();
    let deprecated = op.op.get("deprecated").and_then(Value::as_bool) == Some(true);
    let _ = write!(
        out,
        "<section class=\"docs-op{}\" id=\"{}\"><h3 class=\"docs-op-title\"><span class=\"docs-method docs-method-{}\">{}</span> <code class=\"docs-path\">{}</code>",
        if deprecated { " docs-op-deprecated" } else { "" },
        esc(&op.anchor()),
        esc(op.method),
        esc(&method),
        esc(&full)
    );
    if let Some(s) = text(op.op, "summary") {
        let _ = write!(out, " <span class=\"docs-summary\">{}</span>", esc(s));
    }
    out.push_str("</h3>");
    if deprecated {
        out.push_str("<p class=\"docs-deprecated\">Deprecated");
        let api_since = input.api.config.deprecated_since.map(|m| humantime::format_rfc3339_seconds(m.0).to_string());
        if let Some(since) = op.op.get("x-deprecated-since").map(plain).or(api_since) {
            let _ = write!(out, " since {}", esc(&since));
        }
        out.push_str(": plan to move off this operation.</p>");
    }
    description(out, text(op.op, "description"));
    let (methods, scopes) = auth_of(input, doc, op);
    let cfg = &input.api.config;
    let _ = write!(out, "<p>{}</p>", auth_text(&methods, cfg.key_header.as_str(), cfg.key_query.as_deref(), &scopes));
    let params = op.params(doc);
    parameters(out, doc, &params);
    let body = request_body(out, doc, op.op);
    responses(out, doc, op.op);
    let call = Call {
        method,
        path: fill_path(&full, &values(doc, &params, "path")),
        query: query(doc, &params),
        headers: super::version_header(input.api)
            .into_iter()
            .chain(values(doc, &params, "header"))
            .map(|(k, v)| (header_safe(&k), header_safe(&v)))
            .collect(),
        auth: Credential::pick(&methods, cfg.key_header.as_str(), cfg.key_query.as_deref()),
        body,
    };
    out.push_str("<h4>Code samples</h4>");
    out.push_str(&samples::render(&call, input.gateway_url));
    tryit::form(out, input, &call, &op.anchor(), n);
    out.push_str("</section>");
}

/// (name, example) of the required parameters in `place`.
fn values(doc: &Value, params: &[&Value], place: &str) -> Vec<(String, String)> {
    params
        .iter()
        .filter(|p| {
            text(p, "in") == Some(place)
                && (place == "path" || p.get("required").and_then(Value::as_bool) == Some(true))
        })
        .filter_map(|p| {
            let name = text(p, "name")?.to_string();
            let v = example::of_param(doc, p).or_else(|| numeric_example(doc, p));
            let v = v.map(|v| plain(&v)).unwrap_or_else(|| name.to_ascii_uppercase());
            Some((name, v))
        })
        .collect()
}

/// A number for a numeric parameter without an example (`/pets/1` reads better than `/pets/ID`).
fn numeric_example(doc: &Value, p: &Value) -> Option<Value> {
    let s = deref(doc, p.get("schema")?);
    let numeric = matches!(s.get("type").and_then(Value::as_str), Some("integer" | "number"));
    numeric.then(|| example::of_schema(doc, s))
}

fn query(doc: &Value, params: &[&Value]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in values(doc, params, "query") {
        q.append_pair(&k, &v);
    }
    q.finish()
}

fn parameters(out: &mut String, doc: &Value, params: &[&Value]) {
    if params.is_empty() {
        return;
    }
    out.push_str("<h4>Parameters</h4><div class=\"docs-table-wrap\"><table class=\"docs-params\"><thead><tr><th>Name</th><th>In</th><th>Type</th><th>Description</th></tr></thead><tbody>");
    for p in params {
        let schema = p.get("schema").cloned().unwrap_or(Value::Null);
        let _ = write!(
            out,
            "<tr><td><code class=\"docs-param\">{}</code>{}</td><td>{}</td><td>{}</td><td>",
            esc(text(p, "name").unwrap_or("")),
            if p.get("required").and_then(Value::as_bool) == Some(true) {
                " <span class=\"docs-required\">required</span>"
            } else {
                ""
            },
            esc(text(p, "in").unwrap_or("")),
            tree(doc, &schema),
        );
        if p.get("deprecated").and_then(Value::as_bool) == Some(true) {
            out.push_str("<span class=\"docs-deprecated\">deprecated</span> ");
        }
        description(out, text(p, "description"));
        if let Some(e) = example::of_param(doc, p).filter(|_| p.get("example").is_some() || p.get("examples").is_some())
        {
            let _ = write!(out, "<div>Example: <code>{}</code></div>", esc(&plain(&e)));
        }
        out.push_str("</td></tr>");
    }
    out.push_str("</tbody></table></div>");
}

/// The request body's section; the example body of its first media type (JSON preferred).
fn request_body(out: &mut String, doc: &Value, op: &Value) -> Option<Body> {
    let rb = deref(doc, op.get("requestBody")?);
    let content = rb.get("content").and_then(Value::as_object)?;
    let _ = write!(
        out,
        "<h4>Request body{}</h4>",
        if rb.get("required").and_then(Value::as_bool) == Some(true) {
            " <span class=\"docs-required\">required</span>"
        } else {
            ""
        }
    );
    description(out, text(rb, "description"));
    for (media, m) in content {
        media_block(out, doc, media, m);
    }
    let (media, m) = content.iter().find(|(k, _)| is_json(k)).or_else(|| content.iter().next())?;
    let ex = example::of_media(doc, m)?;
    Some(if is_json(media) {
        Body { media: media.clone(), text: serde_json::to_string_pretty(&ex).unwrap_or_default(), json: Some(ex) }
    } else if let (true, Some(fields)) = (media.starts_with("application/x-www-form-urlencoded"), ex.as_object()) {
        let mut form = form_urlencoded::Serializer::new(String::new());
        for (k, v) in fields {
            form.append_pair(k, &plain(v));
        }
        Body { media: media.clone(), text: form.finish(), json: None }
    } else {
        Body { media: media.clone(), text: plain(&ex), json: None }
    })
}

fn is_json(media: &str) -> bool {
    let m = media.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    m == "application/json" || m.ends_with("+json")
}

fn media_block(out: &mut String, doc: &Value, media: &str, m: &Value) {
    let _ = write!(out, "<div class=\"docs-media\"><div class=\"docs-media-type\"><code>{}</code></div>", esc(media));
    if let Some(s) = m.get("schema") {
        out.push_str(&tree(doc, s));
    }
    let mut examples: Vec<(String, Value)> = Vec::new();
    if let Some(e) = m.get("example") {
        examples.push(("Example".into(), e.clone()));
    }
    for (name, e) in m.get("examples").and_then(Value::as_object).into_iter().flatten() {
        let e = deref(doc, e);
        let title = text(e, "summary").map(|s| format!("{name}: {s}")).unwrap_or_else(|| name.clone());
        if let Some(v) = e.get("value") {
            examples.push((title, v.clone()));
        }
    }
    for (title, v) in examples {
        let shown = match &v {
            Value::String(s) => s.clone(),
            v => serde_json::to_string_pretty(v).unwrap_or_default(),
        };
        let _ = write!(
            out,
            "<div class=\"docs-example\"><div class=\"docs-label\">{}</div><pre><code>{}</code></pre></div>",
            esc(&title),
            esc(&shown)
        );
    }
    out.push_str("</div>");
}

fn responses(out: &mut String, doc: &Value, op: &Value) {
    let Some(rs) = op.get("responses").and_then(Value::as_object) else { return };
    out.push_str("<h4>Responses</h4><div class=\"docs-responses\">");
    for (status, r) in rs {
        let r = deref(doc, r);
        let class = status
            .chars()
            .next()
            .filter(char::is_ascii_digit)
            .map(|c| format!("docs-status-{c}xx"))
            .unwrap_or_default();
        let _ = write!(
            out,
            "<div class=\"docs-response\"><div><span class=\"docs-status {class}\">{}</span></div>",
            esc(status)
        );
        description(out, text(r, "description"));
        if let Some(hs) = r.get("headers").and_then(Value::as_object) {
            out.push_str("<div class=\"docs-label\">Headers</div><ul class=\"docs-props\">");
            for (name, h) in hs {
                let h = deref(doc, h);
                let _ = write!(out, "<li><code class=\"docs-header\">{}</code> ", esc(name));
                out.push_str(&tree(doc, h.get("schema").unwrap_or(&Value::Null)));
                description(out, text(h, "description"));
                out.push_str("</li>");
            }
            out.push_str("</ul>");
        }
        for (media, m) in r.get("content").and_then(Value::as_object).into_iter().flatten() {
            media_block(out, doc, media, m);
        }
        out.push_str("</div>");
    }
    out.push_str("</div>");
}
