//! Cache purges carried by the store, so a purge reaches every node. The node that
//! takes a purge applies it to its own cache at once, then records it (and, on PostgreSQL,
//! notifies); every node applies the others' purges on that notice and at each resync. A
//! process's cache starts empty, so its first look only notes what the log already holds.

use super::{now_ms, Backend, Store, StoreError, CHANNEL};
use std::collections::BTreeSet;
use std::sync::{Mutex, OnceLock};

/// The NOTIFY payload of a purge (an empty one means consumers or keys changed).
pub const NOTICE: &str = "purge";
/// Purge rows are kept this long; a node cut off from the store for longer misses older ones.
const KEEP_MS: i64 = 24 * 3600 * 1000;
/// Ids re-read below the last seen one: a PostgreSQL sequence hands out ids before commit, so
/// one may become visible after a higher one was already read.
const LOOKBACK: i64 = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Purge {
    All,
    Url(String),
    Prefix(String),
}

impl Purge {
    pub fn matches(&self, url: &str) -> bool {
        match self {
            Purge::All => true,
            Purge::Url(u) => u == url,
            Purge::Prefix(p) => url.starts_with(p.as_str()),
        }
    }

    fn parts(&self) -> (&'static str, &str) {
        match self {
            Purge::All => ("all", ""),
            Purge::Url(u) => ("url", u),
            Purge::Prefix(p) => ("prefix", p),
        }
    }

    fn from_parts(kind: &str, target: String) -> Option<Purge> {
        match kind {
            "all" => Some(Purge::All),
            "url" => Some(Purge::Url(target)),
            "prefix" => Some(Purge::Prefix(target)),
            _ => None,
        }
    }
}

type Apply = Box<dyn Fn(&Purge) -> usize + Send + Sync>;

/// This process's place in the purge log.
pub struct PurgeFeed {
    /// Random per process: a node skips its own rows (it applied them when it made them).
    pub node: String,
    seen: Mutex<Seen>,
    apply: OnceLock<Apply>,
}

#[derive(Default)]
struct Seen {
    started: bool,
    last: i64,
    /// Ids applied within the look-back window.
    applied: BTreeSet<i64>,
}

impl Default for PurgeFeed {
    fn default() -> Self {
        let mut id = [0u8; 8];
        // Without randomness two processes could share an id and skip each other's purges;
        // fall back to the pid and time, which differ between live processes.
        if getrandom::getrandom(&mut id).is_err() {
            id = (u64::from(std::process::id()) << 32 ^ now_ms() as u64).to_le_bytes();
        }
        PurgeFeed { node: super::keys::hex(&id), seen: Mutex::default(), apply: OnceLock::new() }
    }
}

impl PurgeFeed {
    /// What a purge from another node does here (set once, by the server).
    pub fn on_purge(&self, f: impl Fn(&Purge) -> usize + Send + Sync + 'static) {
        let _ = self.apply.set(Box::new(f));
    }

    /// Apply what other nodes purged since the last look.
    pub async fn catch_up(&self, store: &Store) -> Result<(), StoreError> {
        let (started, last) = {
            let s = self.seen.lock().unwrap_or_else(|e| e.into_inner());
            (s.started, s.last)
        };
        if !started {
            // Everything already in the log is older than this process's cache: note it as
            // applied, look-back window included, so a later look does not replay it.
            let end = store.run(|s| async move { s.last_purge().await }).await?;
            let from = end - LOOKBACK;
            let rows = store.run(move |s| async move { s.purges_after(from).await }).await?;
            let mut s = self.seen.lock().unwrap_or_else(|e| e.into_inner());
            (s.started, s.last) = (true, end);
            s.applied.extend(rows.into_iter().map(|(id, ..)| id));
            return Ok(());
        }
        let from = last - LOOKBACK;
        let rows = store.run(move |s| async move { s.purges_after(from).await }).await?;
        let mut s = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        for (id, node, purge) in rows {
            if id > s.last {
                s.last = id;
            }
            if !s.applied.insert(id) || node == self.node {
                continue;
            }
            if let Some(apply) = self.apply.get() {
                let n = apply(&purge);
                log::info!("cache: applied a purge from node {node} ({n} entries)");
            }
        }
        let floor = s.last - LOOKBACK;
        s.applied.retain(|&id| id > floor);
        Ok(())
    }
}

impl Store {
    /// Record a purge this node made, tell the other nodes, and prune old rows.
    pub async fn record_purge(&self, node: &str, purge: &Purge) -> Result<(), StoreError> {
        let (kind, target) = purge.parts();
        let now = now_ms();
        sqlx::query("INSERT INTO cache_purges (node, kind, target, created_at) VALUES ($1, $2, $3, $4)")
            .bind(node)
            .bind(kind)
            .bind(target)
            .bind(now)
            .execute(&self.pool)
            .await?;
        sqlx::query("DELETE FROM cache_purges WHERE created_at < $1").bind(now - KEEP_MS).execute(&self.pool).await?;
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_notify($1, $2)").bind(CHANNEL).bind(NOTICE).execute(&self.pool).await?;
        }
        Ok(())
    }

    async fn last_purge(&self) -> Result<i64, StoreError> {
        let v: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM cache_purges").fetch_one(&self.pool).await?;
        Ok(v.unwrap_or(0))
    }

    async fn purges_after(&self, id: i64) -> Result<Vec<(i64, String, Purge)>, StoreError> {
        let rows: Vec<(i64, String, String, String)> =
            sqlx::query_as("SELECT id, node, kind, target FROM cache_purges WHERE id > $1 ORDER BY id")
                .bind(id)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().filter_map(|(id, node, kind, t)| Some((id, node, Purge::from_parts(&kind, t)?))).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::Purge;

    #[test]
    fn purges_match_urls() {
        assert!(Purge::All.matches("http://a/x"));
        assert!(Purge::Url("http://a/x".into()).matches("http://a/x"));
        assert!(!Purge::Url("http://a/x".into()).matches("http://a/x?y"));
        assert!(Purge::Prefix("http://a/x".into()).matches("http://a/x?y"));
        assert!(!Purge::Prefix("http://a/x".into()).matches("http://b/x"));
        for p in [Purge::All, Purge::Url("u".into()), Purge::Prefix("p".into())] {
            let (k, t) = p.parts();
            assert_eq!(Purge::from_parts(k, t.to_string()), Some(p));
        }
    }
}
