//! The app page: its keys (with the one just issued, shown once), subscriptions, and the
//! forms that act on them.

use super::csrf_field;
use crate::portal::layout::Nav;
use crate::portal::page::{render, PageError};
use crate::portal::PortalState;
use crate::store::consumers::KeyRow;
use crate::store::portal::{App, Session, Subscription};
use crate::store::{rfc3339, Store};
use axum::response::Response;
use maud::{html, Markup};

/// What the app page shows once, right after an action.
#[derive(Default)]
pub(super) struct Flash {
    /// A key just issued or rotated: (secret, prefix).
    pub key: Option<(String, String)>,
    /// The prefix of a key just revoked (the script forgets it if it holds it).
    pub revoked: Option<String>,
    pub message: Option<String>,
}

pub(super) async fn app_page(
    st: &PortalState,
    s: &Session,
    db: Store,
    app: App,
    flash: Flash,
) -> Result<Response, PageError> {
    let (consumer, app_id) = (app.consumer.clone(), app.id.clone());
    let (keys, subs, row) = db
        .run(move |db| async move {
            Ok((db.list_keys(&consumer).await?, db.subscriptions_of(&app_id).await?, db.get_consumer(&consumer).await?))
        })
        .await?;
    let rt = st.runtime.load();
    let plans = st.reloader.plans();
    let csrf = s.csrf.as_str();
    let body = html! {
        p { a href="/apps" { "← All apps" } }
        h1 { (app.name) }
        p { "Consumer " code { (app.consumer) } @if let Some(p) = &row.plan { " · plan " strong { (p) } } }
        @if let Some(m) = &flash.message { p class="notice" role="status" { (m) } }
        @if let Some((secret, prefix)) = &flash.key {
            div class="issued" id="issued-key" data-key=(secret) data-prefix=(prefix) role="status" {
                p { strong { "Your new key — copy it now, it is not shown again:" } }
                p { code id="new-key" { (secret) } }
                p { "The API pages fill it into their code samples while this tab is open." }
            }
        }
        @if let Some(prefix) = &flash.revoked { div id="revoked-key" data-prefix=(prefix) hidden {} }
        h2 { "Keys" }
        @if keys.is_empty() { p { "No keys." } } @else { (key_table(&app, &keys, csrf)) }
        form method="post" action={ "/apps/" (app.id) "/keys" } class="stack" id="issue-key" {
            (csrf_field(csrf))
            label for="key-label" { "Label (optional)" }
            input id="key-label" name="label" maxlength="100";
            button type="submit" { "Issue a key" }
        }
        h2 { "Subscriptions" }
        @if subs.is_empty() { p { "No subscriptions yet." } } @else { (sub_table(&subs)) }
        form method="post" action={ "/apps/" (app.id) "/subscriptions" } class="stack" id="subscribe" {
            (csrf_field(csrf))
            label for="sub-api" { "API" }
            select id="sub-api" name="api" required {
                @for a in &rt.apis { option value={ (a.name) "/" (a.version) } { (crate::portal::catalog::title(a)) " " (a.version) } }
            }
            label for="sub-plan" { "Plan" }
            select id="sub-plan" name="plan" {
                option value="" { "the API's default" }
                @for p in &plans {
                    option value=(p.name) { (p.name) @if p.approval { " (needs approval)" } }
                }
            }
            button type="submit" { "Subscribe" }
        }
        h2 { "Delete" }
        form method="post" action={ "/apps/" (app.id) "/delete" } class="inline" {
            (csrf_field(csrf))
            button type="submit" class="danger" { "Delete this app and its keys" }
        }
    };
    Ok(render(st, &Nav::of(Some(s), "apps"), &app.name, body))
}

fn key_table(app: &App, keys: &[KeyRow], csrf: &str) -> Markup {
    html! {
        table id="keys" {
            thead { tr { th scope="col" { "Key" } th scope="col" { "Label" } th scope="col" { "Created" } th scope="col" { "Expires" } th scope="col" { span class="sr-only" { "Actions" } } } }
            tbody {
                @for k in keys {
                    tr {
                        td { code { (k.prefix) "…" } }
                        td { (k.label.as_deref().unwrap_or("")) }
                        td { (rfc3339(k.created_at)) }
                        td { (k.expires_at.map(rfc3339).unwrap_or_else(|| "never".into())) }
                        td class="actions" {
                            form method="post" action={ "/apps/" (app.id) "/keys/" (k.id) "/rotate" } class="inline" {
                                (csrf_field(csrf)) button type="submit" aria-label={ "Rotate key " (k.prefix) } { "Rotate" }
                            }
                            form method="post" action={ "/apps/" (app.id) "/keys/" (k.id) "/revoke" } class="inline" {
                                (csrf_field(csrf)) button type="submit" class="danger" aria-label={ "Revoke key " (k.prefix) } { "Revoke" }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn sub_table(subs: &[Subscription]) -> Markup {
    html! {
        table id="subscriptions" {
            thead { tr { th scope="col" { "API" } th scope="col" { "Plan" } th scope="col" { "Status" } } }
            tbody {
                @for s in subs {
                    tr { td { (s.api) " " (s.version) } td { (s.plan.as_deref().unwrap_or("default")) } td { span class={ "badge " (s.status) } { (s.status) } } }
                }
            }
        }
    }
}
