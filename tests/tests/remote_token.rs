//! A token on another host, through the existing engine for remote PKCS#11: the test's SoftHSM
//! token behind `p11-kit server`, reached through `p11-kit-client.so`, both Debian's, as an
//! owner forwards it over SSH (docs/operations.md). p11-kit 0.24 does not carry
//! `CKM_ECDH1_DERIVE`'s parameters, so `init` finds by trying that the token cannot derive and
//! makes an RSA key (the `apisec-rsa-oaep` stanza); sealed and in-token secrets sign through
//! it, each signature checked against an HMAC computed here; the server stopped under the
//! running agent gives a clear error, and started again, signing resumes. Beside it, wrapping
//! keys an owner made or replaced with `pkcs11-tool` on the token itself.

use std::fs;

use apisec_tests::p11kit::{default_client_socket, P11KitServer, P11_KIT_CLIENT};
use apisec_tests::sshd::Sshd;
use apisec_tests::*;

/// `pkcs11-tool --list-objects` on the test token, straight through SoftHSM (not p11-kit): what
/// the token itself holds, seen by a tool this project did not write.
fn objects_on_token(env: &Env) -> String {
    stdout(&pkcs11_tool(env, &["--list-objects"]))
}

/// A key pair of `key_type` (pkcs11-tool's spelling: `rsa:2048`, `EC:prime256v1`,
/// `EC:edwards25519`) labelled as the wrapping key, made on the token by `pkcs11-tool`.
fn make_key_pair(env: &Env, key_type: &str, id: &str, extra: &[&str]) {
    let mut args = vec![
        "--keypairgen",
        "--key-type",
        key_type,
        "--label",
        KEY_LABEL,
        "--id",
        id,
    ];
    args.extend_from_slice(extra);
    pkcs11_tool(env, &args);
}

/// The DER SubjectPublicKeyInfo the config's `age1apisec-rsa1...` recipient carries.
fn config_rsa_recipient(env: &Env) -> Vec<u8> {
    use bech32::FromBase32;
    let config = fs::read_to_string(&env.config).unwrap();
    let recipient = config
        .lines()
        .find_map(|l| l.strip_prefix("recipient = \""))
        .and_then(|r| r.strip_suffix('"'))
        .expect("the config's recipient");
    let (hrp, data, _) = bech32::decode(recipient).unwrap();
    assert_eq!(hrp, "age1apisec-rsa");
    Vec::<u8>::from_base32(&data).unwrap()
}

/// The DER of the public key `select` names (`--label L`, `--id I`), as `pkcs11-tool` reads it
/// from the token.
fn read_public_key(env: &Env, select: &[&str]) -> Vec<u8> {
    let file = env.root().join(format!("read-{}.der", select.join("-")));
    let mut args = vec!["--read-object", "--type", "pubkey"];
    args.extend_from_slice(select);
    args.extend_from_slice(&["--output-file", file.to_str().unwrap()]);
    pkcs11_tool(env, &args);
    fs::read(&file).unwrap()
}

/// The wrapping key's two halves deleted and a new P-256 pair of its label made in their place.
fn replace_wrapping_key(env: &Env, id: &str, extra: &[&str]) {
    for kind in ["privkey", "pubkey"] {
        pkcs11_tool(
            env,
            &["--delete-object", "--type", kind, "--label", KEY_LABEL],
        );
    }
    make_key_pair(env, "EC:prime256v1", id, extra);
}

