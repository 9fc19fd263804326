//! The Redis backend (`[limits] backend = "redis"`): every limit of a request is decided in one
//! round trip by one Lua script, atomically and on Redis's clock, so any number of gateway
//! processes sharing one Redis together let exactly the limit through.
//!
//! The connection is one multiplexed connection per process, owned by a supervisor thread with
//! its own small runtime: it connects, waits until a request reports the connection broken,
//! and reconnects with backoff. Requests never wait for a connection that is down: they get
//! an error at once, and the plugin applies `on_backend_error`.

use super::gcra::Decision;
use arc_swap::ArcSwapOption;
use redis::aio::MultiplexedConnection;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// The hash tag of every key: one request's keys must share a slot on Redis Cluster, and any two
/// requests may share a key (a route-wide limit, a consumer's plan), so all share one tag.
pub const KEY_PREFIX: &str = "gatehouse:{rl}:";

const STARTING: u8 = 0;
const UP: u8 = 1;
const DOWN: u8 = 2;

/// Why a decision could not be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendError {
    /// Not connected (Redis down or unreachable); answered without waiting.
    Unavailable,
    /// No answer within `[limits] timeout`.
    Timeout,
    /// Redis answered with an error, or the connection broke during the call.
    Failed,
}

impl BackendError {
    pub fn label(self) -> &'static str {
        match self {
            BackendError::Unavailable => "unavailable",
            BackendError::Timeout => "timeout",
            BackendError::Failed => "error",
        }
    }
}

/// The outcome for all limits of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every limit allowed (and took) the request; one decision per limit, in order.
    Allowed(Vec<Decision>),
    /// Limit `index` denied it; nothing was taken.
    Denied { index: usize, decision: Decision },
}

/// One Redis connection shared by every request of this process, kept across reloads while
/// `redis_url` stays the same.
pub struct RedisConn {
    pub url: String,
    client: redis::Client,
    conn: ArcSwapOption<MultiplexedConnection>,
    state: AtomicU8,
    /// Wakes the supervisor (a request saw the connection break) and waiters for the first
    /// connection.
    broken: Notify,
    connected: Notify,
    started: AtomicBool,
    script: redis::Script,
    /// Unix seconds of the last warning, so an outage logs one line per second, not per request.
    last_warning: AtomicU64,
}

impl RedisConn {
    /// Parse the URL; nothing connects until `start`.
    pub fn new(url: &str) -> Result<Arc<RedisConn>, String> {
        let client = redis::Client::open(url).map_err(|e| format!("invalid Redis URL: {}", e.kind_str()))?;
        Ok(Arc::new(RedisConn {
            url: url.to_string(),
            client,
            conn: ArcSwapOption::empty(),
            state: AtomicU8::new(STARTING),
            broken: Notify::new(),
            connected: Notify::new(),
            started: AtomicBool::new(false),
            script: redis::Script::new(include_str!("redis.lua")),
            last_warning: AtomicU64::new(0),
        }))
    }

