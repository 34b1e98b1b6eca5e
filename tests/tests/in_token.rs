//! Secrets held on the PKCS#11 token (`apisec-agent add --in-token`), end to end on SoftHSM:
//! every signature equals one computed here from the secret as the exchange documents it; the
//! token refuses to reveal the key, also to `pkcs11-tool`; the agent's memory holds neither the
//! secret nor the MAC key made of it; an entry naming the key with another policy, or a raw MAC
//! of the attestation's statement, gets nothing; the token pulled out and put back; rotate and
//! remove replace and destroy the key object.

use std::fs;
use std::path::Path;

use apisec_agent::store::{attest, entry, EntryMeta, SecretMaterial};
use apisec_tests::*;
use base64::Engine;
use hmac::Mac;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn hmac<M: Mac + hmac::digest::KeyInit>(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = <M as hmac::digest::KeyInit>::new_from_slice(key).unwrap();
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

fn sha256(data: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(data).to_vec()
}

/// The test's secrets, as each exchange shows them (MAC keys of at least 32 bytes, which
/// SoftHSM requires of `CKM_SHA*_HMAC` keys).
struct Secrets {
    bitget: Vec<u8>,
    binance: Vec<u8>,
    kraken: Vec<u8>,
    coinbase: Vec<u8>,
    kucoin: Vec<u8>,
}

fn secrets() -> Secrets {
    let random = |n: usize| -> Vec<u8> { (0..n).map(|_| rand::random::<u8>()).collect() };
    Secrets {
        bitget: hex::encode(random(32)).into_bytes(),
        binance: B64
            .encode(random(48))
            .replace(['+', '/', '='], "x")
            .into_bytes(),
        kraken: B64.encode(random(64)).into_bytes(),
        coinbase: B64.encode(random(64)).into_bytes(),
        kucoin: b"f03a5284-5c39-4aaa-9b20-dea10bdcf8e3".to_vec(),
    }
}

const PASSPHRASE: &[u8] = b"in-token-pass";

fn add_in_token(env: &Env, name: &str, exchange: &str, secret: &[u8], extra: &[&str]) {
    let mut add = env
        .secret(name, exchange)
        .api_key("k")
        .secret_bytes(secret)
        .args(&["--in-token"])
        .args(extra);
    if matches!(exchange, "bitget" | "coinbase-exchange" | "kucoin") {
        add = add.passphrase(PASSPHRASE);
    }
    let out = add.add();
    assert_ok(&out, &format!("add --in-token {name}"));
    assert!(
        stderr(&out).contains("on the token only"),
        "add says there is no backup: {}",
        stderr(&out)
    );
}

fn ready(env: &mut Env, s: &Secrets) {
    env.init();
    add_in_token(env, "bg", "bitget", &s.bitget, &[]);
    add_in_token(env, "bn", "binance", &s.binance, &[]);
    add_in_token(env, "kr", "kraken", &s.kraken, &[]);
    add_in_token(env, "cb", "coinbase-exchange", &s.coinbase, &[]);
    add_in_token(env, "kc", "kucoin", &s.kucoin, &[]);
    env.start(&[]);
    assert_ok(
        &env.cli(&["unlock", "bg", "bn", "kr", "cb", "kc"]),
        "unlock",
    );
}

fn headers(v: &serde_json::Value) -> &serde_json::Map<String, serde_json::Value> {
    v["headers"].as_object().unwrap()
}

fn h<'a>(v: &'a serde_json::Value, name: &str) -> &'a str {
    headers(v)[name].as_str().unwrap()
}

/// Kraken: base64 HMAC-SHA512, keyed with the decoded secret, of path + SHA256(nonce + body),
/// the nonce being the one the agent put in the body.
fn assert_kraken_signs(env: &Env, name: &str, secret: &[u8]) {
    let v = sign_json(
        env,
        &[name, "--method", "POST", "--path", "/0/private/Balance"],
    );
    let body = v["body"].as_str().unwrap();
    let nonce = body.strip_prefix("nonce=").unwrap();
    let mut message = b"/0/private/Balance".to_vec();
    message.extend(sha256(format!("{nonce}{body}").as_bytes()));
    let key = B64.decode(secret).unwrap();
    assert_eq!(
        h(&v, "API-Sign"),
        B64.encode(hmac::<hmac::Hmac<sha2::Sha512>>(&key, &message))
    );
}

