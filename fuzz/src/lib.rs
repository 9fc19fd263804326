//! Helpers shared by the fuzz targets: their inputs are small text formats (lines, HTTP-style
//! header blocks) so the seed corpora stay readable and the fuzzer mutates meaningful parts.

use http::{HeaderName, HeaderValue};

/// `data` split at the first empty line (`\n\n`): the head and what follows.
pub fn split_blank(data: &[u8]) -> (&[u8], &[u8]) {
    match data.windows(2).position(|w| w == b"\n\n") {
        Some(i) => (&data[..i], &data[i + 2..]),
        None => (data, &[]),
    }
}

/// Lines of `data` (split at `\n`, a trailing `\r` dropped).
pub fn lines(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    data.split(|&b| b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l))
}

/// `Name: value` lines as header fields; lines that are not a valid field are skipped (the
/// HTTP parser in front of the gateway would have refused them).
pub fn header_fields<'a>(lines: impl Iterator<Item = &'a [u8]>) -> Vec<(HeaderName, HeaderValue)> {
    lines
        .filter_map(|l| {
            let colon = l.iter().position(|&b| b == b':')?;
            let name = HeaderName::from_bytes(&l[..colon]).ok()?;
            let value = HeaderValue::from_bytes(l[colon + 1..].trim_ascii()).ok()?;
            Some((name, value))
        })
        .collect()
}

/// A request as the gateway's HTTP parser would hand it over: `METHOD target` and headers.
pub fn request(first: &[u8], fields: Vec<(HeaderName, HeaderValue)>) -> Option<pingora_http::RequestHeader> {
    let line = std::str::from_utf8(first).ok()?;
    let (method, target) = line.split_once(' ')?;
    let method = http::Method::from_bytes(method.as_bytes()).ok()?;
    let mut req = pingora_http::RequestHeader::build(method, target.as_bytes(), None).ok()?;
    for (n, v) in fields {
        req.append_header(n, v).ok()?;
    }
    Some(req)
}

/// A scratch directory for files a fixed config names (key files). One fixed name, so runs do
/// not leave a directory each; every run writes the same files.
pub fn scratch_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join("gatehouse-fuzz");
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    dir
}
