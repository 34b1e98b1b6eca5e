//! A wrapping key on a PKCS#11 token: SoftHSM, YubiKey through ykcs11, network HSMs.
//!
//! Unsealing is one `C_DeriveKey` with `CKM_ECDH1_DERIVE`, `CKD_NULL` and the peer's raw 65-byte
//! point (accepted by SoftHSM 2.6 and ykcs11); the derived value is read from a session object that
//! is destroyed at once.

use std::path::{Path, PathBuf};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::elliptic_curve::{EcKdf, Ecdh1DeriveParams};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::{KeyHolder, TokenError};
use crate::pin::PinSource;
use crate::sign::KeyAlgorithm;

/// DER of the P-256 curve OID 1.2.840.10045.3.1.7, the value of `CKA_EC_PARAMS`.
const P256_OID_DER: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// P-256 as explicit ECParameters (RFC 3279: prime field, a, b, seed, generator, order,
/// cofactor), which is how ykcs11 2.2 reports `CKA_EC_PARAMS` instead of the named-curve OID.
const P256_EXPLICIT_DER_HEX: &str =
    "3081f7020101302c06072a8648ce3d0101022100ffffffff000000010000000000\
    00000000000000ffffffffffffffffffffffff305b0420ffffffff00000001000000000000000000000000ffffffff\
    fffffffffffffffc04205ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b031500c49d\
    360886e704936a6678e1139d26b7819f7e900441046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4\
    a13945d898c2964fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5022100ffffffff00\
    000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551020101";

/// Whether `CKA_EC_PARAMS` names P-256, by OID or spelled out.
fn is_p256(params: &[u8]) -> bool {
    params == P256_OID_DER || hex::encode(params) == P256_EXPLICIT_DER_HEX
}

/// DER of the Ed25519 OID 1.3.101.112 (RFC 8410), `CKA_EC_PARAMS` of an Edwards key.
const ED25519_OID_DER: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];

/// Which token and which key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pkcs11Spec {
    pub module: PathBuf,
    pub token_label: Option<String>,
    pub slot_id: Option<u64>,
    pub key_label: String,
}

impl Pkcs11Spec {
    fn wanted(&self) -> String {
        match (&self.token_label, self.slot_id) {
            (Some(l), _) => format!("labelled {l:?}"),
            (None, Some(id)) => format!("in slot {id}"),
            (None, None) => "at all".into(),
        }
    }
}

