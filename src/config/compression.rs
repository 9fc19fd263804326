//! `[server] compression` and an API's `compression` table (which replaces the server's).

use super::units::ByteSize;
use serde::Deserialize;

type Err<'a> = dyn FnMut(String, String) + 'a;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CompressionConfig {
    pub enabled: bool,
    /// Responses whose `Content-Length` is below this are sent as they are.
    pub min_size: ByteSize,
    /// Media types compressed: exact (`application/json`) or with one `*`
    /// (`text/*`, `application/*+json`).
    pub types: Vec<String>,
}

impl Default for CompressionConfig {
    fn default() -> Self {
        CompressionConfig {
            enabled: true,
            min_size: ByteSize(1024),
            types: ["application/json", "application/*+json", "text/*", "application/javascript", "application/xml"]
                .map(String::from)
                .to_vec(),
        }
    }
}

pub fn validate(c: &CompressionConfig, p: &str, err: &mut Err) {
    for (i, t) in c.types.iter().enumerate() {
        let ok = t.split_once('/').is_some_and(|(a, b)| !a.is_empty() && !b.is_empty() && !a.contains('*'))
            && t.matches('*').count() <= 1
            && t.bytes().all(|b| b.is_ascii_graphic());
        if !ok {
            err(
                format!("{p}.types[{i}]"),
                format!("{t:?} is not a media type such as \"application/json\" or \"text/*\""),
            );
        }
    }
}
