//! A real `redis-server` per test, on a free loopback port, that a test can kill, restart,
//! freeze (SIGSTOP) and thaw. Without `redis-server` installed the tests skip with a printed
//! reason, except under `CI` (set by `.ci/run`, which installs it), where they fail.

use super::free_port;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub struct RedisServer {
    child: Option<Child>,
    dir: tempfile::TempDir,
    pub port: u16,
    pub url: String,
    /// TLS only: (certificate, key, CA file).
    tls: Option<(std::path::PathBuf, std::path::PathBuf, std::path::PathBuf)>,
}

impl RedisServer {
    /// `None` when redis-server is missing and this is not CI.
    pub async fn start() -> Option<RedisServer> {
        Self::start_with(None).await
    }

    /// TLS only (no plain port), with a certificate for `localhost` from `ca` (made with
    /// `Ca::new(_, ca_cn)`); the URL is `rediss://localhost:PORT`.
    pub async fn start_tls(ca: &super::tls::Ca, ca_cn: &str) -> Option<RedisServer> {
        let (cert, key) = ca.issue("redis", &["localhost"]);
        Self::start_with(Some((cert, key, ca.ca_file(ca_cn)))).await
    }

    async fn start_with(
        tls: Option<(std::path::PathBuf, std::path::PathBuf, std::path::PathBuf)>,
    ) -> Option<RedisServer> {
        if Command::new("redis-server").arg("--version").output().is_err() {
            assert!(std::env::var_os("CI").is_none(), "redis-server is needed in CI (.ci/run installs it)");
            eprintln!("skipped: redis-server is not installed");
            return None;
        }
        let port = free_port();
        let url = match tls {
            Some(_) => format!("rediss://localhost:{port}"),
            None => format!("redis://127.0.0.1:{port}"),
        };
        let mut r = RedisServer { child: None, dir: tempfile::tempdir().unwrap(), port, url, tls };
        r.spawn().await;
        Some(r)
    }

    async fn spawn(&mut self) {
        let port = self.port.to_string();
        let mut cmd = Command::new("redis-server");
        match &self.tls {
            None => cmd.args(["--port", &port]),
            Some((cert, key, ca)) => cmd
                .args(["--port", "0", "--tls-port", &port, "--tls-auth-clients", "no"])
                .arg("--tls-cert-file")
                .arg(cert)
                .arg("--tls-key-file")
                .arg(key)
                .arg("--tls-ca-cert-file")
                .arg(ca),
        };
        let child = cmd
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--dir", &self.dir.path().display().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.ping().await {
            assert!(Instant::now() < deadline, "redis-server did not answer PING on port {}", self.port);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A PING from outside the gateway: raw on TCP, through redis-cli on TLS.
    pub async fn ping(&self) -> bool {
        match &self.tls {
            None => self.command("PING").await.is_some_and(|r| r.starts_with("+PONG")),
            Some((_, _, ca)) => Command::new("redis-cli")
                .args(["--tls", "-h", "localhost", "-p", &self.port.to_string(), "--cacert"])
                .arg(ca)
                .arg("PING")
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "PONG"),
        }
    }

    /// One inline command; the first reply line.
    pub async fn command(&self, cmd: &str) -> Option<String> {
        let attempt = async {
            let mut s = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.ok()?;
            s.write_all(format!("{cmd}\r\n").as_bytes()).await.ok()?;
            let mut buf = vec![0; 4096];
            let n = s.read(&mut buf).await.ok()?;
            Some(String::from_utf8_lossy(&buf[..n]).to_string())
        };
        tokio::time::timeout(Duration::from_secs(2), attempt).await.ok().flatten()
    }

    /// SIGKILL: connections are reset, nothing answers until `restart`.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Start again on the same port (empty: nothing was saved).
    pub async fn restart(&mut self) {
        self.kill();
        self.spawn().await;
    }

    /// SIGSTOP / SIGCONT: a Redis that accepts nothing and answers nothing, connections open.
    pub fn freeze(&self, frozen: bool) {
        if let Some(c) = &self.child {
            let sig = if frozen { libc::SIGSTOP } else { libc::SIGCONT };
            unsafe { libc::kill(c.id() as i32, sig) };
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.freeze(false);
        self.kill();
    }
}