/// One request of each exchange, signed by the agent, checked against the exchange's
/// documented signature computed here.
fn assert_every_exchange_signs(env: &Env, s: &Secrets) {
    let v = sign_json(
        env,
        &[
            "bg",
            "--method",
            "GET",
            "--path",
            "/api/v2/spot/account/assets",
            "--query",
            "coin=USDT",
        ],
    );
    let prehash = format!(
        "{}GET/api/v2/spot/account/assets?coin=USDT",
        h(&v, "ACCESS-TIMESTAMP")
    );
    assert_eq!(
        h(&v, "ACCESS-SIGN"),
        B64.encode(hmac::<hmac::Hmac<sha2::Sha256>>(
            &s.bitget,
            prehash.as_bytes()
        ))
    );
    assert_eq!(h(&v, "ACCESS-PASSPHRASE").as_bytes(), PASSPHRASE);

    // Binance: hex HMAC-SHA256 of the query (with the agent's timestamp) and body.
    let v = sign_json(
        env,
        &[
            "bn",
            "--method",
            "GET",
            "--path",
            "/api/v3/account",
            "--query",
            "recvWindow=5000",
        ],
    );
    let query = v["query"].as_str().unwrap();
    let (signed, signature) = query.rsplit_once("&signature=").unwrap();
    assert_eq!(
        signature,
        hex::encode(hmac::<hmac::Hmac<sha2::Sha256>>(
            &s.binance,
            signed.as_bytes()
        ))
    );

    assert_kraken_signs(env, "kr", &s.kraken);

    // Coinbase Exchange: base64 HMAC-SHA256, keyed with the decoded secret.
    let v = sign_json(env, &["cb", "--method", "GET", "--path", "/accounts"]);
    let prehash = format!("{}GET/accounts", h(&v, "CB-ACCESS-TIMESTAMP"));
    let key = B64.decode(&s.coinbase).unwrap();
    assert_eq!(
        h(&v, "CB-ACCESS-SIGN"),
        B64.encode(hmac::<hmac::Hmac<sha2::Sha256>>(&key, prehash.as_bytes()))
    );

    // KuCoin: the signature and the passphrase, both MACed with the secret.
    let v = sign_json(
        env,
        &["kc", "--method", "GET", "--path", "/api/v1/accounts"],
    );
    let prehash = format!("{}GET/api/v1/accounts", h(&v, "KC-API-TIMESTAMP"));
    assert_eq!(
        h(&v, "KC-API-SIGN"),
        B64.encode(hmac::<hmac::Hmac<sha2::Sha256>>(
            &s.kucoin,
            prehash.as_bytes()
        ))
    );
    assert_eq!(
        h(&v, "KC-API-PASSPHRASE"),
        B64.encode(hmac::<hmac::Hmac<sha2::Sha256>>(&s.kucoin, PASSPHRASE))
    );
}

fn pkcs11_tool(env: &Env, args: &[&str]) -> std::process::Output {
    env.pkcs11_tool(args)
}

fn token_key(env: &Env, name: &str) -> String {
    let text = fs::read_to_string(env.store_dir().join(format!("{name}.toml"))).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("token_key = "))
        .unwrap()
        .trim_matches('"')
        .to_owned()
}

/// The labels of the secret key objects on the token, as `pkcs11-tool` lists them.
fn secret_keys_on_token(env: &Env) -> Vec<String> {
    let out = pkcs11_tool(env, &["--list-objects", "--type", "secrkey"]);
    assert_ok(&out, "pkcs11-tool --list-objects");
    stdout(&out)
        .lines()
        .filter_map(|l| l.trim().strip_prefix("label:"))
        .map(|l| l.trim().to_owned())
        .collect()
}

