//! `gatehouse check` and `serve` on bad files: every problem, one line each, with the file and
//! the key path.

mod common;

use std::process::Command;

fn check(text: &str) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, text).unwrap();
    let out = Command::new(common::BIN).args(["check", "-c"]).arg(&file).output().unwrap();
    let all = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), all.replace(&file.display().to_string(), "FILE"))
}

const MANY_ERRORS: &str = r#"
[server]
listen = ["127.0.0.1:80800"]
grace_period = "soon"
colour = "blue"

[[cluster]]
name = "one"
upstreams = ["127.0.0.1:9000", "no-port-here"]
connect_timeout = "3 parsecs"

[[cluster]]
name = "one"
upstreams = ["127.0.0.1:9001"]
balance = "random"

[[api]]
name = "pets"
base_path = "/pets"
cluster = "missing"

[[api]]
name = "pets"
base_path = "/pets/../x"
cluster = "one"
[[api.route]]
path = "/a"
methods = ["GET", "FETCH"]
"#;

#[test]
fn check_reports_every_problem_with_its_key_path() {
    let (code, out) = check(MANY_ERRORS);
    assert_eq!(code, 1, "{out}");
    for expected in [
        "FILE: server.listen[0]: \"127.0.0.1:80800\" is not an address",
        "FILE: server.grace_period: invalid duration \"soon\"",
        "FILE: server.colour: unknown key",
        "FILE: cluster[0].connect_timeout: invalid duration \"3 parsecs\"",
        "FILE: cluster[0].upstreams[1]: \"no-port-here\" is not \"host:port\"",
        "FILE: cluster[1].balance: unknown variant `random`",
        "FILE: api[0].cluster: no cluster named \"missing\"",
        "FILE: api[1].version: duplicate api \"pets\" version \"v1\"",
        "FILE: api[1].base_path: must start with /",
        "FILE: api[1].route[0].methods[1]: unknown method \"FETCH\"",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
    // The failing second cluster was still seen by name, so no bogus cross-reference error.
    assert!(!out.contains("no cluster named \"one\""), "{out}");
    // Every line names the file.
    assert!(out.lines().filter(|l| !l.is_empty()).all(|l| l.starts_with("FILE: ")), "{out}");
}

#[test]
fn duplicate_cluster_names_and_route_conflicts() {
    let (code, out) = check(
        r#"
[[cluster]]
name = "c"
upstreams = ["127.0.0.1:9000"]
[[cluster]]
name = "c"
upstreams = ["127.0.0.1:9001"]
"#,
    );
    assert_eq!(code, 1);
    assert!(out.contains("FILE: cluster[1].name: duplicate cluster name \"c\""), "{out}");

    let (code, out) = check(
        r#"
[[cluster]]
name = "c"
upstreams = ["127.0.0.1:9000"]
[[api]]
name = "a"
base_path = "/x"
cluster = "c"
[[api]]
name = "b"
base_path = "/x"
cluster = "c"
"#,
    );
    assert_eq!(code, 1);
    assert!(out.contains("FILE: api[1].base_path: another route already serves /x"), "{out}");
}

#[test]
fn syntax_errors_name_line_and_column() {
    let (code, out) = check("[server\nlisten = 1\n");
    assert_eq!(code, 1);
    assert!(out.starts_with("FILE: line 1, column"), "{out}");
}

#[test]
fn admin_beyond_loopback_needs_a_token() {
    let (code, out) = check("[admin]\nlisten = \"0.0.0.0:9080\"\n");
    assert_eq!(code, 1);
    assert!(out.contains("FILE: admin.listen: listening beyond loopback needs admin.token"), "{out}");
}

#[test]
fn shipped_config_is_valid() {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = Command::new(common::BIN).args(["check", "-c", &format!("{root}/conf/gatehouse.toml")]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn serve_refuses_an_invalid_file_with_the_same_messages() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "[server]\nthreads = 0\n[[api]]\nname = \"a\"\ncluster = \"nope\"\n").unwrap();
    let out = Command::new(common::BIN).args(["serve", "-c"]).arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let f = file.display().to_string();
    assert!(err.contains(&format!("{f}: server.threads: must be between 1 and 512")), "{err}");
    assert!(err.contains(&format!("{f}: api[0].cluster: no cluster named \"nope\"")), "{err}");
}

#[test]
fn hash_key_prints_sha256() {
    use std::io::Write;
    let mut child = Command::new(common::BIN)
        .arg("hash-key")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"abc\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}
