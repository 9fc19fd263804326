//! `/`: every API and version of the serving config, with title, description, lifecycle
//! badge and auth methods; filtered by a plain GET form (`q`, `status`) that needs no script.

use super::extract::SignedIn;
use super::layout::Nav;
use super::page::{render, PageError};
use super::PortalState;
use crate::config::{ApiStatus, AuthMethod};
use crate::runtime::Api;
use axum::extract::{Query, State};
use axum::response::Response;
use maud::{html, Markup};
use serde::Deserialize;
use std::sync::Arc;

#[derive(Deserialize, Default)]
pub struct Filter {
    #[serde(default)]
    q: String,
    #[serde(default)]
    status: String,
}

pub fn title(api: &Api) -> String {
    api.title
        .clone()
        .or_else(|| api.spec.as_ref().and_then(|s| s.pointer("/info/title")).and_then(|t| t.as_str()).map(String::from))
        .unwrap_or_else(|| api.name.clone())
}

/// The config's `description`, else the spec's `info.description`.
pub fn description(api: &Api) -> String {
    api.config
        .description
        .clone()
        .or_else(|| {
            api.spec.as_ref().and_then(|s| s.pointer("/info/description")).and_then(|d| d.as_str()).map(String::from)
        })
        .unwrap_or_default()
}

/// The first paragraph, at most 300 characters (the API's page has the whole text).
fn summary(d: &str) -> String {
    let first = d.trim().split("\n\n").next().unwrap_or_default();
    match first.char_indices().nth(300) {
        Some((cut, _)) => format!("{}…", &first[..cut]),
        None => first.to_string(),
    }
}

fn date(m: crate::config::Moment) -> String {
    humantime::format_rfc3339_seconds(m.0).to_string().chars().take(10).collect()
}

/// Retired, or past its sunset: the gateway answers 410.
pub fn status_word(api: &Api) -> &'static str {
    let past_sunset = api.sunset.is_some_and(|s| s.0 <= std::time::SystemTime::now());
    match api.status {
        ApiStatus::Retired => "retired",
        _ if past_sunset => "retired",
        ApiStatus::Deprecated => "deprecated",
        ApiStatus::Active => "active",
    }
}

pub fn badge(api: &Api) -> Markup {
    let word = status_word(api);
    html! {
        span class={ "badge " (word) } {
            (word)
            @if let (Some(s), false) = (api.sunset, word == "retired") { " · sunset " (date(s)) }
        }
    }
}

pub fn auth_methods(api: &Api) -> String {
    if api.config.auth.is_empty() {
        return "public".into();
    }
    let names: Vec<&str> = api
        .config
        .auth
        .iter()
        .map(|m| match m {
            AuthMethod::ApiKey => "API key",
            AuthMethod::Jwt => "JWT",
            AuthMethod::Basic => "basic",
        })
        .collect();
    names.join(", ")
}

fn matches(api: &Api, f: &Filter) -> bool {
    let q = f.q.trim().to_lowercase();
    let text = !q.is_empty() && {
        let hay = format!("{} {} {} {}", api.name, api.version, title(api), description(api)).to_lowercase();
        !q.split_whitespace().all(|w| hay.contains(w))
    };
    let status = !f.status.is_empty() && f.status != status_word(api);
    !text && !status
}

pub async fn page(
    State(st): State<Arc<PortalState>>,
    Query(f): Query<Filter>,
    user: Option<SignedIn>,
) -> Result<Response, PageError> {
    let rt = st.runtime.load();
    let apis: Vec<&Arc<Api>> = rt.apis.iter().filter(|a| matches(a, &f)).collect();
    let body = html! {
        h1 { "APIs" }
        form method="get" action="/" class="filter" role="search" {
            label for="q" { "Search" }
            input id="q" name="q" type="search" value=(f.q) maxlength="200";
            label for="status" { "Status" }
            select id="status" name="status" {
                @for (v, label) in [("", "any"), ("active", "active"), ("deprecated", "deprecated"), ("retired", "retired")] {
                    option value=(v) selected[f.status == v] { (label) }
                }
            }
            button type="submit" { "Filter" }
        }
        @if apis.is_empty() { p id="no-apis" { "No API matches." } }
        ul class="cards" id="catalog" {
            @for a in &apis {
                li class="card" {
                    h2 { a href={ "/apis/" (a.name) "/" (a.version) } { (title(a)) } " " span class="version" { (a.version) } }
                    p { (badge(a)) " " span class="auth" { "Auth: " (auth_methods(a)) } }
                    @let d = summary(&description(a));
                    @if !d.is_empty() { p class="description" { (d) } }
                    p class="base" { code { (a.base_path) } }
                }
            }
        }
    };
    Ok(render(&st, &Nav::of(user.as_ref().map(|u| &u.0), "apis"), "APIs", body))
}

#[cfg(test)]
mod tests {
    #[test]
    fn summaries_are_the_first_paragraph_cut_on_a_character() {
        assert_eq!(super::summary("One.\n\nTwo."), "One.");
        let long = "é".repeat(400);
        let s = super::summary(&long);
        assert_eq!(s.chars().count(), 301);
        assert!(s.ends_with('…'));
    }
}
