//! Host + path + method routing. Hosts are hash lookups (exact, then `*.suffix` from the longest
//! suffix, then routes without hosts); paths walk a segment trie. The cost of a lookup depends on
//! the number of path segments and host labels, never on the number of routes.

use std::collections::HashMap as StdHashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

/// Keys are route segments and host names from the config; a request only looks them up, so
/// a fast non-keyed hash is safe here (nothing an attacker sends is ever inserted).
#[derive(Default)]
struct SegmentHasher(u64);

impl Hasher for SegmentHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
    fn write_u8(&mut self, b: u8) {
        self.0 = (self.0.rotate_left(5) ^ b as u64).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

type HashMap<K, V> = StdHashMap<K, V, BuildHasherDefault<SegmentHasher>>;

pub use crate::config::MethodSet;

struct Entry<T> {
    methods: MethodSet,
    value: Arc<T>,
}

struct Node<T> {
    statics: HashMap<Box<str>, Node<T>>,
    param: Option<Box<Node<T>>>,
    prefix: Vec<Entry<T>>,
    exact: Vec<Entry<T>>,
}

impl<T> Default for Node<T> {
    fn default() -> Self {
        Node { statics: HashMap::default(), param: None, prefix: Vec::new(), exact: Vec::new() }
    }
}

pub enum Match<'a, T> {
    Found(&'a Arc<T>),
    /// The path matched routes, none of them for this method.
    MethodNotAllowed(MethodSet),
    NotFound,
}

pub struct Router<T> {
    exact_hosts: HashMap<String, Node<T>>,
    wildcard_hosts: HashMap<String, Node<T>>,
    any_host: Node<T>,
}

impl<T> Default for Router<T> {
    fn default() -> Self {
        Router { exact_hosts: HashMap::default(), wildcard_hosts: HashMap::default(), any_host: Node::default() }
    }
}

fn segments(path: &str) -> impl Iterator<Item = &str> {
    let trimmed = path.strip_prefix('/').unwrap_or(path);
    let trimmed = trimmed.strip_suffix('/').unwrap_or(trimmed);
    trimmed.split('/').filter(|s| !s.is_empty())
}

impl<T> Router<T> {
    /// Add a route; fails if another route has the same host, path, kind and a shared method.
    pub fn insert(
        &mut self,
        hosts: &[String],
        path: &str,
        exact: bool,
        methods: MethodSet,
        value: Arc<T>,
    ) -> Result<(), String> {
        let tables: Vec<&str> = if hosts.is_empty() { vec![""] } else { hosts.iter().map(|h| h.as_str()).collect() };
        for host in tables {
            let root = if host.is_empty() {
                &mut self.any_host
            } else if let Some(suffix) = host.strip_prefix("*.") {
                self.wildcard_hosts.entry(suffix.to_string()).or_default()
            } else {
                self.exact_hosts.entry(host.to_string()).or_default()
            };
            let mut node = root;
            for seg in segments(path) {
                node = if seg.starts_with('{') && seg.ends_with('}') {
                    node.param.get_or_insert_with(Default::default)
                } else {
                    node.statics.entry(seg.into()).or_default()
                };
            }
            let list = if exact { &mut node.exact } else { &mut node.prefix };
            if list.iter().any(|e| e.methods.overlaps(methods)) {
                let host = if host.is_empty() { "any host" } else { host };
                return Err(format!("another route already serves {path} on {host} for one of these methods"));
            }
            list.push(Entry { methods, value: value.clone() });
        }
        Ok(())
    }

    /// `host` must be lower case without a port.
    pub fn lookup(&self, host: &str, path: &str, method: u16) -> Match<'_, T> {
        let mut allowed = 0u16;
        if !self.exact_hosts.is_empty() {
            if let Some(found) = self.exact_hosts.get(host).and_then(|n| find(n, path, method, &mut allowed)) {
                return Match::Found(found);
            }
        }
        if !self.wildcard_hosts.is_empty() {
            let mut rest = host;
            while let Some(dot) = rest.find('.') {
                rest = &rest[dot + 1..];
                if let Some(found) = self.wildcard_hosts.get(rest).and_then(|n| find(n, path, method, &mut allowed)) {
                    return Match::Found(found);
                }
            }
        }
        match find(&self.any_host, path, method, &mut allowed) {
            Some(found) => Match::Found(found),
            None if allowed != 0 => Match::MethodNotAllowed(MethodSet(allowed)),
            None => Match::NotFound,
        }
    }
}

