//! The app page's key actions: issue, rotate (the old key keeps working for a grace period),
//! revoke. Keys are made by `store::keys::issue`, as the admin API makes them.

use super::page::Flash;
use super::{on_app, St};
use crate::portal::extract::CsrfForm;
use crate::portal::form::Form;
use crate::portal::page::PageError;
use crate::store::{keys, now_ms, rfc3339};
use axum::extract::{Path, State};
use axum::response::Response;
use std::time::Duration;

/// How long a rotated key keeps working beside its successor.
const ROTATE_GRACE: Duration = Duration::from_secs(3600);

fn label_of(form: &Form) -> Result<Option<String>, PageError> {
    let l = form.get("label").trim();
    if l.chars().count() > 100 || l.chars().any(char::is_control) {
        return Err(PageError::BadRequest("A key label has at most 100 characters.".into()));
    }
    Ok((!l.is_empty()).then(|| l.to_string()))
}

pub async fn issue_key(State(st): St, Path(id): Path<String>, posted: CsrfForm) -> Result<Response, PageError> {
    on_app(st, id, posted, |_, db, app, form| async move {
        let (row, k) = keys::issue(&app.consumer, label_of(&form)?, None)?;
        let hash = k.hash.clone();
        db.run(move |db| async move { db.add_key(&row, &hash).await }).await?;
        Ok(Flash { key: Some((k.secret, k.prefix)), ..Flash::default() })
    })
    .await
}

pub async fn rotate_key(
    State(st): St,
    Path((id, key)): Path<(String, String)>,
    posted: CsrfForm,
) -> Result<Response, PageError> {
    on_app(st, id, posted, |_, db, app, _| async move {
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
    Path((id, key)): Path<(String, String)>,
    posted: CsrfForm,
) -> Result<Response, PageError> {
    on_app(st, id, posted, |_, db, app, _| async move {
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
