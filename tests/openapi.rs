//! Spec-driven APIs: an OpenAPI document's operations become the API's routes (templates, `$ref`s
//! followed), anything else is 404/405, `cluster = "mock"` answers from the spec's examples with
//! `Prefer` picking others, and `check` reports a broken spec by file and JSON Pointer.

mod common;

use common::{check_config, spec_file, Gateway, Upstream};

const SPEC: &str = r##"
openapi: 3.0.3
info: { title: Pets, version: "1" }
paths:
  /pets:
    get:
      responses:
        "200":
          description: all
          content:
            application/json:
              example: [{ name: Tom }]
  /pets/{id}:
    $ref: "#/components/pathItems/Pet"
  /health:
    get:
      responses:
        "204": { description: fine }
components:
  pathItems:
    Pet:
      get:
        responses:
          "404":
            description: none
            content: { application/problem+json: { example: { status: 404, title: Not Found } } }
          "200":
            $ref: "#/components/responses/Pet"
      delete:
        responses:
          "204": { description: gone }
  responses:
    Pet:
      description: one
      content:
        application/json:
          examples:
            cat: { value: { name: Tom, kind: cat } }
            dog: { value: { name: Rex, kind: dog } }
        text/plain:
          example: "Tom the cat"
"##;

fn api(spec: &str, cluster: &str) -> String {
    format!("[[api]]\nname = \"pets\"\nbase_path = \"/v1\"\nspec = \"{spec}\"\ncluster = \"{cluster}\"\n")
}

#[tokio::test]
async fn a_mock_answers_from_the_spec_examples() {
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(&api(&spec_file(dir.path(), SPEC), "mock")).await;
    let all = gw.get("/v1/pets").await;
    assert_eq!((all.status, all.header("content-type")), (200, Some("application/json")));
    assert_eq!(all.json(), serde_json::json!([{ "name": "Tom" }]));
    // The lowest 2xx (through a path item $ref and a response $ref), its first example.
    let one = gw.get("/v1/pets/7").await;
    assert_eq!((one.status, one.json()["name"].as_str()), (200, Some("Tom")));
    assert_eq!(one.header("preference-applied"), None);
    let dog = gw.send("GET", "/v1/pets/7", &[("prefer", "example=dog")], b"").await;
    assert_eq!((dog.json()["name"].as_str(), dog.header("preference-applied")), (Some("Rex"), Some("example=dog")));
    let missing = gw.send("GET", "/v1/pets/7", &[("prefer", "respond-async, code=404")], b"").await;
    assert_eq!((missing.status, missing.header("content-type")), (404, Some("application/problem+json")));
    assert_eq!(missing.header("preference-applied"), Some("code=404"));
    // A documented response without content; HEAD answers like GET without a body.
    let deleted = gw.send("DELETE", "/v1/pets/7", &[], b"").await;
    assert_eq!((deleted.status, deleted.body.len()), (204, 0));
    let head = gw.send("HEAD", "/v1/pets", &[], b"").await;
    assert_eq!((head.status, head.body.len()), (200, 0));
}

#[tokio::test]
async fn only_the_specs_operations_are_routes() {
    let dir = tempfile::tempdir().unwrap();
    let up = Upstream::start("u").await;
    let body = format!(
        "[[cluster]]\nname = \"c\"\nupstreams = [\"{}\"]\n\n{}",
        up.addr,
        api(&spec_file(dir.path(), SPEC), "c")
    );
    let gw = Gateway::start(&body).await;
    let r = gw.get("/v1/pets/12").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["path"], "/v1/pets/12", "proxied to the real upstream");
    assert_eq!(gw.get("/v1/pets/12/photos").await.status, 404, "not in the spec");
    assert_eq!(gw.get("/v1/cats").await.status, 404);
    let post = gw.send("POST", "/v1/pets/12", &[], b"").await;
    assert_eq!((post.status, post.header("allow")), (405, Some("GET, HEAD, DELETE")));
    assert_eq!(up.requests(), 1);
}

#[test]
fn check_reports_broken_specs_by_pointer() {
    let dir = tempfile::tempdir().unwrap();
    let broken = spec_file(
        dir.path(),
        "openapi: 3.1.0\npaths:\n  /a/{id}x:\n    get: { responses: {} }\n  /b:\n    get:\n      responses:\n        \"200\": { $ref: \"#/components/responses/Nope\" }\n",
    );
    // Spec files are read once the rest of the config is valid (as certificates are).
    let (code, out) = check_config(&api(&broken, "mock"));
    assert_eq!(code, Some(1), "{out}");
    for want in [
        "api[0].spec: ",
        "pets.yaml: /paths/~1a~1{id}x: segment \"{id}x\": a template must be a whole segment",
        "pets.yaml: /paths/~1b/get/responses/200: $ref \"#/components/responses/Nope\" points nowhere",
    ] {
        assert!(out.contains(want), "missing {want:?} in\n{out}");
    }
    let (code, out) = check_config("[[api]]\nname = \"cats\"\nbase_path = \"/cats\"\ncluster = \"mock\"\n");
    assert_eq!(code, Some(1));
    assert!(out.contains("api[0].cluster: \"mock\" answers from the spec's examples: it needs spec"), "{out}");
    let (code, out) = check_config(&api(&dir.path().join("missing.yaml").display().to_string(), "mock"));
    assert_eq!(code, Some(1));
    assert!(out.contains("missing.yaml: /: cannot read the file"), "{out}");
}

