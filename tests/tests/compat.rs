//! What a user has on disk keeps working: the store, config, SoftHSM token and audit log that
//! release 0.1.0's binaries wrote (`tests/fixtures/compat/0.1.0`, made by
//! `tests/fixtures/compat/make.sh`) open, unlock, sign and verify with today's binaries. Every
//! signature is checked here with its own computation, from the secrets `make.sh` sealed.

use std::path::PathBuf;

use apisec_tests::*;
use base64::Engine;
use hmac::Mac;

const BITGET_SECRET: &[u8] = b"fixture-bitget-secret-6e8e2f3b1c0a4d5e9f7a";
const BINANCE_SECRET: &[u8] = b"fixtureBinanceHmacSecret0123456789abcdefABCDEF0123456789abcdefAB";
const KRAKEN_SECRET: &str =
    "a3Jha2VuLWZpeHR1cmUtc2VjcmV0LTY0LWJ5dGVzLWxvbmctMDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODk=";
const OKX_SECRET: &[u8] = b"FIXTURE0OKX0SECRET0123456789ABCDEF";
const NAMES: [&str; 5] = [
    "bitget-main",
    "binance-hmac",
    "kraken-spot",
    "okx-raw",
    "binance-ed",
];

fn fixture(release: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/compat")
        .join(release)
}

/// `PATH: N lines, chain intact` from `apisec-agent audit verify`.
fn verified_records(env: &Env) -> u64 {
    let out = env.agent(&["audit", "verify"]);
    assert_ok(&out, "audit verify");
    let text = stdout(&out) + &stderr(&out);
    text.split_whitespace()
        .zip(text.split_whitespace().skip(1))
        .find(|(_, word)| *word == "lines,")
        .and_then(|(n, _)| n.parse().ok())
        .unwrap_or_else(|| panic!("no line count in {text:?}"))
}

