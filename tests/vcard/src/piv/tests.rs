//! APDU-level tests of the applet, framed the way the yubikey 0.8 crate
//! frames its commands.

use super::testkit::Harness;
use crate::state::DEFAULT_MGM_KEY;
use p256::ecdsa::signature::hazmat::PrehashVerifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use std::time::Duration;

const SLOT: u8 = 0x82;

fn ready() -> Harness {
    let mut h = Harness::new();
    h.select();
    h
}

#[test]
fn select_answers_with_the_piv_template() {
    let mut h = Harness::new();
    let (data, sw) = h.cmd(0xa4, 0x04, 0, super::PIV_AID);
    assert_eq!(sw, 0x9000);
    assert_eq!(data[0], 0x61);
    assert!(data.ends_with(super::PIV_AID));
}

#[test]
fn nothing_is_answered_before_select() {
    let mut h = Harness::new();
    assert_eq!(h.cmd(0xfd, 0, 0, &[]).1, 0x6d00);
}

#[test]
fn unknown_applet_is_not_found() {
    let mut h = Harness::new();
    assert_eq!(h.cmd(0xa4, 0x04, 0, &[0xa0, 0, 0, 6, 0x47]).1, 0x6a82);
}

#[test]
fn version_is_5_4_3_so_3des_is_the_default_management_key() {
    let mut h = ready();
    assert_eq!(h.cmd(0xfd, 0, 0, &[]), (vec![5, 4, 3], 0x9000));
}

#[test]
fn serial_is_four_bytes_big_endian() {
    let mut h = ready();
    assert_eq!(
        h.cmd(0xf8, 0, 0, &[]),
        (vec![0x00, 0xc0, 0xff, 0xee], 0x9000)
    );
}

#[test]
fn wrong_pins_count_down_then_block() {
    let mut h = ready();
    // Empty VERIFY only reports the counter.
    assert_eq!(h.cmd(0x20, 0, 0x80, &[]).1, 0x63c3);
    assert_eq!(h.cmd(0x20, 0, 0x80, &[]).1, 0x63c3);
    assert_eq!(h.verify(b"000000"), 0x63c2);
    assert_eq!(h.cmd(0x20, 0, 0x80, &[]).1, 0x63c2);
    // A correct PIN refills the counter.
    assert_eq!(h.verify(b"123456"), 0x9000);
    assert_eq!(h.cmd(0x20, 0, 0x80, &[]).1, 0x9000);
    assert_eq!(h.card.state().pin.tries_left, 3);
    assert_eq!(h.verify(b"000000"), 0x63c2);
    assert_eq!(h.verify(b"000000"), 0x63c1);
    assert_eq!(h.verify(b"000000"), 0x63c0);
    // Blocked: even the right PIN is refused, and the query says so.
    assert_eq!(h.verify(b"123456"), 0x6983);
    assert_eq!(h.cmd(0x20, 0, 0x80, &[]).1, 0x6983);
    assert_eq!(h.card.state().pin.tries_left, 0);
}

#[test]
fn puk_unblocks_and_sets_a_new_pin() {
    let mut h = ready();
    for _ in 0..3 {
        h.verify(b"999999");
    }
    let mut data = b"12345678".to_vec();
    data.extend_from_slice(b"654321\xff\xff");
    assert_eq!(h.cmd(0x2c, 0, 0x80, &data).1, 0x9000);
    assert_eq!(h.verify(b"123456"), 0x63c2);
    assert_eq!(h.verify(b"654321"), 0x9000);
}

#[test]
fn change_pin_needs_the_old_pin() {
    let mut h = ready();
    let mut data = b"111111\xff\xff".to_vec();
    data.extend_from_slice(b"222222\xff\xff");
    assert_eq!(h.cmd(0x24, 0, 0x80, &data).1, 0x63c2);
    let mut data = b"123456\xff\xff".to_vec();
    data.extend_from_slice(b"222222\xff\xff");
    assert_eq!(h.cmd(0x24, 0, 0x80, &data).1, 0x9000);
    assert_eq!(h.verify(b"222222"), 0x9000);
}

