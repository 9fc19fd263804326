//! The access log: one JSON line per request, formatted in the `logging` hook and written by a
//! dedicated thread. A full queue drops the line (and counts it) rather than block a request.

use std::io::Write;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;

pub struct AccessLog {
    tx: SyncSender<Vec<u8>>,
    pub dropped: Arc<AtomicU64>,
    /// Lines queued and not yet written: a draining process waits for it to reach zero.
    pub pending: Arc<AtomicUsize>,
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
        let (tx, rx) = sync_channel(16 * 1024);
        let pending = Arc::new(AtomicUsize::new(0));
        let written = pending.clone();
        std::thread::Builder::new().name("access-log".into()).spawn(move || writer(rx, out, &written))?;
        Ok(Some(AccessLog { tx, dropped: Arc::new(AtomicU64::new(0)), pending }))
    }

    pub fn write(&self, line: Vec<u8>) {
        self.pending.fetch_add(1, Ordering::Relaxed);
        if let Err(TrySendError::Full(_)) = self.tx.try_send(line) {
            self.pending.fetch_sub(1, Ordering::Relaxed);
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn writer(rx: Receiver<Vec<u8>>, out: Box<dyn Write + Send>, pending: &AtomicUsize) {
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, out);
    while let Ok(line) = rx.recv() {
        let _ = out.write_all(&line);
        let mut lines = 1;
        // Write what is queued, then flush once the queue is empty.
        while let Ok(more) = rx.try_recv() {
            let _ = out.write_all(&more);
            lines += 1;
        }
        let _ = out.flush();
        pending.fetch_sub(lines, Ordering::Release);
    }
}
