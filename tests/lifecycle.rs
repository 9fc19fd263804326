//! API lifecycle through the gateway: two versions live at once, the deprecated one announcing
//! itself on every answer (upstream's and the gateway's own), a retired or sunset one answering
//! 410 with a pointer to its successor, and `check` on inconsistent lifecycle keys. The exact
//! moment of the sunset is a unit test with an injected clock (`src/plugins/lifecycle.rs`).

mod common;

use common::{check_config, Gateway, Upstream};

fn two_versions(up: &Upstream, v1: &str) -> String {
    format!(
        r#"
[[cluster]]
name = "c"
upstreams = ["{addr}"]

[[api]]
name = "pets"
version = "v1"
base_path = "/pets/v1"
cluster = "c"
{v1}

[[api]]
name = "pets"
version = "v2"
base_path = "/pets/v2"
cluster = "c"
auth = ["api_key"]
"#,
        addr = up.addr
    )
}

const DEPRECATED: &str = r#"status = "deprecated"
deprecated_since = "2026-01-01"
sunset = "2099-01-01"
successor = "v2"
deprecation_link = "https://dev.example.com/pets-v1"
auth = ["api_key"]"#;

#[tokio::test]
async fn a_deprecated_version_announces_itself_beside_its_successor() {
    let up = Upstream::start("u").await;
    let gw = Gateway::start(
        &(two_versions(&up, DEPRECATED)
            + "\n[[consumer]]\nname = \"a\"\napi_keys = [\"sha256:c018c41c1afaf2c0b66c64f97d0ee135657b699ad260f299234cd40a5d625e0e\"]\n"),
    )
    .await;
    let key = [("x-api-key", "example-key")];
    let old = gw.send("GET", "/pets/v1/cats", &key, b"").await;
    assert_eq!(old.status, 200);
    assert_eq!(old.header("deprecation"), Some("@1767225600"));
    assert_eq!(old.header("sunset"), Some("Thu, 01 Jan 2099 00:00:00 GMT"));
    assert_eq!(
        old.header("link"),
        Some("<https://dev.example.com/pets-v1>; rel=\"deprecation\"; type=\"text/html\", </pets/v2>; rel=\"successor-version\"")
    );
    // The upstream's own links (pagination, say) stay beside the gateway's.
    let paged = gw
        .send("GET", "/pets/v1/cats", &[key[0], ("x-echo-header", "Link: </pets/v1/cats?page=2>; rel=\"next\"")], b"")
        .await;
    let links: Vec<&str> =
        paged.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case("link")).map(|(_, v)| v.as_str()).collect();
    assert_eq!(links.len(), 2, "{links:?}");
    assert!(links.contains(&"</pets/v1/cats?page=2>; rel=\"next\""), "{links:?}");
    // The gateway's own refusals say it too.
    let refused = gw.get("/pets/v1/cats").await;
    assert_eq!(refused.status, 401);
    assert_eq!(refused.header("deprecation"), Some("@1767225600"));
    // The successor is plain.
    let new = gw.send("GET", "/pets/v2/cats", &key, b"").await;
    assert_eq!(new.status, 200);
    assert_eq!((new.header("deprecation"), new.header("sunset"), new.header("link")), (None, None, None));
}

#[tokio::test]
async fn retired_or_past_sunset_is_gone_with_a_pointer_to_the_successor() {
    let up = Upstream::start("u").await;
    for v1 in ["status = \"retired\"\nsuccessor = \"v2\"", "sunset = \"2020-01-01\"\nsuccessor = \"v2\""] {
        let gw = Gateway::start(&two_versions(&up, v1)).await;
        let before = up.requests();
        let gone = gw.get("/pets/v1/cats").await;
        assert_eq!(gone.status, 410, "{v1}");
        assert_eq!(gone.header("content-type"), Some("application/problem+json"));
        assert_eq!(gone.json()["detail"], "pets v1 is retired; use v2 at /pets/v2");
        assert_eq!(gone.header("link"), Some("</pets/v2>; rel=\"successor-version\""));
        assert_eq!(up.requests(), before, "a retired API never reaches the upstream");
    }
    // Active with a future sunset: only `Sunset`.
    let gw = Gateway::start(&two_versions(&up, "sunset = \"2099-12-31T23:59:59Z\"")).await;
    let r = gw.get("/pets/v1/cats").await;
    assert_eq!(r.status, 200);
    assert_eq!((r.header("sunset"), r.header("deprecation")), (Some("Thu, 31 Dec 2099 23:59:59 GMT"), None));
}

#[test]
fn check_reports_inconsistent_lifecycles() {
    let up = "127.0.0.1:1";
    let text = format!(
        r#"
[[cluster]]
name = "c"
upstreams = ["{up}"]

[[api]]
name = "pets"
base_path = "/pets"
cluster = "c"
status = "deprecated"
successor = "v9"
deprecation_link = "https://x/> rel=evil"
version_header = "API Version"

[[api]]
name = "cats"
base_path = "/cats"
cluster = "c"
status = "sleeping"
deprecated_since = "2026-05-01"
sunset = "2026-04-01"

[[api]]
name = "dogs"
base_path = "/dogs"
cluster = "c"
sunset = "next tuesday"

[[api]]
name = "dogs"
version = "v2"
base_path = "/dogs"
cluster = "c"
version_header = "X-Dogs-Version"
"#
    );
    let (code, out) = check_config(&text);
    assert_eq!(code, Some(1), "{out}");
    for want in [
        "api[0].deprecated_since: status = \"deprecated\" needs deprecated_since",
        "api[0].successor: no version \"v9\" of API \"pets\"",
        "api[0].deprecation_link: must be an http(s) URL",
        "api[0].version_header: \"API Version\" is not a header name",
        "api[1].status:",
        "api[1].sunset: is before deprecated_since",
        "api[2].sunset: expected an RFC 3339 time",
        "api[3].version_header: versions of \"dogs\" on /dogs must use one version_header (\"API-Version\")",
    ] {
        assert!(out.contains(want), "missing {want:?} in\n{out}");
    }
}

