//! A private PostgreSQL server for one test: `initdb` into a temp dir, `postgres` on a free
//! port (trust auth on loopback, no fsync). As root it runs as the `postgres` user (the server
//! refuses root), through `setpriv`, which execs: the child is the postmaster itself.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Postgres {
    child: Option<Child>,
    dir: tempfile::TempDir,
    bin: PathBuf,
    pub port: u16,
    pub url: String,
}

/// The newest `/usr/lib/postgresql/N/bin`.
fn bin_dir() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, p): &(u32, PathBuf)| p.join("initdb").exists())
        .collect();
    versions.sort();
    versions.pop().map(|(_, p)| p)
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// `cmd` as the postgres user when we are root.
fn as_postgres(program: &std::path::Path) -> Command {
    if is_root() {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=postgres", "--regid=postgres", "--init-groups"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

impl Postgres {
    /// A running server, or `None` (with the reason printed) when PostgreSQL is not installed
    /// and `CI` is unset. Under CI a missing PostgreSQL fails the test.
    pub async fn start() -> Option<Postgres> {
        let Some(bin) = bin_dir() else {
            let why = "PostgreSQL is not installed (apt-get install postgresql)";
            assert!(std::env::var_os("CI").is_none(), "{why}");
            eprintln!("skipping: {why}");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        if is_root() {
            let ok = Command::new("chown").arg("postgres:postgres").arg(dir.path()).status().unwrap().success();
            assert!(ok, "chown the PostgreSQL dir");
        }
        let data = dir.path().join("data");
        let out = as_postgres(&bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args(["-A", "trust", "-U", "gatehouse", "-E", "UTF8", "--no-sync"])
            .output()
            .unwrap();
        assert!(out.status.success(), "initdb: {}", String::from_utf8_lossy(&out.stderr));
        let port = super::free_port();
        let mut pg =
            Postgres { child: None, dir, bin, port, url: format!("postgres://gatehouse@127.0.0.1:{port}/postgres") };
        pg.run().await;
        Some(pg)
    }

    /// Start the server (again) on the same data and port; returns once it takes connections.
    pub async fn run(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("postgres.log")).unwrap();
        let child = as_postgres(&self.bin.join("postgres"))
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-p", &self.port.to_string(), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"])
            .arg("-k")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        // Accepting TCP is not enough (it answers "starting up" for a moment): wait for pg_isready.
        loop {
            let ready = Command::new(self.bin.join("pg_isready"))
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "gatehouse", "-q"])
                .status()
                .is_ok_and(|s| s.success());
            if ready {
                return;
            }
            let log = std::fs::read_to_string(self.dir.path().join("postgres.log")).unwrap_or_default();
            assert!(Instant::now() < deadline, "PostgreSQL did not start: {log}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Immediate shutdown (SIGQUIT: the postmaster takes its backends down with it).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY: signalling our own child by its pid.
            unsafe { libc::kill(c.id() as i32, libc::SIGQUIT) };
            let _ = c.wait();
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.kill();
    }
}
