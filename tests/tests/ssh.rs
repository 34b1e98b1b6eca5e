//! Real SSH clients against the agent: OpenSSH's `ssh-add` (-l, -x/-X with SSH_ASKPASS, -D), and
//! the agent forwarded with `ssh -R` through a real `sshd` on 127.0.0.1 to a client on the far side.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use apisec_tests::sshd::Sshd;
use apisec_tests::*;

const SECRET: &[u8] = b"ssh-forwarded-secret-31";

fn ssh_add(env: &Env, args: &[&str], askpass: Option<&std::path::Path>) -> std::process::Output {
    let mut cmd = Command::new("ssh-add");
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("SSH_AUTH_SOCK", &env.socket)
        .args(args);
    if let Some(a) = askpass {
        cmd.env("SSH_ASKPASS", a)
            .env("SSH_ASKPASS_REQUIRE", "force")
            .env("DISPLAY", ":0");
    }
    run_with_stdin(&mut cmd, b"")
}

#[test]
fn ssh_add_lists_locks_unlocks_and_forgets() {
    let env = Env::ready_with_bitget(SECRET, b"p");
    let out = ssh_add(&env, &["-l"], None);
    assert!(
        stdout(&out).contains("The agent has no identities."),
        "{} {}",
        stdout(&out),
        stderr(&out)
    );

    let askpass = env.root().join("askpass.sh");
    std::fs::write(&askpass, "#!/bin/sh\necho correct-horse\n").unwrap();
    std::fs::set_permissions(&askpass, std::fs::Permissions::from_mode(0o700)).unwrap();
    let out = ssh_add(&env, &["-x"], Some(&askpass));
    assert!(out.status.success(), "ssh-add -x: {}", stderr(&out));
    assert!(stderr(&out).contains("Agent locked."), "{}", stderr(&out));
    // Locked: the secret was forgotten and nothing unseals or signs until ssh-add -X.
    assert_fails_with(
        &sign_assets(&env, "bg"),
        5,
        "the agent is locked (ssh-add -x)",
    );
    assert_fails_with(
        &env.cli(&["unlock", "bg"]),
        5,
        "unlock it with `ssh-add -X` first",
    );
    let status: serde_json::Value =
        serde_json::from_str(&stdout(&env.cli(&["status", "--json"]))).unwrap();
    assert_eq!(status["locked"], true);
    assert_eq!(status["secrets"][0]["unsealed"], false);

    let wrong = env.root().join("wrong.sh");
    std::fs::write(&wrong, "#!/bin/sh\necho battery-staple\n").unwrap();
    std::fs::set_permissions(&wrong, std::fs::Permissions::from_mode(0o700)).unwrap();
    let out = ssh_add(&env, &["-X"], Some(&wrong));
    assert!(
        !out.status.success(),
        "a wrong passphrase unlocked the agent"
    );
    let out = ssh_add(&env, &["-X"], Some(&askpass));
    assert!(
        out.status.success() && stderr(&out).contains("Agent unlocked."),
        "{}",
        stderr(&out)
    );
    assert_ok(&env.cli(&["unlock", "bg"]), "unlock after ssh-add -X");

    let out = ssh_add(&env, &["-D"], None);
    assert!(out.status.success(), "ssh-add -D: {}", stderr(&out));
    assert!(
        stderr(&out).contains("All identities removed."),
        "{}",
        stderr(&out)
    );
    assert_fails_with(&sign_assets(&env, "bg"), 5, "is sealed");
    let audited =
        |records: &[serde_json::Value], action: &str| records.iter().any(|r| r["action"] == action);
    let records = env.audit_when(|rs| audited(rs, "remove-all"));
    for action in ["agent-lock", "agent-unlock", "remove-all"] {
        assert!(
            audited(&records, action),
            "{action} not audited: {records:#?}"
        );
    }
}

#[test]
#[ignore = "needs root: runs sshd; scripts/test.sh runs it as root"]
fn as_root_the_agent_forwarded_with_ssh_r_signs_for_a_client_on_the_far_side() {
    let env = Env::ready_with_bitget(SECRET, b"p");
    let sshd = Sshd::start(&env);
    let remote = env.root().join("far-side.sock");
    let apisec = binary("apisec");
    // On the far side: wait for the forwarded socket, then sign through it.
    let remote_cmd = format!(
        "for i in $(seq 1 50); do [ -S {r} ] && break; sleep 0.1; done; {a} --socket {r} sign bg --method GET --path /api/v2/spot/account/assets --json",
        r = remote.display(),
        a = apisec.display()
    );
    let out = run_with_stdin(
        sshd.ssh()
            .arg("-R")
            .arg(format!("{}:{}", remote.display(), env.socket.display()))
            .arg("root@127.0.0.1")
            .arg(remote_cmd),
        b"",
    );
    assert_ok(&out, "ssh -R and sign on the far side");
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let ts = v["headers"]["ACCESS-TIMESTAMP"].as_str().unwrap();
    assert_eq!(
        v["headers"]["ACCESS-SIGN"],
        bitget_sign(SECRET, &format!("{ts}GET/api/v2/spot/account/assets"))
    );
}
