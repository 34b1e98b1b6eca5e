//! Least privilege end to end: default refusals by endpoint class, step-up approval per signature, client uid
//! checks, rate limits, expiry, rotation under a running agent, and the audit log.

use std::time::Duration;

use apisec_tests::*;

const SECRET: &[u8] = b"policy-secret-0a1b2c3d";
const WITHDRAW: &str = "/api/v2/spot/wallet/withdrawal";
const WITHDRAW_BODY: &str =
    r#"{"coin":"USDT","transferType":"on_chain","address":"TXYZ","size":"100"}"#;

fn write(env: &Env, name: &str, text: &str) -> String {
    let p = env.root().join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

fn sign_withdrawal(env: &Env, name: &str) -> std::process::Output {
    let body = write(env, "withdraw.json", WITHDRAW_BODY);
    env.cli(&[
        "sign", name, "--method", "POST", "--path", WITHDRAW, "--body", &body,
    ])
}

#[test]
fn withdrawal_is_refused_by_default_and_step_up_asks_every_time() {
    let mut env = Env::new();
    env.init();
    assert_ok(
        &env.secret("bg", "bitget")
            .api_key("k")
            .secret_bytes(SECRET)
            .passphrase(b"p")
            .add(),
        "add default",
    );
    let policy = write(
        &env,
        "withdraw-policy.toml",
        "# withdrawals of USDT only, each one approved\n[[rule]]\naction = \"step-up\"\nmethods = [\"POST\"]\n\
         path = \"/api/v2/spot/wallet/withdrawal\"\nfields = { coin = \"USDT\" }\n",
    );
    assert_ok(
        &env.secret("bg-w", "bitget")
            .api_key("k")
            .secret_bytes(SECRET)
            .passphrase(b"p")
            .args(&["--policy", &policy])
            .add(),
        "add with policy",
    );
    let list = stdout(&env.agent(&["list"]));
    assert!(
        list.contains(
            "policy: transfers, admin and unknown endpoints refused; step-up POST /api/v2/spot/wallet/withdrawal coin=USDT"
        ),
        "{list}"
    );
    env.start(&[]);
    assert_ok(&env.cli(&["unlock", "bg", "bg-w"]), "unlock");

    let out = sign_withdrawal(&env, "bg");
    assert_fails_with(
        &out,
        1,
        "refused: POST /api/v2/spot/wallet/withdrawal is a transfer endpoint of bitget",
    );
    // Ordinary trading is untouched.
    assert_ok(
        &env.cli(&[
            "sign",
            "bg",
            "--method",
            "POST",
            "--path",
            "/api/v2/spot/trade/place-order",
        ]),
        "order",
    );

    let before = env.approver_log().lines().count();
    let out = sign_withdrawal(&env, "bg-w");
    assert_ok(&out, "step-up approved");
    let log = env.approver_log();
    let prompt = log.lines().nth(before).expect("the approver was asked");
    assert!(
        prompt.starts_with("sign bg-w (bitget): a transfer request, asked by apisec")
            && prompt.contains("|class=transfer"),
        "{prompt}"
    );
    let full = env.approver_stdin();
    for line in [
        "request: POST /api/v2/spot/wallet/withdrawal",
        "endpoint class: transfer",
        "  address = \"TXYZ\"",
        "  coin = \"USDT\"",
        "  size = \"100\"",
        "  transferType = \"on_chain\"",
    ] {
        assert!(full.contains(line), "{line:?} in\n{full}");
    }
    let headers = parse_headers(&stdout(&out));
    let ts = header(&headers, "ACCESS-TIMESTAMP");
    assert_eq!(
        header(&headers, "ACCESS-SIGN"),
        bitget_sign(SECRET, &format!("{ts}POST{WITHDRAW}{WITHDRAW_BODY}"))
    );
    // A second signature needs a second approval: deny it.
    env.set_approver("deny");
    let out = sign_withdrawal(&env, "bg-w");
    assert_fails_with(&out, 4, "rule 1 (step-up POST /api/v2/spot/wallet/withdrawal coin=USDT) of bg-w's policy needs a fresh approval");
    assert_eq!(env.approver_log().lines().count(), before + 2);
    // Another coin matches no rule and falls to the default refusal of transfers.
    env.set_approver("approve");
    let body = write(&env, "btc.json", r#"{"coin":"BTC","size":"1"}"#);
    let out = env.cli(&[
        "sign", "bg-w", "--method", "POST", "--path", WITHDRAW, "--body", &body,
    ]);
    assert_fails_with(&out, 1, "is a transfer endpoint of bitget");

    // Audit: every decision is there, with the rule or the approval, and the chain verifies.
    let lines = env.audit_when(|rs| rs.iter().filter(|r| r["action"] == "sign").count() >= 5);
    let signs: Vec<&serde_json::Value> = lines.iter().filter(|l| l["action"] == "sign").collect();
    assert_eq!(signs.len(), 5, "{lines:#?}");
    assert_eq!(signs[0]["decision"], "denied");
    assert!(signs[0]["reason"]
        .as_str()
        .unwrap()
        .contains("is a transfer endpoint of bitget"));
    assert_eq!(signs[1]["decision"], "allowed");
    assert_eq!(
        signs[2]["approval"],
        "step-up approver (rule 1 (step-up POST /api/v2/spot/wallet/withdrawal coin=USDT))"
    );
    assert_eq!(signs[2]["path"], WITHDRAW);
    let body_sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
        WITHDRAW_BODY.as_bytes(),
    ));
    assert_eq!(signs[2]["body_sha256"], body_sha);
    assert_eq!(signs[3]["decision"], "denied");
    assert!(lines
        .iter()
        .any(|l| l["action"] == "unlock" && l["secret"] == "bg-w" && l["decision"] == "allowed"));
    assert!(
        lines
            .iter()
            .all(|l| l["pid"].is_number() && l["exe"].as_str().unwrap().ends_with("apisec")),
        "{lines:#?}"
    );
    let out = env.agent(&["audit", "verify"]);
    assert_ok(&out, "audit verify");
    assert!(stdout(&out).contains(&format!("{} lines, chain intact", lines.len())));
    let text = std::fs::read(env.home.join(".local/state/apisec/audit.jsonl")).unwrap();
    assert!(
        !text.windows(SECRET.len()).any(|w| w == SECRET),
        "the secret is in the audit log"
    );
    let tail = stdout(&env.agent(&["audit", "tail", "-n", "2"]));
    assert!(
        tail.lines().count() == 2 && tail.contains("sign bg-w POST /api/v2/spot/wallet/withdrawal"),
        "{tail}"
    );
}

