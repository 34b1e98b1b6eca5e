//! End-to-end: yubikey 0.8 -> pcsc -> pcscd -> vpcd -> apisec-vcard.
//!
//! Opt-in (`#[ignore]`): needs a running pcscd with the vpcd driver and
//! nothing else on the vpcd port. `scripts/with-pcscd.sh` sets that up:
//!   scripts/with-pcscd.sh cargo test -j1 --test pcscd -- --ignored --test-threads=1

mod support;

use p256::elliptic_curve::sec1::ToEncodedPoint;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use support::{require_pcscd, wait_for_absence, wait_for_card, Card};
use yubikey::piv::{self, AlgorithmId, Origin, RetiredSlotId, SlotId};
use yubikey::{Error, MgmKey, PinPolicy, TouchPolicy};

/// One reader, one card: the tests must not overlap even if run threaded.
static READER: Mutex<()> = Mutex::new(());

const SLOT: SlotId = SlotId::Retired(RetiredSlotId::R1); // 0x82
const PIN: &[u8] = b"123456";

fn lock() -> std::sync::MutexGuard<'static, ()> {
    READER.lock().unwrap_or_else(|e| e.into_inner())
}

fn ecdh_expected(peer: &p256::SecretKey, card_point: &[u8]) -> Vec<u8> {
    let card = p256::PublicKey::from_sec1_bytes(card_point).unwrap();
    p256::ecdh::diffie_hellman(peer.to_nonzero_scalar(), card.as_affine())
        .raw_secret_bytes()
        .to_vec()
}

#[test]
#[ignore = "needs pcscd + vpcd: scripts/with-pcscd.sh"]
fn yubikey_crate_generate_metadata_ecdh_touch_and_pin() {
    let _guard = lock();
    require_pcscd();
    let card = Card::start(&["--serial", "424242"]);
    card.set("touch", "approve");

    let (mut yk, seen_after) = wait_for_card(Duration::from_secs(20));
    eprintln!("card usable through pcscd after {seen_after:?}");
    assert_eq!(yk.serial().0, 424242);
    assert_eq!(yk.version().to_string(), "5.4.3");
    let start = Instant::now();
    for _ in 0..10 {
        assert_eq!(yk.get_pin_retries().unwrap(), 3);
    }
    eprintln!("20 APDUs round trip in {:?}", start.elapsed());

    yk.verify_pin(PIN).unwrap();
    yk.authenticate(MgmKey::default()).unwrap();
    let spki = piv::generate(
        &mut yk,
        SLOT,
        AlgorithmId::EccP256,
        PinPolicy::Once,
        TouchPolicy::Always,
    )
    .unwrap();
    let card_point = spki.subject_public_key.raw_bytes().to_vec();
    assert_eq!(card_point.len(), 65);

    let md = piv::metadata(&mut yk, SLOT).unwrap();
    assert_eq!(md.policy, Some((PinPolicy::Once, TouchPolicy::Always)));
    assert_eq!(md.origin, Some(Origin::Generated));
    assert_eq!(
        md.public.unwrap().subject_public_key.raw_bytes(),
        card_point.as_slice()
    );

    // ECDH: approved touch, result equals p256's own ECDH.
    let peer = p256::SecretKey::random(&mut rand_core::OsRng);
    let peer_point = peer.public_key().to_encoded_point(false);
    let shared =
        piv::decrypt_data(&mut yk, peer_point.as_bytes(), AlgorithmId::EccP256, SLOT).unwrap();
    assert_eq!(
        shared.as_slice(),
        ecdh_expected(&peer, &card_point).as_slice()
    );
    assert_eq!(card.count("touches"), 1);

    // Approve with a delay: still succeeds, and takes at least that long.
    card.set("touch-delay-ms", "700");
    let start = Instant::now();
    piv::decrypt_data(&mut yk, peer_point.as_bytes(), AlgorithmId::EccP256, SLOT).unwrap();
    assert!(start.elapsed() >= Duration::from_millis(700));
    assert_eq!(card.count("touches"), 2);

    // Touch never: the caller sees AuthenticationError (6982) after the timeout.
    card.set("touch", "never");
    card.set("touch-timeout-ms", "2000");
    let start = Instant::now();
    let err =
        piv::decrypt_data(&mut yk, peer_point.as_bytes(), AlgorithmId::EccP256, SLOT).unwrap_err();
    let waited = start.elapsed();
    assert!(matches!(err, Error::AuthenticationError), "got {err:?}");
    assert!(waited >= Duration::from_millis(2000), "waited {waited:?}");
    assert_eq!(card.count("touches"), 2);
    assert_eq!(card.count("touch-requests"), 3);

    // Deny (fast): same error, without waiting for the timeout.
    card.set("touch", "deny");
    card.set("touch-delay-ms", "100");
    let err =
        piv::decrypt_data(&mut yk, peer_point.as_bytes(), AlgorithmId::EccP256, SLOT).unwrap_err();
    assert!(matches!(err, Error::AuthenticationError), "got {err:?}");

    // A wrong PIN costs exactly one try and is a different error.
    assert_eq!(yk.get_pin_retries().unwrap(), 3);
    let err = yk.verify_pin(b"000000").unwrap_err();
    assert!(matches!(err, Error::WrongPin { tries: 2 }), "got {err:?}");
    assert_eq!(yk.get_pin_retries().unwrap(), 2);
    // get_pin_retries re-selects PIV, which drops the verified PIN: a
    // PIN-policy-Once key now refuses with the same 6982 as a touch timeout.
    card.set("touch", "approve");
    card.set("touch-delay-ms", "0");
    let err =
        piv::decrypt_data(&mut yk, peer_point.as_bytes(), AlgorithmId::EccP256, SLOT).unwrap_err();
    assert!(matches!(err, Error::AuthenticationError), "got {err:?}");
    assert_eq!(
        card.count("touch-requests"),
        4,
        "no touch asked without PIN"
    );
    yk.verify_pin(PIN).unwrap();
    assert_eq!(yk.get_pin_retries().unwrap(), 3);
}

