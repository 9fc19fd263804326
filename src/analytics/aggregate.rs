//! The aggregator service: drains the event queue every few milliseconds into per-minute
//! rollups held in memory, and every `flush_interval` writes the rows that changed to the
//! store in one transaction (this node's running total of each minute, so a rewrite is
//! idempotent). Finished minutes leave memory once written. Every ten minutes, hours that
//! ended over an hour ago are rolled into hour rows and rows past their retention deleted. A store that is down keeps the rows in memory until it is back.

use super::{status_class, Analytics, Event};
use crate::store::analytics::{Rollup, RollupKey};
use crate::store::StoreState;
use async_trait::async_trait;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often the queue is drained (bounds how full it gets between drains).
const DRAIN_EVERY: Duration = Duration::from_millis(20);
/// How often whole hours are rolled up and old rows deleted.
const HOURLY_WORK_EVERY: Duration = Duration::from_secs(600);
/// An hour is rolled up once it ended this long ago (later minute writes would be missed).
const ROLL_AFTER: i64 = 3600;
/// Rows kept in memory while the store cannot take them; past this the oldest minutes go.
const MAX_PENDING_ROWS: usize = 200_000;

pub struct Aggregator {
    pub analytics: Arc<Analytics>,
    pub store: Arc<StoreState>,
    pub flush_interval: Duration,
    pub retention: Duration,
    pub hour_retention: Duration,
}

#[derive(Default)]
struct Minute {
    roll: Rollup,
    dirty: bool,
}

#[derive(Default)]
struct Rollups {
    /// hashbrown for lookups by `KeyRef` (std's map needs an owned key to look one up).
    rows: hashbrown::HashMap<RollupKey, Minute>,
}

/// An event's row key borrowed from the event. It hashes exactly like `RollupKey` (the same
/// fields in the same order; a `&str` hashes like a `String`), so the row of a known key is
/// found without building one — five strings allocated per request otherwise.
#[derive(Hash, Clone, Copy)]
struct KeyRef<'a> {
    start: i64,
    api: &'a str,
    version: &'a str,
    operation: &'a str,
    consumer: &'a str,
    status_class: &'a str,
}

impl hashbrown::Equivalent<RollupKey> for KeyRef<'_> {
    fn equivalent(&self, k: &RollupKey) -> bool {
        self.start == k.start
            && self.operation == k.operation
            && self.consumer == k.consumer
            && self.status_class == k.status_class
            && self.api == k.api
            && self.version == k.version
    }
}

impl KeyRef<'_> {
    fn owned(self) -> RollupKey {
        RollupKey {
            start: self.start,
            api: self.api.to_string(),
            version: self.version.to_string(),
            operation: self.operation.to_string(),
            consumer: self.consumer.to_string(),
            status_class: self.status_class.to_string(),
        }
    }
}

impl Rollups {
    fn add(&mut self, e: Event) {
        let l = &e.labels;
        let key = KeyRef {
            start: e.at_ms.div_euclid(60_000) * 60,
            api: &l.api,
            version: &l.version,
            operation: &l.operation,
            consumer: e.consumer.as_ref().map(|c| c.name.as_str()).unwrap_or_default(),
            status_class: status_class(e.status),
        };
        let m = match self.rows.get_mut(&key) {
            Some(m) => m,
            None => self.rows.entry(key.owned()).or_default(),
        };
        m.dirty = true;
        m.roll.count += 1;
        if e.status >= 400 || e.status == 0 {
            m.roll.errors += 1;
        }
        m.roll.bytes_in += e.bytes_in as i64;
        m.roll.bytes_out += e.bytes_out as i64;
        m.roll.hist.record(e.latency_ms);
    }

    fn dirty(&self) -> Vec<(RollupKey, Rollup)> {
        self.rows.iter().filter(|(_, m)| m.dirty).map(|(k, m)| (k.clone(), m.roll.clone())).collect()
    }

    /// After a successful write: nothing is dirty; minutes before `keep_from` are done.
    fn written(&mut self, keep_from: i64) {
        self.rows.retain(|k, _| k.start >= keep_from);
        for m in self.rows.values_mut() {
            m.dirty = false;
        }
    }

    /// Keep at most `max` rows, dropping whole minutes, oldest first. Returns the events dropped.
    fn cap(&mut self, max: usize) -> u64 {
        let mut dropped = 0;
        while self.rows.len() > max {
            let Some(oldest) = self.rows.keys().map(|k| k.start).min() else { break };
            self.rows.retain(|k, m| {
                let keep = k.start != oldest;
                if !keep {
                    dropped += m.roll.count as u64;
                }
                keep
            });
        }
        dropped
    }
}

