//! The owner's view of what a policy does: `endpoints` lists an exchange's table, `policy check`
//! shows the decision for one request without signing, `add`/`list`/`status` say which secrets
//! are weakened by choice, and a field rule on fields the signature does not cover is refused at
//! `add` and, for an entry sealed before the check existed, at unlock.

use apisec_tests::*;

const SECRET: &[u8] = b"policy-tools-secret-5d6e7f";

fn write(env: &Env, name: &str, text: &str) -> String {
    let p = env.root().join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

fn add(env: &Env, name: &str, exchange: &str, extra: &[&str]) -> std::process::Output {
    env.secret(name, exchange)
        .api_key("k")
        .secret_bytes(SECRET)
        .passphrase(b"p")
        .args(extra)
        .add()
}

const RAW: &str = "allow_raw = true";
const FRESHNESS_OFF: &str = "freshness = \"off\"";
const NO_DEFAULTS: &str = "default_deny = false";

#[test]
fn weakened_secrets_say_so_in_add_list_and_status() {
    let mut env = Env::new();
    env.init();
    let plain = add(&env, "plain", "bitget", &[]);
    assert_ok(&plain, "add plain");
    assert!(!stderr(&plain).contains("weakened"), "{}", stderr(&plain));
    let raw = add(&env, "raw", "bitget", &["--allow-raw"]);
    assert_ok(&raw, "add raw");
    assert!(
        stderr(&raw).contains(&format!("warning: raw is weakened by choice: {RAW}")),
        "{}",
        stderr(&raw)
    );
    let policy = write(&env, "loose.toml", "default_deny = false\n");
    let loose = add(
        &env,
        "loose",
        "bitget",
        &["--freshness", "off", "--policy", &policy],
    );
    assert_ok(&loose, "add loose");
    let err = stderr(&loose);
    assert!(
        err.contains(&format!("loose is weakened by choice: {FRESHNESS_OFF}")),
        "{err}"
    );
    assert!(
        err.contains(&format!("loose is weakened by choice: {NO_DEFAULTS}")),
        "{err}"
    );
    assert!(!err.contains(RAW), "{err}");

    // `list`: the notes sit under their own entry, and the JSON carries them per entry.
    let list = stdout(&env.agent(&["list"]));
    assert_eq!(list.matches("WEAKENED: ").count(), 3, "{list}");
    assert!(list.contains(&format!("WEAKENED: {RAW}")), "{list}");
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&env.agent(&["list", "--json"]))).unwrap();
    let weakened = |v: &serde_json::Value, name: &str, key: &str| -> Vec<String> {
        let entry = v
            .as_array()
            .or_else(|| v["secrets"].as_array())
            .unwrap()
            .iter()
            .find(|e| e["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {v}"));
        entry[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_str().unwrap().to_owned())
            .collect()
    };
    assert!(weakened(&json, "plain", "weakened_by").is_empty());
    let raw_notes = weakened(&json, "raw", "weakened_by");
    assert_eq!(raw_notes.len(), 1);
    assert!(raw_notes[0].starts_with(RAW));
    let loose_notes = weakened(&json, "loose", "weakened_by");
    assert_eq!(loose_notes.len(), 2, "{loose_notes:?}");
    assert!(loose_notes[0].starts_with(FRESHNESS_OFF));
    assert!(loose_notes[1].starts_with(NO_DEFAULTS));

    // `status` through the agent: the same notes, from the agent's reading of the store.
    env.start(&[]);
    let status = stdout(&env.cli(&["status"]));
    assert_eq!(status.matches("WEAKENED: ").count(), 3, "{status}");
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&env.cli(&["status", "--json"]))).unwrap();
    assert!(weakened(&json, "plain", "weakened_by").is_empty());
    assert_eq!(weakened(&json, "raw", "weakened_by"), raw_notes);
    assert_eq!(weakened(&json, "loose", "weakened_by"), loose_notes);
}

