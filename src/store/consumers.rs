//! Consumers and their keys in the store: the SQL, shared by both backends (`$n` placeholders
//! work on SQLite too). Inputs were validated by the admin API.

use super::{now_ms, Store, StoreError};
use serde::Serialize;
use serde_json::Value;
use sqlx::Row;

#[derive(Debug, Clone, Serialize)]
pub struct ConsumerRow {
    pub name: String,
    pub plan: Option<String>,
    pub groups: Vec<String>,
    pub metadata: Value,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct KeyRow {
    pub id: String,
    pub consumer: String,
    pub prefix: String,
    pub label: Option<String>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
}

/// What a key is matched by: its hash, owner and expiry (for the live tables).
pub struct KeyHash {
    pub hash: String,
    pub consumer: String,
    pub expires_at: Option<i64>,
}

/// A change to a consumer: `None` keeps a field; `Some(None)` clears the plan.
#[derive(Default)]
pub struct ConsumerPatch {
    pub plan: Option<Option<String>>,
    pub groups: Option<Vec<String>>,
    pub metadata: Option<Value>,
}

const CONSUMER_COLS: &str = "name, plan, groups_json, metadata_json, created_at, updated_at";
const KEY_COLS: &str = "id, consumer, prefix, label, created_at, expires_at";

fn consumer_row(r: &sqlx::any::AnyRow) -> Result<ConsumerRow, sqlx::Error> {
    let groups: String = r.try_get("groups_json")?;
    let metadata: String = r.try_get("metadata_json")?;
    Ok(ConsumerRow {
        name: r.try_get("name")?,
        plan: r.try_get("plan")?,
        groups: serde_json::from_str(&groups).unwrap_or_default(),
        metadata: serde_json::from_str(&metadata).unwrap_or(Value::Object(Default::default())),
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn key_row(r: &sqlx::any::AnyRow) -> Result<KeyRow, sqlx::Error> {
    Ok(KeyRow {
        id: r.try_get("id")?,
        consumer: r.try_get("consumer")?,
        prefix: r.try_get("prefix")?,
        label: r.try_get("label")?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
    })
}

fn json(v: &impl Serialize) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

impl Store {
    pub async fn list_consumers(&self, limit: i64, offset: i64) -> Result<Vec<ConsumerRow>, StoreError> {
        let sql = format!("SELECT {CONSUMER_COLS} FROM consumers ORDER BY name LIMIT $1 OFFSET $2");
        let rows = sqlx::query(&sql).bind(limit).bind(offset).fetch_all(&self.pool).await?;
        Ok(rows.iter().map(consumer_row).collect::<Result<_, _>>()?)
    }

    pub async fn get_consumer(&self, name: &str) -> Result<ConsumerRow, StoreError> {
        let sql = format!("SELECT {CONSUMER_COLS} FROM consumers WHERE name = $1");
        match sqlx::query(&sql).bind(name).fetch_optional(&self.pool).await? {
            Some(r) => Ok(consumer_row(&r)?),
            None => Err(StoreError::NotFound(format!("no consumer named {name:?}"))),
        }
    }

    pub async fn create_consumer(&self, c: &ConsumerRow) -> Result<(), StoreError> {
        let now = now_ms();
        let sql = format!("INSERT INTO consumers ({CONSUMER_COLS}) VALUES ($1, $2, $3, $4, $5, $6)");
        sqlx::query(&sql)
            .bind(&c.name)
            .bind(&c.plan)
            .bind(json(&c.groups))
            .bind(json(&c.metadata))
            .bind(now)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(|e| StoreError::conflict_or(e, format!("a consumer named {:?} exists", c.name)))?;
        self.announce().await
    }

    pub async fn update_consumer(&self, name: &str, patch: ConsumerPatch) -> Result<ConsumerRow, StoreError> {
        let mut tx = self.pool.begin().await?;
        let sql = format!("SELECT {CONSUMER_COLS} FROM consumers WHERE name = $1");
        let Some(row) = sqlx::query(&sql).bind(name).fetch_optional(&mut *tx).await? else {
            return Err(StoreError::NotFound(format!("no consumer named {name:?}")));
        };
        let mut c = consumer_row(&row)?;
        if let Some(p) = patch.plan {
            c.plan = p;
        }
        if let Some(g) = patch.groups {
            c.groups = g;
        }
        if let Some(m) = patch.metadata {
            c.metadata = m;
        }
        c.updated_at = now_ms();
        sqlx::query(
            "UPDATE consumers SET plan = $1, groups_json = $2, metadata_json = $3, updated_at = $4 WHERE name = $5",
        )
        .bind(&c.plan)
        .bind(json(&c.groups))
        .bind(json(&c.metadata))
        .bind(c.updated_at)
        .bind(name)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.announce().await?;
        Ok(c)
    }

    /// Deletes the consumer and every key of it.
    pub async fn delete_consumer(&self, name: &str) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM api_keys WHERE consumer = $1").bind(name).execute(&mut *tx).await?;
        let done = sqlx::query("DELETE FROM consumers WHERE name = $1").bind(name).execute(&mut *tx).await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("no consumer named {name:?}")));
        }
        tx.commit().await?;
        self.announce().await
    }