#[test]
fn init_through_p11_kit_chooses_rsa_oaep_and_signing_survives_the_server_restarting() {
    let mut env = Env::new();
    let mut server = P11KitServer::start(&env);
    let out = env.init_through(std::path::Path::new(P11_KIT_CLIENT), true);
    assert_ok(&out, "init through p11-kit-client.so");
    let said = stderr(&out);
    assert!(
        said.contains("cannot derive") && said.contains("C_DeriveKey: CKR_MECHANISM_INVALID"),
        "init says why it did not keep the EC key: {said}"
    );
    assert!(
        said.contains("RSA-3072") && said.contains("apisec-rsa-oaep"),
        "init says which stanza it chose: {said}"
    );
    let config = fs::read_to_string(&env.config).unwrap();
    assert!(config.contains("recipient = \"age1apisec-rsa1"), "{config}");
    // On the token: one RSA key pair under the wrapping key's label, and the EC pair that could
    // not derive taken back.
    let objects = objects_on_token(&env);
    assert!(objects.contains("RSA 3072 bits"), "{objects}");
    assert!(!objects.contains("EC_POINT"), "{objects}");
    assert!(
        objects.contains(&format!("label:      {KEY_LABEL}")),
        "{objects}"
    );

    let sealed = random_hex_secret();
    let in_token = random_hex_secret();
    env.add_bitget("sealed", &sealed);
    env.add_bitget_in_token("held", &in_token);

    env.start(&[]);
    assert_ok(&env.cli(&["unlock", "sealed", "held"]), "unlock");
    assert_cli_bitget_get_signs(&env, "sealed", &sealed);
    assert_cli_bitget_get_signs(&env, "held", &in_token);
    assert_ok(&env.cli(&["lock", "sealed"]), "lock");

    // The link drops: the token's MAC and an unseal fail, saying where the token went; nothing
    // else is lost.
    server.stop();
    let signed = sign_assets(&env, "held");
    assert_eq!(signed.status.code(), Some(1), "{}", stderr(&signed));
    let unlocked = env.cli(&["unlock", "sealed"]);
    assert!(!unlocked.status.success(), "unlocked with the server gone");
    for said in [stderr(&signed), stderr(&unlocked)] {
        assert!(
            said.contains("no token labelled \"apisec-test\"")
                && said.contains("is `p11-kit server` running there"),
            "{said}"
        );
        assert!(
            !said.contains(std::str::from_utf8(&in_token).unwrap()),
            "{said}"
        );
    }

    // Back: the same agent signs again, with no restart and no new unlock of the token's key.
    server.restart(&env);
    assert_cli_bitget_get_signs(&env, "held", &in_token);
    assert_ok(&env.cli(&["unlock", "sealed"]), "unlock after the restart");
    assert_cli_bitget_get_signs(&env, "sealed", &sealed);
    assert!(!env.log().contains("panicked"), "{}", env.log());
}

/// `pkcs11-tool ARGS` on the test token, logged in, straight through SoftHSM; checked.
fn pkcs11_tool(env: &Env, args: &[&str]) -> std::process::Output {
    let out = env.pkcs11_tool(args);
    assert_ok(&out, &format!("pkcs11-tool {args:?}"));
    out
}