#[test]
fn endpoints_lists_the_table_by_class_with_what_the_signature_covers() {
    let env = Env::new();
    env.init();
    let out = env.agent(&["endpoints", "bitget", "--class", "transfer"]);
    assert_ok(&out, "endpoints bitget");
    let text = stdout(&out);
    assert!(
        text.contains("bitget signs the method, the path and the parameters"),
        "{text}"
    );
    let rows: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    assert!(rows.len() > 10, "{text}");
    assert!(rows.iter().all(|l| l.contains(" transfer ")), "{text}");
    // Every API version the deny list of 0.1.0 missed is there.
    for path in [
        "/api/v2/spot/wallet/withdrawal",
        "/api/spot/v1/wallet/withdrawal",
        "/api/v3/account/transfer",
    ] {
        assert!(rows.iter().any(|l| l.contains(path)), "{path} in {text}");
    }

    let json: serde_json::Value =
        serde_json::from_str(&stdout(&env.agent(&["endpoints", "binance", "--json"]))).unwrap();
    let all = json.as_array().unwrap();
    let classes: std::collections::BTreeSet<&str> =
        all.iter().map(|e| e["class"].as_str().unwrap()).collect();
    assert_eq!(
        classes.into_iter().collect::<Vec<_>>(),
        // `login`: the WebSocket API's session.logon and user data stream subscription.
        ["admin", "login", "read", "trade", "transfer"]
    );
    let withdraw = all
        .iter()
        .find(|e| e["path"] == "/sapi/v1/capital/withdraw/apply")
        .expect("binance withdraw in the table");
    assert_eq!(withdraw["class"], "transfer");
    assert!(withdraw["params"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p == "address"));
    let text = stdout(&env.agent(&["endpoints", "binance"]));
    assert!(
        text.contains("binance signs the parameters, not the endpoint"),
        "{text}"
    );

    assert_fails_with(
        &env.agent(&["endpoints", "bitget", "--class", "withdraw"]),
        1,
        "--class \"withdraw\" is not read, trade, transfer or admin",
    );
    assert_fails_with(
        &env.agent(&["endpoints", "nosuchexchange"]),
        2,
        "invalid value 'nosuchexchange' for '<EXCHANGE>'",
    );
}

#[test]
fn policy_check_prints_the_decision_without_signing_or_touching() {
    let env = Env::new();
    env.init();
    // No agent runs: the check reads the clear metadata and never needs the token.
    let step_up = write(
        &env,
        "step-up.toml",
        "[[rule]]\naction = \"step-up\"\nmethods = [\"POST\"]\npath = \"/api/v2/spot/wallet/withdrawal\"\n",
    );
    assert_ok(&add(&env, "bg", "bitget", &[]), "add bg");
    assert_ok(
        &add(&env, "bg-w", "bitget", &["--policy", &step_up]),
        "add bg-w",
    );
    assert_ok(&add(&env, "bn", "binance", &[]), "add bn");
    let check = |name: &str, method: &str, path: &str, rest: &[&str]| {
        let mut args = vec!["policy", "check", name, "--method", method, "--path", path];
        args.extend_from_slice(rest);
        env.agent(&args)
    };

    let out = check("bg", "GET", "/api/v2/spot/account/assets", &[]);
    assert_ok(&out, "read endpoint");
    let text = stdout(&out);
    assert!(
        text.contains("endpoint: GET /api/v2/spot/account/assets (read)"),
        "{text}"
    );
    assert!(text.contains("decision: signed"), "{text}");

    let body = write(
        &env,
        "w.json",
        r#"{"coin":"USDT","address":"T","size":"1"}"#,
    );
    let out = check(
        "bg",
        "POST",
        "/api/v2/spot/wallet/withdrawal",
        &["--body", &body],
    );
    assert_fails_with(
        &out,
        1,
        "decision: refused: POST /api/v2/spot/wallet/withdrawal is a transfer endpoint of bitget",
    );
    // The same bytes split across path and body: judged as the withdrawal it is good for.
    let shifted = write(
        &env,
        "shifted.json",
        r#"drawal{"coin":"USDT","address":"T","size":"1"}"#,
    );
    let out = check(
        "bg",
        "POST",
        "/api/v2/spot/wallet/with",
        &["--body", &shifted],
    );
    assert_fails_with(
        &out,
        1,
        "refused before the policy: malformed request for bitget: the body must be a JSON object",
    );
    assert!(!stdout(&out).contains("decision"), "{}", stdout(&out));

    let out = check(
        "bg-w",
        "POST",
        "/api/v2/spot/wallet/withdrawal",
        &["--body", &body],
    );
    assert_ok(&out, "step-up");
    assert!(
        stdout(&out).contains("decision: signed after a fresh approval (rule 1"),
        "{}",
        stdout(&out)
    );

    // Binance signs only the parameters: a withdrawal's parameters under a read path are judged
    // as the withdrawal the signature is also good for.
    let out = check(
        "bn",
        "GET",
        "/api/v3/account",
        &[
            "--query",
            "coin=USDT&network=TRX&address=T&amount=1&timestamp=1",
        ],
    );
    assert_fails_with(&out, 1, "/sapi/v1/capital/withdraw/apply");
    assert!(stdout(&out).contains("binance signs the parameters, not the endpoint"));
    let out = check("bn", "GET", "/api/v3/account", &["--query", "timestamp=1"]);
    assert_ok(&out, "binance read");

    // Refused before the policy: a spelling that is not the exchange's canonical path.
    assert_fails_with(
        &check("bg", "GET", "/api/v2/spot/account//assets", &[]),
        1,
        "refused before the policy",
    );
    assert_fails_with(
        &check("nope", "GET", "/api/v2/spot/account/assets", &[]),
        1,
        "no secret named \"nope\"",
    );
    assert_eq!(
        env.approver_log(),
        "",
        "policy check must never ask for approval"
    );
}

