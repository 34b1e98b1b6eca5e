//! Policy changes need the owner (docs/threat-model.md, "Policy changes"): the agent keeps what
//! was last approved for each secret; an entry copied back over a tightened one (a rollback) and
//! then reloaded switches only after an approval that shows the change, denial keeping the
//! tightened policy; remove + add (the remedy for an expired secret) is asked for as a change at
//! the next unlock; every such decision is audited.

use std::fs;
use std::time::Duration;

use apisec_tests::*;

const SECRET: &[u8] = b"changes-secret-71aa";
const WITHDRAW_BODY: &str =
    r#"{"coin":"USDT","transferType":"on_chain","address":"TXYZ","size":"1"}"#;

fn withdraw(env: &Env) -> std::process::Output {
    let body = env.root().join("w.json");
    fs::write(&body, WITHDRAW_BODY).unwrap();
    env.cli(&[
        "sign",
        "bg",
        "--method",
        "POST",
        "--path",
        "/api/v2/spot/wallet/withdrawal",
        "--body",
        &body.display().to_string(),
    ])
}

fn add(env: &Env, policy: Option<&str>) {
    let b = env.secret("bg", "bitget");
    let b = b.api_key("k").secret_bytes(SECRET).passphrase(b"p");
    let out = match policy {
        Some(p) => b.args(&["--policy", p]).add(),
        None => b.add(),
    };
    assert_ok(&out, "add");
}

fn reload(env: &Env) {
    apisec_agent::client::Client::connect(&env.socket)
        .unwrap()
        .reload()
        .unwrap();
}

fn policy_changes(env: &Env) -> Vec<serde_json::Value> {
    let path = env.root().join("home/.local/state/apisec/audit.jsonl");
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|r| r["action"] == "policy-change")
        .collect()
}

fn wait_for_changes(env: &Env, n: usize) -> Vec<serde_json::Value> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let got = policy_changes(env);
        if got.len() >= n {
            return got;
        }
        assert!(std::time::Instant::now() < deadline, "{got:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_rolled_back_entry_switches_only_with_an_approval_that_shows_the_change() {
    let mut env = Env::new();
    env.init();
    // The loose entry: transfers allowed. Kept aside, as an attacker with the store's old files
    // would have it.
    let loose = env.root().join("loose.toml");
    fs::write(
        &loose,
        "[[rule]]\naction = \"allow\"\nclass = \"transfer\"\n",
    )
    .unwrap();
    add(&env, Some(&loose.display().to_string()));
    let entry = env.store_dir().join("bg.toml");
    let old = fs::read(&entry).unwrap();
    // The creation time is the generation; one second later the new entry is newer.
    std::thread::sleep(Duration::from_millis(1100));
    // Tightened: removed and added again with the default policy (transfers refused).
    let out = env.agent(&["remove", "bg"]);
    assert_ok(&out, "remove");
    add(&env, None);
    env.start(&[]);
    assert_ok(&env.cli(&["unlock", "bg"]), "unlock");
    // Remove + add is a change: the unlock's approval said so.
    assert!(
        env.approver_stdin()
            .contains("changed since the last approval")
            && env.approver_stdin().contains("bg was removed on"),
        "{}",
        env.approver_stdin()
    );
    assert_eq!(wait_for_changes(&env, 1)[0]["decision"], "allowed");
    assert_fails_with(&withdraw(&env), 1, "is a transfer endpoint of bitget");

    // The old entry copied back, then a reload: the approver is asked, says no, and the
    // tightened policy stays.
    fs::write(&entry, &old).unwrap();
    env.set_approver("deny");
    let asked = env.approver_log().lines().count();
    reload(&env);
    assert_eq!(env.approver_log().lines().count(), asked + 1, "asked");
    let prompt = env.approver_stdin();
    assert!(
        prompt.contains("before the one last approved") && prompt.contains("reload bg (bitget)"),
        "{prompt}"
    );
    assert_fails_with(&withdraw(&env), 1, "is a transfer endpoint of bitget");
    let changes = wait_for_changes(&env, 2);
    assert_eq!(changes[1]["decision"], "denied", "{changes:?}");

    // Approved: the agent switches, and records it.
    env.set_approver("approve");
    reload(&env);
    assert_ok(&withdraw(&env), "the approved entry signs its withdrawal");
    let changes = wait_for_changes(&env, 3);
    assert_eq!(changes[2]["decision"], "allowed", "{changes:?}");
    // Approved once, a further reload of the same entry asks nothing.
    let asked = env.approver_log().lines().count();
    reload(&env);
    assert_eq!(env.approver_log().lines().count(), asked);
}

#[test]
fn a_changed_entry_of_a_sealed_secret_is_a_change_at_its_next_unlock() {
    let mut env = Env::new();
    env.init();
    add(&env, None);
    let entry = env.store_dir().join("bg.toml");
    env.start(&[]);
    assert_ok(&env.cli(&["unlock", "bg"]), "first unlock");
    assert!(
        !env.approver_stdin().contains("changed since"),
        "nothing approved before: {}",
        env.approver_stdin()
    );
    assert_ok(&env.cli(&["lock"]), "lock");
    // An entry of the same name with another policy (sealed by someone who knows the secret),
    // swapped in while the secret is sealed.
    let loose = env.root().join("loose.toml");
    fs::write(&loose, "default_deny = false\n").unwrap();
    let saved = fs::read(&entry).unwrap();
    assert_ok(&env.agent(&["remove", "bg"]), "remove");
    add(&env, Some(&loose.display().to_string()));
    let swapped = fs::read(&entry).unwrap();
    // The first entry back and approved again (after the removal, a change too), so that what
    // differs next is the policy only.
    fs::write(&entry, &saved).unwrap();
    assert_ok(&env.cli(&["unlock", "bg"]), "unlock");
    assert_ok(&env.cli(&["lock"]), "lock");
    fs::write(&entry, &swapped).unwrap();
    env.set_approver("deny");
    assert_fails_with(&env.cli(&["unlock", "bg"]), 4, "denied");
    let prompt = env.approver_stdin();
    assert!(
        prompt.contains("changed since the last approval") && prompt.contains("differ"),
        "{prompt}"
    );
    let changes = wait_for_changes(&env, 2);
    assert!(
        changes.iter().any(|c| c["decision"] == "denied"),
        "{changes:?}"
    );
}
