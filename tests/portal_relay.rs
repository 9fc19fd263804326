//! The portal's try-it relay (`gatehouse::portal::docs::{parse_try_form, relay}`) against the
//! real gateway binary: the demo petstore mock and an echo upstream behind it, with API-key
//! auth; redirects shown but not followed; hostile forms refused and never able to make the
//! relay connect anywhere but the proxy address; big answers cut; a silent gateway times out.

mod common;

use common::{Gateway, Upstream};
use gatehouse::portal::docs::{parse_try_form, relay, TryRequest};
use sha2::{Digest, Sha256};
use std::net::SocketAddr;

const PETSTORE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/conf/specs/petstore.yaml");
const KEY: &str = "gh_test_key_0123456789";

fn key_hash(key: &str) -> String {
    format!("sha256:{}", Sha256::digest(key.as_bytes()).iter().map(|b| format!("{b:02x}")).collect::<String>())
}

fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// The petstore mock and an echo-backed API, both needing an API key.
async fn gateway(echo: &Upstream) -> Gateway {
    Gateway::start(&format!(
        r#"[[cluster]]
name = "echo"
upstreams = ["{}"]

[[api]]
name = "petstore"
base_path = "/petstore"
cluster = "mock"
spec = "{PETSTORE}"
auth = ["api_key"]

[[api]]
name = "echo"
base_path = "/echo"
cluster = "echo"
auth = ["api_key"]

[[consumer]]
name = "dev"
api_keys = ["{}"]
"#,
        echo.addr,
        key_hash(KEY)
    ))
    .await
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

#[tokio::test]
async fn try_it_calls_the_petstore_mock_through_the_gateway() {
    let echo = Upstream::start("e").await;
    let g = gateway(&echo).await;
    let req = parse_try_form(&form(&[
        ("csrf", "x"),
        ("method", "GET"),
        ("path", "/petstore/pets/1"),
        ("query", ""),
        ("auth", "header:X-API-Key"),
        ("key", KEY),
        ("headers", "Accept: application/json"),
        ("body", ""),
    ]))
    .unwrap();
    let resp = relay(g.addr, "localhost", req.clone()).await.unwrap();
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(json(&resp.body)["name"], "Tom");
    assert!(resp.headers.iter().any(|(k, v)| k == "content-type" && v.contains("json")), "{:?}", resp.headers);
    // The same request without the key: the gateway's own 401.
    let mut no_key = req;
    no_key.headers.retain(|(k, _)| k != "X-API-Key");
    let resp = relay(g.addr, "localhost", no_key).await.unwrap();
    assert_eq!(resp.status, 401, "{resp:?}");
    assert!(resp.headers.iter().any(|(k, v)| k == "content-type" && v == "application/problem+json"));
    // A POST with the prefilled JSON body is answered from the spec's 201 example.
    let req = parse_try_form(&form(&[
        ("method", "POST"),
        ("path", "/petstore/pets"),
        ("auth", "header:X-API-Key"),
        ("key", KEY),
        ("body", "{\"name\": \"Tom\", \"kind\": \"cat\"}"),
    ]))
    .unwrap();
    let resp = relay(g.addr, "localhost", req).await.unwrap();
    assert_eq!(resp.status, 201, "{resp:?}");
}

#[tokio::test]
async fn try_it_sends_method_query_headers_and_body_to_the_upstream() {
    let echo = Upstream::start("e").await;
    let g = gateway(&echo).await;
    let req = parse_try_form(&form(&[
        ("method", "patch"),
        ("path", "/echo/items/a b?x=1"),
        ("query", "y=é"),
        ("auth", "header:X-API-Key"),
        ("key", KEY),
        ("headers", "X-Note: it's \"fine\"\r\nAccept: */*\n\n"),
        ("body", "{\"a\": 1}"),
    ]))
    .unwrap();
    assert_eq!(req.path, "/echo/items/a%20b");
    assert_eq!(req.query, "x=1&y=%C3%A9");
    let resp = relay(g.addr, "docs.example", req).await.unwrap();
    assert_eq!(resp.status, 200, "{resp:?}");
    let seen = json(&resp.body);
    assert_eq!(seen["method"], "PATCH");
    assert_eq!(seen["path"], "/echo/items/a%20b?x=1&y=%C3%A9");
    assert_eq!(seen["headers"]["x-note"], "it's \"fine\"");
    assert_eq!(seen["headers"]["content-type"], "application/json");
    assert_eq!(seen["headers"]["host"], "docs.example");
    assert_eq!(seen["body"], "{\"a\": 1}");
}

/// A listener nobody should ever reach; `touched` says whether anything connected.
struct Victim(std::net::TcpListener);

impl Victim {
    fn new() -> Victim {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        Victim(l)
    }
    fn addr(&self) -> SocketAddr {
        self.0.local_addr().unwrap()
    }
    fn touched(&self) -> bool {
        !matches!(self.0.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
    }
}

#[tokio::test]
async fn redirects_are_shown_not_followed() {
    let echo = Upstream::start("e").await;
    let g = gateway(&echo).await;
    let victim = Victim::new();
    let location = format!("X-Echo-Header: Location: http://{}/stolen", victim.addr());
    let req = parse_try_form(&form(&[
        ("method", "GET"),
        ("path", "/echo/r"),
        ("auth", "header:X-API-Key"),
        ("key", KEY),
        ("headers", &format!("X-Echo-Status: 302\n{location}")),
    ]))
    .unwrap();
    let resp = relay(g.addr, "localhost", req).await.unwrap();
    assert_eq!(resp.status, 302);
    assert!(resp.headers.iter().any(|(k, v)| k == "location" && v.contains("/stolen")));
    assert!(!victim.touched(), "the relay followed the redirect");
}

#[tokio::test]
async fn a_form_cannot_choose_where_the_request_goes() {
    let echo = Upstream::start("e").await;
    let g = gateway(&echo).await;
    let victim = Victim::new();
    let v = victim.addr().to_string();
    let refused: Vec<Vec<(String, String)>> = vec![
        form(&[("method", "GET"), ("path", &format!("http://{v}/x"))]),
        form(&[("method", "GET"), ("path", &format!("//{v}/x"))]),
        form(&[("method", "GET"), ("path", &format!("{v}/x"))]),
        form(&[("method", "GET"), ("path", &format!("/x/http://{v}/"))]),
        form(&[("method", "GET"), ("path", "/x\r\nHost: evil")]),
        form(&[("method", "GET"), ("path", "/x"), ("query", "a=1\r\n\r\nGET / HTTP/1.1")]),
        form(&[("method", "GET"), ("path", "/x"), ("headers", &format!("Host: {v}"))]),
        form(&[("method", "GET"), ("path", "/x"), ("headers", "Transfer-Encoding: chunked")]),
        form(&[("method", "GET"), ("path", "/x"), ("headers", "Content-Length: 5")]),
        form(&[("method", "GET"), ("path", "/x"), ("headers", "Bad Name: x")]),
        form(&[("method", "GET"), ("path", "/x"), ("headers", "X-A: b\rHost: evil")]),
        form(&[("method", "GET"), ("path", "/x"), ("headers", "no colon here")]),
        form(&[("method", "GET"), ("path", "/x"), ("auth", "header:X-API-Key"), ("key", "k\r\nHost: evil")]),
        form(&[("method", "GET"), ("path", "/x"), ("auth", "header:Bad Name"), ("key", "k")]),
        form(&[("method", "GET"), ("path", "/x"), ("auth", "header:Host"), ("key", "evil")]),
        form(&[("method", "GET"), ("path", "/x"), ("auth", "url:http://evil/"), ("key", "k")]),
        form(&[("method", "CONNECT"), ("path", "/x")]),
        form(&[("method", "GET / HTTP/1.1\r\nX:"), ("path", "/x")]),
        form(&[("method", "GET"), ("path", &format!("/{}", "a".repeat(5000)))]),
        form(&[("method", "POST"), ("path", "/x"), ("body", &"a".repeat(300 * 1024))]),
    ];
    for f in &refused {
        assert!(parse_try_form(f).is_err(), "accepted {f:?}");
    }
    // Accepted forms that mention the victim go to the gateway as plain text, nowhere else.
    let accepted = [
        form(&[("method", "GET"), ("path", "/echo/x"), ("query", &format!("u=http://{v}/"))]),
        form(&[("method", "GET"), ("path", &format!("/echo/{v}"))]),
        form(&[
            ("method", "GET"),
            ("path", "/echo/x"),
            ("headers", &format!("X-Forwarded-Host: {v}\nReferer: http://{v}/")),
        ]),
    ];
    for f in &accepted {
        let req = parse_try_form(f).unwrap_or_else(|e| panic!("{e}: {f:?}"));
        let resp = relay(g.addr, "localhost", req).await.unwrap();
        assert_eq!(resp.status, 401, "reached the gateway (no key given): {resp:?}");
    }
    // `relay` itself refuses a request that did not come from `parse_try_form` and is not a path.
    for path in [format!("http://{v}/"), format!("//{v}/"), "/a b".into(), "/a\r\nHost: x".into()] {
        let req = TryRequest { method: "GET".into(), path, query: String::new(), headers: vec![], body: String::new() };
        assert!(relay(g.addr, "localhost", req).await.is_err());
    }
    assert!(!victim.touched(), "the relay connected somewhere other than the proxy");
}

#[tokio::test]
async fn big_answers_are_cut_at_1_mib() {
    let echo = Upstream::start("e").await;
    let g = gateway(&echo).await;
    // The echo answers with the request body inside its JSON: a 1.2 MiB body makes a bigger answer.
    let req = TryRequest {
        method: "POST".into(),
        path: "/echo/big".into(),
        query: String::new(),
        headers: vec![("X-API-Key".into(), KEY.into())],
        body: "x".repeat(1200 * 1024),
    };
    let resp = relay(g.addr, "localhost", req).await.unwrap();
    assert_eq!(resp.status, 200);
    assert!(resp.body.ends_with("larger than 1 MiB]"), "{}", &resp.body[resp.body.len() - 80..]);
    assert!(resp.body.len() < 1024 * 1024 + 100);
}

#[tokio::test]
async fn a_silent_gateway_times_out_instead_of_hanging() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // Accepts, reads nothing back, answers nothing.
    let hold = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            open.push(s);
        }
    });
    let req = TryRequest {
        method: "GET".into(),
        path: "/".into(),
        query: String::new(),
        headers: vec![],
        body: String::new(),
    };
    let started = std::time::Instant::now();
    let err = relay(addr, "localhost", req).await.unwrap_err();
    assert!(err.contains("did not answer within 10 s"), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(15));
    hold.abort();
}

