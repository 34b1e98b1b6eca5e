//! Operations: socket activation the way systemd does it (without systemd), the systemd units
//! checked by `systemd-analyze verify`, the notify program while a request waits for an
//! approver, and the man pages (the shell completions: `completion.rs`).

use std::fs;
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use apisec_tests::*;

const SECRET: &[u8] = b"ops-bitget-secret-51c0";
const PASSPHRASE: &[u8] = b"ops-passphrase";

/// `apisec-agent run --approver ...` through `sh`, which sets LISTEN_PID to its own pid and
/// execs the agent (same pid), with `fd` as fd 3: exactly what systemd passes.
fn spawn_activated(env: &Env, fd: i32, listen_pid: &str, fds: &str) -> Child {
    let log = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&env.agent_log)
        .unwrap();
    let mut cmd = env.command("sh");
    cmd.arg("-c")
        .arg(format!(
            "LISTEN_PID={listen_pid} exec \"$0\" run --approver \"$1\""
        ))
        .arg(binary("apisec-agent"))
        .arg(&env.approver)
        .env("LISTEN_FDS", fds)
        .env("LISTEN_FDNAMES", "apisec-agent.socket")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log);
    // SAFETY: only dup2 and fcntl, both async-signal-safe, between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if fd == 3 {
                let flags = libc::fcntl(3, libc::F_GETFD);
                if libc::fcntl(3, libc::F_SETFD, flags & !libc::FD_CLOEXEC) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            } else if libc::dup2(fd, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.spawn().expect("spawn sh -c ... apisec-agent run")
}