    /// Start the supervisor thread (once). Called after the process has daemonized (threads do
    /// not survive a fork), by the limits service at start and by reloads.
    pub fn start(self: &Arc<Self>) {
        if self.started.swap(true, Ordering::AcqRel) {
            return;
        }
        let weak = Arc::downgrade(self);
        let spawned = std::thread::Builder::new().name("gatehouse-redis".into()).spawn(move || {
            match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(rt) => rt.block_on(supervise(weak)),
                Err(e) => log::error!("rate limits: cannot start the Redis connection thread: {e}"),
            }
        });
        if let Err(e) = spawned {
            log::error!("rate limits: cannot start the Redis connection thread: {e}");
        }
    }

    pub fn is_up(&self) -> bool {
        self.state.load(Ordering::Acquire) == UP
    }

    /// Decide every limit of one request. `limits` are (key, kind, a, b) as the script takes
    /// them; `clock` is `None` in production (Redis TIME) and a µs clock in tests.
    pub async fn decide(
        &self,
        limits: &[(String, &'static str, u64, u64)],
        clock: Option<u64>,
        timeout: Duration,
    ) -> Result<Verdict, BackendError> {
        let deadline = Instant::now() + timeout;
        let conn = match self.conn.load_full() {
            Some(c) => c,
            // Only the very first connection is waited for (bounded by the timeout), so requests
            // right after start are not refused; a connection that went down is not.
            None if self.state.load(Ordering::Acquire) == STARTING => {
                // Registered before the second look, so a connection made in between wakes it.
                let wait = self.connected.notified();
                tokio::pin!(wait);
                wait.as_mut().enable();
                match self.conn.load_full() {
                    Some(c) => c,
                    None => {
                        let _ = tokio::time::timeout_at(deadline.into(), wait).await;
                        self.conn.load_full().ok_or(BackendError::Unavailable)?
                    }
                }
            }
            None => return Err(BackendError::Unavailable),
        };
        let mut inv = self.script.prepare_invoke();
        inv.arg(clock.map(|c| c.to_string()).unwrap_or_default());
        for (key, kind, a, b) in limits {
            inv.key(key.as_str()).arg(*kind).arg(*a).arg(*b);
        }
        let mut c = (*conn).clone();
        let answer = tokio::time::timeout_at(deadline.into(), inv.invoke_async::<Vec<i64>>(&mut c)).await;
        match answer {
            Err(_) => Err(BackendError::Timeout),
            Ok(Err(e)) => {
                if e.is_unrecoverable_error() || e.is_connection_dropped() || e.is_io_error() {
                    self.mark_broken(&conn);
                }
                log::debug!("rate limits: Redis error: {e}");
                Err(BackendError::Failed)
            }
            Ok(Ok(v)) => parse(&v).ok_or(BackendError::Failed),
        }
    }

    /// Drop `seen` (if it is still the current connection) and wake the supervisor.
    fn mark_broken(&self, seen: &Arc<MultiplexedConnection>) {
        let cur = self.conn.load();
        if cur.as_ref().is_some_and(|c| Arc::ptr_eq(c, seen)) {
            self.conn.store(None);
            self.state.store(DOWN, Ordering::Release);
            self.broken.notify_one();
        }
    }

    /// Log an outage at most once a second.
    pub fn warn(&self, what: BackendError, on_error: &str) {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        if self.last_warning.swap(now, Ordering::Relaxed) != now {
            log::warn!("rate limits: Redis {}; on_backend_error = {on_error} decides", what.label());
        }
    }
}

fn parse(v: &[i64]) -> Option<Verdict> {
    let decision = |remaining: i64, reset: i64, retry_after: i64, allowed: bool| Decision {
        allowed,
        remaining: remaining.max(0) as u64,
        reset: reset.max(0) as u64,
        retry_after: retry_after.max(0) as u64,
    };
    match v {
        [1, rest @ ..] if rest.len() % 2 == 0 => {
            Some(Verdict::Allowed(rest.chunks(2).map(|p| decision(p[0], p[1], 0, true)).collect()))
        }
        [0, i, reset, retry] if *i >= 1 => {
            Some(Verdict::Denied { index: (*i - 1) as usize, decision: decision(0, *reset, *retry, false) })
        }
        _ => None,
    }
}

/// Connect, hold the connection until a request reports it broken, reconnect with backoff
/// (100 ms doubling to 2 s). Ends when the `RedisConn` is dropped (its URL left the config).
async fn supervise(weak: Weak<RedisConn>) {
    let mut backoff = Duration::from_millis(100);
    let mut was_up = false;
    loop {
        let Some(me) = weak.upgrade() else { return };
        let cfg = redis::AsyncConnectionConfig::new().set_connection_timeout(Duration::from_secs(2));
        match me.client.get_multiplexed_async_connection_with_config(&cfg).await {
            Ok(conn) => {
                backoff = Duration::from_millis(100);
                me.conn.store(Some(Arc::new(conn)));
                me.state.store(UP, Ordering::Release);
                me.connected.notify_waiters();
                log::info!("rate limits: {} Redis", if was_up { "reconnected to" } else { "connected to" });
                was_up = true;
                drop(me);
                // Hold it until a request finds it broken; look every second whether the
                // connection is still wanted (the supervisor holds only a weak reference).
                loop {
                    let woke = {
                        let Some(me) = weak.upgrade() else { return };
                        let broken = me.broken.notified();
                        tokio::time::timeout(Duration::from_secs(1), broken).await.is_ok()
                    };
                    let Some(me) = weak.upgrade() else { return };
                    // Requests clear the connection before waking us; a stale wake-up is ignored.
                    let Some(conn) = me.conn.load_full() else { break };
                    if woke {
                        continue;
                    }
                    // A quiet process would not notice a dead Redis until the next request:
                    // a PING keeps `is_up` (shown in /status) honest.
                    let mut c = (*conn).clone();
                    let ping = redis::cmd("PING");
                    let answer = tokio::time::timeout(Duration::from_secs(1), ping.query_async::<String>(&mut c)).await;
                    if !matches!(answer, Ok(Ok(_))) {
                        me.mark_broken(&conn);
                        break;
                    }
                }
                log::warn!("rate limits: lost the Redis connection; reconnecting");
            }
            Err(e) => {
                if me.state.swap(DOWN, Ordering::AcqRel) != DOWN || backoff == Duration::from_millis(100) {
                    log::warn!("rate limits: cannot connect to Redis ({}); retrying", e.kind_str());
                }
                me.connected.notify_waiters();
                drop(me);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
        }
    }
}

trait KindStr {
    fn kind_str(&self) -> String;
}

impl KindStr for redis::RedisError {
    /// The error without its detail, which may echo the URL (and a password in it).
    fn kind_str(&self) -> String {
        format!("{:?}", self.kind())
    }
}
