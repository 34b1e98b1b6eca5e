//! Where the token PIN comes from: an environment variable named in the config (CI), a 0600 file,
//! or the standard `pinentry` program (Assuan protocol). The PIN is held in zeroizing memory and
//! shown by `Debug` as redacted.

use std::fmt;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use zeroize::Zeroizing;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PinSource {
    /// The named environment variable (for CI; the variable's value is never logged).
    Env(String),
    /// A file, mode 0600, whose first line is the PIN.
    File(PathBuf),
    /// Ask a human through `pinentry` (the program named).
    Pinentry(String),
}

impl PinSource {
    pub fn describe(&self) -> String {
        match self {
            Self::Env(v) => format!("the environment variable {v}"),
            Self::File(p) => format!("the PIN file {}", p.display()),
            Self::Pinentry(p) => p.clone(),
        }
    }
}

/// A PIN in memory that is zeroized on drop.
pub struct Pin(Zeroizing<String>);

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pin(<redacted>)")
    }
}

impl Pin {
    pub fn expose_secret_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    pub fn to_auth_pin(&self) -> cryptoki::types::AuthPin {
        cryptoki::types::AuthPin::from(self.0.as_str())
    }
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum PinError {
    #[error("the PIN environment variable {0} named in the config is not set (or is empty)")]
    EnvMissing(String),
    #[error("cannot read the PIN file {path}: {reason}")]
    File { path: PathBuf, reason: String },
    #[error("the PIN file {path} can be read by others (mode {mode:o}); run `chmod 600 {path}`")]
    FileMode { path: PathBuf, mode: u32 },
    #[error(
        "{program} failed: {reason}; set pin_file or pin_env in the config for unattended use"
    )]
    Pinentry { program: String, reason: String },
    #[error("PIN entry was cancelled")]
    Cancelled,
}

/// PINs taken out of the environment at start-up ([`PinSource::take_from_env`]), in locked
/// memory, for the token to log in again later (a token pulled out and put back).
static TAKEN: std::sync::Mutex<Vec<(String, crate::secret::LockedBytes)>> =
    std::sync::Mutex::new(Vec::new());

impl PinSource {
    /// For an environment PIN: moves it from the environment into locked memory, so that no
    /// child the agent starts (approver, notify program, pinentry) inherits it and it is not in
    /// `/proc/PID/environ`. Call before any thread starts (it changes the environment). Other
    /// sources: nothing to do.
    pub fn take_from_env(&self) {
        let Self::Env(var) = self else {
            return;
        };
        if let Some(value) = std::env::var_os(var) {
            use std::os::unix::ffi::OsStrExt;
            let locked = crate::secret::LockedBytes::new(value.as_bytes());
            let mut value = value.into_encoded_bytes();
            zeroize::Zeroize::zeroize(&mut value);
            // The variable's text lives on in the process's original environment block (what
            // /proc/PID/environ shows) after it is unset: overwrite it there first.
            if let Ok(name) = std::ffi::CString::new(var.as_str()) {
                // SAFETY: still one thread; getenv returns null or the NUL-terminated value,
                // writable memory of the environment, which is overwritten within its length.
                unsafe {
                    let p = libc::getenv(name.as_ptr());
                    if !p.is_null() {
                        std::ptr::write_bytes(p, 0, libc::strlen(p));
                    }
                }
            }
            std::env::remove_var(var);
            let mut taken = TAKEN.lock().unwrap_or_else(|p| p.into_inner());
            taken.retain(|(v, _)| v != var);
            taken.push((var.clone(), locked));
        }
    }

