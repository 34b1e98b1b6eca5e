use super::objects::*;
use super::*;

#[test]
fn rv_names_match_the_spec_spelling() {
    assert_eq!(rv_name(&RvError::PinIncorrect), "CKR_PIN_INCORRECT");
    assert_eq!(rv_name(&RvError::DeviceRemoved), "CKR_DEVICE_REMOVED");
}

#[test]
fn a_lost_session_is_recognised_once_reported() {
    let lost = ck(CkError::Pkcs11(
        RvError::DeviceRemoved,
        cryptoki::context::Function::FindObjectsInit,
    ));
    assert!(session_lost_reported(&lost));
    let other = ck(CkError::Pkcs11(
        RvError::PinIncorrect,
        cryptoki::context::Function::Login,
    ));
    assert!(!session_lost_reported(&other));
    assert!(!session_lost_reported(&TokenError::KeyNotFound {
        label: "k".into()
    }));
}

#[test]
fn p256_is_recognised_by_oid_or_explicit_parameters() {
    assert!(is_p256(P256_OID_DER));
    let explicit = hex::decode(P256_EXPLICIT_DER_HEX).unwrap();
    assert_eq!(explicit.len(), 250);
    assert!(is_p256(&explicit));
    let mut other = explicit.clone();
    other[20] ^= 1;
    assert!(!is_p256(&other));
    assert!(!is_p256(ED25519_OID_DER));
}

#[test]
fn ec_point_forms() {
    let mut raw = vec![0x04];
    raw.extend_from_slice(&[1; 64]);
    let mut der = vec![0x04, 0x41];
    der.extend_from_slice(&raw);
    assert_eq!(unwrap_ec_point(&der).unwrap(), raw);
    assert_eq!(unwrap_ec_point(&raw).unwrap(), raw);
    assert!(unwrap_ec_point(&[0x04, 0x21, 0x02]).is_err());
}
