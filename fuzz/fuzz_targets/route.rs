//! Path normalization and routing as `early_request_filter` does them: the normalized path is
//! normal (no dot segments, no empty segments, idempotent, no encoded slash unless allowed), and
//! a route it finds matches it segment for segment and accepts the method.
//! Input: `host`, `METHOD`, `API-Version` value, then the raw path, one per line.
#![no_main]

use gatehouse::config::{load_str, LoadedConfig};
use gatehouse::net::path::normalize;
use gatehouse::runtime::router::{Match, MethodSet};
use gatehouse::runtime::{build, Runtime, Shared};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const CONFIG: &str = r#"
[[cluster]]
name = "c"
upstreams = ["127.0.0.1:9"]

[[api]]
name = "shop"
base_path = "/shop"
cluster = "c"
[[api.route]]
path = "/items/{id}"
exact = true
methods = ["GET", "PUT"]
[[api.route]]
path = "/items/{id}/reviews"
methods = ["POST"]

[[api]]
name = "tenants"
base_path = "/"
hosts = ["api.example.com", "*.tenant.example"]
cluster = "c"

[[api]]
name = "versioned"
version = "v1"
base_path = "/v"
cluster = "c"

[[api]]
name = "versioned"
version = "v2"
base_path = "/v"
cluster = "c"
"#;

fn runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        let config = load_str(CONFIG).expect("the fixed config is valid");
        let loaded = LoadedConfig { file: "fuzz.toml".into(), hash: String::new(), base_dir: ".".into(), config };
        // Kept: the response cache in `Shared` leaks its storage on purpose (Pingora wants it
        // `'static`); dropped, that would look like a leak to the sanitizer.
        static SHARED: OnceLock<Shared> = OnceLock::new();
        build(&loaded, SHARED.get_or_init(Shared::default)).unwrap_or_else(|e| panic!("the fixed config builds: {e:?}"))
    })
}

fn segments(p: &str) -> Vec<&str> {
    p.split('/').filter(|s| !s.is_empty()).collect()
}

fn check_normal(out: &[u8], allow_encoded_slash: bool) {
    assert_eq!(out.first(), Some(&b'/'));
    assert!(!out.windows(2).any(|w| w == b"//"), "empty segment left");
    for seg in out.split(|&b| b == b'/') {
        assert!(seg != b"." && seg != b"..", "dot segment left");
    }
    let lower = out.to_ascii_lowercase();
    assert!(!lower.windows(3).any(|w| w == b"%00"), "NUL let through");
    if !allow_encoded_slash {
        assert!(!out.contains(&b'\\'), "backslash let through");
        assert!(!lower.windows(3).any(|w| w == b"%2f" || w == b"%5c"), "encoded slash let through");
    }
    assert_eq!(normalize(out, allow_encoded_slash), Ok(None), "normalizing twice changes the path");
}

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(4, |&b| b == b'\n');
    let (Some(host), Some(method), Some(version), Some(path)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return;
    };
    let mut normal = None;
    for allow in [false, true] {
        if let Ok(n) = normalize(path, allow) {
            let out = n.as_deref().unwrap_or(path);
            check_normal(out, allow);
            if !allow {
                normal = Some(out.to_vec());
            }
        }
    }
    // The gateway refuses non-ASCII targets before normalizing; routing sees only those.
    let (Some(normal), Ok(method)) = (normal, http::Method::from_bytes(method)) else { return };
    let Ok(path) = std::str::from_utf8(&normal) else { return };
    if !path.is_ascii() {
        return;
    }
    let Ok(mut req) = pingora_http::RequestHeader::build(method.clone(), path.as_bytes(), None) else { return };
    if let Ok(v) = http::HeaderValue::from_bytes(version) {
        let _ = req.insert_header("API-Version", v);
    }
    let host = String::from_utf8_lossy(host).to_ascii_lowercase();
    let bit = MethodSet::bit(&method);
    let Ok(found) = gatehouse::runtime::versions::lookup(&runtime().router, &req, &host, path, bit) else { return };
    match found {
        Match::Found(route) => {
            assert!(route.methods.0 & bit != 0, "{method} routed to a route without it");
            let (pattern, segs) = (segments(&route.pattern), segments(path));
            assert!(pattern.len() <= segs.len(), "{path} routed to the longer {}", route.pattern);
            for (p, s) in pattern.iter().zip(&segs) {
                assert!(p == s || (p.starts_with('{') && p.ends_with('}')), "{path} routed to {}", route.pattern);
            }
        }
        Match::MethodNotAllowed(allowed) => assert!(allowed.0 & bit == 0),
        Match::NotFound => {}
    }
});
