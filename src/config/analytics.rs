//! `[analytics]`: per-minute usage rollups written to the store.

use super::units::HumanDuration;
use serde::Deserialize;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AnalyticsConfig {
    pub enabled: bool,
    /// How often the aggregator writes what changed (and how far `/analytics` may trail).
    pub flush_interval: HumanDuration,
    /// How long minute rows are kept.
    pub retention: HumanDuration,
    /// How long hour rows (rolled up from minutes) are kept.
    pub hour_retention: HumanDuration,
    /// Events waiting for the aggregator; a full queue drops (and counts) new events.
    pub queue_size: usize,
}

impl Default for AnalyticsConfig {
    fn default() -> Self {
        AnalyticsConfig {
            enabled: true,
            flush_interval: HumanDuration(Duration::from_secs(5)),
            retention: HumanDuration(Duration::from_secs(7 * 86400)),
            hour_retention: HumanDuration(Duration::from_secs(90 * 86400)),
            queue_size: 16384,
        }
    }
}

pub fn validate(a: &AnalyticsConfig, err: &mut dyn FnMut(String, String)) {
    let f = a.flush_interval.0;
    if f < Duration::from_millis(100) || f > Duration::from_secs(300) {
        err("analytics.flush_interval".into(), "must be between 100ms and 5m".into());
    }
    // Minutes are rolled into hours an hour or two after their hour ends: keep them that long.
    if a.retention.0 < Duration::from_secs(3 * 3600) {
        err("analytics.retention".into(), "must be at least 3h".into());
    }
    if a.hour_retention.0 < a.retention.0 {
        err("analytics.hour_retention".into(), "must be at least analytics.retention".into());
    }
    if !(1024..=16 << 20).contains(&a.queue_size) {
        err("analytics.queue_size".into(), "must be between 1024 and 16777216".into());
    }
}