fn node_id() -> String {
    let mut b = [0u8; 6];
    let _ = getrandom::getrandom(&mut b);
    format!("{}-{}", std::process::id(), crate::store::keys::hex(&b))
}

impl Aggregator {
    async fn flush(&self, node: &str, rollups: &mut Rollups) {
        let rows = rollups.dirty();
        if rows.is_empty() {
            return;
        }
        let written = match self.store.store.get().cloned() {
            None => false,
            Some(store) => {
                let node = node.to_string();
                match store.run(move |s| async move { s.write_rollups(&node, &rows).await }).await {
                    Ok(()) => true,
                    Err(e) => {
                        log::warn!("analytics: cannot write rollups (kept for the next flush): {e}");
                        false
                    }
                }
            }
        };
        if written {
            // Events of a minute may still arrive just after it ends; keep the last two.
            rollups.written(crate::store::now_ms() / 1000 / 60 * 60 - 120);
            return;
        }
        let lost = rollups.cap(MAX_PENDING_ROWS);
        if lost > 0 {
            log::warn!(
                "analytics: the store is unavailable and {lost} events' rollups no longer fit in memory; dropped"
            );
            self.analytics.dropped.inc_by(lost);
        }
    }

    /// Roll finished hours up (every node's minutes; one node wins each hour), then delete
    /// rows past their retention.
    async fn hourly_work(&self) {
        let Some(store) = self.store.store.get().cloned() else { return };
        let now = crate::store::now_ms() / 1000;
        let minutes_before = now - self.retention.as_secs() as i64;
        let hours_before = now - self.hour_retention.as_secs() as i64;
        let work = store.run(move |s| async move {
            s.roll_up_hours(now - 3600 - ROLL_AFTER, 24 * 7).await?;
            s.prune_rollups(minutes_before, hours_before).await
        });
        if let Err(e) = work.await {
            log::warn!("analytics: cannot roll up or delete old rows: {e}");
        }
    }
}

#[async_trait]
impl BackgroundService for Aggregator {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let node = node_id();
        let mut rollups = Rollups::default();
        let mut next_flush = Instant::now() + self.flush_interval;
        let mut next_hourly = Instant::now() + Duration::from_secs(60);
        loop {
            let stopping = tokio::select! {
                _ = tokio::time::sleep(DRAIN_EVERY) => false,
                _ = shutdown.changed() => true,
            };
            while let Some(e) = self.analytics.pop() {
                rollups.add(e);
            }
            if stopping || Instant::now() >= next_flush {
                self.flush(&node, &mut rollups).await;
                next_flush = Instant::now() + self.flush_interval;
            }
            if Instant::now() >= next_hourly {
                self.hourly_work().await;
                next_hourly = Instant::now() + HOURLY_WORK_EVERY;
            }
            if stopping {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_rows_are_capped_oldest_minute_first() {
        let mut r = Rollups::default();
        for minute in 0..5 {
            for c in 0..3 {
                let key = RollupKey { start: minute * 60, consumer: format!("c{c}"), ..Default::default() };
                let m = r.rows.entry(key).or_default();
                m.roll.count = 2;
                m.dirty = true;
            }
        }
        assert_eq!(r.cap(15), 0);
        assert_eq!(r.cap(10), 2 * 3 * 2, "the two oldest minutes go");
        assert_eq!(r.rows.len(), 9);
        assert!(r.rows.keys().all(|k| k.start >= 120));
        assert_eq!(r.dirty().len(), 9);
    }

    #[test]
    fn a_borrowed_key_finds_its_row() {
        let mut r = Rollups::default();
        let owned = RollupKey {
            start: 60,
            api: "a".into(),
            version: "v1".into(),
            operation: "/x".into(),
            consumer: "c".into(),
            status_class: "2xx".into(),
        };
        r.rows.entry(owned.clone()).or_default().roll.count = 7;
        let k = KeyRef { start: 60, api: "a", version: "v1", operation: "/x", consumer: "c", status_class: "2xx" };
        assert_eq!(r.rows.get(&k).map(|m| m.roll.count), Some(7));
        assert!(r.rows.get(&KeyRef { consumer: "", ..k }).is_none());
        assert!(r.rows.get(&KeyRef { start: 120, ..k }).is_none());
        assert_eq!(k.owned(), owned);
    }
}
