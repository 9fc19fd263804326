//! DOCS_JS in a real browser (Debian's headless `chromium`): on a page made of the docs fragment
//! of the demo petstore, a key just issued replaces the placeholder in the samples and the try-it
//! headers, the samples become tabs, and the first try-it form is sent with fetch to a small
//! stand-in of the portal's try endpoint, which relays it through the real gateway; the page
//! then shows the gateway's status and body.

mod common;

use common::Gateway;
use gatehouse::portal::docs::{parse_try_form, relay, render, DocsInput, DOCS_CSS, DOCS_JS};
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PETSTORE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/conf/specs/petstore.yaml");
const KEY: &str = "gh_browser_key_42";

fn chromium() -> bool {
    let ok = std::process::Command::new("chromium").arg("--version").output().is_ok_and(|o| o.status.success());
    if !ok {
        assert!(std::env::var_os("CI").is_none(), "chromium is needed under CI");
        eprintln!("skipping: chromium not installed");
    }
    ok
}

/// What the stand-in portal saw on its try endpoint: the Accept header and the form.
#[derive(Default)]
struct Seen {
    accept: String,
    form: Vec<(String, String)>,
}

/// Serve `page` at `/` and relay `POST /try` to the gateway at `proxy`, one request per connection.
async fn portal(page: String, proxy: SocketAddr, seen: Arc<Mutex<Seen>>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let (page, seen) = (page.clone(), seen.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 8192];
                let (head_len, method, length, accept) = loop {
                    let n = s.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let mut hs = [httparse::EMPTY_HEADER; 64];
                    let mut req = httparse::Request::new(&mut hs);
                    if let Ok(httparse::Status::Complete(len)) = req.parse(&buf) {
                        let h = |name: &str| {
                            req.headers
                                .iter()
                                .find(|h| h.name.eq_ignore_ascii_case(name))
                                .map(|h| String::from_utf8_lossy(h.value).to_string())
                        };
                        let length = h("content-length").and_then(|v| v.parse::<usize>().ok()).unwrap_or(0);
                        break (len, req.method.unwrap_or("").to_string(), length, h("accept").unwrap_or_default());
                    }
                };
                while buf.len() < head_len + length {
                    let n = s.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let (ctype, body) = if method == "POST" {
                    let form: Vec<(String, String)> =
                        form_urlencoded::parse(&buf[head_len..head_len + length]).into_owned().collect();
                    *seen.lock().unwrap() = Seen { accept, form: form.clone() };
                    let answer = match parse_try_form(&form) {
                        Ok(req) => match relay(proxy, "localhost", req).await {
                            Ok(r) => serde_json::to_string(&r).unwrap(),
                            Err(e) => serde_json::json!({ "detail": e }).to_string(),
                        },
                        Err(e) => serde_json::json!({ "detail": e }).to_string(),
                    };
                    ("application/json", answer)
                } else {
                    ("text/html; charset=utf-8", page)
                };
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = s.write_all(head.as_bytes()).await;
                let _ = s.write_all(body.as_bytes()).await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn docs_js_fills_the_key_makes_tabs_and_sends_try_it_through_the_gateway() {
    if !chromium() {
        return;
    }
    let hash: String = Sha256::digest(KEY.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    let g = Gateway::start(&format!(
        "[[api]]\nname = \"petstore\"\nbase_path = \"/petstore\"\ncluster = \"mock\"\nspec = \"{PETSTORE}\"\nauth = [\"api_key\"]\n\n[[consumer]]\nname = \"dev\"\napi_keys = [\"sha256:{hash}\"]\n"
    ))
    .await;
    let loaded = gatehouse::config::load_file(&g.config).unwrap();
    let rt = gatehouse::runtime::build(&loaded, &gatehouse::runtime::Shared::default())
        .unwrap_or_else(|_| panic!("runtime"));
    let api = &rt.apis[0];
    let fragment = render(&DocsInput {
        api,
        spec: api.spec.as_deref(),
        gateway_url: &format!("http://{}", g.addr),
        try_path: "/try",
        csrf_token: "c",
        signed_in: true,
    });
    // The apps page leaves a new key in sessionStorage; here the page does it itself, then sends
    // the first try-it form once everything has loaded.
    let page = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><style>{DOCS_CSS}</style></head><body>{fragment}\
         <script>sessionStorage.setItem(\"gatehouse.newKey\", \"{KEY}\");</script><script>{DOCS_JS}</script>\
         <script>addEventListener(\"load\", function () {{ \
           document.querySelector(\".docs-tab\").dispatchEvent(new KeyboardEvent(\"keydown\", {{ key: \"ArrowRight\", bubbles: true }})); \
           document.getElementById(\"try-form\").requestSubmit(); }});</script></body></html>"
    );
    let seen = Arc::new(Mutex::new(Seen::default()));
    let addr = portal(page, g.addr, seen.clone()).await;
    let profile = tempfile::tempdir().unwrap();
    let out = tokio::process::Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--virtual-time-budget=10000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("http://{addr}/"))
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(std::time::Duration::from_secs(60), out).await.expect("chromium hung").unwrap();
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && dom.contains("</html>"), "{}", String::from_utf8_lossy(&out.stderr));
    // The key replaced the placeholder in the samples (a textarea's new value is not in the DOM
    // dump; the form the portal received shows it below).
    let samples: Vec<&str> = dom
        .split("class=\"docs-sample\"")
        .skip(1)
        .map(|c| &c[c.find("<code>").unwrap()..c.find("</code>").unwrap()])
        .collect();
    assert_eq!(samples.len(), 9, "three samples per operation");
    assert!(samples.iter().all(|c| !c.contains("YOUR_API_KEY")), "placeholder left: {samples:?}");
    assert!(samples.iter().all(|c| c.contains(KEY)), "{samples:?}");
    // Tabs: one tablist per operation; ArrowRight on the first moved every group to JavaScript.
    assert_eq!(dom.matches("role=\"tablist\"").count(), 3);
    for list in dom.split("role=\"tablist\"").skip(1) {
        let list = &list[..list.find("</div>").unwrap()];
        let selected = list.split("<button").find(|b| b.contains("aria-selected=\"true\"")).unwrap_or_default();
        assert!(selected.contains(">JavaScript</button>"), "tabs: {list}");
    }
    // Try-it went to the portal as JSON-wanting fetch with the key, through the gateway and back.
    {
        let s = seen.lock().unwrap();
        assert!(s.accept.contains("application/json"), "Accept: {}", s.accept);
        assert!(s.form.iter().any(|(k, v)| k == "headers" && v.contains(KEY)), "{:?}", s.form);
        assert!(s.form.iter().any(|(k, v)| k == "csrf" && v == "c"));
    }
    assert!(dom.contains("<span id=\"try-status\">200</span>"), "{dom}");
    let body_at = dom.find("id=\"try-body\"").unwrap();
    assert!(dom[body_at..].contains("Tom"), "the gateway's body shown");
}
