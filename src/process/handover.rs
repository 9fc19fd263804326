//! Keeps connections that were accepted just before a graceful stop. When Pingora stops a
//! service (SIGQUIT after handing the sockets over, or SIGTERM), it closes its listeners and
//! then drops every connection still waiting for a request — including one accepted a moment
//! earlier whose request bytes are still in flight, which its client sees as a refused request.
//! This wrapper waits for a new connection's first byte before handing it to the proxy, and
//! holds the stop back (briefly) until no accepted connection is still waiting for that byte.

use async_trait::async_trait;
use pingora::apps::ServerApp;
use pingora::protocols::Stream;
use pingora::server::ShutdownWatch;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A connection that sends nothing for this long is closed (the `header_read_timeout`
/// default), unless `with_first_byte_wait` says otherwise.
const FIRST_BYTE_WAIT: Duration = Duration::from_secs(10);

/// Tells, per connection, how long it may stay silent (e.g. from the current config).
pub type WaitFn = Box<dyn Fn() -> Duration + Send + Sync>;
/// The longest a stop waits for accepted connections to send their first byte.
const SETTLE_MAX: Duration = Duration::from_secs(1);
const SETTLE_POLL: Duration = Duration::from_millis(5);

pub struct FirstRequestGate<A> {
    inner: Arc<A>,
    waiting: AtomicUsize,
    first_byte_wait: Option<WaitFn>,
    /// Connections inside this app (accept to close), for the drain.
    open: Arc<AtomicUsize>,
    /// Services still accepting, for the drain (this one until its `cleanup`).
    listening: Arc<AtomicUsize>,
}

/// Counts one connection while it lives, whatever way its task ends.
struct OpenGuard(Arc<AtomicUsize>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl<A> FirstRequestGate<A> {
    pub fn new(inner: A, open: Arc<AtomicUsize>, listening: Arc<AtomicUsize>) -> Self {
        listening.fetch_add(1, Ordering::AcqRel);
        FirstRequestGate {
            inner: Arc::new(inner),
            waiting: AtomicUsize::new(0),
            first_byte_wait: None,
            open,
            listening,
        }
    }

    pub fn with_first_byte_wait(mut self, wait: WaitFn) -> Self {
        self.first_byte_wait = Some(wait);
        self
    }
}

#[async_trait]
impl<A: ServerApp + Send + Sync + 'static> ServerApp for FirstRequestGate<A> {
    async fn process_new(self: &Arc<Self>, mut stream: Stream, shutdown: &ShutdownWatch) -> Option<Stream> {
        self.open.fetch_add(1, Ordering::AcqRel);
        let _open = OpenGuard(self.open.clone());
        self.waiting.fetch_add(1, Ordering::AcqRel);
        // Reads one byte and rewinds it (TLS streams answer at once: the handshake already
        // carried the client's first flight).
        let wait = self.first_byte_wait.as_ref().map_or(FIRST_BYTE_WAIT, |f| f());
        let first = tokio::time::timeout(wait, stream.try_peek(&mut [0u8; 1])).await;
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        match first {
            Ok(Ok(_)) => self.inner.process_new(stream, shutdown).await,
            // Closed before a byte, or silent too long.
            Ok(Err(_)) | Err(_) => None,
        }
    }

    /// Called once the service's accept loops have ended.
    async fn cleanup(&self) {
        // A connection accepted by the last turn of an accept loop has a task that may not
        // have started yet: let it start (and count itself) before this service says it is done.
        tokio::time::sleep(SETTLE_POLL).await;
        let deadline = tokio::time::Instant::now() + SETTLE_MAX;
        while self.waiting.load(Ordering::Acquire) > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(SETTLE_POLL).await;
        }
        self.listening.fetch_sub(1, Ordering::AcqRel);
        self.inner.cleanup().await;
    }
}
