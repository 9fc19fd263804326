//! Header and path hygiene: X-Forwarded-*, X-Request-Id, hop-by-hop headers, Connection
//! nominations, header rewrites, and the path-normalization matrix.

mod common;
use common::*;

async fn gateway(server_extra: &str, api_extra: &str) -> (Gateway, Upstream) {
    let up = Upstream::start("u").await;
    let gw = Gateway::start_with(server_extra, &simple_config(&[&up], "", api_extra)).await;
    (gw, up)
}

#[tokio::test]
async fn forwarded_headers_from_an_untrusted_client_are_replaced() {
    let (gw, _u) = gateway("", "").await;
    let r = gw
        .send(
            "GET",
            "/",
            &[
                ("Host", "api.test"),
                ("X-Forwarded-For", "6.6.6.6"),
                ("X-Forwarded-Proto", "https"),
                ("X-Forwarded-Host", "evil.test"),
            ],
            b"",
        )
        .await;
    assert_eq!(r.echoed_header("x-forwarded-for").as_deref(), Some("127.0.0.1"));
    assert_eq!(r.echoed_header("x-forwarded-proto").as_deref(), Some("http"));
    assert_eq!(r.echoed_header("x-forwarded-host").as_deref(), Some("api.test"));
}

#[tokio::test]
async fn forwarded_headers_from_a_trusted_proxy_are_kept_and_appended() {
    let (gw, _u) = gateway("trusted_proxies = [\"127.0.0.0/8\"]", "").await;
    let r = gw
        .send(
            "GET",
            "/",
            &[("X-Forwarded-For", "203.0.113.9"), ("X-Forwarded-Proto", "https"), ("X-Forwarded-Host", "public.test")],
            b"",
        )
        .await;
    assert_eq!(r.echoed_header("x-forwarded-for").as_deref(), Some("203.0.113.9, 127.0.0.1"));
    assert_eq!(r.echoed_header("x-forwarded-proto").as_deref(), Some("https"));
    assert_eq!(r.echoed_header("x-forwarded-host").as_deref(), Some("public.test"));
}

#[tokio::test]
async fn request_id_is_propagated_when_sane_and_generated_otherwise() {
    let (gw, _u) = gateway("", "").await;
    let r = gw.send("GET", "/", &[("X-Request-Id", "abc-123.x_y")], b"").await;
    assert_eq!(r.header("x-request-id"), Some("abc-123.x_y"));
    assert_eq!(r.echoed_header("x-request-id").as_deref(), Some("abc-123.x_y"));
    for insane in ["has spaces", "<script>", &"x".repeat(200)] {
        let r = gw.send("GET", "/", &[("X-Request-Id", insane)], b"").await;
        let id = r.header("x-request-id").unwrap().to_string();
        assert_eq!(id.len(), 32, "generated id for {insane:?}: {id}");
        assert_eq!(r.echoed_header("x-request-id"), Some(id));
    }
    let a = gw.get("/").await.header("x-request-id").unwrap().to_string();
    let b = gw.get("/").await.header("x-request-id").unwrap().to_string();
    assert_ne!(a, b);
}

