//! Routing through the real gateway: hosts, prefixes on segment boundaries, exact paths,
//! templates, methods (405 with Allow), strip_base_path, 404.

mod common;
use common::*;

async fn setup() -> (Gateway, Upstream, Upstream, Upstream) {
    let pets = Upstream::start("pets").await;
    let shop = Upstream::start("shop").await;
    let any = Upstream::start("any").await;
    let cfg = format!(
        r#"
[[cluster]]
name = "pets"
upstreams = ["{}"]
[[cluster]]
name = "shop"
upstreams = ["{}"]
[[cluster]]
name = "any"
upstreams = ["{}"]

[[api]]
name = "pets"
base_path = "/pets"
cluster = "pets"
strip_base_path = true
[[api.route]]
path = "/"
methods = ["GET", "POST"]
[[api.route]]
path = "/{{id}}/photos"
exact = true
methods = ["PUT"]

[[api]]
name = "shop"
base_path = "/"
hosts = ["shop.example.com", "*.shop.test"]
cluster = "shop"

[[api]]
name = "fallback"
base_path = "/"
cluster = "any"
[[api.route]]
path = "/static"
exact = true
"#,
        pets.addr, shop.addr, any.addr
    );
    (Gateway::start(&cfg).await, pets, shop, any)
}

#[tokio::test]
async fn routing_table() {
    let (gw, _p, _s, _a) = setup().await;
    let cases: &[(&str, &str, &str, u16, &str)] = &[
        // method, path, host, status, upstream (or problem type)
        ("GET", "/pets", "x.test", 200, "pets"),
        ("GET", "/pets/", "x.test", 200, "pets"),
        ("GET", "/pets/1", "x.test", 200, "pets"),
        ("POST", "/pets/1", "x.test", 200, "pets"),
        ("PUT", "/pets/7/photos", "x.test", 200, "pets"),
        ("GET", "/petsfoo", "x.test", 404, "no-route"),
        ("DELETE", "/pets/1", "x.test", 405, "method-not-allowed"),
        ("GET", "/anything", "shop.example.com", 200, "shop"),
        ("GET", "/anything", "SHOP.example.com:8080", 200, "shop"),
        ("GET", "/anything", "a.b.shop.test", 200, "shop"),
        ("GET", "/anything", "shop.test", 404, "no-route"),
        ("GET", "/static", "x.test", 200, "any"),
        ("GET", "/static/more", "x.test", 404, "no-route"),
        // A host-specific API wins over host-less ones.
        ("GET", "/pets/2", "shop.example.com", 200, "shop"),
    ];
    for (method, path, host, status, want) in cases {
        let r = gw.send(method, path, &[("Host", host)], b"").await;
        assert_eq!(r.status, *status, "{method} {path} host {host}: {}", r.text());
        if *status == 200 {
            assert_eq!(r.json()["upstream"], *want, "{method} {path} host {host}");
        } else {
            assert_eq!(r.header("content-type"), Some("application/problem+json"));
            assert_eq!(r.json()["type"], format!("urn:gatehouse:problem:{want}"));
        }
    }
}

#[tokio::test]
async fn strip_base_path_and_405_allow() {
    let (gw, _p, _s, _a) = setup().await;
    let r = gw.get("/pets/1?q=2").await;
    assert_eq!(r.json()["path"], "/1?q=2");
    let r = gw.get("/pets").await;
    assert_eq!(r.json()["path"], "/");
    let r = gw.send("DELETE", "/pets/1", &[], b"").await;
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, POST"));
    assert!(r.json()["request_id"].as_str().is_some_and(|s| !s.is_empty()));
}