/// `RvError::PinIncorrect` -> `CKR_PIN_INCORRECT`, the name users find in the PKCS#11 spec.
fn rv_name(rv: &RvError) -> String {
    let camel = format!("{rv:?}");
    let mut out = String::from("CKR");
    for c in camel.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

fn ck(e: CkError) -> TokenError {
    match e {
        CkError::Pkcs11(rv, function) => TokenError::Pkcs11 {
            function: format!("C_{function:?}"),
            rv: rv_name(&rv),
        },
        other => TokenError::Pkcs11 {
            function: "the PKCS#11 library".into(),
            rv: other.to_string(),
        },
    }
}

/// Return values after which the session is useless and a new one should be opened.
const SESSION_LOST: [RvError; 8] = [
    RvError::SessionHandleInvalid,
    RvError::SessionClosed,
    RvError::DeviceRemoved,
    RvError::TokenNotPresent,
    RvError::UserNotLoggedIn,
    RvError::DeviceError,
    RvError::KeyHandleInvalid,
    RvError::ObjectHandleInvalid,
];

/// True for errors after which the session is useless and a new one should be opened.
fn session_lost(e: &CkError) -> bool {
    matches!(e, CkError::Pkcs11(rv, _) if SESSION_LOST.contains(rv))
}

/// [`session_lost`] for an error already reported as a [`TokenError`] (the key lookup's).
fn session_lost_reported(e: &TokenError) -> bool {
    matches!(e, TokenError::Pkcs11 { rv, .. } if SESSION_LOST.iter().any(|lost| rv_name(lost) == *rv))
}

/// Loads and initializes a PKCS#11 module. `C_Initialize` may be called once per process, so the
/// agent keeps the one context for its whole life.
pub fn load_module(module: &Path) -> Result<Pkcs11, TokenError> {
    if !module.exists() {
        return Err(TokenError::ModuleLoad {
            module: module.to_owned(),
            reason: "no such file".into(),
        });
    }
    let ctx = Pkcs11::new(module).map_err(|e| TokenError::ModuleLoad {
        module: module.to_owned(),
        reason: e.to_string(),
    })?;
    ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .map_err(|e| TokenError::ModuleLoad {
            module: module.to_owned(),
            reason: format!("C_Initialize failed: {}", ck(e)),
        })?;
    Ok(ctx)
}

/// Finds the slot holding the wanted token.
pub fn find_slot(ctx: &Pkcs11, spec: &Pkcs11Spec) -> Result<Slot, TokenError> {
    let slots = ctx.get_slots_with_token().map_err(ck)?;
    for slot in slots {
        if let Some(id) = spec.slot_id {
            if slot.id() == id {
                return Ok(slot);
            }
            continue;
        }
        match &spec.token_label {
            Some(label) => {
                let info = ctx.get_token_info(slot).map_err(ck)?;
                if info.label().trim_end() == label {
                    return Ok(slot);
                }
            }
            None => return Ok(slot),
        }
    }
    Err(TokenError::NoToken {
        wanted: spec.wanted(),
        module: spec.module.clone(),
    })
}

/// Logs in, telling a wrong PIN from a locked one and reporting what the token says of retries.
pub fn login(ctx: &Pkcs11, slot: Slot, session: &Session, pin: &AuthPin) -> Result<(), TokenError> {
    match session.login(UserType::User, Some(pin)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(()),
        Err(CkError::Pkcs11(RvError::PinIncorrect, _)) => {
            let retries = match ctx.get_token_info(slot) {
                Ok(i) if i.user_pin_locked() => "; the PIN is now locked".to_owned(),
                Ok(i) if i.user_pin_final_try() => {
                    "; one try is left before the PIN locks".to_owned()
                }
                Ok(i) if i.user_pin_count_low() => "; few tries are left".to_owned(),
                _ => String::new(),
            };
            Err(TokenError::PinIncorrect { retries })
        }
        Err(CkError::Pkcs11(RvError::PinLocked, _)) => Err(TokenError::PinLocked),
        Err(e) => Err(ck(e)),
    }
}

/// The labels a key called `label` may carry: its own, and ykcs11's names for the objects of a
/// PIV slot ("Private key for Retired Key 1" / "Public key for Retired Key 1" for slot 82), so
/// `--key-label "Retired Key 1"` finds a YubiKey's key through ykcs11.
fn labels(class: ObjectClass, label: &str) -> [Vec<u8>; 2] {
    let kind = if class == ObjectClass::PRIVATE_KEY {
        "Private"
    } else {
        "Public"
    };
    [
        label.as_bytes().to_vec(),
        format!("{kind} key for {label}").into_bytes(),
    ]
}

/// The first EC key of `class` carrying one of the labels of `label`.
fn find_ec(
    session: &Session,
    class: ObjectClass,
    label: &str,
) -> Result<Option<ObjectHandle>, TokenError> {
    for l in labels(class, label) {
        let found = session
            .find_objects(&[
                Attribute::Class(class),
                Attribute::KeyType(KeyType::EC),
                Attribute::Label(l),
            ])
            .map_err(ck)?;
        if let Some(&h) = found.first() {
            return Ok(Some(h));
        }
    }
    Ok(None)
}

/// The public key that pairs with `private`: the one with the same `CKA_ID` (how PKCS#11
/// pairs keys), else the one labelled alike.
fn find_public_of(
    session: &Session,
    private: ObjectHandle,
    label: &str,
) -> Result<Option<ObjectHandle>, TokenError> {
    let id = session
        .get_attributes(private, &[AttributeType::Id])
        .map_err(ck)?
        .into_iter()
        .find_map(|a| match a {
            Attribute::Id(id) if !id.is_empty() => Some(id),
            _ => None,
        });
    if let Some(id) = id {
        let found = session
            .find_objects(&[
                Attribute::Class(ObjectClass::PUBLIC_KEY),
                Attribute::KeyType(KeyType::EC),
                Attribute::Id(id),
            ])
            .map_err(ck)?;
        if let Some(&h) = found.first() {
            return Ok(Some(h));
        }
    }
    find_ec(session, ObjectClass::PUBLIC_KEY, label)
}

/// The EC private key with `label`, and its public point (uncompressed, 65 bytes).
pub fn find_key(session: &Session, label: &str) -> Result<(ObjectHandle, Vec<u8>), TokenError> {
    let Some(key) = find_ec(session, ObjectClass::PRIVATE_KEY, label)? else {
        return Err(TokenError::KeyNotFound {
            label: label.to_owned(),
        });
    };
    let Some(public) = find_public_of(session, key, label)? else {
        return Err(TokenError::BadKey(format!(
            "no public key object labelled {label:?} beside the private key"
        )));
    };
    let attrs = session
        .get_attributes(public, &[AttributeType::EcParams, AttributeType::EcPoint])
        .map_err(ck)?;
    let mut point = None;
    for a in attrs {
        match a {
            Attribute::EcParams(p) if !is_p256(&p) => {
                return Err(TokenError::BadKey(format!(
                    "the curve is not P-256 (CKA_EC_PARAMS {})",
                    hex::encode(p)
                )))
            }
            Attribute::EcPoint(p) => point = Some(p),
            _ => {}
        }
    }
    let point = point.ok_or_else(|| TokenError::BadKey("the public key has no EC point".into()))?;
    Ok((key, unwrap_ec_point(&point)?))
}

/// `CKA_EC_POINT` is a DER OCTET STRING around the SEC1 point (some modules give it raw).
fn unwrap_ec_point(v: &[u8]) -> Result<Vec<u8>, TokenError> {
    match v {
        [0x04, 0x41, rest @ ..] if rest.len() == 65 && rest[0] == 0x04 => Ok(rest.to_vec()),
        [0x04, ..] if v.len() == 65 => Ok(v.to_vec()),
        _ => Err(TokenError::BadKey(format!(
            "unexpected EC point encoding ({} bytes)",
            v.len()
        ))),
    }
}

/// Generates a P-256 key pair on the token: private key sensitive, not extractable, usable only
/// for derivation. Returns the public point (uncompressed).
pub fn generate_key(session: &Session, label: &str) -> Result<Vec<u8>, TokenError> {
    let id: Vec<u8> = Sha256::digest(label.as_bytes())[..8].to_vec();
    let public_template = [
        Attribute::Token(true),
        Attribute::Private(false),
        Attribute::EcParams(P256_OID_DER.to_vec()),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Id(id.clone()),
    ];
    let private_template = [
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Derive(true),
        Attribute::Sign(false),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Id(id),
    ];
    session
        .generate_key_pair(
            &Mechanism::EccKeyPairGen,
            &public_template,
            &private_template,
        )
        .map_err(ck)?;
    Ok(find_key(session, label)?.1)
}

fn key_type_of(algorithm: KeyAlgorithm) -> (KeyType, &'static [u8]) {
    match algorithm {
        KeyAlgorithm::Ed25519 => (KeyType::EC_EDWARDS, ED25519_OID_DER),
        KeyAlgorithm::P256 => (KeyType::EC, P256_OID_DER),
    }
}

/// Generates an API signing key on the token: sensitive, never extractable, for signing only.
/// Returns the raw public key (32 bytes for Ed25519, the 65-byte point for P-256).
pub fn generate_signing_key(
    session: &Session,
    label: &str,
    algorithm: KeyAlgorithm,
) -> Result<Vec<u8>, TokenError> {
    if find_signing_key(session, label, algorithm).is_ok() {
        return Err(TokenError::BadKey(format!(
            "a key labelled {label:?} already exists on the token"
        )));
    }
    let (key_type, params) = key_type_of(algorithm);
    let id: Vec<u8> = Sha256::digest(label.as_bytes())[..8].to_vec();
    let public_template = [
        Attribute::Token(true),
        Attribute::Private(false),
        Attribute::KeyType(key_type),
        Attribute::EcParams(params.to_vec()),
        Attribute::Verify(true),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Id(id.clone()),
    ];
    let private_template = [
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Sign(true),
        Attribute::Derive(false),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Id(id),
    ];
    let mechanism = match algorithm {
        KeyAlgorithm::Ed25519 => Mechanism::EccEdwardsKeyPairGen,
        KeyAlgorithm::P256 => Mechanism::EccKeyPairGen,
    };
    let (public, _) = session
        .generate_key_pair(&mechanism, &public_template, &private_template)
        .map_err(ck)?;
    signing_public_key(session, public, algorithm)
}

fn signing_public_key(
    session: &Session,
    public: ObjectHandle,
    algorithm: KeyAlgorithm,
) -> Result<Vec<u8>, TokenError> {
    let attrs = session
        .get_attributes(public, &[AttributeType::EcPoint])
        .map_err(ck)?;
    let point = attrs
        .into_iter()
        .find_map(|a| match a {
            Attribute::EcPoint(p) => Some(p),
            _ => None,
        })
        .ok_or_else(|| TokenError::BadKey("the public key has no EC point".into()))?;
    match algorithm {
        KeyAlgorithm::P256 => unwrap_ec_point(&point),
        // An OCTET STRING around the 32 bytes (some modules give them raw).
        KeyAlgorithm::Ed25519 => match point.as_slice() {
            [0x04, 0x20, rest @ ..] if rest.len() == 32 => Ok(rest.to_vec()),
            raw if raw.len() == 32 => Ok(raw.to_vec()),
            _ => Err(TokenError::BadKey(format!(
                "unexpected Ed25519 point encoding ({} bytes)",
                point.len()
            ))),
        },
    }
}

/// The private key (and public key) of a signing key on the token.
pub fn find_signing_key(
    session: &Session,
    label: &str,
    algorithm: KeyAlgorithm,
) -> Result<(ObjectHandle, Vec<u8>), TokenError> {
    let (key_type, _) = key_type_of(algorithm);
    let find = |class| {
        session
            .find_objects(&[
                Attribute::Class(class),
                Attribute::KeyType(key_type),
                Attribute::Label(label.as_bytes().to_vec()),
            ])
            .map_err(ck)
    };
    let private =
        *find(ObjectClass::PRIVATE_KEY)?
            .first()
            .ok_or_else(|| TokenError::KeyNotFound {
                label: label.to_owned(),
            })?;
    let public = *find(ObjectClass::PUBLIC_KEY)?.first().ok_or_else(|| {
        TokenError::BadKey(format!(
            "no public key labelled {label:?} beside the private key"
        ))
    })?;
    Ok((private, signing_public_key(session, public, algorithm)?))
}

/// Signs on the token: `CKM_EDDSA` (pure Ed25519) or `CKM_ECDSA` over our SHA-256 of the message.
fn sign_on_token(
    session: &Session,
    key: ObjectHandle,
    algorithm: KeyAlgorithm,
    message: &[u8],
) -> Result<Vec<u8>, CkError> {
    match algorithm {
        KeyAlgorithm::Ed25519 => {
            let params = cryptoki::mechanism::eddsa::EddsaParams::new(
                cryptoki::mechanism::eddsa::EddsaSignatureScheme::Pure,
            );
            session.sign(&Mechanism::Eddsa(params), key, message)
        }
        KeyAlgorithm::P256 => {
            let digest = Sha256::digest(message);
            session.sign(&Mechanism::Ecdsa, key, &digest)
        }
    }
}

/// ECDH on the token; the shared x-coordinate comes back in a zeroizing buffer.
fn derive(
    session: &Session,
    key: ObjectHandle,
    peer: &[u8; 65],
) -> Result<Zeroizing<[u8; 32]>, CkError> {
    let params = Ecdh1DeriveParams::new(EcKdf::null(), peer);
    let template = [
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::GENERIC_SECRET),
        Attribute::Token(false),
        Attribute::Sensitive(false),
        Attribute::Extractable(true),
        Attribute::ValueLen(32u64.into()),
    ];
    let derived = session.derive_key(&Mechanism::Ecdh1Derive(params), key, &template)?;
    let value = session.get_attributes(derived, &[AttributeType::Value]);
    let _ = session.destroy_object(derived);
    let mut out = Zeroizing::new([0u8; 32]);
    for a in value? {
        if let Attribute::Value(mut v) = a {
            if v.len() == 32 {
                out.copy_from_slice(&v);
                zeroize::Zeroize::zeroize(&mut v);
                return Ok(out);
            }
            zeroize::Zeroize::zeroize(&mut v);
        }
    }
    Err(CkError::Pkcs11(
        RvError::KeySizeRange,
        cryptoki::context::Function::DeriveKey,
    ))
}

