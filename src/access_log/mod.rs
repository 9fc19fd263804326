//! The access log: one JSON line per request. The `logging` hook formats the line into a
//! per-thread scratch buffer (no allocation, nothing through `fmt`), then copies it into one
//! shared batch under a short lock. A writer thread swaps the batch out and writes it in one
//! call, at most every `BATCH_DELAY` or sooner when the batch is large. A sink slower than the
//! traffic never blocks a request: past `MAX_BATCH` bytes a line is dropped and counted.

mod line;

pub use line::Entry;

use prometheus::IntCounter;
use std::cell::RefCell;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::Thread;
use std::time::Duration;

/// How long the writer lets lines gather after the first one of a batch.
const BATCH_DELAY: Duration = Duration::from_millis(20);
/// A batch this large wakes the writer at once.
const WAKE_AT: usize = 256 * 1024;
/// A batch this large means the sink is behind: further lines are dropped until it catches up.
const MAX_BATCH: usize = 8 * 1024 * 1024;

pub struct AccessLog {
    batch: Arc<Mutex<Vec<u8>>>,
    writer: Thread,
    pub dropped: IntCounter,
    /// Bytes queued and not yet written: a draining process waits for it to reach zero.
    pub pending: Arc<AtomicUsize>,
}

thread_local! {
    /// Each worker thread formats its lines here; the capacity stays for the next line.
    static SCRATCH: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(1024));
}

impl AccessLog {
    /// `"off"` gives `None`; `"stdout"`, `"stderr"` or a file path (opened for append).
    pub fn open(target: &str) -> std::io::Result<Option<AccessLog>> {
        let out: Box<dyn Write + Send> = match target {
            "off" => return Ok(None),
            "stdout" => Box::new(std::io::stdout()),
            "stderr" => Box::new(std::io::stderr()),
            path => Box::new(std::fs::OpenOptions::new().create(true).append(true).open(path)?),
        };
        let batch = Arc::new(Mutex::new(Vec::with_capacity(WAKE_AT)));
        let pending = Arc::new(AtomicUsize::new(0));
        let (b, p) = (batch.clone(), pending.clone());
        let writer = std::thread::Builder::new().name("access-log".into()).spawn(move || writer(&b, out, &p))?;
        let dropped = IntCounter::new(
            "gatehouse_access_log_dropped_lines_total",
            "Access log lines dropped because the log's sink fell behind",
        )
        .expect("valid metric");
        Ok(Some(AccessLog { batch, writer: writer.thread().clone(), dropped, pending }))
    }

    pub fn write(&self, entry: &Entry) {
        SCRATCH.with(|s| {
            let mut line = s.borrow_mut();
            line.clear();
            entry.write_json(&mut line);
            self.push(&line);
        });
    }

    fn push(&self, line: &[u8]) {
        let mut batch = self.batch.lock().unwrap_or_else(|e| e.into_inner());
        let before = batch.len();
        if before + line.len() > MAX_BATCH {
            drop(batch);
            self.dropped.inc();
            return;
        }
        batch.extend_from_slice(line);
        // Counted under the lock, so the writer's subtraction never comes first.
        self.pending.fetch_add(line.len(), Ordering::Relaxed);
        drop(batch);
        // The writer sleeps while the batch is empty, and naps BATCH_DELAY once it is not.
        if before == 0 || (before < WAKE_AT && before + line.len() >= WAKE_AT) {
            self.writer.unpark();
        }
    }
}

fn writer(batch: &Mutex<Vec<u8>>, mut out: Box<dyn Write + Send>, pending: &AtomicUsize) {
    let mut spare = Vec::with_capacity(WAKE_AT);
    loop {
        while batch.lock().unwrap_or_else(|e| e.into_inner()).is_empty() {
            std::thread::park();
        }
        std::thread::park_timeout(BATCH_DELAY);
        std::mem::swap(&mut *batch.lock().unwrap_or_else(|e| e.into_inner()), &mut spare);
        let _ = out.write_all(&spare).and_then(|_| out.flush());
        pending.fetch_sub(spare.len(), Ordering::Release);
        // A burst may have grown the batch; keep a modest buffer between bursts.
        if spare.capacity() > 4 * WAKE_AT {
            spare = Vec::with_capacity(WAKE_AT);
        }
        spare.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str) -> Entry<'_> {
        Entry { method: "GET", path: b"/p", status: 200, request_id: id, ..Entry::default() }
    }

    #[test]
    fn lines_reach_the_file_in_order_and_pending_returns_to_zero() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        let log = AccessLog::open(path.to_str().unwrap()).unwrap().unwrap();
        let ids: Vec<String> = (0..2000).map(|i| format!("r{i}")).collect();
        for id in &ids {
            log.write(&entry(id));
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while log.pending.load(Ordering::Acquire) > 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(log.pending.load(Ordering::Acquire), 0);
        let text = std::fs::read_to_string(&path).unwrap();
        let got: Vec<String> = text
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["request_id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(got, ids);
        assert_eq!(log.dropped.get(), 0);
    }

    #[test]
    fn a_stalled_sink_drops_and_counts_instead_of_blocking() {
        // A pipe nobody reads: the writer blocks in its first write once the pipe is full.
        let (reader, writer) = std::io::pipe().unwrap();
        let batch = Arc::new(Mutex::new(Vec::new()));
        let pending = Arc::new(AtomicUsize::new(0));
        let (b, p) = (batch.clone(), pending.clone());
        let w = std::thread::spawn(move || super::writer(&b, Box::new(writer), &p));
        let dropped = IntCounter::new("t", "t").unwrap();
        let log = AccessLog { batch, writer: w.thread().clone(), dropped, pending };
        let id = "x".repeat(100);
        for _ in 0..200_000 {
            log.write(&entry(&id));
        }
        assert!(log.dropped.get() > 0, "a full batch drops lines");
        drop(reader);
    }
}
