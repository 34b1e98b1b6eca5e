//! Bad input of every kind gets a clear error, loses nothing, and the agent keeps serving:
//! tampered and damaged store entries, hostile frames, wrong PIN, missing module, duplicate add.

use std::io::Write;
use std::time::Duration;

use apisec_tests::frames::{extension, frame, status, string};
use apisec_tests::*;

const SECRET: &[u8] = b"bad-input-secret-91c2";

/// Two Bitget secrets, the agent running.
fn two_secrets() -> Env {
    let mut env = Env::new();
    env.init();
    assert_ok(
        &env.secret("good", "bitget")
            .api_key("k-good")
            .secret_bytes(SECRET)
            .passphrase(b"p")
            .add(),
        "add good",
    );
    assert_ok(
        &env.secret("victim", "bitget")
            .api_key("k-victim")
            .secret_bytes(SECRET)
            .passphrase(b"p")
            .add(),
        "add victim",
    );
    env.start(&[]);
    env
}

#[track_caller]
fn good_still_works(env: &Env) {
    assert_ok(&env.cli(&["unlock", "good"]), "unlock good");
    assert_ok(
        &env.cli(&[
            "sign",
            "good",
            "--method",
            "GET",
            "--path",
            "/api/v2/spot/account/assets",
        ]),
        "sign good",
    );
}

#[test]
fn edited_clear_metadata_is_refused_by_name() {
    let env = two_secrets();
    let path = env.store_dir().join("victim.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("api_key = \"k-victim\""));
    std::fs::write(
        &path,
        text.replace("api_key = \"k-victim\"", "api_key = \"k-attacker\""),
    )
    .unwrap();
    let out = env.cli(&["unlock", "victim"]);
    assert_fails_with(
        &out,
        1,
        "store entry \"victim\" was altered: its clear api_key differ(s) from the sealed copy",
    );
    good_still_works(&env);

    // Renaming another entry's file onto a name is caught too (name is sealed).
    std::fs::copy(
        env.store_dir().join("good.toml"),
        env.store_dir().join("copy.toml"),
    )
    .unwrap();
    let out = env.cli(&["unlock", "copy"]);
    assert_fails_with(&out, 1, "was altered: its clear name");
}

#[test]
fn truncated_or_garbage_entries_are_named_and_others_survive() {
    let env = two_secrets();
    let path = env.store_dir().join("victim.toml");
    let text = std::fs::read(&path).unwrap();
    std::fs::write(&path, &text[..text.len() / 2]).unwrap();
    let out = env.cli(&["unlock", "victim"]);
    assert_fails_with(&out, 1, "victim.toml is damaged");
    assert!(
        stderr(&out).contains("restore it from a backup or remove it"),
        "{}",
        stderr(&out)
    );

    // A whole entry with its sealed block cut short: still parses as TOML, fails integrity.
    let text = String::from_utf8(text).unwrap();
    let start = text.find("-----BEGIN AGE ENCRYPTED FILE-----").unwrap();
    let end = text.find("-----END AGE ENCRYPTED FILE-----").unwrap();
    let cut = format!(
        "{}{}\n{}",
        &text[..start],
        &text[start..start + (end - start) / 2].trim_end(),
        &text[end..]
    );
    std::fs::write(&path, cut).unwrap();
    let out = env.cli(&["unlock", "victim"]);
    assert_fails_with(&out, 1, "store entry \"victim\"");

    std::fs::write(env.store_dir().join("junk.toml"), [0xff, 0x00, 0x13, 0x37]).unwrap();
    let out = env.cli(&["unlock", "junk"]);
    assert_fails_with(&out, 1, "junk.toml is damaged: it is not UTF-8 text");
    let status = stdout(&env.cli(&["status"]));
    assert!(
        status.contains("junk") && status.contains("UNUSABLE"),
        "{status}"
    );
    let list = env.agent(&["list"]);
    assert_ok(&list, "list with a damaged entry");
    assert!(
        stdout(&list).contains("junk") && stdout(&list).contains("good"),
        "{}",
        stdout(&list)
    );
    good_still_works(&env);
}

#[test]
fn a_4_gib_frame_closes_only_that_connection() {
    let env = two_secrets();
    let mut bad = env.connect();
    bad.write_all(&[0xff, 0xff, 0xff, 0xff, 27, 0, 0]).unwrap();
    assert_eq!(
        read_frame(&mut bad),
        None,
        "the agent should close the connection"
    );
    let mut ok = env.connect();
    let reply = roundtrip_raw(&mut ok, &status()).expect("a new connection is served");
    assert_eq!(reply[0], 29);
    assert!(
        env.log().contains("over the 262144-byte limit"),
        "{}",
        env.log()
    );
    good_still_works(&env);
}

