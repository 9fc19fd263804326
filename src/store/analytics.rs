//! Analytics rollups in the store: batched upserts of this node's minute rows, range queries,
//! retention. SQL shared by both backends (`ON CONFLICT … DO UPDATE` exists on both).

use super::{Store, StoreError};
use crate::store::hist::Hist;
use sqlx::Row;

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
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

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// Bind a rollup's key (after its time) and values, in the column order both tables share.
fn bind_values<'q>(q: AnyQuery<'q>, k: &'q RollupKey, r: &Rollup) -> AnyQuery<'q> {
    q.bind(&k.api)
        .bind(&k.version)
        .bind(&k.operation)
        .bind(&k.consumer)
        .bind(&k.status_class)
        .bind(r.count)
        .bind(r.errors)
        .bind(r.bytes_in)
        .bind(r.bytes_out)
        .bind(r.hist.to_json())
}

/// A row of `SELECT <time>, api, version, operation, consumer, status_class, count, errors,
/// bytes_in, bytes_out, latency_hist`.
fn rollup_row(r: &sqlx::any::AnyRow) -> Result<(RollupKey, Rollup), sqlx::Error> {
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
}

impl Store {
    /// Write this node's running totals of the given minutes (replacing what it wrote before).
    pub async fn write_rollups(&self, node: &str, rows: &[(RollupKey, Rollup)]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for (k, r) in rows {
            let q = sqlx::query(
                "INSERT INTO analytics_minutes (minute, node, api, version, operation, consumer, status_class, \
                 count, errors, bytes_in, bytes_out, latency_hist) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
                 ON CONFLICT (minute, node, api, version, operation, consumer, status_class) DO UPDATE SET \
                 count = excluded.count, errors = excluded.errors, bytes_in = excluded.bytes_in, \
                 bytes_out = excluded.bytes_out, latency_hist = excluded.latency_hist",
            )
            .bind(k.start)
            .bind(node);
            bind_values(q, k, r).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Rows of every node matching `f`; `None` when more than [`MAX_ROWS`] match. `hourly`: hour
    /// rows where an hour was rolled up, minute rows for hours that were not (one statement, so
    /// a roll-up running meanwhile neither doubles nor drops anything); else minute rows only.
    pub async fn read_rollups(
        &self,
        f: &RollupFilter,
        hourly: bool,
    ) -> Result<Option<Vec<(RollupKey, Rollup)>>, StoreError> {
        const COLS: &str =
            "api, version, operation, consumer, status_class, count, errors, bytes_in, bytes_out, latency_hist";
        let mut filters = String::new();
        let mut args: Vec<&str> = Vec::new();
        for (col, v) in [("api", &f.api), ("version", &f.version), ("consumer", &f.consumer)] {
            if let Some(v) = v {
                args.push(v);
                filters.push_str(&format!(" AND {col} = ${}", args.len() + 2));
            }
        }
        let minutes =
            format!("SELECT minute, {COLS} FROM analytics_minutes WHERE minute >= $1 AND minute < $2{filters}");
        let sql = if hourly {
            format!(
                "SELECT hour, {COLS} FROM analytics_hours WHERE hour >= $1 AND hour < $2{filters} UNION ALL {minutes} \
                 AND NOT EXISTS (SELECT 1 FROM analytics_rolled r WHERE r.hour = analytics_minutes.minute / 3600 * 3600) \
                 LIMIT {}",
                MAX_ROWS + 1
            )
        } else {
            format!("{minutes} LIMIT {}", MAX_ROWS + 1)
        };
        let mut q = sqlx::query(&sql).bind(f.since).bind(f.until);
        for a in args {
            q = q.bind(a);
        }
        let rows = q.fetch_all(&self.pool).await?;
        if rows.len() as i64 > MAX_ROWS {
            return Ok(None);
        }
        Ok(Some(rows.iter().map(rollup_row).collect::<Result<Vec<_>, sqlx::Error>>()?))
    }

    /// Roll every node's minute rows of whole hours before `horizon` (unix seconds) into hour
    /// rows, at most `max` hours per call. Each hour is claimed in `analytics_rolled` inside its
    /// own transaction, so of several nodes doing this at once exactly one rolls each hour.
    pub async fn roll_up_hours(&self, horizon: i64, max: i64) -> Result<usize, StoreError> {
        let hours: Vec<i64> = sqlx::query_scalar(
            "SELECT DISTINCT minute / 3600 * 3600 AS h FROM analytics_minutes m WHERE minute < $1 \
             AND NOT EXISTS (SELECT 1 FROM analytics_rolled r WHERE r.hour = m.minute / 3600 * 3600) ORDER BY h LIMIT $2",
        )
        .bind(horizon.div_euclid(3600) * 3600)
        .bind(max)
        .fetch_all(&self.pool)
        .await?;
        let mut rolled = 0;
        for h in hours {
            let mut tx = self.pool.begin().await?;
            match sqlx::query("INSERT INTO analytics_rolled (hour) VALUES ($1)").bind(h).execute(&mut *tx).await {
                Ok(_) => {}
                Err(e) if e.as_database_error().is_some_and(|d| d.is_unique_violation()) => continue,
                Err(e) => return Err(e.into()),
            }
            let rows = sqlx::query(
                "SELECT minute, api, version, operation, consumer, status_class, count, errors, bytes_in, bytes_out, \
                 latency_hist FROM analytics_minutes WHERE minute >= $1 AND minute < $2",
            )
            .bind(h)
            .bind(h + 3600)
            .fetch_all(&mut *tx)
            .await?;
            let mut merged: std::collections::HashMap<RollupKey, Rollup> = std::collections::HashMap::new();
            for r in &rows {
                let (mut k, roll) = rollup_row(r)?;
                k.start = h;
                merged.entry(k).or_default().merge(&roll);
            }
            for (k, r) in &merged {
                let q = sqlx::query(
                    "INSERT INTO analytics_hours (hour, api, version, operation, consumer, status_class, count, errors, \
                     bytes_in, bytes_out, latency_hist) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                )
                .bind(h);
                bind_values(q, k, r).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            rolled += 1;
        }
        Ok(rolled)
    }

    /// Delete minute rows older than `minutes_before` and hour rows (and their claims) older
    /// than `hours_before` (unix seconds).
    pub async fn prune_rollups(&self, minutes_before: i64, hours_before: i64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM analytics_minutes WHERE minute < $1").bind(minutes_before).execute(&self.pool).await?;
        sqlx::query("DELETE FROM analytics_hours WHERE hour < $1").bind(hours_before).execute(&self.pool).await?;
        sqlx::query("DELETE FROM analytics_rolled WHERE hour < $1").bind(hours_before).execute(&self.pool).await?;
        Ok(())
    }
}
