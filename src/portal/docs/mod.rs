//! The docs page of one API version, rendered on the server from its OpenAPI document (or from
//! its config routes when it has none): operations grouped by tag with parameters, bodies,
//! responses and schemas, code samples per operation, and a try-it form whose requests the
//! portal relays to the gateway (`relay`). The layout around the fragment is the portal's.

mod call;
mod example;
mod html;
mod operation;
mod relay;
mod routes;
mod samples;
mod schema;
mod tryit;

pub use call::KEY_PLACEHOLDER;
pub use relay::relay;
pub use tryit::parse_try_form;

use html::{description, esc};
use serde_json::Value;
use std::fmt::Write;

pub struct DocsInput<'a> {
    pub api: &'a crate::runtime::Api,
    /// The parsed OpenAPI document, if the API has `spec`.
    pub spec: Option<&'a Value>,
    /// Base URL of the proxy clients call, e.g. `http://127.0.0.1:8080`.
    pub gateway_url: &'a str,
    /// Where the try-it forms post, e.g. `/apis/pets/v1/try`.
    pub try_path: &'a str,
    /// The hidden `csrf` field of the try-it forms.
    pub csrf_token: &'a str,
    pub signed_in: bool,
}

/// A try-it request as posted (see `parse_try_form`). `path` and `query` are encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TryRequest {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// What the gateway answered; serialized as the JSON DOCS_JS reads
/// (`{"status", "headers": [[name, value]…], "body", "elapsed_ms"}`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TryResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub elapsed_ms: u64,
}

/// Served by the portal as `/assets/docs.js`: tabs, key fill-in, try-it over fetch.
pub const DOCS_JS: &str = include_str!("docs.js");
/// Served by the portal as `/assets/docs.css`: styles of `docs-` classes only.
pub const DOCS_CSS: &str = include_str!("docs.css");

/// The docs of one API version as an HTML fragment (no `<html>`/`<head>`).
pub fn render(input: &DocsInput) -> String {
    let api = input.api;
    let doc = input.spec;
    let mut out = String::from("<article class=\"docs\">");
    // The operator's `title` first, then the document's.
    let title = api
        .title
        .as_deref()
        .or(doc.and_then(|d| d.pointer("/info/title")).and_then(Value::as_str))
        .unwrap_or(&api.name);
    let _ = write!(
        out,
        "<header class=\"docs-head\"><h1>{}</h1><p class=\"docs-meta\"><span class=\"docs-version\">{}</span>",
        esc(title),
        esc(&api.version)
    );
    if let Some(v) = doc.and_then(|d| d.pointer("/info/version")).and_then(Value::as_str) {
        let _ = write!(out, " <span class=\"docs-spec-version\">document version {}</span>", esc(v));
    }
    out.push_str("</p>");
    lifecycle(&mut out, api);
    let base = format!("{}{}", input.gateway_url.trim_end_matches('/'), api.base_path.trim_end_matches('/'));
    let _ = write!(out, "<p class=\"docs-server\">Base URL: <code>{}</code></p>", esc(&base));
    description(
        &mut out,
        doc.and_then(|d| d.pointer("/info/description")).and_then(Value::as_str).or(api.config.description.as_deref()),
    );
    about(&mut out, doc);
    let cfg = &api.config;
    let _ = write!(
        out,
        "<p>{}</p></header>",
        operation::auth_text(&cfg.auth, cfg.key_header.as_str(), cfg.key_query.as_deref(), &[])
    );
    // The one result area; DOCS_JS moves it under the form that was sent.
    out.push_str("<section id=\"try-result\" class=\"docs-try-result\" aria-live=\"polite\" hidden><h4>Response <span id=\"try-status\"></span> <span id=\"try-elapsed\" class=\"docs-note\"></span></h4><pre id=\"try-headers\"></pre><pre id=\"try-body\"></pre></section>");
    match doc {
        Some(doc) => spec_docs(&mut out, input, doc),
        None => routes::render(&mut out, input),
    }
    out.push_str("</article>");
    out
}

