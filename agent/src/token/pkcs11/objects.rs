//! The objects on the token that the agent uses: the EC P-256 wrapping key (found by label, or
//! generated sensitive and non-extractable), the ECDH that unwraps an entry, and the asymmetric
//! API keys `keygen` makes, which sign there.

use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::elliptic_curve::{EcKdf, Ecdh1DeriveParams};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::ck;
use crate::sign::KeyAlgorithm;
use crate::token::TokenError;

/// DER of the P-256 curve OID 1.2.840.10045.3.1.7, the value of `CKA_EC_PARAMS`.
pub(super) const P256_OID_DER: &[u8] =
    &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// P-256 as explicit ECParameters (RFC 3279: prime field, a, b, seed, generator, order,
/// cofactor), which is how ykcs11 2.2 reports `CKA_EC_PARAMS` instead of the named-curve OID.
pub(super) const P256_EXPLICIT_DER_HEX: &str =
    "3081f7020101302c06072a8648ce3d0101022100ffffffff000000010000000000\
    00000000000000ffffffffffffffffffffffff305b0420ffffffff00000001000000000000000000000000ffffffff\
    fffffffffffffffc04205ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b031500c49d\
    360886e704936a6678e1139d26b7819f7e900441046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4\
    a13945d898c2964fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5022100ffffffff00\
    000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551020101";

/// Whether `CKA_EC_PARAMS` names P-256, by OID or spelled out.
pub(super) fn is_p256(params: &[u8]) -> bool {
    params == P256_OID_DER || hex::encode(params) == P256_EXPLICIT_DER_HEX
}

/// DER of the Ed25519 OID 1.3.101.112 (RFC 8410), `CKA_EC_PARAMS` of an Edwards key.
pub(super) const ED25519_OID_DER: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];

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

/// The first key of `class` and `key_type` carrying one of the labels of `label`.
pub(super) fn find_labelled(
    session: &Session,
    class: ObjectClass,
    key_type: KeyType,
    label: &str,
) -> Result<Option<ObjectHandle>, TokenError> {
    for l in labels(class, label) {
        let found = session
            .find_objects(&[
                Attribute::Class(class),
                Attribute::KeyType(key_type),
                Attribute::Label(l),
            ])
            .map_err(ck)?;
        if let Some(&h) = found.first() {
            return Ok(Some(h));
        }
    }
    Ok(None)
}

/// The public key (of `key_type`) that pairs with `private`: the one with the same `CKA_ID`
/// (how PKCS#11 pairs keys), else the one labelled alike.
pub(super) fn find_public_of(
    session: &Session,
    private: ObjectHandle,
    key_type: KeyType,
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
                Attribute::KeyType(key_type),
                Attribute::Id(id),
            ])
            .map_err(ck)?;
        if let Some(&h) = found.first() {
            return Ok(Some(h));
        }
    }
    find_labelled(session, ObjectClass::PUBLIC_KEY, key_type, label)
}

/// The EC private key with `label`, and its public point (uncompressed, 65 bytes).
pub fn find_key(session: &Session, label: &str) -> Result<(ObjectHandle, Vec<u8>), TokenError> {
    let Some(key) = find_labelled(session, ObjectClass::PRIVATE_KEY, KeyType::EC, label)? else {
        return Err(TokenError::KeyNotFound {
            label: label.to_owned(),
        });
    };
    let Some(public) = find_public_of(session, key, KeyType::EC, label)? else {
        return Err(TokenError::BadKey(format!(
            "no public key object labelled {label:?} beside the private key"
        )));
    };
    Ok((key, p256_point(session, public)?))
}

/// The uncompressed point of the EC public key `public`, checked to be on P-256.
pub(super) fn p256_point(session: &Session, public: ObjectHandle) -> Result<Vec<u8>, TokenError> {
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
    unwrap_ec_point(&point)
}

/// The `CKA_ID` the agent gives a key pair it generates: the first bytes of SHA-256 of its label
/// (PKCS#11 pairs the halves by it).
pub(super) fn key_id(label: &str) -> Vec<u8> {
    Sha256::digest(label.as_bytes())[..8].to_vec()
}

/// The template of a private key the agent generates: on the token, private, sensitive, never
/// extractable, labelled and identified as its public half, and usable only as `usage` says
/// (the two usage attributes: what it may do, and what it may not).
pub(super) fn private_key_template(label: &str, usage: [Attribute; 2]) -> Vec<Attribute> {
    let [allowed, refused] = usage;
    vec![
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        allowed,
        refused,
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Id(key_id(label)),
    ]
}

/// `CKA_EC_POINT` is a DER OCTET STRING around the SEC1 point (some modules give it raw).
pub(super) fn unwrap_ec_point(v: &[u8]) -> Result<Vec<u8>, TokenError> {
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
/// for derivation. Returns the new (public, private) handles.
pub fn generate_key(
    session: &Session,
    label: &str,
) -> Result<(ObjectHandle, ObjectHandle), TokenError> {
    let public_template = [
        Attribute::Token(true),
        Attribute::Private(false),
        Attribute::EcParams(P256_OID_DER.to_vec()),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Id(key_id(label)),
    ];
    let private_template =
        private_key_template(label, [Attribute::Derive(true), Attribute::Sign(false)]);
    session
        .generate_key_pair(
            &Mechanism::EccKeyPairGen,
            &public_template,
            &private_template,
        )
        .map_err(ck)
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
    let public_template = [
        Attribute::Token(true),
        Attribute::Private(false),
        Attribute::KeyType(key_type),
        Attribute::EcParams(params.to_vec()),
        Attribute::Verify(true),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Id(key_id(label)),
    ];
    let private_template =
        private_key_template(label, [Attribute::Sign(true), Attribute::Derive(false)]);
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

/// Signs `message` with the token's signing key `label` (for `apisec-agent` itself: the
/// attestation of a token-key entry).
pub fn sign_with_key(
    session: &Session,
    label: &str,
    algorithm: KeyAlgorithm,
    message: &[u8],
) -> Result<Vec<u8>, TokenError> {
    let (key, _) = find_signing_key(session, label, algorithm)?;
    sign_on_token(session, key, algorithm, message).map_err(ck)
}

/// Signs on the token: `CKM_EDDSA` (pure Ed25519) or `CKM_ECDSA` over our SHA-256 of the message.
pub(super) fn sign_on_token(
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
pub(super) fn derive(
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
