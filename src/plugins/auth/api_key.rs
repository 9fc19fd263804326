//! Where an API key travels: the API's `key_header` (default `X-API-Key`) or, when `key_query`
//! is set, that query parameter. Both are removed from the request sent upstream.

use crate::config::HeaderName;
use pingora_http::RequestHeader;
use std::borrow::Cow;

pub struct KeySource {
    header: http::HeaderName,
    /// The name as configured (for the challenge).
    label: String,
    query: Option<String>,
}

impl KeySource {
    pub fn new(header: &HeaderName, query: Option<&str>) -> KeySource {
        // A header name is a token: no quote or backslash can end the challenge's string.
        KeySource {
            header: header.name().clone(),
            label: header.as_str().to_string(),
            query: query.map(str::to_string),
        }
    }

    pub fn challenge(&self) -> String {
        match &self.query {
            Some(q) => format!("ApiKey header=\"{}\", query=\"{q}\"", self.label),
            None => format!("ApiKey header=\"{}\"", self.label),
        }
    }

    /// The key from the header, else from the query parameter (percent-decoded).
    pub fn find<'a>(&self, req: &'a RequestHeader) -> Option<Cow<'a, [u8]>> {
        if let Some(v) = req.headers.get(&self.header) {
            return Some(Cow::Borrowed(v.as_bytes()));
        }
        let name = self.query.as_deref()?;
        let (_, q) = split_query(req.raw_path());
        q?.split(|&b| b == b'&').find_map(|pair| match param_value(pair, name) {
            Some(v) if !v.is_empty() => Some(percent_decode(v)),
            _ => None,
        })
    }

    pub fn strip(&self, req: &mut RequestHeader) {
        req.remove_header(&self.header);
        let Some(name) = self.query.as_deref() else { return };
        let raw = req.raw_path();
        let (path, Some(q)) = split_query(raw) else { return };
        if !q.split(|&b| b == b'&').any(|p| param_value(p, name).is_some()) {
            return;
        }
        let mut target = path.to_vec();
        let mut first = true;
        for pair in q.split(|&b| b == b'&').filter(|p| param_value(p, name).is_none()) {
            target.push(if first { b'?' } else { b'&' });
            target.extend_from_slice(pair);
            first = false;
        }
        // The target came from a valid request line; dropping parameters keeps it valid.
        let _ = req.set_raw_path(&target);
    }
}

fn split_query(raw: &[u8]) -> (&[u8], Option<&[u8]>) {
    match raw.iter().position(|&b| b == b'?') {
        Some(i) => (&raw[..i], Some(&raw[i + 1..])),
        None => (raw, None),
    }
}

/// `Some(value)` when `pair` is `name=value` or a bare `name`.
fn param_value<'a>(pair: &'a [u8], name: &str) -> Option<&'a [u8]> {
    let (k, v) = match pair.iter().position(|&b| b == b'=') {
        Some(i) => (&pair[..i], &pair[i + 1..]),
        None => (pair, &[][..]),
    };
    (k == name.as_bytes()).then_some(v)
}

/// `%XX` escapes decoded (`+` stays `+`: RFC 3986, not form encoding); a bad escape is kept.
fn percent_decode(v: &[u8]) -> Cow<'_, [u8]> {
    if !v.contains(&b'%') {
        return Cow::Borrowed(v);
    }
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(v.len());
    let mut i = 0;
    while i < v.len() {
        if v[i] == b'%' {
            if let (Some(h), Some(l)) = (v.get(i + 1).and_then(|&b| hex(b)), v.get(i + 2).and_then(|&b| hex(b))) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(v[i]);
        i += 1;
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(target: &str) -> RequestHeader {
        RequestHeader::build("GET", target.as_bytes(), None).unwrap()
    }

    #[test]
    fn query_key_found_decoded_and_stripped() {
        let s = KeySource::new(&HeaderName::known("X-API-Key"), Some("apikey"));
        let mut r = req("/p?a=1&apikey=k%2By&b=2&apikey=z");
        assert_eq!(s.find(&r).as_deref(), Some(&b"k+y"[..]));
        s.strip(&mut r);
        assert_eq!(r.raw_path(), b"/p?a=1&b=2");
        let mut r = req("/p?apikey=k");
        s.strip(&mut r);
        assert_eq!(r.raw_path(), b"/p");
        let r = req("/p?apikeyx=k");
        assert!(s.find(&r).is_none());
    }
}
