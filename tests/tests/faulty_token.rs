//! A token that fails on purpose (`tests/faulty-pkcs11`: SoftHSM behind a module that returns
//! the error a test names from one call): `init` and `backup add-token` switch to RSA only when
//! the token refuses the mechanism itself, and take back every key pair they made when it fails
//! otherwise (the link cut in the middle of the trial). What the token holds afterwards is read
//! by `pkcs11-tool` straight through SoftHSM, not through the module that failed.

use std::process::Output;

use apisec_tests::*;

/// `apisec-agent init --generate` through the faulty module failing `faults` (one
/// `CALL=CKR_VALUE` per line).
fn init_failing(env: &Env, faults: &str) -> Output {
    env.set_token_faults(faults);
    env.init_through(&faulty_module(), true)
}

/// The key objects on token `label`, as `pkcs11-tool` lists them through SoftHSM itself.
fn keys_on(env: &Env, label: &str) -> Vec<String> {
    let out = env
        .command("pkcs11-tool")
        .arg("--module")
        .arg(softhsm_module())
        .args([
            "--token-label",
            label,
            "--login",
            "--pin",
            PIN,
            "--list-objects",
        ])
        .output()
        .expect("pkcs11-tool (apt-get install opensc)");
    assert_ok(&out, "pkcs11-tool --list-objects");
    stdout(&out)
        .lines()
        .filter(|l| l.contains("Key Object"))
        .map(str::to_owned)
        .collect()
}

/// `out` failed, and left no key on token `label`; what it said.
fn failed_leaving_no_key(env: &Env, out: &Output, label: &str) -> String {
    let said = stderr(out);
    assert!(!out.status.success(), "it succeeded: {said}");
    let keys = keys_on(env, label);
    assert!(keys.is_empty(), "left on the token: {keys:?} ({said})");
    said
}

fn config_recipients(env: &Env) -> usize {
    std::fs::read_to_string(&env.config)
        .unwrap_or_default()
        .matches("recipient = ")
        .count()
}

#[test]
fn init_takes_back_its_key_pair_when_the_trial_fails_for_another_reason_than_the_mechanism() {
    let env = Env::new();
    for fail in [
        "C_DeriveKey=CKR_DEVICE_ERROR",
        "C_DeriveKey=CKR_DEVICE_REMOVED",
    ] {
        let said = failed_leaving_no_key(&env, &init_failing(&env, fail), TOKEN_LABEL);
        let rv = fail.split_once('=').unwrap().1;
        assert!(
            said.contains("the trial ECDH with the new key failed")
                && said.contains(rv)
                && said.contains("the key pair was removed")
                && said.contains("check the token (and the link to it)"),
            "{fail}: {said}"
        );
        assert!(!said.contains("RSA"), "{fail}: init went on to RSA: {said}");
        assert_eq!(config_recipients(&env), 0, "{fail}: a config was written");
    }
    // The control: the same module failing nothing, init keeps the EC key it tried.
    let out = init_failing(&env, "");
    assert_ok(&out, "init through the faulty module failing nothing");
    let keys = keys_on(&env, TOKEN_LABEL);
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert!(keys.iter().all(|k| k.contains("EC")), "{keys:?}");
}

#[test]
fn init_switches_to_rsa_only_when_the_mechanism_is_refused_and_takes_back_both_when_neither_works()
{
    let env = Env::new();
    // Both refused: nothing is left, and the error names both failures and what the agent needs.
    let out = init_failing(
        &env,
        "C_DeriveKey=CKR_MECHANISM_PARAM_INVALID\nC_Decrypt=CKR_MECHANISM_INVALID",
    );
    let said = failed_leaving_no_key(&env, &out, TOKEN_LABEL);
    assert!(
        said.contains("can neither derive")
            && said.contains("CKR_MECHANISM_PARAM_INVALID")
            && said.contains("CKR_MECHANISM_INVALID")
            && said.contains("CKM_RSA_PKCS_OAEP"),
        "{said}"
    );
    assert_eq!(config_recipients(&env), 0);
    // The derivation refused and the decryption failing otherwise (the link cut after the
    // switch): both pairs taken back, and the error is the link's, not the token's ability.
    let out = init_failing(
        &env,
        "C_DeriveKey=CKR_MECHANISM_INVALID\nC_Decrypt=CKR_DEVICE_ERROR",
    );
    let said = failed_leaving_no_key(&env, &out, TOKEN_LABEL);
    assert!(
        said.contains("the trial decryption with the new RSA key failed")
            && said.contains("C_Decrypt: CKR_DEVICE_ERROR")
            && said.contains("both key pairs were removed")
            && said.contains("check the token (and the link to it)")
            && !said.contains("can neither derive"),
        "{said}"
    );
    assert_eq!(config_recipients(&env), 0);
    // The derivation alone refused: an RSA key, the EC pair taken back, and entries sealed to it
    // unseal through the same module (its C_Decrypt is SoftHSM's).
    let out = init_failing(&env, "C_DeriveKey=CKR_FUNCTION_NOT_SUPPORTED");
    assert_ok(&out, "init with the derivation refused");
    let said = stderr(&out);
    assert!(
        said.contains("cannot derive") && said.contains("CKR_FUNCTION_NOT_SUPPORTED"),
        "{said}"
    );
    let keys = keys_on(&env, TOKEN_LABEL);
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert!(keys.iter().all(|k| k.contains("RSA")), "{keys:?}");
    let config = std::fs::read_to_string(&env.config).unwrap();
    assert!(config.contains("recipient = \"age1apisec-rsa1"), "{config}");
}