#[test]
fn socket_activation_serves_on_the_passed_socket_and_leaves_it_in_place() {
    let mut env = Env::new();
    env.init();
    assert_ok(
        &env.secret("bg", "bitget")
            .api_key("bg_key")
            .secret_bytes(SECRET)
            .passphrase(PASSPHRASE)
            .add(),
        "add",
    );
    // What systemd does for apisec-agent.socket: a 0700 directory, a listening socket in it.
    let dir = env.root().join("run/activated");
    fs::create_dir(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
    let sock = dir.join("agent.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let fd = listener.as_raw_fd();

    for round in 0..2 {
        let child = spawn_activated(&env, fd, "$$", "1");
        env.adopt_agent(child);
        let pid = env.agent_pid();
        // The agent answers on the passed socket (the connection may wait in the backlog until
        // the agent accepts, as with systemd).
        let sock_s = sock.to_str().unwrap();
        let out = env.cli(&["--socket", sock_s, "status", "--json"]);
        assert_ok(&out, "status on the activated socket");
        let status: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        assert_eq!(status["pid"], pid, "round {round}: {status}");
        assert_ok(&env.cli(&["--socket", sock_s, "unlock", "bg"]), "unlock");
        let out = env.cli(&[
            "--socket",
            sock_s,
            "sign",
            "bg",
            "--method",
            "GET",
            "--path",
            "/api/v2/spot/account/assets",
        ]);
        assert_ok(&out, "sign");
        assert_eq!(
            header(&parse_headers(&stdout(&out)), "ACCESS-KEY"),
            "bg_key"
        );
        // It did not bind the configured path.
        assert!(
            !env.socket.exists(),
            "the agent bound {}",
            env.socket.display()
        );
        let log = env.log();
        assert!(
            log.contains("socket activation: using the listening socket passed as fd 3 named apisec-agent.socket"),
            "{log}"
        );
        // SIGTERM: the agent exits and leaves the socket to its owner, so the next connection
        // can start it again (the second round).
        unsafe { libc::kill(pid as i32, libc::SIGTERM) };
        let st = env
            .wait_agent_exit(Duration::from_secs(10))
            .expect("the agent exits on SIGTERM");
        assert!(st.success(), "{st}: {}", env.log());
        assert!(sock.exists(), "the activated socket was removed");
    }
    drop(listener);
}

#[test]
fn socket_activation_variables_for_another_process_are_ignored() {
    let mut env = Env::new();
    env.init();
    // LISTEN_PID names someone else (e.g. inherited from a parent): bind the configured path.
    let devnull = fs::File::open("/dev/null").unwrap();
    let child = spawn_activated(&env, devnull.as_raw_fd(), "1", "1");
    env.adopt_agent(child);
    env.wait_for_socket();
    assert_ok(&env.cli(&["status"]), "status on the configured socket");
    assert!(!env.log().contains("socket activation"), "{}", env.log());
}

#[test]
fn socket_activation_refuses_what_is_not_a_listening_unix_stream_socket() {
    let env = Env::new();
    env.init();
    let devnull = fs::File::open("/dev/null").unwrap();
    let (connected, _peer) = std::os::unix::net::UnixStream::pair().unwrap();
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    for (fd, fds, needle) in [
        (
            devnull.as_raw_fd(),
            "1",
            "socket activation: fd 3 is not a socket",
        ),
        (
            connected.as_raw_fd(),
            "1",
            "socket activation: fd 3 is not listening (set Accept=no",
        ),
        (tcp.as_raw_fd(), "1", "fd 3 is not a Unix socket"),
        (devnull.as_raw_fd(), "2", "2 sockets were passed"),
    ] {
        let mut child = spawn_activated(&env, fd, "$$", fds);
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(1), "{}", env.log());
        let log = env.log();
        assert!(log.contains(needle), "no {needle:?} in {log}");
    }
    assert!(!env.socket.exists());
}

/// Copies the units, pointing ExecStart at the built binaries (verify checks they exist).
fn units_for_verify(dir: &Path) -> Vec<PathBuf> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../contrib/systemd");
    let bin_dir = binary("apisec-agent").parent().unwrap().to_owned();
    let python = ["/usr/bin/python3", "/usr/local/bin/python3"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or("/bin/sh");
    let mut out = Vec::new();
    for name in [
        "apisec-agent.socket",
        "apisec-agent.service",
        "example-bot.service",
    ] {
        let text = fs::read_to_string(src.join(name)).unwrap();
        let text = text
            .replace("/usr/local/bin/", &format!("{}/", bin_dir.display()))
            .replace("/usr/bin/python3", python);
        let p = dir.join(name);
        fs::write(&p, text).unwrap();
        out.push(p);
    }
    out
}

#[test]
fn systemd_units_pass_systemd_analyze_verify() {
    let dir = tempfile::tempdir().unwrap();
    let units = units_for_verify(dir.path());
    let out = systemd_verify_user(dir.path(), &units);
    let err = stderr(&out);
    assert!(
        out.status.success(),
        "systemd-analyze verify failed:\n{err}"
    );
    // Warnings (an unknown or misspelt key, a bad value) do not fail verify; fail on them here.
    assert!(
        err.trim().is_empty(),
        "systemd-analyze verify warned:\n{err}"
    );

    // The check is real: a misspelt key is reported.
    let bad = dir.path().join("apisec-agent.service");
    let text = fs::read_to_string(&bad).unwrap();
    fs::write(&bad, text.replace("NoNewPrivileges=", "NoNewPrivilege=")).unwrap();
    let out = systemd_verify_user(dir.path(), &units);
    assert!(
        stderr(&out).contains("Unknown key") && stderr(&out).contains("NoNewPrivilege"),
        "{}",
        stderr(&out)
    );

    // What the units promise, checked in the sources.
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../contrib/systemd");
    let socket = fs::read_to_string(src.join("apisec-agent.socket")).unwrap();
    for line in [
        "ListenStream=%t/apisec/agent.sock",
        "SocketMode=0600",
        "DirectoryMode=0700",
    ] {
        assert!(socket.lines().any(|l| l == line), "{line}");
    }
    let service = fs::read_to_string(src.join("apisec-agent.service")).unwrap();
    for key in [
        "ExecStart=/usr/local/bin/apisec-agent run",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=read-only",
        "ReadWritePaths=",
        "PrivateTmp=yes",
        "MemoryDenyWriteExecute=yes",
        "LockPersonality=yes",
        "RestrictAddressFamilies=AF_UNIX",
        "SystemCallArchitectures=native",
        "LimitCORE=0",
        "LimitMEMLOCK=",
        "UMask=0077",
    ] {
        assert!(service.lines().any(|l| l.starts_with(key)), "{key}");
    }
    let bot = fs::read_to_string(src.join("example-bot.service")).unwrap();
    for key in [
        "ExecStartPre=/usr/local/bin/apisec unlock",
        "TimeoutStartSec=",
        "Restart=",
    ] {
        assert!(bot.lines().any(|l| l.starts_with(key)), "{key}");
    }
}

/// The separated deployment's system units: they verify, the socket is the agent user's and the
/// clients' group's only, and the service runs as the agent's user with no capabilities.
#[test]
fn the_system_units_pass_systemd_analyze_verify_and_share_only_the_socket() {
    let dir = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../contrib/systemd/system");
    let bin_dir = binary("apisec-agent").parent().unwrap().to_owned();
    let mut units = Vec::new();
    for name in ["apisec-agent.socket", "apisec-agent.service"] {
        let text = fs::read_to_string(src.join(name)).unwrap();
        let p = dir.path().join(name);
        fs::write(
            &p,
            text.replace("/usr/local/bin/", &format!("{}/", bin_dir.display())),
        )
        .unwrap();
        units.push(p);
    }
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .args(&units)
        .env("SYSTEMD_LOG_LEVEL", "notice")
        .current_dir(dir.path())
        .output()
        .expect("systemd-analyze (apt-get install systemd; .ci/run installs it)");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).trim().is_empty(),
        "systemd-analyze verify warned:\n{}",
        stderr(&out)
    );
    let socket = fs::read_to_string(src.join("apisec-agent.socket")).unwrap();
    for line in [
        "ListenStream=/run/apisec/agent.sock",
        "SocketUser=apisec",
        "SocketGroup=apisec-clients",
        "SocketMode=0660",
        "DirectoryMode=0750",
    ] {
        assert!(socket.lines().any(|l| l == line), "{line}");
    }
    // After a reboot the directory comes from tmpfiles.d, owned so that the bots can enter it.
    let tmpfiles = fs::read_to_string(src.join("apisec-agent-tmpfiles.conf")).unwrap();
    assert!(
        tmpfiles
            .lines()
            .any(|l| l == "d /run/apisec 0750 apisec apisec-clients -"),
        "{tmpfiles}"
    );
    let service = fs::read_to_string(src.join("apisec-agent.service")).unwrap();
    for line in [
        "User=apisec",
        "NoNewPrivileges=yes",
        "ProtectHome=yes",
        "ReadWritePaths=/var/lib/apisec",
        "CapabilityBoundingSet=",
        "UMask=0077",
        "LimitCORE=0",
    ] {
        assert!(service.lines().any(|l| l == line), "{line}");
    }
}

