//! The developer portal's tables: accounts, sessions, apps and subscriptions. An app's keys are
//! its consumer's keys (`consumers.rs`); creating an app creates that consumer in the same
//! transaction, so the gateway sees both or neither.

use super::consumers::ConsumerRow;
use super::{now_ms, Store, StoreError};
use sqlx::Row;

#[derive(Debug, Clone)]
pub struct Account {
    pub id: String,
    pub email: String,
    pub password_hash: String,
}

#[derive(Debug, Clone)]
pub struct Session {
    pub account_id: String,
    pub email: String,
    pub csrf: String,
    pub expires_at: i64,
}

#[derive(Debug, Clone)]
pub struct App {
    pub id: String,
    pub account_id: String,
    pub name: String,
    pub consumer: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Subscription {
    pub id: String,
    pub app_id: String,
    pub api: String,
    pub version: String,
    pub plan: Option<String>,
    pub status: String,
    pub created_at: i64,
    pub decided_at: Option<i64>,
}

/// The consumer name of an app (`app-` + its random id). The portal also refuses a name a config
/// consumer already has.
pub fn app_consumer(app_id: &str) -> String {
    format!("app-{app_id}")
}

const APP_COLS: &str = "id, account_id, name, consumer, created_at";
const SUB_COLS: &str = "id, app_id, api, version, plan, status, created_at, decided_at";

fn app_row(r: &sqlx::any::AnyRow) -> Result<App, sqlx::Error> {
    Ok(App {
        id: r.try_get("id")?,
        account_id: r.try_get("account_id")?,
        name: r.try_get("name")?,
        consumer: r.try_get("consumer")?,
        created_at: r.try_get("created_at")?,
    })
}

fn sub_row(r: &sqlx::any::AnyRow) -> Result<Subscription, sqlx::Error> {
    Ok(Subscription {
        id: r.try_get("id")?,
        app_id: r.try_get("app_id")?,
        api: r.try_get("api")?,
        version: r.try_get("version")?,
        plan: r.try_get("plan")?,
        status: r.try_get("status")?,
        created_at: r.try_get("created_at")?,
        decided_at: r.try_get("decided_at")?,
    })
}

impl Store {
    /// A new account; `Conflict` when the email is taken (the portal does not tell the visitor).
    pub async fn create_account(&self, a: &Account) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO portal_accounts (id, email, password_hash, created_at) VALUES ($1, $2, $3, $4)")
            .bind(&a.id)
            .bind(&a.email)
            .bind(&a.password_hash)
            .bind(now_ms())
            .execute(&self.pool)
            .await
            .map_err(|e| StoreError::conflict_or(e, "an account with this email exists"))?;
        Ok(())
    }

