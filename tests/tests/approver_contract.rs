//! The approver contract (docs/operations.md): the whole request on standard input, every field
//! escaped; `$1` a short line without request details (argv is readable by every uid, through
//! `/proc/PID/cmdline`); an environment of an allow-list only (no PIN variable). The notify
//! program gets the same. And the desktop approver shows the text as text, not markup.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use apisec_tests::*;

const SECRET: &[u8] = b"contract-secret-7a8b9c";
const PIN_VARIABLE: &str = "APISEC_TEST_TOKEN_PIN";
const ADDRESS: &str = "TQattackersRealAddress0000";

/// A withdrawal a hostile bot dressed up: decoy fields that sort before the real ones, a
/// newline that would fake a line, a right-to-left override, Pango markup, a long memo.
fn hostile_body() -> String {
    format!(
        "{{\"_address\":\"TQyourColdWallet\",\"_size\":\"1\",\"address\":\"{ADDRESS}\",\
         \"chain\":\"trc20\\nsize = 1\",\"coin\":\"USDT\",\
         \"remark\":\"\u{202e}0001\u{202c} <span size='1'>x</span>\",\"size\":\"250000\",\
         \"tag\":\"{}\"}}",
        "m".repeat(200)
    )
}

fn wait_for(path: &Path, within: Duration) -> String {
    let deadline = Instant::now() + within;
    loop {
        if let Ok(text) = fs::read_to_string(path) {
            if !text.trim().is_empty() {
                return text;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The agent started with its PIN in an environment variable (`pin_env`), as in CI.
fn start_with_pin_variable(env: &mut Env) {
    let config = fs::read_to_string(&env.config).unwrap();
    let pin_file_line = config
        .lines()
        .find(|l| l.starts_with("pin_file"))
        .expect("init wrote pin_file")
        .to_owned();
    fs::write(
        &env.config,
        config.replace(&pin_file_line, &format!("pin_env = {PIN_VARIABLE:?}")),
    )
    .unwrap();
    let log = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&env.agent_log)
        .unwrap();
    let mut cmd = env.agent_cmd();
    cmd.env(PIN_VARIABLE, PIN)
        .env("APISEC_TEST_UNRELATED", "not for children")
        .args(["run", "--approver"])
        .arg(&env.approver)
        .args(["--approval-timeout", "60s"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(log);
    env.adopt_agent(cmd.spawn().unwrap());
    env.wait_for_socket();
}

#[test]
fn a_waiting_approver_has_the_whole_request_on_stdin_and_none_in_argv_or_env() {
    let mut env = Env::new();
    env.init();
    let notify_log = env.root().join("notify.log");
    // What the running notify program finds in its own /proc/PID/environ.
    let notify_environ = env.root().join("notify.environ");
    let notify = env.root().join("notify.sh");
    fs::write(
        &notify,
        format!(
            "#!/bin/sh\ntr '\\0' '\\n' < /proc/$$/environ > {}\nexec >> {}\necho \"argv: $1\"\ncat\necho '--- end ---'\n",
            notify_environ.display(),
            notify_log.display()
        ),
    )
    .unwrap();
    fs::set_permissions(&notify, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    env.set_notify(&notify);
    let policy = env.root().join("step-up.toml");
    fs::write(
        &policy,
        "[[rule]]\naction = \"step-up\"\nmethods = [\"POST\"]\npath = \"/api/v2/spot/wallet/withdrawal\"\n",
    )
    .unwrap();
    assert_ok(
        &env.secret("bg", "bitget")
            .api_key("k")
            .secret_bytes(SECRET)
            .passphrase(b"p")
            .args(&["--policy", policy.to_str().unwrap()])
            .add(),
        "add",
    );
    start_with_pin_variable(&mut env);
    env.set_approver("approve");
    assert_ok(&env.cli(&["unlock", "bg"]), "unlock");
    let _ = fs::remove_file(env.root().join("approver.pid"));
    env.set_approver("hang");
    let body = env.root().join("withdrawal.json");
    fs::write(&body, hostile_body()).unwrap();
    let mut client = env.spawn_post("bg", "/api/v2/spot/wallet/withdrawal", &body);

    // The approver waits: look at it as another uid on the host could (argv), and as its own
    // uid (environment).
    let pid = wait_for(&env.root().join("approver.pid"), Duration::from_secs(20));
    let pid = pid.trim();
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
    assert!(
        cmdline.contains("sign bg (bitget): a transfer request, asked by apisec"),
        "{cmdline}"
    );
    for detail in ["withdrawal", ADDRESS, "250000", "USDT", "TQyourColdWallet"] {
        assert!(!cmdline.contains(detail), "{detail} in argv: {cmdline}");
    }
    let environ = fs::read(format!("/proc/{pid}/environ")).unwrap();
    let environ = String::from_utf8_lossy(&environ);
    let names: Vec<&str> = environ
        .split('\0')
        .filter_map(|kv| kv.split_once('=').map(|(k, _)| k))
        .collect();
    assert!(
        !names.contains(&PIN_VARIABLE),
        "the PIN variable reached the approver: {names:?}"
    );
    assert!(!environ.contains(PIN), "the PIN reached the approver");
    // The agent itself: the PIN left its environment at start-up, and its original environment
    // block (what /proc/PID/environ shows) was overwritten. To another uid the file is
    // unreadable anyway: the agent is not dumpable.
    match fs::read(format!("/proc/{}/environ", env.agent_pid())) {
        Ok(own) => assert!(
            !String::from_utf8_lossy(&own).contains(&format!("{PIN_VARIABLE}={PIN}")),
            "the PIN is still in the agent's environment"
        ),
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::PermissionDenied, "{e}"),
    }
    assert!(!names.contains(&"APISEC_TEST_UNRELATED"), "{names:?}");
    assert!(!names.contains(&"SOFTHSM2_CONF"), "{names:?}");
    for name in &names {
        assert!(
            name.starts_with("APISEC_")
                || [
                    "HOME",
                    "PATH",
                    "LANG",
                    "XDG_RUNTIME_DIR",
                    "DISPLAY",
                    "WAYLAND_DISPLAY",
                    "XAUTHORITY",
                    "DBUS_SESSION_BUS_ADDRESS",
                    "GPG_TTY",
                    "PWD",
                    "SHLVL",
                    "_",
                    "OLDPWD"
                ]
                .contains(name),
            "{name} is not on the allow-list: {names:?}"
        );
    }
    assert!(environ.contains("APISEC_CLASS=transfer"), "{environ}");

    // Its standard input: every field, escaped, the real address as plainly as the decoy.
    let prompt = wait_for(&env.root().join("approver.stdin"), Duration::from_secs(10));
    let prompt = prompt
        .rsplit("--- end of prompt ---")
        .nth(1)
        .unwrap_or(&prompt);
    for line in [
        "request: POST /api/v2/spot/wallet/withdrawal",
        "fields (8):",
        "  _address = \"TQyourColdWallet\"",
        &format!("  address = \"{ADDRESS}\""),
        "  size = \"250000\"",
        "  chain = \"trc20\\nsize = 1\"",
        "  remark = \"\\u{202e}0001\\u{202c} <span size='1'>x</span>\"",
    ] {
        assert!(
            prompt.lines().any(|l| l == line),
            "{line:?} not a line of\n{prompt}"
        );
    }
    assert!(prompt.contains("\nendpoint class: transfer ("), "{prompt}");
    assert!(prompt.contains("  tag = <200 bytes, sha256 "), "{prompt}");
    assert!(
        prompt.contains(&format!("tag, in full:\n\"{}\"", "m".repeat(200))),
        "{prompt}"
    );
    assert!(!prompt.contains('\u{202e}'), "a raw override in\n{prompt}");

    // The notify program: the same short line, the same full text.
    let notified = wait_for(&notify_log, Duration::from_secs(10));
    assert!(
        notified.contains("argv: waiting for approval: sign bg (bitget): a transfer request"),
        "{notified}"
    );
    assert!(
        !notified.lines().next().unwrap_or("").contains(ADDRESS),
        "{notified}"
    );
    assert!(
        notified.contains(&format!("  address = \"{ADDRESS}\"")),
        "{notified}"
    );
    let environ = wait_for(&notify_environ, Duration::from_secs(10));
    assert!(
        !environ.contains(PIN_VARIABLE),
        "the PIN variable reached notify: {environ}"
    );
    assert!(
        !environ.contains(&format!("={PIN}\n")),
        "the PIN reached notify"
    );
    assert!(
        environ.contains("APISEC_NOTICE=waiting for approval"),
        "{environ}"
    );
    assert!(!environ.contains("APISEC_TEST_UNRELATED"), "{environ}");

    // Hanging up cancels the wait, and nothing was signed.
    client.kill().unwrap();
    client.wait().unwrap();
}

/// `contrib/approvers/zenity-confirm` hands zenity the prompt from its standard input as plain
/// text: `--no-markup` (zenity otherwise reads Pango markup and backslash escapes in it). A
/// stand-in `zenity` on PATH records what it was given.
#[test]
fn the_desktop_approver_shows_the_prompt_as_text() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    fs::create_dir(&bin).unwrap();
    let args_file = dir.path().join("args");
    let fake = bin.join("zenity");
    fs::write(
        &fake,
        format!(
            "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\0' \"$a\"; done > {}\nexit 0\n",
            args_file.display()
        ),
    )
    .unwrap();
    fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../contrib/approvers/zenity-confirm");
    let prompt = "apisec-agent asks for approval\n\nsign bg (bitget)\n  remark = \"<b>\\n</b>\"";
    let mut cmd = std::process::Command::new("sh");
    cmd.arg(&script)
        .arg("sign bg (bitget): a transfer request")
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()));
    let out = run_with_stdin(&mut cmd, format!("{prompt}\n").as_bytes());
    assert_ok(&out, "zenity-confirm");
    let args = fs::read_to_string(&args_file).unwrap();
    let args: Vec<&str> = args.trim_end_matches('\0').split('\0').collect();
    assert!(args.contains(&"--no-markup"), "{args:?}");
    let text = args.iter().position(|a| *a == "--text").expect("--text");
    assert_eq!(args[text + 1], prompt);
}