#[test]
fn audit_verify_names_an_edited_deleted_or_swapped_line() {
    let mut env = Env::ready_with_bitget(SECRET, b"p");
    for _ in 0..3 {
        assert_ok(&sign_assets(&env, "bg"), "sign");
    }
    let n = env.audit_when(|rs| rs.len() >= 4).len();
    assert!(n >= 4);
    assert_ok(&env.agent(&["stop"]), "stop");
    env.wait_agent_exit(Duration::from_secs(5));
    let path = env.home.join(".local/state/apisec/audit.jsonl");
    let original = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = original.lines().collect();
    let check = |text: String, expect: &str| {
        std::fs::write(&path, text).unwrap();
        let out = env.agent(&["audit", "verify"]);
        assert_fails_with(&out, 1, expect);
    };
    let mut edited = lines.clone();
    let forged = lines[2].replacen("\"allowed\"", "\"denied\"", 1);
    assert_ne!(forged, lines[2]);
    edited[2] = &forged;
    check(
        edited.iter().map(|l| format!("{l}\n")).collect(),
        "line 3: its content does not match its hash",
    );
    check(
        lines
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != 1)
            .map(|(_, l)| format!("{l}\n"))
            .collect(),
        "line 2: sequence number",
    );
    let mut swapped = lines.clone();
    swapped.swap(1, 2);
    check(
        swapped.iter().map(|l| format!("{l}\n")).collect(),
        "line 2: sequence number",
    );
    std::fs::write(&path, &original).unwrap();
    assert_ok(&env.agent(&["audit", "verify"]), "restored");
}

#[test]
fn rate_limit_allows_the_burst_then_refuses_clearly() {
    let mut env = Env::new();
    env.init();
    let policy = write(&env, "rate.toml", "[rate]\nper_second = 0.1\nburst = 3\n");
    assert_ok(
        &env.secret("bg", "bitget")
            .api_key("k")
            .secret_bytes(SECRET)
            .passphrase(b"p")
            .args(&["--policy", &policy])
            .add(),
        "add",
    );
    env.start(&[]);
    assert_ok(&env.cli(&["unlock", "bg"]), "unlock");
    for i in 0..3 {
        assert_ok(&sign_assets(&env, "bg"), &format!("request {i}"));
    }
    let out = sign_assets(&env, "bg");
    assert_fails_with(
        &out,
        1,
        "rate limit of bg: 0.1 requests/s, burst 3; retry in",
    );
}