    /// Obtains the PIN. `description` is shown by pinentry.
    pub fn read(&self, description: &str) -> Result<Pin, PinError> {
        match self {
            Self::Env(var) => {
                let taken = TAKEN.lock().unwrap_or_else(|p| p.into_inner());
                if let Some((_, locked)) = taken.iter().find(|(v, _)| v == var) {
                    return match std::str::from_utf8(locked.as_slice()) {
                        Ok(v) if !v.is_empty() => Ok(Pin(Zeroizing::new(v.to_owned()))),
                        _ => Err(PinError::EnvMissing(var.clone())),
                    };
                }
                drop(taken);
                match std::env::var(var) {
                    Ok(v) if !v.is_empty() => Ok(Pin(Zeroizing::new(v))),
                    _ => Err(PinError::EnvMissing(var.clone())),
                }
            }
            Self::File(path) => read_file(path),
            Self::Pinentry(program) => pinentry(program, description),
        }
    }
}

fn read_file(path: &PathBuf) -> Result<Pin, PinError> {
    let err = |reason: String| PinError::File {
        path: path.clone(),
        reason,
    };
    let meta = std::fs::metadata(path).map_err(|e| err(e.to_string()))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(PinError::FileMode {
            path: path.clone(),
            mode,
        });
    }
    let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?);
    let first = text.lines().next().unwrap_or("").trim_end_matches('\r');
    if first.is_empty() {
        return Err(err("the file is empty".into()));
    }
    Ok(Pin(Zeroizing::new(first.to_owned())))
}

