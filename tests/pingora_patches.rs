//! The Pingora patch series (pingora-patches/): it still applies to the release Cargo.lock pins,
//! each patch is numbered and says why it exists and what it saved, and the README lists it.
//! A Pingora upgrade that breaks a patch fails here, naming the patch.

use std::path::{Path, PathBuf};
use std::process::Command;

fn series_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("pingora-patches")
}

fn patches() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::fs::read_dir(series_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "patch"))
        .map(|p| (p.file_name().unwrap().to_str().unwrap().to_string(), std::fs::read_to_string(&p).unwrap()))
        .collect();
    out.sort();
    out
}

#[test]
fn the_series_applies_to_the_pinned_pingora_release() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("patched");
    let run = Command::new(series_dir().join("apply.sh")).arg(&out).output().unwrap();
    assert!(run.status.success(), "pingora-patches/apply.sh failed:\n{}", String::from_utf8_lossy(&run.stderr));
    let config_path = String::from_utf8(run.stdout).unwrap();
    let config = std::fs::read_to_string(config_path.trim()).unwrap();
    for (name, text) in patches() {
        for line in text.lines().filter_map(|l| l.strip_prefix("+++ b/")) {
            let krate = line.split('/').next().unwrap();
            assert!(
                config.contains(&format!("{krate} = {{ path = ")),
                "{name} patches {krate}, which the config misses"
            );
            let file = out.join(line.split('\t').next().unwrap());
            assert!(file.exists(), "{name}: {} missing after applying", file.display());
        }
    }
    // A second run with nothing changed reuses the result (so Cargo does not rebuild Pingora).
    let stamp = std::fs::metadata(out.join("stamp")).unwrap().modified().unwrap();
    assert!(Command::new(series_dir().join("apply.sh")).arg(&out).status().unwrap().success());
    assert_eq!(std::fs::metadata(out.join("stamp")).unwrap().modified().unwrap(), stamp);
}

#[test]
fn a_patch_that_no_longer_applies_fails_naming_itself() {
    let dir = tempfile::tempdir().unwrap();
    let series = dir.path().join("series");
    std::fs::create_dir(&series).unwrap();
    std::fs::copy(series_dir().join("apply.sh"), series.join("apply.sh")).unwrap();
    std::fs::write(
        series.join("0001-stale.patch"),
        "Subject: a patch against code that is not there\n\n\
         --- a/pingora-pool/src/lib.rs\n+++ b/pingora-pool/src/lib.rs\n\
         @@ -1,2 +1,2 @@\n-this line is not in pingora-pool\n+nor is this one\n context\n",
    )
    .unwrap();
    // apply.sh finds Cargo.lock one folder up from its own.
    std::fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.lock"), dir.path().join("Cargo.lock")).unwrap();
    let run = Command::new(series.join("apply.sh")).arg(dir.path().join("out")).output().unwrap();
    assert!(!run.status.success());
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(err.contains("0001-stale.patch does not apply"), "{err}");
    assert!(!dir.path().join("out/stamp").exists());
}

#[test]
fn every_patch_is_numbered_explained_measured_and_listed() {
    let readme = std::fs::read_to_string(series_dir().join("README.md")).unwrap();
    let list = patches();
    assert!(!list.is_empty(), "the series is empty");
    for (i, (name, text)) in list.iter().enumerate() {
        assert!(name.starts_with(&format!("{:04}-", i + 1)), "{name}: patches are numbered 0001, 0002, … without gaps");
        let head = text.split("\n---\n").next().unwrap();
        assert!(head.starts_with("Subject: "), "{name}: starts with a Subject: line");
        assert!(head.contains("\nWhy: "), "{name}: says why (a `Why:` paragraph)");
        assert!(head.contains("\nMeasured: "), "{name}: gives its instruction delta (a `Measured:` line)");
        assert!(readme.contains(name.as_str()), "pingora-patches/README.md does not list {name}");
    }
}
