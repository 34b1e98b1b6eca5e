//! Entries for token-held keys are authenticated by the token (`store::attest`): an entry sealed
//! by someone who has only the token's public recipient, naming the real token key and its real
//! public key with a looser policy, is refused by name; so is one that copies the real entry's
//! attestation, and the real entry with its policy changed.

use apisec_agent::store::{entry, SecretMaterial, Store};
use apisec_tests::*;

fn loose_policy() -> apisec_agent::policy::Policy {
    apisec_agent::policy::file::parse("default_deny = false\n")
        .unwrap()
        .0
}

#[test]
fn a_forged_token_key_entry_is_refused_and_the_real_one_signs() {
    let mut env = Env::new();
    env.init();
    let out = env.agent(&[
        "keygen",
        "bn",
        "--exchange",
        "binance",
        "--type",
        "ed25519",
        "--api-key",
        "bn-key",
    ]);
    assert_ok(&out, "keygen");
    let store = Store::new(env.store_dir());
    let real = store.load("bn").unwrap();
    assert!(real.attestation.is_some(), "keygen attests its entry");
    let config = apisec_agent::config::ConfigFile::load(&env.config)
        .unwrap()
        .validate(&env.config)
        .unwrap();

    // 1. A new name, the real key's label and public key, a looser policy: what anyone with the
    //    recipient can seal.
    let mut meta = real.meta();
    meta.name = "forged".into();
    meta.policy = loose_policy();
    let empty = SecretMaterial {
        secret: b"",
        passphrase: None,
    };
    let forged = entry::seal(&meta, &empty, &config.recipients).unwrap();
    store.create(&forged).unwrap();
    // 2. The same, carrying the real entry's attestation.
    meta.name = "copied".into();
    let mut copied = entry::seal(&meta, &empty, &config.recipients).unwrap();
    copied.attestation = real.attestation.clone();
    store.create(&copied).unwrap();

    env.start(&[]);
    assert_fails_with(
        &env.cli(&["unlock", "forged"]),
        1,
        "store entry \"forged\" is for the token key \"apisec-key:bn\" but carries no attestation",
    );
    assert_fails_with(
        &env.cli(&["unlock", "copied"]),
        1,
        "store entry \"copied\": its attestation does not verify",
    );
    assert_ok(&env.cli(&["unlock", "bn"]), "the real entry unlocks");
    assert_ok(
        &env.cli(&["sign", "bn", "--method", "GET", "--path", "/api/v3/account"]),
        "and signs",
    );

    // 3. The real entry's name with a looser policy and the real attestation, swapped in for a
    //    sealed secret.
    assert_ok(&env.cli(&["lock"]), "lock");
    let mut meta = real.meta();
    meta.policy = loose_policy();
    let mut swapped = entry::seal(&meta, &empty, &config.recipients).unwrap();
    swapped.attestation = real.attestation.clone();
    std::fs::write(store.entry_path("bn"), swapped.to_toml()).unwrap();
    assert_fails_with(
        &env.cli(&["unlock", "bn"]),
        1,
        "store entry \"bn\": its attestation does not verify",
    );
}
