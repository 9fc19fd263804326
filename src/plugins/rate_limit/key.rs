//! What a limit counts by for one request. An IP is kept as its octets: the local backend keys
//! cells by bytes, so the hot path formats no text; only Redis key names need the text form.

use crate::config::LimitKey;
use crate::pipeline::RequestCtx;
use pingora_proxy::Session;
use std::borrow::Cow;
use std::net::IpAddr;

pub enum KeyValue<'a> {
    Bytes(&'a [u8]),
    Ip(IpAddr),
    /// The SHA-256 of a long header value: a client choosing header values cannot make the
    /// gateway (or Redis) hold kilobytes per key, nor make two values share a count.
    Digest([u8; 32]),
}

/// Header values longer than this are counted by their digest.
const LONG_VALUE: usize = 64;

impl KeyValue<'_> {
    /// The bytes a local cell is keyed by (with the tag, no two kinds of key can meet).
    pub fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        match self {
            KeyValue::Bytes(b) => f(b),
            KeyValue::Ip(IpAddr::V4(a)) => f(&a.octets()),
            KeyValue::Ip(IpAddr::V6(a)) => f(&a.octets()),
            KeyValue::Digest(d) => f(d),
        }
    }

    /// The printable form, for Redis key names.
    pub fn text(&self) -> Cow<'_, str> {
        match self {
            KeyValue::Bytes(b) => String::from_utf8_lossy(b),
            KeyValue::Ip(ip) => Cow::Owned(ip.to_string()),
            KeyValue::Digest(d) => {
                Cow::Owned(format!("sha256:{}", d.iter().map(|b| format!("{b:02x}")).collect::<String>()))
            }
        }
    }
}

/// The key of a limit for this request: a tag (added to the limit's id, so a consumer name and
/// an IP never share a cell) and the value. Anonymous requests count by client IP; requests
/// without the header of a `header:NAME` limit count together.
pub fn key_value<'a>(key: &LimitKey, session: &'a Session, ctx: &'a RequestCtx) -> (u64, KeyValue<'a>) {
    let ip = || match ctx.client_ip {
        Some(ip) => (1, KeyValue::Ip(ip)),
        None => (1, KeyValue::Bytes(b"")),
    };
    match key {
        LimitKey::Consumer => match &ctx.consumer {
            Some(c) => (0, KeyValue::Bytes(c.name.as_bytes())),
            None => ip(),
        },
        LimitKey::Ip => ip(),
        LimitKey::Header(name) => {
            let value = session.req_header().headers.get(name.as_str()).map(|v| v.as_bytes()).unwrap_or_default();
            if value.len() > LONG_VALUE {
                use sha2::Digest;
                return (4, KeyValue::Digest(sha2::Sha256::digest(value).into()));
            }
            (2, KeyValue::Bytes(value))
        }
        LimitKey::Route => (3, KeyValue::Bytes(b"")),
    }
}
