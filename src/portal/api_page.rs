//! `/apis/{name}/{version}`: the API's header (status, auth, base path) around its docs, and
//! `/apis/{name}/{version}/try`, which relays a developer's request through the gateway's own
//! proxy listener (no cross-origin calls from the browser).
//!
//! The docs themselves (operations, schemas, code samples, the try-it forms) are
//! `portal::docs::render`'s; this file adds the page around them and the relay's checks.

use super::catalog::{badge, title};
use super::docs::{self, parse_try_form, relay, DocsInput, TryResponse};
use super::extract::CsrfForm;
use super::layout::Nav;
use super::page::{render, PageError};
use super::{session, PortalState};
use crate::runtime::Api;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::header::ACCEPT;
use http::HeaderMap;
use maud::{html, Markup};
use std::sync::Arc;

type St = State<Arc<PortalState>>;

fn find(st: &PortalState, name: &str, version: &str) -> Result<Arc<Api>, PageError> {
    st.runtime.load().apis.iter().find(|a| a.name == name && a.version == version).cloned().ok_or(PageError::NotFound)
}

/// The `Host` try-it requests carry: the API's first exact host, else the proxy's address.
fn host_for(st: &PortalState, api: &Api) -> String {
    api.hosts.iter().find(|h| !h.starts_with('*')).cloned().unwrap_or_else(|| st.proxy.to_string())
}

pub async fn page(
    State(st): St,
    headers: HeaderMap,
    Path((name, version)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let api = find(&st, &name, &version)?;
    // Not an `Option<SignedIn>` argument: an unknown API is "not found" without a store read.
    let user = session::current(&st, &headers).await?;
    let try_path = format!("/apis/{name}/{version}/try");
    let csrf = user.as_ref().map(|u| u.csrf.clone()).unwrap_or_default();
    let docs = docs::render(&DocsInput {
        api: &api,
        spec: api.spec.as_deref(),
        gateway_url: &st.gateway_url,
        try_path: &try_path,
        csrf_token: &csrf,
        signed_in: user.is_some(),
    });
    let t = title(&api);
    // The docs carry the title, version, base URL, description and auth; the page adds the
    // catalog's status badge and a way to sign in for try-it.
    let body = html! {
        p { (badge(&api)) }
        @if user.is_none() { p { a href="/login" { "Sign in" } " to send requests through the gateway with your own key." } }
        (maud::PreEscaped(docs))
    };
    Ok(render(&st, &Nav::of(user.as_ref(), "apis"), &t, body))
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
    CsrfForm { session: s, form }: CsrfForm,
) -> Response {
    let result = async {
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
        Ok((api, r)) => render(&st, &Nav::of(Some(&s), "apis"), "Try-it result", result_page(&api, &r)),
        Err(e) => e.into_response(),
    }
}

fn result_page(api: &Api, r: &TryResponse) -> Markup {
    html! {
        p { a href={ "/apis/" (api.name) "/" (api.version) } { "← Back to " (title(api)) } }
        h1 { "Response" }
        (maud::PreEscaped(docs::render_try_result(r)))
    }
}
