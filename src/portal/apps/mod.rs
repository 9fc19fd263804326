//! `/apps`: a developer's apps, their keys and subscriptions. An app is the store consumer
//! `app-<id>`; its keys are made, rotated and revoked with the same store calls as the admin
//! API's, and the live tables are reloaded before the answer, so the gateway enforces a key the
//! moment it is shown (and stops accepting a revoked one as soon as the page says so).

mod keys;
mod page;
mod subscriptions;

pub use keys::{issue_key, revoke_key, rotate_key};
pub use subscriptions::subscribe;

use super::extract::{CsrfForm, SignedIn};
use super::form::Form;
use super::layout::Nav;
use super::page::{render, see_other, store, PageError};
use super::PortalState;
use crate::store::portal::{app_consumer, App, Session};
use crate::store::{rfc3339, Store};
use axum::extract::{Path, State};
use axum::response::Response;
use maud::{html, Markup};
use page::{app_page, Flash};
use std::sync::Arc;

type St = State<Arc<PortalState>>;

const MAX_APPS: usize = 50;
const MAX_NAME: usize = 80;

fn csrf_field(csrf: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(csrf); }
}

pub async fn list(State(st): St, SignedIn(s): SignedIn) -> Result<Response, PageError> {
    let db = store(&st).await?;
    let account = s.account_id.clone();
    let apps = db.run(move |db| async move { db.apps_of(&account).await }).await?;
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
    Ok(render(&st, &Nav::of(Some(&s), "apps"), "Apps", body))
}

fn valid_name(n: &str) -> Option<String> {
    let n = n.trim();
    let ok = !n.is_empty() && n.chars().count() <= MAX_NAME && !n.chars().any(char::is_control);
    ok.then(|| n.to_string())
}

pub async fn create(State(st): St, CsrfForm { session: s, form }: CsrfForm) -> Result<Response, PageError> {
    let name = valid_name(form.get("name"))
        .ok_or_else(|| PageError::BadRequest(format!("An app name has 1 to {MAX_NAME} characters.")))?;
    let db = store(&st).await?;
    let account = s.account_id.clone();
    let count = db.run(move |db| async move { db.apps_of(&account).await }).await?.len();
    if count >= MAX_APPS {
        return Err(PageError::BadRequest(format!("An account has at most {MAX_APPS} apps.")));
    }
    let id = crate::store::keys::generate()?.id;
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

/// The app of the signed-in developer (anyone else's is "not found").
async fn owned(st: &PortalState, s: &Session, id: String) -> Result<(Store, App), PageError> {
    let db = store(st).await?;
    let account = s.account_id.clone();
    let app = db.run(move |db| async move { db.app_of(&account, &id).await }).await?;
    Ok((db, app))
}

/// Runs `action` on the signed-in developer's app (the form already passed its CSRF check);
/// renders the app page with what it returns.
async fn on_app<F, Fut>(st: Arc<PortalState>, id: String, posted: CsrfForm, action: F) -> Result<Response, PageError>
where
    F: FnOnce(Arc<PortalState>, Store, App, Form) -> Fut,
    Fut: std::future::Future<Output = Result<Flash, PageError>>,
{
    let CsrfForm { session: s, form } = posted;
    let (db, app) = owned(&st, &s, id).await?;
    let flash = action(st.clone(), db.clone(), app.clone(), form).await?;
    let _ = st.shared.store.reload().await;
    app_page(&st, &s, db, app, flash).await
}

pub async fn show(State(st): St, Path(id): Path<String>, SignedIn(s): SignedIn) -> Result<Response, PageError> {
    let (db, app) = owned(&st, &s, id).await?;
    app_page(&st, &s, db, app, Flash::default()).await
}

pub async fn delete(
    State(st): St,
    Path(id): Path<String>,
    CsrfForm { session: s, .. }: CsrfForm,
) -> Result<Response, PageError> {
    let (db, app) = owned(&st, &s, id).await?;
    db.run(move |db| async move { db.delete_app(&app).await }).await?;
    let _ = st.shared.store.reload().await;
    Ok(see_other("/apps"))
}
