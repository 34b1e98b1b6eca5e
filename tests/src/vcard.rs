//! The virtual YubiKey (`apisec-vcard`, tests/vcard) as a test fixture: started on the first
//! vpcd reader ("Yubico YubiKey vpcd 00 00") of the private pcscd that
//! `tests/vcard/scripts/with-pcscd.sh` runs, driven through its control directory (the test
//! plays the user: touch or not, pull the card), and inspected through its state file.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::binary;

pub const PCSCD_SOCKET: &str = "/run/pcscd/pcscd.comm";

/// The emulator process; killed (by its own pid) when dropped.
pub struct VCard {
    child: Child,
    dir: PathBuf,
    pub serial: u32,
}

impl VCard {
    /// Starts a factory-fresh card (PIN 123456, PUK 12345678, 3 tries) with short touch
    /// time-outs, in `dir`, and waits until pcscd offers it.
    pub fn start(dir: &Path, serial: u32) -> Self {
        assert!(
            Path::new(PCSCD_SOCKET).exists(),
            "pcscd is not running ({PCSCD_SOCKET} missing): run these tests under \
             tests/vcard/scripts/with-pcscd.sh (scripts/test.sh does)"
        );
        fs::create_dir_all(dir).unwrap();
        let log = fs::File::create(dir.join("emulator.log")).unwrap();
        let child = Command::new(binary("apisec-vcard"))
            .arg("--control")
            .arg(dir.join("ctl"))
            .arg("--state")
            .arg(dir.join("card.json"))
            .args(["--serial", &serial.to_string()])
            .args(["--touch-timeout-ms", "1500"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start apisec-vcard");
        let card = Self {
            child,
            dir: dir.to_owned(),
            serial,
        };
        card.wait_usable(Duration::from_secs(20));
        card
    }

    pub fn control(&self) -> PathBuf {
        self.dir.join("ctl")
    }

    /// Writes a control file atomically (the emulator re-reads it on every use).
    pub fn set(&self, name: &str, value: &str) {
        fs::create_dir_all(self.control()).unwrap();
        let tmp = self.control().join(format!(".{name}.set"));
        fs::write(&tmp, value).unwrap();
        fs::rename(tmp, self.control().join(name)).unwrap();
    }

    /// As if a while had passed since the last touch: the card forgets it before its next
    /// command (a `cached` touch no longer counts), and the `touches` counter starts again at 0.
    pub fn forget_touches(&self) {
        self.set("forget-touch", "1");
        self.set("touches", "0");
    }

    /// A counter the emulator writes (`touches`, `touch-requests`, `touch-waiting`).
    pub fn count(&self, name: &str) -> u64 {
        fs::read_to_string(self.control().join(name))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
    }

    /// The card's persistent state (keys, PIN counters), as the emulator saved it.
    pub fn state(&self) -> serde_json::Value {
        let text = fs::read_to_string(self.dir.join("card.json")).expect("card state");
        serde_json::from_str(&text).expect("card state JSON")
    }

    pub fn pin_tries_left(&self) -> u64 {
        self.state()["pin"]["tries_left"].as_u64().unwrap()
    }

    /// The private scalar of the key in `slot` ("82"), straight from the emulator's state.
    pub fn private_key(&self, slot: &str) -> Vec<u8> {
        let hex = self.state()["slots"][slot]["private_key"]
            .as_str()
            .unwrap_or_else(|| panic!("no key in slot {slot}"))
            .to_owned();
        hex::decode(hex).unwrap()
    }

    /// Waits for `touch-waiting` to say the card blinks.
    pub fn wait_touch_waiting(&self, limit: Duration) {
        let start = Instant::now();
        while self.count("touch-waiting") != 1 {
            assert!(start.elapsed() < limit, "the card never waited for a touch");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until the card answers through pcscd. Opening it resets the card, so call this only
    /// when nobody else holds state on it (at start, after re-insertion).
    pub fn wait_usable(&self, limit: Duration) {
        let start = Instant::now();
        loop {
            match yubikey::YubiKey::open_by_serial(yubikey::Serial(self.serial)) {
                Ok(_) => return,
                Err(e) => assert!(
                    start.elapsed() < limit,
                    "the virtual card is not seen through pcscd after {limit:?}: {e:?}\n{}",
                    self.log()
                ),
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("emulator.log")).unwrap_or_default()
    }
}

impl Drop for VCard {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- emulator log ---\n{}--- end ---", self.log());
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        // pcscd polls vpcd about every 400 ms; a card started before it saw this one leave
        // would be missed (tests/vcard/README.md).
        std::thread::sleep(Duration::from_millis(1200));
    }
}
