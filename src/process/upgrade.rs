//! `gatehouse upgrade`: replace the running process with the binary on disk, without a closed
//! port. It starts `serve --upgrade --daemon`, waits until that process listens on the upgrade
//! socket, sends SIGQUIT to the old one (which hands its listening sockets over, keeps serving
//! what it has and exits once drained), and returns when the new daemon has written its pid
//! and started its services (it handles SIGHUP).
//! A new process that cannot start (bad config, bad binary) is reported and the old one is left
//! untouched.

use crate::config::LoadedConfig;
use crate::process::drain::{read_pid, running_pid, signal};
use crate::process::server::ProcessFiles;
use std::os::fd::AsFd;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const POLL: Duration = Duration::from_millis(20);

#[derive(Debug, thiserror::Error)]
pub enum UpgradeError {
    #[error("no running gatehouse: {0} does not name a live process")]
    NotRunning(String),
    #[error("cannot start {0}: {1}")]
    Spawn(String, std::io::Error),
    #[error("the new process exited ({0}) before taking the sockets over; the old process (pid {1}) keeps serving")]
    NewFailed(String, i32),
    #[error("the new process did not open {0} within {1:?}; the old process (pid {2}) keeps serving")]
    NoSocket(String, Duration, i32),
    #[error("cannot signal the old process (pid {0}): {1}")]
    Signal(i32, std::io::Error),
    #[error("after SIGQUIT to pid {0}: {1}")]
    AfterQuit(i32, String),
}

pub struct Upgraded {
    pub old_pid: i32,
    pub new_pid: i32,
}

pub fn upgrade(loaded: &LoadedConfig, exe: &Path, timeout: Duration) -> Result<Upgraded, UpgradeError> {
    let files = ProcessFiles::of(loaded);
    let old_pid =
        running_pid(&files.pid_file).ok_or_else(|| UpgradeError::NotRunning(files.pid_file.display().to_string()))?;
    // A stale socket file would look like a ready new process.
    let _ = std::fs::remove_file(&files.upgrade_sock);
    // The daemon's stdout (where a `stdout` access log goes) is this command's stderr: a caller
    // reading this command's stdout to its end must not wait for the daemon to exit.
    let stdout = std::io::stderr().as_fd().try_clone_to_owned().map(Stdio::from).unwrap_or_else(|_| Stdio::null());
    let mut child = Command::new(exe)
        .args(["serve", "--upgrade", "--daemon", "-c"])
        .arg(&loaded.file)
        .stdin(Stdio::null())
        .stdout(stdout)
        .spawn()
        .map_err(|e| UpgradeError::Spawn(exe.display().to_string(), e))?;

    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().ok().flatten() {
            return Err(UpgradeError::NewFailed(status.to_string(), old_pid));
        }
        if files.upgrade_sock.exists() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            return Err(UpgradeError::NoSocket(files.upgrade_sock.display().to_string(), timeout, old_pid));
        }
        std::thread::sleep(POLL);
    }

    signal(old_pid, libc::SIGQUIT).map_err(|e| UpgradeError::Signal(old_pid, e))?;
    // The foreground half of the new daemon exits 0 once it has the sockets and has forked.
    let status = wait_exit(&mut child, deadline)
        .ok_or_else(|| UpgradeError::AfterQuit(old_pid, "the new process did not finish starting".into()))?;
    if !status.success() {
        return Err(UpgradeError::AfterQuit(old_pid, format!("the new process exited with {status}")));
    }
    loop {
        match running_pid(&files.pid_file) {
            Some(pid) if pid != old_pid && read_pid(&files.ready_file) == Some(pid) => {
                return Ok(Upgraded { old_pid, new_pid: pid })
            }
            _ if Instant::now() > deadline => {
                return Err(UpgradeError::AfterQuit(
                    old_pid,
                    format!("no new pid in {} within {timeout:?}", files.pid_file.display()),
                ))
            }
            _ => std::thread::sleep(POLL),
        }
    }
}

fn wait_exit(child: &mut Child, deadline: Instant) -> Option<std::process::ExitStatus> {
    loop {
        if let Some(status) = child.try_wait().ok().flatten() {
            return Some(status);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(POLL);
    }
}
