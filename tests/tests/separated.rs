//! The separated deployment end to end (docs/operations.md, "The separated deployment"): the agent
//! as its own system user, set up by `apisec-agent setup-system`; a bot as another real uid
//! without capabilities, reaching only the socket through the group; an admin uid that answers
//! approvals over the socket. Needs root (it creates and removes users and a group).

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use apisec_tests::system_host::{uid_of, wait_for_socket, SystemHost};
use apisec_tests::*;

const SECRET: &[u8] = b"separated-secret-4c1d";

fn extension(name: &str, details: &[u8]) -> Vec<u8> {
    let mut m = vec![27u8];
    m.extend_from_slice(&(name.len() as u32).to_be_bytes());
    m.extend_from_slice(name.as_bytes());
    m.extend_from_slice(details);
    m
}

#[test]
#[ignore = "needs root: creates users and a group; scripts/test.sh runs it as root"]
fn as_root_the_separated_deployment_keeps_the_bot_to_its_own_signatures() {
    let mut host = SystemHost::new();
    let (agent, bot, admin) = (host.agent.clone(), host.bot.clone(), host.admin.clone());

    // 1. setup-system: users, group, directories, the token, init, two entries, [agent].
    host.set_up_with_two_entries(SECRET);
    let state = host.state.clone();

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
    let unlock = host.spawn_unlock(&bot, "bot-bg");
    let (listed, id) = host.waiting_approval(&admin);
    assert!(listed.contains("unlock bot-bg (bitget)"), "{listed}");
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
