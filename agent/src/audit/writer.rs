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
/// must not grow with the log. Lines stay far shorter (client text is capped:
/// [`super::event::MAX_TEXT`]).
const TAIL: u64 = 64 * 1024;

/// Decisions kept in memory while the log cannot be written (a full disk), to be written when it
/// can; beyond this they are dropped, and the log's own warning says how many.
const MAX_UNWRITTEN: usize = 16 << 20;

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
    let Some(last) = tail.split(|&b| b == b'\n').rev().find(|l| !l.is_empty()) else {
        return Ok((0, GENESIS.to_owned()));
    };
    match serde_json::from_slice::<Record>(last) {
        Ok(r) => Ok((r.seq, r.hash)),
        Err(e) => {
            crate::warn!(
                "audit log {}: its last line is not a record ({e}); new lines start a new chain \
                 here, and `apisec-agent audit verify` will report the break",
                path.display()
            );
            Ok((0, GENESIS.to_owned()))
        }
    }
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
    /// The file's length after the last complete write: a failed write is cut back to it.
    len: u64,
    seq: u64,
    prev: String,
    out: Vec<u8>,
    /// Encoded decisions whose lines could not be written yet.
    unwritten: Vec<u8>,
}

impl Chain {
    /// Writes the lines of `batch` (after any decisions a failed write left over).
    fn write_batch(&mut self, batch: &[u8]) {
        if self.unwritten.is_empty() {
            self.write_events(batch);
        } else {
            let mut all = std::mem::take(&mut self.unwritten);
            all.extend_from_slice(batch);
            self.write_events(&all);
        }
    }

    /// All of the lines or none: a write that fails (a full disk) is cut back, the chain is
    /// rewound, and the decisions are kept for the next write, so the log never holds a torn
    /// line or a `prev` naming a line that is not there.
    fn write_events(&mut self, batch: &[u8]) {
        if self.out.capacity() > KEEP_CAPACITY {
            self.out = Vec::new();
        }
        self.out.clear();
        let (seq_before, prev_before) = (self.seq, self.prev.clone());
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
        match self.file.write_all(&self.out) {
            Ok(()) => self.len += self.out.len() as u64,
            Err(e) => {
                let _ = self.file.set_len(self.len);
                self.seq = seq_before;
                self.prev = prev_before;
                let count = Reader::new(batch).count();
                if batch.len() <= MAX_UNWRITTEN {
                    self.unwritten = batch.to_vec();
                    crate::warn!(
                        "cannot append to the audit log: {e}; {count} decision(s) kept in memory, \
                         written with the next one once the log can be written"
                    );
                } else {
                    crate::warn!(
                        "cannot append to the audit log: {e}; {count} decision(s) are lost (more \
                         than {} MiB waited); free space for the log",
                        MAX_UNWRITTEN >> 20
                    );
                }
            }
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
        let len = file.metadata()?.len();
        let pending = Arc::new(Pending {
            queue: Mutex::new(Vec::new()),
            wake: Condvar::new(),
            idle: AtomicBool::new(false),
            closed: AtomicBool::new(false),
        });
        let shared = Arc::clone(&pending);
        let chain = Chain {
            file,
            len,
            seq,
            prev,
            out: Vec::new(),
            unwritten: Vec::new(),
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
        if self.pending.closed.load(Ordering::Acquire) {
            drop(queue);
            // Only work still running at exit gets here (the log closes after the sessions).
            crate::warn!(
                "the audit log is closed; not recorded: {} of {}",
                event.action.as_str(),
                event.secret.unwrap_or("-")
            );
            return;
        }
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
        {
            let _queue = self.pending.queue.lock().expect("audit queue poisoned");
            self.pending.closed.store(true, Ordering::Release);
        }
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
        let closed = {
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
            // Read under the lock that `record` and `close` take: after this, nothing more is
            // queued once closed, so an empty batch now is the last.
            shared.closed.load(Ordering::Acquire)
        };
        if !batch.is_empty() {
            chain.write_batch(&batch);
            batch.clear();
            if batch.capacity() > KEEP_CAPACITY {
                batch = Vec::new();
            }
            dirty = true;
        }
        if dirty && (closed || last_sync.elapsed() >= SYNC_EVERY) {
            if let Err(e) = chain.file.sync_data() {
                crate::warn!("cannot fsync the audit log: {e}");
            }
            last_sync = Instant::now();
            dirty = false;
        }
        if closed {
            if batch.is_empty() && !dirty {
                if !chain.unwritten.is_empty() {
                    crate::warn!(
                        "the audit log could not be written; {} decision(s) are lost at exit",
                        Reader::new(&chain.unwritten).count()
                    );
                }
                break;
            }
        } else {
            // Let more decisions gather before the next batch.
            std::thread::sleep(GATHER);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::event::Action;
    use super::*;

    fn queued(actions: &[Action]) -> Vec<u8> {
        let mut queue = Vec::new();
        for (i, &action) in actions.iter().enumerate() {
            let event = Event {
                action,
                secret: Some("bg"),
                allowed: true,
                ..Default::default()
            };
            event::encode(&mut queue, &event, None, 1_700_000_000_000 + i as u64);
        }
        queue
    }

    /// A write that fails (here: a descriptor that cannot write, as a full disk would) leaves the
    /// chain where it was and keeps the decisions; the next write puts them all in, in order, and
    /// the log verifies.
    #[test]
    fn decisions_survive_a_failed_write_and_the_chain_stays_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        std::fs::write(&path, "").unwrap();
        let mut chain = Chain {
            file: std::fs::File::open(&path).unwrap(),
            len: 0,
            seq: 0,
            prev: GENESIS.to_owned(),
            out: Vec::new(),
            unwritten: Vec::new(),
        };
        chain.write_batch(&queued(&[Action::Unlock, Action::Sign]));
        assert_eq!(chain.seq, 0, "the chain moved on without its lines");
        assert_eq!(chain.prev, GENESIS);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
        assert_eq!(Reader::new(&chain.unwritten).count(), 2);

        chain.file = OpenOptions::new().append(true).open(&path).unwrap();
        chain.write_batch(&queued(&[Action::Lock]));
        assert!(chain.unwritten.is_empty());
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(super::super::verify(&text), Ok(3), "{text}");
        let actions: Vec<String> = text
            .lines()
            .map(|l| serde_json::from_str::<Record>(l).unwrap().action)
            .collect();
        assert_eq!(actions, ["unlock", "sign", "lock"]);
        assert_eq!(chain.len, text.len() as u64);
    }

    #[test]
    fn a_closed_log_has_written_everything_recorded_before() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let log = AuditLog::open(&path).unwrap();
        for _ in 0..100 {
            log.record(
                &Event {
                    action: Action::Sign,
                    secret: Some("bg"),
                    allowed: true,
                    ..Default::default()
                },
                None,
            );
        }
        log.close();
        // After close nothing is queued any more (a warning says so instead).
        log.record(
            &Event {
                action: Action::Sign,
                ..Default::default()
            },
            None,
        );
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(super::super::verify(&text), Ok(100));
    }
}