/// The fields a browser would post from the form with this id (inputs, the selected option,
/// textareas), HTML entities decoded.
fn form_fields(html: &str, id: &str) -> Vec<(String, String)> {
    let start = html.find(&format!("id=\"{id}\"")).expect("form");
    let form = &html[start..start + html[start..].find("</form>").unwrap()];
    let unescape = |s: &str| {
        s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'").replace("&amp;", "&")
    };
    let attr = |tag: &str, name: &str| {
        let at = tag.find(&format!(" {name}=\""))? + name.len() + 3;
        Some(unescape(&tag[at..at + tag[at..].find('"')?]))
    };
    let mut fields = Vec::new();
    for part in form.split('<').skip(1) {
        let tag = &part[..part.find('>').unwrap_or(part.len())];
        if tag.starts_with("input") {
            fields.push((attr(tag, "name").unwrap(), attr(tag, "value").unwrap_or_default()));
        } else if tag.starts_with("textarea") {
            fields.push((attr(tag, "name").unwrap(), unescape(&part[tag.len() + 1..])));
        } else if tag.starts_with("select") {
            let name = attr(tag, "name").unwrap();
            let sel = form[form.find(&format!("name=\"{name}\"")).unwrap()..]
                .split("<option")
                .find(|o| o.starts_with(" selected"))
                .unwrap();
            fields.push((name, sel[sel.find('>').unwrap() + 1..sel.find("</option>").unwrap()].to_string()));
        }
    }
    fields
}