#[test]
fn in_token_secrets_sign_as_the_exchanges_do_and_the_token_never_shows_them() {
    let s = secrets();
    let mut env = Env::new();
    ready(&mut env, &s);
    assert_every_exchange_signs(&env, &s);

    // status says so too (with a backup recipient configured, the passphrase would be sealed
    // to it, but only the token can MAC).
    let status = env.cli(&["status"]);
    assert!(stdout(&status).contains("NO BACKUP"), "{}", stdout(&status));
    let listed = env.agent(&["list"]);
    assert!(
        stdout(&listed).contains("NO BACKUP: the secret is on the token only"),
        "{}",
        stdout(&listed)
    );
    // The entries seal no secret: only the passphrase (a file-level check, no token needed).
    let listed = env.agent(&["list", "--json"]);
    assert_ok(&listed, "list");
    let items: serde_json::Value = serde_json::from_str(&stdout(&listed)).unwrap();
    for item in items.as_array().unwrap() {
        assert_eq!(item["key_type"], "token-hmac", "{item}");
    }
    // The token refuses to reveal each key: pkcs11-tool's read of CKA_VALUE fails, and it lists
    // the object as sensitive and not extractable.
    for name in ["bg", "bn", "kr", "cb", "kc"] {
        let label = token_key(&env, name);
        let out = pkcs11_tool(
            &env,
            &["--read-object", "--type", "secrkey", "--label", &label],
        );
        assert!(!out.status.success(), "pkcs11-tool read the key {label}");
        assert!(!String::from_utf8_lossy(&out.stdout)
            .contains(&String::from_utf8_lossy(&s.bitget).to_string()));
    }
    let out = pkcs11_tool(&env, &["--list-objects", "--type", "secrkey"]);
    let listing = stdout(&out) + &stderr(&out);
    assert!(listing.contains("CKR_ATTRIBUTE_SENSITIVE"), "{listing}");
    assert!(listing.contains("Access:     sensitive"), "{listing}");
    assert!(
        !listing.contains("extractable"),
        "a key is extractable:\n{listing}"
    );
}

#[test]
#[ignore = "needs root: reads the agent's memory; scripts/test.sh runs it as root"]
fn as_root_the_agent_holds_neither_the_secret_nor_its_mac_key_while_signing() {
    let s = secrets();
    let mut env = Env::new();
    ready(&mut env, &s);
    for _ in 0..20 {
        assert_every_exchange_signs(&env, &s);
    }
    let pid = env.agent_pid();
    let kraken_key = B64.decode(&s.kraken).unwrap();
    let coinbase_key = B64.decode(&s.coinbase).unwrap();
    for (what, needle) in [
        ("the Bitget secret", &s.bitget[..]),
        ("the Binance secret", &s.binance),
        ("the Kraken secret as shown", &s.kraken),
        ("the Kraken MAC key (decoded)", &kraken_key),
        ("the Coinbase Exchange secret as shown", &s.coinbase),
        ("the Coinbase Exchange MAC key (decoded)", &coinbase_key),
        ("the KuCoin secret", &s.kucoin),
    ] {
        let hits = find_in_memory(pid, needle);
        assert!(
            hits.is_empty(),
            "{what} is in the agent's memory at {hits:?}"
        );
    }
    // The scan finds what is there: the passphrase, which the entries seal and the agent holds.
    assert!(
        !find_in_memory(pid, PASSPHRASE).is_empty(),
        "the scan found nothing at all"
    );
}

/// An entry that names the token's key with another policy: sealed to the token's recipient
/// (which anyone may do), with the real entry's attestation copied in. The agent refuses it.
#[test]
fn an_entry_naming_the_key_with_another_policy_is_refused() {
    let s = secrets();
    let mut env = Env::new();
    env.init();
    add_in_token(&env, "bg", "bitget", &s.bitget, &["--allow-raw"]);
    let real = fs::read_to_string(env.store_dir().join("bg.toml")).unwrap();
    let real_file: entry::EntryFile = toml::from_str(&real).unwrap();
    // The forger's entry: the same key, every endpoint allowed, under another name and under the
    // real one (the real entry replaced).
    let config = apisec_agent::config::ConfigFile::load(&env.config)
        .unwrap()
        .validate(&env.config)
        .unwrap();
    for (name, target) in [("forged", "forged.toml"), ("bg", "bg.toml")] {
        let meta = EntryMeta {
            name: name.into(),
            exchange: "bitget".into(),
            api_key: "k".into(),
            created: real_file.created.clone(),
            expires: None,
            allow_raw: true,
            freshness: "5s".into(),
            key_type: "token-hmac".into(),
            token_key: real_file.token_key.clone(),
            public_key: None,
            token_copies: Vec::new(),
            policy: apisec_agent::policy::file::parse("default_deny = false\n")
                .unwrap()
                .0,
        };
        let mut forged = entry::seal(
            &meta,
            &SecretMaterial {
                secret: b"",
                passphrase: Some(PASSPHRASE),
            },
            &config.seal_to(),
        )
        .unwrap();
        forged.attestation = real_file.attestation.clone();
        fs::write(
            env.store_dir().join(target),
            toml::to_string(&forged).unwrap(),
        )
        .unwrap();
        env.start(&[]);
        let out = env.cli(&["unlock", name]);
        assert_fails_with(&out, 1, "its attestation is not the token's HMAC");
        drop(env.agent(&["stop"]));
        env.wait_agent_exit(std::time::Duration::from_secs(10));
    }
    // Nor can a raw MAC of the statement be had, to attest a forged entry with: put the real
    // entry back (it allows raw MACs) and ask.
    fs::write(env.store_dir().join("bg.toml"), &real).unwrap();
    fs::remove_file(env.store_dir().join("forged.toml")).unwrap();
    env.start(&[]);
    assert_ok(&env.cli(&["unlock", "bg"]), "unlock the real entry");
    let mut statement = attest::PREFIX.to_vec();
    statement.extend_from_slice(b"forged\0");
    let out = env.cli_with_stdin(&["mac", "bg", "--alg", "hmac-sha256"], &statement);
    assert_fails_with(&out, 1, "prefix of the agent's own statements");
    // An honest raw MAC goes through the token and is the secret's HMAC.
    let out = env.cli_with_stdin(&["mac", "bg", "--alg", "hmac-sha256"], b"data");
    assert_ok(&out, "raw MAC");
    assert_eq!(
        stdout(&out).trim(),
        hex::encode(hmac::<hmac::Hmac<sha2::Sha256>>(&s.bitget, b"data"))
    );
}