#[test]
fn reselect_drops_pin_verification() {
    let mut h = ready();
    assert_eq!(h.verify(b"123456"), 0x9000);
    h.select();
    assert_eq!(h.cmd(0x20, 0, 0x80, &[]).1, 0x63c3);
}

#[test]
fn management_key_mutual_auth_accepts_the_default_key_only() {
    let mut h = ready();
    let mut wrong = DEFAULT_MGM_KEY;
    wrong[0] ^= 0x02;
    assert_eq!(h.mgm_auth_with(&wrong), 0x6982);
    assert_eq!(h.generate(SLOT, 2, 1), Err(0x6982));
    assert_eq!(h.mgm_auth_with(&DEFAULT_MGM_KEY), 0x9000);
    assert!(h.generate(SLOT, 2, 1).is_ok());
}

#[test]
fn management_key_external_auth_flow() {
    let mut h = ready();
    let (resp, sw) = h.cmd(0x87, 0x03, 0x9b, &[0x7c, 0x02, 0x81, 0x00]);
    assert_eq!(sw, 0x9000);
    let challenge: [u8; 8] = resp[4..12].try_into().unwrap();
    let enc = super::crypto::tdes_encrypt(&DEFAULT_MGM_KEY, &challenge).unwrap();
    let mut data = vec![0x7c, 0x0a, 0x82, 0x08];
    data.extend_from_slice(&enc);
    assert_eq!(h.cmd(0x87, 0x03, 0x9b, &data).1, 0x9000);
    assert!(h.generate(SLOT, 1, 1).is_ok());
}

#[test]
fn generate_without_management_key_is_refused() {
    let mut h = ready();
    assert_eq!(h.verify(b"123456"), 0x9000);
    assert_eq!(h.generate(SLOT, 2, 2), Err(0x6982));
}

#[test]
fn generate_rejects_other_algorithms_and_bad_slots() {
    let mut h = ready();
    h.mgm_auth();
    let rsa = [0xac, 0x03, 0x80, 0x01, 0x07];
    assert_eq!(h.cmd(0x47, 0, SLOT, &rsa).1, 0x6a80);
    assert_eq!(h.generate(0x9b, 2, 2), Err(0x6b00));
    assert_eq!(h.generate(SLOT, 9, 2), Err(0x6a80));
}

#[test]
fn generate_records_policies_in_metadata() {
    let mut h = ready();
    h.mgm_auth();
    let point = h.generate(SLOT, 2, 2).unwrap();
    let (md, sw) = h.cmd(0xf7, 0, SLOT, &[]);
    assert_eq!(sw, 0x9000);
    let tlvs = crate::tlv::parse_all(&md).unwrap();
    assert_eq!(crate::tlv::find(&tlvs, 0x01), Some(&[0x11][..]));
    assert_eq!(crate::tlv::find(&tlvs, 0x02), Some(&[0x02, 0x02][..]));
    assert_eq!(crate::tlv::find(&tlvs, 0x03), Some(&[0x01][..]));
    let public = crate::tlv::find(&tlvs, 0x04).unwrap();
    assert_eq!(&public[..2], &[0x86, 0x41]);
    assert_eq!(&public[2..], point.as_slice());
}

#[test]
fn default_policies_follow_the_slot() {
    let mut h = ready();
    h.mgm_auth();
    h.generate(0x9c, 0, 0).unwrap();
    h.generate(0x9a, 0, 0).unwrap();
    let md = |h: &mut Harness, slot| {
        let (md, _) = h.cmd(0xf7, 0, slot, &[]);
        let tlvs = crate::tlv::parse_all(&md).unwrap();
        crate::tlv::find(&tlvs, 0x02).unwrap().to_vec()
    };
    assert_eq!(md(&mut h, 0x9c), vec![3, 1], "signature slot: PIN always");
    assert_eq!(md(&mut h, 0x9a), vec![2, 1], "other slots: PIN once");
}

#[test]
fn metadata_of_an_empty_slot_is_not_found() {
    let mut h = ready();
    assert_eq!(h.cmd(0xf7, 0, 0x83, &[]).1, 0x6a82);
}