    pub async fn account_by_email(&self, email: &str) -> Result<Option<Account>, StoreError> {
        let row = sqlx::query("SELECT id, email, password_hash FROM portal_accounts WHERE email = $1")
            .bind(email)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => Some(Account { id: r.try_get(0)?, email: r.try_get(1)?, password_hash: r.try_get(2)? }),
            None => None,
        })
    }

    pub async fn create_session(
        &self,
        token_hash: &str,
        account_id: &str,
        csrf: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        // Expired sessions go whenever someone signs in: no sweeper needed.
        sqlx::query("DELETE FROM portal_sessions WHERE expires_at <= $1").bind(now_ms()).execute(&self.pool).await?;
        sqlx::query(
            "INSERT INTO portal_sessions (token_hash, account_id, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(account_id)
        .bind(csrf)
        .bind(now_ms())
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The unexpired session of a token digest.
    pub async fn session(&self, token_hash: &str) -> Result<Option<Session>, StoreError> {
        let row = sqlx::query(
            "SELECT s.account_id, a.email, s.csrf, s.expires_at FROM portal_sessions s \
             JOIN portal_accounts a ON a.id = s.account_id WHERE s.token_hash = $1 AND s.expires_at > $2",
        )
        .bind(token_hash)
        .bind(now_ms())
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(r) => Some(Session {
                account_id: r.try_get(0)?,
                email: r.try_get(1)?,
                csrf: r.try_get(2)?,
                expires_at: r.try_get(3)?,
            }),
            None => None,
        })
    }

    pub async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM portal_sessions WHERE token_hash = $1").bind(token_hash).execute(&self.pool).await?;
        Ok(())
    }

    /// A new app and its consumer, in one transaction.
    pub async fn create_app(&self, app: &App) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let now = now_ms();
        sqlx::query(
            "INSERT INTO consumers (name, plan, groups_json, metadata_json, created_at, updated_at) \
             VALUES ($1, NULL, '[]', $2, $3, $4)",
        )
        .bind(&app.consumer)
        .bind(serde_json::json!({ "portal_app": app.id, "account": app.account_id }).to_string())
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::conflict_or(e, format!("a consumer named {:?} exists", app.consumer)))?;
        let sql = format!("INSERT INTO portal_apps ({APP_COLS}) VALUES ($1, $2, $3, $4, $5)");
        sqlx::query(&sql)
            .bind(&app.id)
            .bind(&app.account_id)
            .bind(&app.name)
            .bind(&app.consumer)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.announce().await
    }

    pub async fn apps_of(&self, account_id: &str) -> Result<Vec<App>, StoreError> {
        let sql = format!("SELECT {APP_COLS} FROM portal_apps WHERE account_id = $1 ORDER BY created_at, id");
        let rows = sqlx::query(&sql).bind(account_id).fetch_all(&self.pool).await?;
        Ok(rows.iter().map(app_row).collect::<Result<_, _>>()?)
    }

    /// The app `id` if `account_id` owns it (another account's app is "not found" too).
    pub async fn app_of(&self, account_id: &str, id: &str) -> Result<App, StoreError> {
        let sql = format!("SELECT {APP_COLS} FROM portal_apps WHERE id = $1 AND account_id = $2");
        match sqlx::query(&sql).bind(id).bind(account_id).fetch_optional(&self.pool).await? {
            Some(r) => Ok(app_row(&r)?),
            None => Err(StoreError::NotFound("no such app".into())),
        }
    }

    /// Deletes the app, its subscriptions, its consumer and the consumer's keys.
    pub async fn delete_app(&self, app: &App) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM portal_subscriptions WHERE app_id = $1").bind(&app.id).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM portal_apps WHERE id = $1").bind(&app.id).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM api_keys WHERE consumer = $1").bind(&app.consumer).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM consumers WHERE name = $1").bind(&app.consumer).execute(&mut *tx).await?;
        tx.commit().await?;
        self.announce().await
    }

    /// Subscribe (or re-subscribe) an app; an approved one also sets the consumer's plan.
    pub async fn subscribe(&self, app: &App, s: &Subscription) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM portal_subscriptions WHERE app_id = $1 AND api = $2 AND version = $3")
            .bind(&app.id)
            .bind(&s.api)
            .bind(&s.version)
            .execute(&mut *tx)
            .await?;
        let sql = format!("INSERT INTO portal_subscriptions ({SUB_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)");
        sqlx::query(&sql)
            .bind(&s.id)
            .bind(&app.id)
            .bind(&s.api)
            .bind(&s.version)
            .bind(&s.plan)
            .bind(&s.status)
            .bind(now_ms())
            .bind(s.decided_at)
            .execute(&mut *tx)
            .await?;
        if s.status == "approved" {
            set_plan(&mut tx, &app.consumer, &s.plan).await?;
        }
        tx.commit().await?;
        self.announce().await
    }

    pub async fn subscriptions_of(&self, app_id: &str) -> Result<Vec<Subscription>, StoreError> {
        let sql = format!("SELECT {SUB_COLS} FROM portal_subscriptions WHERE app_id = $1 ORDER BY api, version");
        let rows = sqlx::query(&sql).bind(app_id).fetch_all(&self.pool).await?;
        Ok(rows.iter().map(sub_row).collect::<Result<_, _>>()?)
    }

    /// Subscriptions of every app, optionally of one status, oldest first, each with its app's
    /// name and its account's email (what an operator decides by).
    pub async fn list_subscriptions(
        &self,
        status: Option<&str>,
        limit: i64,
    ) -> Result<Vec<(Subscription, String, String)>, StoreError> {
        let cols = "s.id, s.app_id, s.api, s.version, s.plan, s.status, s.created_at, s.decided_at, \
                    p.name AS app_name, a.email";
        let from = "portal_subscriptions s JOIN portal_apps p ON p.id = s.app_id JOIN portal_accounts a ON a.id = p.account_id";
        let q = match status {
            Some(st) => {
                let sql = format!("SELECT {cols} FROM {from} WHERE s.status = $1 ORDER BY s.created_at, s.id LIMIT $2");
                sqlx::query(&sql).bind(st.to_string()).bind(limit).fetch_all(&self.pool).await?
            }
            None => {
                let sql = format!("SELECT {cols} FROM {from} ORDER BY s.created_at, s.id LIMIT $1");
                sqlx::query(&sql).bind(limit).fetch_all(&self.pool).await?
            }
        };
        q.iter()
            .map(|r| Ok((sub_row(r)?, r.try_get("app_name")?, r.try_get("email")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// An operator's decision on a pending subscription: `approved` also sets the app consumer's
    /// plan. Anything but a pending one is a conflict.
    pub async fn decide_subscription(&self, id: &str, status: &str) -> Result<Subscription, StoreError> {
        let mut tx = self.pool.begin().await?;
        let sql = format!("SELECT {SUB_COLS} FROM portal_subscriptions WHERE id = $1");
        let Some(row) = sqlx::query(&sql).bind(id).fetch_optional(&mut *tx).await? else {
            return Err(StoreError::NotFound(format!("no subscription {id:?}")));
        };
        let mut s = sub_row(&row)?;
        if s.status != "pending" {
            return Err(StoreError::Conflict(format!("subscription {id:?} is {} already", s.status)));
        }
        s.status = status.to_string();
        s.decided_at = Some(now_ms());
        sqlx::query("UPDATE portal_subscriptions SET status = $1, decided_at = $2 WHERE id = $3")
            .bind(&s.status)
            .bind(s.decided_at)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if status == "approved" {
            let consumer: String = sqlx::query_scalar("SELECT consumer FROM portal_apps WHERE id = $1")
                .bind(&s.app_id)
                .fetch_one(&mut *tx)
                .await?;
            set_plan(&mut tx, &consumer, &s.plan).await?;
        }
        tx.commit().await?;
        self.announce().await?;
        Ok(s)
    }

    /// The store consumer of an app (for its plan).
    pub async fn app_consumer_row(&self, app: &App) -> Result<ConsumerRow, StoreError> {
        self.get_consumer(&app.consumer).await
    }
}

async fn set_plan(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    consumer: &str,
    plan: &Option<String>,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE consumers SET plan = $1, updated_at = $2 WHERE name = $3")
        .bind(plan)
        .bind(now_ms())
        .bind(consumer)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

impl Store {
    /// The secret `name`, made from `fresh` by whichever node asks first.
    pub async fn portal_secret(&self, name: &str, fresh: &str) -> Result<String, StoreError> {
        sqlx::query("INSERT INTO portal_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(fresh)
            .execute(&self.pool)
            .await?;
        Ok(sqlx::query_scalar("SELECT value FROM portal_secrets WHERE name = $1")
            .bind(name)
            .fetch_one(&self.pool)
            .await?)
    }
}