#[test]
fn the_token_pulled_out_and_put_back_under_the_running_agent() {
    let s = secrets();
    let mut env = Env::new();
    env.init();
    add_in_token(&env, "bg", "bitget", &s.bitget, &[]);
    env.start(&[]);
    assert_ok(&env.cli(&["unlock", "bg"]), "unlock");
    assert_cli_bitget_get_signs(&env, "bg", &s.bitget);
    // Pulled out: SoftHSM's token directory goes away under the agent.
    let tokens = env.root().join("tokens");
    let away = env.root().join("tokens.away");
    fs::rename(&tokens, &away).unwrap();
    fs::create_dir(&tokens).unwrap();
    let out = sign_assets(&env, "bg");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("token"), "{}", stderr(&out));
    // Put back: signing resumes, with no restart and no new unlock.
    fs::remove_dir(&tokens).unwrap();
    fs::rename(&away, &tokens).unwrap();
    assert_cli_bitget_get_signs(&env, "bg", &s.bitget);
}

#[test]
fn rotate_imports_the_new_key_and_remove_destroys_it() {
    let s = secrets();
    let mut env = Env::new();
    env.init();
    add_in_token(&env, "bg", "bitget", &s.bitget, &[]);
    let first = token_key(&env, "bg");
    assert_eq!(secret_keys_on_token(&env), std::slice::from_ref(&first));
    env.start(&[]);
    assert_ok(&env.cli(&["unlock", "bg"]), "unlock");
    assert_cli_bitget_get_signs(&env, "bg", &s.bitget);

    let new_secret = hex::encode(rand::random::<[u8; 32]>()).into_bytes();
    let file = env.root().join("new-secret");
    fs::write(&file, &new_secret).unwrap();
    let out = env.agent(&["rotate", "bg", "--secret-file", file.to_str().unwrap()]);
    assert_ok(&out, "rotate");
    assert!(
        stdout(&out).contains(&format!("destroyed the key {first:?} on the token")),
        "{}",
        stdout(&out)
    );
    let second = token_key(&env, "bg");
    assert_ne!(first, second);
    assert_eq!(
        secret_keys_on_token(&env),
        std::slice::from_ref(&second),
        "the old key is gone"
    );
    // The running agent switched: a new unlock signs with the new secret.
    assert_ok(&env.cli(&["unlock", "bg"]), "unlock after rotate");
    assert_cli_bitget_get_signs(&env, "bg", &new_secret);

    assert_ok(&env.agent(&["remove", "bg"]), "remove");
    assert!(
        secret_keys_on_token(&env).is_empty(),
        "remove destroyed the key"
    );

    // With the token away, remove says what is left on it and how to delete it.
    add_in_token(&env, "bg2", "bitget", &s.bitget, &[]);
    let label = token_key(&env, "bg2");
    let tokens = env.root().join("tokens");
    let away = env.root().join("tokens.away");
    fs::rename(&tokens, &away).unwrap();
    fs::create_dir(&tokens).unwrap();
    let out = env.agent(&["remove", "bg2"]);
    assert_ok(&out, "remove with the token away (the entry goes)");
    assert!(
        stderr(&out).contains(&format!("the secret's key {label:?} is left on the token")),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("--delete-object --type secrkey"),
        "{}",
        stderr(&out)
    );
    assert!(!env.store_dir().join("bg2.toml").exists());
}

