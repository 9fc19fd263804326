//! The portal's API docs fragment (`gatehouse::portal::docs::render`): the demo petstore spec
//! rendered with every operation, parameter, response and schema; hostile spec text escaped in
//! the page and quoted in the code samples (checked by running them through sh, python3 and
//! node); an API without a spec rendered from its config routes.

mod common;

use gatehouse::portal::docs::{render, DocsInput};
use gatehouse::runtime::Runtime;
use std::process::Command;

const PETSTORE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/conf/specs/petstore.yaml");

/// A runtime built in-process from `body` (clusters and APIs).
fn runtime(body: &str) -> Runtime {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("g.toml");
    std::fs::write(&file, format!("[server]\ndata_dir = \".\"\n\n{body}")).unwrap();
    let loaded = gatehouse::config::load_file(&file).unwrap_or_else(|e| panic!("config: {e:?}"));
    gatehouse::runtime::build(&loaded, &gatehouse::runtime::Shared::default())
        .unwrap_or_else(|e| panic!("runtime: {:?}", e.iter().map(|e| e.to_string()).collect::<Vec<_>>()))
}

fn page(rt: &Runtime, signed_in: bool) -> String {
    let api = &rt.apis[0];
    render(&DocsInput {
        api,
        spec: api.spec.as_deref(),
        gateway_url: "http://127.0.0.1:8080",
        try_path: "/apis/petstore/v1/try",
        csrf_token: "tok\"en<1>",
        signed_in,
    })
}

fn petstore() -> Runtime {
    runtime(&format!(
        "[[api]]\nname = \"petstore\"\nbase_path = \"/petstore\"\ncluster = \"mock\"\nspec = \"{PETSTORE}\"\nauth = [\"api_key\"]\n\n[[consumer]]\nname = \"dev\"\napi_keys = []\n"
    ))
}

#[test]
fn the_petstore_spec_is_rendered_completely() {
    let rt = petstore();
    let html = page(&rt, true);
    let doc = rt.apis[0].spec.as_deref().expect("spec kept on the Api").clone();
    assert!(html.contains("<h1>Petstore (mock)</h1>"), "{html}");
    assert!(html.contains("A spec-defined API answered from its own examples"));
    assert!(html.contains("Base URL: <code>http://127.0.0.1:8080/petstore</code>"));
    let mut ops = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            ops += 1;
            let id = op["operationId"].as_str().unwrap();
            assert!(html.contains(&format!("id=\"op-{id}\"")), "operation {id}");
            let badge = format!(
                "docs-method-{method}\">{}</span> <code class=\"docs-path\">/petstore{path}</code>",
                method.to_uppercase()
            );
            assert!(html.contains(&badge), "{badge}");
            assert!(html.contains(op["summary"].as_str().unwrap()));
            for p in op["parameters"].as_array().into_iter().flatten() {
                assert!(html.contains(&format!("<code class=\"docs-param\">{}</code>", p["name"].as_str().unwrap())));
            }
            for status in op["responses"].as_object().unwrap().keys() {
                assert!(html.contains(&format!("\">{status}</span>")), "{id} response {status}");
            }
        }
    }
    assert_eq!(ops, 3);
    for name in doc["components"]["schemas"].as_object().unwrap().keys() {
        assert!(html.contains(&format!("id=\"schema-{name}\"")), "schema section {name}");
        assert!(html.contains(&format!("href=\"#schema-{name}\">{name}</a>")), "schema link {name}");
    }
    // Response descriptions, examples (inline and named), enum and required facets.
    for want in ["The pets", "A pet", "No such pet", "cat", "dog", "Tom", "Rex", "no pet with this id"] {
        assert!(html.contains(want), "{want}");
    }
    assert!(html.contains("one of <code>&quot;cat&quot;</code>, <code>&quot;dog&quot;</code>"));
    assert!(html.contains("<code class=\"docs-prop\">name</code> <span class=\"docs-required\">required</span>"));
    // Samples (all three languages, the key placeholder in the API's header) and try-it forms.
    assert_eq!(html.matches("class=\"docs-samples\"").count(), 3);
    assert!(html.contains("curl -i &#39;http://127.0.0.1:8080/petstore/pets/1&#39;"), "path example filled");
    assert!(html.contains("-H &#39;X-API-Key: YOUR_API_KEY&#39;"));
    assert!(html.contains("await fetch(") && html.contains("requests.post("));
    assert_eq!(html.matches("<form class=\"try-form\"").count(), 3);
    assert!(html.contains("action=\"/apis/petstore/v1/try\""));
    assert!(html.contains("name=\"csrf\" value=\"tok&quot;en&lt;1&gt;\""), "csrf token escaped");
    assert!(
        html.contains("id=\"try-status\"") && html.contains("id=\"try-headers\"") && html.contains("id=\"try-body\"")
    );
    // The key placeholder sits in the headers of each form; the first form is `#try-form`, open.
    assert_eq!(html.matches("spellcheck=\"false\">X-API-Key: YOUR_API_KEY").count(), 3);
    assert!(html.contains(
        "<details class=\"docs-try\" open><summary>Try it</summary><form class=\"try-form\" id=\"try-form\""
    ));
    assert!(html.contains("id=\"try-form-2\"") && html.contains("id=\"try-form-3\""));
    assert!(html.contains(">X-API-Key: YOUR_API_KEY\nContent-Type: application/json</textarea>"), "POST form headers");
    assert!(!html.contains("<html") && !html.contains("<head>"));
    // Signed out: a pointer to sign in next to the key field.
    assert!(!html.contains("Sign in</a> and create an app"));
    assert!(page(&rt, false).contains("Sign in</a> and create an app"));
}

