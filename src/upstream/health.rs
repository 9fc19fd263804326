//! Active health checks: ONE background service walks every cluster of the current runtime
//! (so a reload is picked up on the next tick) and checks each due peer concurrently.

use super::{now_ms, Cluster};
use crate::config::HealthConfig;
use async_trait::async_trait;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

const TICK: Duration = Duration::from_millis(100);

/// The clusters of the current config, asked for on every tick.
pub type CurrentClusters = Box<dyn Fn() -> Vec<Arc<Cluster>> + Send + Sync>;

pub struct HealthService {
    pub clusters: CurrentClusters,
}

#[async_trait]
impl BackgroundService for HealthService {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        loop {
            let clusters = (self.clusters)();
            let now = now_ms();
            for cluster in &clusters {
                let Some(cfg) = &cluster.health else { continue };
                for i in 0..cluster.peers.len() {
                    let h = &cluster.peers[i].health;
                    if h.next_check.load(Relaxed) > now || h.checking.swap(true, Relaxed) {
                        continue;
                    }
                    h.next_check.store(now + cfg.interval.0.as_millis() as u64, Relaxed);
                    tokio::spawn(check_peer(cluster.clone(), i, cfg.clone()));
                }
            }
            drop(clusters);
            tokio::select! {
                _ = tokio::time::sleep(TICK) => {}
                _ = shutdown.changed() => return,
            }
        }
    }
}

async fn check_peer(cluster: Arc<Cluster>, i: usize, cfg: HealthConfig) {
    let peer = &cluster.peers[i];
    let check = probe(&cluster, i, cfg.http_path.as_deref());
    let error = match tokio::time::timeout(cfg.timeout.0, check).await {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e.to_string()),
        Err(_) => Some(format!("no answer within {:?}", cfg.timeout.0)),
    };
    let ok = error.is_none();
    peer.health.set_check_error(error);
    if let Some(up) = peer.health.record_check(ok, &cfg) {
        let state = if up { "healthy" } else { "unhealthy" };
        log::warn!("cluster {}: upstream {} is now {state}", cluster.name, peer.label);
    }
    peer.health.checking.store(false, Relaxed);
}

/// TCP connect, and with an `http_path` a `GET` (over TLS for a TLS cluster, verified like
/// proxied requests) that must answer 2xx.
async fn probe(cluster: &Cluster, i: usize, path: Option<&str>) -> std::io::Result<()> {
    let peer = &cluster.peers[i];
    let stream = TcpStream::connect(peer.addr).await?;
    let Some(path) = path else { return Ok(()) };
    match &cluster.tls {
        Some(tls) => get(tls.connect(stream, &peer.http.sni).await?, &peer.label, path).await,
        None => get(stream, &peer.label, path).await,
    }
}

async fn get<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, host: &str, path: &str) -> std::io::Result<()> {
    let req =
        format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: gatehouse-health\r\nConnection: close\r\n\r\n");
    stream.write_all(req.as_bytes()).await?;
    let mut buf = [0u8; 64];
    let mut n = 0;
    while n < 12 {
        let m = stream.read(&mut buf[n..]).await?;
        if m == 0 {
            break;
        }
        n += m;
    }
    let line = &buf[..n];
    let status_ok = line.len() >= 12
        && line.starts_with(b"HTTP/1.")
        && line[9] == b'2'
        && line[10].is_ascii_digit()
        && line[11].is_ascii_digit();
    if status_ok {
        Ok(())
    } else {
        let status = String::from_utf8_lossy(line.get(9..12).unwrap_or(line));
        Err(std::io::Error::other(format!("health check answered {status:?}, not 2xx")))
    }
}