#[test]
fn what_cannot_go_into_the_token_is_refused_with_the_reason() {
    let env = Env::new();
    env.init();
    // Shorter than SoftHSM takes for CKM_SHA256_HMAC (32 bytes): the length, and what to do.
    let out = env
        .secret("short", "bitget")
        .api_key("k")
        .secret_bytes(b"0123456789abcdef")
        .passphrase(b"p")
        .args(&["--in-token"])
        .add();
    assert_fails_with(&out, 1, "CKM_SHA256_HMAC keys of 32");
    assert!(
        stderr(&out).contains("without --in-token"),
        "{}",
        stderr(&out)
    );
    // An exchange that signs with an asymmetric key.
    let out = env
        .secret("cdp", "coinbase-advanced")
        .api_key("k")
        .secret_bytes(b"x")
        .args(&["--in-token"])
        .add();
    assert_fails_with(&out, 1, "signs with an asymmetric key");
    // With --token-key or --private-key-file: clap says they conflict.
    let out = env.agent(&[
        "add",
        "x",
        "--exchange",
        "binance",
        "--api-key",
        "k",
        "--in-token",
        "--token-key",
        "apisec-key:x",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    // Nothing was left on the token by the refusals.
    assert!(secret_keys_on_token(&env).is_empty());
    assert!(!Path::new(&env.store_dir().join("short.toml")).exists());
}

/// With a PKCS#11 backup token configured, the key is copied there too, and signing goes on
/// through the backup when the primary token is gone; remove destroys both copies.
#[test]
fn the_key_is_copied_to_a_backup_token_which_signs_when_the_primary_is_gone() {
    let s = secrets();
    let mut env = Env::new();
    env.init();
    let backup = env.new_backup_softhsm_token("apisec-backup");
    let out = env
        .secret("kr", "kraken")
        .api_key("k")
        .secret_bytes(&s.kraken)
        .args(&["--in-token"])
        .add();
    assert_ok(&out, "add --in-token with a backup token");
    assert!(
        stdout(&out).contains(&format!("copied the secret into the backup token {backup}")),
        "{}",
        stdout(&out)
    );
    assert!(
        !stderr(&out).contains("on the token only"),
        "{}",
        stderr(&out)
    );
    let listed = stdout(&env.agent(&["list"]));
    assert!(
        listed.contains("on the token and 1 backup token(s)"),
        "{listed}"
    );

    // An offline backup recipient seals the passphrase, not the key: a secret added after it,
    // with the backup token away, has no backup, and status says so (as it does not of kr).
    let offline = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";
    assert_ok(
        &env.agent(&["backup", "add-recipient", offline]),
        "add-recipient",
    );
    let config = fs::read_to_string(&env.config).unwrap();
    let without_backup_token = config.split("[[backup_tokens]]").next().unwrap().to_owned();
    fs::write(&env.config, &without_backup_token).unwrap();
    add_in_token(&env, "bg", "bitget", &s.bitget, &[]);
    fs::write(&env.config, &config).unwrap();
    env.start(&[]);
    let status = stdout(&env.cli(&["status"]));
    let note_after = |name: &str| {
        let mut lines = status.lines().skip_while(|l| !l.starts_with(name));
        lines.next();
        lines.next().is_some_and(|l| l.contains("NO BACKUP"))
    };
    assert!(note_after("bg"), "bg has no backup:\n{status}");
    assert!(!note_after("kr"), "kr has a backup token:\n{status}");
    assert_ok(&env.agent(&["stop"]), "stop");
    env.wait_agent_exit(std::time::Duration::from_secs(10));

    // The primary token deleted: the agent unseals and MACs with the backup's copy.
    env.softhsm(&["--delete-token", "--token", TOKEN_LABEL]);
    env.start(&[]);
    assert_ok(
        &env.cli(&["unlock", "kr"]),
        "unlock through the backup token",
    );
    assert_kraken_signs(&env, "kr", &s.kraken);
    // remove: the backup's copy is destroyed; the primary's is said to be left (it is gone).
    let label = token_key(&env, "kr");
    let out = env.agent(&["remove", "kr"]);
    assert_ok(&out, "remove");
    assert!(
        stdout(&out).contains(&format!(
            "destroyed the key {label:?} on the backup token {backup}"
        )),
        "{}",
        stdout(&out)
    );
}

/// Holds a write lock (`fcntl`, as SoftHSM's own) on every file of the test token: SoftHSM
/// takes a read lock on the token's files at each call, so its calls wait, as a network HSM's
/// do while its link hangs. Released at drop.
struct StalledToken {
    /// The locks are the open files': closing them releases the token.
    _locked: Vec<fs::File>,
}

impl StalledToken {
    fn stall(env: &Env) -> Self {
        let mut held = Vec::new();
        for dir in fs::read_dir(env.root().join("tokens")).unwrap() {
            for file in fs::read_dir(dir.unwrap().path()).unwrap() {
                let f = fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(file.unwrap().path())
                    .unwrap();
                // SAFETY: a zeroed flock is a valid value; fcntl reads it and the open fd only.
                let mut lock: libc::flock = unsafe { std::mem::zeroed() };
                lock.l_type = libc::F_WRLCK as i16;
                lock.l_whence = libc::SEEK_SET as i16;
                let rc = unsafe {
                    libc::fcntl(
                        std::os::unix::io::AsRawFd::as_raw_fd(&f),
                        libc::F_SETLKW,
                        &lock,
                    )
                };
                assert_eq!(rc, 0, "lock a token file");
                held.push(f);
            }
        }
        Self { _locked: held }
    }
}

/// A token that stalls while MACs run on the agent's workers (they came back quickly until
/// then): the stalled signatures hold one worker at most, so the agent goes on answering
/// others, signing with a secret in memory and saying its status; once the token answers again
/// the stalled signatures complete, and are right.
#[test]
fn a_token_that_stalls_holds_one_worker_and_the_agent_answers_the_others() {
    let s = secrets();
    let mut env = Env::new();
    env.init();
    add_in_token(&env, "bg", "bitget", &s.bitget, &[]);
    env.add_bitget("memory", b"a-secret-held-in-memory");
    env.start(&[]);
    assert_ok(&env.cli(&["unlock", "bg", "memory"]), "unlock");
    // Signatures at once first, so that the pool holds several sessions, and many more, as
    // when the token answers quickly...
    for _ in 0..3 {
        let together: Vec<_> = (0..4)
            .map(|_| {
                env.cli_cmd()
                    .arg("sign")
                    .args(bitget_get_args("bg"))
                    .stdout(std::process::Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for mut child in together {
            assert!(child.wait().unwrap().success());
        }
    }
    // ...which never brings its MACs onto the asking worker: a worker blocked there strands
    // the task in its LIFO slot, which no other worker may steal (server/mod.rs).
    let inline = "MACs on the token now run on the asking worker";
    for _ in 0..50 {
        assert_cli_bitget_get_signs(&env, "bg", &s.bitget);
    }
    assert!(!env.log().contains(inline), "{}", env.log());
    let stall = StalledToken::stall(&env);
    let mut stalled: Vec<_> = (0..3)
        .map(|_| {
            env.cli_cmd()
                .arg("sign")
                .args(bitget_get_args("bg"))
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("apisec sign")
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(500));
    // Bounded (coreutils' timeout), so that an agent that stopped answering fails the test
    // rather than hanging it.
    let within_10s = |args: &[&str]| {
        env.command("timeout")
            .arg("10")
            .arg(binary("apisec"))
            .args(args)
            .output()
            .unwrap()
    };
    let mut args = vec!["sign"];
    args.extend(bitget_get_args("memory"));
    // An exit status of 124 is timeout's: no answer within 10 s.
    assert_bitget_get_signed(&within_10s(&args), b"a-secret-held-in-memory");
    let out = within_10s(&["status"]);
    assert_ok(
        &out,
        "status while the token stalls (124: no answer in 10 s)",
    );
    // The token really stalled: its signatures are still waiting, after the others' answers.
    for child in &mut stalled {
        assert!(
            child.try_wait().unwrap().is_none(),
            "a signature on the stalled token finished before the token answered"
        );
    }
    drop(stall);
    for child in stalled {
        let out = child.wait_with_output().unwrap();
        assert_bitget_get_signed(&out, &s.bitget);
    }
}