fn shared_base_path(v1: &Upstream, v2: &Upstream, v1_extra: &str) -> String {
    format!(
        r#"
[[cluster]]
name = "one"
upstreams = ["{}"]

[[cluster]]
name = "two"
upstreams = ["{}"]

[[api]]
name = "pets"
version = "v1"
base_path = "/pets"
cluster = "one"
{v1_extra}

[[api]]
name = "pets"
version = "v2"
base_path = "/pets"
cluster = "two"

[[api.route]]
path = "/photos"
methods = ["GET"]
"#,
        v1.addr, v2.addr
    )
}

#[tokio::test]
async fn versions_on_one_base_path_are_picked_by_header() {
    let (one, two) = (Upstream::start("one").await, Upstream::start("two").await);
    let gw = Gateway::start(&shared_base_path(&one, &two, "")).await;
    let served_by = |r: &common::Response| r.json()["upstream"].as_str().unwrap_or_default().to_string();
    // No header: the first active version, so adding v2 moved nobody.
    let plain = gw.get("/pets/cats").await;
    assert_eq!((plain.status, served_by(&plain).as_str()), (200, "one"));
    assert_eq!(plain.header("vary"), Some("API-Version"));
    let v2 = gw.send("GET", "/pets/photos", &[("api-version", "v2")], b"").await;
    assert_eq!((v2.status, served_by(&v2).as_str()), (200, "two"));
    // v2 has only GET /pets/photos: its own routing answers.
    assert_eq!(gw.send("GET", "/pets/cats", &[("api-version", "v2")], b"").await.status, 404);
    let post = gw.send("POST", "/pets/photos", &[("api-version", "v2")], b"").await;
    assert_eq!((post.status, post.header("allow")), (405, Some("GET")));
    let unknown = gw.send("GET", "/pets/cats", &[("api-version", "v3")], b"").await;
    assert_eq!(unknown.status, 400);
    assert_eq!(unknown.json()["detail"], "unknown API version in api-version; this path serves v1, v2");
}

#[tokio::test]
async fn a_deprecated_default_leaves_the_default_to_the_active_version() {
    let (one, two) = (Upstream::start("one").await, Upstream::start("two").await);
    let gw = Gateway::start(&shared_base_path(&one, &two, "status = \"retired\"\nsuccessor = \"v2\"")).await;
    let r = gw.get("/pets/photos").await;
    assert_eq!(r.status, 200, "no header: v2, the first active version");
    let old = gw.send("GET", "/pets/cats", &[("api-version", "v1")], b"").await;
    assert_eq!(old.status, 410);
    assert_eq!(old.header("link"), Some("</pets>; rel=\"successor-version\""));
}

#[tokio::test]
async fn deprecated_usage_names_who_still_calls_the_old_version() {
    let up = Upstream::start("u").await;
    let key = |name: &str| {
        use sha2::Digest;
        let d = sha2::Sha256::digest(format!("{name}-key").as_bytes());
        format!("sha256:{}", d.iter().map(|b| format!("{b:02x}")).collect::<String>())
    };
    let text = two_versions(&up, DEPRECATED)
        + &format!(
            "\n[[consumer]]\nname = \"alice\"\napi_keys = [\"{}\"]\n\n[[consumer]]\nname = \"bob\"\napi_keys = [\"{}\"]\n\n[analytics]\nflush_interval = \"200ms\"\n",
            key("alice"),
            key("bob")
        );
    let gw = Gateway::start(&text).await;
    for _ in 0..3 {
        assert_eq!(gw.send("GET", "/pets/v1/cats", &[("x-api-key", "alice-key")], b"").await.status, 200);
    }
    assert_eq!(gw.send("GET", "/pets/v2/cats", &[("x-api-key", "bob-key")], b"").await.status, 200);
    common::eventually(10, "alice's calls reported", || async {
        let r = gw.admin_get("/apis/pets/v1/deprecated-usage").await;
        r.status == 200 && r.json()["usage"][0]["count"] == 3
    })
    .await;
    let report = gw.admin_get("/apis/pets/v1/deprecated-usage").await.json();
    assert_eq!(report["status"], "deprecated");
    assert_eq!(report["sunset"], "2099-01-01T00:00:00Z");
    assert_eq!(report["usage"].as_array().unwrap().len(), 1, "{report}");
    assert_eq!(report["usage"][0]["consumer"], "alice");
    assert_eq!(report["usage"][0]["operation"], "/pets/v1");
    // The successor is not deprecated: nobody to warn.
    let v2 = gw.admin_get("/apis/pets/v2/deprecated-usage").await.json();
    assert_eq!(v2["usage"].as_array().unwrap().len(), 0, "{v2}");
    assert_eq!(gw.admin_get("/apis/pets/v9/deprecated-usage").await.status, 404);
}