/// The agent's PKCS#11 key holder: connects lazily (the agent starts without the token), logs in
/// once, keeps one session open (a token logs out when its last session closes).
pub struct Pkcs11Holder {
    spec: Pkcs11Spec,
    pin: PinSource,
    ctx: Option<Pkcs11>,
    session: Option<(Session, ObjectHandle)>,
    /// SHA-256 of the last PIN the token refused, so it is never presented again by itself.
    refused_pin: Option<[u8; 32]>,
}

impl Pkcs11Holder {
    pub fn new(spec: Pkcs11Spec, pin: PinSource) -> Self {
        Self {
            spec,
            pin,
            ctx: None,
            session: None,
            refused_pin: None,
        }
    }

    fn connect(&mut self) -> Result<(), TokenError> {
        if self.session.is_some() {
            return Ok(());
        }
        if self.ctx.is_none() {
            self.ctx = Some(load_module(&self.spec.module)?);
        }
        let ctx = self.ctx.as_ref().expect("set above");
        let slot = find_slot(ctx, &self.spec)?;
        let session = ctx.open_rw_session(slot).map_err(ck)?;
        let pin = self.pin.read(&format!(
            "PIN of the PKCS#11 token {} to unseal apisec secrets",
            self.spec.wanted()
        ))?;
        let digest: [u8; 32] = Sha256::digest(pin.expose_secret_bytes()).into();
        if self.refused_pin == Some(digest) {
            return Err(TokenError::PinRefusedBefore {
                source_name: self.pin.describe(),
            });
        }
        match login(ctx, slot, &session, &pin.to_auth_pin()) {
            Ok(()) => self.refused_pin = None,
            Err(e @ TokenError::PinIncorrect { .. }) => {
                self.refused_pin = Some(digest);
                return Err(e);
            }
            Err(e) => return Err(e),
        }
        let (key, _) = find_key(&session, &self.spec.key_label)?;
        self.session = Some((session, key));
        Ok(())
    }
}