#[test]
fn backup_add_token_takes_back_its_key_pair_as_init_does() {
    let env = Env::ready_with_bitget(b"backup-fault-secret", b"p");
    env.softhsm(&[
        "--init-token",
        "--free",
        "--label",
        "backup-1",
        "--pin",
        PIN,
        "--so-pin",
        SO_PIN,
    ]);
    let before = std::fs::read_to_string(&env.config).unwrap();
    let add_token = |faults: &str| {
        env.set_token_faults(faults);
        env.backup_add_token_through(&faulty_module(), "backup-1")
    };
    let out = add_token("C_DeriveKey=CKR_DEVICE_ERROR");
    let said = failed_leaving_no_key(&env, &out, "backup-1");
    assert!(
        said.contains("the trial ECDH with the new key failed")
            && said.contains("CKR_DEVICE_ERROR"),
        "{said}"
    );
    assert_eq!(
        std::fs::read_to_string(&env.config).unwrap(),
        before,
        "the config changed"
    );
    // The main token's key is untouched, and the entry still signs.
    assert_eq!(keys_on(&env, TOKEN_LABEL).len(), 2);
    assert_cli_bitget_get_signs(&env, "bg", b"backup-fault-secret");
    // Refused as a mechanism: the backup gets an RSA key, recorded in the config.
    let out = add_token("C_DeriveKey=CKR_MECHANISM_INVALID");
    assert_ok(&out, "backup add-token with the derivation refused");
    let keys = keys_on(&env, "backup-1");
    assert!(
        keys.len() == 2 && keys.iter().all(|k| k.contains("RSA")),
        "{keys:?}"
    );
    assert_ne!(std::fs::read_to_string(&env.config).unwrap(), before);
}

/// An in-token secret signing through the faulty module under the running agent: a session
/// lost once is replaced without the client noticing; a token that fails otherwise is a clear
/// error while the secrets held in memory keep signing; once it answers again, the same agent
/// signs with no restart and no new unlock.
#[test]
fn in_token_signing_replaces_a_lost_session_and_reports_a_failing_token() {
    let mut env = Env::new();
    assert_ok(
        &env.init_through(&faulty_module(), true),
        "init through the faulty module",
    );
    let held: &[u8] = b"an-in-token-secret-of-32-bytes-or-more!";
    env.add_bitget_in_token("held", held);
    env.add_bitget("memory", b"a-secret-held-in-memory");
    env.start(&[]);
    assert_ok(&env.cli(&["unlock", "held", "memory"]), "unlock");
    assert_cli_bitget_get_signs(&env, "held", held);

    for lost in ["CKR_SESSION_HANDLE_INVALID", "CKR_DEVICE_REMOVED"] {
        env.set_token_faults(&format!("C_Sign={lost} x1"));
        assert_cli_bitget_get_signs(&env, "held", held);
    }

    env.set_token_faults("C_Sign=CKR_DEVICE_ERROR");
    let out = sign_assets(&env, "held");
    let said = stderr(&out);
    assert!(
        !out.status.success(),
        "signed while the token fails: {said}"
    );
    assert!(
        said.contains("C_Sign: CKR_DEVICE_ERROR")
            && said.contains("held on the token")
            && said.contains("check the token and the link to it"),
        "{said}"
    );
    assert!(!said.contains(std::str::from_utf8(held).unwrap()), "{said}");
    assert_cli_bitget_get_signs(&env, "memory", b"a-secret-held-in-memory");

    env.set_token_faults("");
    assert_cli_bitget_get_signs(&env, "held", held);
    assert!(!env.log().contains("panicked"), "{}", env.log());
}
