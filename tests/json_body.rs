//! JSON body edits (issue 6): `json_set` / `json_remove` with JSON Pointers on request and
//! response bodies, through the real binary and echo upstream (which answers with a JSON
//! description of the request it got, its body as a string).

mod common;

use common::{simple_config, Gateway, Upstream};
use serde_json::{json, Value};

fn config(up: &Upstream, extra_api: &str) -> String {
    format!(
        "{}\n[api.request]\njson_set = {{ \"/meta/source\" = \"gatehouse\", \"/list/-\" = 3, \"/list/0\" = \"zero\" }}\n\
         json_remove = [\"/secret\", \"/absent/deep\"]\n\n\
         [api.response]\njson_set = {{ \"/added/nested\" = {{ ok = true }} }}\njson_remove = [\"/headers\"]\n",
        simple_config(&[up], "", extra_api)
    )
}

#[tokio::test]
async fn request_and_response_bodies_are_edited_with_lengths_fixed() {
    let up = Upstream::start("u").await;
    let g = Gateway::start(&config(&up, "")).await;
    let body = json!({"secret": "s", "list": [1, 2], "keep": {"x": 1}}).to_string();
    let r = g.send("POST", "/e", &[("content-type", "application/json")], body.as_bytes()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let out = r.json();
    assert!(out.get("headers").is_none(), "removed from the response: {out}");
    assert_eq!(out["added"], json!({"nested": {"ok": true}}));
    let sent: Value = serde_json::from_str(out["body"].as_str().unwrap()).unwrap();
    assert_eq!(sent, json!({"meta": {"source": "gatehouse"}, "list": ["zero", 2, 3], "keep": {"x": 1}}));
    // The upstream read exactly the edited body (its Content-Length was corrected).
    assert_eq!(out["body"].as_str().unwrap().len(), serde_json::to_vec(&sent).unwrap().len());
    assert!(r.header("content-length").is_none() || r.header("content-length") == Some(&r.body.len().to_string()));
}

#[tokio::test]
async fn non_json_invalid_json_and_oversized_bodies_pass_unchanged() {
    let up = Upstream::start("u").await;
    let g = Gateway::start_with("json_transform_limit = \"1KiB\"", &config(&up, "")).await;
    // Not JSON by content type: untouched.
    let r = g.send("POST", "/t", &[("content-type", "text/plain")], b"{\"secret\":1}").await;
    assert_eq!(r.json()["body"], "{\"secret\":1}");
    // Invalid JSON: forwarded as sent, and counted.
    let r = g.send("POST", "/t", &[("content-type", "application/json")], b"{not json").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["body"], "{not json");
    // Over the limit: forwarded as sent, and counted; the response (over 1 KiB too) likewise.
    let big = json!({"secret": "x".repeat(2000)}).to_string();
    let r = g.send("POST", "/t", &[("content-type", "application/json")], big.as_bytes()).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["body"].as_str().unwrap(), big);
    assert!(r.json().get("headers").is_some(), "response over the limit is not edited");
    g.metrics_contain(&[
        "gatehouse_json_transform_skipped_total{direction=\"request\",reason=\"invalid_json\"} 1",
        "gatehouse_json_transform_skipped_total{direction=\"request\",reason=\"too_large\"} 1",
        "gatehouse_json_transform_skipped_total{direction=\"response\",reason=\"too_large\"} 1",
    ])
    .await;
}

#[tokio::test]
async fn edited_responses_are_cached_after_the_edit() {
    let up = Upstream::start("u").await;
    let g = Gateway::start(&config(&up, "cache = { enabled = true }")).await;
    let h = [("x-echo-header", "Cache-Control: max-age=60")];
    let a = g.send("GET", "/c", &h, b"").await;
    let b = g.send("GET", "/c", &h, b"").await;
    assert!(b.header("cache-status").unwrap_or("").contains("hit"), "{:?}", b.header("cache-status"));
    for r in [&a, &b] {
        assert_eq!(r.json()["added"], json!({"nested": {"ok": true}}));
        assert!(r.json().get("headers").is_none());
    }
    // The miss streamed out before its edited length was known; the hit knows it.
    assert_eq!(b.header("content-length"), Some(b.body.len().to_string().as_str()));
    assert!(b.header("transfer-encoding").is_none());
    assert_eq!(up.requests(), 1);
}

#[test]
fn check_names_bad_pointers() {
    let text = "[[cluster]]\nname = \"c\"\nupstreams = [\"127.0.0.1:1\"]\n\n[[api]]\nname = \"a\"\ncluster = \"c\"\n\
                [api.request]\njson_set = { \"no-slash\" = 1 }\njson_remove = [\"/a~2\"]\n";
    let (code, out) = common::check_config(text);
    assert_eq!(code, Some(1));
    assert!(out.contains("api[0].request.json_set.no-slash: JSON pointer \"no-slash\" must start with /"), "{out}");
    assert!(out.contains("api[0].request.json_remove[0]:"), "{out}");
}
