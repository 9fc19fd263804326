//! `[store]`: where consumers and keys made at run time live.

use super::units::HumanDuration;
use serde::Deserialize;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// `sqlite://PATH` or `postgres://…`; absent = `sqlite://<data_dir>/gatehouse.db`.
    pub url: Option<String>,
    /// How often the in-memory tables are reloaded whole, whatever notifications said.
    pub resync_interval: HumanDuration,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig { url: None, resync_interval: HumanDuration(Duration::from_secs(10)) }
    }
}

impl StoreConfig {
    /// The URL to connect to, with a relative SQLite path resolved against the config's directory.
    pub fn resolved_url(&self, loaded: &super::LoadedConfig) -> String {
        match self.url.as_deref() {
            None => {
                let dir = loaded.resolve(&loaded.config.server.data_dir);
                format!("sqlite://{}", dir.join("gatehouse.db").display())
            }
            Some(u) => match sqlite_path(u) {
                Some(p) if !p.starts_with('/') => format!("sqlite://{}", loaded.resolve(p).display()),
                _ => u.to_string(),
            },
        }
    }
}

/// The path of a `sqlite://PATH` (or `sqlite:PATH`) URL, without any `?query`.
pub fn sqlite_path(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    Some(rest.split('?').next().unwrap_or(rest))
}

pub fn validate(s: &StoreConfig, err: &mut dyn FnMut(String, String)) {
    if let Some(u) = &s.url {
        let pg = u.starts_with("postgres://") || u.starts_with("postgresql://");
        match sqlite_path(u) {
            Some("") => err("store.url".into(), "a sqlite:// URL needs a file path".into()),
            Some(":memory:") => {
                err("store.url".into(), "an in-memory SQLite store would lose every change; give a file path".into())
            }
            Some(_) => {}
            None if pg => {}
            None => err("store.url".into(), "expected sqlite://PATH or postgres://USER@HOST/DB".into()),
        }
    }
    let secs = s.resync_interval.0;
    if secs < Duration::from_secs(1) || secs > Duration::from_secs(3600) {
        err("store.resync_interval".into(), "must be between 1s and 1h".into());
    }
}
