//! The host of the separated deployment, for the tests that need root: the agent's own system
//! user, a bot's and an admin's (real uids without capabilities), the group that shares the
//! socket, the state and socket directories, made for one run by `apisec-agent setup-system` and
//! removed when it ends, however it ends.

use std::fs;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::env::{softhsm_module, PIN};
use crate::process::{assert_ok, binary, run_with_stdin, stderr, stdout};

/// Users, a group and directories made for one run, removed when it ends however it ends.
pub struct SystemHost {
    pub agent: String,
    pub bot: String,
    pub admin: String,
    pub group: String,
    pub state: PathBuf,
    pub run: PathBuf,
    pub log: PathBuf,
    /// The programs the other users run, copied where they can reach them: the clone may lie
    /// in a directory only root can enter.
    pub programs: PathBuf,
    pub child: Option<Child>,
}

impl Drop for SystemHost {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        for user in [&self.bot, &self.admin, &self.agent] {
            // Its processes first (an approver left waiting): userdel refuses a user with any.
            let _ = Command::new("pkill").args(["-KILL", "-u", user]).output();
        }
        std::thread::sleep(Duration::from_millis(200));
        for user in [&self.bot, &self.admin, &self.agent] {
            let _ = Command::new("userdel").arg(user).output();
        }
        let _ = Command::new("groupdel").arg(&self.group).output();
        let _ = Command::new("groupdel").arg(&self.agent).output();
        let _ = fs::remove_dir_all(&self.state);
        let _ = fs::remove_dir_all(&self.run);
        let _ = fs::remove_file(&self.log);
        let _ = fs::remove_dir_all(&self.programs);
    }
}

impl Default for SystemHost {
    fn default() -> Self {
        Self::new()
    }
}

