//! The edits themselves (`json_set` and `json_remove`) with JSON Pointer paths (RFC 6901, parsed
//! by the config: `config::JsonPointer`). Removals run first, then sets. A set creates missing objects on the
//! way; in an array an index may name an element or the end (`-`, or the length) to append. A
//! pointer that runs into a scalar, or past an array's end, changes nothing.

use crate::config::{HeaderRewrite, JsonPointer};
use serde_json::Value;
use std::sync::Arc;

type Pointer = Vec<String>;

#[derive(Debug, Default)]
pub struct JsonOps {
    remove: Vec<Pointer>,
    set: Vec<(Pointer, Value)>,
}

impl JsonOps {
    /// API and route tables merged: the route's `json_set` wins per pointer, both `json_remove`
    /// lists apply. `None` when there is nothing to do.
    pub fn merge(api: Option<&HeaderRewrite>, route: Option<&HeaderRewrite>) -> Option<Arc<JsonOps>> {
        let mut sets: std::collections::BTreeMap<&JsonPointer, &Value> = Default::default();
        let mut ops = JsonOps::default();
        for r in [api, route].into_iter().flatten() {
            sets.extend(&r.json_set);
            ops.remove.extend(r.json_remove.iter().map(|p| p.tokens().to_vec()));
        }
        ops.set = sets.into_iter().map(|(p, v)| (p.tokens().to_vec(), v.clone())).collect();
        (!ops.remove.is_empty() || !ops.set.is_empty()).then(|| Arc::new(ops))
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

    fn pointer(p: &str) -> Pointer {
        JsonPointer::parse(p).unwrap().tokens().to_vec()
    }

    fn ops(set: &[(&str, Value)], remove: &[&str]) -> JsonOps {
        JsonOps {
            set: set.iter().map(|(p, v)| (pointer(p), v.clone())).collect(),
            remove: remove.iter().map(|p| pointer(p)).collect(),
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
    fn invalid_json() {
        assert!(ops(&[], &["/a"]).apply(b"{not json").is_err());
        assert_eq!(index("01"), None);
    }
}