#[tokio::test]
async fn a_deprecated_operation_announces_itself_alone() {
    let dir = tempfile::tempdir().unwrap();
    let spec = SPEC.replace(
        "    Pet:\n      get:\n",
        "    Pet:\n      get:\n        deprecated: true\n        x-deprecated-since: \"2026-03-01\"\n",
    );
    let gw =
        Gateway::start(&(api(&spec_file(dir.path(), &spec), "mock") + "deprecation_link = \"/docs/pets\"\n")).await;
    let old = gw.get("/v1/pets/1").await;
    assert_eq!(old.header("deprecation"), Some("@1772323200"));
    assert_eq!(old.header("link"), Some("</docs/pets>; rel=\"deprecation\"; type=\"text/html\""));
    let other = gw.send("DELETE", "/v1/pets/1", &[], b"").await;
    assert_eq!((other.status, other.header("deprecation")), (204, None));
    assert_eq!(gw.get("/v1/pets").await.header("deprecation"), None);
    // Without a date to announce, `check` says so.
    let undated = SPEC.replace("    Pet:\n      get:\n", "    Pet:\n      get:\n        deprecated: true\n");
    let (code, out) = check_config(&api(&spec_file(dir.path(), &undated), "mock"));
    assert_eq!(code, Some(1));
    assert!(out.contains("deprecated: true needs x-deprecated-since (or the API's deprecated_since)"), "{out}");
}

const SECURED: &str = r##"
openapi: 3.1.0
info: { title: Secured, version: "1" }
security: [{ key: [] }]
paths:
  /items:
    get:
      x-gatehouse-plan: tiny
      responses: { "200": { description: ok, content: { application/json: { example: [] } } } }
    post:
      security: [{ basic: [] }]
      responses: { "201": { description: made } }
  /open:
    get:
      security: []
      responses: { "200": { description: ok, content: { text/plain: { example: "hi" } } } }
components:
  securitySchemes:
    key: { type: apiKey, in: header, name: X-Key }
    basic: { type: http, scheme: basic }
"##;

#[tokio::test]
async fn the_specs_security_and_plans_apply_per_operation() {
    let dir = tempfile::tempdir().unwrap();
    let spec = spec_file(dir.path(), SECURED);
    let consumer = "[[consumer]]\nname = \"a\"\napi_keys = [\"sha256:c018c41c1afaf2c0b66c64f97d0ee135657b699ad260f299234cd40a5d625e0e\"]\n";
    let plan = "[[plan]]\nname = \"tiny\"\nrate = \"1/hour\"\n";
    let gw = Gateway::start(&format!("{}key_header = \"X-Key\"\n\n{consumer}\n{plan}", api(&spec, "mock"))).await;
    assert_eq!(gw.get("/v1/items").await.status, 401, "the document's security: an API key");
    let key = [("x-key", "example-key")];
    assert_eq!(gw.send("GET", "/v1/items", &key, b"").await.status, 200);
    assert_eq!(gw.send("GET", "/v1/items", &key, b"").await.status, 429, "x-gatehouse-plan: tiny");
    let post = gw.send("POST", "/v1/items", &key, b"").await;
    assert_eq!(post.status, 401, "POST asks for basic, not the key");
    assert!(
        post.header("www-authenticate").is_some_and(|v| v.starts_with("Basic")),
        "{:?}",
        post.header("www-authenticate")
    );
    assert_eq!(gw.get("/v1/open").await.text(), "hi", "security: [] is public");
    // What the spec asks of the config is checked.
    let (code, out) = check_config(&api(&spec, "mock"));
    assert_eq!(code, Some(1));
    for want in [
        "/paths/~1items/get: the API key is read from header \"X-Key\": set key_header = \"X-Key\" on this API",
        "/paths/~1items/get: x-gatehouse-plan: no plan named \"tiny\"",
    ] {
        assert!(out.contains(want), "missing {want:?} in\n{out}");
    }
}

#[tokio::test]
async fn spec_passthrough_sends_what_the_spec_does_not_describe_upstream() {
    let dir = tempfile::tempdir().unwrap();
    let up = Upstream::start("u").await;
    let body = format!(
        "[[cluster]]\nname = \"c\"\nupstreams = [\"{}\"]\n\n{}spec_passthrough = true\n",
        up.addr,
        api(&spec_file(dir.path(), SPEC), "c")
    );
    let gw = Gateway::start(&body).await;
    let r = gw.get("/v1/pets/12/photos").await;
    assert_eq!((r.status, r.json()["path"].as_str()), (200, Some("/v1/pets/12/photos")));
    assert_eq!(gw.send("POST", "/v1/pets/12", &[], b"").await.status, 200, "an undocumented method too");
    assert_eq!(gw.get("/elsewhere").await.status, 404, "only under the API's base path");
    let (code, out) = check_config(&(api(&spec_file(dir.path(), SPEC), "mock") + "spec_passthrough = true\n"));
    assert_eq!(code, Some(1));
    assert!(out.contains("api[0].spec_passthrough: passes what the spec does not describe"), "{out}");
}
