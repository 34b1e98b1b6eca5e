//! Helpers for the pcscd integration tests: run the emulator binary as a
//! child, drive its control directory, and find its reader through PC/SC.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};
use yubikey::{reader::Context, YubiKey};

pub const PCSCD_SOCKET: &str = "/run/pcscd/pcscd.comm";

/// vpcd port the tests use; 35963 is the reader's "00 00" slot.
pub fn port() -> u16 {
    std::env::var("APISEC_VCARD_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(35963)
}

/// Fails loudly instead of skipping: these tests are opt-in (`--ignored`),
/// so reaching here without pcscd is a setup mistake worth seeing.
pub fn require_pcscd() {
    assert!(
        Path::new(PCSCD_SOCKET).exists(),
        "pcscd is not running ({PCSCD_SOCKET} missing); use scripts/with-pcscd.sh"
    );
}

/// The emulator process, killed (by its own pid) when dropped.
pub struct Card {
    child: Child,
    pub dir: tempfile::TempDir,
}

impl Card {
    pub fn start(extra: &[&str]) -> Card {
        let dir = tempfile::tempdir().unwrap();
        Card::start_in(dir, extra)
    }

    /// Starts on an existing directory (to test restarts with the same state).
    pub fn start_in(dir: tempfile::TempDir, extra: &[&str]) -> Card {
        let control = dir.path().join("ctl");
        let state = dir.path().join("state.json");
        let log = std::fs::File::create(dir.path().join("emulator.log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_apisec-vcard"))
            .arg("--port")
            .arg(port().to_string())
            .arg("--control")
            .arg(&control)
            .arg("--state")
            .arg(&state)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn apisec-vcard");
        Card { child, dir }
    }

    pub fn control(&self) -> PathBuf {
        self.dir.path().join("ctl")
    }

    pub fn state_file(&self) -> PathBuf {
        self.dir.path().join("state.json")
    }

    pub fn set(&self, name: &str, value: &str) {
        std::fs::create_dir_all(self.control()).unwrap();
        let tmp = self.control().join(format!(".{name}.set"));
        std::fs::write(&tmp, value).unwrap();
        std::fs::rename(tmp, self.control().join(name)).unwrap();
    }

    pub fn count(&self, name: &str) -> u64 {
        std::fs::read_to_string(self.control().join(name))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("emulator.log")).unwrap_or_default()
    }

    /// Stops the process but keeps the directory (state file) for a restart.
    pub fn stop(mut self) -> tempfile::TempDir {
        self.kill_and_settle();
        let dir = tempfile::tempdir().unwrap();
        std::mem::replace(&mut self.dir, dir)
    }
}

impl Drop for Card {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- emulator log ---\n{}--- end ---", self.log());
        }
        self.kill_and_settle();
    }
}

impl Card {
    /// Kills the process, then gives pcscd time to poll and see the reader
    /// empty: it polls vpcd about every 400 ms, and a next card that
    /// connects before that poll is missed (pcscd keeps saying "no card").
    fn kill_and_settle(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
            sleep(Duration::from_millis(1200));
        }
    }
}

/// Reader names pcscd currently lists with a card that answers as a YubiKey.
pub fn open_virtual_yubikey() -> yubikey::Result<YubiKey> {
    let mut ctx = Context::open()?;
    let mut last = yubikey::Error::NotFound;
    for reader in ctx.iter()? {
        if !reader.name().contains(&format!(" 00 0{}", port() - 35963)) {
            continue;
        }
        match reader.open() {
            Ok(yk) => return Ok(yk),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Polls until the card answers through pcscd; returns it and how long it took.
pub fn wait_for_card(limit: Duration) -> (YubiKey, Duration) {
    let start = Instant::now();
    loop {
        match open_virtual_yubikey() {
            Ok(yk) => return (yk, start.elapsed()),
            Err(e) if start.elapsed() > limit => panic!("card not seen in {limit:?}: {e:?}"),
            Err(_) => sleep(Duration::from_millis(50)),
        }
    }
}

/// Polls until no card answers on our reader; returns how long it took.
pub fn wait_for_absence(limit: Duration) -> Duration {
    let start = Instant::now();
    loop {
        match open_virtual_yubikey() {
            Err(_) => return start.elapsed(),
            Ok(_) if start.elapsed() > limit => panic!("card still present after {limit:?}"),
            Ok(_) => sleep(Duration::from_millis(50)),
        }
    }
}
