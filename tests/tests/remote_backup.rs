//! A backup token on another host: the main token is the test's SoftHSM, loaded directly; the
//! backup is another SoftHSM token behind `p11-kit server`, reached through Debian's
//! `p11-kit-client.so`, as an owner keeps a backup HSM elsewhere (docs/operations.md). `backup
//! add-token` finds by trying that the link does not carry ECDH and gives the backup an RSA key;
//! a sealed secret and an in-token secret (whose key is copied into the backup through the same
//! link) both sign from the backup once the main token is gone, each signature checked against
//! an HMAC computed here; the link dropping is a clear error, and its return is picked up by the
//! running agent.

use apisec_tests::p11kit::{P11KitServer, P11_KIT_CLIENT};
use apisec_tests::*;

const BACKUP: &str = "apisec-remote-backup";

#[test]
fn a_backup_token_on_another_host_unseals_and_signs_when_the_main_token_is_gone() {
    let mut env = Env::new();
    env.init();
    env.softhsm(&[
        "--init-token",
        "--free",
        "--label",
        BACKUP,
        "--pin",
        PIN,
        "--so-pin",
        SO_PIN,
    ]);
    let mut server = P11KitServer::start_token(&env, BACKUP);
    let out = env.backup_add_token_through(std::path::Path::new(P11_KIT_CLIENT), BACKUP);
    assert_ok(&out, "backup add-token through p11-kit-client.so");
    let said = stderr(&out);
    assert!(
        said.contains("cannot derive") && said.contains("RSA-3072"),
        "the backup's key is chosen by trying: {said}"
    );
    let recipient = stdout(&out)
        .lines()
        .find_map(|l| l.strip_prefix("recipient: "))
        .expect("the backup's recipient")
        .to_owned();
    assert!(recipient.starts_with("age1apisec-rsa1"), "{recipient}");

    let sealed = random_hex_secret();
    let held = random_hex_secret();
    env.add_bitget("sealed", &sealed);
    let out = env.add_bitget_in_token("held", &held);
    assert!(
        stdout(&out).contains(&format!(
            "copied the secret into the backup token {recipient}"
        )),
        "{}",
        stdout(&out)
    );

    // The main token gone: both secrets open and sign through the link.
    env.softhsm(&["--delete-token", "--token", TOKEN_LABEL]);
    env.start(&[]);
    assert_ok(
        &env.cli(&["unlock", "sealed", "held"]),
        "unlock through the backup token on another host",
    );
    assert_cli_bitget_get_signs(&env, "sealed", &sealed);
    assert_cli_bitget_get_signs(&env, "held", &held);

    // The link drops: the in-token secret cannot sign, and the error says where to look; the
    // sealed one, unsealed into memory, goes on signing.
    server.stop();
    let out = sign_assets(&env, "held");
    let said = stderr(&out);
    assert!(!out.status.success(), "signed with the link down: {said}");
    assert!(
        said.contains("the main token: no token labelled \"apisec-test\"")
            && said.contains("backup token 1: no token labelled \"apisec-remote-backup\"")
            && said.contains("is `p11-kit server` running there"),
        "each token's absence is named: {said}"
    );
    assert!(
        !said.contains(std::str::from_utf8(&held).unwrap()),
        "{said}"
    );
    assert_cli_bitget_get_signs(&env, "sealed", &sealed);

    // Back: the same agent signs through it again, with no restart and no new unlock.
    server.restart(&env);
    assert_cli_bitget_get_signs(&env, "held", &held);
    assert!(!env.log().contains("panicked"), "{}", env.log());
}
