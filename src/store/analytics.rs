//! Analytics rollups in the store: batched upserts of this node's minute rows, range queries,
//! retention. SQL shared by both backends (`ON CONFLICT … DO UPDATE` exists on both).

use super::{Store, StoreError};
use crate::analytics::hist::Hist;
use sqlx::Row;

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RollupKey {
    /// Unix seconds of the bucket's start.
    pub start: i64,
    pub api: String,
    pub version: String,
    pub operation: String,
    /// Empty for anonymous requests.
    pub consumer: String,
    pub status_class: String,
}

#[derive(Clone, Debug, Default)]
pub struct Rollup {
    pub count: i64,
    pub errors: i64,
    pub bytes_in: i64,
    pub bytes_out: i64,
    pub hist: Hist,
}

impl Rollup {
    pub fn merge(&mut self, o: &Rollup) {
        self.count += o.count;
        self.errors += o.errors;
        self.bytes_in += o.bytes_in;
        self.bytes_out += o.bytes_out;
        self.hist.merge(&o.hist);
    }
}

/// Which rows `GET /analytics` reads: `[since, until)` in unix seconds, optional equality filters.
#[derive(Default)]
pub struct RollupFilter {
    pub since: i64,
    pub until: i64,
    pub api: Option<String>,
    pub version: Option<String>,
    pub consumer: Option<String>,
}

/// The most rows one query may read; a wider question must narrow its range or filters.
pub const MAX_ROWS: i64 = 200_000;

impl Store {
    /// Write this node's running totals of the given minutes (replacing what it wrote before).
    pub async fn write_rollups(&self, node: &str, rows: &[(RollupKey, Rollup)]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for (k, r) in rows {
            sqlx::query(
                "INSERT INTO analytics_minutes (minute, node, api, version, operation, consumer, status_class, \
                 count, errors, bytes_in, bytes_out, latency_hist) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
                 ON CONFLICT (minute, node, api, version, operation, consumer, status_class) DO UPDATE SET \
                 count = excluded.count, errors = excluded.errors, bytes_in = excluded.bytes_in, \
                 bytes_out = excluded.bytes_out, latency_hist = excluded.latency_hist",
            )
            .bind(k.start)
            .bind(node)
            .bind(&k.api)
            .bind(&k.version)
            .bind(&k.operation)
            .bind(&k.consumer)
            .bind(&k.status_class)
            .bind(r.count)
            .bind(r.errors)
            .bind(r.bytes_in)
            .bind(r.bytes_out)
            .bind(r.hist.to_json())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Minute rows of every node matching `f`; `None` when more than [`MAX_ROWS`] match.
    pub async fn read_rollups(&self, f: &RollupFilter) -> Result<Option<Vec<(RollupKey, Rollup)>>, StoreError> {
        let mut sql = String::from(
            "SELECT minute, api, version, operation, consumer, status_class, count, errors, bytes_in, bytes_out, \
             latency_hist FROM analytics_minutes WHERE minute >= $1 AND minute < $2",
        );
        let mut args: Vec<&str> = Vec::new();
        for (col, v) in [("api", &f.api), ("version", &f.version), ("consumer", &f.consumer)] {
            if let Some(v) = v {
                args.push(v);
                sql.push_str(&format!(" AND {col} = ${}", args.len() + 2));
            }
        }
        sql.push_str(&format!(" LIMIT {}", MAX_ROWS + 1));
        let mut q = sqlx::query(&sql).bind(f.since).bind(f.until);
        for a in args {
            q = q.bind(a);
        }
        let rows = q.fetch_all(&self.pool).await?;
        if rows.len() as i64 > MAX_ROWS {
            return Ok(None);
        }
        let out = rows
            .iter()
            .map(|r| {
                let key = RollupKey {
                    start: r.try_get(0)?,
                    api: r.try_get(1)?,
                    version: r.try_get(2)?,
                    operation: r.try_get(3)?,
                    consumer: r.try_get(4)?,
                    status_class: r.try_get(5)?,
                };
                let hist: String = r.try_get(10)?;
                let roll = Rollup {
                    count: r.try_get(6)?,
                    errors: r.try_get(7)?,
                    bytes_in: r.try_get(8)?,
                    bytes_out: r.try_get(9)?,
                    hist: Hist::from_json(&hist),
                };
                Ok((key, roll))
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        Ok(Some(out))
    }

    /// Delete minute rows older than `before` (unix seconds).
    pub async fn prune_rollups(&self, before: i64) -> Result<u64, StoreError> {
        let done =
            sqlx::query("DELETE FROM analytics_minutes WHERE minute < $1").bind(before).execute(&self.pool).await?;
        Ok(done.rows_affected())
    }
}