#[test]
fn garbage_and_unknown_messages_get_failure_and_the_connection_stays_usable() {
    let env = two_secrets();
    let mut c = env.connect();
    // Unknown message type.
    assert_eq!(
        roundtrip_raw(&mut c, &frame(0xfe, b"garbage")).unwrap(),
        vec![5]
    );
    // Known type whose payload does not parse (LOCK without its string).
    assert_eq!(roundtrip_raw(&mut c, &frame(22, &[0xff])).unwrap(), vec![5]);
    // Unknown extension.
    assert_eq!(
        roundtrip_raw(&mut c, &extension("nope@example.com", b"xyz")).unwrap(),
        vec![5]
    );
    // Our extension with a truncated payload: a clear bad-request refusal.
    let reply = roundtrip_raw(&mut c, &extension("sign@apisec", &string(b"good"))).unwrap();
    assert_eq!(reply[0], 28);
    let text = String::from_utf8_lossy(&reply);
    assert!(
        text.contains("bad-request") && text.contains("malformed sign"),
        "{text}"
    );
    // Random bytes framed as an extension.
    assert_eq!(
        roundtrip_raw(&mut c, &frame(27, &[0x00, 0x00, 0xff, 0xff, 1, 2])).unwrap(),
        vec![5]
    );
    // Still usable.
    assert_eq!(roundtrip_raw(&mut c, &status()).unwrap()[0], 29);
    good_still_works(&env);
}

#[test]
fn pipelined_requests_are_answered_in_order_with_exact_boundaries() {
    let env = two_secrets();
    let mut c = env.connect();
    let mut batch = frame(11, &[]); // REQUEST_IDENTITIES
    batch.extend(extension("query", &[]));
    batch.extend(extension("nope@example.com", &[]));
    batch.extend(status());
    c.write_all(&batch).unwrap();
    assert_eq!(read_frame(&mut c).unwrap(), vec![12, 0, 0, 0, 0]);
    let query = read_frame(&mut c).unwrap();
    assert_eq!(query[0], 29);
    assert!(String::from_utf8_lossy(&query).contains("sign@apisec"));
    assert_eq!(read_frame(&mut c).unwrap(), vec![5]);
    let st = read_frame(&mut c).unwrap();
    assert_eq!(st[0], 29);
    assert_eq!(&st[5..5 + 13], b"status@apisec");
}

#[test]
fn wrong_pin_is_reported_and_never_retried_by_itself() {
    let env = two_secrets();
    std::fs::write(&env.pin_file, "999999\n").unwrap();
    let out = env.cli(&["unlock", "good"]);
    assert_fails_with(&out, 1, "the token refused the PIN (CKR_PIN_INCORRECT)");
    assert!(
        stderr(&out).contains("not retried automatically"),
        "{}",
        stderr(&out)
    );
    // Asking again with the same wrong PIN does not spend another of the token's tries.
    let out = env.cli(&["unlock", "good"]);
    assert_fails_with(
        &out,
        1,
        "was already refused by the token; not trying it again",
    );
    std::fs::write(&env.pin_file, format!("{PIN}\n")).unwrap();
    good_still_works(&env);
}

#[test]
fn missing_module_is_a_clear_error_at_init_and_at_unseal() {
    let env = Env::new();
    let out = env.agent(&[
        "init",
        "--pkcs11-module",
        "/nonexistent/libmissing.so",
        "--token-label",
        TOKEN_LABEL,
        "--key-label",
        KEY_LABEL,
        "--generate",
        "--pin-file",
        env.pin_file.to_str().unwrap(),
    ]);
    assert_fails_with(
        &out,
        1,
        "cannot load the PKCS#11 module /nonexistent/libmissing.so: no such file",
    );

    let mut env = Env::new();
    env.init();
    assert_ok(
        &env.secret("good", "bitget")
            .api_key("k")
            .secret_bytes(SECRET)
            .passphrase(b"p")
            .add(),
        "add",
    );
    let config = std::fs::read_to_string(&env.config).unwrap();
    let module = softhsm_module().display().to_string();
    std::fs::write(
        &env.config,
        config.replace(&module, "/nonexistent/libmissing.so"),
    )
    .unwrap();
    env.start(&[]);
    let out = env.cli(&["unlock", "good"]);
    assert_fails_with(
        &out,
        1,
        "cannot load the PKCS#11 module /nonexistent/libmissing.so",
    );
    // The agent keeps serving.
    assert_ok(&env.cli(&["status"]), "status after a module failure");
}

