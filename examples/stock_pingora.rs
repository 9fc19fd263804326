//! The yardstick for `make bench`: the leanest stock Pingora proxy we know how to write (the
//! "best found" of shared/PINGORA-NOTES.md): no compression module, a prebuilt peer cloned per
//! request, mimalloc, and the release profile's fat LTO and `panic = "abort"`. It does none of
//! the gateway's work, so Gatehouse's bare route is measured against it in the same run.
//!
//! `cargo run --release --example stock_pingora -- LISTEN UPSTREAM [THREADS]`

use async_trait::async_trait;
use pingora::modules::http::HttpModules;
use pingora::prelude::*;
use pingora::server::configuration::{Opt, ServerConf};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Stock(HttpPeer);

#[async_trait]
impl ProxyHttp for Stock {
    type CTX = ();
    fn new_ctx(&self) {}
    fn init_downstream_modules(&self, _modules: &mut HttpModules) {}
    async fn upstream_peer(&self, _s: &mut Session, _ctx: &mut ()) -> Result<Box<HttpPeer>> {
        Ok(Box::new(self.0.clone()))
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (listen, upstream) = match (args.get(1), args.get(2)) {
        (Some(l), Some(u)) => (l.clone(), u.clone()),
        _ => {
            eprintln!("usage: stock_pingora LISTEN UPSTREAM [THREADS]");
            std::process::exit(2);
        }
    };
    let threads = args.get(3).and_then(|t| t.parse().ok()).unwrap_or(1);
    let dir = std::env::temp_dir();
    let conf = ServerConf {
        threads,
        pid_file: dir.join(format!("stock-pingora-{}.pid", std::process::id())).display().to_string(),
        upgrade_sock: dir.join(format!("stock-pingora-{}.sock", std::process::id())).display().to_string(),
        upstream_keepalive_pool_size: 1024,
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(Opt::default(), conf);
    server.bootstrap();
    let addr: std::net::SocketAddr = upstream.parse().expect("UPSTREAM is ip:port");
    let mut proxy = http_proxy_service(&server.configuration, Stock(HttpPeer::new(addr, false, String::new())));
    proxy.add_tcp(&listen);
    server.add_service(proxy);
    server.run_forever();
}
