//! OpenAPI documents (JSON when the text starts with `{`, else YAML) through `openapi::parse`
//! and, when they parse, schema compilation of every operation's parameters, body and
//! responses: accepted or refused with located problems, never a panic or a hang.
#![no_main]

use gatehouse::openapi::validate::Compiler;
use gatehouse::plugins::validate::Validate;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn metrics() -> &'static gatehouse::metrics::Metrics {
    static M: OnceLock<gatehouse::metrics::Metrics> = OnceLock::new();
    M.get_or_init(Default::default)
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let doc: serde_json::Value = if text.trim_start().starts_with('{') {
        let Ok(v) = serde_json::from_str(text) else { return };
        v
    } else {
        let Ok(v) = yaml_serde::from_str(text) else { return };
        v
    };
    let spec = match gatehouse::openapi::parse(&doc) {
        Ok(spec) => spec,
        Err(errors) => {
            assert!(!errors.is_empty());
            for e in errors {
                assert!(e.pointer.is_empty() || e.pointer.starts_with('/'), "{e}");
            }
            return;
        }
    };
    let Ok(compiler) = Compiler::new(&spec) else { return };
    for (pattern, ops) in gatehouse::openapi::routes::paths(&spec) {
        let _ = Validate::build(&pattern, &ops, &compiler, (true, true), metrics(), ("fuzz", 1 << 20));
    }
});
