//! Downstream TLS (SNI certificate choice, ALPN, protocol floor), upstream TLS (verification,
//! `ca_file`, health checks over TLS) and what `check` says about bad TLS settings.

mod common;

use common::tls::{connect, echo_upstream, peer_names, wait_listening, Ca};
use common::{client::exchange, free_port, Gateway, Upstream};
use openssl::ssl::SslVersion;
use std::net::SocketAddr;

const H2_H1: &[u8] = b"\x02h2\x08http/1.1";
const H1: &[u8] = b"\x08http/1.1";

#[tokio::test]
async fn sni_alpn_and_protocol_floor() {
    let up = Upstream::start("plain").await;
    let certs = tempfile::tempdir().unwrap();
    let ca = Ca::new(certs.path(), "test");
    let (a_crt, a_key) = ca.issue("default", &["localhost", "127.0.0.1"]);
    let (b_crt, b_key) = ca.issue("api", &["api.localhost"]);
    let (c_crt, c_key) = ca.issue("apps", &["*.apps.localhost"]);
    let tls: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    // Two entries on one address merge into one listener.
    let extra = format!(
        "[[server.tls]]\nlisten = \"{tls}\"\ncert = {a_crt:?}\nkey = {a_key:?}\ncerts = [{{ cert = {b_crt:?}, key = {b_key:?} }}]\n\n\
         [[server.tls]]\nlisten = \"{tls}\"\ncert = {c_crt:?}\nkey = {c_key:?}\n"
    );
    let gw = Gateway::start_with(&extra, &common::simple_config(&[&up], "", "")).await;
    wait_listening(tls).await;
    let cafile = ca.ca_file("test");

    for (sni, want) in [
        (Some("api.localhost"), "api.localhost"),
        (Some("API.localhost"), "api.localhost"),
        (Some("x.apps.localhost"), "*.apps.localhost"),
        (Some("localhost"), "localhost"),
        (None, "localhost"),
        (Some("unknown.example"), "localhost"),
        (Some("y.x.apps.localhost"), "localhost"),
        (Some("odd\u{1}\u{7f}..name"), "localhost"),
    ] {
        let s = connect(tls, sni, false, &cafile, H1, None).await.unwrap_or_else(|e| panic!("{sni:?}: {e}"));
        assert_eq!(peer_names(&s)[0], want, "SNI {sni:?}");
    }

    // HTTP/1.1 through the TLS listener, with the name checked.
    let s = connect(tls, Some("api.localhost"), true, &cafile, H1, None).await.unwrap();
    assert_eq!(s.ssl().selected_alpn_protocol(), Some(&b"http/1.1"[..]));
    let r = exchange(s, b"GET /x HTTP/1.1\r\nHost: api.localhost\r\nConnection: close\r\n\r\n").await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.echoed_header("x-forwarded-proto").as_deref(), Some("https"));

    // h2 is offered by ALPN.
    let s = connect(tls, Some("localhost"), true, &cafile, H2_H1, None).await.unwrap();
    assert_eq!(s.ssl().selected_alpn_protocol(), Some(&b"h2"[..]));

    // TLS 1.2 works, TLS 1.1 and 1.0 are refused by the server.
    connect(tls, Some("localhost"), true, &cafile, H1, Some(SslVersion::TLS1_2)).await.unwrap();
    for v in [SslVersion::TLS1_1, SslVersion::TLS1] {
        match connect(tls, Some("localhost"), true, &cafile, H1, Some(v)).await {
            Ok(_) => panic!("{v:?} was accepted"),
            Err(e) if e.starts_with("client") => eprintln!("skipped {v:?}: this OpenSSL cannot offer it: {e}"),
            Err(e) => assert!(e.contains("protocol version"), "{v:?}: {e}"),
        }
    }
    drop(gw);
}

#[tokio::test]
async fn upstream_tls_is_verified() {
    let certs = tempfile::tempdir().unwrap();
    let ca = Ca::new(certs.path(), "up");
    let (crt, key) = ca.issue("upstream", &["localhost", "127.0.0.1"]);
    let (addr, state) = echo_upstream("tls-up", &crt, &key).await;
    let cafile = ca.ca_file("up");
    let port = addr.port();
    let body = format!(
        r#"
[[cluster]]
name = "system-roots"
upstreams = ["{addr}"]
tls = true
sni = "localhost"

[[cluster]]
name = "own-ca"
upstreams = ["{addr}"]
tls = true
sni = "localhost"
ca_file = {cafile:?}
[cluster.health]
http_path = "/health"
interval = "100ms"

[[cluster]]
name = "by-name"
upstreams = ["localhost:{port}"]
tls = true
ca_file = {cafile:?}

[[cluster]]
name = "wrong-name"
upstreams = ["{addr}"]
tls = true
sni = "other.example"
ca_file = {cafile:?}

[[api]]
name = "a"
base_path = "/a"
cluster = "system-roots"

[[api]]
name = "b"
base_path = "/b"
cluster = "own-ca"

[[api]]
name = "c"
base_path = "/c"
cluster = "by-name"

[[api]]
name = "d"
base_path = "/d"
cluster = "wrong-name"
"#
    );
    let gw = Gateway::start(&body).await;
    for path in ["/a/x", "/d/x"] {
        let r = gw.get(path).await;
        assert_eq!(r.status, 502, "{path}: {}", r.text());
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
        let text = r.text();
        assert!(!text.contains("127.0.0.1") && !text.contains(&port.to_string()), "leaks the upstream: {text}");
    }
    for path in ["/b/x", "/c/x"] {
        let r = gw.get(path).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        assert_eq!(r.json()["upstream"], "tls-up");
    }
    // The HTTP health check speaks TLS with the cluster's trust.
    common::eventually(10, "a health check over TLS", || {
        let n = state.health_checks.load(std::sync::atomic::Ordering::SeqCst);
        async move { n >= 1 }
    })
    .await;
}

