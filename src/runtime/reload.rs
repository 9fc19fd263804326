//! Hot reload: re-read the config file, build a complete new `Runtime`, and swap it in with one
//! atomic store. Requests in flight keep the snapshot they started with; an invalid file is
//! refused with the same lines as `gatehouse check` and the running config keeps serving.
//! Triggered by SIGHUP (`process/reload.rs`) and by `POST /reload` on the admin listener.

use crate::config::{self, ConfigErrors, LoadedConfig};
use crate::runtime::{self, RuntimeHandle, Shared};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// The outcome of the last load, shown by `/status`.
#[derive(Clone, Debug, Serialize)]
pub struct ReloadStatus {
    pub result: &'static str,
    pub at: String,
    /// sha256 of the file that is serving.
    pub config_hash: String,
    /// `FILE: <key path>: <problem>` lines of a refused file.
    pub errors: Vec<String>,
    /// Changes the reload could not apply (they need a restart or a binary upgrade).
    pub not_applied: Vec<String>,
}

pub struct Reloader {
    file: PathBuf,
    pub runtime: RuntimeHandle,
    shared: Arc<Shared>,
    /// The config that is serving (for the keys a reload cannot change).
    serving: Mutex<LoadedConfig>,
    status: Mutex<ReloadStatus>,
    /// One reload at a time: two racing reloads must not interleave their builds.
    busy: tokio::sync::Mutex<()>,
}

fn now() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

impl Reloader {
    pub fn new(loaded: LoadedConfig, runtime: RuntimeHandle, shared: Arc<Shared>) -> Self {
        let status = ReloadStatus {
            result: "ok",
            at: now(),
            config_hash: loaded.hash.clone(),
            errors: Vec::new(),
            not_applied: Vec::new(),
        };
        Reloader {
            file: loaded.file.clone(),
            runtime,
            shared,
            serving: Mutex::new(loaded),
            status: Mutex::new(status),
            busy: tokio::sync::Mutex::new(()),
        }
    }

    /// Whether the serving config has a `[[plan]]` of this name.
    pub fn has_plan(&self, name: &str) -> bool {
        self.serving.lock().unwrap_or_else(|e| e.into_inner()).config.plans.iter().any(|p| p.name == name)
    }

    /// The serving config's `[[plan]]`s (the portal offers them to subscriptions).
    pub fn plans(&self) -> Vec<crate::config::PlanConfig> {
        self.serving.lock().unwrap_or_else(|e| e.into_inner()).config.plans.clone()
    }

    pub fn status(&self) -> ReloadStatus {
        self.status.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Load, build and swap. `Err` holds the problem lines; the old config keeps serving.
    pub async fn reload(&self) -> Result<ReloadStatus, ReloadStatus> {
        let _one = self.busy.lock().await;
        // Load + build + swap, logged on success (bench/scale.sh reads it for 10k routes).
        let started = std::time::Instant::now();
        let file = self.file.clone();
        let shared = self.shared.clone();
        // Loading reads a file and may resolve host names: keep it off the async workers.
        let built = tokio::task::spawn_blocking(move || {
            let loaded = config::load_file(&file)?;
            let rt = runtime::build(&loaded, &shared).map_err(|errors| ConfigErrors { file: file.clone(), errors })?;
            Ok::<_, ConfigErrors>((loaded, rt))
        })
        .await;
        let metrics = &self.shared.metrics;
        let mut status = self.status.lock().unwrap_or_else(|e| e.into_inner());
        match built {
            Ok(Ok((loaded, rt))) => {
                let not_applied = self.not_applied(&loaded);
                rt.start_background();
                self.runtime.store(Arc::new(rt));
                self.shared.health.retain(&self.runtime.load().clusters, metrics);
                metrics.config_reloads.with_label_values(&["ok"]).inc();
                for n in &not_applied {
                    log::warn!("reload: {n}");
                }
                log::info!(
                    "reload: {} applied in {} ms (load + swap)",
                    self.file.display(),
                    started.elapsed().as_millis()
                );
                *status = ReloadStatus {
                    result: "ok",
                    at: now(),
                    config_hash: loaded.hash.clone(),
                    errors: Vec::new(),
                    not_applied,
                };
                *self.serving.lock().unwrap_or_else(|e| e.into_inner()) = loaded;
                Ok(status.clone())
            }
            other => {
                let errors = match other {
                    Ok(Err(e)) => e.to_string().lines().map(str::to_string).collect(),
                    _ => vec![format!("{}: the reload task failed", self.file.display())],
                };
                // The failed build may have registered peers the running config does not have.
                self.shared.health.retain(&self.runtime.load().clusters, metrics);
                metrics.config_reloads.with_label_values(&["error"]).inc();
                for e in &errors {
                    log::error!("reload refused: {e}");
                }
                status.result = "error";
                status.at = now();
                status.errors = errors;
                Err(status.clone())
            }
        }
    }

    /// Keys that live in listeners and threads: a reload cannot change them.
    fn not_applied(&self, new: &LoadedConfig) -> Vec<String> {
        let old = self.serving.lock().unwrap_or_else(|e| e.into_inner());
        let (o, n) = (&old.config.server, &new.config.server);
        let mut out = Vec::new();
        let mut check = |key: &str, changed: bool| {
            if changed {
                out.push(format!("server.{key} changed: it takes effect on restart or binary upgrade"));
            }
        };
        check("listen", o.listen != n.listen);
        check("threads", o.threads != n.threads);
        check("data_dir", o.data_dir != n.data_dir);
        check("pid_file", o.pid_file != n.pid_file);
        check("upgrade_sock", o.upgrade_sock != n.upgrade_sock);
        check("grace_period", o.grace_period != n.grace_period);
        check("access_log", o.access_log != n.access_log);
        check("upstream_keepalive_pool", o.upstream_keepalive_pool != n.upstream_keepalive_pool);
        // Certificates are read per handshake from the runtime; listener addresses are bound once.
        check("tls listen addresses", crate::tls::listen_addrs(&old) != crate::tls::listen_addrs(new));
        let admin = |c: &LoadedConfig| {
            c.config.admin.as_ref().map(|a| (a.listen.clone(), a.token.clone(), a.token_env.clone()))
        };
        if admin(&old) != admin(new) {
            out.push("admin changed: it takes effect on restart or binary upgrade".to_string());
        }
        for (table, changed) in [
            ("store", old.config.store != new.config.store),
            ("analytics", old.config.analytics != new.config.analytics),
            ("portal", old.config.portal != new.config.portal),
        ] {
            if changed {
                out.push(format!("{table} changed: it takes effect on restart or binary upgrade"));
            }
        }
        out
    }
}
