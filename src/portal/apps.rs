//! `/apps`: a developer's apps, their keys and subscriptions. An app is the store consumer
//! `app-<id>`; its keys are made, rotated and revoked with the same store calls as the admin
//! API's, and the live tables are reloaded before the answer, so the gateway enforces a key the
//! moment it is shown (and stops accepting a revoked one as soon as the page says so).

use super::form::Form;
use super::layout::Nav;
use super::page::{render, see_other, store, PageError};
use super::{session, PortalState};
use crate::store::consumers::KeyRow;
use crate::store::portal::{app_consumer, App, Subscription};
use crate::store::{keys, now_ms, rfc3339, Store};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::HeaderMap;
use maud::{html, Markup};
use std::sync::Arc;
use std::time::Duration;

type St = State<Arc<PortalState>>;

const MAX_APPS: usize = 50;
const MAX_NAME: usize = 80;
/// How long a rotated key keeps working beside its successor.
const ROTATE_GRACE: Duration = Duration::from_secs(3600);

fn nav(s: &crate::store::portal::Session, current: &'static str) -> Nav {
    Nav { user: Some((s.email.clone(), s.csrf.clone())), current }
}

fn csrf_field(csrf: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(csrf); }
}

pub async fn list(State(st): St, headers: HeaderMap) -> Response {
    let s = match session::required(&st, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let result = async {
        let db = store(&st).await?;
        let account = s.account_id.clone();
        let apps = db.run(move |db| async move { db.apps_of(&account).await }).await?;
        Ok::<_, PageError>(apps)
    }
    .await;
    let apps = match result {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    let body = html! {
        h1 { "Your apps" }
        @if apps.is_empty() { p { "No apps yet. An app holds the API keys you call the APIs with." } }
        ul class="cards" id="apps" {
            @for a in &apps {
                li class="card" { h2 { a href={ "/apps/" (a.id) } { (a.name) } } p { "Created " (rfc3339(a.created_at)) } }
            }
        }
        h2 { "Create an app" }
        form method="post" action="/apps" class="stack" id="new-app" {
            (csrf_field(&s.csrf))
            label for="app-name" { "App name" }
            input id="app-name" name="name" required maxlength=(MAX_NAME);
            button type="submit" { "Create app" }
        }
    };
    render(&st, &nav(&s, "apps"), "Apps", body)
}

fn valid_name(n: &str) -> Option<String> {
    let n = n.trim();
    let ok = !n.is_empty() && n.chars().count() <= MAX_NAME && !n.chars().any(char::is_control);
    ok.then(|| n.to_string())
}

pub async fn create(State(st): St, headers: HeaderMap, body: Bytes) -> Response {
    let s = match session::required(&st, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let form = Form::parse(&body);
    let result = async {
        session::check_csrf(&headers, &s, &form)?;
        let name = valid_name(form.get("name"))
            .ok_or_else(|| PageError::BadRequest(format!("An app name has 1 to {MAX_NAME} characters.")))?;
        let db = store(&st).await?;
        let account = s.account_id.clone();
        let count = db.run(move |db| async move { db.apps_of(&account).await }).await?.len();
        if count >= MAX_APPS {
            return Err(PageError::BadRequest(format!("An account has at most {MAX_APPS} apps.")));
        }
        let id = keys::generate()?.id;
        let consumer = app_consumer(&id);
        // A config consumer of that name would be shadowed: never hand it to an app.
        if st.runtime.load().auth.consumers.by_name.contains_key(&consumer) {
            return Err(PageError::Unavailable);
        }
        let app = App { id: id.clone(), account_id: s.account_id.clone(), name, consumer, created_at: 0 };
        db.run(move |db| async move { db.create_app(&app).await }).await?;
        let _ = st.shared.store.reload().await;
        Ok(see_other(&format!("/apps/{id}")))
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// The app of the signed-in developer (anyone else's is "not found").
async fn owned(st: &PortalState, s: &crate::store::portal::Session, id: String) -> Result<(Store, App), PageError> {
    let db = store(st).await?;
    let account = s.account_id.clone();
    let app = db.run(move |db| async move { db.app_of(&account, &id).await }).await?;
    Ok((db, app))
}

/// What the app page shows once, right after an action.
#[derive(Default)]
struct Flash {
    /// A key just issued or rotated: (secret, prefix).
    key: Option<(String, String)>,
    /// The prefix of a key just revoked (the script forgets it if it holds it).
    revoked: Option<String>,
    message: Option<String>,
}

async fn app_page(
    st: &PortalState,
    s: &crate::store::portal::Session,
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
                @for a in &rt.apis { option value={ (a.name) "/" (a.version) } { (super::catalog::title(a)) " " (a.version) } }
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
    Ok(render(st, &nav(s, "apps"), &app.name, body))
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

/// Runs `action` on the signed-in developer's app after the CSRF check; renders the app page
/// with what it returns.
async fn on_app<F, Fut>(st: Arc<PortalState>, headers: HeaderMap, id: String, body: Bytes, action: F) -> Response
where
    F: FnOnce(Arc<PortalState>, Store, App, Form) -> Fut,
    Fut: std::future::Future<Output = Result<Flash, PageError>>,
{
    let s = match session::required(&st, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let form = Form::parse(&body);
    let result = async {
        session::check_csrf(&headers, &s, &form)?;
        let (db, app) = owned(&st, &s, id).await?;
        let flash = action(st.clone(), db.clone(), app.clone(), form).await?;
        let _ = st.shared.store.reload().await;
        app_page(&st, &s, db, app, flash).await
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

pub async fn show(State(st): St, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let s = match session::required(&st, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let result = async {
        let (db, app) = owned(&st, &s, id).await?;
        app_page(&st, &s, db, app, Flash::default()).await
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

fn label_of(form: &Form) -> Result<Option<String>, PageError> {
    let l = form.get("label").trim();
    if l.chars().count() > 100 || l.chars().any(char::is_control) {
        return Err(PageError::BadRequest("A key label has at most 100 characters.".into()));
    }
    Ok((!l.is_empty()).then(|| l.to_string()))
}

pub async fn issue_key(State(st): St, headers: HeaderMap, Path(id): Path<String>, body: Bytes) -> Response {
    on_app(st, headers, id, body, |_, db, app, form| async move {
        let (row, k) = keys::issue(&app.consumer, label_of(&form)?, None)?;
        let hash = k.hash.clone();
        db.run(move |db| async move { db.add_key(&row, &hash).await }).await?;
        Ok(Flash { key: Some((k.secret, k.prefix)), ..Flash::default() })
    })
    .await
}

pub async fn rotate_key(
    State(st): St,
    headers: HeaderMap,
    Path((id, key)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    on_app(st, headers, id, body, |_, db, app, _| async move {
        let (row, k) = keys::issue(&app.consumer, None, None)?;
        let hash = k.hash.clone();
        let until = now_ms() + ROTATE_GRACE.as_millis() as i64;
        let old_until = db.run(move |db| async move { db.rotate_key(&key, &row, &hash, until).await }).await?;
        let message = format!("The previous key keeps working until {}.", rfc3339(old_until));
        Ok(Flash { key: Some((k.secret, k.prefix)), message: Some(message), ..Flash::default() })
    })
    .await
}

pub async fn revoke_key(
    State(st): St,
    headers: HeaderMap,
    Path((id, key)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    on_app(st, headers, id, body, |_, db, app, _| async move {
        let consumer = app.consumer.clone();
        let prefix = db
            .run(move |db| async move {
                let prefix = db.list_keys(&consumer).await?.into_iter().find(|k| k.id == key).map(|k| k.prefix);
                db.delete_key(&consumer, &key).await?;
                Ok(prefix)
            })
            .await?;
        Ok(Flash {
            revoked: prefix,
            message: Some("The key is revoked: the gateway refuses it now.".into()),
            ..Flash::default()
        })
    })
    .await
}

pub async fn subscribe(State(st): St, headers: HeaderMap, Path(id): Path<String>, body: Bytes) -> Response {
    on_app(st, headers, id, body, |st, db, app, form| async move {
        let (name, version) = form.get("api").split_once('/').unwrap_or_default();
        if !st.runtime.load().apis.iter().any(|a| a.name == name && a.version == version) {
            return Err(PageError::BadRequest("Choose one of the listed APIs.".into()));
        }
        let plan = form.get("plan");
        let plans = st.reloader.plans();
        let chosen = plans.iter().find(|p| p.name == plan);
        if !plan.is_empty() && chosen.is_none() {
            return Err(PageError::BadRequest("Choose one of the listed plans.".into()));
        }
        let pending = chosen.is_some_and(|p| p.approval);
        let sub = Subscription {
            id: keys::generate()?.id,
            app_id: app.id.clone(),
            api: name.to_string(),
            version: version.to_string(),
            plan: chosen.map(|p| p.name.clone()),
            status: if pending { "pending" } else { "approved" }.into(),
            created_at: 0,
            decided_at: (!pending).then(now_ms),
        };
        db.run(move |db| async move { db.subscribe(&app, &sub).await }).await?;
        let message = if pending {
            "Subscribed: the plan needs an operator's approval, until then it is pending."
        } else {
            "Subscribed."
        };
        Ok(Flash { message: Some(message.into()), ..Flash::default() })
    })
    .await
}

pub async fn delete(State(st): St, headers: HeaderMap, Path(id): Path<String>, body: Bytes) -> Response {
    let s = match session::required(&st, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let form = Form::parse(&body);
    let result = async {
        session::check_csrf(&headers, &s, &form)?;
        let (db, app) = owned(&st, &s, id).await?;
        db.run(move |db| async move { db.delete_app(&app).await }).await?;
        let _ = st.shared.store.reload().await;
        Ok(see_other("/apps"))
    }
    .await;
    result.unwrap_or_else(|e: PageError| e.into_response())
}
