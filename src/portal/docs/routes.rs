//! Docs of an API without an OpenAPI document: its `[[api.route]]` entries (or its whole base
//! path), each with its methods, auth, samples and a try-it form, under a note saying so.

use super::call::{fill_path, Call, Credential};
use super::html::{esc, slug};
use super::{operation, samples, tryit, DocsInput};
use std::fmt::Write;

/// (path relative to the base path, methods, auth override, scopes)
type Shown<'a> = (&'a str, Vec<String>, Option<&'a Vec<crate::config::AuthMethod>>, &'a [String]);

pub fn render(out: &mut String, input: &DocsInput) {
    let cfg = &input.api.config;
    out.push_str("<p class=\"docs-note\">This API has no OpenAPI document: these are the routes the gateway serves, from its configuration. Request and response shapes are up to the service behind it.</p>");
    let routes: Vec<Shown> = if cfg.route.is_empty() {
        vec![("", Vec::new(), None, &[])]
    } else {
        cfg.route.iter().map(|r| (r.path.as_str(), r.methods.clone(), r.auth.as_ref(), r.scopes.as_slice())).collect()
    };
    out.push_str("<section class=\"docs-tag\" id=\"tag-routes\"><h2>Routes</h2>");
    for (n, (path, methods, auth, scopes)) in routes.into_iter().enumerate() {
        let full = crate::runtime::join_path(&input.api.base_path, path);
        let methods: Vec<String> = methods.iter().map(|m| m.to_ascii_uppercase()).collect();
        let shown = if methods.is_empty() { "ANY".to_string() } else { methods.join(" ") };
        let anchor = format!("route-{}-{}", n + 1, slug(&full));
        let _ = write!(out, "<section class=\"docs-op\" id=\"{}\"><h3 class=\"docs-op-title\">", esc(&anchor));
        for m in shown.split(' ') {
            let _ = write!(
                out,
                "<span class=\"docs-method docs-method-{}\">{}</span> ",
                esc(&m.to_ascii_lowercase()),
                esc(m)
            );
        }
        let _ = write!(out, "<code class=\"docs-path\">{}</code></h3>", esc(&full));
        let methods_needed = auth.unwrap_or(&cfg.auth);
        let _ = write!(
            out,
            "<p>{}</p>",
            operation::auth_text(methods_needed, cfg.key_header.as_str(), cfg.key_query.as_deref(), scopes)
        );
        let method = methods.first().cloned().unwrap_or_else(|| "GET".into());
        let call = Call {
            method,
            path: fill_path(&full, &[]),
            query: String::new(),
            headers: super::version_header(input.api),
            auth: Credential::pick(methods_needed, cfg.key_header.as_str(), cfg.key_query.as_deref()),
            body: None,
        };
        out.push_str("<h4>Code samples</h4>");
        out.push_str(&samples::render(&call, input.gateway_url));
        tryit::form(out, input, &call, &anchor, n + 1);
        out.push_str("</section>");
    }
    out.push_str("</section>");
}
