//! The app page's subscribe form: one of the listed APIs, on the API's default plan or a
//! named one (a plan that needs approval leaves the subscription pending).

use super::page::Flash;
use super::{on_app, St};
use crate::portal::extract::CsrfForm;
use crate::portal::page::PageError;
use crate::store::portal::Subscription;
use crate::store::{keys, now_ms};
use axum::extract::{Path, State};
use axum::response::Response;

pub async fn subscribe(State(st): St, Path(id): Path<String>, posted: CsrfForm) -> Result<Response, PageError> {
    on_app(st, id, posted, |st, db, app, form| async move {
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
