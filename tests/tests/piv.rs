//! YubiKey PIV, natively, end to end: the real `apisec-agent` and `apisec` binaries against the
//! virtual YubiKey (`apisec-vcard`) behind a real pcscd, the test playing the user through the
//! card's control directory (touch or not, pull the card).
//!
//! Every test is `#[ignore]`d because it needs the machine's one pcscd with the vpcd driver; run
//! them under the private pcscd, one at a time (the card sits on one reader):
//!   tests/vcard/scripts/with-pcscd.sh cargo test -p apisec-tests --test piv -- --ignored --test-threads=1
//! (scripts/test.sh does, in CI.)

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use apisec_tests::soft_piv::{self, SoftPivIdentity};
use apisec_tests::vcard::VCard;
use apisec_tests::*;

const SECRET: &[u8] = b"piv-bitget-secret-5e1d";
const PASSPHRASE: &[u8] = b"piv-passphrase";
const BN_SECRET: &[u8] = b"piv-binance-secret-93ab";
const YKCS11: &str = "/usr/lib/x86_64-linux-gnu/libykcs11.so.2";

/// A card and an agent home. Fields drop in order: the card stops first, then the agent, then
/// the card's directory goes.
struct World {
    card: VCard,
    env: Env,
    _card_dir: tempfile::TempDir,
}

impl World {
    fn new(serial: u32) -> Self {
        let card_dir = tempfile::tempdir().unwrap();
        let card = VCard::start(card_dir.path(), serial);
        Self {
            card,
            env: Env::new(),
            _card_dir: card_dir,
        }
    }

    /// `init --yubikey --generate` with `touch` as the touch policy; returns the recipient.
    fn init(&self, touch: &str) -> String {
        let serial = self.card.serial.to_string();
        let out = self.env.agent(&[
            "init",
            "--yubikey",
            "--serial",
            &serial,
            "--generate",
            "--touch-policy",
            touch,
            "--pin-file",
            self.env.pin_file.to_str().unwrap(),
        ]);
        assert_ok(&out, "init --yubikey");
        // Writing the slot certificate took a touch: the tests count theirs from here.
        self.card.forget_touches();
        stdout(&out)
            .lines()
            .find_map(|l| l.strip_prefix("recipient: "))
            .expect("init prints the recipient")
            .to_owned()
    }

    fn add_bitget(&self, name: &str) {
        assert_ok(
            &self
                .env
                .secret(name, "bitget")
                .api_key("bg_key")
                .secret_bytes(SECRET)
                .passphrase(PASSPHRASE)
                .add(),
            "add",
        );
    }

    fn touch_line(&self, name: &str) -> String {
        format!(
            "touch your YubiKey (serial {}) to unlock {name}",
            self.card.serial
        )
    }
}

/// Signs a Bitget GET with `name` and checks the signature against an independent HMAC.
fn assert_bitget_signs(env: &Env, name: &str) {
    let headers = assert_cli_bitget_get_signs(env, name, SECRET);
    assert_eq!(header(&headers, "ACCESS-PASSPHRASE"), "piv-passphrase");
}

fn is_unsealed(env: &Env, name: &str) -> bool {
    let v: serde_json::Value =
        serde_json::from_str(&stdout(&env.cli(&["status", "--json"]))).unwrap();
    v["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in status"))["unsealed"]
        .as_bool()
        .unwrap()
}

