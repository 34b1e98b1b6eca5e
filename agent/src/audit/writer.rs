//! The writer thread. Decisions arrive in a byte queue ([`super::event`]); the writer swaps the
//! queue for its spare one (both keep their capacity, so a steady agent allocates nothing here),
//! writes the batch's lines and fsyncs: at once when the log was quiet, at most every 50 ms under
//! load. A signature never waits for the disk, and a crash loses at most the last 50 ms of lines.
//!
//! The log fails closed: it is opened without following a symbolic link and must be a regular
//! file of the agent's uid, mode 0600 (a link to `/dev/null` would discard every record); before
//! each batch the writer checks that the path still names the file it writes, and when it was
//! renamed (logrotate) or replaced it opens a new file at the path and goes on with the same chain,
//! so `audit verify` checks the files in turn. While a write fails, [`AuditLog::failure`] says why,
//! and the agent refuses to sign (`[audit] on_failure = "refuse"`, the default) until the writer,
//! which retries every second, has written everything kept in memory.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::event::{self, Event, Reader};
use super::file::{check_existing, open_for_append};
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

/// How often a writer that could not write tries again, with or without new decisions.
const RETRY_EVERY: Duration = Duration::from_secs(1);

/// Where the chain continues: the last complete line's `seq` and `hash`. A torn last line (the
/// agent died mid-write) is cut off first, so that new lines follow a valid one instead of
/// leaving `verify` stuck on a fragment forever.
fn resume(path: &Path) -> std::io::Result<(u64, String)> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = match OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
    {
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
    /// Why the last write failed, while decisions wait in memory for the log; `None` once all
    /// of them are written.
    failure: Mutex<Option<String>>,
    /// Whether `failure` is set: read on every signature without taking the lock.
    failing: AtomicBool,
}

impl Pending {
    fn set_failure(&self, failure: Option<String>) {
        let mut slot = self.failure.lock().unwrap_or_else(|p| p.into_inner());
        self.failing.store(failure.is_some(), Ordering::Release);
        *slot = failure;
    }
}

/// Handle to the writer thread.
#[derive(Clone)]
pub struct AuditLog {
    pending: Arc<Pending>,
    writer: Arc<Mutex<Option<std::thread::JoinHandle<()>>>>,
}

/// The chain's state and the file, owned by the writer thread.
struct Chain {
    path: PathBuf,
    file: std::fs::File,
    /// The file's length after the last complete write: a failed write is cut back to it.
    len: u64,
    seq: u64,
    prev: String,
    out: Vec<u8>,
    /// Encoded decisions whose lines could not be written yet.
    unwritten: Vec<u8>,
    /// How much of `unwritten` a warning has already told of.
    reported: usize,
    /// Where each line of `out` ends, with its `seq` and hash: for the journal's copies.
    lines: Vec<(usize, u64, [u8; 64])>,
    journal: Option<super::journal::Journal>,
}

