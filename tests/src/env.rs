//! The `Env` world of one test: its temp dir, SoftHSM token, home and config, the agent it starts
//! and stops, the scripted approver, and waiting on the agent's log and audit log.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::process::{assert_ok, binary, run_with_stdin};
use crate::wait::wait_until;

pub const PIN: &str = "123456";
pub const SO_PIN: &str = "65432100";
pub const TOKEN_LABEL: &str = "apisec-test";
pub const KEY_LABEL: &str = "apisec-wrap";

/// The SoftHSM module: `$APISEC_TEST_PKCS11_MODULE`, else Debian's path.
pub fn softhsm_module() -> PathBuf {
    let p = std::env::var_os("APISEC_TEST_PKCS11_MODULE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/lib/softhsm/libsofthsm2.so"));
    assert!(
        p.exists(),
        "SoftHSM module {} is missing: install it (apt-get install softhsm2) or set \
         APISEC_TEST_PKCS11_MODULE; .ci/run installs it",
        p.display()
    );
    p
}

/// One test's world: token, home, config, store, socket, approver, and the agent once started.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub home: PathBuf,
    pub softhsm_conf: PathBuf,
    pub pin_file: PathBuf,
    pub config: PathBuf,
    pub socket: PathBuf,
    pub approver: PathBuf,
    pub agent_log: PathBuf,
    agent: Option<Child>,
}

impl Default for Env {
    fn default() -> Self {
        Self::new()
    }
}

