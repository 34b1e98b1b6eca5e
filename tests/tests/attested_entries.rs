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

/// A fresh world with a Binance Ed25519 key made on the token by `keygen`, and its entry.
fn with_token_key() -> (Env, Store, entry::EntryFile) {
    let env = Env::new();
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
    (env, store, real)
}

fn config_of(env: &Env) -> apisec_agent::config::Config {
    apisec_agent::config::ConfigFile::load(&env.config)
        .unwrap()
        .validate(&env.config)
        .unwrap()
}

#[test]
fn a_forged_token_key_entry_is_refused_and_the_real_one_signs() {
    let (mut env, store, real) = with_token_key();
    assert!(real.attestation.is_some(), "keygen attests its entry");
    let config = config_of(&env);

    // 1. A new name, the real key's label and public key, a looser policy: what anyone with the
    //    recipient can seal.
    let mut meta = real.meta();
    meta.name = "forged".into();
    meta.policy = loose_policy();
    let empty = SecretMaterial {
        secret: b"",
        passphrase: None,
    };
    let forged = entry::seal(&meta, &empty, &config.seal_to()).unwrap();
    store.create(&forged).unwrap();
    // 2. The same, carrying the real entry's attestation.
    meta.name = "copied".into();
    let mut copied = entry::seal(&meta, &empty, &config.seal_to()).unwrap();
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
    let mut swapped = entry::seal(&meta, &empty, &config.seal_to()).unwrap();
    swapped.attestation = real.attestation.clone();
    std::fs::write(store.entry_path("bn"), swapped.to_toml()).unwrap();
    assert_fails_with(
        &env.cli(&["unlock", "bn"]),
        1,
        "store entry \"bn\": its attestation does not verify",
    );
}

/// A public object can be added to a token without its PIN (PKCS#11 lets a read-write public
/// session create public objects). Here one replaces the real public key under the key's label,
/// and an entry with a looser policy is attested by the matching private key, which the attacker
/// holds: the attestation verifies under the public key found by label, so the agent first has
/// the token's private key sign a fresh challenge, and that fails under the planted key.
#[test]
fn a_public_key_planted_under_the_label_does_not_make_a_forged_entry_good() {
    use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
    use cryptoki::object::{Attribute, KeyType, ObjectClass};
    use cryptoki::session::UserType;
    use cryptoki::types::AuthPin;
    use ed25519_dalek::Signer;

    let (mut env, store, real) = with_token_key();

    // The attacker's key, planted as the public object labelled apisec-key:bn.
    let attacker = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    std::env::set_var("SOFTHSM2_CONF", &env.softhsm_conf);
    let ctx = Pkcs11::new(softhsm_module()).unwrap();
    ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .unwrap();
    let slot = ctx
        .get_slots_with_token()
        .unwrap()
        .into_iter()
        .find(|s| {
            ctx.get_token_info(*s)
                .is_ok_and(|t| t.label().trim() == TOKEN_LABEL)
        })
        .unwrap();
    let session = ctx.open_rw_session(slot).unwrap();
    session
        .login(UserType::User, Some(&AuthPin::new(PIN.into())))
        .unwrap();
    let label = b"apisec-key:bn".to_vec();
    for public in session
        .find_objects(&[
            Attribute::Class(ObjectClass::PUBLIC_KEY),
            Attribute::Label(label.clone()),
        ])
        .unwrap()
    {
        session.destroy_object(public).unwrap();
    }
    let mut point = vec![0x04, 0x20];
    point.extend_from_slice(attacker.verifying_key().as_bytes());
    session
        .create_object(&[
            Attribute::Class(ObjectClass::PUBLIC_KEY),
            Attribute::KeyType(KeyType::EC_EDWARDS),
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Label(label),
            // The DER of the OID 1.3.101.112 (Ed25519).
            Attribute::EcParams(vec![0x06, 0x03, 0x2b, 0x65, 0x70]),
            Attribute::EcPoint(point),
        ])
        .unwrap();
    drop(session);
    drop(ctx);

    // The real entry's name, a looser policy, attested by the attacker's key.
    let config = config_of(&env);
    let mut meta = real.meta();
    meta.policy = loose_policy();
    let mut forged = entry::seal(
        &meta,
        &SecretMaterial {
            secret: b"",
            passphrase: None,
        },
        &config.seal_to(),
    )
    .unwrap();
    let statement = apisec_agent::store::attest::statement(&meta);
    forged.attestation = Some(apisec_agent::store::attest::encode(
        &attacker.sign(&statement).to_bytes(),
    ));
    std::fs::write(store.entry_path("bn"), forged.to_toml()).unwrap();
    env.start(&[]);
    assert_fails_with(
        &env.cli(&["unlock", "bn"]),
        1,
        "the token's public key labelled \"apisec-key:bn\" is not its private key's",
    );
}
