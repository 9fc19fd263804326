//! Request validation against the API's OpenAPI spec (`validate_requests`): path, query and
//! header parameters and JSON bodies, every violation listed in one 400; a valid request reaches
//! the upstream byte for byte. Response validation (`validate_responses`) only reports.

mod common;

use common::{check_config, spec_file, Gateway, Upstream};
use serde_json::{json, Value};

const SPEC: &str = r##"
openapi: 3.0.3
info: { title: Pets, version: "1" }
paths:
  /pets/{id}:
    parameters:
      - { name: id, in: path, required: true, schema: { type: integer, minimum: 1 } }
      - { name: verbose, in: query, schema: { type: boolean } }
    get:
      parameters:
        - { name: verbose, in: query, schema: { type: string, enum: [short, long] } }
        - $ref: "#/components/parameters/Limit"
        - { name: tag, in: query, schema: { type: array, items: { type: string, enum: [cat, dog] } } }
        - { name: X-Trace, in: header, required: true, schema: { type: string, format: uuid } }
      responses:
        "200":
          description: one
          content:
            application/json:
              schema: { type: object, required: [upstream], properties: { upstream: { type: string } } }
  /pets:
    post:
      requestBody:
        required: true
        content:
          application/json:
            schema: { $ref: "#/components/schemas/Pet" }
      responses:
        "201": { description: made }
  /owners:
    get:
      responses:
        "200":
          description: all
          content:
            application/json:
              schema: { type: object, required: [owners] }
components:
  parameters:
    Limit: { name: limit, in: query, schema: { type: integer, minimum: 0, maximum: 100, exclusiveMaximum: true } }
  schemas:
    Pet:
      type: object
      additionalProperties: false
      required: [name, kind]
      properties:
        name: { type: string, minLength: 1 }
        kind: { type: string, enum: [cat, dog] }
        born: { type: string, format: date }
        owner: { type: string, nullable: true }
"##;

const TRACE: (&str, &str) = ("x-trace", "3f0e1a52-6a8e-4c31-9a43-0c5e0f2b7d11");

fn config(up: &Upstream, spec: &str, extra: &str) -> String {
    format!(
        "[[cluster]]\nname = \"c\"\nupstreams = [\"{}\"]\n\n[[api]]\nname = \"pets\"\nbase_path = \"/v1\"\nspec = \"{spec}\"\ncluster = \"c\"\n{extra}",
        up.addr
    )
}

async fn start(extra: &str) -> (Gateway, Upstream, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let up = Upstream::start("u").await;
    let gw = Gateway::start(&config(&up, &spec_file(dir.path(), SPEC), extra)).await;
    (gw, up, dir)
}

/// The `errors` member of a 400, as (in, name, pointer) with each problem.
fn errors(r: &common::Response) -> Vec<(String, String, String, String)> {
    assert_eq!((r.status, r.header("content-type")), (400, Some("application/problem+json")), "{}", r.text());
    let s = |v: &Value| v.as_str().unwrap_or("").to_string();
    r.json()["errors"]
        .as_array()
        .expect("an errors list")
        .iter()
        .map(|e| (s(&e["in"]), s(&e["name"]), s(&e["pointer"]), s(&e["problem"])))
        .collect()
}

fn has(errs: &[(String, String, String, String)], location: &str, name: &str, pointer: &str, problem: &str) -> bool {
    errs.iter().any(|(l, n, p, pr)| l == location && n == name && p == pointer && pr.contains(problem))
}