impl Env {
    /// A fresh SoftHSM token and an empty home. Nothing is initialised yet.
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("apisec-e2e-")
            .tempdir()
            .expect("tempdir");
        let root = dir.path().to_owned();
        let home = root.join("home");
        let tokens = root.join("tokens");
        for d in [&home, &tokens, &root.join("run")] {
            fs::create_dir_all(d).unwrap();
        }
        fs::set_permissions(root.join("run"), fs::Permissions::from_mode(0o700)).unwrap();
        let softhsm_conf = root.join("softhsm2.conf");
        fs::write(
            &softhsm_conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                tokens.display()
            ),
        )
        .unwrap();
        let out = Command::new("softhsm2-util")
            .env("SOFTHSM2_CONF", &softhsm_conf)
            .args([
                "--init-token",
                "--free",
                "--label",
                TOKEN_LABEL,
                "--pin",
                PIN,
                "--so-pin",
                SO_PIN,
            ])
            .output()
            .expect("softhsm2-util (apt-get install softhsm2)");
        assert!(
            out.status.success(),
            "softhsm2-util: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let pin_file = root.join("pin");
        fs::write(&pin_file, format!("{PIN}\n")).unwrap();
        fs::set_permissions(&pin_file, fs::Permissions::from_mode(0o600)).unwrap();
        let approver = root.join("approver.sh");
        fs::write(
            &approver,
            APPROVER_SCRIPT.replace("@DIR@", &root.display().to_string()),
        )
        .unwrap();
        fs::set_permissions(&approver, fs::Permissions::from_mode(0o700)).unwrap();
        let env = Self {
            config: home.join(".config/apisec/config.toml"),
            socket: root.join("run/apisec/agent.sock"),
            agent_log: root.join("agent.log"),
            home,
            softhsm_conf,
            pin_file,
            approver,
            dir,
            agent: None,
        };
        env.set_approver("approve");
        env
    }

    /// A world made earlier by `tests/fixtures/compat/make.sh` (a SoftHSM token, home, config,
    /// store and audit log as a release wrote them), copied into a fresh temp dir with the modes
    /// such files have on a user's disk (git keeps none).
    pub fn from_fixture(fixture: &Path) -> Self {
        let env = Self::new();
        let root = env.root().to_owned();
        fs::remove_dir_all(root.join("tokens")).unwrap();
        fs::remove_dir_all(&env.home).unwrap();
        for part in ["home", "tokens"] {
            let out = Command::new("cp")
                .arg("-a")
                .arg(fixture.join(part))
                .arg(&root)
                .output()
                .expect("cp");
            assert!(out.status.success(), "copy the fixture's {part}: {out:?}");
        }
        let out = Command::new("chmod")
            .args(["-R", "go-rwx"])
            .arg(root.join("home"))
            .arg(root.join("tokens"))
            .output()
            .expect("chmod");
        assert!(out.status.success(), "{out:?}");
        let config = fs::read_to_string(&env.config).expect("the fixture has a config");
        fs::write(
            &env.config,
            config.replace("@ROOT@", &root.display().to_string()),
        )
        .unwrap();
        env
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// The environment every process of this test gets (and nothing secret).
    fn apply(&self, cmd: &mut Command) {
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.home)
            .env("XDG_CONFIG_HOME", self.home.join(".config"))
            .env("XDG_DATA_HOME", self.home.join(".local/share"))
            .env("XDG_STATE_HOME", self.home.join(".local/state"))
            .env("XDG_RUNTIME_DIR", self.root().join("run"))
            .env("SOFTHSM2_CONF", &self.softhsm_conf)
            .env("APISEC_AUTH_SOCK", &self.socket)
            // Read only by tests/faulty-pkcs11, when a test's config names it.
            .env("APISEC_FAULTY_PKCS11_MODULE", softhsm_module())
            .env("APISEC_FAULTY_PKCS11_CONTROL", self.token_faults_file());
    }

    /// `program` with this test's environment (as the agent and the CLI get it).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        self.apply(&mut c);
        c
    }

    /// Lets the fixture own an agent started some other way (killed at drop, waited for by
    /// [`Env::wait_agent_exit`]).
    pub fn adopt_agent(&mut self, child: Child) {
        self.agent = Some(child);
    }

    /// Appends `[approval] notify = PROGRAM` to the config written by [`Env::init`].
    pub fn set_notify(&self, program: &Path) {
        let mut config = fs::read_to_string(&self.config).expect("config (run init first)");
        assert!(
            !config.contains("[approval]"),
            "the config already has an [approval] section:\n{config}"
        );
        config.push_str(&format!(
            "\n[approval]\nnotify = {:?}\n",
            program.display().to_string()
        ));
        fs::write(&self.config, config).unwrap();
    }

    pub fn agent_cmd(&self) -> Command {
        let mut c = Command::new(binary("apisec-agent"));
        self.apply(&mut c);
        c
    }

    pub fn cli_cmd(&self) -> Command {
        let mut c = Command::new(binary("apisec"));
        self.apply(&mut c);
        c
    }

    /// Runs `apisec-agent ARGS` with `stdin` fed in.
    pub fn agent_with_stdin(&self, args: &[&str], stdin: &[u8]) -> Output {
        run_with_stdin(self.agent_cmd().args(args), stdin)
    }

    pub fn agent(&self, args: &[&str]) -> Output {
        self.agent_with_stdin(args, b"")
    }

    pub fn cli(&self, args: &[&str]) -> Output {
        run_with_stdin(self.cli_cmd().args(args), b"")
    }

    pub fn cli_with_stdin(&self, args: &[&str], stdin: &[u8]) -> Output {
        run_with_stdin(self.cli_cmd().args(args), stdin)
    }

    /// Starts `apisec sign NAME --method POST --path PATH --body BODY` without waiting for it: a
    /// client that waits on a step-up while the test looks at the approver, or hangs up.
    pub fn spawn_post(&self, name: &str, path: &str, body: &Path) -> std::process::Child {
        self.cli_cmd()
            .args(["sign", name, "--method", "POST", "--path", path, "--body"])
            .arg(body)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("apisec starts")
    }

    /// `apisec-agent init --generate` on the test token with the PIN file.
    pub fn init(&self) {
        assert_ok(&self.init_through(&softhsm_module(), true), "init");
    }

    /// [`Env::init`] through the PKCS#11 module `module` (one that reaches the test token, as
    /// `p11-kit-client.so` does), with `--generate` or with the key already labelled
    /// [`KEY_LABEL`]; unchecked.
    pub fn init_through(&self, module: &Path, generate: bool) -> Output {
        let mut args = vec![
            "init",
            "--pkcs11-module",
            module.to_str().unwrap(),
            "--token-label",
            TOKEN_LABEL,
            "--key-label",
            KEY_LABEL,
            "--pin-file",
            self.pin_file.to_str().unwrap(),
        ];
        if generate {
            args.push("--generate");
        }
        self.agent(&args)
    }

    /// Starts `apisec-agent run` in the foreground (stderr to `agent_log`) with the scripted
    /// approver, and waits for it.
    pub fn start(&mut self, extra: &[&str]) {
        let approver = self.approver.display().to_string();
        let mut args = vec!["--approver", approver.as_str()];
        args.extend_from_slice(extra);
        self.start_raw(&args);
    }

    /// Starts the agent with arguments that replace the default `--approver`.
    pub fn start_raw(&mut self, args: &[&str]) {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.agent_log)
            .unwrap();
        let mut cmd = self.agent_cmd();
        cmd.arg("run")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        self.agent = Some(cmd.spawn().expect("start apisec-agent run"));
        self.wait_for_socket();
    }

    pub fn wait_for_socket(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while UnixStream::connect(&self.socket).is_err() {
            if let Some(child) = self.agent.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("the agent exited at start ({status}): {}", self.log());
                }
            }
            assert!(
                Instant::now() < deadline,
                "the agent did not listen: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn agent_pid(&self) -> u32 {
        self.agent.as_ref().expect("agent started").id()
    }

    /// Waits for the agent process to exit (after `stop` or a signal); returns whether it did.
    pub fn wait_agent_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + within;
        let child = self.agent.as_mut()?;
        loop {
            if let Ok(Some(s)) = child.try_wait() {
                self.agent = None;
                return Some(s);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn log(&self) -> String {
        fs::read_to_string(&self.agent_log).unwrap_or_default()
    }

    /// Waits until the agent's log contains `needle` (20 s at most, for a busy machine): for what
    /// the agent does on its own time (signals, lifetime sweeps).
    pub fn wait_for_log(&self, needle: &str) {
        wait_until(
            Duration::from_secs(20),
            || self.log().contains(needle).then_some(()),
            || format!("no {needle:?} in the agent's log:\n{}", self.log()),
        )
    }

    /// The audit log's records, once `done` says they are all there (10 s at most; then what is
    /// there, for the caller's assertion to show). The agent writes them from its own thread, a
    /// moment after each decision.
    pub fn audit_when(
        &self,
        done: impl Fn(&[serde_json::Value]) -> bool,
    ) -> Vec<serde_json::Value> {
        let path = self.home.join(".local/state/apisec/audit.jsonl");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = fs::read_to_string(&path).unwrap_or_default();
            // A line being appended may be cut short: only complete lines count.
            let records: Vec<serde_json::Value> = text
                .lines()
                .take(text.matches('\n').count())
                .map(|l| serde_json::from_str(l).expect("an audit line is JSON"))
                .collect();
            if done(&records) || Instant::now() >= deadline {
                return records;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `approve`, `deny` or `hang`: what the scripted approver does next.
    pub fn set_approver(&self, mode: &str) {
        fs::write(self.root().join("approver.mode"), mode).unwrap();
    }

    /// Every short line (`$1`) the approver was given, with its environment, one per line.
    pub fn approver_log(&self) -> String {
        fs::read_to_string(self.root().join("approver.log")).unwrap_or_default()
    }

    /// Every full prompt the approver read on its standard input, each ending with
    /// `--- end of prompt ---`.
    pub fn approver_stdin(&self) -> String {
        fs::read_to_string(self.root().join("approver.stdin")).unwrap_or_default()
    }

    pub fn store_dir(&self) -> PathBuf {
        self.home.join(".local/share/apisec/store")
    }

    /// A raw connection to the agent's socket.
    pub fn connect(&self) -> UnixStream {
        let s = UnixStream::connect(&self.socket).expect("connect to the agent");
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        s
    }

    /// `softhsm2-util ARGS` on this world's tokens (`--init-token`, `--delete-token`), checked to
    /// succeed.
    pub fn softhsm(&self, args: &[&str]) {
        let out = Command::new("softhsm2-util")
            .env("SOFTHSM2_CONF", &self.softhsm_conf)
            .args(args)
            .output()
            .expect("softhsm2-util");
        assert_ok(&out, "softhsm2-util");
    }

    /// `pkcs11-tool --module SOFTHSM --login --pin PIN ARGS` on this world's tokens, straight
    /// through SoftHSM (a tool this project did not write, seeing what the token holds);
    /// unchecked, for a test that expects a refusal.
    pub fn pkcs11_tool(&self, args: &[&str]) -> Output {
        self.command("pkcs11-tool")
            .arg("--module")
            .arg(softhsm_module())
            .args(["--login", "--pin", PIN])
            .args(args)
            .output()
            .expect("pkcs11-tool (apt-get install opensc)")
    }

    /// A new SoftHSM token `token_label` in this world (the same PINs), added as a backup token
    /// ([`Env::backup_add_softhsm_token`]); the backup's recipient.
    pub fn new_backup_softhsm_token(&self, token_label: &str) -> String {
        self.softhsm(&[
            "--init-token",
            "--free",
            "--label",
            token_label,
            "--pin",
            PIN,
            "--so-pin",
            SO_PIN,
        ]);
        self.backup_add_softhsm_token(token_label)
    }

    /// `apisec-agent backup add-token` for a SoftHSM token of this world (`token_label`, a new
    /// key made there, this world's PIN file), checked to succeed; the backup's recipient.
    pub fn backup_add_softhsm_token(&self, token_label: &str) -> String {
        let out = self.backup_add_token_through(&softhsm_module(), token_label);
        assert_ok(&out, "backup add-token");
        crate::stdout(&out)
            .lines()
            .find_map(|l| l.strip_prefix("recipient: "))
            .expect("the backup token's recipient")
            .to_owned()
    }

    /// `apisec-agent backup add-token` for token `token_label` through `module` (a new key made
    /// there, this world's PIN file), unchecked.
    pub fn backup_add_token_through(&self, module: &Path, token_label: &str) -> Output {
        self.agent(&[
            "backup",
            "add-token",
            "--pkcs11-module",
            module.to_str().unwrap(),
            "--token-label",
            token_label,
            "--key-label",
            KEY_LABEL,
            "--generate",
            "--pin-file",
            self.pin_file.to_str().unwrap(),
        ])
    }

    /// Adds a Bitget secret `name` held on the token (`--in-token`; API key `k`, passphrase
    /// `p`), checked to succeed; what `add` printed.
    pub fn add_bitget_in_token(&self, name: &str, secret: &[u8]) -> Output {
        let out = self
            .secret(name, "bitget")
            .api_key("k")
            .secret_bytes(secret)
            .passphrase(b"p")
            .args(&["--in-token"])
            .add();
        assert_ok(&out, "add --in-token");
        out
    }

    /// Adds a Bitget secret `name` (API key `k`, passphrase `p`), checked to succeed.
    pub fn add_bitget(&self, name: &str, secret: &[u8]) {
        assert_ok(
            &self
                .secret(name, "bitget")
                .api_key("k")
                .secret_bytes(secret)
                .passphrase(b"p")
                .add(),
            "add",
        );
    }

    /// The usual set-up: init, one Bitget secret, agent running, secret unlocked.
    pub fn ready_with_bitget(secret: &[u8], passphrase: &[u8]) -> Self {
        Self::ready_with_bitget_and(secret, passphrase, "")
    }

    /// [`Env::ready_with_bitget`], with `config` (TOML sections) added to the config first.
    pub fn ready_with_bitget_and(secret: &[u8], passphrase: &[u8], config: &str) -> Self {
        let mut env = Self::new();
        env.init();
        if !config.is_empty() {
            let text = fs::read_to_string(&env.config).unwrap();
            fs::write(&env.config, format!("{text}\n{config}\n")).unwrap();
        }
        assert_ok(
            &env.secret("bg", "bitget")
                .api_key("bg_test_key")
                .secret_bytes(secret)
                .passphrase(passphrase)
                .add(),
            "add",
        );
        env.start(&[]);
        assert_ok(&env.cli(&["unlock", "bg"]), "unlock");
        env
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some(mut child) = self.agent.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The scripted approver: logs each `$1` and the request's environment (`approver.log`, a line
/// each) and each full prompt from its standard input (`approver.stdin`), then does what
/// `approver.mode` says (`approve`, `deny`, `hang`, or `sleep N` then approve).
const APPROVER_SCRIPT: &str = r#"#!/bin/sh
echo "$1|pid=$APISEC_CLIENT_PID|exe=$APISEC_CLIENT_EXE|secrets=$APISEC_SECRETS|class=$APISEC_CLASS" >> @DIR@/approver.log
echo $$ > @DIR@/approver.pid
{ cat; echo "--- end of prompt ---"; } >> @DIR@/approver.stdin
mode=$(cat @DIR@/approver.mode)
case "$mode" in
  approve) exit 0 ;;
  deny) exit 1 ;;
  hang) sleep 600 & echo $! > @DIR@/approver.child; wait ;;
  sleep*) sleep "${mode#sleep }"; exit 0 ;;
  *) exit 2 ;;
esac
"#;
