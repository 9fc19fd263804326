//! Response compression: gzip, brotli or zstd, whichever the client's
//! `Accept-Encoding` weighs highest (q-values honoured). Eligible responses: configured media
//! types, at least `min_size` when the length is known, not already encoded (never twice), not
//! partial, not `no-transform`; they get `Vary: Accept-Encoding` whatever the client asked.
//! The cache stores the identity body; each answer, hit or miss, is encoded for its client.

use super::registry::{ApiPlugins, ApiScope, Built, Policy};
use crate::config::CompressionConfig;
use crate::pipeline::{Phases, Plugin, RequestCtx};
use bytes::Bytes;
use pingora::proxy::Session;

/// An API's compression policy, `None` when switched off.
#[derive(Debug)]
pub struct Compression {
    min_size: usize,
    /// (before `*`, after `*`) or the exact type with an empty suffix and `exact`.
    types: Vec<(String, Option<String>)>,
}

impl Compression {
    pub fn build(server: &CompressionConfig, api: Option<&CompressionConfig>) -> Option<Compression> {
        let c = api.unwrap_or(server);
        let types = c
            .types
            .iter()
            .map(|t| {
                let t = t.to_ascii_lowercase();
                match t.split_once('*') {
                    Some((pre, post)) => (pre.to_string(), Some(post.to_string())),
                    None => (t, None),
                }
            })
            .collect();
        c.enabled.then(|| Compression { min_size: usize::try_from(c.min_size.0).unwrap_or(usize::MAX), types })
    }

    fn type_ok(&self, content_type: &str) -> bool {
        let mime = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        self.types.iter().any(|(pre, post)| match post {
            None => mime == *pre,
            Some(post) => {
                mime.len() >= pre.len() + post.len() && mime.starts_with(pre.as_str()) && mime.ends_with(post.as_str())
            }
        })
    }

    fn eligible(&self, resp: &http::response::Parts) -> bool {
        let h = &resp.headers;
        let status = resp.status.as_u16();
        if !(200..300).contains(&status) || status == 206 || h.contains_key(http::header::CONTENT_ENCODING) {
            return false;
        }
        let no_transform = h
            .get_all(http::header::CACHE_CONTROL)
            .iter()
            .any(|v| v.as_bytes().split(|&b| b == b',').any(|d| d.trim_ascii().eq_ignore_ascii_case(b"no-transform")));
        let len = h.get(http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.trim().parse::<usize>().ok());
        let ct = h.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
        !no_transform && len.is_none_or(|n| n >= self.min_size) && ct.is_some_and(|t| self.type_ok(t))
    }
}

impl Plugin for Compression {
    fn name(&self) -> &'static str {
        "compression"
    }
    /// Before the response header rewrite (900), which may then still drop what it adds.
    fn priority(&self) -> u32 {
        850
    }
    fn phases(&self) -> Phases {
        Phases { response: true, response_body: true, ..Default::default() }
    }

    /// Pick an encoding for an eligible answer and rewrite its header.
    fn response(
        &self,
        session: &Session,
        resp: &mut http::response::Parts,
        ctx: &mut RequestCtx,
    ) -> pingora::Result<()> {
        if !self.eligible(resp) {
            return Ok(());
        }
        let h = &mut resp.headers;
        // Whatever this client gets, the representation depends on Accept-Encoding.
        let varies = h.get_all(http::header::VARY).iter().any(|v| {
            v.as_bytes()
                .split(|&b| b == b',')
                .any(|n| n.trim_ascii().eq_ignore_ascii_case(b"accept-encoding") || n.trim_ascii() == b"*")
        });
        if !varies {
            h.append(http::header::VARY, http::HeaderValue::from_static("Accept-Encoding"));
        }
        let req = session.req_header();
        let no_body = req.method == http::Method::HEAD || matches!(resp.status.as_u16(), 204 | 304);
        let Some(coding) = req.headers.get(http::header::ACCEPT_ENCODING).and_then(|v| preferred(v.as_bytes())) else {
            return Ok(());
        };
        if no_body {
            return Ok(());
        }
        let h = &mut resp.headers;
        h.insert(http::header::CONTENT_ENCODING, http::HeaderValue::from_static(coding));
        h.remove(http::header::CONTENT_LENGTH);
        h.remove(http::header::ACCEPT_RANGES);
        // Another encoding is another representation: a strong validator becomes weak.
        if let Some(etag) = h.get(http::header::ETAG).filter(|e| !e.as_bytes().starts_with(b"W/")) {
            let weak = [b"W/".as_slice(), etag.as_bytes()].concat();
            if let Ok(v) = http::HeaderValue::from_bytes(&weak) {
                h.insert(http::header::ETAG, v);
            }
        }
        ctx.state.insert(Encoder::new(coding));
        Ok(())
    }

    fn response_body(&self, body: &mut Option<Bytes>, eos: bool, ctx: &mut RequestCtx) {
        let Some(e) = ctx.state.get_mut::<Encoder>() else { return };
        let input = body.as_deref().unwrap_or_default();
        match e.encode(input, eos) {
            Ok(out) => *body = Some(Bytes::from(out)),
            Err(err) => {
                *e = Encoder::Failed;
                log::warn!("compression failed, request {}: {err}", ctx.request_id_str());
                *body = None;
            }
        }
    }
}