#[test]
fn add_refuses_to_overwrite_and_says_how_to_replace() {
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
    let before = std::fs::read(env.store_dir().join("bg.toml")).unwrap();
    let out = env
        .secret("bg", "bitget")
        .api_key("k2")
        .secret_bytes(b"another")
        .passphrase(b"p")
        .add();
    assert_fails_with(&out, 1, "a secret named \"bg\" already exists");
    assert!(
        stderr(&out).contains("apisec-agent rotate bg"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read(env.store_dir().join("bg.toml")).unwrap(),
        before
    );
    env.start(&[]);
    assert_ok(&env.cli(&["unlock", "bg"]), "the original still unlocks");
}

#[test]
fn bad_cli_arguments_are_named() {
    let mut env = Env::new();
    env.init();
    let out = env
        .secret("bg", "nosuchexchange")
        .api_key("k")
        .secret_bytes(SECRET)
        .add();
    // clap's own error for a value it does not know, with every preset listed (exit status 2).
    assert_fails_with(
        &out,
        2,
        "invalid value 'nosuchexchange' for '--exchange <EXCHANGE>'",
    );
    let text = String::from_utf8_lossy(&out.stderr);
    for id in apisec_agent::sign::exchanges::ids() {
        assert!(
            text.contains(id),
            "{id} is not among the values listed: {text}"
        );
    }
    let out = env
        .secret("../evil", "bitget")
        .api_key("k")
        .secret_bytes(SECRET)
        .passphrase(b"p")
        .add();
    assert_fails_with(&out, 1, "is not a valid secret name");
    let out = env
        .secret("bg", "bitget")
        .api_key("k")
        .secret_bytes(SECRET)
        .passphrase(b"p")
        .args(&["--expires", "2020-13-01"])
        .add();
    assert_fails_with(&out, 2, "invalid value '2020-13-01' for '--expires <YYYY-MM-DD>': not a date of the form YYYY-MM-DD");
    // Each typed setting is clap's to check: exit status 2, the flag and the form named.
    for (args, want) in [
        (
            &["--freshness", "soon"][..],
            "invalid value 'soon' for '--freshness <SECONDS|off>'",
        ),
        (
            &["--token-key", "k", "--type", "rsa"][..],
            "invalid value 'rsa' for '--type <ed25519|p256>'",
        ),
    ] {
        let out = env
            .secret("bg", "bitget")
            .api_key("k")
            .secret_bytes(SECRET)
            .passphrase(b"p")
            .args(args)
            .add();
        assert_fails_with(&out, 2, want);
    }
    for flag in ["--lifetime", "--approval-timeout"] {
        let out = env.agent(&["run", flag, "soon"]);
        assert_fails_with(
            &out,
            2,
            &format!("invalid value 'soon' for '{flag} <DURATION>'"),
        );
    }
    let out = env
        .secret("bg", "bitget")
        .api_key("k")
        .secret_bytes(SECRET)
        .passphrase(b"p")
        .args(&["--expires", "2001-01-01"])
        .add();
    assert_fails_with(&out, 1, "is in the past");
    let out = env
        .secret("bg", "bitget")
        .api_key("k")
        .secret_bytes(SECRET)
        .passphrase(b"p")
        .args(&["--freshness", "99999s"])
        .add();
    assert_fails_with(
        &out,
        2,
        "invalid value '99999s' for '--freshness <SECONDS|off>'",
    );
    // No secret file and no terminal: refused with the remedy, never read from argv or env.
    let out = env.agent(&["add", "bg", "--exchange", "bitget", "--api-key", "k"]);
    assert_fails_with(&out, 1, "no secret given and stdin is not a terminal");
    // Bitget needs its passphrase.
    let out = env
        .secret("bg", "bitget")
        .api_key("k")
        .secret_bytes(SECRET)
        .add();
    assert_fails_with(&out, 1, "no passphrase given");
    env.start(&[]);
    let out = env.cli(&[
        "sign",
        "missing",
        "--method",
        "GET",
        "--path",
        "/api/v2/spot/account/assets",
    ]);
    assert_fails_with(&out, 1, "no secret named \"missing\"");
    std::thread::sleep(Duration::from_millis(10));
}

#[test]
fn an_absurdly_long_path_is_refused_before_policy_matching() {
    let env = Env::ready_with_bitget(b"long-path-secret", b"p");
    let long = format!("/{}", "a/".repeat(20_000));
    let out = env.cli(&["sign", "bg", "--method", "GET", "--path", &long]);
    assert_fails_with(&out, 1, "paths of more than 2048 bytes are refused");
    assert_ok(&sign_assets(&env, "bg"), "normal path");
}

/// A client's path goes into the agent's log when its request is refused; a newline in it must
/// not become a log line of its own (one that could pass for the agent's).
#[test]
fn a_path_with_a_newline_cannot_forge_a_log_line() {
    let env = Env::ready_with_bitget(b"log-forging-secret", b"p");
    let forged = "apisec-agent[1] info SIGUSR1: forgot 0 unsealed secret(s)";
    let path = format!("/x\n2026-11-27T17:00:00Z {forged}");
    let mut client = apisec_agent::client::Client::connect(&env.socket).unwrap();
    let refused = client.sign(apisec_agent::proto::SignRequest {
        name: "bg".into(),
        method: "GET".into(),
        path: path.clone(),
        query: String::new(),
        body: vec![],
        timestamp: String::new(),
        nonce: String::new(),
        ..Default::default()
    });
    assert!(refused.is_err(), "a path with a newline was signed");
    let log = env.log();
    let refusal = log
        .lines()
        .find(|l| l.contains("sign refused: bg GET /x"))
        .unwrap_or_else(|| panic!("the refusal is not logged:\n{log}"));
    assert!(
        refusal.contains(&format!("/x\\n2026-11-27T17:00:00Z {forged}")),
        "{refusal}"
    );
    assert!(
        !log.lines().any(|l| l.starts_with("2026-11-27T17:00:00Z")),
        "a forged line in the log:\n{log}"
    );
}
