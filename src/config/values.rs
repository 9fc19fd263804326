//! Typed config values: header names and values, JSON pointers, IP networks and `hash_on`.
//! Each is parsed once, when the file is deserialized; its error is the message `check` prints
//! at the value's key path. The runtime and the plugins hold the parsed value and never parse
//! the string again. Credentials (key digests, password hashes, JWKS URLs) are in
//! `credentials.rs`.

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::str::FromStr;

/// Deserialize a string and parse it; the parser's error is the message `check` prints.
pub(super) fn parse_str<'de, D, T>(d: D, parse: impl FnOnce(&str) -> Result<T, String>) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
{
    let s = String::deserialize(d)?;
    parse(&s).map_err(de::Error::custom)
}

/// A header name as written in the file (`"X-API-Key"`). Equality and order follow the
/// spelling, as they did for the string; [`HeaderName::name`] is the lower-case name the proxy
/// matches with, [`HeaderName::as_value`] the spelling as a header value (for `Vary`).
#[derive(Clone)]
pub struct HeaderName {
    text: Box<str>,
    name: http::HeaderName,
    value: http::HeaderValue,
}

impl HeaderName {
    /// `"{s:?} is not a valid header name"` when `s` is not a token.
    pub fn parse(s: &str) -> Result<HeaderName, String> {
        Self::new(s).ok_or_else(|| format!("{s:?} is not a valid header name"))
    }

    fn new(s: &str) -> Option<HeaderName> {
        let name = http::HeaderName::from_bytes(s.as_bytes()).ok()?;
        // A token is visible ASCII, so always a valid value too.
        let value = http::HeaderValue::from_str(s).ok()?;
        Some(HeaderName { text: s.into(), name, value })
    }

    /// A name given in the source (a default): panics when it is not one.
    pub fn known(s: &'static str) -> HeaderName {
        Self::new(s).unwrap_or_else(|| panic!("{s:?} is not a header name"))
    }

    /// The name as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The lower-case name, for looking headers up and setting them.
    pub fn name(&self) -> &http::HeaderName {
        &self.name
    }

    /// The name as written, as a header value.
    pub fn as_value(&self) -> &http::HeaderValue {
        &self.value
    }
}

impl PartialEq for HeaderName {
    fn eq(&self, o: &Self) -> bool {
        self.text == o.text
    }
}
impl Eq for HeaderName {}
impl PartialOrd for HeaderName {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for HeaderName {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.text.cmp(&o.text)
    }
}
impl Hash for HeaderName {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.text.hash(h)
    }
}

impl fmt::Display for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// As the string it was.
impl fmt::Debug for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        fmt::Debug::fmt(&*self.text, f)
    }
}

impl<'de> Deserialize<'de> for HeaderName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        parse_str(d, HeaderName::parse)
    }
}

/// `version_header`, whose message has always read "is not a header name".
pub(super) fn version_header<'de, D: Deserializer<'de>>(d: D) -> Result<HeaderName, D::Error> {
    parse_str(d, |s| HeaderName::new(s).ok_or_else(|| format!("{s:?} is not a header name")))
}

/// A header value (`set_headers`): no control characters but tab.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderValue(http::HeaderValue);

impl HeaderValue {
    pub fn parse(s: &str) -> Result<HeaderValue, String> {
        http::HeaderValue::from_str(s).map(HeaderValue).map_err(|_| "not a valid header value".to_string())
    }

    pub fn as_http(&self) -> &http::HeaderValue {
        &self.0
    }
}

impl<'de> Deserialize<'de> for HeaderValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        parse_str(d, HeaderValue::parse)
    }
}

/// A JSON Pointer (RFC 6901) naming a member of a JSON body: `/`-separated tokens with `~1` for
/// `/` and `~0` for `~`; `""` (the whole document) is not allowed. Ordered by its text.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct JsonPointer {
    text: String,
    tokens: Vec<String>,
}

impl JsonPointer {
    pub fn parse(p: &str) -> Result<JsonPointer, String> {
        let Some(rest) = p.strip_prefix('/') else {
            return Err(format!("JSON pointer {p:?} must start with /"));
        };
        let tokens = rest
            .split('/')
            .map(|t| {
                let bad =
                    t.char_indices().any(|(i, c)| c == '~' && !matches!(t[i + 1..].chars().next(), Some('0' | '1')));
                if bad {
                    Err(format!("JSON pointer {p:?}: ~ must be followed by 0 or 1"))
                } else {
                    Ok(t.replace("~1", "/").replace("~0", "~"))
                }
            })
            .collect::<Result<_, _>>()?;
        Ok(JsonPointer { text: p.to_string(), tokens })
    }

    /// The unescaped tokens, outermost first.
    pub fn tokens(&self) -> &[String] {
        &self.tokens
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// As the string it was.
impl fmt::Debug for JsonPointer {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        fmt::Debug::fmt(&self.text, f)
    }
}

impl<'de> Deserialize<'de> for JsonPointer {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        parse_str(d, JsonPointer::parse)
    }
}