/// A notify program that appends its argv[1] and the request's environment to a file.
fn notify_script(env: &Env) -> (PathBuf, PathBuf) {
    let log = env.root().join("notify.log");
    let script = env.root().join("notify.sh");
    fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$1|action=$APISEC_ACTION|secrets=$APISEC_SECRETS|exchanges=$APISEC_EXCHANGES|exe=$APISEC_CLIENT_EXE|pid=$APISEC_CLIENT_PID\" >> {}\n",
            log.display()
        ),
    )
    .unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o700)).unwrap();
    (script, log)
}

fn lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Waits for `n` lines, then a little longer to be sure no more come.
fn expect_lines(path: &Path, n: usize) -> Vec<String> {
    wait_until(
        Duration::from_secs(10),
        || (lines(path).len() >= n).then_some(()),
        || format!("timed out waiting for {n} notify line(s)"),
    );
    std::thread::sleep(Duration::from_millis(400));
    let got = lines(path);
    assert_eq!(got.len(), n, "{got:#?}");
    got
}

#[test]
fn notify_runs_once_per_approval_wait_and_never_without_one() {
    let mut env = Env::new();
    env.init();
    let (script, log) = notify_script(&env);
    env.set_notify(&script);
    assert_ok(
        &env.secret("bg", "bitget")
            .api_key("bg_key")
            .secret_bytes(SECRET)
            .passphrase(PASSPHRASE)
            .add(),
        "add",
    );
    let policy = env.root().join("stepup.toml");
    fs::write(
        &policy,
        "[[rule]]\naction = \"step-up\"\nmethods = [\"POST\"]\npath = \"/api/v2/spot/trade/place-order\"\n",
    )
    .unwrap();
    assert_ok(
        &env.secret("bg-s", "bitget")
            .api_key("bg_key_s")
            .secret_bytes(SECRET)
            .passphrase(PASSPHRASE)
            .args(&["--policy", policy.to_str().unwrap()])
            .add(),
        "add with a step-up policy",
    );
    env.start(&[]);

    // 1. An unseal that waits for the approver: one line, argv[1] = the client's progress line.
    let out = env.cli(&["unlock", "bg"]);
    assert_ok(&out, "unlock");
    let got = expect_lines(&log, 1);
    let (text, vars) = got[0].split_once('|').unwrap();
    assert!(
        text.starts_with("waiting for approval: unlock bg (bitget), asked by apisec (pid "),
        "{text}"
    );
    assert!(
        stderr(&out).lines().any(|l| l == text),
        "apisec unlock did not print the same text: {}",
        stderr(&out)
    );
    assert!(
        vars.starts_with("action=unlock|secrets=bg|exchanges=bitget|exe=")
            && vars.contains("apisec|pid="),
        "{vars}"
    );

    // 2. Already unsealed: no approval, no notice.
    assert_ok(&env.cli(&["unlock", "bg"]), "unlock again");
    // 3. A signature no step-up rule covers: none either.
    assert_ok(
        &env.cli(&[
            "sign",
            "bg",
            "--method",
            "POST",
            "--path",
            "/api/v2/spot/trade/place-order",
        ]),
        "sign",
    );
    expect_lines(&log, 1);

    // 4. Two secrets in one unlock: one wait, one notice.
    assert_ok(&env.cli(&["lock"]), "lock");
    assert_ok(&env.cli(&["unlock", "bg", "bg-s"]), "unlock two");
    let got = expect_lines(&log, 2);
    assert!(
        got[1].contains("unlock bg (bitget), bg-s (bitget), asked by")
            && got[1].contains("|secrets=bg,bg-s|exchanges=bitget,bitget|"),
        "{}",
        got[1]
    );

    // 5. A step-up waits for the approver: one notice per signature, naming the class only (the
    // request itself is on the notify program's standard input, never in its argv).
    for n in 3..=4 {
        assert_ok(
            &env.cli(&[
                "sign",
                "bg-s",
                "--method",
                "POST",
                "--path",
                "/api/v2/spot/trade/place-order",
            ]),
            "step-up sign",
        );
        let got = expect_lines(&log, n);
        assert!(
            got[n - 1]
                .starts_with("waiting for approval: sign bg-s (bitget): a trade request, asked by")
                && !got[n - 1].contains("place-order")
                && got[n - 1].contains("|action=sign|secrets=bg-s|"),
            "{}",
            got[n - 1]
        );
    }
    // A denied wait is still a wait: it is announced.
    env.set_approver("deny");
    assert_ok(&env.cli(&["lock"]), "lock");
    assert_fails_with(&env.cli(&["unlock", "bg"]), 4, "denied");
    expect_lines(&log, 5);
}