#[test]
fn release_0_1_0_store_config_token_and_audit_log_keep_working() {
    let mut env = Env::from_fixture(&fixture("0.1.0"));

    let out = env.agent(&["list"]);
    assert_ok(&out, "list");
    for name in NAMES {
        assert!(stdout(&out).contains(name), "{name}: {}", stdout(&out));
    }
    let written = verified_records(&env);
    assert!(
        written >= 10,
        "the fixture's log holds its decisions: {written}"
    );

    env.start(&[]);
    // The token-key entry of 0.1.0 carries no attestation by the token (anyone with the
    // recipient could have sealed it): refused with the migration, which its owner runs after
    // checking its policy; then it unlocks as before.
    assert_fails_with(
        &env.cli(&["unlock", "binance-ed"]),
        1,
        "carries no attestation by the token",
    );
    assert!(stderr(&env.cli(&["unlock", "binance-ed"])).contains("apisec-agent attest binance-ed"));
    let out = env.agent(&["attest", "binance-ed", "--yes"]);
    assert_ok(&out, "attest");
    assert!(stdout(&out).contains("policy: "), "{}", stdout(&out));
    let mut unlock = vec!["unlock"];
    unlock.extend(NAMES);
    assert_ok(&env.cli(&unlock), "unlock");

    assert_cli_bitget_get_signs(&env, "bitget-main", BITGET_SECRET);

    // Binance HMAC: hex HMAC-SHA256 of the query with the agent's timestamp.
    let v = sign_json(
        &env,
        &[
            "binance-hmac",
            "--method",
            "GET",
            "--path",
            "/api/v3/account",
        ],
    );
    let ts = v["query_additions"]["timestamp"].as_str().unwrap();
    assert_eq!(
        v["query_additions"]["signature"],
        hex::encode(hmac_sha256(
            BINANCE_SECRET,
            format!("timestamp={ts}").as_bytes()
        ))
    );

    // Kraken: base64 HMAC-SHA512, keyed with the decoded secret, of path + SHA-256(nonce + body).
    let v = sign_json(
        &env,
        &[
            "kraken-spot",
            "--method",
            "POST",
            "--path",
            "/0/private/Balance",
        ],
    );
    let body = v["body"].as_str().unwrap();
    let nonce = body
        .strip_prefix("nonce=")
        .expect("the agent's nonce is the body");
    let b64 = base64::engine::general_purpose::STANDARD;
    let inner = <sha2::Sha256 as sha2::Digest>::digest(format!("{nonce}{body}"));
    let mut mac =
        hmac::Hmac::<sha2::Sha512>::new_from_slice(&b64.decode(KRAKEN_SECRET).unwrap()).unwrap();
    mac.update(b"/0/private/Balance");
    mac.update(&inner);
    assert_eq!(
        v["headers"]["API-Sign"],
        b64.encode(mac.finalize().into_bytes())
    );

    // OKX: base64 HMAC-SHA256 of ts + METHOD + path.
    let v = sign_json(
        &env,
        &[
            "okx-raw",
            "--method",
            "GET",
            "--path",
            "/api/v5/account/balance",
        ],
    );
    let ts = v["headers"]["OK-ACCESS-TIMESTAMP"].as_str().unwrap();
    assert_eq!(
        v["headers"]["OK-ACCESS-SIGN"],
        b64.encode(hmac_sha256(
            OKX_SECRET,
            format!("{ts}GET/api/v5/account/balance").as_bytes()
        ))
    );
    assert_eq!(
        v["headers"]["OK-ACCESS-PASSPHRASE"],
        "fixture-okx-passphrase"
    );

    // The raw MAC the entry was sealed to allow.
    let out = env.cli_with_stdin(&["mac", "okx-raw", "--alg", "hmac-sha256"], b"fixture");
    assert_ok(&out, "mac");
    assert_eq!(
        stdout(&out).trim(),
        hex::encode(hmac_sha256(OKX_SECRET, b"fixture"))
    );

    // The key made on the token in 0.1.0 still signs there: Ed25519 over the parameters.
    use ed25519_dalek::pkcs8::DecodePublicKey;
    let pem = std::fs::read_to_string(fixture("0.1.0").join("binance-ed.pub.pem")).unwrap();
    let vk = ed25519_dalek::VerifyingKey::from_public_key_pem(&pem).unwrap();
    let v = sign_json(
        &env,
        &["binance-ed", "--method", "GET", "--path", "/api/v3/account"],
    );
    let ts = v["query_additions"]["timestamp"].as_str().unwrap();
    let sig = v["query_additions"]["signature"]
        .as_str()
        .unwrap()
        .replace("%2B", "+")
        .replace("%2F", "/")
        .replace("%3D", "=");
    let sig: [u8; 64] = b64.decode(sig).unwrap().try_into().unwrap();
    vk.verify_strict(
        format!("timestamp={ts}").as_bytes(),
        &ed25519_dalek::Signature::from_bytes(&sig),
    )
    .expect("the token key's signature verifies");

    // The policy sealed in 0.1.0 still governs: its deny rule, and its step-up rule (denied).
    let out = env.cli(&[
        "sign",
        "bitget-main",
        "--method",
        "POST",
        "--path",
        "/api/v2/spot/wallet/transfer",
        "--body",
        "-",
    ]);
    assert!(
        !out.status.success(),
        "the deny rule refuses: {}",
        stdout(&out)
    );
    assert!(stderr(&out).contains("rule 2"), "{}", stderr(&out));
    env.set_approver("deny");
    let body = env.root().join("withdraw.json");
    std::fs::write(
        &body,
        r#"{"coin":"USDT","size":"1","address":"x","chain":"trc20"}"#,
    )
    .unwrap();
    let out = env.cli(&[
        "sign",
        "bitget-main",
        "--method",
        "POST",
        "--path",
        "/api/v2/spot/wallet/withdrawal",
        "--body",
        body.to_str().unwrap(),
    ]);
    assert!(
        !out.status.success(),
        "the step-up was denied: {}",
        stdout(&out)
    );
    assert!(
        env.approver_stdin()
            .contains("request: POST /api/v2/spot/wallet/withdrawal"),
        "the approver was asked: {}",
        env.approver_stdin()
    );

    // The chain the release began goes on: every new decision is appended to it and verifies.
    assert_ok(&env.agent(&["stop"]), "stop");
    env.wait_agent_exit(std::time::Duration::from_secs(20))
        .expect("the agent stops");
    let now = verified_records(&env);
    assert!(now >= written + 5 + 7, "{written} then {now}");
}