/// The answer of a try-it request posted without JS, as a fragment for the portal's result
/// page (the same ids DOCS_JS fills in: `#try-status`, `#try-headers`, `#try-body`).
pub fn render_try_result(resp: &TryResponse) -> String {
    let headers: Vec<String> = resp.headers.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    format!(
        "<section id=\"try-result\" class=\"docs-try-result\"><h4>Response <span id=\"try-status\">{}</span> <span id=\"try-elapsed\" class=\"docs-note\">{} ms</span></h4><pre id=\"try-headers\">{}</pre><pre id=\"try-body\">{}</pre></section>",
        resp.status,
        resp.elapsed_ms,
        esc(&headers.join("\n")),
        esc(&resp.body)
    )
}

/// Contact, license, terms and external docs of the document, as far as given.
fn about(out: &mut String, doc: Option<&Value>) {
    let Some(doc) = doc else { return };
    let s = |p: &str| doc.pointer(p).and_then(Value::as_str);
    let mut parts = Vec::new();
    let email = s("/info/contact/email");
    if let Some(name) = s("/info/contact/name").or(email) {
        let mail = email.map(|e| format!(" ({})", html::link(Some(&format!("mailto:{e}")), e)));
        parts.push(format!("Contact: {}{}", html::link(s("/info/contact/url"), name), mail.unwrap_or_default()));
    }
    if let Some(name) = s("/info/license/name") {
        parts.push(format!("License: {}", html::link(s("/info/license/url"), name)));
    }
    if let Some(url) = s("/info/termsOfService") {
        parts.push(html::link(Some(url), "Terms of service"));
    }
    if let Some(url) = s("/externalDocs/url") {
        parts.push(html::link(Some(url), s("/externalDocs/description").unwrap_or("More documentation")));
    }
    if !parts.is_empty() {
        let _ = write!(out, "<p class=\"docs-about\">{}</p>", parts.join(" &middot; "));
    }
}

/// The version header a request needs when versions share this API's base path.
fn version_header(api: &crate::runtime::Api) -> Vec<(String, String)> {
    match api.vary {
        Some(_) => vec![(api.config.version_header.as_str().to_string(), api.version.clone())],
        None => Vec::new(),
    }
}

fn lifecycle(out: &mut String, api: &crate::runtime::Api) {
    use crate::config::ApiStatus;
    let date = |m: crate::config::Moment| humantime::format_rfc3339_seconds(m.0).to_string();
    let sunset = api.sunset.map(|s| format!(" Sunset: {}.", date(s))).unwrap_or_default();
    let successor = api
        .config
        .successor
        .as_ref()
        .map(|v| format!(" Use <a href=\"/apis/{}/{}\">version {}</a>.", esc(&api.name), esc(v), esc(v)))
        .unwrap_or_default();
    match api.status {
        ApiStatus::Active if sunset.is_empty() => {}
        ApiStatus::Active => {
            let _ = write!(out, "<p class=\"docs-banner\">{}</p>", sunset.trim());
        }
        ApiStatus::Deprecated => {
            let since = api.config.deprecated_since.map(|d| format!(" since {}", date(d))).unwrap_or_default();
            let _ = write!(out, "<p class=\"docs-banner docs-deprecated\">Deprecated{since}.{sunset}{successor}</p>");
        }
        ApiStatus::Retired => {
            let _ = write!(out, "<p class=\"docs-banner docs-retired\">Retired: requests get 410 Gone.{successor}</p>");
        }
    }
}

