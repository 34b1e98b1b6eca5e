//! The separated deployment end to end (docs/operations.md, "The separated deployment"): the agent
//! as its own system user, set up by `apisec-agent setup-system`; a bot as another real uid
//! without capabilities, reaching only the socket through the group; an admin uid that answers
//! approvals over the socket. Needs root (it creates and removes users and a group).

use std::fs;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use apisec_tests::*;

const SECRET: &[u8] = b"separated-secret-4c1d";

/// Users, a group and directories made for one run, removed when it ends however it ends.
struct Host {
    agent: String,
    bot: String,
    admin: String,
    group: String,
    state: PathBuf,
    run: PathBuf,
    log: PathBuf,
    /// The programs the other users run, copied where they can reach them: the clone may lie
    /// in a directory only root can enter.
    programs: PathBuf,
    child: Option<Child>,
}

impl Drop for Host {
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

impl Host {
    fn new() -> Self {
        let tag = format!("{}", std::process::id() % 100_000);
        let host = Host {
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

    fn config(&self) -> PathBuf {
        self.state.join("config.toml")
    }

    fn socket(&self) -> PathBuf {
        self.run.join("agent.sock")
    }

    fn setup(&self) -> Output {
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
    fn as_user(&self, user: &str, program: impl AsRef<std::ffi::OsStr>) -> Command {
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

    fn run(&self, user: &str, program: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> Output {
        run_with_stdin(self.as_user(user, program).args(args), b"")
    }

    fn cli(&self, user: &str, args: &[&str]) -> Output {
        self.run(user, self.programs.join("apisec"), args)
    }

    /// `apisec-agent ARGS` as the agent's user.
    fn agent_cmd(&self, args: &[&str]) -> Output {
        self.run(
            &self.agent.clone(),
            self.programs.join("apisec-agent"),
            args,
        )
    }

    /// Sends one raw frame as `user` (python3: a client with no apisec code in it) and returns
    /// the reply's message type.
    fn raw(&self, user: &str, message: &[u8]) -> u8 {
        let script = self.programs.join("raw_frame.py");
        let script = script.display().to_string();
        let out = self.run(user, "python3", &[&script, &hex::encode(message)]);
        assert_ok(&out, "raw frame");
        stdout(&out).trim().parse().unwrap()
    }

    fn audit(&self) -> Vec<serde_json::Value> {
        let text = fs::read_to_string(self.state.join("state/audit.jsonl")).unwrap_or_default();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

fn extension(name: &str, details: &[u8]) -> Vec<u8> {
    let mut m = vec![27u8];
    m.extend_from_slice(&(name.len() as u32).to_be_bytes());
    m.extend_from_slice(name.as_bytes());
    m.extend_from_slice(details);
    m
}

fn uid_of(user: &str) -> u32 {
    let out = Command::new("id").args(["-u", user]).output().unwrap();
    stdout(&out).trim().parse().unwrap()
}

fn wait_for_socket(path: &Path, host: &Host) {
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

#[test]
#[ignore = "needs root: creates users and a group; scripts/test.sh runs it as root"]
fn as_root_the_separated_deployment_keeps_the_bot_to_its_own_signatures() {
    let mut host = Host::new();
    let (agent, bot, admin) = (host.agent.clone(), host.bot.clone(), host.admin.clone());

    // 1. setup-system: users, group, directories; run again after init to write [agent].
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
        secret = String::from_utf8_lossy(SECRET),
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

    // 2. The agent as its own user.
    let log = fs::File::create(&host.log).unwrap();
    let approver = format!("{}/approve.sh", state.display());
    let child = host
        .as_user(&agent, host.programs.join("apisec-agent"))
        .args(["run", "--approver", &approver, "--approval-timeout", "60s"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    host.child = Some(child);
    wait_for_socket(&host.socket(), &host);
    let meta = fs::symlink_metadata(host.socket()).unwrap();
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    assert_eq!(meta.permissions().mode() & 0o777, 0o660);
    assert_eq!(meta.uid(), uid_of(&agent));

    // 3. The bot sees only its own entry; it asks for an unseal, which an admin approves.
    let out = host.cli(&bot, &["status"]);
    assert_ok(&out, "status as the bot");
    assert!(
        stdout(&out).contains("bot-bg") && !stdout(&out).contains("admin-bg"),
        "{}",
        stdout(&out)
    );
    let sign = |who: &str| {
        host.cli(
            who,
            &[
                "sign",
                "bot-bg",
                "--method",
                "GET",
                "--path",
                "/api/v2/spot/account/assets",
            ],
        )
    };
    assert_fails_with(&sign(&bot), 5, "sealed");
    let unlock = host
        .as_user(&bot, host.programs.join("apisec"))
        .args(["unlock", "bot-bg"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let listed = loop {
        let out = host.cli(&admin, &["approvals"]);
        assert_ok(&out, "approvals as the admin");
        if stdout(&out).contains("== approval") {
            break stdout(&out);
        }
        assert!(
            Instant::now() < deadline,
            "nothing waited: {}",
            stdout(&out)
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(listed.contains("unlock bot-bg (bitget)"), "{listed}");
    let id = listed
        .split("== approval ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap()
        .to_owned();
    // The bot cannot answer its own request, nor list what waits.
    assert_fails_with(&host.cli(&bot, &["approve", &id]), 1, "may not send");
    assert_fails_with(&host.cli(&bot, &["approvals"]), 1, "may not send");
    assert_ok(&host.cli(&admin, &["approve", &id]), "approve as the admin");
    let out = unlock.wait_with_output().unwrap();
    assert!(out.status.success(), "unlock: {}", stderr(&out));
    assert_ok(&sign(&bot), "the bot signs what its policy allows");
    // Another entry's policy does not admit the bot: sealed, it does not exist for the bot (as
    // in status), while the admin is told it is sealed.
    let sign_admins = |who: &str| {
        host.cli(
            who,
            &[
                "sign",
                "admin-bg",
                "--method",
                "GET",
                "--path",
                "/api/v2/spot/account/assets",
            ],
        )
    };
    assert_fails_with(&sign_admins(&bot), 1, "no secret named \"admin-bg\"");
    // Nor can it ask for its unseal (which would put a request before the owner).
    assert_fails_with(
        &host.cli(&bot, &["unlock", "admin-bg"]),
        1,
        "no secret named \"admin-bg\"",
    );
    let out = host.cli(&admin, &["approvals"]);
    assert!(stdout(&out).contains("nothing waits"), "{}", stdout(&out));
    assert_fails_with(&sign_admins(&admin), 5, "sealed");

    // 4. Owner-only messages from the bot: refused, audited, and the agent goes on serving.
    let before = host.audit().len();
    assert_eq!(
        host.raw(&bot, &[19]),
        5,
        "ssh-add -D is refused (SSH_AGENT_FAILURE)"
    );
    let mut lock = vec![22u8];
    lock.extend_from_slice(&4u32.to_be_bytes());
    lock.extend_from_slice(b"pass");
    assert_eq!(host.raw(&bot, &lock), 5, "ssh-add -x is refused");
    for name in ["reload@apisec", "shutdown@apisec"] {
        assert_eq!(
            host.raw(&bot, &extension(name, &[])),
            28,
            "{name} is refused"
        );
    }
    assert_fails_with(&host.cli(&bot, &["lock"]), 1, "may not send lock");
    assert_ok(&sign(&bot), "still serving after the refusals");
    let records = host.audit();
    let bot_uid = uid_of(&bot);
    for action in ["remove-all", "agent-lock", "reload", "shutdown", "lock"] {
        assert!(
            records[before..]
                .iter()
                .any(|r| r["action"] == action && r["decision"] == "denied" && r["uid"] == bot_uid),
            "no denied {action} by the bot in the audit log"
        );
    }
    assert!(
        records.iter().any(|r| r["action"] == "answer"
            && r["decision"] == "allowed"
            && r["uid"] == uid_of(&admin)),
        "the admin's answer is audited"
    );
    // The admin may lock.
    assert_ok(&host.cli(&admin, &["lock"]), "lock as the admin");
    assert_fails_with(&sign(&bot), 5, "sealed");

    // 5. The bot can read none of the agent's files.
    let s = state.display();
    for path in [
        format!("{s}/config.toml"),
        format!("{s}/pin"),
        format!("{s}/store/bot-bg.toml"),
        format!("{s}/state/audit.jsonl"),
        format!("{s}/softhsm2.conf"),
    ] {
        assert!(Path::new(&path).exists(), "{path} exists");
        let out = host.run(&bot, "cat", &[&path]);
        assert!(!out.status.success(), "the bot read {path}");
    }
    let out = host.run(&bot, "ls", &[&format!("{s}/tokens")]);
    assert!(!out.status.success(), "the bot listed the token files");

    // 6. A layout where another user could write the agent's files is refused.
    let entry = state.join("store/bot-bg.toml");
    fs::set_permissions(&entry, fs::Permissions::from_mode(0o666)).unwrap();
    let mut check = Command::new(binary("apisec-agent"));
    check
        .args([
            "setup-system",
            "--check",
            "--user",
            &agent,
            "--group",
            &host.group,
        ])
        .arg("--state-dir")
        .arg(&state)
        .arg("--socket-dir")
        .arg(&host.run);
    assert_fails_with(
        &run_with_stdin(&mut check, b""),
        1,
        "bot-bg.toml is owned by uid",
    );
}