/// A Deribit entry of 0.1.0 has no `allow_login`, and every Deribit signature is also a login
/// (`public/auth` with `client_signature`): it stays on disk and listed, its unlock is refused
/// with the reason and the remedy, and nothing else of the store is affected.
/// 0.1.0 addressed its stanzas with a tag stock age-plugin-yubikey does not recognise (SHA-256
/// of the recipient string): such an entry still opens, the agent says how to re-seal it, and
/// `rotate` seals it again with the plugin's tag.
#[test]
fn an_entry_of_0_1_0_with_the_old_stanza_tag_opens_and_reseal_finds_it_and_seals_it_with_the_plugins_tag(
) {
    use apisec_tests::soft_piv::{plugin_tag, sealed_block, stanza_tags};
    let mut env = Env::from_fixture(&fixture("0.1.0"));
    let entry_path = env.store_dir().join("bitget-main.toml");
    let recipient = std::fs::read_to_string(&env.config)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("recipient = "))
        .map(|r| r.trim_matches('"').to_owned())
        .expect("the config's recipient");
    let tags = || {
        stanza_tags(&sealed_block(
            &std::fs::read_to_string(&entry_path).unwrap(),
        ))
    };
    let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
    let legacy = b64.encode(&<sha2::Sha256 as sha2::Digest>::digest(recipient.as_bytes())[..4]);
    assert_eq!(tags(), vec![legacy]);
    env.start(&[]);
    assert_ok(&env.cli(&["unlock", "bitget-main"]), "unlock");
    env.wait_for_log("was sealed by a release before 0.2");
    assert!(
        env.log().contains("apisec-agent reseal bitget-main"),
        "{}",
        env.log()
    );
    // `reseal`, without names, finds the entries with the old tag (same recipients as the
    // config's, so only the header tells), and leaves the token-key entry alone.
    let out = env.agent(&["reseal", "--yes"]);
    assert_ok(&out, "reseal");
    assert!(
        stdout(&out).contains("resealed bitget-main"),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains("binance-ed: skipped"),
        "{}",
        stdout(&out)
    );
    assert_eq!(tags(), vec![plugin_tag(&recipient)]);
    assert!(stdout(&env.agent(&["reseal", "--yes"])).contains("nothing to do"));
    assert_ok(&env.cli(&["unlock", "bitget-main"]), "unlock after reseal");
    assert_cli_bitget_get_signs(&env, "bitget-main", BITGET_SECRET);
    // rotate, too, writes the plugin's tag.
    let secret = env.root().join("new-secret");
    std::fs::write(&secret, b"rotated-bitget-secret").unwrap();
    let out = env.agent(&[
        "rotate",
        "bitget-main",
        "--secret-file",
        secret.to_str().unwrap(),
    ]);
    assert_ok(&out, "rotate");
    assert_eq!(tags(), vec![plugin_tag(&recipient)]);
    assert_ok(&env.cli(&["unlock", "bitget-main"]), "unlock after rotate");
    assert_cli_bitget_get_signs(&env, "bitget-main", b"rotated-bitget-secret");
}

#[test]
fn a_deribit_entry_of_0_1_0_is_refused_at_unlock_and_says_how_to_fix_it() {
    let mut env = Env::from_fixture(&fixture("0.1.0"));
    let out = env.agent(&["list"]);
    assert_ok(&out, "list");
    assert!(stdout(&out).contains("deribit-main"), "{}", stdout(&out));
    env.start(&[]);
    let out = env.cli(&["unlock", "deribit-main"]);
    assert!(!out.status.success(), "unlocked: {}", stdout(&out));
    let why = stderr(&out);
    for part in [
        "deribit-main",
        "public/auth",
        "allow_login = true",
        "add the secret again",
    ] {
        assert!(why.contains(part), "{part:?} missing from: {why}");
    }
    let out = env.cli(&[
        "sign",
        "deribit-main",
        "--method",
        "GET",
        "--path",
        "/api/v2/private/get_account_summary",
    ]);
    assert!(!out.status.success(), "signed: {}", stdout(&out));
    assert_ok(
        &env.cli(&["unlock", "bitget-main"]),
        "unlock of another entry",
    );
    assert_cli_bitget_get_signs(&env, "bitget-main", BITGET_SECRET);
}

/// A newer client against an agent that predates the status notes: such an agent reads a
/// `status@apisec` request with details as malformed (release 0.1.0 answers `bad-request`,
/// checked by hand against its build); the client asks again without them and shows the status.
#[test]
fn a_newer_client_asks_an_older_agent_for_status_the_old_way() {
    use apisec_agent::proto::{self, frame, ErrorCode, ErrorReply, StatusEntry, StatusReply};
    use std::os::unix::net::UnixListener;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old-agent.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let old_agent = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut seen = Vec::new();
        for _ in 0..2 {
            let request = frame::read_blocking(&mut conn).unwrap();
            // type 27, string "status@apisec", then the details.
            let details = request[1 + 4 + proto::EXT_STATUS.len()..].to_vec();
            let reply = if details.is_empty() {
                let old = StatusReply {
                    version: "0.1.0".into(),
                    pid: 1,
                    agent_locked: false,
                    entries: vec![StatusEntry {
                        name: "bg".into(),
                        exchange: "bitget".into(),
                        api_key: "k".into(),
                        unsealed: false,
                        expires: String::new(),
                        forget_at: 0,
                        problem: String::new(),
                        notes: String::new(),
                        recipients: Vec::new(),
                    }],
                };
                proto::extension_response_frame(proto::EXT_STATUS, &old.encode())
            } else {
                ErrorReply::new(ErrorCode::BadRequest, "status@apisec: 4 trailing bytes").to_frame()
            };
            seen.push(details);
            frame::write_blocking(&mut conn, &reply).unwrap();
        }
        seen
    });
    let mut client = apisec_agent::client::Client::connect(&path).unwrap();
    let status = client.status().expect("status from an older agent");
    assert_eq!(status.version, "0.1.0");
    assert_eq!(status.entries[0].name, "bg");
    assert_eq!(status.entries[0].notes, "");
    let seen = old_agent.join().unwrap();
    assert_eq!(seen, [vec![0, 0, 0, 3], vec![]]);
}
