//! The store's background service: opens the store (retrying while it is down), loads the live
//! tables, then keeps them current — a full reload every `resync_interval`, and on PostgreSQL
//! one on every NOTIFY from another node. A failed reload keeps the last tables serving.

use super::{Backend, Store, StoreError, StoreState, CHANNEL};
use async_trait::async_trait;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use sqlx::postgres::{PgListener, PgPoolOptions};
use std::sync::Arc;
use std::time::Duration;

/// Wait between attempts to open the store or to listen again.
const RETRY: Duration = Duration::from_secs(1);

pub struct StoreSync {
    pub state: Arc<StoreState>,
    pub url: String,
    pub resync: Duration,
}

#[async_trait]
impl BackgroundService for StoreSync {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let backend = Backend::of(&self.url);
        self.state.set_health(|h| h.backend = backend.name());
        let store = loop {
            match Store::open(&self.url).await {
                Ok(s) => break s,
                Err(e) => self.state.mark_down(&e),
            }
            tokio::select! {
                _ = tokio::time::sleep(RETRY) => {}
                _ = shutdown.changed() => return,
            }
        };
        let version = store.schema_version().await.ok();
        self.state.set_health(|h| h.schema_version = version);
        let _ = self.state.store.set(store);
        self.state.opened.notify_waiters();
        let _ = self.state.reload().await;
        if backend == Backend::Postgres {
            tokio::spawn(listen(self.state.clone(), self.url.clone(), shutdown.clone()));
        }
        loop {
            tokio::select! {
                _ = tokio::time::sleep(self.resync) => {}
                _ = shutdown.changed() => return,
            }
            let _ = self.state.reload().await;
        }
    }
}

/// A listener that gives up on a dead server within seconds (sqlx's default waits 30 s) and
/// reports a lost connection instead of reconnecting inside `try_recv`, so `/status` shows it.
async fn listener(url: &str) -> Result<PgListener, sqlx::Error> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(2))
        .max_lifetime(None)
        .idle_timeout(None)
        .connect(url)
        .await?;
    let mut l = PgListener::connect_with(&pool).await?;
    l.eager_reconnect(false);
    Ok(l)
}

/// LISTEN for other nodes' changes; after every (re)connect a full reload catches up on what
/// was missed meanwhile.
async fn listen(state: Arc<StoreState>, url: String, mut shutdown: ShutdownWatch) {
    loop {
        match listener(&url).await {
            Ok(mut l) => match l.listen(CHANNEL).await {
                Ok(()) => {
                    let _ = state.reload().await;
                    loop {
                        tokio::select! {
                            n = l.try_recv() => match n {
                                Ok(Some(n)) if n.payload() == super::purges::NOTICE => state.catch_up_purges().await,
                                Ok(Some(_)) => { let _ = state.reload().await; }
                                Ok(None) => {
                                    state.mark_down(&StoreError::Unavailable("lost the LISTEN connection".into()));
                                    break;
                                }
                                Err(e) => { state.mark_down(&e.into()); break; }
                            },
                            _ = shutdown.changed() => return,
                        }
                    }
                }
                Err(e) => state.mark_down(&e.into()),
            },
            Err(e) => state.mark_down(&e.into()),
        }
        tokio::select! {
            _ = tokio::time::sleep(RETRY) => {}
            _ = shutdown.changed() => return,
        }
    }
}