impl KeyHolder for Pkcs11Holder {
    fn ecdh(&mut self, peer: &[u8; 65]) -> Result<Zeroizing<[u8; 32]>, TokenError> {
        // One retry, on a fresh session, when the old one died (token re-inserted, HSM failover).
        for attempt in 0..2 {
            self.connect()?;
            let (session, key) = self.session.as_ref().expect("connected");
            match derive(session, *key, peer) {
                Ok(shared) => return Ok(shared),
                Err(e) if session_lost(&e) && attempt == 0 => {
                    self.session = None;
                }
                Err(e) => {
                    if session_lost(&e) {
                        self.session = None;
                    }
                    return Err(ck(e));
                }
            }
        }
        unreachable!("the loop returns on its second pass")
    }

    fn sign(
        &mut self,
        label: &str,
        algorithm: KeyAlgorithm,
        message: &[u8],
    ) -> Result<Vec<u8>, TokenError> {
        for attempt in 0..2 {
            self.connect()?;
            let (session, _) = self.session.as_ref().expect("connected");
            // A token pulled out and put back fails the lookup first: reopen, as for the signing.
            let key = match find_signing_key(session, label, algorithm) {
                Ok((key, _)) => key,
                Err(e) if session_lost_reported(&e) => {
                    self.session = None;
                    if attempt == 0 {
                        continue;
                    }
                    return Err(e);
                }
                Err(e) => return Err(e),
            };
            match sign_on_token(session, key, algorithm, message) {
                Ok(sig) => return Ok(sig),
                Err(e) if session_lost(&e) && attempt == 0 => self.session = None,
                Err(e) => {
                    if session_lost(&e) {
                        self.session = None;
                    }
                    return Err(ck(e));
                }
            }
        }
        unreachable!("the loop returns on its second pass")
    }

    fn release(&mut self) {
        self.session = None;
    }

    fn shut_down(&mut self) {
        self.session = None;
        if let Some(ctx) = self.ctx.take() {
            if let Err(e) = ctx.finalize() {
                crate::warn!(
                    "closing the PKCS#11 module {}: {e}",
                    self.spec.module.display()
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
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
}
