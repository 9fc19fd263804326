//! Tolerant deserialization: every section and every array element is deserialized on its own,
//! and a failing key is reported and removed before trying again, so one run of `check` lists
//! every problem in the file instead of stopping at the first.

use super::model::*;
use super::ConfigError;
use serde::de::DeserializeOwned;
use serde_path_to_error::Segment;
use std::collections::{BTreeMap, BTreeSet};

/// Names of sections found in the file, including elements that failed to parse, and the key
/// paths of values that failed, so that cross-reference checks do not pile a second error on top
/// of the first.
#[derive(Default)]
pub struct SeenNames {
    pub clusters: BTreeSet<String>,
    failed: BTreeSet<String>,
}

impl SeenNames {
    /// True when the value at `path` was given but failed to parse (and was reported).
    pub fn failed(&self, path: &str) -> bool {
        self.failed.contains(path)
    }

    /// True when a value whose path starts with `prefix` failed to parse.
    pub fn failed_under(&self, prefix: &str) -> bool {
        self.failed.range(prefix.to_string()..).next().is_some_and(|p| p.starts_with(prefix))
    }
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
    seen.failed = errors.iter().map(|e| e.path.clone()).collect();
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
    let mut removed = Removed::default();
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
            errors.push(ConfigError::new(removed.join(path, &at), unknown_message(&message)));
            if !removed.remove(&mut value, path, &at) {
                return None;
            }
            continue;
        }
        errors.push(ConfigError::new(removed.join(path, &segments), message.clone()));
        if message.starts_with("missing field") || segments.is_empty() || !removed.remove(&mut value, path, &segments) {
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

/// Array elements removed so far (by the array's key path, their indices in the file), so that
/// later errors in the same array still name an element by its index in the file.
#[derive(Default)]
struct Removed(BTreeMap<String, Vec<usize>>);

impl Removed {
    /// The index in the file of what is now element `index` of `array`.
    fn original(&self, array: &str, index: usize) -> usize {
        // Ascending: each removed element at or before the candidate moves it one further.
        self.0.get(array).into_iter().flatten().fold(index, |i, &r| if r <= i { i + 1 } else { i })
    }

    /// The key path, in the file's indices, of `segments` under `prefix`.
    fn join(&self, prefix: &str, segments: &[Segment]) -> String {
        let mut out = prefix.to_string();
        for s in segments {
            match s {
                Segment::Seq { index } => {
                    let i = self.original(&out, *index);
                    out.push_str(&format!("[{i}]"));
                }
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

    /// Remove the value at `segments`, remembering an array element's index in the file.
    fn remove(&mut self, value: &mut toml::Value, prefix: &str, segments: &[Segment]) -> bool {
        if let Some((Segment::Seq { index }, parents)) = segments.split_last() {
            let array = self.join(prefix, parents);
            let i = self.original(&array, *index);
            let list = self.0.entry(array).or_default();
            list.insert(list.partition_point(|&r| r < i), i);
        }
        remove(value, segments)
    }
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

#[cfg(test)]
mod tests {
    fn errors(text: &str) -> Vec<String> {
        let base = "[[cluster]]\nname = \"c\"\nupstreams = [\"127.0.0.1:9\"]\n";
        match super::super::load_str(&format!("{base}{text}")) {
            Ok(_) => Vec::new(),
            Err(e) => e.iter().map(|e| e.to_string()).collect(),
        }
    }

    /// Exactly these errors, in any order.
    fn same(mut got: Vec<String>, want: &[&str]) {
        let mut want: Vec<&str> = want.to_vec();
        got.sort();
        want.sort();
        assert_eq!(got, want);
    }

    #[test]
    fn typed_values_are_reported_at_their_key_paths() {
        let got = errors(
            "[[api]]\nname = \"a\"\ncluster = \"c\"\nip_deny = [\"nope\", \"::1\", \"1.2.3\"]\n\
             version_header = \"API Version\"\n\
             [api.request]\nset_headers = { \"X Y\" = \"v\", \"X-Ok\" = \"a\\nb\", \"X-Fine\" = \"v\" }\n\
             remove_headers = [\"a b\", \"c d\"]\njson_set = { \"no-slash\" = 1, \"/ok\" = 2 }\n",
        );
        let want = [
            "api[0].ip_deny[0]: \"nope\" is not an IP address or CIDR",
            "api[0].ip_deny[2]: \"1.2.3\" is not an IP address or CIDR",
            "api[0].version_header: \"API Version\" is not a header name",
            "api[0].request.set_headers.X Y: not a valid header name",
            "api[0].request.set_headers.X-Ok: not a valid header value",
            "api[0].request.remove_headers[0]: \"a b\" is not a valid header name",
            "api[0].request.remove_headers[1]: \"c d\" is not a valid header name",
            "api[0].request.json_set.no-slash: JSON pointer \"no-slash\" must start with /",
        ];
        same(got, &want);
    }

    #[test]
    fn bad_values_are_not_also_missing_ones() {
        let got = errors(
            "[[jwt_issuer]]\nissuer = \"i\"\nalgorithms = [\"XS1\", \"none\"]\njwks_url = \"http://idp.test/jwks\"\n\
             claims_to_headers = { email = \"X Email\" }\n[[consumer]]\nname = \"x\"\n\
             api_keys = [\"sha256:ABC\"]\nbasic = { u = \"plaintext\" }\n",
        );
        let algs = "expected one of HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA";
        let want = [
            &format!("jwt_issuer[0].algorithms[0]: unknown algorithm \"XS1\"; {algs}") as &str,
            &format!("jwt_issuer[0].algorithms[1]: unknown algorithm \"none\"; {algs}"),
            "jwt_issuer[0].jwks_url: \"http://idp.test/jwks\": plain http:// is allowed only to a loopback host; use https://",
            "jwt_issuer[0].claims_to_headers.email: \"X Email\" is not a valid header name",
            "consumer[0].api_keys[0]: expected \"sha256:<64 lowercase hex digits>\" (gatehouse hash-key)",
            "consumer[0].basic.u: expected an argon2id (\"$argon2id$…\") or bcrypt (\"$2b$…\") hash",
        ];
        same(got, &want);
    }

    #[test]
    fn hash_on_is_parsed_and_checked_against_the_balance() {
        let cluster = "[[cluster]]\nname = \"h\"\nupstreams = [\"127.0.0.1:9\"]\n";
        let got = errors(&format!("{cluster}balance = \"consistent_hash\"\nhash_on = \"body\"\n"));
        assert_eq!(
            got,
            ["cluster[1].hash_on: \"body\": expected \"ip\", \"header:NAME\", \"cookie:NAME\" or \"path\""]
        );
        let got = errors(&format!("{cluster}hash_on = \"path\"\n"));
        assert_eq!(got, ["cluster[1].hash_on: only applies with balance = \"consistent_hash\""]);
    }
}
