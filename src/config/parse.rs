//! Tolerant deserialization: every section and every array element is deserialized on its own,
//! and a failing key is reported and removed before trying again, so one run of `check` lists
//! every problem in the file instead of stopping at the first.

use super::model::*;
use super::ConfigError;
use serde::de::DeserializeOwned;
use serde_path_to_error::Segment;
use std::collections::BTreeSet;

/// Names of sections found in the file, including elements that failed to parse, so that
/// cross-reference checks do not pile a second error on top of the first.
#[derive(Default)]
pub struct SeenNames {
    pub clusters: BTreeSet<String>,
}

const TOP_LEVEL: &[&str] = &[
    "server",
    "admin",
    "portal",
    "cluster",
    "api",
    "consumer",
    "jwt_issuer",
    "plan",
    "limits",
    "cache",
    "store",
    "analytics",
];

pub fn parse_document(text: &str) -> Result<(Config, SeenNames, Vec<ConfigError>), ConfigError> {
    let doc: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        let at = e.span().map(|s| line_col(text, s.start)).unwrap_or_default();
        ConfigError::new(at, e.message().trim().to_string())
    })?;
    let mut errors = Vec::new();
    let mut cfg = Config::default();
    let mut seen = SeenNames::default();
    for (key, value) in doc {
        match key.as_str() {
            "server" => {
                if let Some(s) = lenient::<ServerConfig>("server", value, &mut errors) {
                    cfg.server = s;
                }
            }
            "admin" => cfg.admin = lenient::<AdminConfig>("admin", value, &mut errors),
            "portal" => cfg.portal = lenient("portal", value, &mut errors),
            "cluster" => {
                for (i, v) in elements("cluster", value, &mut errors) {
                    if let Some(name) = v.get("name").and_then(|n| n.as_str()) {
                        seen.clusters.insert(name.to_string());
                    }
                    if let Some(c) = lenient::<ClusterConfig>(&format!("cluster[{i}]"), v, &mut errors) {
                        cfg.clusters.push(c);
                    }
                }
            }
            "api" => each("api", value, &mut errors, &mut cfg.apis),
            "consumer" => each("consumer", value, &mut errors, &mut cfg.consumers),
            "jwt_issuer" => each("jwt_issuer", value, &mut errors, &mut cfg.jwt_issuers),
            "plan" => each("plan", value, &mut errors, &mut cfg.plans),
            "limits" => {
                if let Some(l) = lenient::<LimitsConfig>("limits", value, &mut errors) {
                    cfg.limits = l;
                }
            }
            "cache" => {
                if let Some(c) = lenient::<CacheConfig>("cache", value, &mut errors) {
                    cfg.cache = c;
                }
            }
            "analytics" => {
                if let Some(a) = lenient("analytics", value, &mut errors) {
                    cfg.analytics = a;
                }
            }
            "store" => {
                if let Some(s) = lenient("store", value, &mut errors) {
                    cfg.store = s;
                }
            }
            other => {
                errors.push(ConfigError::new(other, format!("unknown key; expected one of {}", TOP_LEVEL.join(", "))))
            }
        }
    }
    Ok((cfg, seen, errors))
}

fn line_col(text: &str, offset: usize) -> String {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.len() - before.rfind('\n').map(|p| p + 1).unwrap_or(0) + 1;
    format!("line {line}, column {col}")
}

/// Every element of an array of tables `[[name]]` that parses, each reported on its own.
fn each<T: DeserializeOwned>(name: &str, value: toml::Value, errors: &mut Vec<ConfigError>, out: &mut Vec<T>) {
    for (i, v) in elements(name, value, errors) {
        if let Some(t) = lenient::<T>(&format!("{name}[{i}]"), v, errors) {
            out.push(t);
        }
    }
}

fn elements(path: &str, value: toml::Value, errors: &mut Vec<ConfigError>) -> Vec<(usize, toml::Value)> {
    match value {
        toml::Value::Array(items) => items.into_iter().enumerate().collect(),
        _ => {
            errors.push(ConfigError::new(path, format!("must be an array of tables ([[{path}]])")));
            Vec::new()
        }
    }
}

/// Deserialize `value` as `T`, reporting every failing key under `path`. Returns what could be
/// parsed, or `None` when a required key is missing.
fn lenient<T: DeserializeOwned>(path: &str, mut value: toml::Value, errors: &mut Vec<ConfigError>) -> Option<T> {
    // Each round removes one offending key; the bound only guards against a loop.
    for _ in 0..64 {
        let err = match serde_path_to_error::deserialize::<_, T>(value.clone()) {
            // Keep what parsed (failing keys removed) so its values are still validated; the
            // errors already recorded make the whole load fail.
            Ok(v) => return Some(v),
            Err(e) => e,
        };
        let segments: Vec<Segment> = err.path().iter().cloned().collect();
        let message = err.inner().message().trim().to_string();
        if let Some(field) = unknown_field(&message) {
            // serde reports an unknown key at the table that holds it.
            let mut at = segments.clone();
            if !matches!(at.last(), Some(Segment::Map { key }) if key == field) {
                at.push(Segment::Map { key: field.to_string() });
            }
            errors.push(ConfigError::new(join(path, &at), unknown_message(&message)));
            if !remove(&mut value, &at) {
                return None;
            }
            continue;
        }
        errors.push(ConfigError::new(join(path, &segments), message.clone()));
        if message.starts_with("missing field") || segments.is_empty() || !remove(&mut value, &segments) {
            return None;
        }
    }
    None
}

fn unknown_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("unknown field `")?;
    rest.split('`').next()
}

fn unknown_message(message: &str) -> String {
    match message.split_once(", expected") {
        Some((_, expected)) => format!("unknown key; expected{expected}"),
        None => "unknown key".to_string(),
    }
}

fn join(prefix: &str, segments: &[Segment]) -> String {
    let mut out = prefix.to_string();
    for s in segments {
        match s {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Unknown => {}
        }
    }
    out
}

/// Remove the value at `segments` so the next round can get past it.
fn remove(value: &mut toml::Value, segments: &[Segment]) -> bool {
    let Some((last, parents)) = segments.split_last() else { return false };
    let mut cur = value;
    for s in parents {
        let next = match (s, cur) {
            (Segment::Seq { index }, toml::Value::Array(a)) => a.get_mut(*index),
            (Segment::Map { key }, toml::Value::Table(t)) => t.get_mut(key),
            _ => None,
        };
        match next {
            Some(v) => cur = v,
            None => return false,
        }
    }
    match (last, cur) {
        (Segment::Seq { index }, toml::Value::Array(a)) if *index < a.len() => {
            a.remove(*index);
            true
        }
        (Segment::Map { key }, toml::Value::Table(t)) => t.remove(key).is_some(),
        _ => false,
    }
}