/// HTX does not sign a POST body: a rule that tests body fields would judge bytes the exchange
/// acts on but the signature does not bind.
const HTX_BODY_RULE: &str =
    "[[rule]]\naction = \"allow\"\nmethods = [\"POST\"]\npath = \"/v1/order/orders/place\"\nfields = { symbol = \"btcusdt\" }\n";

#[test]
fn a_rule_on_fields_the_signature_does_not_cover_is_refused_at_add_and_at_unlock() {
    let mut env = Env::new();
    env.init();
    let policy = write(&env, "htx.toml", HTX_BODY_RULE);
    let out = add(&env, "hx", "htx", &["--policy", &policy]);
    assert_fails_with(
        &out,
        1,
        "line 1: this rule tests fields, but htx does not sign a POST request's fields",
    );
    assert!(!env.store_dir().join("hx.toml").exists());
    // The same rule on GET (whose query HTX signs) is accepted.
    let get_rule = write(
        &env,
        "htx-get.toml",
        "[[rule]]\naction = \"deny\"\nmethods = [\"GET\"]\npath = \"/v1/order/orders\"\nfields = { symbol = \"btcusdt\" }\n",
    );
    assert_ok(
        &add(&env, "hx-get", "htx", &["--policy", &get_rule]),
        "GET field rule",
    );
    // Requiring a field of an unsigned body is testing it: refused the same way.
    let require_rule = write(
        &env,
        "htx-require.toml",
        "[[rule]]\naction = \"step-up\"\nmethods = [\"POST\"]\npath = \"/v1/dw/withdraw/api/create\"\nrequire = [\"client-order-id\"]\n",
    );
    assert_fails_with(
        &add(&env, "hx-req", "htx", &["--policy", &require_rule]),
        1,
        "line 1: this rule tests fields, but htx does not sign a POST request's fields",
    );

    // An entry sealed before the check existed (sealed directly, as an older `add` wrote it).
    use apisec_agent::store::{entry, EntryMeta, SecretMaterial, Store};
    let config = apisec_agent::config::ConfigFile::load(&env.config)
        .unwrap()
        .validate(&env.config)
        .unwrap();
    let (policy, _) = apisec_agent::policy::file::parse(HTX_BODY_RULE).unwrap();
    let meta = EntryMeta {
        name: "old-hx".into(),
        exchange: "htx".into(),
        api_key: "k".into(),
        created: "2026-01-01T00:00:00Z".into(),
        expires: None,
        allow_raw: false,
        freshness: "5s".into(),
        key_type: "hmac".into(),
        token_key: None,
        public_key: None,
        token_copies: Vec::new(),
        policy,
    };
    let file = entry::seal(
        &meta,
        &SecretMaterial {
            secret: SECRET,
            passphrase: None,
        },
        &config.seal_to(),
    )
    .unwrap();
    Store::new(env.store_dir()).create(&file).unwrap();
    env.start(&[]);
    let out = env.cli(&["unlock", "old-hx"]);
    assert_fails_with(&out, 1, "store entry \"old-hx\": rule 1 of its policy");
    assert!(
        stderr(&out).contains("add the secret again with a policy that tests only what htx signs")
    );
    let status = stdout(&env.cli(&["status"]));
    assert!(
        status.contains("old-hx") && status.contains("sealed"),
        "{status}"
    );
    assert_ok(
        &env.cli(&["unlock", "hx-get"]),
        "the other entry still unlocks",
    );
}