#[test]
#[ignore = "needs pcscd + vpcd: tests/vcard/scripts/with-pcscd.sh ... -- --ignored --test-threads=1"]
fn touch_approves_unlock_then_bitget_and_binance_sign() {
    let mut w = World::new(424242);
    let recipient = w.init("always");
    assert!(recipient.starts_with("age1yubikey1"), "{recipient}");
    let config = std::fs::read_to_string(&w.env.config).unwrap();
    assert!(
        config.contains("kind = \"piv\"")
            && config.contains("serial = 424242")
            && config.contains("touch_policy = \"always\""),
        "{config}"
    );
    w.add_bitget("bg");
    assert_ok(
        &w.env
            .secret("bn", "binance")
            .api_key("bn_key")
            .secret_bytes(BN_SECRET)
            .args(&["--freshness", "off"])
            .add(),
        "add binance",
    );
    // No approver: the card's touch approves.
    w.env.start_raw(&[]);
    w.card.set("touch", "approve");
    w.card.set("touch-delay-ms", "300");
    let out = w.env.cli(&["unlock", "bg", "bn"]);
    assert_ok(&out, "unlock");
    let err = stderr(&out);
    assert!(
        err.contains(&format!("{} (touch 1 of 2)", w.touch_line("bg")))
            && err.contains(&format!("{} (touch 2 of 2)", w.touch_line("bn"))),
        "{err}"
    );
    assert!(!err.contains("waiting for approval"), "{err}");
    assert_eq!(w.card.count("touches"), 2, "policy always: one touch each");

    assert_bitget_signs(&w.env, "bg");
    let query = "symbol=LTCBTC&side=BUY&type=LIMIT&quantity=1&price=0.1";
    let out = w.env.cli(&[
        "sign",
        "bn",
        "--method",
        "POST",
        "--path",
        "/api/v3/order",
        "--query",
        query,
        "--timestamp",
        "1499827319559",
    ]);
    assert_ok(&out, "sign binance");
    let signed = format!("{query}&timestamp=1499827319559");
    let sig = hex::encode(hmac_sha256(BN_SECRET, signed.as_bytes()));
    assert_eq!(
        stdout(&out),
        format!("X-MBX-APIKEY: bn_key\n?{signed}&signature={sig}\n")
    );
    assert!(
        w.env.log().contains("approved by the token's touch"),
        "{}",
        w.env.log()
    );
}

#[test]
#[ignore = "needs pcscd + vpcd: tests/vcard/scripts/with-pcscd.sh ... -- --ignored --test-threads=1"]
fn no_touch_times_out_and_the_secret_stays_sealed() {
    let mut w = World::new(424243);
    w.init("always");
    w.add_bitget("bg");
    w.env.start_raw(&[]);
    w.card.set("touch", "never");
    let out = w.env.cli(&["unlock", "bg"]);
    assert_fails_with(&out, 1, "the touch was not received");
    assert!(
        stderr(&out).contains(&w.touch_line("bg")),
        "{}",
        stderr(&out)
    );
    assert!(
        !stderr(&out).contains("PIN"),
        "a touch time-out is not a PIN error: {}",
        stderr(&out)
    );
    assert!(!is_unsealed(&w.env, "bg"));
    let out = sign_assets(&w.env, "bg");
    assert_fails_with(&out, 5, "is sealed");
    assert_eq!(w.card.pin_tries_left(), 3, "no PIN try was spent");

    // The same agent unlocks once the user touches.
    w.card.set("touch", "approve");
    assert_ok(&w.env.cli(&["unlock", "bg"]), "unlock after the time-out");
    assert_bitget_signs(&w.env, "bg");
}

#[test]
#[ignore = "needs pcscd + vpcd: tests/vcard/scripts/with-pcscd.sh ... -- --ignored --test-threads=1"]
fn a_wrong_pin_costs_one_try_is_reported_and_never_retried() {
    let mut w = World::new(424244);
    w.init("cached");
    w.add_bitget("bg");
    std::fs::write(&w.env.pin_file, "654321\n").unwrap();
    w.env.start_raw(&[]);
    assert_eq!(w.card.pin_tries_left(), 3);
    let out = w.env.cli(&["unlock", "bg"]);
    assert_fails_with(&out, 1, "refused the PIN; 2 tries left");
    assert_eq!(w.card.pin_tries_left(), 2, "exactly one try spent");
    // The same wrong PIN is not presented again.
    let out = w.env.cli(&["unlock", "bg"]);
    assert_fails_with(&out, 1, "was already refused");
    assert_eq!(w.card.pin_tries_left(), 2);
    assert!(!w.env.log().contains("654321"), "the PIN leaked to the log");

    std::fs::write(&w.env.pin_file, format!("{PIN}\n")).unwrap();
    assert_ok(&w.env.cli(&["unlock", "bg"]), "unlock with the right PIN");
    assert_eq!(w.card.pin_tries_left(), 3, "a good PIN resets the counter");
    assert_bitget_signs(&w.env, "bg");
}