#[test]
#[ignore = "needs pcscd + vpcd: scripts/with-pcscd.sh"]
fn ecdsa_with_cached_touch_counts_one_touch() {
    let _guard = lock();
    require_pcscd();
    let card = Card::start(&[]);
    let (mut yk, _) = wait_for_card(Duration::from_secs(20));
    yk.authenticate(MgmKey::default()).unwrap();
    let spki = piv::generate(
        &mut yk,
        SlotId::Authentication,
        AlgorithmId::EccP256,
        PinPolicy::Never,
        TouchPolicy::Cached,
    )
    .unwrap();
    let vk =
        p256::ecdsa::VerifyingKey::from_sec1_bytes(spki.subject_public_key.raw_bytes()).unwrap();
    for i in 0..3u8 {
        let digest = [i; 32];
        let der = piv::sign_data(
            &mut yk,
            &digest,
            AlgorithmId::EccP256,
            SlotId::Authentication,
        )
        .unwrap();
        let sig = p256::ecdsa::Signature::from_der(&der).unwrap();
        use p256::ecdsa::signature::hazmat::PrehashVerifier;
        vk.verify_prehash(&digest, &sig).unwrap();
    }
    assert_eq!(
        card.count("touches"),
        1,
        "cached: one touch for three signatures"
    );
}

#[test]
#[ignore = "needs pcscd + vpcd: scripts/with-pcscd.sh"]
fn removal_reinsertion_and_restart_keep_keys_and_counters() {
    let _guard = lock();
    require_pcscd();
    let card = Card::start(&[]);
    let (mut yk, _) = wait_for_card(Duration::from_secs(20));
    yk.authenticate(MgmKey::default()).unwrap();
    let spki = piv::generate(
        &mut yk,
        SLOT,
        AlgorithmId::EccP256,
        PinPolicy::Once,
        TouchPolicy::Never,
    )
    .unwrap();
    let _ = yk.verify_pin(b"999999");
    assert_eq!(yk.get_pin_retries().unwrap(), 2);

    // Remove the card while a handle is open: the handle goes stale.
    card.set("present", "0");
    let gone = wait_for_absence(Duration::from_secs(10));
    eprintln!("removal noticed by pcscd after {gone:?}");
    let stale = yk.verify_pin(PIN);
    eprintln!("stale handle after removal: {stale:?}");
    assert!(stale.is_err());
    drop(yk);

    card.set("present", "1");
    let (mut yk, back) = wait_for_card(Duration::from_secs(10));
    eprintln!("reinsertion noticed after {back:?}");
    assert_eq!(
        yk.get_pin_retries().unwrap(),
        2,
        "counter survives reinsertion"
    );
    let md = piv::metadata(&mut yk, SLOT).unwrap();
    assert_eq!(
        md.public.unwrap().subject_public_key.raw_bytes(),
        spki.subject_public_key.raw_bytes()
    );
    drop(yk);

    // Restart the emulator process on the same state file.
    let dir = card.stop();
    wait_for_absence(Duration::from_secs(10));
    let card = Card::start_in(dir, &[]);
    let (mut yk, _) = wait_for_card(Duration::from_secs(20));
    assert_eq!(
        yk.get_pin_retries().unwrap(),
        2,
        "counter survives a restart"
    );
    let md = piv::metadata(&mut yk, SLOT).unwrap();
    assert_eq!(
        md.public.unwrap().subject_public_key.raw_bytes(),
        spki.subject_public_key.raw_bytes()
    );
    yk.verify_pin(PIN).unwrap();
    drop(card);
}