#[test]
#[ignore = "needs root: runs a client as another uid; scripts/test.sh runs it as root"]
fn as_root_another_uid_is_refused_at_the_socket_and_by_the_policy() {
    let mut env = Env::new();
    env.init();
    let policy = write(&env, "clients.toml", "[clients]\nuids = [0]\n");
    assert_ok(
        &env.secret("bg", "bitget")
            .api_key("k")
            .secret_bytes(SECRET)
            .passphrase(b"p")
            .args(&["--policy", &policy])
            .add(),
        "add",
    );
    env.start(&[]);
    assert_ok(&env.cli(&["unlock", "bg"]), "unlock");
    // uid 65534 reaches the socket only thanks to CAP_DAC_OVERRIDE; the agent's own check refuses it.
    let as_nobody = |env: &Env, args: &[&str]| {
        let mut cmd = as_other_uid(binary("apisec"));
        cmd.args(args).env("APISEC_AUTH_SOCK", &env.socket);
        run_with_stdin(&mut cmd, b"")
    };
    let out = as_nobody(&env, &["status"]);
    assert!(
        !out.status.success(),
        "uid 65534 was served: {}",
        stdout(&out)
    );
    assert!(
        env.log().contains("refused a connection from uid 65534"),
        "{}",
        env.log()
    );

    // Let uid 65534 in at the socket: the secret's policy (uids = [0]) still refuses it.
    std::fs::write(
        &env.config,
        std::fs::read_to_string(&env.config).unwrap() + "\n[agent]\nallowed_uids = [65534]\n",
    )
    .unwrap();
    assert_ok(&env.agent(&["stop"]), "stop");
    env.wait_agent_exit(Duration::from_secs(5));
    env.start(&[]);
    assert_ok(&env.cli(&["unlock", "bg"]), "unlock");
    assert_ok(&as_nobody(&env, &["status"]), "status as an allowed uid");
    let out = as_nobody(
        &env,
        &[
            "sign",
            "bg",
            "--method",
            "GET",
            "--path",
            "/api/v2/spot/account/assets",
        ],
    );
    // To a uid its policy leaves out, the entry does not exist (as in status).
    assert_fails_with(&out, 1, "no secret named \"bg\"");
    assert_ok(&sign_assets(&env, "bg"), "uid 0 is allowed");
}

#[test]
fn an_expired_secret_is_refused_with_the_way_to_rotate() {
    use apisec_agent::store::{entry, EntryMeta, SecretMaterial, Store};
    let mut env = Env::new();
    env.init();
    // `add` refuses a past date, so seal an entry that has since expired directly, as a store
    // written in 2019 would hold it.
    let config = apisec_agent::config::ConfigFile::load(&env.config)
        .unwrap()
        .validate(&env.config)
        .unwrap();
    let meta = EntryMeta {
        name: "old".into(),
        exchange: "bitget".into(),
        api_key: "k".into(),
        created: "2019-01-01T00:00:00Z".into(),
        expires: Some("2020-01-31".into()),
        allow_raw: false,
        freshness: "5s".into(),
        key_type: "hmac".into(),
        token_key: None,
        public_key: None,
        token_copies: Vec::new(),
        policy: apisec_agent::policy::Policy::standard(),
    };
    let file = entry::seal(
        &meta,
        &SecretMaterial {
            secret: SECRET,
            passphrase: Some(b"p"),
        },
        &config.seal_to(),
    )
    .unwrap();
    Store::new(env.store_dir()).create(&file).unwrap();
    let list = stdout(&env.agent(&["list"]));
    assert!(
        list.contains("2020-01-31 (EXPIRED: rotate it with `apisec-agent rotate`)"),
        "{list}"
    );
    env.start(&[]);
    assert_ok(&env.cli(&["unlock", "old"]), "unlock");
    let status = stdout(&env.cli(&["status"]));
    assert!(
        status.contains("2020-01-31 (EXPIRED: rotate it with `apisec-agent rotate`)"),
        "{status}"
    );
    let out = env.cli(&[
        "sign",
        "old",
        "--method",
        "GET",
        "--path",
        "/api/v2/spot/account/assets",
    ]);
    assert_fails_with(&out, 1, "secret \"old\" expired on 2020-01-31");

    // The documented remedy, a new key: remove, then add it again. The new entry of the name is
    // a change the unlock's approval shows; approved, it signs.
    assert_ok(&env.agent(&["remove", "old"]), "remove");
    assert_ok(
        &env.secret("old", "bitget")
            .api_key("k2")
            .secret_bytes(SECRET)
            .passphrase(b"p")
            .add(),
        "add again",
    );
    assert_ok(&env.cli(&["unlock", "old"]), "unlock the new entry");
    assert!(
        env.approver_stdin().contains("old was removed on"),
        "{}",
        env.approver_stdin()
    );
    assert_ok(
        &env.cli(&[
            "sign",
            "old",
            "--method",
            "GET",
            "--path",
            "/api/v2/spot/account/assets",
        ]),
        "the new entry signs",
    );
}

