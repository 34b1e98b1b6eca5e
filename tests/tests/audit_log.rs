//! The audit log fails closed: no start on a log that is a link or a device, a renamed log
//! (logrotate) followed by a new file that continues the chain, and, with `on_failure =
//! "refuse"` (the default), no signature while the log cannot be written.

use std::fs;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use apisec_tests::*;

const SECRET: &[u8] = b"audit-secret-9f3e";

fn sign(env: &Env) -> std::process::Output {
    sign_assets(env, "bg")
}

/// Adds the Bitget secret, starts the agent and unlocks it.
fn start_with_bg(env: &mut Env) {
    assert_ok(
        &env.secret("bg", "bitget")
            .api_key("k")
            .secret_bytes(SECRET)
            .passphrase(b"p")
            .add(),
        "add",
    );
    env.start(&[]);
    assert_ok(&env.cli(&["unlock", "bg"]), "unlock");
}

fn audit_path(env: &Env) -> std::path::PathBuf {
    env.root().join("home/.local/state/apisec/audit.jsonl")
}

fn with_audit_section(env: &Env, section: &str) {
    let config = fs::read_to_string(&env.config).unwrap();
    fs::write(&env.config, format!("{config}\n[audit]\n{section}\n")).unwrap();
}

/// `apisec-agent run` in the foreground, expected to exit at once; its stderr.
fn start_fails(env: &Env) -> String {
    let out = env
        .agent_cmd()
        .args(["run", "--approver"])
        .arg(&env.approver)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success(), "the agent started");
    stderr(&out)
}

#[test]
fn the_agent_does_not_start_on_a_log_that_is_a_link_or_a_device() {
    let env = Env::new();
    env.init();
    with_audit_section(&env, "path = \"/dev/null\"");
    let why = start_fails(&env);
    assert!(
        why.contains("/dev/null") && why.contains("not a regular file"),
        "{why}"
    );

    let env = Env::new();
    env.init();
    let link = env.root().join("audit-link.jsonl");
    std::os::unix::fs::symlink(env.root().join("elsewhere.jsonl"), &link).unwrap();
    with_audit_section(&env, &format!("path = {:?}", link.display().to_string()));
    let why = start_fails(&env);
    assert!(why.contains("symbolic link"), "{why}");
    assert!(!env.root().join("elsewhere.jsonl").exists());
}

#[test]
fn a_rotated_log_goes_on_in_a_new_file_and_verifies_across_both() {
    let env = Env::ready_with_bitget(SECRET, b"p");
    assert_ok(&sign(&env), "sign");
    let log = audit_path(&env);
    let deadline = Instant::now() + Duration::from_secs(10);
    while fs::read_to_string(&log).unwrap_or_default().lines().count() < 2 {
        assert!(Instant::now() < deadline, "no lines");
        std::thread::sleep(Duration::from_millis(20));
    }
    // logrotate's default: rename, and let the program make the new file.
    let rotated = log.with_extension("jsonl.1");
    fs::rename(&log, &rotated).unwrap();
    assert_ok(&sign(&env), "sign after the rotation");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !log.exists() {
        assert!(Instant::now() < deadline, "no new file");
        std::thread::sleep(Duration::from_millis(20));
    }
    // The agent says so once it has made the new file: a moment after it is there.
    env.wait_for_log("was moved or replaced");
    let out = env.agent(&["audit", "verify"]);
    assert_ok(&out, "verify across the files");
    assert!(
        stdout(&out).contains("in 2 files, chain intact across them"),
        "{}",
        stdout(&out)
    );
    // The new file alone does not start the chain; with --continues it checks.
    let alone = log.display().to_string();
    assert_fails_with(
        &env.agent(&["audit", "verify", &alone]),
        1,
        "does not start the chain",
    );
    assert_ok(
        &env.agent(&["audit", "verify", "--continues", &alone]),
        "verify --continues",
    );
}

