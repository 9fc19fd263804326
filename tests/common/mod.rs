//! Test harness: echo upstreams on port 0 (in-process, can be slowed, failed, reset or killed),
//! the real `gatehouse` binary started as a child on free ports from a TOML string, and a raw
//! HTTP/1.1 client that sends exactly the bytes a test writes.
#![allow(dead_code)]

pub mod cache;
pub mod client;
pub mod load;
pub mod portal;
pub mod postgres;
pub mod recorder;
pub mod redis;
pub mod tls;

use gatehouse::echo::{serve, EchoState};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use client::{request, Response};

pub const BIN: &str = env!("CARGO_BIN_EXE_gatehouse");

/// An echo upstream. `kill` closes its listener and every connection; `restart` binds the same
/// port again.
pub struct Upstream {
    pub addr: SocketAddr,
    pub state: Arc<EchoState>,
    task: Option<JoinHandle<()>>,
}

impl Upstream {
    pub async fn start(name: &str) -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind upstream");
        let addr = listener.local_addr().unwrap();
        let state = EchoState::new(name);
        let task = tokio::spawn(serve(listener, state.clone()));
        Upstream { addr, state, task: Some(task) }
    }

    pub fn kill(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }

    pub async fn restart(&mut self) {
        self.kill();
        // The aborted task releases the port once it has been dropped; bounded retry.
        let deadline = Instant::now() + Duration::from_secs(5);
        let listener = loop {
            match TcpListener::bind(self.addr).await {
                Ok(l) => break l,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    tokio::task::yield_now().await;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => panic!("rebind {}: {e}", self.addr),
            }
        };
        self.task = Some(tokio::spawn(serve(listener, self.state.clone())));
    }

    pub fn set_healthy(&self, ok: bool) {
        self.state.healthy.store(ok, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn requests(&self) -> u64 {
        self.state.requests.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A port that was free a moment ago (the gateway binds it by address; a clash is retried).
/// Never the same port twice in one test process: gateways started side by side must not
/// race for one port (the loser's start check would reach the winner's listener).
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// The gateway binary running on a config made from `server_extra` + `body`.
pub struct Gateway {
    child: Child,
    pub addr: SocketAddr,
    pub admin: SocketAddr,
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    stderr: PathBuf,
    /// Extra `[admin]` keys (e.g. a token), kept by `rewrite`.
    admin_extra: String,
}

impl Gateway {
    /// `body` holds `[[cluster]]`/`[[api]]` tables; `server_extra` extra `[server]` keys.
    pub async fn start_with(server_extra: &str, body: &str) -> Gateway {
        Self::start_full(server_extra, "", &[], body).await
    }

    /// With extra `[admin]` keys and environment variables for the gateway process.
    pub async fn start_with_admin(admin_extra: &str, env: &[(&str, &str)], body: &str) -> Gateway {
        Self::start_full("", admin_extra, env, body).await
    }

    async fn start_full(server_extra: &str, admin_extra: &str, env: &[(&str, &str)], body: &str) -> Gateway {
        for attempt in 0..5 {
            match Self::try_start(server_extra, admin_extra, env, body).await {
                Ok(g) => return g,
                Err(e) if attempt < 4 => eprintln!("gateway start failed, retrying: {e}"),
                Err(e) => panic!("gateway did not start: {e}"),
            }
        }
        unreachable!()
    }

    pub async fn start(body: &str) -> Gateway {
        Self::start_with("", body).await
    }

    fn config_text(addr: SocketAddr, admin: SocketAddr, server_extra: &str, admin_extra: &str, body: &str) -> String {
        let log = if server_extra.contains("access_log") { "" } else { "access_log = \"off\"\n" };
        let threads = if server_extra.contains("threads") { "" } else { "threads = 1\n" };
        format!(
            "[server]\nlisten = [\"{addr}\"]\n{threads}data_dir = \".\"\n{log}{server_extra}\n\n[admin]\nlisten = \"{admin}\"\n{admin_extra}\n\n{body}\n"
        )
    }

    /// Replace the config file's body (same listeners), e.g. before a reload.
    pub fn rewrite(&self, body: &str) {
        std::fs::write(&self.config, Self::config_text(self.addr, self.admin, "", &self.admin_extra, body)).unwrap();
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    async fn try_start(
        server_extra: &str,
        admin_extra: &str,
        env: &[(&str, &str)],
        body: &str,
    ) -> Result<Gateway, String> {
        let dir = tempfile::tempdir().unwrap();
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let admin: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let config = dir.path().join("gatehouse.toml");
        std::fs::write(&config, Self::config_text(addr, admin, server_extra, admin_extra, body)).unwrap();
        let stderr = dir.path().join("stderr.log");
        let child = Command::new(BIN)
            .args(["serve", "-c"])
            .arg(&config)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .map_err(|e| e.to_string())?;
        let mut g = Gateway { child, addr, admin, dir, config, stderr, admin_extra: admin_extra.to_string() };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = g.child.try_wait() {
                return Err(format!("exited with {status}: {}", g.stderr_text()));
            }
            // Listening, and acting on SIGHUP (the ready file holds the pid once it does).
            let ready = std::fs::read_to_string(g.dir.path().join("gatehouse.ready"))
                .is_ok_and(|pid| pid.trim() == g.child.id().to_string());
            let up = ready
                && tokio::net::TcpStream::connect(addr).await.is_ok()
                && tokio::net::TcpStream::connect(admin).await.is_ok();
            if up {
                // Make sure the listener is this child's (not another process's on a reused port).
                let status = request(admin, "GET", "/status", &[], b"").await;
                let json: serde_json::Value = serde_json::from_slice(&status.body).unwrap_or_default();
                let pid = (status.status == 200).then(|| json["pid"].as_u64()).flatten();
                if pid.is_some_and(|p| p != u64::from(g.child.id())) {
                    return Err(format!("port taken by pid {pid:?}"));
                }
                return Ok(g);
            }
            if Instant::now() > deadline {
                return Err(format!("not listening after 20s: {}", g.stderr_text()));
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    pub fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    pub async fn get(&self, path: &str) -> Response {
        self.send("GET", path, &[], b"").await
    }

    pub async fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
        request(self.addr, method, path, headers, body).await
    }

    pub async fn admin_send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
        request(self.admin, method, path, headers, body).await
    }

    pub async fn admin_post(&self, path: &str) -> Response {
        request(self.admin, "POST", path, &[], b"").await
    }

    /// `GET` on the admin listener.
    pub async fn admin_get(&self, path: &str) -> Response {
        request(self.admin, "GET", path, &[], b"").await
    }

    pub async fn metrics(&self) -> String {
        self.admin_get("/metrics").await.text()
    }

    /// Wait until every line is in `/metrics` (the `logging` hook runs just after the response
    /// is sent, so a count can trail the client by a moment).
    pub async fn metrics_contain(&self, lines: &[&str]) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let m = self.metrics().await;
            let missing: Vec<&&str> = lines.iter().filter(|l| !m.contains(**l)).collect();
            if missing.is_empty() {
                return;
            }
            assert!(Instant::now() < deadline, "missing {missing:?} in\n{m}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Poll `check` until it holds (bounded); panics with `what` after `secs`.
pub async fn eventually<F, Fut>(secs: u64, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A one-cluster, one-API config in front of `upstreams`.
pub fn simple_config(upstreams: &[&Upstream], cluster_extra: &str, api_extra: &str) -> String {
    let ups: Vec<String> = upstreams.iter().map(|u| format!("\"{}\"", u.addr)).collect();
    format!(
        "[[cluster]]\nname = \"c\"\nupstreams = [{}]\n{cluster_extra}\n\n[[api]]\nname = \"a\"\nbase_path = \"/\"\ncluster = \"c\"\n{api_extra}\n",
        ups.join(", ")
    )
}

/// Write an OpenAPI document as `pets.yaml` in `dir`; its absolute path, for `spec = "…"`.
pub fn spec_file(dir: &std::path::Path, text: &str) -> String {
    let f = dir.join("pets.yaml");
    std::fs::write(&f, text).unwrap();
    f.display().to_string()
}

/// Run `gatehouse check` on `text`: its exit code and everything it printed.
pub fn check_config(text: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gatehouse.toml");
    std::fs::write(&file, text).unwrap();
    let out = Command::new(BIN).args(["check", "-c"]).arg(&file).output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr))
}