/// One response's compressor. Each stream is finished properly at the end of the body (brotli
/// included: a flushed but unfinished brotli stream is rejected by strict decoders).
pub enum Encoder {
    Gzip(flate2::write::GzEncoder<Vec<u8>>),
    Br(Option<Box<brotli::CompressorWriter<Vec<u8>>>>),
    Zstd(zstd::stream::write::Encoder<'static, Vec<u8>>),
    /// The encoder failed; the rest of the body is dropped (the stream is already corrupt).
    Failed,
}

impl Encoder {
    fn new(coding: &str) -> Encoder {
        match coding {
            "br" => Encoder::Br(Some(Box::new(brotli::CompressorWriter::new(Vec::new(), 4096, 5, 22)))),
            "zstd" => zstd::stream::write::Encoder::new(Vec::new(), 3).map_or(Encoder::Failed, Encoder::Zstd),
            _ => Encoder::Gzip(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6))),
        }
    }

    fn encode(&mut self, input: &[u8], end: bool) -> std::io::Result<Vec<u8>> {
        use std::io::Write;
        match self {
            Encoder::Gzip(e) => {
                e.write_all(input)?;
                if end {
                    e.try_finish()?;
                }
                Ok(std::mem::take(e.get_mut()))
            }
            Encoder::Zstd(e) => {
                e.write_all(input)?;
                if end {
                    e.do_finish()?;
                }
                Ok(std::mem::take(e.get_mut()))
            }
            Encoder::Br(slot) => {
                let Some(w) = slot.as_mut() else { return Ok(Vec::new()) };
                w.write_all(input)?;
                if end {
                    return Ok(slot.take().map(|w| w.into_inner()).unwrap_or_default());
                }
                Ok(std::mem::take(w.get_mut()))
            }
            Encoder::Failed => Ok(Vec::new()),
        }
    }
}

/// The coding to use: the highest q-value among those supported (`*` stands for any of them);
/// ties go to zstd, then br, then gzip. `None`: none is acceptable.
fn preferred(accept: &[u8]) -> Option<&'static str> {
    const OURS: [&str; 3] = ["zstd", "br", "gzip"];
    let mut q = [None::<f32>; 3];
    let mut star = None::<f32>;
    for item in accept.split(|&b| b == b',') {
        let mut parts = item.split(|&b| b == b';');
        let name = String::from_utf8_lossy(parts.next().unwrap_or_default().trim_ascii()).to_ascii_lowercase();
        let weight = parts
            .filter_map(|p| {
                let p = String::from_utf8_lossy(p.trim_ascii()).to_ascii_lowercase();
                p.strip_prefix("q=").and_then(|v| v.trim().parse::<f32>().ok())
            })
            .next()
            .unwrap_or(1.0);
        if name == "*" {
            star = Some(weight);
        } else if let Some(i) = OURS.iter().position(|o| *o == name) {
            q[i] = Some(weight);
        }
    }
    let mut best: Option<(usize, f32)> = None;
    for (i, qi) in q.iter().enumerate() {
        let w = qi.or(star).unwrap_or(0.0);
        if w > 0.0 && best.is_none_or(|(_, b)| w > b) {
            best = Some((i, w));
        }
    }
    best.map(|(i, _)| OURS[i])
}

/// `[server] compression`, or the API's own table.
pub struct CompressionPolicy;
pub static POLICY: CompressionPolicy = CompressionPolicy;

impl Policy for CompressionPolicy {
    fn for_api(&self, api: &ApiScope, out: &mut ApiPlugins) -> Built {
        let server = &api.setup.loaded.config.server.compression;
        if let Some(c) = Compression::build(server, api.api.compression.as_ref()) {
            out.every_route.push(std::sync::Arc::new(c));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(headers: &[(&str, &str)]) -> http::response::Parts {
        let mut r = http::Response::new(()).into_parts().0;
        for (n, v) in headers {
            r.headers.insert(http::HeaderName::from_bytes(n.as_bytes()).unwrap(), v.parse().unwrap());
        }
        r
    }

    #[test]
    fn q_values_decide() {
        assert_eq!(preferred(b"gzip"), Some("gzip"));
        assert_eq!(preferred(b"gzip, deflate, br, zstd"), Some("zstd"));
        assert_eq!(preferred(b"br;q=0.1, gzip;q=0.9"), Some("gzip"));
        assert_eq!(preferred(b"gzip;q=0, identity"), None);
        assert_eq!(preferred(b"*"), Some("zstd"));
        assert_eq!(preferred(b"*;q=0.5, br;q=0"), Some("zstd"));
        assert_eq!(preferred(b"deflate"), None);
    }

    #[test]
    fn eligibility() {
        let c = Compression::build(&CompressionConfig::default(), None).unwrap();
        assert!(c.eligible(&resp(&[("content-type", "application/json"), ("content-length", "5000")])));
        assert!(c.eligible(&resp(&[("content-type", "application/problem+json; charset=utf-8")])));
        assert!(c.eligible(&resp(&[("content-type", "text/html")])));
        assert!(!c.eligible(&resp(&[("content-type", "application/json"), ("content-length", "100")])), "small");
        assert!(!c.eligible(&resp(&[("content-type", "image/png")])));
        assert!(!c.eligible(&resp(&[("content-type", "text/plain"), ("content-encoding", "gzip")])), "never twice");
        assert!(!c.eligible(&resp(&[("content-type", "text/plain"), ("cache-control", "public, no-transform")])));
        let off = CompressionConfig { enabled: false, ..Default::default() };
        assert!(Compression::build(&CompressionConfig::default(), Some(&off)).is_none(), "an API may switch it off");
    }
}