#[test]
#[ignore = "needs root: mounts a small tmpfs to fill; scripts/test.sh runs it as root"]
fn as_root_a_full_disk_refuses_signing_until_the_log_can_be_written_and_loses_nothing() {
    let mut env = Env::new();
    env.init();
    let mnt = env.root().join("tiny-log");
    let _tmpfs = SmallTmpfs::mount(&mnt);
    let log = mnt.join("audit.jsonl");
    with_audit_section(&env, &format!("path = {:?}", log.display().to_string()));
    start_with_bg(&mut env);
    assert_ok(&sign(&env), "sign before the disk is full");
    // Fill what is left.
    let fill = mnt.join("fill");
    let _ = Command::new("dd")
        .args(["if=/dev/zero", "bs=1k", "count=1000"])
        .arg(format!("of={}", fill.display()))
        .stderr(Stdio::null())
        .status();
    // The next decision fails to reach the log; from then on signing is refused.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut attempts = 0;
    let refusal = loop {
        attempts += 1;
        let out = sign(&env);
        if !out.status.success() {
            break stderr(&out);
        }
        assert!(Instant::now() < deadline, "signing went on with a full log");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        refusal.contains("the audit log cannot be written")
            && refusal.contains("signing is refused"),
        "{refusal}"
    );
    // Space returns: the writer's retry writes what waited, and signing resumes.
    fs::remove_file(&fill).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if sign(&env).status.success() {
            break;
        }
        assert!(Instant::now() < deadline, "signing did not resume");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_ok(&env.agent(&["stop"]), "stop");
    env.wait_agent_exit(Duration::from_secs(10));
    let text = fs::read_to_string(&log).unwrap();
    let signs = text
        .lines()
        .filter(|l| l.contains("\"action\":\"sign\""))
        .count();
    // The first signature, each attempt while it filled (signed or refused), and the ones after.
    assert!(
        signs > 1 + attempts,
        "{signs} sign records, {attempts} attempts:\n{text}"
    );
    let out = env.agent(&["audit", "verify", &log.display().to_string()]);
    assert_ok(&out, "verify");
}

/// `[audit] journal = true`: every line also goes to the journal, which records the sender's
/// uid itself. A log re-chained with a record removed verifies on its own; against the journal's
/// copies it does not. Copies claiming to be audit lines from another uid are not trusted. The
/// journal here is a stand-in receiver on its own socket that takes `_UID` from the kernel, as
/// journald does.
#[test]
fn a_rechained_log_verifies_alone_and_is_caught_by_the_journal() {
    let mut env = Env::new();
    env.init();
    let socket = env.root().join("journal.socket");
    let export = env.root().join("journal.json");
    let receiver =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("support/journal_receiver.py");
    let (_journal, ready) = spawn_for_first_line(
        Command::new("python3")
            .arg(&receiver)
            .arg(&socket)
            .arg(&export),
    );
    assert_eq!(ready, "ready");
    with_audit_section(
        &env,
        &format!(
            "journal = true\njournal_socket = {:?}",
            socket.display().to_string()
        ),
    );
    start_with_bg(&mut env);
    for _ in 0..3 {
        assert_ok(&sign(&env), "sign");
    }
    assert_ok(&env.agent(&["stop"]), "stop");
    env.wait_agent_exit(Duration::from_secs(10));
    let log = audit_path(&env);
    let text = fs::read_to_string(&log).unwrap();
    let lines = text.lines().count();
    let deadline = Instant::now() + Duration::from_secs(10);
    while fs::read_to_string(&export)
        .unwrap_or_default()
        .lines()
        .count()
        < lines
    {
        assert!(
            Instant::now() < deadline,
            "the journal has fewer copies than the log has lines"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let export_arg = export.display().to_string();
    let log_arg = log.display().to_string();
    let out = env.agent(&["audit", "verify", &log_arg, "--journal-file", &export_arg]);
    assert_ok(&out, "verify against the journal");
    assert!(
        stdout(&out).contains(&format!("{lines} line(s) match")),
        "{}",
        stdout(&out)
    );

    // A copy from another uid (written into the export as if journald had recorded it) is not
    // trusted: trusted, its seq 999 would be "a line the log lacks".
    let forged = "{\"SYSLOG_IDENTIFIER\":\"apisec-agent-audit\",\"_UID\":\"65534\",\
                  \"APISEC_AUDIT_SEQ\":\"999\",\"MESSAGE\":\"x\"}\n";
    fs::write(&export, fs::read_to_string(&export).unwrap() + forged).unwrap();
    let out = env.agent(&["audit", "verify", &log_arg, "--journal-file", &export_arg]);
    assert_ok(&out, "a copy from another uid is ignored");
    assert!(
        stdout(&out).contains("1 copies from other uids ignored"),
        "{}",
        stdout(&out)
    );

    // Remove the second signature's record and re-chain everything after it.
    let mut records: Vec<apisec_agent::audit::Record> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let second_sign = records
        .iter()
        .enumerate()
        .filter(|(_, r)| r.action == "sign")
        .nth(1)
        .unwrap()
        .0;
    records.remove(second_sign);
    let mut prev = apisec_agent::audit::GENESIS.to_owned();
    let mut out_text = String::new();
    for (i, r) in records.iter_mut().enumerate() {
        r.seq = i as u64 + 1;
        r.prev = prev.clone();
        out_text.push_str(&r.seal_line());
        out_text.push('\n');
        prev = r.hash.clone();
    }
    fs::write(&log, out_text).unwrap();
    assert_ok(
        &env.agent(&["audit", "verify", &log_arg]),
        "the re-chained log verifies on its own",
    );
    let out = env.agent(&["audit", "verify", &log_arg, "--journal-file", &export_arg]);
    assert_fails_with(&out, 1, "differs from the journal's copy");
}
