//! Assemble the Pingora server from a loaded config: proxy service, health-check service,
//! admin service. Pingora's own YAML config is not used; its `ServerConf` is built from ours.

use crate::access_log::AccessLog;
use crate::config::LoadedConfig;
use crate::process::connections::{HeadDeadline, PerIpCap};
use crate::process::drain::{self, DrainService};
use crate::process::handover::FirstRequestGate;
use crate::process::reload::SighupService;
use crate::proxy::Gateway;
use crate::runtime::reload::Reloader;
use crate::runtime::{self, RuntimeHandle, Shared};
use crate::upstream::health::HealthService;
use arc_swap::ArcSwap;
use pingora::server::configuration::{Opt, ServerConf};
use pingora::server::Server;
use pingora::services::background::background_service;
use pingora::services::listening::Service;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Config(#[from] crate::config::ConfigErrors),
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
}

pub struct ServeOptions {
    pub upgrade: bool,
    pub daemon: bool,
}

/// Build everything and run until a signal stops the process.
pub fn serve(loaded: LoadedConfig, opts: ServeOptions) -> Result<(), StartError> {
    let shared = Arc::new(Shared::default());
    let rt = runtime::build(&loaded, &shared)
        .map_err(|errors| crate::config::ConfigErrors { file: loaded.file.clone(), errors })?;
    shared.health.retain(&rt.clusters, &shared.metrics);
    shared.metrics.config_reloads.with_label_values(&["ok"]).inc();
    let handle = Arc::new(ArcSwap::from_pointee(rt));
    let reloader = Arc::new(Reloader::new(loaded.clone(), handle.clone(), shared.clone()));
    let files = ProcessFiles::of(&loaded);
    let mut server = pingora_server(&loaded, &opts, &files)?;
    let s = &loaded.config.server;
    let access_log = match s.access_log.as_str() {
        "off" | "stdout" | "stderr" => AccessLog::open(&s.access_log),
        path => AccessLog::open(&loaded.resolve(path).display().to_string()),
    }
    .map_err(|e| StartError::Io(format!("server.access_log {:?}", s.access_log), e))?;
    let log_pending = access_log.as_ref().map(|l| l.pending.clone());
    if let Some(log) = &access_log {
        let _ = shared.metrics.registry.register(Box::new(log.dropped.clone()));
    }
    let gateway = Gateway { runtime: handle.clone(), shared: shared.clone(), access_log };
    server.add_service(proxy_service(&server, gateway, &loaded, &handle, &shared)?);
    add_background(&mut server, &loaded, &handle, &shared);
    let sighup = SighupService { reloader: reloader.clone(), ready_file: files.ready_file.clone() };
    server.add_service(background_service("reload on SIGHUP", sighup));
    let phases = std::sync::Mutex::new(Some(server.watch_execution_phase()));
    server.add_service(background_service("drain", DrainService { shared: shared.clone(), log_pending, phases }));
    add_management(&mut server, &loaded, &handle, &shared, reloader)?;
    log::info!("gatehouse: proxy on {}", s.listen.join(", "));
    server.run_forever()
}

/// Pingora's server with `[server]`'s settings, bootstrapped (with `--upgrade`: holding the old
/// process's sockets), and the pid file written.
fn pingora_server(loaded: &LoadedConfig, opts: &ServeOptions, files: &ProcessFiles) -> Result<Server, StartError> {
    let s = &loaded.config.server;
    std::fs::create_dir_all(&files.data_dir).map_err(|e| StartError::Io(files.data_dir.display().to_string(), e))?;
    let conf = ServerConf {
        threads: s.threads.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)),
        pid_file: files.pid_file.display().to_string(),
        upgrade_sock: files.upgrade_sock.display().to_string(),
        grace_period_seconds: Some(s.grace_period.0.as_secs()),
        graceful_shutdown_timeout_seconds: Some(s.grace_period.0.as_secs().max(1)),
        upstream_keepalive_pool_size: s.upstream_keepalive_pool,
        daemon: opts.daemon,
        ..ServerConf::default()
    };
    let opt = Opt { upgrade: opts.upgrade, daemon: opts.daemon, ..Opt::default() };
    let mut server = Server::new_with_opt_and_conf(opt, conf);
    // With --upgrade this waits (a few seconds at most) for the old process's sockets; it runs
    // before any fork, so `gatehouse upgrade` must send SIGQUIT while this process waits.
    server.bootstrap();
    if !opts.daemon {
        drain::write_pid_file(&files.pid_file)
            .map_err(|e| StartError::Io(format!("server.pid_file {}", files.pid_file.display()), e))?;
    }
    Ok(server)
}

/// The proxy on its plain and TLS listeners. Outside in: per-address connection cap, hand-over
/// of fresh connections, request heads read whole within `header_read_timeout`, then Pingora.
fn proxy_service(
    server: &Server,
    gateway: Gateway,
    loaded: &LoadedConfig,
    handle: &RuntimeHandle,
    shared: &Arc<Shared>,
) -> Result<Service<impl pingora::apps::ServerApp + Send + Sync + 'static>, StartError> {
    let proxy_app = pingora::proxy::http_proxy(&server.configuration, gateway);
    let rt = handle.clone();
    let gate = FirstRequestGate::new(
        HeadDeadline::new(proxy_app, handle.clone(), shared.clone()),
        shared.open_connections.clone(),
        shared.listening_services.clone(),
    )
    .with_first_byte_wait(Box::new(move || rt.load().settings.header_read_timeout));
    let app = PerIpCap::new(gate, handle.clone(), shared.clone());
    let mut proxy = Service::new("gatehouse proxy".to_string(), app);
    for addr in &loaded.config.server.listen {
        proxy.add_listener(plain_tcp(addr));
    }
    super::tls_listeners::add_listeners(&mut proxy, loaded, handle)
        .map_err(|e| StartError::Io(e, std::io::Error::other("TLS setup")))?;
    Ok(proxy)
}