const HOSTILE: &str = r##"
openapi: 3.0.3
info:
  title: "Evil <script>alert('title')</script>"
  version: "1"
  description: "Hi <script>alert('desc')</script> [x](javascript:alert(1))"
  contact: { name: "Team <b>", url: "javascript:alert(2)", email: "a@b.example" }
  license: { name: "MIT", url: "https://opensource.org/licenses/MIT" }
externalDocs: { url: "data:text/html,<script>x</script>", description: "Guide" }
tags:
  - name: "<script>tag</script>"
    description: "<img src=x onerror=alert(1)>"
paths:
  /things/{id}:
    post:
      tags: ["<script>tag</script>"]
      operationId: "op<script>"
      summary: "<script>alert('summary')</script>"
      description: "**bold** <script>alert('op')</script>"
      deprecated: true
      x-deprecated-since: "2026-01-01"
      parameters:
        - name: id
          in: path
          required: true
          schema: { type: string }
          example: "1'; touch /tmp/pwned-gh-$(id -u) #"
        - name: q
          in: query
          required: true
          schema: { type: string, enum: ["<script>enum</script>"] }
        - name: X-Note
          in: header
          required: true
          schema: { type: string }
          example: "it's $(touch /tmp/pwned-gh) `id` \"quoted\" \\ end"
      requestBody:
        content:
          application/json:
            example: { text: "O'Brien $(touch /tmp/pwned-gh) </script><script>alert(1)</script>", "n": null, "ok": true }
      responses:
        "200":
          description: "<script>alert('resp')</script>"
          headers:
            X-Rate: { description: "<b>x</b>", schema: { type: integer, minimum: 0, maximum: 10 } }
          content:
            application/json:
              schema: { $ref: "#/components/schemas/Node" }
components:
  schemas:
    Node:
      type: object
      description: "<script>alert('schema')</script>"
      properties:
        next: { $ref: "#/components/schemas/Node" }
        kids: { type: array, items: { $ref: "#/components/schemas/Node" } }
        label: { type: string, nullable: true, pattern: "^<a>$", maxLength: 5 }
"##;

fn hostile_page() -> String {
    let dir = tempfile::tempdir().unwrap();
    let spec = common::spec_file(dir.path(), HOSTILE);
    let rt = runtime(&format!(
        "[[cluster]]\nname = \"c\"\nupstreams = [\"127.0.0.1:9\"]\n\n[[api]]\nname = \"evil\"\nbase_path = \"/evil\"\ncluster = \"c\"\nspec = \"{spec}\"\nauth = [\"api_key\"]\nkey_header = \"X-Key\"\n"
    ));
    page(&rt, true)
}

