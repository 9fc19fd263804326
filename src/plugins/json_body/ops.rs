//! The edits themselves (`json_set` and `json_remove`) with JSON Pointer paths (RFC 6901). Removals run first, then sets. A set creates missing objects on the
//! way; in an array an index may name an element or the end (`-`, or the length) to append. A
//! pointer that runs into a scalar, or past an array's end, changes nothing.

use crate::config::HeaderRewrite;
use serde_json::Value;
use std::sync::Arc;

type Pointer = Vec<String>;

#[derive(Debug, Default)]
pub struct JsonOps {
    remove: Vec<Pointer>,
    set: Vec<(Pointer, Value)>,
}

/// RFC 6901: `""` is the whole document (not allowed here), else `/`-separated tokens with
/// `~1` for `/` and `~0` for `~`.
pub fn parse_pointer(p: &str) -> Result<Pointer, String> {
    let Some(rest) = p.strip_prefix('/') else {
        return Err(format!("JSON pointer {p:?} must start with /"));
    };
    rest.split('/')
        .map(|t| {
            let bad = t.char_indices().any(|(i, c)| c == '~' && !matches!(t[i + 1..].chars().next(), Some('0' | '1')));
            if bad {
                Err(format!("JSON pointer {p:?}: ~ must be followed by 0 or 1"))
            } else {
                Ok(t.replace("~1", "/").replace("~0", "~"))
            }
        })
        .collect()
}

impl JsonOps {
    /// API and route tables merged: the route's `json_set` wins per pointer, both `json_remove`
    /// lists apply. `None` when there is nothing to do.
    pub fn merge(api: Option<&HeaderRewrite>, route: Option<&HeaderRewrite>) -> Result<Option<Arc<JsonOps>>, String> {
        let mut sets: std::collections::BTreeMap<&str, &Value> = Default::default();
        let mut ops = JsonOps::default();
        for r in [api, route].into_iter().flatten() {
            for (p, v) in &r.json_set {
                sets.insert(p, v);
            }
            for p in &r.json_remove {
                ops.remove.push(parse_pointer(p)?);
            }
        }
        for (p, v) in sets {
            ops.set.push((parse_pointer(p)?, v.clone()));
        }
        Ok((!ops.remove.is_empty() || !ops.set.is_empty()).then(|| Arc::new(ops)))
    }

    /// The edited document, or the parse error of a body that is not JSON.
    pub fn apply(&self, body: &[u8]) -> Result<Vec<u8>, serde_json::Error> {
        let mut doc: Value = serde_json::from_slice(body)?;
        for p in &self.remove {
            remove(&mut doc, p);
        }
        for (p, v) in &self.set {
            set(&mut doc, p, v.clone());
        }
        serde_json::to_vec(&doc)
    }
}

fn remove(doc: &mut Value, p: &[String]) {
    let Some((last, parents)) = p.split_last() else { return };
    let Some(parent) = walk(doc, parents) else { return };
    match parent {
        Value::Object(m) => {
            m.remove(last);
        }
        Value::Array(a) => {
            if let Some(i) = index(last).filter(|i| *i < a.len()) {
                a.remove(i);
            }
        }
        _ => {}
    }
}

fn walk<'a>(mut v: &'a mut Value, p: &[String]) -> Option<&'a mut Value> {
    for t in p {
        v = match v {
            Value::Object(m) => m.get_mut(t)?,
            Value::Array(a) => a.get_mut(index(t)?)?,
            _ => return None,
        };
    }
    Some(v)
}

fn set(doc: &mut Value, p: &[String], new: Value) {
    let Some((first, rest)) = p.split_first() else { return };
    let child = match doc {
        Value::Object(m) => {
            if rest.is_empty() {
                m.insert(first.clone(), new);
                return;
            }
            m.entry(first.clone()).or_insert_with(|| Value::Object(Default::default()))
        }
        Value::Array(a) => {
            let i = if first == "-" {
                a.len()
            } else {
                match index(first) {
                    Some(i) => i,
                    None => return,
                }
            };
            if i > a.len() {
                return;
            }
            if rest.is_empty() {
                match a.get_mut(i) {
                    Some(slot) => *slot = new,
                    None => a.push(new),
                }
                return;
            }
            if i == a.len() {
                a.push(Value::Object(Default::default()));
            }
            &mut a[i]
        }
        _ => return,
    };
    set(child, rest, new)
}

/// An array index: digits without a leading zero (RFC 6901 §4).
fn index(t: &str) -> Option<usize> {
    if t.is_empty() || (t.len() > 1 && t.starts_with('0')) || !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse().ok()
}

/// `application/json` or any `+json` type (parameters ignored).
#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ops(set: &[(&str, Value)], remove: &[&str]) -> JsonOps {
        JsonOps {
            set: set.iter().map(|(p, v)| (parse_pointer(p).unwrap(), v.clone())).collect(),
            remove: remove.iter().map(|p| parse_pointer(p).unwrap()).collect(),
        }
    }

    fn run(o: &JsonOps, doc: Value) -> Value {
        serde_json::from_slice(&o.apply(&serde_json::to_vec(&doc).unwrap()).unwrap()).unwrap()
    }

    #[test]
    fn nested_pointers_arrays_and_absent_paths() {
        let o = ops(
            &[
                ("/a/b/c", json!(1)),
                ("/list/0/name", json!("first")),
                ("/list/-", json!("appended")),
                ("/list/9", json!("too far")),
                ("/scalar/x", json!("into a scalar")),
                ("/we~1ird~0key", json!(true)),
            ],
            &["/secret", "/list/1", "/absent/deep", "/nested/drop"],
        );
        let out = run(
            &o,
            json!({"secret": "s", "scalar": 5, "list": [{"name": "x"}, "gone", "kept"], "nested": {"drop": 1, "keep": 2}}),
        );
        assert_eq!(
            out,
            json!({
                "a": {"b": {"c": 1}}, "scalar": 5, "we/ird~key": true,
                "list": [{"name": "first"}, "kept", "appended"], "nested": {"keep": 2}
            })
        );
    }

    #[test]
    fn bad_pointers_and_invalid_json() {
        assert!(parse_pointer("a/b").is_err());
        assert!(parse_pointer("/a~2").is_err());
        assert_eq!(parse_pointer("/a~1b/~0").unwrap(), vec!["a/b".to_string(), "~".to_string()]);
        assert!(ops(&[], &["/a"]).apply(b"{not json").is_err());
        assert_eq!(index("01"), None);
    }
}