#[test]
#[ignore = "needs pcscd + vpcd: tests/vcard/scripts/with-pcscd.sh ... -- --ignored --test-threads=1"]
fn card_pulled_while_waiting_for_the_touch() {
    let mut w = World::new(424245);
    w.init("always");
    w.add_bitget("first");
    w.add_bitget("second");
    w.env.start_raw(&[]);
    assert_ok(&w.env.cli(&["unlock", "first"]), "unlock first");

    // The card blinks for "second"; the user pulls it instead of touching.
    w.card.set("touch", "never");
    w.card.set("touch-timeout-ms", "15000");
    let pending = w
        .env
        .cli_cmd()
        .args(["unlock", "second"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    w.card.wait_touch_waiting(Duration::from_secs(10));
    w.card.set("present", "0");
    let out = pending.wait_with_output().unwrap();
    assert_fails_with(&out, 1, "was removed");
    assert!(!is_unsealed(&w.env, "second"));

    // The agent keeps serving what it holds.
    assert_bitget_signs(&w.env, "first");

    // The card comes back: the next request reopens it, no restart.
    w.card.set("touch", "approve");
    w.card.set("present", "1");
    w.card.wait_usable(Duration::from_secs(15));
    let out = w.env.cli(&["unlock", "second"]);
    assert_ok(&out, "unlock after re-insertion");
    assert_bitget_signs(&w.env, "second");
}

#[test]
#[ignore = "needs pcscd + vpcd: tests/vcard/scripts/with-pcscd.sh ... -- --ignored --test-threads=1"]
fn cached_policy_two_unlocks_one_touch() {
    let mut w = World::new(424246);
    w.init("cached");
    w.add_bitget("a");
    w.add_bitget("b");
    w.env.start_raw(&[]);
    let out = w.env.cli(&["unlock", "a"]);
    assert_ok(&out, "unlock a");
    assert!(
        stderr(&out).contains(&w.touch_line("a")),
        "{}",
        stderr(&out)
    );
    let out = w.env.cli(&["unlock", "b"]);
    assert_ok(&out, "unlock b");
    assert!(
        !stderr(&out).contains("touch your YubiKey"),
        "no touch needed within the window: {}",
        stderr(&out)
    );
    assert_eq!(w.card.count("touches"), 1, "one touch for two unlocks");
    assert_bitget_signs(&w.env, "a");
    assert_bitget_signs(&w.env, "b");
}

#[test]
#[ignore = "needs pcscd + vpcd: tests/vcard/scripts/with-pcscd.sh ... -- --ignored --test-threads=1"]
fn notify_program_gets_the_touch_line() {
    let mut w = World::new(424247);
    w.init("always");
    w.add_bitget("bg");
    let notify = w.env.root().join("notify.sh");
    let seen = w.env.root().join("notified");
    std::fs::write(
        &notify,
        format!("#!/bin/sh\necho \"$1\" >> {}\n", seen.display()),
    )
    .unwrap();
    std::fs::set_permissions(&notify, std::fs::Permissions::from_mode(0o700)).unwrap();
    let mut config = std::fs::read_to_string(&w.env.config).unwrap();
    config.push_str(&format!(
        "\n[approval]\nnotify = \"{}\"\n",
        notify.display()
    ));
    std::fs::write(&w.env.config, config).unwrap();
    w.env.start_raw(&[]);
    assert_ok(&w.env.cli(&["unlock", "bg"]), "unlock");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !seen.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        std::fs::read_to_string(&seen).unwrap_or_default().trim(),
        w.touch_line("bg")
    );
}

/// The entry's sealed block opens with the `age` crate and an identity built from the card's
/// private key by the test's own code: the agent writes age-plugin-yubikey's format.
#[test]
#[ignore = "needs pcscd + vpcd: tests/vcard/scripts/with-pcscd.sh ... -- --ignored --test-threads=1"]
fn a_sealed_entry_opens_with_age_and_the_cards_private_key() {
    let w = World::new(424248);
    let recipient = w.init("cached");
    w.add_bitget("bg");
    let identity = SoftPivIdentity::from_scalar(&w.card.private_key("82"));
    assert_eq!(
        identity.recipient(),
        recipient,
        "the age1yubikey1 recipient"
    );
    let entry = std::fs::read_to_string(w.env.store_dir().join("bg.toml")).unwrap();
    let start = entry.find("-----BEGIN AGE ENCRYPTED FILE-----").unwrap();
    let end = entry.find("-----END AGE ENCRYPTED FILE-----").unwrap();
    let armored = format!("{}-----END AGE ENCRYPTED FILE-----\n", &entry[start..end]);
    let plain = soft_piv::decrypt(&armored, &identity).expect("decrypts");
    assert!(plain.starts_with(b"apisec-sealed-v1\n"));
    assert!(plain.windows(SECRET.len()).any(|w| w == SECRET));
    // And a different key does not open it.
    let stranger = SoftPivIdentity::from_scalar(&[7u8; 32]);
    assert!(soft_piv::decrypt(&armored, &stranger).is_err());
    assert_eq!(w.card.count("touches"), 0, "sealing needs no card");
}

/// Debian's ykcs11 (PKCS#11 over the same PIV applet) unseals an entry on the virtual card; it
/// uses the card because the reader's name contains "Yubico".
#[test]
#[ignore = "needs pcscd + vpcd: tests/vcard/scripts/with-pcscd.sh ... -- --ignored --test-threads=1"]
fn ykcs11_unseals_on_the_virtual_card() {
    assert!(
        std::path::Path::new(YKCS11).exists(),
        "{YKCS11} is missing: apt-get install ykcs11"
    );
    let mut w = World::new(424249);
    // The key is made natively (with its touch policy); ykcs11 then uses it.
    let native_config: PathBuf = w.env.root().join("native.toml");
    let out = w.env.agent(&[
        "--config",
        native_config.to_str().unwrap(),
        "init",
        "--yubikey",
        "--generate",
        "--touch-policy",
        "cached",
        "--pin-file",
        w.env.pin_file.to_str().unwrap(),
    ]);
    assert_ok(&out, "init --yubikey");
    w.card.forget_touches();
    let native = stdout(&out);
    let out = w.env.agent(&[
        "init",
        "--pkcs11-module",
        YKCS11,
        "--key-label",
        "Retired Key 1",
        "--pin-file",
        w.env.pin_file.to_str().unwrap(),
    ]);
    assert_ok(&out, "init --pkcs11-module ykcs11");
    let recipient = stdout(&out)
        .lines()
        .find_map(|l| l.strip_prefix("recipient: "))
        .unwrap()
        .to_owned();
    assert!(
        native.contains(&format!("recipient: {recipient}")),
        "same key, same recipient: {native} / {recipient}"
    );
    w.add_bitget("bg");
    w.env.start(&[]);
    assert_ok(&w.env.cli(&["unlock", "bg"]), "unlock through ykcs11");
    assert_eq!(w.card.count("touches"), 1);
    assert_bitget_signs(&w.env, "bg");
    // A PIV applet holds no HMAC keys: `add --in-token` through ykcs11 is refused, naming the
    // mechanism the token lacks and what to do, and leaves no entry.
    let out = w
        .env
        .secret("kt", "bitget")
        .api_key("k")
        .secret_bytes(&[b'a'; 64])
        .passphrase(b"p")
        .args(&["--in-token"])
        .add();
    assert_fails_with(&out, 1, "CKM_SHA256_HMAC");
    assert!(
        stderr(&out).contains("without --in-token"),
        "{}",
        stderr(&out)
    );
    assert!(!w.env.store_dir().join("kt.toml").exists());
}

/// A step-up rule with the card's touch as the only approval: every such signature costs one
/// fresh touch (a card operation), and no touch means no signature. With touch policy `cached`
/// a fresh touch cannot be proven, so such a step-up is refused with the remedy.
#[test]
#[ignore = "needs pcscd + vpcd: tests/vcard/scripts/with-pcscd.sh ... -- --ignored --test-threads=1"]
fn step_up_with_the_touch_as_approval_needs_a_fresh_touch_each_time() {
    let mut w = World::new(424250);
    w.init("always");
    let policy = w.env.root().join("policy.toml");
    std::fs::write(
        &policy,
        "[[rule]]\naction = \"step-up\"\nmethods = [\"POST\"]\npath = \"/api/v2/spot/wallet/withdrawal\"\n",
    )
    .unwrap();
    assert_ok(
        &w.env
            .secret("bg", "bitget")
            .api_key("k")
            .secret_bytes(SECRET)
            .passphrase(PASSPHRASE)
            .args(&["--policy", policy.to_str().unwrap()])
            .add(),
        "add",
    );
    w.env.start_raw(&[]);
    w.card.set("touch", "approve");
    assert_ok(&w.env.cli(&["unlock", "bg"]), "unlock");
    let before = w.card.count("touches");
    let withdraw = [
        "sign",
        "bg",
        "--method",
        "POST",
        "--path",
        "/api/v2/spot/wallet/withdrawal",
    ];
    assert_ok(&w.env.cli(&withdraw), "step-up with a touch");
    assert_eq!(
        w.card.count("touches"),
        before + 1,
        "one fresh touch per step-up"
    );
    // An ordinary request needs none.
    assert_ok(&sign_assets(&w.env, "bg"), "plain sign");
    assert_eq!(w.card.count("touches"), before + 1);
    w.card.set("touch", "never");
    let out = w.env.cli(&withdraw);
    assert!(!out.status.success(), "signed without a touch");
    assert!(
        stderr(&out).contains("needs a fresh touch of the card"),
        "{}",
        stderr(&out)
    );
}

/// Step-up by touch trusts `touch_policy = "always"` to mean a fresh touch per operation: a card
/// key that only demands `cached` must not pass for it when the config claims `always`.
#[test]
#[ignore = "needs pcscd + vpcd: tests/vcard/scripts/with-pcscd.sh ... -- --ignored --test-threads=1"]
fn a_config_claiming_always_for_a_cached_key_is_refused_with_the_remedy() {
    let mut w = World::new(424249);
    w.init("cached");
    w.add_bitget("a");
    let config = std::fs::read_to_string(&w.env.config).unwrap();
    assert!(config.contains("touch_policy = \"cached\""), "{config}");
    std::fs::write(
        &w.env.config,
        config.replace("touch_policy = \"cached\"", "touch_policy = \"always\""),
    )
    .unwrap();
    w.env.start_raw(&[]);
    let out = w.env.cli(&["unlock", "a"]);
    assert_fails_with(
        &out,
        1,
        "has touch policy cached, but the config says always",
    );
    assert!(
        stderr(&out).contains("set token.touch_policy = \"cached\""),
        "{}",
        stderr(&out)
    );
    assert!(!is_unsealed(&w.env, "a"));
}

/// With no approver program the YubiKey's touch approves each unseal, which holds only on a card
/// that waits for one: a backup token that does not (a PKCS#11 token here) would unseal for any
/// client while the YubiKey is absent. The agent refuses to start so configured, and starts with
/// an approver program.
#[test]
#[ignore = "needs pcscd + vpcd: tests/vcard/scripts/with-pcscd.sh ... -- --ignored --test-threads=1"]
fn a_backup_token_without_touch_is_refused_when_the_touch_is_the_approval() {
    let mut w = World::new(424251);
    w.init("cached");
    w.env.backup_add_softhsm_token(TOKEN_LABEL);
    let mut agent = w
        .env
        .agent_cmd()
        .arg("run")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = wait_until(
        Duration::from_secs(20),
        || agent.try_wait().unwrap(),
        || "the agent started with a backup token the touch cannot approve".into(),
    );
    assert!(!status.success());
    let mut err = String::new();
    std::io::Read::read_to_string(&mut agent.stderr.take().unwrap(), &mut err).unwrap();
    assert!(err.contains("does not wait for a touch"), "{err}");
    // With an approver program, the program approves whichever token opens the entry.
    w.env.start(&[]);
    w.add_bitget("bg");
    assert_ok(&w.env.cli(&["unlock", "bg"]), "unlock with the approver");
}
