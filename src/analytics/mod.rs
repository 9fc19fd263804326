//! Usage analytics: the proxy's `logging` hook pushes one [`Event`] per
//! routed request into a bounded lock-free queue (a full queue drops and counts, never waits);
//! the aggregator service (`aggregate.rs`) drains it, rolls events up per minute and writes the
//! changed rows to the store in batches. `GET /analytics` reads them back (`store/analytics.rs`).

pub mod aggregate;

use crate::consumers::Consumer;
use crossbeam_queue::ArrayQueue;
use prometheus::IntCounter;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

/// What an event reports a request under, built once per route when the config is loaded.
#[derive(Debug, Default)]
pub struct Labels {
    pub api: String,
    pub version: String,
    /// The route pattern (a spec operation's path joined to the base path).
    pub operation: String,
}

/// One routed request. Holds `Arc`s, not strings: pushing costs no allocation.
pub struct Event {
    pub at_ms: i64,
    pub labels: Arc<Labels>,
    pub consumer: Option<Arc<Consumer>>,
    pub status: u16,
    pub latency_ms: f64,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

/// Process-wide: the queue (made at start from `[analytics]`) and the drop counter.
pub struct Analytics {
    queue: OnceLock<ArrayQueue<Event>>,
    enabled: AtomicBool,
    pub dropped: IntCounter,
}

impl Default for Analytics {
    fn default() -> Self {
        let dropped = IntCounter::new(
            "gatehouse_analytics_dropped_events_total",
            "Analytics events dropped because the aggregator's queue was full",
        )
        .expect("static metric definition");
        Analytics { queue: OnceLock::new(), enabled: AtomicBool::new(false), dropped }
    }
}

impl Analytics {
    /// Turn recording on with a queue of `size` events (once, at start).
    pub fn start(&self, size: usize) {
        let _ = self.queue.set(ArrayQueue::new(size));
        self.enabled.store(true, Ordering::Release);
    }

    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// Never blocks: a full queue drops the event and counts it.
    pub fn push(&self, e: Event) {
        let Some(q) = self.queue.get() else { return };
        if q.push(e).is_err() {
            self.dropped.inc();
        }
    }

    pub fn pop(&self) -> Option<Event> {
        self.queue.get()?.pop()
    }
}

/// `2xx`, `4xx`…; `000` for a request that got no response.
pub fn status_class(status: u16) -> &'static str {
    match status / 100 {
        1 => "1xx",
        2 => "2xx",
        3 => "3xx",
        4 => "4xx",
        5 => "5xx",
        _ => "000",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels() -> Arc<Labels> {
        Arc::new(Labels { api: "a".into(), version: "v1".into(), operation: "/".into() })
    }

    #[test]
    fn a_full_queue_drops_and_counts() {
        let a = Analytics::default();
        let l = labels();
        let event = || Event {
            at_ms: 0,
            labels: l.clone(),
            consumer: None,
            status: 200,
            latency_ms: 1.0,
            bytes_in: 0,
            bytes_out: 0,
        };
        a.push(event());
        assert!(a.pop().is_none(), "off until started");
        a.start(2);
        for _ in 0..5 {
            a.push(event());
        }
        assert_eq!(a.dropped.get(), 3);
        assert!(a.pop().is_some() && a.pop().is_some() && a.pop().is_none());
    }
}