#[test]
fn hostile_spec_text_is_escaped_everywhere() {
    let html = hostile_page();
    assert!(!html.to_lowercase().contains("<script"), "{html}");
    assert!(!html.contains("<img"), "{html}");
    assert!(!html.contains("javascript:"), "{html}");
    // Text content: `'` may stay literal (Markdown output), `<` never does.
    let text = html.replace("&#39;", "'");
    for part in ["title", "desc", "summary", "op", "resp", "schema"] {
        assert!(text.contains(&format!("&lt;script&gt;alert('{part}')&lt;/script&gt;")), "{part} missing");
    }
    assert!(html.contains("&lt;script&gt;enum&lt;/script&gt;") && html.contains("&lt;script&gt;tag&lt;/script&gt;"));
    assert!(html.contains("<strong>bold</strong>"), "Markdown still rendered");
    // Links from the document: safe ones kept, others shown as text.
    assert!(html.contains("Contact: Team &lt;b&gt; (<a href=\"mailto:a@b.example\""), "{html}");
    assert!(html.contains("License: <a href=\"https://opensource.org/licenses/MIT\""));
    assert!(html.contains("&middot; Guide</p>"));
    assert!(html.contains("Deprecated since 2026-01-01"));
    // A recursive schema terminates, linked back to itself.
    assert!(html.contains("(recursive: see above)"));
    assert!(
        html.contains("string or null")
            && html.contains("max length 5")
            && html.contains("pattern <code>^&lt;a&gt;$</code>")
    );
}

/// The text of the sample for `lang`, as a browser would show it.
fn sample(html: &str, lang: &str) -> String {
    let start = html.find(&format!("data-lang=\"{lang}\"")).expect(lang);
    let code = &html[start..];
    let code = &code[code.find("<code>").unwrap() + 6..code.find("</code>").unwrap()];
    code.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'").replace("&amp;", "&")
}

fn tool(name: &str) -> bool {
    let ok = Command::new(name).arg("--version").output().is_ok_and(|o| o.status.success());
    if !ok {
        assert!(std::env::var_os("CI").is_none(), "{name} is needed under CI");
        eprintln!("skipping the {name} check: {name} not installed");
    }
    ok
}

#[test]
fn samples_quote_spec_values_safely() {
    let html = hostile_page();
    let dir = tempfile::tempdir().unwrap();
    // curl: run the sample with `curl` replaced by a printer of its arguments; nothing expands.
    let curl = sample(&html, "curl");
    let printer = format!("curl() {{ for a in \"$@\"; do printf '[%s]\\n' \"$a\"; done; }}\n{curl}\n");
    let out = Command::new("sh").arg("-c").arg(&printer).current_dir(dir.path()).output().unwrap();
    let args = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{curl}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(args.contains("[X-Note: it's $(touch /tmp/pwned-gh) `id` \"quoted\" \\ end]"), "{args}");
    assert!(args.contains("[X-Key: YOUR_API_KEY]"), "{args}");
    assert!(args.contains("/evil/things/1%27%3B%20touch%20%2Ftmp%2Fpwned-gh-%24%28id%20-u%29%20%23?q=%3Cscript%3Eenum%3C%2Fscript%3E]"), "{args}");
    assert!(args.contains("O'Brien $(touch /tmp/pwned-gh)"), "{args}");
    // Python: the sample parses, and its literals hold the spec's text unchanged.
    if tool("python3") {
        let py = sample(&html, "python");
        let check = "import ast,sys\nt=ast.parse(sys.stdin.read())\nprint(chr(10).join(n.value for n in ast.walk(t) if isinstance(n, ast.Constant) and isinstance(n.value, str)))";
        let out = run_with_stdin("python3", &["-c", check], &py);
        assert!(out.lines().any(|l| l == "it's $(touch /tmp/pwned-gh) `id` \"quoted\" \\ end"), "{py}\n{out}");
        assert!(py.contains("\"n\": None") && py.contains("\"ok\": True"), "{py}");
    }
    // JavaScript: the sample is a valid module (top-level await).
    if tool("node") {
        let js = sample(&html, "js");
        let file = dir.path().join("sample.mjs");
        std::fs::write(&file, &js).unwrap();
        let out = Command::new("node").arg("--check").arg(&file).output().unwrap();
        assert!(out.status.success(), "{js}\n{}", String::from_utf8_lossy(&out.stderr));
    }
    assert!(!std::path::Path::new("/tmp/pwned-gh").exists());
}