/// Operations grouped by tag (the document's `tags` order first), then the component schemas.
fn spec_docs(out: &mut String, input: &DocsInput, doc: &Value) {
    let mut ops: Vec<operation::Op> = Vec::new();
    for (path, item) in doc.get("paths").and_then(Value::as_object).into_iter().flatten() {
        let item = schema::deref(doc, item);
        for method in crate::openapi::METHODS {
            if let Some(op) = item.get(method).filter(|o| o.is_object()) {
                ops.push(operation::Op { path, method, item, op });
            }
        }
    }
    let tag_of = |op: &operation::Op| -> String {
        op.op
            .get("tags")
            .and_then(Value::as_array)
            .and_then(|t| t.first())
            .and_then(Value::as_str)
            .unwrap_or("Operations")
            .to_string()
    };
    let declared: Vec<&Value> = doc.get("tags").and_then(Value::as_array).into_iter().flatten().collect();
    let mut tags: Vec<String> =
        declared.iter().filter_map(|t| t.get("name").and_then(Value::as_str)).map(str::to_string).collect();
    for op in &ops {
        let t = tag_of(op);
        if !tags.contains(&t) {
            tags.push(t);
        }
    }
    tags.retain(|t| ops.iter().any(|op| tag_of(op) == *t));
    toc(out, &ops, &tags, tag_of, doc);
    let mut n = 0;
    for tag in &tags {
        let _ = write!(out, "<section class=\"docs-tag\" id=\"tag-{}\"><h2>{}</h2>", esc(&html::slug(tag)), esc(tag));
        let info = declared.iter().find(|t| t.get("name").and_then(Value::as_str) == Some(tag));
        description(out, info.and_then(|t| t.get("description")).and_then(Value::as_str));
        for op in ops.iter().filter(|op| tag_of(op) == *tag) {
            n += 1;
            operation::render(out, input, doc, op, n);
        }
        out.push_str("</section>");
    }
    if ops.is_empty() {
        out.push_str("<p class=\"docs-note\">This document describes no operations.</p>");
    }
    components(out, doc);
}

fn toc(
    out: &mut String,
    ops: &[operation::Op],
    tags: &[String],
    tag_of: impl Fn(&operation::Op) -> String,
    doc: &Value,
) {
    out.push_str("<nav class=\"docs-toc\" aria-label=\"Operations\"><ul>");
    for tag in tags {
        let _ = write!(out, "<li><a href=\"#tag-{}\">{}</a><ul>", esc(&html::slug(tag)), esc(tag));
        for op in ops.iter().filter(|op| tag_of(op) == *tag) {
            let label = op.op.get("summary").and_then(Value::as_str).unwrap_or(op.path);
            let _ = write!(
                out,
                "<li><a href=\"#{}\"><span class=\"docs-method docs-method-{}\">{}</span> {}</a></li>",
                esc(&op.anchor()),
                esc(op.method),
                esc(&op.method.to_ascii_uppercase()),
                esc(label)
            );
        }
        out.push_str("</ul></li>");
    }
    if doc.pointer("/components/schemas").and_then(Value::as_object).is_some_and(|s| !s.is_empty()) {
        out.push_str("<li><a href=\"#schemas\">Schemas</a></li>");
    }
    out.push_str("</ul></nav>");
}

/// Every named schema in its own linked section.
fn components(out: &mut String, doc: &Value) {
    let Some(schemas) = doc.pointer("/components/schemas").and_then(Value::as_object).filter(|s| !s.is_empty()) else {
        return;
    };
    out.push_str("<section class=\"docs-schemas\" id=\"schemas\"><h2>Schemas</h2>");
    for (name, s) in schemas {
        let _ = write!(
            out,
            "<section class=\"docs-component\" id=\"{}\"><h3><code>{}</code></h3>",
            esc(&schema::anchor(name)),
            esc(name)
        );
        if let Some(t) = s.get("title").and_then(Value::as_str) {
            let _ = write!(out, "<p>{}</p>", esc(t));
        }
        // Expanded from the document root so its own `$ref`s link back (and cycles stop).
        let r = format!("#/components/schemas/{}", name.replace('~', "~0").replace('/', "~1"));
        out.push_str(&schema::tree(doc, &serde_json::json!({ "$ref": r })));
        out.push_str("</section>");
    }
    out.push_str("</section>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_relayed_answer_is_escaped_on_the_result_page() {
        let resp = TryResponse {
            status: 200,
            headers: vec![("x-evil".into(), "<script>h</script>".into())],
            body: "<script>alert(1)</script>".into(),
            elapsed_ms: 3,
        };
        let html = render_try_result(&resp);
        assert!(!html.contains("<script"), "{html}");
        assert!(
            html.contains("id=\"try-status\">200</span> <span id=\"try-elapsed\" class=\"docs-note\">3 ms<")
                && html.contains("&lt;script&gt;alert(1)")
        );
    }
}