    pub async fn list_keys(&self, consumer: &str) -> Result<Vec<KeyRow>, StoreError> {
        self.get_consumer(consumer).await?;
        let sql = format!("SELECT {KEY_COLS} FROM api_keys WHERE consumer = $1 ORDER BY created_at, id");
        let rows = sqlx::query(&sql).bind(consumer).fetch_all(&self.pool).await?;
        Ok(rows.iter().map(key_row).collect::<Result<_, _>>()?)
    }

    /// Adds a key (the consumer must exist). `hash` is the sha256 of the secret, hex.
    pub async fn add_key(&self, k: &KeyRow, hash: &str) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        self.insert_key(&mut tx, k, hash).await?;
        tx.commit().await?;
        self.announce().await
    }

    async fn insert_key(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        k: &KeyRow,
        hash: &str,
    ) -> Result<(), StoreError> {
        let found = sqlx::query("SELECT name FROM consumers WHERE name = $1")
            .bind(&k.consumer)
            .fetch_optional(&mut **tx)
            .await?;
        if found.is_none() {
            return Err(StoreError::NotFound(format!("no consumer named {:?}", k.consumer)));
        }
        let sql = format!("INSERT INTO api_keys ({KEY_COLS}, key_hash) VALUES ($1, $2, $3, $4, $5, $6, $7)");
        sqlx::query(&sql)
            .bind(&k.id)
            .bind(&k.consumer)
            .bind(&k.prefix)
            .bind(&k.label)
            .bind(k.created_at)
            .bind(k.expires_at)
            .bind(hash)
            .execute(&mut **tx)
            .await
            .map_err(|e| StoreError::conflict_or(e, "a key with this id or secret exists; try again"))?;
        Ok(())
    }

    /// Revokes (deletes) a key of `consumer`.
    pub async fn delete_key(&self, consumer: &str, id: &str) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM api_keys WHERE consumer = $1 AND id = $2")
            .bind(consumer)
            .bind(id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("consumer {consumer:?} has no key {id:?}")));
        }
        self.announce().await
    }

    /// Adds `new` and makes key `id` expire at `old_until` (or keeps its earlier expiry), in one
    /// transaction. Returns the old key's expiry.
    pub async fn rotate_key(&self, id: &str, new: &KeyRow, hash: &str, old_until: i64) -> Result<i64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let sql = format!("SELECT {KEY_COLS} FROM api_keys WHERE consumer = $1 AND id = $2");
        let Some(old) = sqlx::query(&sql).bind(&new.consumer).bind(id).fetch_optional(&mut *tx).await? else {
            return Err(StoreError::NotFound(format!("consumer {:?} has no key {id:?}", new.consumer)));
        };
        let old = key_row(&old)?;
        let until = old.expires_at.map_or(old_until, |e| e.min(old_until));
        sqlx::query("UPDATE api_keys SET expires_at = $1 WHERE id = $2").bind(until).bind(id).execute(&mut *tx).await?;
        self.insert_key(&mut tx, new, hash).await?;
        tx.commit().await?;
        self.announce().await?;
        Ok(until)
    }

    /// Everything the live tables need, read in one transaction so keys match consumers.
    pub async fn snapshot(&self) -> Result<(Vec<ConsumerRow>, Vec<KeyHash>), StoreError> {
        let mut tx = self.pool.begin().await?;
        let sql = format!("SELECT {CONSUMER_COLS} FROM consumers");
        let consumers = sqlx::query(&sql).fetch_all(&mut *tx).await?;
        let consumers = consumers.iter().map(consumer_row).collect::<Result<Vec<_>, _>>()?;
        let keys = sqlx::query(
            "SELECT key_hash, consumer, expires_at FROM api_keys WHERE expires_at IS NULL OR expires_at > $1",
        )
        .bind(now_ms())
        .fetch_all(&mut *tx)
        .await?;
        let keys = keys
            .iter()
            .map(|r| Ok(KeyHash { hash: r.try_get(0)?, consumer: r.try_get(1)?, expires_at: r.try_get(2)? }))
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        tx.commit().await?;
        Ok((consumers, keys))
    }
}