#[test]
fn rotate_while_the_agent_runs_switches_the_next_signature_and_keeps_a_backup() {
    let env = Env::ready_with_bitget(SECRET, b"p");
    let new_secret = b"rotated-secret-99zz";
    let f = write(&env, "new-secret", std::str::from_utf8(new_secret).unwrap());
    let out = env.agent(&["rotate", "bg", "--api-key", "k-new", "--secret-file", &f]);
    assert_ok(&out, "rotate");
    assert!(
        stdout(&out).contains("switched to the new secret"),
        "{}",
        stdout(&out)
    );
    let out = sign_assets(&env, "bg");
    assert_ok(&out, "sign after rotation");
    let headers = parse_headers(&stdout(&out));
    let ts = header(&headers, "ACCESS-TIMESTAMP");
    assert_eq!(
        header(&headers, "ACCESS-SIGN"),
        bitget_sign(new_secret, &format!("{ts}GET/api/v2/spot/account/assets"))
    );
    assert_eq!(header(&headers, "ACCESS-KEY"), "k-new");
    assert_eq!(
        header(&headers, "ACCESS-PASSPHRASE"),
        "p",
        "the passphrase is kept"
    );
    let backups: Vec<_> = std::fs::read_dir(env.store_dir().join("backup"))
        .unwrap()
        .collect();
    assert_eq!(backups.len(), 1);
    assert!(
        env.log().contains("reload: bg was rotated"),
        "{}",
        env.log()
    );

    // `remove` takes the backups with it (they hold the old secret), and only bg's: not those of
    // an entry whose name starts with bg's.
    let other = env.store_dir().join("backup/bg.x.20260101T000000Z.toml");
    std::fs::write(&other, "not bg's").unwrap();
    let out = env.agent(&["remove", "bg"]);
    assert_ok(&out, "remove");
    assert!(
        stdout(&out).contains("removed its rotation backup"),
        "{}",
        stdout(&out)
    );
    let left: Vec<_> = std::fs::read_dir(env.store_dir().join("backup"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(left, vec![other], "only bg's backups are removed");
}

#[test]
fn remove_keep_backups_says_where_the_old_secret_is() {
    let env = Env::ready_with_bitget(SECRET, b"p");
    let f = write(&env, "new-secret", "rotated-secret-2");
    assert_ok(&env.agent(&["rotate", "bg", "--secret-file", &f]), "rotate");
    let out = env.agent(&["remove", "bg", "--keep-backups"]);
    assert_ok(&out, "remove --keep-backups");
    assert!(
        stdout(&out).contains("kept its rotation backup") && stdout(&out).contains("backup/bg."),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        std::fs::read_dir(env.store_dir().join("backup"))
            .unwrap()
            .count(),
        1
    );
}

#[test]
fn policy_files_with_errors_are_refused_naming_the_line() {
    let env = Env::new();
    env.init();
    let cases = [
        ("[[rule]\naction = \"deny\"\n", "line 1:"),
        ("[[rule]]\naction = \"deny\"\npath = \"/x\"\ncolor = \"red\"\n", "line 4: unknown field `color`"),
        ("[[rule]]\naction = \"deny\"\npath = \"/x\"\n\n[[rule]]\naction = \"allow\"\npath = \"/x\"\n", "line 5: this rule (allow * /x) contradicts the rule at line 1"),
        ("[[rule]]\naction = \"allow\"\nmethods = [\"FETCH\"]\npath = \"/x\"\n", "line 1: unknown method \"FETCH\""),
        ("[[rule]]\naction = \"deny\"\npath = \"/x\"\nrequire = [\"clientOid\"]\n", "line 1: require = [...] belongs on an allow or step-up rule"),
        ("[[rule]]\naction = \"allow\"\npath = \"/x\"\nrequire = [\" clientOid\"]\n", "line 1: require names fields by their exact name"),
    ];
    for (i, (text, expect)) in cases.iter().enumerate() {
        let p = write(&env, &format!("bad{i}.toml"), text);
        let out = env
            .secret("bg", "bitget")
            .api_key("k")
            .secret_bytes(SECRET)
            .passphrase(b"p")
            .args(&["--policy", &p])
            .add();
        assert_fails_with(&out, 1, expect);
        assert!(!env.store_dir().join("bg.toml").exists());
    }
    let p = write(&env, "conflict.toml", "freshness = \"off\"\n");
    let out = env
        .secret("bg", "bitget")
        .api_key("k")
        .secret_bytes(SECRET)
        .passphrase(b"p")
        .args(&["--policy", &p, "--freshness", "10s"])
        .add();
    assert_fails_with(
        &out,
        1,
        "contradicts freshness = \"off\" in the policy file",
    );
}

/// docs/policy.md, "Replays": a step-up approves one signature, which the exchange would still
/// take twice within its window; `require` makes the client id part of what is approved. A
/// withdrawal without it, with it empty, under another spelling of its name, or with it outside
/// the signed bytes, is refused before anyone is asked; with it, asked and signed.
#[test]
fn a_required_client_id_is_checked_before_the_approval_and_in_the_signed_bytes() {
    let mut env = Env::new();
    env.init();
    let policy = write(
        &env,
        "replay.toml",
        "[[rule]]\naction = \"step-up\"\nmethods = [\"POST\"]\npath = \"/api/v2/spot/wallet/withdrawal\"\n\
         require = [\"clientOid\"]\n",
    );
    assert_ok(
        &env.secret("bg", "bitget")
            .api_key("k")
            .secret_bytes(SECRET)
            .passphrase(b"p")
            .args(&["--policy", &policy])
            .add(),
        "add",
    );
    let list = stdout(&env.agent(&["list"]));
    assert!(
        list.contains("step-up POST /api/v2/spot/wallet/withdrawal require=clientOid"),
        "{list}"
    );
    env.start(&[]);
    assert_ok(&env.cli(&["unlock", "bg"]), "unlock");
    let asked = || env.approver_log().lines().count();
    let before = asked();
    let bodies = [
        WITHDRAW_BODY.to_owned(),
        WITHDRAW_BODY.replace("}", r#","clientOid":""}"#),
        WITHDRAW_BODY.replace("}", r#","clientoid":"w-1"}"#),
        WITHDRAW_BODY.replace("}", r#","extra":{"clientOid":"w-1"}}"#),
    ];
    for (i, body) in bodies.iter().enumerate() {
        let file = write(&env, &format!("w{i}.json"), body);
        let out = env.cli(&[
            "sign", "bg", "--method", "POST", "--path", WITHDRAW, "--body", &file,
        ]);
        assert_fails_with(&out, 1, "the request must carry clientOid");
    }
    // The client id in the query, which Bitget's POST does not read: refused too.
    let file = write(&env, "wq.json", WITHDRAW_BODY);
    let out = env.cli(&[
        "sign",
        "bg",
        "--method",
        "POST",
        "--path",
        WITHDRAW,
        "--query",
        "clientOid=w-1",
        "--body",
        &file,
    ]);
    assert!(!out.status.success(), "{}", stdout(&out));
    assert_eq!(
        asked(),
        before,
        "nobody was asked for a request the policy refuses"
    );

    let body = WITHDRAW_BODY.replace("}", r#","clientOid":"w-1"}"#);
    let file = write(&env, "ok.json", &body);
    let out = env.cli(&[
        "sign", "bg", "--method", "POST", "--path", WITHDRAW, "--body", &file,
    ]);
    assert_ok(&out, "withdrawal with its client id");
    assert_eq!(asked(), before + 1, "the step-up asked");
    assert!(
        env.approver_stdin().contains("  clientOid = \"w-1\"\n"),
        "the prompt shows the client id: {}",
        env.approver_stdin()
    );
}