/// Health checks, the store's sync (and the purges it brings), analytics.
fn add_background(server: &mut Server, loaded: &LoadedConfig, handle: &RuntimeHandle, shared: &Arc<Shared>) {
    let current = handle.clone();
    let clusters = Box::new(move || current.load().clusters.clone());
    server.add_service(background_service("health checks", HealthService { clusters }));
    let cache = shared.cache.clone();
    shared.store.purges.on_purge(move |p| cache.purge(|u| p.matches(u)));
    let store = crate::store::sync::StoreSync {
        state: shared.store.clone(),
        url: loaded.config.store.resolved_url(loaded),
        resync: loaded.config.store.resync_interval.0,
    };
    server.add_service(background_service("store", store));
    let a = &loaded.config.analytics;
    if a.enabled {
        shared.analytics.start(a.queue_size);
        let _ = shared.metrics.registry.register(Box::new(shared.analytics.dropped.clone()));
        let aggregator = crate::analytics::aggregate::Aggregator {
            analytics: shared.analytics.clone(),
            store: shared.store.clone(),
            flush_interval: a.flush_interval.0,
            retention: a.retention.0,
            hour_retention: a.hour_retention.0,
        };
        server.add_service(background_service("analytics", aggregator));
    }
}

/// The portal and the admin API, each when its table is present. Like the proxy's, their
/// listeners go through the hand-over gate: no management request is dropped by an upgrade,
/// and the drain waits for their connections too.
fn add_management(
    server: &mut Server,
    loaded: &LoadedConfig,
    handle: &RuntimeHandle,
    shared: &Arc<Shared>,
    reloader: Arc<Reloader>,
) -> Result<(), StartError> {
    if let Some(portal) = &loaded.config.portal {
        let state = crate::portal::state(loaded, portal, handle.clone(), shared.clone(), reloader.clone())
            .map_err(|e| StartError::Io(format!("{}: {}", e.path, e.message), std::io::Error::other("portal setup")))?;
        let gate = FirstRequestGate::new(
            crate::portal::app(state),
            shared.open_connections.clone(),
            shared.listening_services.clone(),
        );
        let mut svc = Service::new("gatehouse portal".to_string(), gate);
        svc.add_listener(plain_tcp(&portal.listen));
        server.add_service(svc);
    }
    if let Some(admin) = &loaded.config.admin {
        let token = admin.token.clone().or_else(|| admin.token_env.as_ref().and_then(|v| std::env::var(v).ok()));
        let state = crate::admin::AdminState::new(handle.clone(), shared.clone(), reloader, token.as_deref());
        let gate = FirstRequestGate::new(
            crate::admin::app(state),
            shared.open_connections.clone(),
            shared.listening_services.clone(),
        );
        let mut svc = Service::new("gatehouse admin".to_string(), gate);
        svc.add_listener(plain_tcp(&admin.listen));
        server.add_service(svc);
    }
    Ok(())
}

/// Where a config puts this process's files: `data_dir`, the pid file and the upgrade socket
/// (both default into `data_dir`). `serve` and `upgrade` must agree on them.
pub struct ProcessFiles {
    pub data_dir: std::path::PathBuf,
    pub pid_file: std::path::PathBuf,
    pub upgrade_sock: std::path::PathBuf,
    /// Beside the pid file: holds the pid once the process acts on SIGHUP (what `upgrade` waits
    /// for before it returns).
    pub ready_file: std::path::PathBuf,
}

impl ProcessFiles {
    pub fn of(loaded: &LoadedConfig) -> ProcessFiles {
        let s = &loaded.config.server;
        let data_dir = loaded.resolve(&s.data_dir);
        let in_data = |p: &Option<String>, default: &str| match p {
            Some(p) => loaded.resolve(p),
            None => data_dir.join(default),
        };
        let pid_file = in_data(&s.pid_file, "gatehouse.pid");
        ProcessFiles {
            ready_file: pid_file.with_extension("ready"),
            pid_file,
            upgrade_sock: in_data(&s.upgrade_sock, "upgrade.sock"),
            data_dir,
        }
    }
}

/// A plain-TCP listener without Pingora's 64 KiB read buffer per connection. Request heads are
/// read whole by `HeadDeadline` (the portal and admin apps read their own), so that buffer only
/// added a copy per read and 64 KiB of zeroed memory per open connection: 10,000 idle
/// keep-alive clients held 750 MB. (TLS listeners keep it: OpenSSL reads in small pieces.)
fn plain_tcp(addr: &str) -> pingora::listeners::ListenerConfig {
    use pingora::listeners::{L4BufferSettings, ListenerConfig};
    ListenerConfig::tcp(addr).l4_buffer(L4BufferSettings::default().read(0))
}