#[test]
fn pin_metadata_reports_retries_and_default() {
    let mut h = ready();
    h.verify(b"000000");
    let (md, sw) = h.cmd(0xf7, 0, 0x80, &[]);
    assert_eq!(sw, 0x9000);
    let tlvs = crate::tlv::parse_all(&md).unwrap();
    assert_eq!(crate::tlv::find(&tlvs, 0x01), Some(&[0xff][..]));
    assert_eq!(crate::tlv::find(&tlvs, 0x05), Some(&[0x01][..]));
    assert_eq!(crate::tlv::find(&tlvs, 0x06), Some(&[3, 2][..]));
}

#[test]
fn ecdh_matches_p256_with_the_generated_public_key() {
    let mut h = ready();
    h.mgm_auth();
    let card_point = h.generate(SLOT, 2, 1).unwrap();
    assert_eq!(h.verify(b"123456"), 0x9000);

    let peer = p256::SecretKey::random(&mut rand_core::OsRng);
    let peer_point = peer.public_key().to_encoded_point(false);
    let from_card = h.ecdh(SLOT, peer_point.as_bytes()).unwrap();

    let card_pub = p256::PublicKey::from_sec1_bytes(&card_point).unwrap();
    let expected = p256::ecdh::diffie_hellman(peer.to_nonzero_scalar(), card_pub.as_affine());
    assert_eq!(from_card.as_slice(), expected.raw_secret_bytes().as_slice());
}

#[test]
fn ecdsa_signature_verifies_with_the_generated_public_key() {
    let mut h = ready();
    h.mgm_auth();
    let point = h.generate(0x9a, 1, 1).unwrap();
    let digest = [0x42u8; 32];
    let der = h.sign(0x9a, &digest).unwrap();
    let vk = VerifyingKey::from_sec1_bytes(&point).unwrap();
    vk.verify_prehash(&digest, &Signature::from_der(&der).unwrap())
        .unwrap();
}

#[test]
fn pin_policy_once_needs_a_verified_pin() {
    let mut h = ready();
    h.mgm_auth();
    let point = h.generate(SLOT, 2, 1).unwrap();
    assert_eq!(h.ecdh(SLOT, &point), Err(0x6982));
    assert_eq!(h.verify(b"123456"), 0x9000);
    assert!(h.ecdh(SLOT, &point).is_ok());
    assert!(h.ecdh(SLOT, &point).is_ok(), "once means once per session");
    h.card.reset_session();
    h.transport.reset();
    h.select();
    assert_eq!(h.ecdh(SLOT, &point), Err(0x6982), "a reset forgets the PIN");
}

#[test]
fn pin_policy_always_needs_a_pin_per_operation() {
    let mut h = ready();
    h.mgm_auth();
    let point = h.generate(SLOT, 3, 1).unwrap();
    assert_eq!(h.verify(b"123456"), 0x9000);
    assert!(h.ecdh(SLOT, &point).is_ok());
    assert_eq!(h.ecdh(SLOT, &point), Err(0x6982));
    assert_eq!(h.verify(b"123456"), 0x9000);
    assert!(h.ecdh(SLOT, &point).is_ok());
}

#[test]
fn pin_policy_never_needs_nothing() {
    let mut h = ready();
    h.mgm_auth();
    let point = h.generate(SLOT, 1, 1).unwrap();
    h.select();
    assert!(h.ecdh(SLOT, &point).is_ok());
}

#[test]
fn touch_always_asks_every_time_and_denial_is_6982() {
    let mut h = ready();
    h.mgm_auth();
    let point = h.generate(SLOT, 1, 2).unwrap();
    assert!(h.ecdh(SLOT, &point).is_ok());
    assert!(h.ecdh(SLOT, &point).is_ok());
    assert_eq!(h.touches_asked(), 2);
    h.set_touch(false);
    assert_eq!(h.ecdh(SLOT, &point), Err(0x6982));
    assert_eq!(h.touches_asked(), 3);
}

#[test]
fn touch_never_policy_does_not_ask() {
    let mut h = ready();
    h.mgm_auth();
    let point = h.generate(SLOT, 1, 1).unwrap();
    h.set_touch(false);
    assert!(h.ecdh(SLOT, &point).is_ok());
    assert_eq!(h.touches_asked(), 0);
}

