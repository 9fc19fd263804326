//! Process lifecycle around Pingora's server loop: the pid file, and leaving as soon as the
//! last in-flight request is done once a graceful stop (SIGTERM, or SIGQUIT for a binary
//! upgrade) has begun. Pingora alone would sleep the whole `grace_period` before exiting.

use crate::runtime::Shared;
use async_trait::async_trait;
use pingora::server::{ExecutionPhase, ShutdownWatch};
use pingora::services::background::BackgroundService;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::broadcast;

/// How often a draining process looks at its in-flight count.
const DRAIN_POLL: Duration = Duration::from_millis(20);
/// The longest a stopping process waits for its listening services to stop accepting.
const LISTENERS_STOP_WAIT: Duration = Duration::from_secs(5);
/// The longest a drained process waits for the access-log thread to write what is queued.
const LOG_FLUSH_WAIT: Duration = Duration::from_secs(1);

/// Exits the process when a graceful stop has begun and no request or proxy connection is left
/// (idle ones are closed by the stop). Pingora's own
/// `grace_period` sleep stays in place as the upper bound.
pub struct DrainService {
    pub shared: Arc<Shared>,
    /// Access-log lines queued but not yet written (`None` when the access log is off).
    pub log_pending: Option<Arc<AtomicUsize>>,
    /// Pingora's execution phases (`Server::watch_execution_phase`), to mark the process as
    /// stopping as soon as SIGQUIT or SIGTERM arrives.
    pub phases: Mutex<Option<broadcast::Receiver<ExecutionPhase>>>,
}

#[async_trait]
impl BackgroundService for DrainService {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        if let Some(mut phases) = self.phases.lock().ok().and_then(|mut p| p.take()) {
            let shared = self.shared.clone();
            tokio::spawn(async move {
                loop {
                    match phases.recv().await {
                        Ok(
                            phase
                            @ (ExecutionPhase::GracefulUpgradeTransferringFds | ExecutionPhase::GracefulTerminate),
                        ) => {
                            shared.stopping.store(true, Ordering::Release);
                            if matches!(phase, ExecutionPhase::GracefulTerminate) {
                                log::info!("SIGTERM: stopping");
                            } else {
                                log::info!("SIGQUIT: handing the listening sockets to the new process");
                            }
                            return;
                        }
                        Err(broadcast::error::RecvError::Closed) => return,
                        _ => {}
                    }
                }
            });
        }
        while !*shutdown.borrow() {
            if shutdown.changed().await.is_err() {
                return;
            }
        }
        // Until the listeners have stopped, a connection may be accepted and not yet counted.
        let listening = &self.shared.listening_services;
        let deadline = tokio::time::Instant::now() + LISTENERS_STOP_WAIT;
        while listening.load(Ordering::Acquire) > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(DRAIN_POLL).await;
        }
        let in_flight = &self.shared.metrics.in_flight;
        let open = &self.shared.open_connections;
        log::info!(
            "graceful stop: no longer accepting; {} request(s) in flight on {} connection(s)",
            in_flight.get(),
            open.load(Ordering::Acquire)
        );
        // Idle keep-alive connections are closed by the stop itself and busy ones close after
        // their answer, so the connection count falls to zero soon after the requests do.
        while in_flight.get() > 0 || open.load(Ordering::Acquire) > 0 {
            tokio::time::sleep(DRAIN_POLL).await;
        }
        if let Some(pending) = &self.log_pending {
            let deadline = tokio::time::Instant::now() + LOG_FLUSH_WAIT;
            while pending.load(Ordering::Acquire) > 0 && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(DRAIN_POLL).await;
            }
        }
        log::info!("graceful stop: every request finished, exiting");
        std::process::exit(0);
    }
}

/// Write this process's pid, atomically (the pid file of foreground runs — `--daemon` has
/// Pingora write it after the fork — and the ready file).
pub fn write_pid_file(path: &Path) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    std::fs::write(&tmp, format!("{}\n", std::process::id()))?;
    std::fs::rename(&tmp, path)
}

/// The pid in `path`, if the file holds one and that process is alive.
pub fn running_pid(path: &Path) -> Option<i32> {
    read_pid(path).filter(|pid| is_alive(*pid))
}

pub fn read_pid(path: &Path) -> Option<i32> {
    let pid: i32 = std::fs::read_to_string(path).ok()?.trim().parse().ok()?;
    (pid > 0).then_some(pid)
}

pub fn is_alive(pid: i32) -> bool {
    // SAFETY: kill(2) with signal 0 only checks that the process exists; no memory is involved.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

pub fn signal(pid: i32, sig: libc::c_int) -> std::io::Result<()> {
    // SAFETY: kill(2) takes plain integers; a bad pid or signal is reported through errno.
    if unsafe { libc::kill(pid, sig) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Until the reload handler is installed, a SIGHUP (e.g. a reload sent right after an
/// upgrade) must not kill the process, which is SIGHUP's default action.
pub fn ignore_early_sighup() {
    // SAFETY: setting a signal's disposition to SIG_IGN touches no Rust state.
    unsafe {
        libc::signal(libc::SIGHUP, libc::SIG_IGN);
    }
}
