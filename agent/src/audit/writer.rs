//! The writer thread. Decisions arrive in a byte queue ([`super::event`]); the writer swaps the
//! queue for its spare one (both keep their capacity, so a steady agent allocates nothing here),
//! writes the batch's lines and fsyncs: at once when the log was quiet, at most every 50 ms under
//! load. A signature never waits for the disk, and a crash loses at most the last 50 ms of lines.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::event::{self, Event, Reader};
use super::{Record, GENESIS};
use crate::peer::PeerInfo;

/// Under load, the longest a line waits for its fsync.
const SYNC_EVERY: Duration = Duration::from_millis(50);

/// How long the writer gathers a batch once woken.
const GATHER: Duration = Duration::from_millis(2);

/// A queue that grew this large in a burst is given back rather than kept.
const KEEP_CAPACITY: usize = 1 << 20;

/// How much of the log's end is read at start-up to find its last line: the agent's start-up
/// must not grow with the log.
const TAIL: u64 = 64 * 1024;

/// Where the chain continues: the last complete line's `seq` and `hash`. A torn last line (the
/// agent died mid-write) is cut off first, so that new lines follow a valid one instead of
/// leaving `verify` stuck on a fragment forever.
fn resume(path: &Path) -> std::io::Result<(u64, String)> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = match OpenOptions::new().read(true).write(true).open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((0, GENESIS.to_owned())),
        Err(e) => return Err(e),
    };
    let len = f.metadata()?.len();
    let start = len.saturating_sub(TAIL);
    f.seek(SeekFrom::Start(start))?;
    let mut tail = Vec::new();
    f.read_to_end(&mut tail)?;
    if !tail.is_empty() && !tail.ends_with(b"\n") {
        let keep = tail
            .iter()
            .rposition(|&b| b == b'\n')
            .map(|i| i + 1)
            .unwrap_or(0);
        let torn = tail.len() - keep;
        f.set_len(start + keep as u64)?;
        f.sync_data()?;
        tail.truncate(keep);
        crate::warn!(
            "audit log {}: cut a torn last line of {torn} bytes (a crash mid-write)",
            path.display()
        );
    }
    let last = tail
        .split(|&b| b == b'\n')
        .rev()
        .find(|l| !l.is_empty())
        .and_then(|l| serde_json::from_slice::<Record>(l).ok());
    Ok(match last {
        Some(r) => (r.seq, r.hash),
        None => (0, GENESIS.to_owned()),
    })
}

/// What the request path hands to the writer: encoded decisions waiting for their line.
struct Pending {
    queue: Mutex<Vec<u8>>,
    /// Woken only when the writer sleeps on an empty queue, so a busy agent pays no context
    /// switch per decision.
    wake: Condvar,
    idle: AtomicBool,
    closed: AtomicBool,
}

/// Handle to the writer thread.
#[derive(Clone)]
pub struct AuditLog {
    pending: Arc<Pending>,
    writer: Arc<Mutex<Option<std::thread::JoinHandle<()>>>>,
}

/// The chain's state and the file, owned by the writer thread.
struct Chain {
    file: std::fs::File,
    seq: u64,
    prev: String,
    out: Vec<u8>,
}

impl Chain {
    fn write_batch(&mut self, batch: &[u8]) {
        if self.out.capacity() > KEEP_CAPACITY {
            self.out = Vec::new();
        }
        self.out.clear();
        let mut events = Reader::new(batch);
        for event in events.by_ref() {
            // Wraps rather than panics on a log whose last line was edited to the largest
            // sequence number (verify reports that log).
            self.seq = self.seq.wrapping_add(1);
            let hash = super::line::append(&mut self.out, self.seq, &event, &self.prev);
            self.prev.clear();
            self.prev
                .push_str(std::str::from_utf8(&hash).expect("hex digits"));
        }
        if events.unread() > 0 {
            crate::warn!(
                "audit queue: {} bytes could not be read back as decisions; they are not in the log",
                events.unread()
            );
        }
        if let Err(e) = self.file.write_all(&self.out) {
            crate::warn!("cannot append to the audit log: {e}");
        }
    }
}

impl AuditLog {
    /// Opens (creating 0600) the log and continues its chain from its last line.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let (seq, prev) = resume(path)?;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)?;
        let pending = Arc::new(Pending {
            queue: Mutex::new(Vec::new()),
            wake: Condvar::new(),
            idle: AtomicBool::new(false),
            closed: AtomicBool::new(false),
        });
        let shared = Arc::clone(&pending);
        let chain = Chain {
            file,
            seq,
            prev,
            out: Vec::new(),
        };
        let writer = std::thread::Builder::new()
            .name("audit".into())
            .spawn(move || write_until_closed(&shared, chain))?;
        Ok(Self {
            pending,
            writer: Arc::new(Mutex::new(Some(writer))),
        })
    }

    /// Queues a decision (stamped now) for the writer.
    pub fn record(&self, event: &Event<'_>, peer: Option<&PeerInfo>) {
        let mut queue = self.pending.queue.lock().expect("audit queue poisoned");
        // Stamped under the lock, so that times never go backwards from one line to the next.
        let now_ms = crate::timefmt::unix_millis();
        event::encode(&mut queue, event, peer, now_ms);
        drop(queue);
        if self.pending.idle.load(Ordering::Acquire) {
            self.pending.wake.notify_one();
        }
    }

    /// Writes and fsyncs what is pending, then stops the writer (the agent's shutdown).
    pub fn close(&self) {
        self.pending.closed.store(true, Ordering::Release);
        self.pending.wake.notify_one();
        if let Some(handle) = self.writer.lock().expect("audit writer poisoned").take() {
            let _ = handle.join();
        }
    }
}

fn write_until_closed(shared: &Pending, mut chain: Chain) {
    let mut last_sync = Instant::now() - SYNC_EVERY;
    let mut dirty = false;
    let mut batch = Vec::new();
    loop {
        {
            let mut queue = shared.queue.lock().expect("audit queue poisoned");
            while queue.is_empty() && !shared.closed.load(Ordering::Acquire) {
                let wait = if dirty {
                    SYNC_EVERY.saturating_sub(last_sync.elapsed())
                } else {
                    Duration::from_secs(3600)
                };
                if dirty && wait.is_zero() {
                    break;
                }
                shared.idle.store(true, Ordering::Release);
                queue = shared
                    .wake
                    .wait_timeout(queue, wait)
                    .expect("audit queue poisoned")
                    .0;
                shared.idle.store(false, Ordering::Release);
            }
            std::mem::swap(&mut *queue, &mut batch);
        }
        if batch.is_empty() && shared.closed.load(Ordering::Acquire) && !dirty {
            break;
        }
        if !batch.is_empty() {
            chain.write_batch(&batch);
            batch.clear();
            if batch.capacity() > KEEP_CAPACITY {
                batch = Vec::new();
            }
            dirty = true;
        }
        if dirty && last_sync.elapsed() >= SYNC_EVERY {
            if let Err(e) = chain.file.sync_data() {
                crate::warn!("cannot fsync the audit log: {e}");
            }
            last_sync = Instant::now();
            dirty = false;
        } else if !shared.closed.load(Ordering::Acquire) {
            // Let more decisions gather before the next batch.
            std::thread::sleep(GATHER);
        }
    }
}