#[tokio::test]
async fn parameters_are_typed_and_checked_and_every_violation_is_listed() {
    let (gw, up, _dir) = start("validate_requests = true\n").await;
    // Path typed as an integer, query enum (the operation's own `verbose` wins over the path
    // item's boolean), a $ref'd parameter, repeated keys as an array, a header with a format.
    let ok = gw.send("GET", "/v1/pets/7?verbose=long&limit=99&tag=cat&tag=dog", &[TRACE], b"").await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(ok.json()["path"], "/v1/pets/7?verbose=long&limit=99&tag=cat&tag=dog");
    assert_eq!(up.requests(), 1);

    let bad = gw.send("GET", "/v1/pets/abc?verbose=true&limit=100&tag=cat&tag=cow", &[], b"").await;
    let errs = errors(&bad);
    assert!(has(&errs, "path", "id", "", "integer"), "{errs:#?}");
    assert!(has(&errs, "query", "verbose", "", "not one of"), "{errs:#?}");
    assert!(has(&errs, "query", "limit", "", "100"), "exclusiveMaximum (3.0 boolean form): {errs:#?}");
    assert!(has(&errs, "query", "tag", "/1", "not one of"), "{errs:#?}");
    assert!(has(&errs, "header", "X-Trace", "", "required and missing"), "{errs:#?}");
    assert_eq!(errs.len(), 5, "{errs:#?}");
    assert!(bad.json()["request_id"].is_string());

    let more = gw.send("GET", "/v1/pets/0?limit=ten", &[("x-trace", "not-a-uuid")], b"").await;
    let errs = errors(&more);
    assert!(has(&errs, "path", "id", "", "minimum"), "{errs:#?}");
    assert!(has(&errs, "query", "limit", "", "integer"), "{errs:#?}");
    assert!(has(&errs, "header", "X-Trace", "", "uuid"), "{errs:#?}");
    // A single value given twice where the schema wants one; encoded path segments decoded.
    let twice = gw.send("GET", "/v1/pets/%31?limit=1&limit=2", &[TRACE], b"").await;
    assert!(has(&errors(&twice), "query", "limit", "", "more than once"));
    assert_eq!(up.requests(), 1, "refused requests never reach the upstream");
    gw.metrics_contain(&["gatehouse_validation_failures_total{api=\"pets\",direction=\"request\"} 3"]).await;
}

