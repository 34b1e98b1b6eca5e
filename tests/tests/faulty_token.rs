//! A token that fails on purpose (`tests/faulty-pkcs11`: SoftHSM behind a module that returns
//! the error a test names from one call): `init` and `backup add-token` switch to RSA only when
//! the token refuses the mechanism itself, and take back every key pair they made when it fails
//! otherwise (the link cut in the middle of the trial). What the token holds afterwards is read
//! by `pkcs11-tool` straight through SoftHSM, not through the module that failed.

use std::path::PathBuf;
use std::process::Output;

use apisec_tests::*;

/// The fault-injecting module, built with the workspace (`cargo build --workspace --bins --lib`).
fn faulty_module() -> PathBuf {
    binary("libapisec_faulty_pkcs11.so")
}

/// `apisec-agent ARGS` with the faulty module failing `fail` (`C_DeriveKey=CKR_DEVICE_ERROR`).
fn agent_failing(env: &Env, fail: &str, args: &[&str]) -> Output {
    env.agent_cmd()
        .args(args)
        .env("APISEC_FAULTY_PKCS11_MODULE", softhsm_module())
        .env("APISEC_FAULTY_PKCS11_FAIL", fail)
        .output()
        .expect("apisec-agent")
}

fn init_failing(env: &Env, fail: &str) -> Output {
    let module = faulty_module();
    let pin = env.pin_file.display().to_string();
    agent_failing(
        env,
        fail,
        &[
            "init",
            "--pkcs11-module",
            module.to_str().unwrap(),
            "--token-label",
            TOKEN_LABEL,
            "--key-label",
            KEY_LABEL,
            "--generate",
            "--pin-file",
            &pin,
        ],
    )
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
        let out = init_failing(&env, fail);
        let said = stderr(&out);
        assert!(!out.status.success(), "init succeeded with {fail}: {said}");
        let rv = fail.split_once('=').unwrap().1;
        assert!(
            said.contains("the trial ECDH with the new key failed")
                && said.contains(rv)
                && said.contains("the key pair was removed")
                && said.contains("check the token (and the link to it)"),
            "{fail}: {said}"
        );
        assert!(!said.contains("RSA"), "{fail}: init went on to RSA: {said}");
        let keys = keys_on(&env, TOKEN_LABEL);
        assert!(keys.is_empty(), "{fail}: left on the token: {keys:?}");
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
        "C_DeriveKey=CKR_MECHANISM_PARAM_INVALID,C_Decrypt=CKR_MECHANISM_INVALID",
    );
    let said = stderr(&out);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("can neither derive")
            && said.contains("CKR_MECHANISM_PARAM_INVALID")
            && said.contains("CKR_MECHANISM_INVALID")
            && said.contains("CKM_RSA_PKCS_OAEP"),
        "{said}"
    );
    assert_eq!(keys_on(&env, TOKEN_LABEL), Vec::<String>::new());
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
    let module = faulty_module();
    let pin = env.pin_file.display().to_string();
    let add_token = |fail: &str| {
        agent_failing(
            &env,
            fail,
            &[
                "backup",
                "add-token",
                "--pkcs11-module",
                module.to_str().unwrap(),
                "--token-label",
                "backup-1",
                "--key-label",
                KEY_LABEL,
                "--generate",
                "--pin-file",
                &pin,
            ],
        )
    };
    let out = add_token("C_DeriveKey=CKR_DEVICE_ERROR");
    let said = stderr(&out);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("the trial ECDH with the new key failed")
            && said.contains("CKR_DEVICE_ERROR"),
        "{said}"
    );
    assert_eq!(keys_on(&env, "backup-1"), Vec::<String>::new());
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