impl Chain {
    /// Makes sure the path still names the file being written: after a rename (logrotate) or a
    /// replacement a new file is opened at the path, and the chain goes on in it.
    fn follow_path(&mut self) -> std::io::Result<()> {
        let open = self.file.metadata()?;
        match std::fs::symlink_metadata(&self.path) {
            Ok(m) if m.dev() == open.dev() && m.ino() == open.ino() => return Ok(()),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let file = open_for_append(&self.path)?;
        self.len = file.metadata()?.len();
        self.file = file;
        crate::info!(
            "audit log {} was moved or replaced; the chain goes on in a new file there (line \
             {} follows the last line of the old one)",
            self.path.display(),
            self.seq.wrapping_add(1)
        );
        Ok(())
    }

    /// Writes the lines of `batch` (after any decisions a failed write left over); says why it
    /// could not.
    fn write_batch(&mut self, batch: &[u8]) -> Result<(), String> {
        if let Err(e) = self.follow_path() {
            self.keep(batch, &e.to_string());
            return Err(e.to_string());
        }
        if self.unwritten.is_empty() {
            self.write_events(batch)
        } else {
            let mut all = std::mem::take(&mut self.unwritten);
            all.extend_from_slice(batch);
            self.write_events(&all)
        }
    }

    /// Keeps `batch` (after what is already kept) for the next write. Warns once per new
    /// decision kept, not at every retry.
    fn keep(&mut self, batch: &[u8], why: &str) {
        let count = Reader::new(batch).count();
        if self.unwritten.len() + batch.len() <= MAX_UNWRITTEN {
            self.unwritten.extend_from_slice(batch);
            let new = self.unwritten.len() > self.reported;
            self.reported = self.unwritten.len();
            if count > 0 && new {
                crate::warn!(
                    "cannot append to the audit log: {why}; {count} decision(s) kept in memory, \
                     written once the log can be written"
                );
            }
        } else {
            crate::warn!(
                "cannot append to the audit log: {why}; {count} decision(s) are lost (more than \
                 {} MiB waited); free space for the log",
                MAX_UNWRITTEN >> 20
            );
        }
    }

    /// All of the lines or none: a write that fails (a full disk) is cut back, the chain is
    /// rewound, and the decisions are kept for the next write, so the log never holds a torn
    /// line or a `prev` naming a line that is not there.
    fn write_events(&mut self, batch: &[u8]) -> Result<(), String> {
        if self.out.capacity() > KEEP_CAPACITY {
            self.out = Vec::new();
        }
        self.out.clear();
        self.lines.clear();
        let (seq_before, prev_before) = (self.seq, self.prev.clone());
        let mut events = Reader::new(batch);
        for event in events.by_ref() {
            // Wraps rather than panics on a log whose last line was edited to the largest
            // sequence number (verify reports that log).
            self.seq = self.seq.wrapping_add(1);
            let hash = super::line::append(&mut self.out, self.seq, &event, &self.prev);
            if self.journal.is_some() {
                self.lines.push((self.out.len(), self.seq, hash));
            }
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
            Ok(()) => {
                self.len += self.out.len() as u64;
                self.reported = 0;
                if let Some(journal) = &mut self.journal {
                    let mut start = 0;
                    for (end, seq, hash) in &self.lines {
                        journal.send(&self.out[start..*end], *seq, hash);
                        start = *end;
                    }
                }
                Ok(())
            }
            Err(e) => {
                let _ = self.file.set_len(self.len);
                self.seq = seq_before;
                self.prev = prev_before;
                self.keep(batch, &e.to_string());
                Err(e.to_string())
            }
        }
    }
}

impl AuditLog {
    /// Opens (creating 0600) the log and continues its chain from its last line. Refuses a
    /// path that is a symbolic link, not a regular file, not the agent's, or readable by others.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        Self::open_with_journal(path, None)
    }

    /// [`AuditLog::open`], also sending every line to the journal's socket `journal`.
    pub fn open_with_journal(path: &Path, journal: Option<&Path>) -> std::io::Result<Self> {
        let journal = match journal {
            Some(socket) => Some(super::journal::Journal::open(socket).map_err(|e| {
                std::io::Error::new(
                    e.kind(),
                    format!("cannot reach the journal at {}: {e}", socket.display()),
                )
            })?),
            None => None,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        check_existing(path)?;
        let (seq, prev) = resume(path)?;
        let file = open_for_append(path)?;
        let len = file.metadata()?.len();
        let pending = Arc::new(Pending {
            queue: Mutex::new(Vec::new()),
            wake: Condvar::new(),
            idle: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            failure: Mutex::new(None),
            failing: AtomicBool::new(false),
        });
        let shared = Arc::clone(&pending);
        let chain = Chain {
            path: path.to_owned(),
            file,
            len,
            seq,
            prev,
            out: Vec::new(),
            unwritten: Vec::new(),
            reported: 0,
            lines: Vec::new(),
            journal,
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

    /// Why the log cannot be written now, while it cannot (decisions wait in memory).
    pub fn failure(&self) -> Option<String> {
        if !self.pending.failing.load(Ordering::Acquire) {
            return None;
        }
        self.pending
            .failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
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
                let retry = !chain.unwritten.is_empty();
                let wait = if dirty {
                    SYNC_EVERY.saturating_sub(last_sync.elapsed())
                } else if retry {
                    RETRY_EVERY
                } else {
                    Duration::from_secs(3600)
                };
                if (dirty || retry) && wait.is_zero() {
                    break;
                }
                if retry && !dirty {
                    shared.idle.store(true, Ordering::Release);
                    let (q, timeout) = shared
                        .wake
                        .wait_timeout(queue, wait)
                        .expect("audit queue poisoned");
                    queue = q;
                    shared.idle.store(false, Ordering::Release);
                    if timeout.timed_out() {
                        break;
                    }
                    continue;
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
        if !batch.is_empty() || !chain.unwritten.is_empty() {
            let result = chain.write_batch(&batch);
            shared.set_failure(match result {
                Ok(()) if chain.unwritten.is_empty() => None,
                Ok(()) => Some("decisions wait to be written".into()),
                Err(why) => Some(why),
            });
            batch.clear();
            if batch.capacity() > KEEP_CAPACITY {
                batch = Vec::new();
            }
            dirty = true;
        }
        if dirty && (closed || last_sync.elapsed() >= SYNC_EVERY) {
            if let Err(e) = chain.file.sync_data() {
                crate::warn!("cannot fsync the audit log: {e}");
                shared.set_failure(Some(format!("fsync failed: {e}")));
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
#[path = "writer_tests.rs"]
mod tests;