/// Assuan percent-escaping for the text we send (`%`, CR, LF).
fn assuan_escape(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn hex_digit(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

fn assuan_unescape(s: &str) -> Zeroizing<String> {
    let bytes = s.as_bytes();
    let mut out = Zeroizing::new(Vec::with_capacity(bytes.len()));
    let mut i = 0;
    while i < bytes.len() {
        // Over bytes, not the str: `%` may be followed by a multi-byte character.
        if let (b'%', Some(&[hi, lo])) = (bytes[i], bytes.get(i + 1..i + 3)) {
            if let (Some(hi), Some(lo)) = (hex_digit(hi), hex_digit(lo)) {
                out.push(hi << 4 | lo);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    Zeroizing::new(String::from_utf8_lossy(&out).into_owned())
}

/// Runs one GETPIN exchange with a pinentry program (Assuan: each request answered by `OK`,
/// `ERR ...` or data lines `D ...`).
fn pinentry(program: &str, description: &str) -> Result<Pin, PinError> {
    let mut child = Command::new(program)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| PinError::Pinentry {
            program: program.to_owned(),
            reason: e.to_string(),
        })?;
    let result = converse(&mut child, program, description);
    // After an error or a cancel the program may not exit by itself: its stdin is closed now, so
    // a well-behaved one does within moments (a terminal pinentry restores the screen); then it
    // is killed. Every path reaps the child, so a long-running agent collects no zombies.
    if result.is_err() {
        let deadline = std::time::Instant::now() + std::time::Duration::from_millis(500);
        while matches!(child.try_wait(), Ok(None)) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let _ = child.kill();
    }
    let _ = child.wait();
    result
}

fn converse(
    child: &mut std::process::Child,
    program: &str,
    description: &str,
) -> Result<Pin, PinError> {
    let fail = |reason: String| PinError::Pinentry {
        program: program.to_owned(),
        reason,
    };
    let mut stdin = child.stdin.take().expect("piped");
    let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
    let mut line = Zeroizing::new(String::new());
    let expect_ok = |stdout: &mut BufReader<_>,
                     line: &mut String|
     -> Result<Option<Zeroizing<String>>, PinError> {
        let mut data = None;
        loop {
            line.clear();
            if stdout.read_line(line).map_err(|e| fail(e.to_string()))? == 0 {
                return Err(fail("it closed the connection".into()));
            }
            let l = line.trim_end();
            if l == "OK" || l.starts_with("OK ") {
                return Ok(data);
            } else if let Some(d) = l.strip_prefix("D ") {
                data = Some(assuan_unescape(d));
            } else if l.starts_with("ERR") {
                return Err(if l.contains("cancel") || l.contains("83886179") {
                    PinError::Cancelled
                } else {
                    fail(l.to_owned())
                });
            }
        }
    };
    expect_ok(&mut stdout, &mut line)?;
    let commands = [
        format!("SETDESC {}\n", assuan_escape(description)),
        "SETPROMPT PIN:\n".to_owned(),
        "SETTITLE apisec-agent\n".to_owned(),
    ];
    for c in &commands {
        stdin
            .write_all(c.as_bytes())
            .map_err(|e| fail(e.to_string()))?;
        expect_ok(&mut stdout, &mut line)?;
    }
    stdin
        .write_all(b"GETPIN\n")
        .map_err(|e| fail(e.to_string()))?;
    let pin = expect_ok(&mut stdout, &mut line)?;
    let _ = stdin.write_all(b"BYE\n");
    match pin {
        Some(p) if !p.is_empty() => Ok(Pin(p)),
        _ => Err(PinError::Cancelled),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn file_must_be_private_and_debug_is_redacted() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pin");
        std::fs::write(&p, "123456\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            PinSource::File(p.clone()).read(""),
            Err(PinError::FileMode { mode: 0o644, .. })
        ));
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        let pin = PinSource::File(p).read("").unwrap();
        assert_eq!(pin.expose_secret_bytes(), b"123456");
        assert_eq!(format!("{pin:?}"), "Pin(<redacted>)");
    }

    #[test]
    fn assuan_unescapes_percent_sequences() {
        assert_eq!(assuan_unescape("a%25b%0Ac").as_str(), "a%b\nc");
        assert_eq!(assuan_unescape("100%").as_str(), "100%");
        // Not escapes: a character after `%` (this panicked once), a sign, one digit at the end.
        assert_eq!(assuan_unescape("%\u{e9}x").as_str(), "%\u{e9}x");
        assert_eq!(assuan_unescape("%+1").as_str(), "%+1");
        assert_eq!(assuan_unescape("a%4").as_str(), "a%4");
        assert_eq!(assuan_unescape("%41").as_str(), "A");
    }

    /// A fake pinentry speaking Assuan, to check the exchange end to end.
    #[test]
    fn pinentry_exchange() {
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("pinentry");
        std::fs::write(
            &fake,
            "#!/bin/sh\necho 'OK ready'\nwhile read cmd rest; do case \"$cmd\" in \
             GETPIN) echo 'D 12%2534'; echo OK;; BYE) echo OK; exit 0;; *) echo OK;; esac; done\n",
        )
        .unwrap();
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o700)).unwrap();
        let pin = PinSource::Pinentry(fake.display().to_string())
            .read("PIN please")
            .unwrap();
        assert_eq!(pin.expose_secret_bytes(), b"12%34");
    }

    /// A pinentry whose dialog was cancelled and that does not exit by itself is closed, and
    /// reaped: no zombie per cancelled PIN prompt in a long-running agent.
    #[test]
    fn a_cancelled_pinentry_is_closed_and_reaped() {
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("pinentry");
        let pid_file = dir.path().join("pid");
        std::fs::write(
            &fake,
            format!(
                "#!/bin/sh\necho $$ > {}\necho 'OK ready'\nwhile read cmd rest; do case \"$cmd\" in \
                 GETPIN) echo 'ERR 83886179 Operation cancelled'; exec sleep 600;; *) echo OK;; \
                 esac; done\n",
                pid_file.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o700)).unwrap();
        let started = std::time::Instant::now();
        let err = PinSource::Pinentry(fake.display().to_string())
            .read("PIN please")
            .unwrap_err();
        assert!(matches!(err, PinError::Cancelled), "{err}");
        assert!(started.elapsed() < std::time::Duration::from_secs(30));
        let pid = std::fs::read_to_string(&pid_file).unwrap();
        let pid = pid.trim();
        let proc_entry = format!("/proc/{pid}");
        assert!(
            !std::path::Path::new(&proc_entry).exists(),
            "the pinentry {pid} still runs or was not reaped"
        );
    }
}
