//! The developer portal end to end in a real browser: Debian's `chromium`, driven by
//! `playwright-core` (pinned in tests/browser/package-lock.json, installed here with `npm ci`)
//! through `tests/browser/portal.mjs`, against a real gateway and upstream. Screenshots go to
//! `target/test-output/portal/`. Without chromium or node the test skips locally and fails
//! under CI.

mod common;

use common::Upstream;
use std::path::{Path, PathBuf};
use std::process::Command;

const CHROMIUM: &str = "/usr/bin/chromium";

fn have(cmd: &str) -> bool {
    Command::new(cmd).arg("--version").output().is_ok_and(|o| o.status.success())
}

/// Missing tools: a failure under CI, a printed skip elsewhere.
fn missing(what: &str) -> bool {
    assert!(std::env::var_os("CI").is_none(), "CI: {what} is missing (.ci/run installs it)");
    eprintln!("skipping the browser test: {what} is missing");
    true
}

/// `npm ci` when the pinned playwright-core is not installed yet.
fn install(dir: &Path) {
    if dir.join("node_modules/playwright-core/package.json").exists() {
        return;
    }
    let out = Command::new("npm").args(["ci", "--no-audit", "--no-fund"]).current_dir(dir).output().expect("npm runs");
    assert!(
        out.status.success(),
        "npm ci failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn a_developer_signs_up_gets_a_key_tries_it_sees_usage_and_revokes_it() {
    if !Path::new(CHROMIUM).exists() && missing("chromium (apt-get install chromium)") {
        return;
    }
    if (!have("node") || !have("npm")) && missing("node/npm") {
        return;
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("tests/browser");
    install(&dir);
    let out_dir = root.join("target/test-output/portal");
    let _ = std::fs::remove_dir_all(&out_dir);

    let up = Upstream::start("up").await;
    let body = format!(
        "[analytics]\nflush_interval = \"200ms\"\n\n[[cluster]]\nname = \"c\"\nupstreams = [\"{}\"]\n\n\
         [[api]]\nname = \"private\"\ntitle = \"Private demo\"\nbase_path = \"/private\"\ncluster = \"c\"\nauth = [\"api_key\"]\n",
        up.addr
    );
    let p = common::portal::start("title = \"Browser portal\"", &body).await;
    let run = tokio::process::Command::new("node")
        .arg(dir.join("portal.mjs"))
        .env("PORTAL_URL", format!("http://{}", p.addr))
        .env("API", "private/v1")
        .env("OUT_DIR", &out_dir)
        .env("CHROMIUM", CHROMIUM)
        .current_dir(&dir)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(std::time::Duration::from_secs(180), run)
        .await
        .expect("the browser test finishes within 3 minutes")
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success() && stdout.contains("BROWSER TEST PASSED"),
        "browser test failed; gateway: {}",
        p.gw.stderr_text()
    );
    for shot in
        ["catalog", "login-wrong", "app-with-key", "api-docs", "try-ok", "usage", "try-revoked", "catalog-phone"]
    {
        let f = out_dir.join(format!("{shot}.png"));
        assert!(f.metadata().is_ok_and(|m| m.len() > 1000), "screenshot {}", f.display());
    }
}