#[test]
fn docs_js_is_valid_javascript() {
    if tool("node") {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("docs.js");
        std::fs::write(&file, gatehouse::portal::docs::DOCS_JS).unwrap();
        let out = Command::new("node").arg("--check").arg(&file).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
}

fn run_with_stdin(cmd: &str, args: &[&str], input: &str) -> String {
    use std::io::Write;
    let mut child = Command::new(cmd)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{cmd}: {}\n{input}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn an_api_without_spec_lists_its_config_routes() {
    let rt = runtime(
        "[[cluster]]\nname = \"c\"\nupstreams = [\"127.0.0.1:9\"]\n\n[[api]]\nname = \"orders\"\ntitle = \"Orders <b>\"\ndescription = \"Order *things*\"\nbase_path = \"/orders\"\ncluster = \"c\"\nauth = [\"api_key\"]\n\n[[api.route]]\npath = \"/items/{id}\"\nmethods = [\"GET\", \"DELETE\"]\nauth = [\"basic\"]\n\n[[api.route]]\npath = \"/public\"\nauth = []\n",
    );
    let html = page(&rt, true);
    assert!(html.contains("<h1>Orders &lt;b&gt;</h1>") && html.contains("Order <em>things</em>"), "{html}");
    assert!(html.contains("no OpenAPI document"));
    assert!(html.contains("<code class=\"docs-path\">/orders/items/{id}</code>"));
    assert!(
        html.contains(">DELETE</span>") && html.contains("API key in header <code>X-API-Key</code>"),
        "API-wide auth"
    );
    assert!(html.contains("<code class=\"docs-path\">/orders/public</code>"));
    assert!(html.contains("Public: no credentials needed."));
    assert!(html.contains("-u &#39;YOUR_USERNAME:YOUR_PASSWORD&#39;") && html.contains("HTTP Basic"));
    assert_eq!(html.matches("<form class=\"try-form\"").count(), 2);
}

#[test]
fn versions_sharing_a_base_path_get_their_version_header_in_samples_and_try_it() {
    let rt = runtime(
        "[[cluster]]\nname = \"c\"\nupstreams = [\"127.0.0.1:9\"]\n\n[[api]]\nname = \"orders\"\nversion = \"v1\"\nbase_path = \"/orders\"\ncluster = \"c\"\nstatus = \"deprecated\"\ndeprecated_since = \"2026-01-01\"\nsunset = \"2027-01-01\"\nsuccessor = \"v2\"\n\n[[api]]\nname = \"orders\"\nversion = \"v2\"\nbase_path = \"/orders\"\ncluster = \"c\"\n",
    );
    let html = |i: usize| {
        let api = &rt.apis[i];
        render(&DocsInput {
            api,
            spec: None,
            gateway_url: "http://gw",
            try_path: "/t",
            csrf_token: "c",
            signed_in: true,
        })
    };
    let (v1, v2) = (html(0), html(1));
    assert!(v1.contains("-H &#39;API-Version: v1&#39;"), "{v1}");
    assert!(v2.contains("-H &#39;API-Version: v2&#39;"), "{v2}");
    assert!(v1.contains("name=\"headers\" rows=\"3\" spellcheck=\"false\">API-Version: v1</textarea>"), "{v1}");
    // The lifecycle banner: deprecated since, sunset and a link to the successor's page.
    assert!(v1.contains("Deprecated since 2026-01-01T00:00:00Z. Sunset: 2027-01-01T00:00:00Z."), "{v1}");
    assert!(v1.contains("<a href=\"/apis/orders/v2\">version v2</a>"));
}