#[tokio::test]
async fn the_rendered_form_sends_a_working_request() {
    let echo = Upstream::start("e").await;
    let g = gateway(&echo).await;
    let loaded = gatehouse::config::load_file(&g.config).unwrap();
    let rt = gatehouse::runtime::build(&loaded, &gatehouse::runtime::Shared::default())
        .unwrap_or_else(|_| panic!("runtime"));
    let api = rt.apis.iter().find(|a| a.name == "petstore").unwrap();
    let html = gatehouse::portal::docs::render(&gatehouse::portal::docs::DocsInput {
        api,
        spec: api.spec.as_deref(),
        gateway_url: &format!("http://{}", g.addr),
        try_path: "/apis/petstore/v1/try",
        csrf_token: "c",
        signed_in: true,
    });
    for (id, status, name) in
        [("try-form", 200, Some("Tom")), ("try-form-2", 201, Some("Tom")), ("try-form-3", 200, Some("Tom"))]
    {
        let mut fields = form_fields(&html, id);
        // What DOCS_JS does with a key just issued.
        for (_, v) in fields.iter_mut() {
            *v = v.replace("YOUR_API_KEY", KEY);
        }
        let req = parse_try_form(&fields).unwrap_or_else(|e| panic!("{id}: {e}: {fields:?}"));
        let resp = relay(g.addr, "localhost", req).await.unwrap();
        assert_eq!(resp.status, status, "{id}: {fields:?} {resp:?}");
        if let Some(n) = name {
            assert!(resp.body.contains(n), "{id}: {}", resp.body);
        }
    }
}