#[tokio::test]
async fn json_bodies_are_checked_and_a_valid_one_passes_unchanged() {
    let (gw, up, _dir) = start("validate_requests = true\n").await;
    let json_ct = ("content-type", "application/json");
    // Odd spacing and key order: the upstream must get exactly these bytes.
    let body = br#"{ "kind":"cat",  "name" : "Tom", "owner": null, "born": "2020-02-29" }"#;
    let ok = gw.send("POST", "/v1/pets", &[json_ct], body).await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(ok.json()["body"].as_str().unwrap().as_bytes(), body);
    assert_eq!(ok.echoed_header("content-length"), Some(body.len().to_string()));

    let bad = gw.send("POST", "/v1/pets", &[json_ct], br#"{"kind":"cow","name":"","born":"2020-02-30","age":3}"#).await;
    let errs = errors(&bad);
    assert!(has(&errs, "body", "", "/kind", "not one of"), "{errs:#?}");
    assert!(has(&errs, "body", "", "/name", "short"), "{errs:#?}");
    assert!(has(&errs, "body", "", "/born", "date"), "{errs:#?}");
    assert!(has(&errs, "body", "", "", "age"), "additionalProperties: false: {errs:#?}");
    assert_eq!(errs.len(), 4, "{errs:#?}");
    let missing = errors(&gw.send("POST", "/v1/pets", &[json_ct], br#"{"name":"Tom"}"#).await);
    assert!(has(&missing, "body", "", "", "kind"), "{missing:#?}");

    let not_json = errors(&gw.send("POST", "/v1/pets", &[json_ct], b"{name: Tom").await);
    assert!(has(&not_json, "body", "", "", "not JSON"), "{not_json:#?}");
    let empty = errors(&gw.send("POST", "/v1/pets", &[json_ct], b"").await);
    assert!(has(&empty, "body", "", "", "required and missing"), "{empty:#?}");
    // A media type the operation does not document, or none at all: 415.
    for headers in [&[("content-type", "text/plain")][..], &[]] {
        let r = gw.send("POST", "/v1/pets", headers, br#"{"name":"Tom","kind":"cat"}"#).await;
        assert_eq!((r.status, r.header("content-type")), (415, Some("application/problem+json")), "{}", r.text());
        assert!(r.json()["detail"].as_str().unwrap().contains("application/json"));
    }
    // Over the size the gateway checks: refused, not waved through unchecked.
    let big = format!("{{\"name\":\"{}\",\"kind\":\"cat\"}}", "x".repeat(200 * 1024));
    assert_eq!(gw.send("POST", "/v1/pets", &[json_ct], big.as_bytes()).await.status, 413);
    assert_eq!(up.requests(), 1);
}

#[tokio::test]
async fn responses_are_reported_and_left_alone() {
    let (gw, up, _dir) = start("validate_responses = true\n").await;
    // Requests are not checked (validate_requests is off): no X-Trace needed.
    let fine = gw.get("/v1/pets/1").await;
    assert_eq!(fine.status, 200);
    // The echo's body has no "owners": reported, delivered as it came.
    let wrong = gw.get("/v1/owners").await;
    assert_eq!((wrong.status, wrong.json()["path"].as_str()), (200, Some("/v1/owners")));
    // A status the spec does not document.
    let teapot = gw.send("GET", "/v1/pets/1", &[("x-echo-status", "418")], b"").await;
    assert_eq!(teapot.status, 418);
    assert_eq!(up.requests(), 3);
    gw.metrics_contain(&["gatehouse_validation_failures_total{api=\"pets\",direction=\"response\"} 2"]).await;
    let m = gw.metrics().await;
    assert!(!m.contains("direction=\"request\"} 1"), "{m}");
    let log = gw.stderr_text();
    assert!(log.contains("status 418 is not documented"), "{log}");
    assert!(log.contains("owners"), "{log}");
}

#[test]
fn check_reports_validation_without_a_spec_and_broken_schemas() {
    let (code, out) = check_config(
        "[[cluster]]\nname = \"c\"\nupstreams = [\"127.0.0.1:9\"]\n\n[[api]]\nname = \"a\"\ncluster = \"c\"\nvalidate_requests = true\nvalidate_responses = true\n",
    );
    assert_eq!(code, Some(1), "{out}");
    for key in ["validate_requests", "validate_responses"] {
        assert!(
            out.contains(&format!("api[0].{key}: validation checks against the API's spec: it needs spec")),
            "{out}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let up_addr = "127.0.0.1:9";
    let broken = SPEC.replace("$ref: \"#/components/schemas/Pet\"", "$ref: \"#/components/schemas/Nope\"");
    let text = format!(
        "[[cluster]]\nname = \"c\"\nupstreams = [\"{up_addr}\"]\n\n[[api]]\nname = \"pets\"\nspec = \"{}\"\ncluster = \"c\"\nvalidate_requests = true\n",
        spec_file(dir.path(), &broken)
    );
    let (code, out) = check_config(&text);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("api[0].spec: ")
            && out.contains("pets.yaml: /paths/~1pets/post/requestBody/content/application~1json/schema: schema"),
        "{out}"
    );
    // Without validation the same spec loads (schemas are compiled only when used).
    let (code, out) = check_config(&text.replace("validate_requests = true\n", ""));
    assert_eq!(code, Some(0), "{out}");
}

#[tokio::test]
async fn without_validation_nothing_is_checked() {
    let (gw, up, _dir) = start("").await;
    assert_eq!(gw.get("/v1/pets/abc").await.status, 200);
    assert_eq!(up.requests(), 1);
}

#[tokio::test]
async fn what_an_attacker_sends_is_refused_cleanly() {
    let (gw, up, _dir) = start("validate_requests = true\n").await;
    let post = |extra: &str, body: &[u8]| {
        let mut raw = format!(
            "POST /v1/pets HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n{extra}Connection: close\r\n\r\n"
        )
        .into_bytes();
        raw.extend_from_slice(body);
        raw
    };
    // A chunked body is read up to the limit like a sized one: small and valid passes whole…
    let ok = common::client::send_raw(
        gw.addr,
        &post("Transfer-Encoding: chunked\r\n", b"1b\r\n{\"name\":\"Tom\",\"kind\":\"cat\"}\r\n0\r\n\r\n"),
    )
    .await
    .unwrap();
    assert_eq!((ok.status, ok.json()["body"].as_str()), (200, Some(r#"{"name":"Tom","kind":"cat"}"#)));
    // …one that never ends within the limit is refused, not forwarded unchecked.
    let mut chunks = Vec::new();
    for _ in 0..100 {
        chunks.extend_from_slice(format!("400\r\n{}\r\n", " ".repeat(1024)).as_bytes());
    }
    chunks.extend_from_slice(b"0\r\n\r\n");
    let big = common::client::send_raw(gw.addr, &post("Transfer-Encoding: chunked\r\n", &chunks)).await.unwrap();
    assert_eq!(big.status, 413);
    // Nesting deeper than the JSON parser follows is "not JSON", not a stack overflow.
    let deep = "[".repeat(20_000) + &"]".repeat(20_000);
    let r = gw.send("POST", "/v1/pets", &[("content-type", "application/json")], deep.as_bytes()).await;
    assert!(has(&errors(&r), "body", "", "", "not JSON"));
    // A header value that is not text is a violation of its own.
    let raw = b"GET /v1/pets/1 HTTP/1.1\r\nHost: t\r\nX-Trace: \xff\xfe\r\nConnection: close\r\n\r\n";
    let r = common::client::send_raw(gw.addr, raw).await.unwrap();
    assert!(has(&errors(&r), "header", "X-Trace", "", "not visible ASCII"));
    assert_eq!(up.requests(), 1);
    assert!(gw.get("/v1/pets/2").await.status == 400, "the gateway is still up");
}

#[tokio::test]
async fn the_client_body_is_validated_before_json_edits() {
    let (gw, _up, _dir) =
        start("validate_requests = true\n[api.request]\njson_set = { \"/via\" = \"gatehouse\" }\n").await;
    let r =
        gw.send("POST", "/v1/pets", &[("content-type", "application/json")], br#"{"name":"Tom","kind":"cat"}"#).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let sent: Value = serde_json::from_str(r.json()["body"].as_str().unwrap()).unwrap();
    assert_eq!(sent, json!({ "name": "Tom", "kind": "cat", "via": "gatehouse" }), "read once, edited once");
}

#[tokio::test]
async fn a_mocked_api_validates_before_answering() {
    let dir = tempfile::tempdir().unwrap();
    let spec = SPEC.replace(
        "\"201\": { description: made }",
        "\"201\": { description: made, content: { application/json: { example: { id: 1 } } } }",
    );
    let body = format!(
        "[[api]]\nname = \"pets\"\nbase_path = \"/v1\"\nspec = \"{}\"\ncluster = \"mock\"\nvalidate_requests = true\n",
        spec_file(dir.path(), &spec)
    );
    let gw = Gateway::start(&body).await;
    let ct = ("content-type", "application/json");
    let made = gw.send("POST", "/v1/pets", &[ct], br#"{"name":"Tom","kind":"cat"}"#).await;
    assert_eq!((made.status, made.json()), (201, json!({ "id": 1 })));
    let refused = gw.send("POST", "/v1/pets", &[ct], br#"{"name":"Tom"}"#).await;
    assert!(has(&errors(&refused), "body", "", "", "kind"));
}

#[tokio::test]
async fn a_small_body_of_many_bad_items_gets_a_bounded_answer() {
    let dir = tempfile::tempdir().unwrap();
    let up = Upstream::start("u").await;
    let spec = SPEC
        .replace("schema: { $ref: \"#/components/schemas/Pet\" }", "schema: { type: array, items: { type: string } }");
    let gw = Gateway::start(&config(&up, &spec_file(dir.path(), &spec), "validate_requests = true\n")).await;
    let body = format!("[{}1]", "1,".repeat(5000));
    let r = gw.send("POST", "/v1/pets", &[("content-type", "application/json")], body.as_bytes()).await;
    assert_eq!(errors(&r).len(), 50);
    assert!(r.json()["detail"].as_str().unwrap().contains("5001 problems, the first 50 listed"), "{}", r.text());
    assert!(r.body.len() < 16 * 1024, "{} bytes", r.body.len());
}
