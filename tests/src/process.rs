//! Running the binaries and other commands, and checking what they did: `binary`, `run_with_stdin`,
//! `as_nobody`, `as_other_uid`, `stdout`/`stderr`, `assert_ok`/`assert_fails_with`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::env::Env;

/// `target/debug/NAME` (or `$APISEC_BIN_DIR/NAME`), checked to exist.
pub fn binary(name: &str) -> PathBuf {
    let dir = match std::env::var_os("APISEC_BIN_DIR") {
        Some(d) => PathBuf::from(d),
        None => {
            let exe = std::env::current_exe().expect("test executable path");
            exe.parent()
                .and_then(Path::parent)
                .expect("target/debug")
                .to_owned()
        }
    };
    let p = dir.join(name);
    assert!(
        p.exists(),
        "{} is missing: run `cargo build --workspace --bins --lib` before the tests",
        p.display()
    );
    p
}

pub fn run_with_stdin(cmd: &mut Command, stdin: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    {
        let mut i = child.stdin.take().unwrap();
        let _ = i.write_all(stdin);
    }
    child.wait_with_output().expect("wait")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[track_caller]
pub fn assert_ok(o: &Output, what: &str) {
    assert!(
        o.status.success(),
        "{what} failed ({}):\nstdout: {}\nstderr: {}",
        o.status,
        stdout(o),
        stderr(o)
    );
}

#[track_caller]
pub fn assert_fails_with(o: &Output, code: i32, needle: &str) {
    assert_eq!(
        o.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        stdout(o),
        stderr(o)
    );
    assert!(
        stderr(o).contains(needle),
        "stderr does not mention {needle:?}: {}",
        stderr(o)
    );
}

/// Runs `program args` as uid/gid 65534 with this test's environment.
pub fn as_nobody(env: &Env, program: &Path, args: &[&str]) -> Command {
    let template = env.agent_cmd();
    let mut cmd = Command::new("setpriv");
    cmd.env_clear();
    for (k, v) in template.get_envs() {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(program)
        .args(args);
    cmd
}

/// Runs `program` as uid/gid 65534 keeping CAP_DAC_OVERRIDE: it reaches the 0700 socket
/// directory (and a test's files) as a bot admitted by `allowed_uids` would through the socket
/// group, while the agent sees another uid on the socket.
pub fn as_other_uid(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.args([
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--inh-caps=+dac_override",
        "--ambient-caps=+dac_override",
    ])
    .arg(program);
    cmd
}

/// A child process killed, and reaped, when this is dropped (a test's helper that runs until
/// the test ends, however it ends).
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `cmd` with its standard output piped and waits for its first line (a helper saying
/// it is ready, or what it found).
pub fn spawn_for_first_line(cmd: &mut Command) -> (KillOnDrop, String) {
    use std::io::BufRead;
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the helper");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("piped"))
        .read_line(&mut line)
        .expect("read the helper's first line");
    (KillOnDrop(child), line.trim().to_owned())
}

/// A small tmpfs (64 KiB, mode 0700) mounted at `dir` (made here) to fill up; unmounted when
/// dropped. Needs root.
pub struct SmallTmpfs(PathBuf);

impl SmallTmpfs {
    pub fn mount(dir: &Path) -> Self {
        std::fs::create_dir(dir).expect("the mount point");
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs"])
            .arg(dir)
            .status()
            .expect("mount");
        assert!(status.success(), "mount tmpfs (the tests run as root)");
        Self(dir.to_owned())
    }
}

impl Drop for SmallTmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// `systemd-analyze --user verify UNITS` in `dir` (its HOME, and `dir/run` as the runtime
/// directory `--user` needs, %t, even with no user manager running), warnings shown
/// (`SYSTEMD_LOG_LEVEL=notice`): a unit passes when it succeeds and prints nothing.
pub fn systemd_verify_user(dir: &Path, units: &[PathBuf]) -> Output {
    use std::os::unix::fs::PermissionsExt;
    let runtime = dir.join("run");
    if !runtime.exists() {
        std::fs::create_dir(&runtime).unwrap();
        std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    Command::new("systemd-analyze")
        .args(["--user", "verify"])
        .args(units)
        .env("XDG_RUNTIME_DIR", &runtime)
        .env("HOME", dir)
        .env("SYSTEMD_LOG_LEVEL", "notice")
        .current_dir(dir)
        .output()
        .expect("systemd-analyze (apt-get install systemd; .ci/run installs it)")
}
