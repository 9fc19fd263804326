//! What the proxy reads: the store's consumers and keys filled into `consumers::LiveTables`
//! (one atomic load per lookup), plus the store's health for `/status`.

use super::consumers::{ConsumerRow, KeyHash};
use super::{now_ms, Store, StoreError};
use crate::consumers::{parse_hex32, Consumer, LiveDirectory, LiveKey, LiveTables};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// The live tables from one snapshot of the store's rows.
pub fn live_tables(consumers: Vec<ConsumerRow>, keys: Vec<KeyHash>) -> LiveTables {
    let consumers: HashMap<String, Arc<Consumer>> =
        consumers.into_iter().map(|c| (c.name.clone(), Arc::new(Consumer::new(c.name, c.groups, c.plan)))).collect();
    let by_key_hash = keys
        .into_iter()
        .filter_map(|k| {
            let consumer = consumers.get(&k.consumer)?.clone();
            Some((parse_hex32(&k.hash)?, LiveKey { consumer, expires_at: k.expires_at }))
        })
        .collect();
    LiveTables { by_key_hash, consumers }
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct StoreHealth {
    pub backend: &'static str,
    /// `starting` until the first load, then `ok` or `unavailable`.
    pub state: &'static str,
    pub schema_version: Option<i64>,
    pub last_sync: Option<String>,
    pub error: Option<String>,
    pub consumers: usize,
    pub keys: usize,
}

/// Process-wide (kept across config reloads): the store once open, and the tables from it.
#[derive(Default)]
pub struct StoreState {
    /// Read by the auth plugins of every runtime (kept across reloads).
    pub tables: Arc<LiveDirectory>,
    pub store: OnceLock<Store>,
    /// Woken once `store` is set.
    pub opened: tokio::sync::Notify,
    health: Mutex<StoreHealth>,
    /// One full reload at a time, so an older snapshot never replaces a newer one.
    reloading: tokio::sync::Mutex<()>,
    /// Cache purges made by other nodes, applied here.
    pub purges: super::purges::PurgeFeed,
}

impl StoreState {
    /// The store, waiting up to `limit` for it to open (just after start).
    pub async fn wait_open(&self, limit: std::time::Duration) -> Option<Store> {
        // A `Notified` created before the check is woken by a later `notify_waiters`.
        let opened = self.opened.notified();
        if let Some(s) = self.store.get() {
            return Some(s.clone());
        }
        let _ = tokio::time::timeout(limit, opened).await;
        self.store.get().cloned()
    }

    pub fn health(&self) -> StoreHealth {
        let mut h = self.health.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if h.state.is_empty() {
            h.state = "starting";
        }
        h
    }

    pub fn set_health(&self, f: impl FnOnce(&mut StoreHealth)) {
        f(&mut self.health.lock().unwrap_or_else(|e| e.into_inner()));
    }

    /// Read the whole store and swap the tables in. On failure the last tables stay.
    pub async fn reload(&self) -> Result<(), StoreError> {
        let Some(store) = self.store.get() else {
            return Err(StoreError::Unavailable("not open yet".into()));
        };
        let _one = self.reloading.lock().await;
        let result = store.run(|s| async move { s.snapshot().await }).await;
        match result {
            Ok((consumers, keys)) => {
                let tables = live_tables(consumers, keys);
                let (nc, nk) = (tables.consumers.len(), tables.by_key_hash.len());
                self.tables.store(Arc::new(tables));
                self.set_health(|h| {
                    if h.state != "ok" {
                        log::info!("store: {} tables loaded ({nc} consumers, {nk} keys)", h.backend);
                    }
                    h.state = "ok";
                    h.error = None;
                    h.last_sync = Some(super::rfc3339(now_ms()));
                    h.consumers = nc;
                    h.keys = nk;
                });
                self.catch_up_purges().await;
                Ok(())
            }
            Err(e) => {
                self.mark_down(&e);
                Err(e)
            }
        }
    }

    /// Apply the purges other nodes made since the last look.
    pub async fn catch_up_purges(&self) {
        let Some(store) = self.store.get() else { return };
        if let Err(e) = self.purges.catch_up(store).await {
            log::warn!("store: could not read cache purges (retried at the next sync): {e}");
        }
    }

    /// Record a purge this node made so the other nodes apply it too. In the background: this
    /// node's cache is purged already, and a store that is down must not hold up the answer.
    pub fn announce_purge(&self, purge: super::purges::Purge) {
        let Some(store) = self.store.get().cloned() else {
            log::warn!("cache: purge applied on this node only (the store is not open)");
            return;
        };
        let node = self.purges.node.clone();
        store.clone().spawn(async move {
            if let Err(e) = store.record_purge(&node, &purge).await {
                log::warn!("cache: purge applied on this node only (not recorded in the store: {e})");
            }
        });
    }

    pub fn mark_down(&self, e: &StoreError) {
        self.set_health(|h| {
            if h.state != "unavailable" {
                log::warn!("store: unavailable, serving the last known consumers and keys: {e}");
            }
            h.state = "unavailable";
            h.error = Some(e.to_string());
        });
    }
}