fn check(dir: &std::path::Path, text: &str) -> (i32, String) {
    let file = dir.join("gatehouse.toml");
    std::fs::write(&file, text).unwrap();
    let out = std::process::Command::new(common::BIN).args(["check", "-c"]).arg(&file).output().unwrap();
    let all = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), all.replace(&file.display().to_string(), "FILE"))
}

#[test]
fn check_reports_tls_problems() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new(dir.path(), "c");
    ca.issue("good", &["localhost"]);
    ca.issue("other", &["localhost"]);
    // Relative paths resolve against the config file's directory.
    let good = r#"
[server]
listen = ["127.0.0.1:18080"]
[[server.tls]]
listen = "127.0.0.1:18443"
cert = "good.crt"
key = "good.key"
[[cluster]]
name = "u"
upstreams = ["localhost:9000"]
tls = true
ca_file = "c-ca.pem"
h2 = true
"#;
    let (code, out) = check(dir.path(), good);
    assert_eq!(code, 0, "{out}");

    // Files are read once the keys are valid: two runs.
    let bad_keys = r#"
[server]
listen = ["127.0.0.1:18080"]
[[server.tls]]
listen = "127.0.0.1:18080"
cert = "good.crt"
key = "good.key"
[[server.tls]]
listen = "127.0.0.1:18444"
cert = "good.crt"
[[cluster]]
name = "a"
upstreams = ["127.0.0.1:9000"]
tls = true
[[cluster]]
name = "b"
upstreams = ["127.0.0.1:9000"]
h2 = true
sni = "x.example"
"#;
    let bad_files = r#"
[server]
listen = ["127.0.0.1:18080"]
[[server.tls]]
listen = "127.0.0.1:18443"
cert = "missing.crt"
key = "good.key"
[[server.tls]]
listen = "127.0.0.1:18443"
cert = "good.crt"
key = "other.key"
[[server.tls]]
listen = "127.0.0.1:18443"
certs = [{ cert = "good.key", key = "good.key" }]
[[cluster]]
name = "a"
upstreams = ["127.0.0.1:9000"]
tls = true
sni = "localhost"
ca_file = "nope.pem"
"#;
    for (text, expected) in [
        (
            bad_keys,
            &[
                "FILE: server.tls[0].listen: \"127.0.0.1:18080\" is also a plain listener",
                "FILE: server.tls[1].key: needed with cert",
                "FILE: cluster[0].sni: needed to verify the certificate of an upstream given by IP address",
                "FILE: cluster[1].h2: applies only with tls = true",
                "FILE: cluster[1].sni: applies only with tls = true",
            ][..],
        ),
        (
            bad_files,
            &[
                "FILE: server.tls[0].cert: cannot read ",
                "FILE: server.tls[1].key: ",
                "other.key does not belong to the certificate in",
                "FILE: server.tls[2].certs[0].cert: ",
                "good.key holds no PEM certificate",
                "FILE: cluster[0].ca_file: cannot read ",
            ][..],
        ),
    ] {
        let (code, out) = check(dir.path(), text);
        assert_eq!(code, 1, "{out}");
        for e in expected {
            assert!(out.contains(e), "missing {e:?} in:\n{out}");
        }
    }
}

#[tokio::test]
async fn reload_applies_new_certificates() {
    let up = Upstream::start("plain").await;
    let certs = tempfile::tempdir().unwrap();
    let ca = Ca::new(certs.path(), "r");
    let (old_crt, old_key) = ca.issue("old", &["old.localhost"]);
    let (new_crt, new_key) = ca.issue("new", &["new.localhost"]);
    let tls: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let extra = format!("[[server.tls]]\nlisten = \"{tls}\"\ncert = {old_crt:?}\nkey = {old_key:?}\n");
    let gw = Gateway::start_with(&extra, &common::simple_config(&[&up], "", "")).await;
    wait_listening(tls).await;
    let cafile = ca.ca_file("r");
    let s = connect(tls, None, false, &cafile, H1, None).await.unwrap();
    assert_eq!(peer_names(&s)[0], "old.localhost");
    let text = std::fs::read_to_string(&gw.config).unwrap();
    let text = text.replace(old_crt.to_str().unwrap(), new_crt.to_str().unwrap());
    std::fs::write(&gw.config, text.replace(old_key.to_str().unwrap(), new_key.to_str().unwrap())).unwrap();
    let r = gw.admin_post("/reload").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let s = connect(tls, None, false, &cafile, H1, None).await.unwrap();
    assert_eq!(peer_names(&s)[0], "new.localhost");
}
