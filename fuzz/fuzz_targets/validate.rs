//! Request validation against a fixed spec compiled once: arbitrary parameters, headers and
//! bodies give a pass, a 400 listing at most 50 violations, or a 415; the answer renders as
//! problem+json. Input: `METHOD target`, header lines, an empty line, the body.
#![no_main]

use gatehouse::openapi::validate::Compiler;
use gatehouse::plugins::validate::Validate;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const SPEC: &str = include_str!("../specs/validate.yaml");

/// (route pattern, its validator) for every path of the spec.
fn validators() -> &'static Vec<(String, Validate)> {
    static V: OnceLock<Vec<(String, Validate)>> = OnceLock::new();
    V.get_or_init(|| {
        let doc: serde_json::Value = yaml_serde::from_str(SPEC).expect("the fixed spec is YAML");
        let spec = gatehouse::openapi::parse(&doc).unwrap_or_else(|e| panic!("the fixed spec parses: {e:?}"));
        let compiler = Compiler::new(&spec).expect("the fixed spec compiles");
        static METRICS: OnceLock<gatehouse::metrics::Metrics> = OnceLock::new();
        let metrics = METRICS.get_or_init(Default::default);
        gatehouse::openapi::routes::paths(&spec)
            .into_iter()
            .map(|(pattern, ops)| {
                let v = Validate::build(&pattern, &ops, &compiler, (true, true), metrics, ("fuzz", 1 << 20))
                    .unwrap_or_else(|e| panic!("{pattern}: {e:?}"));
                (pattern, v)
            })
            .collect()
    })
}

fn matches(pattern: &str, path: &str) -> bool {
    let (p, s): (Vec<&str>, Vec<&str>) = (pattern.split('/').collect(), path.split('/').collect());
    p.len() == s.len() && p.iter().zip(&s).all(|(p, s)| p == s || (p.starts_with('{') && p.ends_with('}')))
}

fuzz_target!(|data: &[u8]| {
    let (head, body) = gatehouse_fuzz::split_blank(data);
    let mut lines = gatehouse_fuzz::lines(head);
    let Some(first) = lines.next() else { return };
    let Some(req) = gatehouse_fuzz::request(first, gatehouse_fuzz::header_fields(lines)) else { return };
    // The validator sees the normalized path the router matched.
    if gatehouse::net::path::normalize(req.uri.path().as_bytes(), false) != Ok(None) {
        return;
    }
    let Some((_, v)) = validators().iter().find(|(p, _)| matches(p, req.uri.path())) else { return };
    let Some(problem) = v.check_whole(&req, body) else { return };
    assert!(matches!(problem.status, 400 | 415), "status {}", problem.status);
    if let Some(errors) = &problem.errors {
        let n = errors.as_array().map(Vec::len).unwrap_or_default();
        assert!((1..=50).contains(&n), "{n} violations listed");
    }
    let rendered = problem.to_json(Some("fuzz"));
    let parsed: serde_json::Value = serde_json::from_slice(&rendered).expect("problem+json is JSON");
    assert_eq!(parsed["status"], problem.status);
});