impl SystemHost {
    /// The users (bot and admin now; the agent's by setup-system) and the programs they run, named
    /// for this process so that runs do not meet.
    pub fn new() -> Self {
        let tag = format!("{}", std::process::id() % 100_000);
        let host = SystemHost {
            agent: format!("apisec-a{tag}"),
            bot: format!("apisec-b{tag}"),
            admin: format!("apisec-d{tag}"),
            group: format!("apisec-c{tag}"),
            state: PathBuf::from(format!("/var/lib/apisec-test-{tag}")),
            run: PathBuf::from(format!("/run/apisec-test-{tag}")),
            log: PathBuf::from(format!("/tmp/apisec-separated-{tag}.log")),
            programs: PathBuf::from(format!("/tmp/apisec-separated-{tag}-bin")),
            child: None,
        };
        fs::create_dir_all(&host.programs).unwrap();
        for name in ["apisec", "apisec-agent"] {
            fs::copy(binary(name), host.programs.join(name)).unwrap();
        }
        fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("support/raw_frame.py"),
            host.programs.join("raw_frame.py"),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&host.programs, fs::Permissions::from_mode(0o755)).unwrap();
        for user in [&host.bot, &host.admin] {
            let out = Command::new("useradd")
                .args([
                    "--system",
                    "--no-create-home",
                    "--shell",
                    "/usr/sbin/nologin",
                ])
                .arg(user)
                .output()
                .expect("useradd (passwd)");
            assert!(out.status.success(), "useradd {user}: {}", stderr(&out));
        }
        host
    }

    pub fn config(&self) -> PathBuf {
        self.state.join("config.toml")
    }

    pub fn socket(&self) -> PathBuf {
        self.run.join("agent.sock")
    }

    pub fn setup(&self) -> Output {
        let mut cmd = Command::new(binary("apisec-agent"));
        cmd.args([
            "setup-system",
            "--user",
            &self.agent,
            "--group",
            &self.group,
        ])
        .arg("--state-dir")
        .arg(&self.state)
        .arg("--socket-dir")
        .arg(&self.run)
        .args(["--bot", &self.bot, "--admin", &self.admin]);
        run_with_stdin(&mut cmd, b"")
    }

    /// A command as `user`, with that user's groups and no capabilities, in the agent's
    /// environment (its home, SoftHSM's config) or a client's (the socket only).
    pub fn as_user(&self, user: &str, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new("setpriv");
        cmd.args([
            &format!("--reuid={user}"),
            &format!("--regid={user}"),
            "--init-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "--",
        ])
        .arg(program)
        .current_dir("/")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("APISEC_AUTH_SOCK", self.socket());
        if user == self.agent {
            cmd.env("HOME", &self.state)
                .env("SOFTHSM2_CONF", self.state.join("softhsm2.conf"))
                .env("APISEC_CONFIG", self.config());
        } else {
            cmd.env("HOME", "/nonexistent");
        }
        cmd
    }

    pub fn run(&self, user: &str, program: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> Output {
        run_with_stdin(self.as_user(user, program).args(args), b"")
    }

    pub fn cli(&self, user: &str, args: &[&str]) -> Output {
        self.run(user, self.programs.join("apisec"), args)
    }

    /// `apisec-agent ARGS` as the agent's user.
    pub fn agent_cmd(&self, args: &[&str]) -> Output {
        self.run(
            &self.agent.clone(),
            self.programs.join("apisec-agent"),
            args,
        )
    }

    /// Sends one raw frame as `user` (Debian's python3: a client with no apisec code in it) and
    /// returns the reply's message type. Named by its path: a `python3` found first on root's
    /// PATH (pyenv's shims under /root) is not one the user may run.
    pub fn raw(&self, user: &str, message: &[u8]) -> u8 {
        let script = self.programs.join("raw_frame.py");
        let script = script.display().to_string();
        let out = self.run(user, "/usr/bin/python3", &[&script, &hex::encode(message)]);
        assert_ok(&out, "raw frame");
        stdout(&out).trim().parse().unwrap()
    }

    pub fn audit(&self) -> Vec<serde_json::Value> {
        let text = fs::read_to_string(self.state.join("state/audit.jsonl")).unwrap_or_default();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

pub fn uid_of(user: &str) -> u32 {
    let out = Command::new("id").args(["-u", user]).output().unwrap();
    stdout(&out).trim().parse().unwrap()
}

pub fn wait_for_socket(path: &Path, host: &SystemHost) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while UnixStream::connect(path).is_err() {
        assert!(
            Instant::now() < deadline,
            "the agent did not listen: {}",
            fs::read_to_string(&host.log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl SystemHost {
    /// setup-system, a SoftHSM token and PIN file made as the agent's user, `init` as that user,
    /// two Bitget entries (`bot-bg` for the bot's uid, `admin-bg` for the admin's, the secret
    /// `secret`, passphrase `pp`), and setup-system again, which writes `[agent]`.
    pub fn set_up_with_two_entries(&self, secret: &[u8]) {
        let host = self;
        let (agent, bot, admin) = (host.agent.clone(), host.bot.clone(), host.admin.clone());
        let out = host.setup();
        assert_ok(&out, "setup-system");
        assert!(
            stdout(&out).contains("next: create the config"),
            "{}",
            stdout(&out)
        );
        let state = host.state.clone();
        let conf = format!(
            "directories.tokendir = {}/tokens\nobjectstore.backend = file\nlog.level = ERROR\n",
            state.display()
        );
        let prepare = format!(
            "set -e; umask 077; mkdir {s}/tokens; printf '%s' '{conf}' > {s}/softhsm2.conf; \
             printf '{pin}\\n' > {s}/pin; \
             softhsm2-util --init-token --free --label t --pin {pin} --so-pin 12345678 >/dev/null; \
             printf '#!/bin/sh\\ncat > {s}/approver.stdin\\necho $$ > {s}/approver.pid\\nexec sleep 600\\n' > {s}/approve.sh; \
             chmod 700 {s}/approve.sh; \
             printf '[clients]\\nuids = [{b}]\\n' > {s}/bot.toml; printf '[clients]\\nuids = [{d}]\\n' > {s}/admin.toml; \
             printf '{secret}' > {s}/secret; printf 'pp' > {s}/pass",
            s = state.display(),
            pin = PIN,
            b = uid_of(&bot),
            d = uid_of(&admin),
            secret = String::from_utf8_lossy(secret),
        );
        assert_ok(
            &host.run(&agent, "sh", &["-c", &prepare]),
            "prepare as the agent",
        );
        let socket = host.socket().display().to_string();
        let store = format!("{}/store", state.display());
        let pin_file = format!("{}/pin", state.display());
        let module = softhsm_module().display().to_string();
        assert_ok(
            &host.agent_cmd(&[
                "init",
                "--pkcs11-module",
                &module,
                "--token-label",
                "t",
                "--key-label",
                "w",
                "--generate",
                "--pin-file",
                &pin_file,
                "--store",
                &store,
                "--socket",
                &socket,
            ]),
            "init as the agent's user",
        );
        for (name, policy) in [("bot-bg", "bot.toml"), ("admin-bg", "admin.toml")] {
            let policy = format!("{}/{policy}", state.display());
            let secret = format!("{}/secret", state.display());
            let pass = format!("{}/pass", state.display());
            assert_ok(
                &host.agent_cmd(&[
                    "add",
                    name,
                    "--exchange",
                    "bitget",
                    "--api-key",
                    "k",
                    "--secret-file",
                    &secret,
                    "--passphrase-file",
                    &pass,
                    "--policy",
                    &policy,
                ]),
                "add as the agent's user",
            );
        }
        let out = host.setup();
        assert_ok(&out, "setup-system again");
        let config = fs::read_to_string(host.config()).unwrap();
        for line in [
            format!("socket_group = \"{}\"", host.group),
            format!("allowed_uids = [{}]", uid_of(&bot)),
            format!("admin_uids = [{}]", uid_of(&admin)),
            "over_socket = true".to_owned(),
        ] {
            assert!(config.contains(&line), "{line} not in {config}");
        }
    }
}

impl SystemHost {
    /// `apisec unlock NAME` started as `user`, its output piped, not waited for.
    pub fn spawn_unlock(&self, user: &str, name: &str) -> Child {
        self.as_user(user, self.programs.join("apisec"))
            .args(["unlock", name])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// What `admin` lists once an approval waits (within 20 s, else the agent's log is shown):
    /// the listing and the first approval's id.
    pub fn waiting_approval(&self, admin: &str) -> (String, String) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let listed = loop {
            let out = self.cli(admin, &["approvals"]);
            assert_ok(&out, "approvals as the admin");
            if stdout(&out).contains("== approval") {
                break stdout(&out);
            }
            assert!(
                Instant::now() < deadline,
                "nothing waited: {}\n{}",
                stdout(&out),
                fs::read_to_string(&self.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        let id = listed
            .split("== approval ")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .expect("an approval id")
            .to_owned();
        (listed, id)
    }
}
