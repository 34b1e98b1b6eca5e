//! Process hardening, proven from outside the process: the secret's bytes are in the agent's
//! memory while unsealed (so the scan works) and nowhere after `apisec lock`; no core dumps; not
//! readable by a process of the same uid; a clear warning when memory cannot be locked.

use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;
use std::time::Duration;

use apisec_tests::*;

const SECRET: &[u8] = b"MEMSCAN-c4n4ry-5ecr3t-7e1d9f20";

#[test]
#[ignore = "needs root: reads the agent's memory (it is not dumpable); scripts/test.sh runs it as root"]
fn as_root_secret_is_in_memory_while_unsealed_and_nowhere_after_lock() {
    let env = Env::ready_with_bitget(SECRET, b"pass");
    for _ in 0..20 {
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
    }
    let pid = env.agent_pid();
    let hits = find_in_memory(pid, SECRET);
    assert!(
        !hits.is_empty(),
        "the scan did not find the unsealed secret: the scan is broken"
    );
    assert_ok(&env.cli(&["lock"]), "lock");
    let hits = find_in_memory(pid, SECRET);
    assert!(
        hits.is_empty(),
        "after lock the secret is still at {hits:x?}"
    );

    // The same after ssh-add -D style forgetting and a new unseal + signatures.
    assert_ok(&env.cli(&["unlock", "bg"]), "unlock again");
    assert_ok(&sign_assets(&env, "bg"), "sign");
    assert!(!find_in_memory(pid, SECRET).is_empty());
    // SAFETY: signalling our own child.
    unsafe { libc::kill(pid as i32, libc::SIGUSR1) };
    env.wait_for_log("SIGUSR1: forgot");
    let hits = find_in_memory(pid, SECRET);
    assert!(
        hits.is_empty(),
        "after SIGUSR1 the secret is still at {hits:x?}"
    );
}

#[test]
#[ignore = "needs root: reads the agent's memory (it is not dumpable); scripts/test.sh runs it as root"]
fn as_root_no_core_dumps_and_lifetime_end_zeroizes() {
    let mut env = Env::new();
    env.init();
    assert_ok(
        &env.secret("bg", "bitget")
            .api_key("k")
            .secret_bytes(SECRET)
            .passphrase(b"p")
            .add(),
        "add",
    );
    // Long enough for the scan below to see the secret before the lifetime ends, on a busy
    // machine too (a scan of the agent's memory takes a while in a debug build).
    env.start(&["--lifetime", "6s"]);
    let pid = env.agent_pid();
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let core = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap();
    assert!(
        core.split_whitespace().skip(4).take(2).all(|v| v == "0"),
        "{core}"
    );
    assert_ok(&env.cli(&["unlock", "bg"]), "unlock");
    let unlocked = std::time::Instant::now();
    assert!(
        !find_in_memory(pid, SECRET).is_empty(),
        "the scan does not find the unsealed secret ({:?} after the unlock)",
        unlocked.elapsed()
    );
    env.wait_for_log("lifetime over: forgot bg");
    assert!(
        unlocked.elapsed() >= Duration::from_secs(4),
        "forgotten {:?} after the unlock, before its lifetime of 6 s",
        unlocked.elapsed()
    );
    assert!(
        find_in_memory(pid, SECRET).is_empty(),
        "the lifetime ended but the secret stayed"
    );
}

/// Gives the test world to uid 65534 so the agent can run as that user.
fn hand_to_nobody(env: &Env) {
    let status = std::process::Command::new("chown")
        .args(["-R", "65534:65534"])
        .arg(env.root())
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::set_permissions(env.root(), std::fs::Permissions::from_mode(0o700)).unwrap();
}

#[test]
#[ignore = "needs root: runs a client as another uid; scripts/test.sh runs it as root"]
fn as_root_same_uid_cannot_read_the_agent_and_a_small_memlock_limit_is_reported() {
    let env = Env::new();
    env.init();
    assert_ok(
        &env.secret("bg", "bitget")
            .api_key("k")
            .secret_bytes(SECRET)
            .passphrase(b"p")
            .add(),
        "add",
    );
    hand_to_nobody(&env);
    let log = std::fs::File::create(env.root().join("nobody-agent.log")).unwrap();
    let agent = binary("apisec-agent");
    let cmd = as_nobody(
        &env,
        &agent,
        &["run", "--approver", env.approver.to_str().unwrap()],
    );
    // RLIMIT_MEMLOCK 0: every mlock fails, and the agent must say so.
    let mut cmd = {
        let mut p = std::process::Command::new("prlimit");
        p.env_clear();
        for (k, v) in cmd.get_envs() {
            if let Some(v) = v {
                p.env(k, v);
            }
        }
        p.arg("--memlock=0:0")
            .arg("--")
            .arg(cmd.get_program())
            .args(cmd.get_args());
        p
    };
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    wait_until(
        Duration::from_secs(10),
        || std::os::unix::net::UnixStream::connect(&env.socket).ok(),
        || "agent as nobody did not start".into(),
    );
    let apisec = binary("apisec");
    let out = run_with_stdin(&mut as_nobody(&env, &apisec, &["unlock", "bg"]), b"");
    assert_ok(&out, "unlock as nobody");
    // The agent runs as 65534, not dumpable: another 65534 process cannot read its environment
    // or memory (with PR_SET_DUMPABLE 1 it could).
    let pid = child.id();
    let out = run_with_stdin(
        &mut as_nobody(
            &env,
            std::path::Path::new("/bin/cat"),
            &[&format!("/proc/{pid}/environ")],
        ),
        b"",
    );
    assert!(
        !out.status.success(),
        "a same-uid process read the agent's environment"
    );
    assert!(
        stderr(&out).contains("Permission denied"),
        "{}",
        stderr(&out)
    );
    let log = std::fs::read_to_string(env.root().join("nobody-agent.log")).unwrap();
    assert!(log.contains("RLIMIT_MEMLOCK is 0 bytes"), "{log}");
    assert!(log.contains("could not lock secret memory"), "{log}");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
#[ignore = "needs root: reads the agent's memory (it is not dumpable); scripts/test.sh runs it as root"]
fn as_root_remove_deletes_the_entry_and_the_running_agent_forgets_the_secret() {
    let env = Env::ready_with_bitget(SECRET, b"pass");
    assert_ok(&sign_assets(&env, "bg"), "sign");
    let pid = env.agent_pid();
    assert!(!find_in_memory(pid, SECRET).is_empty());
    let out = env.agent(&["remove", "bg"]);
    assert_ok(&out, "remove");
    assert!(
        stdout(&out).contains("removed bg") && stdout(&out).contains("forgot it"),
        "{}",
        stdout(&out)
    );
    assert!(!env.store_dir().join("bg.toml").exists());
    assert_fails_with(&sign_assets(&env, "bg"), 1, "no secret named \"bg\"");
    let hits = find_in_memory(pid, SECRET);
    assert!(
        hits.is_empty(),
        "after remove the secret is still at {hits:x?}"
    );
    assert_fails_with(&env.agent(&["remove", "bg"]), 1, "no secret named \"bg\"");
}
