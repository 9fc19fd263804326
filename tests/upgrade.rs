//! Zero-downtime binary upgrades (`gatehouse upgrade`, which runs `serve --upgrade --daemon`
//! and sends SIGQUIT to the old process), graceful SIGTERM, and the soak test: a load
//! generator running across 5 upgrades and 5 reloads, with 2-second requests held across each
//! upgrade. It asserts 0 connection errors, 0 non-2xx answers and every slow request completed;
//! idle keep-alive connections closed by a draining process are counted and printed apart.

mod common;
use common::client::{KeepAlive, Outcome};
use common::*;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A gateway started with `serve --daemon`: it is found through its pid file, like under
/// systemd. Every pid it ever had is killed on drop, so a failing test leaves nothing behind.
struct Daemon {
    dir: tempfile::TempDir,
    addr: SocketAddr,
    admin: SocketAddr,
    pids: Mutex<Vec<i32>>,
}

impl Daemon {
    async fn start(body: &str) -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let admin: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let d = Daemon { dir, addr, admin, pids: Mutex::new(Vec::new()) };
        d.write_config(body);
        let out = Command::new(BIN)
            .args(["serve", "--daemon", "-c"])
            .arg(d.config())
            .stdout(d.log())
            .stderr(d.log())
            .status()
            .expect("run gatehouse");
        assert!(out.success(), "serve --daemon failed: {}", d.log_text());
        let pid = d.wait_pid(None).await;
        d.pids.lock().unwrap().push(pid);
        eventually(20, "daemon listening", || async { tokio::net::TcpStream::connect(d.addr).await.is_ok() }).await;
        d
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("gatehouse.toml")
    }

    fn write_config(&self, body: &str) {
        let text = format!(
            "[server]\nlisten = [\"{}\"]\nthreads = 2\ndata_dir = \".\"\naccess_log = \"off\"\ngrace_period = \"10s\"\n\n[admin]\nlisten = \"{}\"\n\n{body}\n",
            self.addr, self.admin
        );
        std::fs::write(self.config(), text).unwrap();
    }

    fn log(&self) -> std::fs::File {
        std::fs::OpenOptions::new().create(true).append(true).open(self.dir.path().join("gatehouse.log")).unwrap()
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("gatehouse.log")).unwrap_or_default()
    }

    fn pid_file_value(&self) -> Option<i32> {
        std::fs::read_to_string(self.dir.path().join("gatehouse.pid")).ok()?.trim().parse().ok()
    }

    /// Wait for the pid file to name a live process other than `not`.
    async fn wait_pid(&self, not: Option<i32>) -> i32 {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(pid) = self.pid_file_value() {
                if Some(pid) != not && gatehouse::process::drain::is_alive(pid) {
                    return pid;
                }
            }
            assert!(Instant::now() < deadline, "no new pid in the pid file: {}", self.log_text());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// `gatehouse upgrade`; returns (old pid, new pid) on success, the output otherwise.
    async fn upgrade(&self) -> Result<(i32, i32), String> {
        let old = self.pid_file_value().expect("a pid file");
        let (config, log) = (self.config(), self.log());
        let run = tokio::task::spawn_blocking(move || {
            Command::new(BIN).args(["upgrade", "-c"]).arg(config).stderr(log).output().expect("run upgrade")
        });
        let out = tokio::time::timeout(Duration::from_secs(60), run).await.expect("upgrade finished").unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        if !out.status.success() {
            return Err(format!("{text}{}", self.log_text()));
        }
        let new = self.wait_pid(Some(old)).await;
        self.pids.lock().unwrap().push(new);
        Ok((old, new))
    }

    fn signal(&self, pid: i32, sig: i32) {
        gatehouse::process::drain::signal(pid, sig).expect("signal the gateway");
    }

    /// Wait until `pid` has exited (bounded).
    async fn wait_exit(&self, pid: i32, secs: u64) {
        let what = format!("pid {pid} to exit");
        eventually(secs, &what, || async move { !gatehouse::process::drain::is_alive(pid) }).await;
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        for pid in self.pids.lock().unwrap().iter() {
            let _ = gatehouse::process::drain::signal(*pid, libc::SIGKILL);
        }
    }
}