#[test]
fn touch_cached_reuses_a_touch_for_fifteen_seconds() {
    let mut h = ready();
    h.mgm_auth();
    let point = h.generate(SLOT, 1, 3).unwrap();
    assert!(h.ecdh(SLOT, &point).is_ok());
    assert_eq!(h.touches_asked(), 1);
    h.clock.advance(Duration::from_secs(14));
    assert!(h.ecdh(SLOT, &point).is_ok());
    assert_eq!(h.touches_asked(), 1, "inside the window: no touch");
    h.clock.advance(Duration::from_secs(2));
    h.set_touch(false);
    assert_eq!(h.ecdh(SLOT, &point), Err(0x6982));
    assert_eq!(h.touches_asked(), 2, "window expired: asked again");
}

#[test]
fn a_denied_touch_does_not_open_the_cached_window() {
    let mut h = ready();
    h.mgm_auth();
    let point = h.generate(SLOT, 1, 3).unwrap();
    h.set_touch(false);
    assert_eq!(h.ecdh(SLOT, &point), Err(0x6982));
    h.set_touch(true);
    assert!(h.ecdh(SLOT, &point).is_ok());
    assert_eq!(h.touches_asked(), 2);
}

#[test]
fn pin_is_checked_before_touch_is_requested() {
    let mut h = ready();
    h.mgm_auth();
    let point = h.generate(SLOT, 2, 2).unwrap();
    assert_eq!(h.ecdh(SLOT, &point), Err(0x6982));
    assert_eq!(h.touches_asked(), 0);
}

#[test]
fn ecdh_with_an_empty_slot_or_bad_point_fails() {
    let mut h = ready();
    h.mgm_auth();
    let point = h.generate(SLOT, 1, 1).unwrap();
    assert_eq!(h.ecdh(0x83, &point), Err(0x6a80));
    let mut bad = point.clone();
    bad[64] ^= 1;
    assert_eq!(h.ecdh(SLOT, &bad), Err(0x6a80));
}

#[test]
fn objects_round_trip_through_put_and_get_data_with_chaining() {
    let mut h = ready();
    let get = [0x5c, 0x03, 0x5f, 0xc1, 0x0d];
    assert_eq!(h.cmd(0xcb, 0x3f, 0xff, &get).1, 0x6a82);
    let cert = vec![0x30u8; 700];
    let mut put = get.to_vec();
    put.extend(crate::tlv::encode(&[0x53], &cert));
    assert_eq!(h.cmd(0xdb, 0x3f, 0xff, &put).1, 0x6982, "needs mgm key");
    h.mgm_auth();
    assert_eq!(h.cmd(0xdb, 0x3f, 0xff, &put).1, 0x9000);
    let (data, sw) = h.cmd(0xcb, 0x3f, 0xff, &get);
    assert_eq!(sw, 0x9000);
    assert_eq!(data, crate::tlv::encode(&[0x53], &cert));
}

#[test]
fn persistent_changes_mark_the_state_dirty() {
    let mut h = ready();
    assert!(!h.card.take_dirty());
    h.verify(b"000000");
    assert!(h.card.take_dirty());
    assert!(!h.card.take_dirty());
    h.mgm_auth();
    h.generate(SLOT, 2, 2).unwrap();
    assert!(h.card.take_dirty());
}

#[test]
fn factory_reset_only_when_pin_and_puk_are_blocked() {
    let mut h = ready();
    h.mgm_auth();
    h.generate(SLOT, 2, 2).unwrap();
    assert_eq!(h.cmd(0xfb, 0, 0, &[]).1, 0x6985);
    for _ in 0..3 {
        h.verify(b"999999");
    }
    let mut wrong = b"00000000".to_vec();
    wrong.extend_from_slice(b"00000000");
    for _ in 0..3 {
        h.cmd(0x24, 0, 0x81, &wrong);
    }
    assert_eq!(h.cmd(0xfb, 0, 0, &[]).1, 0x9000);
    assert_eq!(h.cmd(0xf7, 0, SLOT, &[]).1, 0x6a82);
    assert_eq!(h.verify(b"123456"), 0x9000);
}
