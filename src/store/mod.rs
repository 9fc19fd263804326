//! The management store: consumers and API keys made at run time, on `sqlx`'s `Any`
//! driver so one set of queries serves SQLite and PostgreSQL. Each backend has its own
//! migrations, applied at start. The proxy never queries the store: `live.rs` holds the tables
//! it reads, `sync.rs` keeps them current.
//!
//! The pool lives on the runtime of the store's background service; admin handlers, which run
//! on another runtime, hand their queries over with [`Store::run`].

pub mod analytics;
pub mod consumers;
pub mod hist;
pub mod keys;
pub mod live;
pub mod portal;
pub mod purges;
pub mod sync;

pub use live::StoreState;

use sqlx::any::AnyPoolOptions;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::AnyPool;
use std::borrow::Cow;
use std::future::Future;
use std::time::Duration;

/// The NOTIFY channel a PostgreSQL node announces a change on.
pub const CHANNEL: &str = "gatehouse_store";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of(url: &str) -> Backend {
        if url.starts_with("postgres") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    #[error("the store failed: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migrating the store failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    /// A uniqueness violation becomes a conflict the caller can explain.
    pub fn conflict_or(e: sqlx::Error, what: impl Into<String>) -> StoreError {
        match e.as_database_error() {
            Some(d) if d.is_unique_violation() => StoreError::Conflict(what.into()),
            _ => StoreError::Db(e),
        }
    }
}

#[derive(Clone)]
pub struct Store {
    pub pool: AnyPool,
    pub backend: Backend,
    /// The runtime that owns the pool's connections.
    rt: tokio::runtime::Handle,
}

const SQLITE: &[(i64, &str, &str)] = &[
    (1, "consumers keys", include_str!("migrations/sqlite/0001_consumers_keys.sql")),
    (2, "analytics", include_str!("migrations/sqlite/0002_analytics.sql")),
    (3, "analytics hours", include_str!("migrations/sqlite/0003_analytics_hours.sql")),
    (4, "portal", include_str!("migrations/sqlite/0004_portal.sql")),
    (5, "cache purges", include_str!("migrations/sqlite/0005_cache_purges.sql")),
];
const POSTGRES: &[(i64, &str, &str)] = &[
    (1, "consumers keys", include_str!("migrations/postgres/0001_consumers_keys.sql")),
    (2, "analytics", include_str!("migrations/postgres/0002_analytics.sql")),
    (3, "analytics hours", include_str!("migrations/postgres/0003_analytics_hours.sql")),
    (4, "portal", include_str!("migrations/postgres/0004_portal.sql")),
    (5, "cache purges", include_str!("migrations/postgres/0005_cache_purges.sql")),
];

fn migrator(backend: Backend) -> Migrator {
    let set = if backend == Backend::Sqlite { SQLITE } else { POSTGRES };
    let migrations: Vec<Migration> = set
        .iter()
        .map(|(v, d, sql)| Migration::new(*v, Cow::Borrowed(d), MigrationType::Simple, Cow::Borrowed(sql), false))
        .collect();
    // A newer binary may have migrated further during a rolling upgrade: tolerate its versions.
    Migrator { migrations: Cow::Owned(migrations), ignore_missing: true, ..Migrator::DEFAULT }
}

impl Store {
    /// Connect, create a SQLite file if missing, and apply the migrations. Call on the runtime
    /// that will own the pool.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of(url);
        let url = match backend {
            Backend::Sqlite => sqlite_url(url)?,
            Backend::Postgres => url.to_string(),
        };
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 4 } else { 8 })
            .acquire_timeout(Duration::from_secs(3))
            .connect(&url)
            .await?;
        if backend == Backend::Sqlite {
            // WAL lets readers go on while one writer commits (two processes during an upgrade).
            sqlx::query("PRAGMA journal_mode=WAL").execute(&pool).await?;
        }
        migrator(backend).run(&pool).await?;
        Ok(Store { pool, backend, rt: tokio::runtime::Handle::current() })
    }

    /// The highest migration applied to the database.
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        let v: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success = TRUE")
            .fetch_one(&self.pool)
            .await?;
        Ok(v.unwrap_or(0))
    }

    /// Run `f` with the pool on the store's own runtime (the pool's connections belong there).
    pub async fn run<T, F, Fut>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(Store) -> Fut,
        Fut: Future<Output = Result<T, StoreError>> + Send + 'static,
        T: Send + 'static,
    {
        let fut = f(self.clone());
        self.rt.spawn(fut).await.map_err(|e| StoreError::Unavailable(e.to_string()))?
    }

    /// Run `fut` on the store's runtime without waiting for it.
    pub fn spawn(&self, fut: impl Future<Output = ()> + Send + 'static) {
        self.rt.spawn(fut);
    }

    /// Tell the other PostgreSQL nodes that consumers or keys changed (no-op on SQLite). The
    /// change is committed already: a failed notice only delays the others until their resync.
    pub async fn announce(&self) -> Result<(), StoreError> {
        if self.backend == Backend::Postgres {
            if let Err(e) = sqlx::query("SELECT pg_notify($1, '')").bind(CHANNEL).execute(&self.pool).await {
                log::warn!("store: could not notify the other nodes (they catch up at their resync): {e}");
            }
        }
        Ok(())
    }
}

/// A `sqlite://` URL whose file (and directory) is created when missing.
fn sqlite_url(url: &str) -> Result<String, StoreError> {
    let path = crate::config::store::sqlite_path(url).unwrap_or_default();
    if let Some(dir) = std::path::Path::new(path).parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Unavailable(format!("{}: {e}", dir.display())))?;
    }
    Ok(if url.contains("mode=") {
        url.to_string()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    })
}

pub use crate::consumers::now_ms;

/// RFC 3339 (seconds) of a unix-milliseconds time.
pub fn rfc3339(ms: i64) -> String {
    let t = std::time::UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_seconds(t).to_string()
}
