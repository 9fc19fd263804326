//! Response compression (issue 6): negotiation by `Accept-Encoding`, minimum size, media types,
//! never twice, `Vary: Accept-Encoding`, and compressed hits from an identity cache entry.

mod common;

use common::{simple_config, Gateway, Response, Upstream};
use std::io::Read;

fn decode(r: &Response) -> Vec<u8> {
    let mut out = Vec::new();
    match r.header("content-encoding") {
        Some("gzip") => flate2::read::GzDecoder::new(&r.body[..]).read_to_end(&mut out).map(|_| ()).unwrap(),
        Some("br") => brotli::Decompressor::new(&r.body[..], 4096).read_to_end(&mut out).map(|_| ()).unwrap(),
        Some("zstd") => out = zstd::decode_all(&r.body[..]).unwrap(),
        None => out = r.body.clone(),
        Some(other) => panic!("unexpected encoding {other}"),
    }
    out
}

/// A padding header makes the echo's JSON answer comfortably above the default 1 KiB minimum.
fn pad() -> (&'static str, &'static str) {
    ("x-pad", Box::leak("pad".repeat(600).into_boxed_str()))
}

#[tokio::test]
async fn each_encoding_is_negotiated_and_decodes_to_the_original() {
    let up = Upstream::start("u").await;
    let g = Gateway::start(&simple_config(&[&up], "", "")).await;
    let plain = g.send("GET", "/z", &[pad()], b"").await;
    assert!(plain.header("content-encoding").is_none(), "no Accept-Encoding, no compression");
    for (accept, want) in [("gzip", "gzip"), ("br", "br"), ("zstd", "zstd"), ("br;q=0.1, gzip;q=0.9", "gzip")] {
        let r = g.send("GET", "/z", &[pad(), ("accept-encoding", accept)], b"").await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-encoding"), Some(want), "{accept}");
        assert!(r.header("vary").is_some_and(|v| v.to_ascii_lowercase().contains("accept-encoding")));
        assert!(r.body.len() < plain.body.len(), "{accept}: compressed is smaller");
        assert!(r.header("content-length").is_none_or(|l| l == r.body.len().to_string()));
        let json: serde_json::Value = serde_json::from_slice(&decode(&r)).unwrap();
        assert_eq!(json["headers"]["x-pad"], pad().1);
    }
    let r = g.send("GET", "/z", &[pad(), ("accept-encoding", "identity")], b"").await;
    assert!(r.header("content-encoding").is_none());
    assert!(r.header("vary").is_some_and(|v| v.to_ascii_lowercase().contains("accept-encoding")));
}

#[tokio::test]
async fn small_bodies_other_types_and_encoded_answers_are_left_alone() {
    let up = Upstream::start("u").await;
    let g = Gateway::start(&simple_config(&[&up], "", "")).await;
    let ae = ("accept-encoding", "gzip");
    let small = g.send("GET", "/s", &[ae], b"").await;
    assert!(small.body.len() < 1024 && small.header("content-encoding").is_none(), "below min_size");
    // Already encoded by the upstream: passed through, never compressed twice.
    let enc = g.send("GET", "/e", &[pad(), ae, ("x-echo-header", "Content-Encoding: br")], b"").await;
    assert_eq!(enc.header("content-encoding"), Some("br"));
    assert!(serde_json::from_slice::<serde_json::Value>(&enc.body).is_ok(), "the upstream's bytes, untouched");
}

#[tokio::test]
async fn an_api_can_switch_it_off_and_cached_entries_are_compressed_per_client() {
    let up = Upstream::start("u").await;
    let body = format!(
        "{}\n[[api]]\nname = \"off\"\nbase_path = \"/off\"\ncluster = \"c\"\ncompression = {{ enabled = false }}\n\n\
         [[api]]\nname = \"text\"\nbase_path = \"/text\"\ncluster = \"c\"\ncompression = {{ types = [\"text/*\"] }}\n",
        simple_config(&[&up], "", "cache = { enabled = true }")
    );
    let g = Gateway::start(&body).await;
    let off = g.send("GET", "/off/x", &[pad(), ("accept-encoding", "gzip")], b"").await;
    assert!(off.header("content-encoding").is_none());
    assert!(off.header("vary").is_none(), "not eligible, no Vary");
    let text_only = g.send("GET", "/text/x", &[pad(), ("accept-encoding", "gzip")], b"").await;
    assert!(text_only.header("content-encoding").is_none(), "JSON is not in this API's types");
    let h = |ae: &'static str| [pad(), ("accept-encoding", ae), ("x-echo-header", "Cache-Control: max-age=60")];
    let gz = g.send("GET", "/cached", &h("gzip"), b"").await;
    let zs = g.send("GET", "/cached", &h("zstd"), b"").await;
    assert!(zs.header("cache-status").is_some_and(|s| s.contains("hit")));
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    assert_eq!(zs.header("content-encoding"), Some("zstd"));
    assert_eq!(decode(&gz), decode(&zs), "one stored body, encoded per client");
}

#[test]
fn check_names_bad_types() {
    let text = "[server]\ncompression = { types = [\"json\", \"*/*\"], level = 3 }\n";
    let (code, out) = common::check_config(text);
    assert_eq!(code, Some(1));
    assert!(out.contains("server.compression.level: unknown key"), "{out}");
    assert!(out.contains("server.compression.types[0]: \"json\" is not a media type"), "{out}");
    assert!(out.contains("server.compression.types[1]:"), "{out}");
}