/// An RSA key an owner made with the token's own tools (a FIPS-mode HSM that cannot derive)
/// is used as it is: the recipient carries exactly the public key `pkcs11-tool` reads from the
/// token, sealed entries open and sign. A key replaced under the config, by one of the other
/// kind, is named as such instead of failing as a damaged entry.
#[test]
fn an_rsa_key_made_with_pkcs11_tool_is_the_wrapping_key_as_it_is() {
    let mut env = Env::new();
    make_key_pair(&env, "rsa:2048", "0a", &["--usage-decrypt"]);
    let out = env.init_through(&softhsm_module(), false);
    assert_ok(&out, "init with the RSA key");
    assert!(
        stderr(&out).contains("an RSA-2048 key") && stderr(&out).contains("apisec-rsa-oaep"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        config_rsa_recipient(&env),
        read_public_key(&env, &["--label", KEY_LABEL]),
        "the recipient is the token's public key"
    );

    let secret = random_hex_secret();
    env.add_bitget("bg", &secret);
    env.start(&[]);
    assert_ok(&env.cli(&["unlock", "bg"]), "unlock");
    assert_cli_bitget_get_signs(&env, "bg", &secret);
    assert_ok(&env.cli(&["lock", "bg"]), "lock");

    // The key swapped underneath for an EC key of the same label.
    replace_wrapping_key(&env, "0b", &[]);
    let out = env.cli(&["unlock", "bg"]);
    assert!(!out.status.success(), "unlocked with another key");
    assert!(
        stderr(&out).contains(
            "is a P-256 key, not the one the config's recipient names (an RSA key): the key on \
             the token was replaced since `init`"
        ),
        "{}",
        stderr(&out)
    );
}

/// A wrapping key replaced by another of the same kind (the halves deleted, a new P-256 pair of
/// the same label made with `pkcs11-tool`) is named as replaced at unlock, not reported as a
/// damaged entry; nothing is unsealed with it (an in-token secret's entry neither), and the
/// message carries no secret.
#[test]
fn a_wrapping_key_replaced_by_another_of_its_kind_is_named_as_replaced() {
    let mut env = Env::new();
    assert_ok(
        &env.init_through(&softhsm_module(), true),
        "init --generate",
    );
    let secret = random_hex_secret();
    env.add_bitget("bg", &secret);
    let held = random_hex_secret();
    env.add_bitget_in_token("held", &held);
    env.start(&[]);
    assert_ok(&env.cli(&["unlock", "bg"]), "unlock");
    assert_cli_bitget_get_signs(&env, "bg", &secret);
    assert_ok(&env.cli(&["lock", "bg"]), "lock");

    replace_wrapping_key(&env, "0d", &["--usage-derive"]);
    let out = env.cli(&["unlock", "bg"]);
    assert!(!out.status.success(), "unlocked with another key");
    let said = stderr(&out);
    assert!(
        said.contains(&format!(
            "the token's key labelled {KEY_LABEL:?} is another P-256 key, not the one the \
             config's recipient names (a P-256 key): the key on the token was replaced since \
             `init`"
        )),
        "{said}"
    );
    assert!(!said.contains("damaged"), "{said}");
    assert!(
        !said.contains(std::str::from_utf8(&secret).unwrap()),
        "{said}"
    );
    // A secret held on the token is unlocked through its sealed entry too (its passphrase):
    // the same answer.
    let out = env.cli(&["unlock", "held"]);
    assert!(!out.status.success(), "unlocked with another key");
    assert!(
        stderr(&out).contains("is another P-256 key, not the one the config's recipient names"),
        "{}",
        stderr(&out)
    );
}

fn write_public_key(env: &Env, der: &std::path::Path, id: &str) {
    pkcs11_tool(
        env,
        &[
            "--write-object",
            der.to_str().unwrap(),
            "--type",
            "pubkey",
            "--label",
            KEY_LABEL,
            "--id",
            id,
        ],
    );
}

/// Public keys of the wrapping key's label beside the pair's (another RSA key's): the recipient
/// `init` writes is the private key's own, the one that decrypts, so entries sealed to it open.
#[test]
fn an_rsa_key_beside_stray_public_keys_of_its_label_is_used_by_its_own_modulus() {
    let mut env = Env::new();
    let stray = env.root().join("stray.der");
    let pem = env.root().join("stray.pem");
    let run = |cmd: &mut std::process::Command, what: &str| {
        let out = cmd.output().unwrap();
        assert_ok(&out, what);
    };
    run(
        std::process::Command::new("openssl")
            .args([
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
                "-out",
            ])
            .arg(&pem),
        "openssl genpkey",
    );
    run(
        std::process::Command::new("openssl")
            .args(["pkey", "-pubout", "-outform", "DER", "-in"])
            .arg(&pem)
            .arg("-out")
            .arg(&stray),
        "openssl pkey -pubout",
    );
    // Four copies, made before and after the pair: a lookup by label alone takes one of them
    // (then `init`'s trial decryption fails), checked.
    for id in ["0f", "10"] {
        write_public_key(&env, &stray, id);
    }
    make_key_pair(&env, "rsa:2048", "0a", &["--usage-decrypt"]);
    for id in ["11", "12"] {
        write_public_key(&env, &stray, id);
    }
    assert_ok(&env.init_through(&softhsm_module(), false), "init");
    let ours = config_rsa_recipient(&env);
    assert_eq!(
        ours,
        read_public_key(&env, &["--id", "0a"]),
        "the pair's public key"
    );
    assert_ne!(ours, fs::read(&stray).unwrap(), "not the stray one");
    let secret = random_hex_secret();
    env.add_bitget("bg", &secret);
    env.start(&[]);
    assert_ok(&env.cli(&["unlock", "bg"]), "unlock");
    assert_cli_bitget_get_signs(&env, "bg", &secret);
}

/// An EC key the token lists but cannot derive with (through p11-kit) is refused by `init`,
/// which says what failed and how to get a key that works; no config is written.
#[test]
fn init_refuses_an_existing_ec_key_the_token_cannot_derive_with() {
    let env = Env::new();
    let _server = P11KitServer::start(&env);
    make_key_pair(&env, "EC:prime256v1", "0c", &[]);
    let out = env.init_through(std::path::Path::new(P11_KIT_CLIENT), false);
    assert_fails_with(&out, 1, "cannot unseal with its key labelled");
    assert!(
        stderr(&out).contains("C_DeriveKey: CKR_MECHANISM_INVALID")
            && stderr(&out).contains("--generate a key with another --key-label"),
        "{}",
        stderr(&out)
    );
    assert!(!env.config.exists(), "a config was written");
}

/// `ssh -N -L LOCAL:FAR` to the test's sshd, as docs/operations.md forwards the server's socket
/// to the agent's host; killed at drop (the link cut).
struct Forward(std::process::Child);

impl Forward {
    fn start(sshd: &Sshd, local: &std::path::Path, far: &std::path::Path) -> Self {
        let child = sshd
            .ssh()
            .args(["-N", "-o", "ServerAliveInterval=15", "-L"])
            .arg(format!("{}:{}", local.display(), far.display()))
            .arg("root@127.0.0.1")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("ssh");
        wait_until(
            std::time::Duration::from_secs(20),
            || {
                std::os::unix::net::UnixStream::connect(local)
                    .ok()
                    .map(|_| ())
            },
            || format!("ssh -L did not make {}", local.display()),
        );
        Self(child)
    }
}

impl Drop for Forward {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The recipe of docs/operations.md as printed, with a real sshd: the server's socket on the
/// "token's host", forwarded with `ssh -L` to where the client module looks on the agent's
/// host. The forward cut under the running agent is the clear error; a new forward, and it
/// signs again.
#[test]
#[ignore = "needs root: runs sshd; scripts/test.sh runs it as root"]
fn as_root_the_token_forwarded_with_ssh_l_signs_and_survives_the_link_cut() {
    let mut env = Env::new();
    let far = env.root().join("token-host/p11-kit/hsm");
    let _server = P11KitServer::start_at(&env, &far);
    let sshd = Sshd::start(&env);
    let local = default_client_socket(&env);
    // As the recipe says: the directory first, private to the user (ssh makes only the socket).
    fs::create_dir_all(local.parent().unwrap()).unwrap();
    fs::set_permissions(
        local.parent().unwrap(),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    let forward = Forward::start(&sshd, &local, &far);
    assert_ok(
        &env.init_through(std::path::Path::new(P11_KIT_CLIENT), true),
        "init through the forward",
    );
    let in_token = random_hex_secret();
    env.add_bitget_in_token("held", &in_token);
    env.start(&[]);
    assert_ok(&env.cli(&["unlock", "held"]), "unlock");
    assert_cli_bitget_get_signs(&env, "held", &in_token);

    drop(forward);
    let out = sign_assets(&env, "held");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("is `p11-kit server` running there"),
        "{}",
        stderr(&out)
    );
    let _forward = Forward::start(&sshd, &local, &far);
    assert_cli_bitget_get_signs(&env, "held", &in_token);
}

/// `init` takes back the EC pair the token cannot derive with by its handles: another key of the
/// same label (here an Ed25519 pair, as `keygen` or another program could leave) stays.
#[test]
fn init_takes_back_only_the_key_pair_it_made() {
    let env = Env::new();
    let _server = P11KitServer::start(&env);
    make_key_pair(&env, "EC:edwards25519", "0d", &[]);
    assert_ok(
        &env.init_through(std::path::Path::new(P11_KIT_CLIENT), true),
        "init through p11-kit",
    );
    let objects = objects_on_token(&env);
    assert!(
        objects.contains("Private Key Object; EC_EDWARDS")
            && objects.contains("Public Key Object; EC_EDWARDS"),
        "the Ed25519 pair of the same label is gone: {objects}"
    );
    assert!(objects.contains("RSA 3072 bits"), "{objects}");
    assert!(!objects.contains("Key Object; EC  EC_POINT"), "{objects}");
}
