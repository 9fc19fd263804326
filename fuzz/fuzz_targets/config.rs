//! Config text (TOML) through parsing and validation: every input is accepted or refused with
//! key-path errors, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Err(errors) = gatehouse::config::load_str(text) {
        assert!(!errors.is_empty(), "a refused config names at least one problem");
    }
});