/// An address or CIDR of `ip_allow`, `ip_deny` and `trusted_proxies` (`"10.1.2.3"` is a /32,
/// `"::1"` a /128); host bits are kept as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IpNetwork(ipnet::IpNet);

impl IpNetwork {
    pub fn parse(s: &str) -> Result<IpNetwork, String> {
        crate::net::parse_cidr(s).map(IpNetwork).ok_or_else(|| format!("{s:?} is not an IP address or CIDR"))
    }

    pub fn net(self) -> ipnet::IpNet {
        self.0
    }
}

impl<'de> Deserialize<'de> for IpNetwork {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        parse_str(d, IpNetwork::parse)
    }
}

/// What `balance = "consistent_hash"` hashes: `ip`, `header:NAME`, `cookie:NAME` or `path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HashOn {
    Ip,
    Header(http::HeaderName),
    Cookie(String),
    Path,
}

impl FromStr for HashOn {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?}: expected \"ip\", \"header:NAME\", \"cookie:NAME\" or \"path\"");
        match s.split_once(':') {
            None if s == "ip" => Ok(HashOn::Ip),
            None if s == "path" => Ok(HashOn::Path),
            Some(("header", n)) => http::HeaderName::from_bytes(n.as_bytes()).map(HashOn::Header).map_err(|_| bad()),
            Some(("cookie", n))
                if !n.is_empty() && n.bytes().all(|b| b.is_ascii_graphic() && b != b';' && b != b'=') =>
            {
                Ok(HashOn::Cookie(n.to_string()))
            }
            _ => Err(bad()),
        }
    }
}

impl<'de> Deserialize<'de> for HashOn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        parse_str(d, str::parse)
    }
}

/// The key of a table whose keys are values too (`set_headers`, `json_set`).
pub trait TableKey: Ord + Sized {
    /// The message names the key's path already, so it need not repeat the key.
    fn from_key(key: &str) -> Result<Self, String>;
}

impl TableKey for HeaderName {
    fn from_key(key: &str) -> Result<Self, String> {
        HeaderName::new(key).ok_or_else(|| "not a valid header name".to_string())
    }
}

impl TableKey for JsonPointer {
    fn from_key(key: &str) -> Result<Self, String> {
        JsonPointer::parse(key)
    }
}

/// A table with parsed keys (`deserialize_with`). A bad key is reported at its own path
/// (`set_headers.X Y`), like a bad value, and only that entry is dropped.
pub(super) fn keyed_table<'de, D, K, V>(d: D) -> Result<BTreeMap<K, V>, D::Error>
where
    D: Deserializer<'de>,
    K: TableKey,
    V: Deserialize<'de>,
{
    struct Table<K, V>(PhantomData<(K, V)>);
    impl<'de, K: TableKey, V: Deserialize<'de>> Visitor<'de> for Table<K, V> {
        type Value = BTreeMap<K, V>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a map")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some(key) = map.next_key::<String>()? {
                // The key is parsed inside the value's seed, so its error carries the key's path.
                let (k, v) = map.next_value_seed(Entry::<K, V>(key, PhantomData))?;
                out.insert(k, v);
            }
            Ok(out)
        }
    }
    d.deserialize_map(Table(PhantomData))
}

struct Entry<K, V>(String, PhantomData<(K, V)>);

impl<'de, K: TableKey, V: Deserialize<'de>> DeserializeSeed<'de> for Entry<K, V> {
    type Value = (K, V);
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(K, V), D::Error> {
        let key = K::from_key(&self.0).map_err(de::Error::custom)?;
        Ok((key, V::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_names_keep_their_spelling() {
        let h = HeaderName::parse("X-API-Key").unwrap();
        assert_eq!((h.as_str(), h.name().as_str()), ("X-API-Key", "x-api-key"));
        assert_eq!(h.as_value(), "X-API-Key");
        assert_ne!(h, HeaderName::parse("x-api-key").unwrap());
        assert_eq!(HeaderName::parse("bad header").unwrap_err(), "\"bad header\" is not a valid header name");
        assert!(HeaderValue::parse("a\nb").is_err());
    }

    #[test]
    fn pointers() {
        assert!(JsonPointer::parse("a/b").is_err());
        assert!(JsonPointer::parse("/a~2").is_err());
        assert_eq!(JsonPointer::parse("/a~1b/~0").unwrap().tokens(), ["a/b", "~"]);
        assert_eq!(JsonPointer::parse("/").unwrap().tokens(), [""]);
    }

    #[test]
    fn networks() {
        assert_eq!(IpNetwork::parse("10.1.2.3").unwrap().net().prefix_len(), 32);
        assert_eq!(IpNetwork::parse("::1").unwrap().net().prefix_len(), 128);
        assert!(IpNetwork::parse("10.0.0.0/33").is_err());
        assert!(IpNetwork::parse("1.2.3").is_err());
    }

    #[test]
    fn hash_on_parses() {
        assert_eq!("ip".parse::<HashOn>(), Ok(HashOn::Ip));
        assert!(matches!("header:x-user".parse::<HashOn>(), Ok(HashOn::Header(_))));
        assert!("cookie:".parse::<HashOn>().is_err());
        assert!("body".parse::<HashOn>().is_err());
    }
}
