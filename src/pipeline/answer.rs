//! The one channel for headers that belong on the answer, whoever makes it — the upstream, the
//! cache or the gateway itself (401, 429, 410, a mock): CORS, rate-limit state, lifecycle
//! (`Deprecation`, `Sunset`, `Link`), `Cache-Status`, the `Vary` of versioned APIs. Plugins push
//! in the request phase; the proxy moves them into whichever answer goes out.

use http::{HeaderMap, HeaderName, HeaderValue};
use pingora_http::ResponseHeader;

#[derive(Default, Debug)]
pub struct AnswerHeaders(Vec<(HeaderName, HeaderValue)>);

/// `Vary` and `Link` add to what the answer has (the upstream's own links, e.g. pagination,
/// stay); any other name replaces it.
fn adds(name: &HeaderName) -> bool {
    name == http::header::VARY || name == http::header::LINK
}

impl AnswerHeaders {
    pub fn push(&mut self, name: HeaderName, value: HeaderValue) {
        self.0.push((name, value));
    }

    pub fn extend(&mut self, headers: impl IntoIterator<Item = (HeaderName, HeaderValue)>) {
        self.0.extend(headers);
    }

    pub fn reserve(&mut self, n: usize) {
        self.0.reserve(n);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &(HeaderName, HeaderValue)> {
        self.0.iter()
    }

    /// Move the headers into an answer's map.
    pub fn apply(self, headers: &mut HeaderMap) {
        for (name, value) in self.0 {
            if adds(&name) {
                headers.append(name, value);
            } else {
                headers.insert(name, value);
            }
        }
    }

    /// Copy the headers into a gateway-made answer (which may still fail to be sent).
    pub fn apply_to(&self, resp: &mut ResponseHeader) -> pingora::Result<()> {
        for (name, value) in &self.0 {
            if adds(name) {
                resp.append_header(name.clone(), value.clone())?;
            } else {
                resp.insert_header(name.clone(), value.clone())?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vary_and_link_add_others_replace() {
        let mut h = HeaderMap::new();
        h.insert("vary", HeaderValue::from_static("Accept"));
        h.insert("link", HeaderValue::from_static("<next>; rel=\"next\""));
        h.insert("sunset", HeaderValue::from_static("old"));
        let mut a = AnswerHeaders::default();
        a.push(http::header::VARY, HeaderValue::from_static("Origin"));
        a.push(http::header::LINK, HeaderValue::from_static("<v2>; rel=\"successor-version\""));
        a.push(HeaderName::from_static("sunset"), HeaderValue::from_static("new"));
        a.apply(&mut h);
        assert_eq!(h.get_all("vary").iter().count(), 2);
        assert_eq!(h.get_all("link").iter().count(), 2);
        assert_eq!(h.get("sunset").unwrap(), "new");
    }
}