fn find<'a, T>(root: &'a Node<T>, path: &str, method: u16, allowed: &mut u16) -> Option<&'a Arc<T>> {
    let trimmed = path.strip_prefix('/').unwrap_or(path);
    walk(root, trimmed, method, allowed)
}

/// Deepest match first; a static segment is preferred to a `{param}`.
fn walk<'a, T>(node: &'a Node<T>, rest: &str, method: u16, allowed: &mut u16) -> Option<&'a Arc<T>> {
    let rest = rest.trim_start_matches('/');
    if rest.is_empty() {
        if let Some(v) = pick(&node.exact, method, allowed) {
            return Some(v);
        }
    } else {
        let (seg, tail) = rest.split_once('/').unwrap_or((rest, ""));
        if let Some(child) = node.statics.get(seg) {
            if let Some(v) = walk(child, tail, method, allowed) {
                return Some(v);
            }
        }
        if let Some(child) = &node.param {
            if let Some(v) = walk(child, tail, method, allowed) {
                return Some(v);
            }
        }
    }
    pick(&node.prefix, method, allowed)
}

fn pick<'a, T>(list: &'a [Entry<T>], method: u16, allowed: &mut u16) -> Option<&'a Arc<T>> {
    for e in list {
        if e.methods.0 & method != 0 {
            return Some(&e.value);
        }
        *allowed |= e.methods.0;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    type Spec<'a> = (&'a [&'a str], &'a str, bool, &'a [&'a str], &'static str);

    fn router(routes: &[Spec]) -> Router<&'static str> {
        let mut r = Router::default();
        for (hosts, path, exact, methods, name) in routes {
            let hosts: Vec<String> = hosts.iter().map(|s| s.to_string()).collect();
            let methods: Vec<String> = methods.iter().map(|s| s.to_string()).collect();
            r.insert(&hosts, path, *exact, MethodSet::from_names(&methods), Arc::new(*name)).unwrap();
        }
        r
    }

    fn get(r: &Router<&'static str>, host: &str, path: &str, m: &str) -> String {
        match r.lookup(host, path, MethodSet::bit(&m.parse().unwrap())) {
            Match::Found(v) => v.to_string(),
            Match::MethodNotAllowed(a) => format!("405 {}", a.allow_header()),
            Match::NotFound => "404".into(),
        }
    }

    #[test]
    fn table() {
        let r = router(&[
            (&[], "/pets", false, &[], "pets"),
            (&[], "/pets/{id}/toys", false, &[], "toys"),
            (&[], "/pets/special", true, &["GET"], "special"),
            (&[], "/admin", false, &["POST"], "admin"),
            (&["api.example.com"], "/", false, &[], "exact-host"),
            (&["*.example.com"], "/pets", false, &[], "wild-host"),
        ]);
        assert_eq!(get(&r, "x", "/pets", "GET"), "pets");
        assert_eq!(get(&r, "x", "/pets/", "GET"), "pets");
        assert_eq!(get(&r, "x", "/pets/1", "GET"), "pets");
        assert_eq!(get(&r, "x", "/petsfoo", "GET"), "404");
        assert_eq!(get(&r, "x", "/pets/7/toys/ball", "GET"), "toys");
        assert_eq!(get(&r, "x", "/pets/special", "GET"), "special");
        assert_eq!(get(&r, "x", "/pets/special", "POST"), "pets");
        assert_eq!(get(&r, "x", "/pets/special/x", "GET"), "pets");
        assert_eq!(get(&r, "x", "/admin/users", "GET"), "405 POST");
        assert_eq!(get(&r, "api.example.com", "/anything", "GET"), "exact-host");
        assert_eq!(get(&r, "a.b.example.com", "/pets/1", "GET"), "wild-host");
        assert_eq!(get(&r, "a.example.com", "/admin", "POST"), "admin");
        assert_eq!(get(&r, "example.com", "/pets", "GET"), "pets");
    }

    #[test]
    fn conflicts_are_reported() {
        let mut r: Router<u8> = Router::default();
        r.insert(&[], "/a", false, MethodSet::from_names(&["GET".into()]), Arc::new(1)).unwrap();
        r.insert(&[], "/a", false, MethodSet::from_names(&["POST".into()]), Arc::new(2)).unwrap();
        assert!(r.insert(&[], "/a", false, MethodSet::ANY, Arc::new(3)).is_err());
        assert!(r.insert(&[], "/a", true, MethodSet::ANY, Arc::new(4)).is_ok());
    }
}