#[tokio::test]
async fn hop_by_hop_and_nominated_headers_are_removed_but_ours_stay() {
    let (gw, _u) = gateway("", "").await;
    let r = gw
        .send(
            "GET",
            "/",
            &[
                ("Keep-Alive", "timeout=5"),
                ("TE", "trailers"),
                ("Proxy-Authorization", "Basic eDp5"),
                ("X-Secret-Hop", "1"),
                ("Connection", "X-Secret-Hop, X-Request-Id"),
                ("X-Request-Id", "client-id"),
            ],
            b"",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    for gone in ["keep-alive", "te", "proxy-authorization", "x-secret-hop", "connection"] {
        assert_eq!(r.echoed_header(gone), None, "{gone} reached the upstream");
    }
    // The client named X-Request-Id in Connection: its value is gone, the gateway's own is sent.
    let sent = r.echoed_header("x-request-id").expect("gateway-added X-Request-Id survives");
    assert_eq!(Some(sent.as_str()), r.header("x-request-id"));
    assert_eq!(r.echoed_header("x-forwarded-for").as_deref(), Some("127.0.0.1"));
}

#[tokio::test]
async fn a_client_cannot_nominate_forwarding_headers_away() {
    let (gw, up) = gateway("", "").await;
    for nominated in ["X-Forwarded-For", "host", "x-forwarded-host, x-foo", "\"x-forwarded-proto\""] {
        let r = gw.send("GET", "/", &[("Connection", nominated)], b"").await;
        assert_eq!(r.status, 400, "Connection: {nominated}");
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
    }
    assert_eq!(up.requests(), 0, "refused before reaching the upstream");
}

/// Send an upgrade request and return the upstream's `x-echo-headers` from the 101 head.
async fn upgrade_head(addr: std::net::SocketAddr, raw: String) -> serde_json::Value {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(raw.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        assert_eq!(s.read(&mut b).await.unwrap(), 1, "closed: {:?}", String::from_utf8_lossy(&head));
        head.push(b[0]);
    }
    let text = String::from_utf8_lossy(&head).to_string();
    assert!(text.starts_with("HTTP/1.1 101"), "{text}");
    let line = text.lines().find_map(|l| l.strip_prefix("x-echo-headers: ")).expect("x-echo-headers");
    serde_json::from_str(line).unwrap()
}

#[tokio::test]
async fn upgrades_pass_only_as_websocket() {
    let (gw, _u) = gateway("", "").await;
    let ws = [
        ("Connection", "keep-alive, Upgrade"),
        ("Upgrade", "WebSocket"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ];
    // The echo upstream answers 101 and reports what it received in `x-echo-headers`.
    let mut raw = "GET / HTTP/1.1\r\nHost: t\r\n".to_string();
    for (n, v) in ws {
        raw.push_str(&format!("{n}: {v}\r\n"));
    }
    let seen = upgrade_head(gw.addr, raw + "\r\n").await;
    assert_eq!(seen["upgrade"], "websocket");
    assert_eq!(seen["connection"], "Upgrade");
    assert!(seen.get("keep-alive").is_none());
    let r = gw
        .send(
            "GET",
            "/",
            &[("Connection", "Upgrade, HTTP2-Settings"), ("Upgrade", "h2c"), ("HTTP2-Settings", "AAA")],
            b"",
        )
        .await;
    assert_eq!(r.status, 200);
    for gone in ["upgrade", "connection", "http2-settings"] {
        assert_eq!(r.echoed_header(gone), None, "{gone} forwarded for a non-WebSocket upgrade");
    }
}

#[tokio::test]
async fn chunked_bodies_are_reframed_for_the_upstream() {
    let (gw, _u) = gateway("", "").await;
    let raw = b"POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
    let r = common::client::send_raw(gw.addr, raw).await.expect("an answer");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["body"], "hello world");
    assert_eq!(r.echoed_header("transfer-encoding").as_deref(), Some("chunked"));
}

#[tokio::test]
async fn header_rewrites_at_api_and_route_level() {
    let up = Upstream::start("u").await;
    let cfg = format!(
        r#"
[[cluster]]
name = "c"
upstreams = ["{}"]
[[api]]
name = "a"
base_path = "/"
cluster = "c"
request = {{ set_headers = {{ "X-Api" = "api", "X-Both" = "api" }}, remove_headers = ["X-Drop-Me"] }}
response = {{ set_headers = {{ "X-Resp" = "api" }}, remove_headers = ["X-Upstream"] }}
[[api.route]]
path = "/"
[[api.route]]
path = "/special"
request = {{ set_headers = {{ "X-Both" = "route" }}, remove_headers = ["X-Drop-Too"] }}
response = {{ set_headers = {{ "X-Resp" = "route" }} }}
"#,
        up.addr
    );
    let gw = Gateway::start(&cfg).await;
    let r = gw.send("GET", "/plain", &[("X-Drop-Me", "1"), ("X-Drop-Too", "1")], b"").await;
    assert_eq!(r.echoed_header("x-api").as_deref(), Some("api"));
    assert_eq!(r.echoed_header("x-both").as_deref(), Some("api"));
    assert_eq!(r.echoed_header("x-drop-me"), None);
    assert_eq!(r.echoed_header("x-drop-too").as_deref(), Some("1"));
    assert_eq!(r.header("x-resp"), Some("api"));
    assert_eq!(r.header("x-upstream"), None);

    let r = gw.send("GET", "/special", &[("X-Drop-Me", "1"), ("X-Drop-Too", "1")], b"").await;
    assert_eq!(r.echoed_header("x-api").as_deref(), Some("api"));
    assert_eq!(r.echoed_header("x-both").as_deref(), Some("route"));
    assert_eq!(r.echoed_header("x-drop-me"), None);
    assert_eq!(r.echoed_header("x-drop-too"), None);
    assert_eq!(r.header("x-resp"), Some("route"));
}

#[tokio::test]
async fn path_normalization_matrix() {
    let (gw, _u) = gateway("", "").await;
    // (sent, forwarded) — the routed path is the forwarded path.
    let ok: &[(&str, &str)] = &[
        ("/a/b", "/a/b"),
        ("/a//b", "/a/b"),
        ("/a/./b", "/a/b"),
        ("/a/x/../b", "/a/b"),
        ("/a/%2e%2E/b", "/b"),
        ("/a/%2e/b", "/a/b"),
        ("/../../etc/passwd", "/etc/passwd"),
        ("/%61%62c", "/abc"),
        ("/a%20b", "/a%20b"),
        ("/a/%252e%252e/b", "/a/%252e%252e/b"),
        ("/a/b?x=../y&z=%2F", "/a/b?x=../y&z=%2F"),
        ("/a/..?q=1", "/?q=1"),
    ];
    for (sent, want) in ok {
        let r = gw.get(sent).await;
        assert_eq!(r.status, 200, "{sent}: {}", r.text());
        assert_eq!(r.json()["path"], *want, "{sent}");
    }
    let bad: &[&str] = &["/caf\u{e9}", "/a?q=\u{e9}", "/a%00b", "/a%2fb", "/a%2Fb", "/a%5cb", "/a\\b", "/a%zz", "/a%2"];
    for sent in bad {
        let r = gw.get(sent).await;
        assert_eq!(r.status, 400, "{sent}: {}", r.text());
        assert_eq!(r.header("content-type"), Some("application/problem+json"), "{sent}");
    }
}

#[tokio::test]
async fn encoded_slashes_pass_when_allowed() {
    let (gw, _u) = gateway("allow_encoded_slash = true", "").await;
    let r = gw.get("/a%2fb").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["path"], "/a%2Fb");
    assert_eq!(gw.get("/a%00b").await.status, 400, "NUL stays refused");
}

#[tokio::test]
async fn absolute_form_targets_route_by_their_authority() {
    let up = Upstream::start("u").await;
    let cfg = format!(
        "[[cluster]]\nname = \"c\"\nupstreams = [\"{}\"]\n[[api]]\nname = \"a\"\nbase_path = \"/\"\nhosts = [\"api.test\"]\ncluster = \"c\"\n",
        up.addr
    );
    let gw = Gateway::start(&cfg).await;
    let r = gw.send("GET", "http://api.test/x/../y", &[("Host", "api.test")], b"").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["path"], "/y");
    assert_eq!(r.echoed_header("host").as_deref(), Some("api.test"));
}