#[test]
fn notify_is_not_run_by_the_automatic_approver() {
    let mut env = Env::new();
    env.init();
    let (script, log) = notify_script(&env);
    env.set_notify(&script);
    assert_ok(
        &env.secret("bg", "bitget")
            .api_key("bg_key")
            .secret_bytes(SECRET)
            .passphrase(PASSPHRASE)
            .add(),
        "add",
    );
    env.start_raw(&["--insecure-auto-approve"]);
    assert_ok(&env.cli(&["unlock", "bg"]), "unlock");
    std::thread::sleep(Duration::from_millis(500));
    assert!(lines(&log).is_empty(), "{:?}", lines(&log));
}

#[test]
fn man_pages_and_help_cover_every_subcommand() {
    let env = Env::new();
    let subcommands: [(&str, &[&str]); 2] = [
        (
            "apisec-agent",
            &[
                "init",
                "add",
                "list",
                "keygen",
                "rotate",
                "audit",
                "remove",
                "start",
                "run",
                "stop",
                "completions",
                "man",
            ],
        ),
        (
            "apisec",
            &[
                "unlock",
                "lock",
                "status",
                "sign",
                "exec",
                "mac",
                "completions",
                "man",
            ],
        ),
    ];
    for (bin, subs) in subcommands {
        let run = |args: &[&str]| {
            let out = env.command(binary(bin)).args(args).output().unwrap();
            assert_ok(&out, &format!("{bin} {args:?}"));
            stdout(&out)
        };
        let dir = env.root().join(format!("man-{bin}"));
        let listed = run(&["man", dir.to_str().unwrap()]);
        let main = fs::read_to_string(dir.join(format!("{bin}.1"))).unwrap();
        assert!(
            main.starts_with(".ie \\n(.g .ds Aq") || main.contains(".TH"),
            "{main}"
        );
        for sub in subs {
            let page = dir.join(format!("{bin}-{sub}.1"));
            let text =
                fs::read_to_string(&page).unwrap_or_else(|e| panic!("{}: {e}", page.display()));
            assert!(text.contains(".TH") && text.contains(".SH NAME"), "{text}");
            assert!(listed.contains(&page.display().to_string()), "{listed}");
            assert!(main.contains(sub), "{bin}.1 does not mention {sub}");
        }
        // --help texts carry examples.
        for sub in subs {
            let help = run(&[sub, "--help"]);
            assert!(
                help.contains("Example"),
                "`{bin} {sub} --help` has no example:\n{help}"
            );
        }
    }
}
