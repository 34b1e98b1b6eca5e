//! The control directory: how a test drives the emulator while it runs.
//!
//! Files the test writes (all optional, re-read on every use):
//! * `touch`: `approve` (default), `deny` or `never`.
//! * `touch-delay-ms`: how long the "user" takes to touch (approve) or to
//!   give up (deny). Default 0 for approve, the touch timeout for deny.
//! * `touch-timeout-ms`: overrides `--touch-timeout-ms` (default 15000).
//! * `present`: `1` (default) card inserted, `0` card removed.
//! * `forget-touch`: present once: before its next command the card forgets its last touch, as
//!   when the 15 s of touch policy `cached` have passed (removed when done).
//!
//! Files the emulator writes:
//! * `touches`: number of accepted touches (integer).
//! * `touch-requests`: number of times the card blinked for a touch.
//! * `touch-waiting`: `1` while the card is blinking, else `0`.
//! * `connected`: `1` while the card is connected to vpcd, else `0`.

use crate::touch::TouchSensor;
use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// How often a waiting card re-reads the control files.
const POLL: Duration = Duration::from_millis(20);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TouchMode {
    Approve,
    Deny,
    Never,
}

#[derive(Debug, Clone)]
pub struct ControlDir {
    dir: PathBuf,
}

impl ControlDir {
    pub fn new(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        Ok(ControlDir {
            dir: dir.to_path_buf(),
        })
    }

    fn read(&self, name: &str) -> Option<String> {
        let text = std::fs::read_to_string(self.dir.join(name)).ok()?;
        Some(text.trim().to_ascii_lowercase())
    }

    fn read_ms(&self, name: &str) -> Option<Duration> {
        self.read(name)?.parse().ok().map(Duration::from_millis)
    }

    /// Writes via rename so a reader never sees a half-written file.
    pub fn write(&self, name: &str, value: &str) {
        let tmp = self.dir.join(format!(".{name}.tmp"));
        if std::fs::write(&tmp, value).is_ok() {
            let _ = std::fs::rename(&tmp, self.dir.join(name));
        }
    }

    /// Whether the one-shot file `name` was there (it is removed).
    pub fn take(&self, name: &str) -> bool {
        std::fs::remove_file(self.dir.join(name)).is_ok()
    }

    /// Adds one to an integer file and returns the new value.
    pub fn bump(&self, name: &str) -> u64 {
        let n = self.read(name).and_then(|s| s.parse().ok()).unwrap_or(0u64) + 1;
        self.write(name, &format!("{n}\n"));
        n
    }

    pub fn touch_mode(&self) -> TouchMode {
        match self.read("touch").as_deref() {
            Some("deny") => TouchMode::Deny,
            Some("never") => TouchMode::Never,
            _ => TouchMode::Approve,
        }
    }

    pub fn present(&self) -> bool {
        self.read("present").as_deref() != Some("0")
    }
}

/// The touch button, played by whatever the test writes into the control dir.
pub struct FileTouch {
    control: ControlDir,
    default_timeout: Duration,
}

impl FileTouch {
    pub fn new(control: ControlDir, default_timeout: Duration) -> Self {
        FileTouch {
            control,
            default_timeout,
        }
    }
}

impl TouchSensor for FileTouch {
    /// Blinks until the mode says touched (approve after its delay), given
    /// up (deny after its delay), or the timeout passes. Switching the file
    /// to `approve` during a `never` wait counts as a late touch.
    fn wait_for_touch(&mut self) -> bool {
        let c = &self.control;
        c.bump("touch-requests");
        c.write("touch-waiting", "1\n");
        let timeout = c
            .read_ms("touch-timeout-ms")
            .unwrap_or(self.default_timeout);
        let start = Instant::now();
        let touched = loop {
            let elapsed = start.elapsed();
            let delay = c.read_ms("touch-delay-ms");
            match c.touch_mode() {
                TouchMode::Approve if elapsed >= delay.unwrap_or(Duration::ZERO) => break true,
                TouchMode::Deny if elapsed >= delay.unwrap_or(timeout) => break false,
                _ => {}
            }
            if elapsed >= timeout {
                break false;
            }
            sleep(POLL.min(timeout.saturating_sub(elapsed)));
        };
        if touched {
            c.bump("touches");
        }
        c.write("touch-waiting", "0\n");
        touched
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup(timeout_ms: u64) -> (tempfile::TempDir, ControlDir, FileTouch) {
        let dir = tempfile::tempdir().unwrap();
        let c = ControlDir::new(dir.path()).unwrap();
        let t = FileTouch::new(c.clone(), Duration::from_millis(timeout_ms));
        (dir, c, t)
    }

    fn count(c: &ControlDir, name: &str) -> u64 {
        c.read(name).and_then(|s| s.parse().ok()).unwrap_or(0)
    }

    #[test]
    fn approve_is_the_default_and_counts_a_touch() {
        let (_d, c, mut t) = setup(5_000);
        let start = Instant::now();
        assert!(t.wait_for_touch());
        assert!(start.elapsed() < Duration::from_secs(1));
        assert_eq!(count(&c, "touches"), 1);
        assert_eq!(count(&c, "touch-requests"), 1);
        assert_eq!(c.read("touch-waiting").as_deref(), Some("0"));
    }

    #[test]
    fn approve_waits_for_its_delay() {
        let (_d, c, mut t) = setup(5_000);
        c.write("touch-delay-ms", "150");
        let start = Instant::now();
        assert!(t.wait_for_touch());
        assert!(start.elapsed() >= Duration::from_millis(150));
    }

    #[test]
    fn approve_slower_than_the_timeout_is_a_timeout() {
        let (_d, c, mut t) = setup(100);
        c.write("touch-delay-ms", "1000");
        assert!(!t.wait_for_touch());
        assert_eq!(count(&c, "touches"), 0);
    }

    #[test]
    fn deny_fails_after_the_delay_without_counting_a_touch() {
        let (_d, c, mut t) = setup(10_000);
        c.write("touch", "deny");
        c.write("touch-delay-ms", "50");
        let start = Instant::now();
        assert!(!t.wait_for_touch());
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(50) && took < Duration::from_secs(2));
        assert_eq!(count(&c, "touches"), 0);
        assert_eq!(count(&c, "touch-requests"), 1);
    }

    #[test]
    fn never_waits_for_the_full_timeout() {
        let (_d, c, mut t) = setup(10_000);
        c.write("touch", "never");
        c.write("touch-delay-ms", "0");
        c.write("touch-timeout-ms", "200");
        let start = Instant::now();
        assert!(!t.wait_for_touch());
        assert!(start.elapsed() >= Duration::from_millis(200));
    }

    #[test]
    fn a_late_approve_during_never_counts() {
        let (_d, c, mut t) = setup(5_000);
        c.write("touch", "never");
        let c2 = c.clone();
        let flip = std::thread::spawn(move || {
            sleep(Duration::from_millis(100));
            c2.write("touch", "approve");
        });
        assert!(t.wait_for_touch());
        flip.join().unwrap();
        assert_eq!(count(&c, "touches"), 1);
    }

    #[test]
    fn present_defaults_to_inserted() {
        let (_d, c, _t) = setup(1);
        assert!(c.present());
        c.write("present", "0\n");
        assert!(!c.present());
        c.write("present", "1");
        assert!(c.present());
    }
}
