//! `apisec-agent audit tail [-f] [--json]`: the log's last lines, then (with `-f`) every line as
//! the agent writes it. The log is followed across rotation: when its path names another file
//! (logrotate renamed it and the agent opened a new one) the rest of the old file is read for a
//! moment longer, for a batch the agent was writing as it was renamed, then the new one from its
//! start; a log truncated in place (`copytruncate`) is read again from its start.

use std::fs::File;
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, Instant};

use apisec_agent::audit;

use super::{CliError, CmdResult};

/// How often the log is looked at for new lines.
const POLL: Duration = Duration::from_millis(200);
/// How long a rotated-away file is still read.
const GRACE: Duration = Duration::from_secs(2);

/// Where the printed lines go; a reader that went away (`| head`) ends the command quietly.
/// Records are numbered (`seq`): a gap (lines written and rotated away between two looks, a log
/// replaced) is said on standard error, so that nothing goes missing unseen.
struct Printer {
    json: bool,
    last_seq: Option<u64>,
}

impl Printer {
    /// Prints one line; false once standard output is closed.
    fn line(&mut self, line: &str) -> Result<bool, CliError> {
        let record = serde_json::from_str::<audit::Record>(line).ok();
        if let Some(r) = &record {
            match self.last_seq {
                Some(last) if r.seq > last + 1 => eprintln!(
                    "apisec-agent: records {} to {} are not shown (written and rotated away \
                     between two looks); `apisec-agent audit verify` checks the files",
                    last + 1,
                    r.seq - 1
                ),
                Some(last) if r.seq <= last => eprintln!(
                    "apisec-agent: the log starts again at record {} (after {last}): another \
                     log was put in its place",
                    r.seq
                ),
                _ => {}
            }
            self.last_seq = Some(r.seq);
        }
        let text = match (self.json, &record) {
            (true, Some(_)) => line.to_owned(),
            (false, Some(r)) => audit::render(r),
            // Not a record: said on standard error for a program reading JSON lines...
            (true, None) => {
                eprintln!(
                    "apisec-agent: a line of the log is not a record (skipped): {}",
                    apisec_agent::log::escaped(line)
                );
                return Ok(true);
            }
            // ...shown escaped to a human, so that it cannot move the terminal's cursor or
            // reorder what is shown.
            (false, None) => format!("(unreadable line) {}", apisec_agent::log::escaped(line)),
        };
        let mut out = std::io::stdout().lock();
        match writeln!(out, "{text}").and_then(|()| out.flush()) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == ErrorKind::BrokenPipe => Ok(false),
            Err(e) => Err(CliError::new(format!(
                "cannot write to standard output: {e}"
            ))),
        }
    }
}

/// One file being read: its complete lines are printed, a line still being written waits.
struct Reader {
    file: File,
    /// (device, inode): which file this is.
    id: (u64, u64),
    /// Bytes read so far.
    offset: u64,
    partial: Vec<u8>,
}

fn open(path: &Path) -> Result<Reader, CliError> {
    let file = File::open(path)
        .map_err(|e| CliError::new(format!("cannot read {}: {e}", path.display())))?;
    let meta = file
        .metadata()
        .map_err(|e| CliError::new(format!("cannot read {}: {e}", path.display())))?;
    Ok(Reader {
        file,
        id: (meta.dev(), meta.ino()),
        offset: 0,
        partial: Vec::new(),
    })
}

impl Reader {
    /// The complete lines written since the last call.
    fn new_lines(&mut self) -> std::io::Result<Vec<String>> {
        let mut bytes = Vec::new();
        self.file.read_to_end(&mut bytes)?;
        self.offset += bytes.len() as u64;
        self.partial.extend_from_slice(&bytes);
        let Some(end) = self.partial.iter().rposition(|&b| b == b'\n') else {
            return Ok(Vec::new());
        };
        let complete: Vec<u8> = self.partial.drain(..=end).collect();
        Ok(String::from_utf8_lossy(&complete)
            .lines()
            .map(str::to_owned)
            .collect())
    }

    /// Back to the start, for a file truncated in place.
    fn rewind(&mut self) -> std::io::Result<()> {
        self.file.seek(SeekFrom::Start(0))?;
        self.offset = 0;
        self.partial.clear();
        Ok(())
    }
}

/// Prints the last `lines` lines of the log at `path`, then, with `follow`, every new one.
pub fn tail(path: &Path, lines: usize, follow: bool, json: bool) -> CmdResult {
    let mut printer = Printer {
        json,
        last_seq: None,
    };
    let mut current = open(path)?;
    let read_error =
        |e: std::io::Error| CliError::new(format!("cannot read {}: {e}", path.display()));
    let existing = current.new_lines().map_err(read_error)?;
    for line in &existing[existing.len().saturating_sub(lines)..] {
        if !printer.line(line)? {
            return Ok(());
        }
    }
    if !follow {
        return Ok(());
    }
    // A file renamed away, still read until GRACE has passed.
    let mut rotated: Option<(Reader, Instant)> = None;
    loop {
        let mut batch = Vec::new();
        if let Some((old, since)) = &mut rotated {
            batch.extend(old.new_lines().map_err(read_error)?);
            if since.elapsed() > GRACE {
                rotated = None;
            }
        }
        batch.extend(current.new_lines().map_err(read_error)?);
        for line in &batch {
            if !printer.line(line)? {
                return Ok(());
            }
        }
        match std::fs::metadata(path) {
            Ok(meta) if (meta.dev(), meta.ino()) != current.id => {
                let old = std::mem::replace(&mut current, open(path)?);
                rotated = Some((old, Instant::now()));
                continue;
            }
            Ok(meta) if meta.len() < current.offset => current.rewind().map_err(read_error)?,
            // Renamed away and not made again yet: the agent makes it at its next record.
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(read_error(e)),
            Ok(_) => {}
        }
        std::thread::sleep(POLL);
    }
}
