//! Reload on SIGHUP: the signal handler of the process, around `runtime::reload::Reloader`.

use crate::runtime::reload::Reloader;
use async_trait::async_trait;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use std::sync::Arc;

/// Reload on SIGHUP. Once the handler is listening, the process's pid goes into `ready_file`.
pub struct SighupService {
    pub reloader: Arc<Reloader>,
    pub ready_file: std::path::PathBuf,
}

#[async_trait]
impl BackgroundService for SighupService {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        use tokio::signal::unix::{signal, SignalKind};
        // Services start after Pingora has daemonized: the first config's threads start here
        // (later configs start theirs when they are swapped in).
        self.reloader.runtime.load().start_background();
        let mut hup = match signal(SignalKind::hangup()) {
            Ok(s) => s,
            Err(e) => {
                log::error!("cannot listen for SIGHUP ({e}); reload with POST /reload instead");
                return;
            }
        };
        // Only now is a SIGHUP sure to be seen (before, it is ignored): tell `gatehouse upgrade`.
        if let Err(e) = crate::process::drain::write_pid_file(&self.ready_file) {
            log::warn!("cannot write {}: {e}", self.ready_file.display());
        }
        loop {
            tokio::select! {
                got = hup.recv() => {
                    if got.is_none() {
                        return;
                    }
                    log::info!("SIGHUP: reloading the config");
                    let _ = self.reloader.reload().await;
                }
                _ = shutdown.changed() => return,
            }
        }
    }
}