fn config(fast: &Upstream, slow: &Upstream, generation: u32) -> String {
    format!(
        "[[cluster]]\nname = \"fast\"\nupstreams = [\"{}\"]\n\n[[cluster]]\nname = \"slow\"\nupstreams = [\"{}\"]\nread_timeout = \"10s\"\n\n\
         [[api]]\nname = \"load\"\nbase_path = \"/load\"\ncluster = \"fast\"\nresponse = {{ set_headers = {{ x-generation = \"{generation}\" }} }}\n\n\
         [[api]]\nname = \"slow\"\nbase_path = \"/slow\"\ncluster = \"slow\"\n",
        fast.addr, slow.addr
    )
}

#[derive(Default)]
struct LoadCounts {
    ok: AtomicU64,
    non_2xx: AtomicU64,
    connection_errors: AtomicU64,
    keepalive_closed: AtomicU64,
}

/// One client: keep-alive requests in a loop. A reused connection closed before any response
/// byte is a keep-alive close (the request is retried on a new connection); anything failing
/// on a fresh connection is a connection error.
async fn load_client(addr: SocketAddr, stop: Arc<AtomicBool>, counts: Arc<LoadCounts>) {
    let mut conn: Option<(KeepAlive, u32)> = None;
    while !stop.load(SeqCst) {
        let (c, used) = match conn.as_mut() {
            Some(c) => c,
            None => match KeepAlive::try_connect(addr).await {
                Ok(c) => conn.insert((c, 0)),
                Err(e) => {
                    eprintln!("connect: {e}");
                    counts.connection_errors.fetch_add(1, SeqCst);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        match c.try_get("/load/x", &[]).await {
            Outcome::Response(r) => {
                *used += 1;
                if (200..300).contains(&r.status) {
                    counts.ok.fetch_add(1, SeqCst);
                } else {
                    eprintln!("non-2xx: {} {}", r.status, r.text());
                    counts.non_2xx.fetch_add(1, SeqCst);
                }
                if r.header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close")) {
                    conn = None;
                }
            }
            Outcome::Closed if *used > 0 => {
                counts.keepalive_closed.fetch_add(1, SeqCst);
                conn = None;
            }
            Outcome::Closed | Outcome::Broken => {
                eprintln!("request failed on a connection used {used} times");
                counts.connection_errors.fetch_add(1, SeqCst);
                conn = None;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrades_and_reloads_under_load_lose_nothing() {
    let fast = Upstream::start("fast").await;
    let slow = Upstream::start("slow").await;
    let d = Daemon::start(&config(&fast, &slow, 0)).await;

    let stop = Arc::new(AtomicBool::new(false));
    let counts = Arc::new(LoadCounts::default());
    let clients: Vec<_> = (0..4).map(|_| tokio::spawn(load_client(d.addr, stop.clone(), counts.clone()))).collect();
    let started = Instant::now();

    let mut slow_requests = Vec::new();
    let mut old_pids = Vec::new();
    let mut old_admin_answers = 0;
    for round in 1..=5u32 {
        // Two 2-second requests in flight on the old process across the upgrade.
        for _ in 0..2 {
            let addr = d.addr;
            slow_requests.push(tokio::spawn(async move {
                request(addr, "GET", "/slow/x", &[("x-echo-delay-ms", "2000")], b"").await
            }));
        }
        let want = u64::from(round) * 2;
        eventually(10, "slow requests upstream", || async { slow.requests() >= want }).await;
        let (old, new) = d.upgrade().await.unwrap_or_else(|e| panic!("upgrade {round} failed: {e}"));
        old_pids.push(old);
        // Both processes accept on the admin socket for a few seconds: the old one says it is
        // stopping and refuses a reload (which would be lost with it) with 503.
        for _ in 0..10 {
            let status = request(d.admin, "GET", "/status", &[], b"").await.json();
            if status["pid"] == old {
                assert_eq!(status["status"], "stopping");
                old_admin_answers += 1;
            }
        }

        // A reload on the new process (SIGHUP to the pid in the pid file), seen by new requests.
        d.write_config(&config(&fast, &slow, round));
        d.signal(new, libc::SIGHUP);
        let want = round.to_string();
        let deadline = Instant::now() + Duration::from_secs(15);
        while request(d.addr, "GET", "/load/g", &[], b"").await.header("x-generation") != Some(&want) {
            assert!(
                Instant::now() < deadline,
                "reload {round} (SIGHUP to pid {new}, alive: {}) not answering:\n{}",
                gatehouse::process::drain::is_alive(new),
                d.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    // Keep the load on for at least 20 s in all.
    while started.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, SeqCst);
    for c in clients {
        c.await.unwrap();
    }
    let mut slow_ok = 0;
    for s in slow_requests {
        let r = s.await.unwrap();
        assert_eq!(r.status, 200, "slow request across an upgrade: {}", r.text());
        slow_ok += 1;
    }
    // Every old process drained and left on its own.
    for pid in &old_pids {
        d.wait_exit(*pid, 30).await;
    }

    let (ok, bad, conn_err, ka) = (
        counts.ok.load(SeqCst),
        counts.non_2xx.load(SeqCst),
        counts.connection_errors.load(SeqCst),
        counts.keepalive_closed.load(SeqCst),
    );
    eprintln!(
        "soak: {ok} ok, {bad} non-2xx, {conn_err} connection errors, {ka} keep-alive connections closed by a draining process (retried), {slow_ok} slow requests completed, {old_admin_answers} admin answers from outgoing processes, over {:?}",
        started.elapsed()
    );
    assert_eq!(conn_err, 0, "connection errors");
    assert_eq!(bad, 0, "non-2xx answers");
    assert_eq!(slow_ok, 10);
    assert!(ok > 100, "the load generator ran ({ok} requests)");
    assert_eq!(request(d.addr, "GET", "/load/g", &[], b"").await.header("x-generation"), Some("5"));
}

#[tokio::test]
async fn failed_upgrade_leaves_the_old_process_serving() {
    let fast = Upstream::start("fast").await;
    let slow = Upstream::start("slow").await;
    let d = Daemon::start(&config(&fast, &slow, 0)).await;
    let pid = d.pid_file_value().unwrap();
    std::fs::write(d.config(), "[server]\nlisten = \"not a list\"\n").unwrap();
    let err = d.upgrade().await.expect_err("an invalid config cannot be upgraded to");
    assert!(d.log_text().contains("server.listen"), "check's message: {err}");
    assert_eq!(d.pid_file_value(), Some(pid));
    assert!(gatehouse::process::drain::is_alive(pid));
    assert_eq!(request(d.addr, "GET", "/load/x", &[], b"").await.status, 200);
}

#[tokio::test]
async fn sigterm_finishes_requests_in_flight_then_exits() {
    let fast = Upstream::start("fast").await;
    let slow = Upstream::start("slow").await;
    let d = Daemon::start(&config(&fast, &slow, 0)).await;
    let pid = d.pid_file_value().unwrap();
    let addr = d.addr;
    let in_flight =
        tokio::spawn(async move { request(addr, "GET", "/slow/x", &[("x-echo-delay-ms", "1500")], b"").await });
    eventually(10, "slow request upstream", || async { slow.requests() >= 1 }).await;
    d.signal(pid, libc::SIGTERM);
    // New connections are refused once the listener is closed.
    eventually(5, "listener closed", || async { tokio::net::TcpStream::connect(addr).await.is_err() }).await;
    assert_eq!(in_flight.await.unwrap().status, 200);
    // Gone as soon as the last request finished, well before the 10 s grace period.
    d.wait_exit(pid, 5).await;
    assert!(d.log_text().contains("every request finished"), "{}", d.log_text());
}

/// The portal's listener is handed over like the proxy's: it answers throughout an upgrade,
/// and a session made before it still works after it (sessions live in the store).
#[tokio::test]
async fn the_portal_listener_survives_an_upgrade() {
    let up = Upstream::start("up").await;
    let portal: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let d = Daemon::start(&format!("[portal]\nlisten = \"{portal}\"\n\n{}", simple_config(&[&up], "", ""))).await;
    eventually(20, "portal listening", || async { tokio::net::TcpStream::connect(portal).await.is_ok() }).await;
    let mut dev = common::portal::Visitor::new(portal);
    dev.account("upgrade@example.com").await;

    let stop = Arc::new(AtomicBool::new(false));
    let (answers, failures) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let poller = {
        let (stop, answers, failures) = (stop.clone(), answers.clone(), failures.clone());
        tokio::spawn(async move {
            while !stop.load(SeqCst) {
                let r = client::send_raw(portal, b"GET / HTTP/1.1\r\nHost: p\r\nConnection: close\r\n\r\n").await;
                match r {
                    Some(r) if r.status == 200 => answers.fetch_add(1, SeqCst),
                    _ => failures.fetch_add(1, SeqCst),
                };
            }
        })
    };
    let (old, _) = d.upgrade().await.expect("upgrade");
    d.wait_exit(old, 30).await;
    stop.store(true, SeqCst);
    poller.await.unwrap();
    assert_eq!(failures.load(SeqCst), 0, "portal requests failed during the upgrade");
    assert!(answers.load(SeqCst) > 0);
    assert!(dev.get("/apps").await.text().contains("upgrade@example.com"), "the session survived");
}
