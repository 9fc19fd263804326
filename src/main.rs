//! `gatehouse serve | check | upgrade | hash-key`.

use clap::{Parser, Subcommand};
use gatehouse::config;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

/// The log filter unless RUST_LOG says otherwise. Pingora's fd-transfer module logs an ERROR
/// on every successful upgrade (its first non-blocking accept finds no sender yet); a real
/// failure is still reported by the process that gives up ("Bootstrap failed", "Unable to send
/// listener sockets") and by `gatehouse upgrade`.
const LOG_DEFAULT: &str = "warn,gatehouse=info,pingora_core::server::transfer_fd=off";

#[global_allocator]
static GLOBAL: gatehouse::process::alloc::Allocator = gatehouse::process::alloc::Allocator;

#[derive(Parser)]
#[command(name = "gatehouse", version, about = "API gateway and API management on Pingora")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway.
    Serve {
        #[arg(short = 'c', long = "config", default_value = "conf/gatehouse.toml")]
        config: PathBuf,
        /// Take the listening sockets over from the running process (zero-downtime upgrade).
        #[arg(long)]
        upgrade: bool,
        /// Run in the background (writes `server.pid_file`).
        #[arg(long)]
        daemon: bool,
    },
    /// Replace the running gatehouse (found by `server.pid_file`) with this binary, handing the
    /// listening sockets over: no connection is refused and requests in flight finish.
    Upgrade {
        #[arg(short = 'c', long = "config", default_value = "conf/gatehouse.toml")]
        config: PathBuf,
        /// Give up (leaving the old process serving, when it was not yet told to quit) after this long.
        #[arg(long, default_value = "30s")]
        timeout: humantime::Duration,
    },
    /// Validate a config file: exit 0 if valid, else print every problem and exit 1.
    Check {
        #[arg(short = 'c', long = "config", default_value = "conf/gatehouse.toml")]
        config: PathBuf,
    },
    /// Run the demo echo upstream that `make run` puts behind the demo API.
    DemoUpstream {
        #[arg(short = 'l', long = "listen", default_value = "127.0.0.1:9000")]
        listen: String,
        #[arg(long, default_value = "demo")]
        name: String,
    },
    /// Read an API key on stdin and print the `sha256:<hex>` form the config stores.
    HashKey,
}

/// `alloc::small_pages` before anything allocates: an `.init_array` entry runs ahead of the
/// Rust runtime's own start-up (whose first allocations would otherwise fault in huge pages).
#[cfg(target_os = "linux")]
#[used]
#[link_section = ".init_array"]
static SMALL_PAGES_FIRST: extern "C" fn() = {
    extern "C" fn small_pages() {
        gatehouse::process::alloc::small_pages();
    }
    small_pages
};

fn main() -> ExitCode {
    let mut cli = Cli::parse();
    // A daemon changes its working directory to `/`: keep the config path valid for reloads.
    if let Command::Serve { config, .. } | Command::Upgrade { config, .. } = &mut cli.command {
        if let Ok(abs) = std::path::absolute(&*config) {
            *config = abs;
        }
    }
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(LOG_DEFAULT)).init();
    match cli.command {
        Command::Check { config } => check(&config),
        Command::Serve { config, upgrade, daemon } => {
            gatehouse::process::drain::ignore_early_sighup();
            let loaded = match load(&config) {
                Ok(l) => l,
                Err(code) => return code,
            };
            match gatehouse::process::server::serve(
                loaded,
                gatehouse::process::server::ServeOptions { upgrade, daemon },
            ) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("{e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Upgrade { config, timeout } => upgrade(&config, timeout.into()),
        Command::DemoUpstream { listen, name } => demo_upstream(&listen, &name),
        Command::HashKey => {
            let mut key = String::new();
            if std::io::stdin().read_to_string(&mut key).is_err() {
                eprintln!("cannot read the key from stdin");
                return ExitCode::FAILURE;
            }
            let key = key.trim_end_matches(['\r', '\n']);
            if key.is_empty() {
                eprintln!("no key on stdin");
                return ExitCode::FAILURE;
            }
            let digest = Sha256::digest(key.as_bytes());
            let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            println!("sha256:{hex}");
            ExitCode::SUCCESS
        }
    }
}

/// Parse, validate and build once (building finds route conflicts), printing every problem.
fn load(path: &std::path::Path) -> Result<config::LoadedConfig, ExitCode> {
    let loaded = config::load_file(path).map_err(|e| {
        eprintln!("{e}");
        ExitCode::FAILURE
    })?;
    let probe = gatehouse::runtime::Shared::default();
    if let Err(errors) = gatehouse::runtime::build(&loaded, &probe) {
        eprintln!("{}", config::ConfigErrors { file: loaded.file.clone(), errors });
        return Err(ExitCode::FAILURE);
    }
    Ok(loaded)
}

fn check(path: &std::path::Path) -> ExitCode {
    match load(path) {
        Ok(_) => {
            println!("{}: ok", path.display());
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}

fn upgrade(path: &std::path::Path, timeout: std::time::Duration) -> ExitCode {
    let loaded = match load(path) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("cannot find this binary's path: {e}");
            return ExitCode::FAILURE;
        }
    };
    match gatehouse::process::upgrade::upgrade(&loaded, &exe, timeout) {
        Ok(u) => {
            println!("upgraded: pid {} is draining, pid {} is serving", u.old_pid, u.new_pid);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("upgrade failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn demo_upstream(listen: &str, name: &str) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start a runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(async {
        match tokio::net::TcpListener::bind(listen).await {
            Ok(l) => {
                log::info!("demo upstream {name:?} on {listen}");
                gatehouse::echo::serve(l, gatehouse::echo::EchoState::new(name)).await;
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("cannot listen on {listen}: {e}");
                ExitCode::FAILURE
            }
        }
    })
}
