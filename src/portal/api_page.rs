//! `/apis/{name}/{version}`: the API's header (status, auth, base path) around its docs, and
//! `/apis/{name}/{version}/try`, which relays a developer's request through the gateway's own
//! proxy listener (no cross-origin calls from the browser).
//!
//! The docs themselves (operations, schemas, samples, the try-it form) come from
//! `portal::docs::render` once the docs module is merged; until then `placeholder_docs` lists
//! the operations and offers a plain try-it form with the same ids (`#try-form`, `#try-status`).

use super::catalog::{auth_methods, badge, description, title};
use super::form::Form;
use super::layout::Nav;
use super::page::{render, PageError};
use super::try_it::{parse_try_form, relay, TryResponse};
use super::{session, PortalState};
use crate::runtime::Api;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::header::ACCEPT;
use http::HeaderMap;
use maud::{html, Markup};
use std::sync::Arc;

type St = State<Arc<PortalState>>;

/// The placeholder the docs' code samples carry; the page script swaps in a key just issued.
pub const KEY_PLACEHOLDER: &str = "YOUR_API_KEY";

fn find(st: &PortalState, name: &str, version: &str) -> Result<Arc<Api>, PageError> {
    st.runtime.load().apis.iter().find(|a| a.name == name && a.version == version).cloned().ok_or(PageError::NotFound)
}

/// The `Host` try-it requests carry: the API's first exact host, else the proxy's address.
fn host_for(st: &PortalState, api: &Api) -> String {
    api.hosts.iter().find(|h| !h.starts_with('*')).cloned().unwrap_or_else(|| st.proxy.to_string())
}

fn placeholder_docs(api: &Api, try_path: &str, csrf: &str, signed_in: bool) -> Markup {
    let ops: Vec<(String, String, String)> = api
        .spec
        .as_ref()
        .and_then(|s| s.get("paths"))
        .and_then(|p| p.as_object())
        .map(|paths| {
            let mut out = Vec::new();
            for (path, item) in paths {
                for (m, op) in item.as_object().into_iter().flatten() {
                    if ["get", "put", "post", "delete", "patch", "head", "options"].contains(&m.as_str()) {
                        let summary = op.get("summary").and_then(|s| s.as_str()).unwrap_or_default();
                        out.push((
                            m.to_uppercase(),
                            crate::runtime::join_path(&api.base_path, path),
                            summary.to_string(),
                        ));
                    }
                }
            }
            out
        })
        .unwrap_or_default();
    let first = ops.iter().find(|o| o.0 == "GET").map(|o| o.1.clone()).unwrap_or_else(|| api.base_path.clone());
    let key_line = if api.config.auth.contains(&crate::config::AuthMethod::ApiKey) {
        format!("{}: {KEY_PLACEHOLDER}", api.config.key_header)
    } else {
        String::new()
    };
    html! {
        section class="operations" aria-label="Operations" {
            h2 { "Operations" }
            @if ops.is_empty() { p { "Every path under " code { (api.base_path) } "." } }
            ul { @for (m, p, s) in &ops { li { code { (m) " " (p) } @if !s.is_empty() { " — " (s) } } } }
        }
        section class="try" aria-label="Try it" {
            h2 { "Try it" }
            @if !signed_in { p { a href="/login" { "Sign in" } " to send requests through the gateway." } }
            @else {
                form id="try-form" method="post" action=(try_path) class="stack" {
                    input type="hidden" name="csrf" value=(csrf);
                    label for="try-method" { "Method" }
                    select id="try-method" name="method" { @for m in ["GET", "POST", "PUT", "PATCH", "DELETE"] { option { (m) } } }
                    label for="try-path" { "Path" }
                    input id="try-path" name="path" value=(first) required;
                    label for="try-query" { "Query" }
                    input id="try-query" name="query" placeholder="name=value&other=value";
                    label for="try-headers" { "Headers (one per line)" }
                    textarea id="try-headers" name="headers" rows="3" { (key_line) }
                    label for="try-body" { "Body" }
                    textarea id="try-body" name="body" rows="4" {}
                    button type="submit" { "Send" }
                }
            }
        }
    }
}

pub async fn page(
    State(st): St,
    headers: HeaderMap,
    Path((name, version)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let api = find(&st, &name, &version)?;
    let user = session::current(&st, &headers).await?;
    let try_path = format!("/apis/{name}/{version}/try");
    let csrf = user.as_ref().map(|u| u.csrf.clone()).unwrap_or_default();
    let docs = placeholder_docs(&api, &try_path, &csrf, user.is_some());
    let t = title(&api);
    let d = description(&api);
    let body = html! {
        h1 { (t) " " span class="version" { (api.version) } }
        p { (badge(&api)) " " span class="auth" { "Auth: " (auth_methods(&api)) } }
        p { "Base URL: " code id="base-url" { (st.gateway_url) (api.base_path) } }
        @if !d.is_empty() { p class="description" { (d) } }
        div class="docs" { (docs) }
    };
    let nav = Nav { user: user.map(|u| (u.email, u.csrf)), current: "apis" };
    Ok(render(&st, &nav, &t, body))
}

fn names_a_client(header: &str) -> bool {
    let h = header.to_ascii_lowercase();
    h == "forwarded" || h == "x-real-ip" || h.starts_with("x-forwarded-")
}

fn wants_json(headers: &HeaderMap) -> bool {
    headers.get(ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("application/json"))
}

pub async fn try_it(
    State(st): St,
    headers: HeaderMap,
    Path((name, version)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let s = match session::required(&st, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let form = Form::parse(&body);
    let result = async {
        session::check_csrf(&headers, &s, &form)?;
        let api = find(&st, &name, &version)?;
        // The relay comes from this host: an API fenced by client address must not be opened
        // to anyone with a portal account.
        if !api.config.ip_allow.is_empty() {
            return Err(PageError::BadRequest(
                "This API accepts only certain client addresses: call it directly.".into(),
            ));
        }
        let req = parse_try_form(form.pairs()).map_err(PageError::BadRequest)?;
        // Whoever parsed the form: the relay comes from this host, which may be a trusted proxy
        // of the gateway, so a developer must not name another client address.
        if let Some((n, _)) = req.headers.iter().find(|(n, _)| names_a_client(n)) {
            return Err(PageError::BadRequest(format!("The {n} header cannot be sent from here.")));
        }
        let host = host_for(&st, &api);
        relay(st.proxy, &host, req).await.map_err(PageError::BadRequest).map(|r| (api, r))
    }
    .await;
    match result {
        Ok((_, r)) if wants_json(&headers) => Json(serde_json::json!({
            "status": r.status, "headers": r.headers, "body": r.body, "elapsed_ms": r.elapsed_ms,
        }))
        .into_response(),
        Ok((api, r)) => {
            let nav = Nav { user: Some((s.email.clone(), s.csrf.clone())), current: "apis" };
            render(&st, &nav, "Try-it result", result_page(&api, &r))
        }
        Err(e) => e.into_response(),
    }
}

fn result_page(api: &Api, r: &TryResponse) -> Markup {
    html! {
        p { a href={ "/apis/" (api.name) "/" (api.version) } { "← Back to " (title(api)) } }
        h1 { "Response" }
        p { "Status " strong id="try-status" { (r.status) } " in " (r.elapsed_ms) " ms" }
        table id="try-headers-out" { tbody { @for (n, v) in &r.headers { tr { th scope="row" { (n) } td { (v) } } } } }
        pre id="try-body-out" { code { (r.body) } }
    }
}
