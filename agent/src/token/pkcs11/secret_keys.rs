//! HMAC keys on the token (`apisec-agent add --in-token`): the secret imported as a generic
//! secret key object that is sensitive and never extractable and may only sign (MAC), so that
//! the token computes every MAC and nothing, the agent included, can read the key back
//! (`CKA_VALUE` is refused: `CKR_ATTRIBUTE_SENSITIVE`).

use std::collections::HashMap;

use cryptoki::context::Pkcs11;
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use cryptoki::slot::Slot;
use sha2::{Digest, Sha256};
use zeroize::Zeroize;

use super::ck;
use crate::sign::mac_key::Hash;
use crate::token::{MacSession, TokenError};

fn mechanism(hash: Hash) -> (Mechanism<'static>, MechanismType, &'static str) {
    match hash {
        Hash::Sha256 => (
            Mechanism::Sha256Hmac,
            MechanismType::SHA256_HMAC,
            "CKM_SHA256_HMAC",
        ),
        Hash::Sha384 => (
            Mechanism::Sha384Hmac,
            MechanismType::SHA384_HMAC,
            "CKM_SHA384_HMAC",
        ),
        Hash::Sha512 => (
            Mechanism::Sha512Hmac,
            MechanismType::SHA512_HMAC,
            "CKM_SHA512_HMAC",
        ),
    }
}

/// Refuses, naming the mechanism or the length and what to do, a token that cannot MAC with
/// `hash` or would refuse a key of `key_len` bytes for it.
pub fn check_hmac_support(
    ctx: &Pkcs11,
    slot: Slot,
    hash: Hash,
    key_len: usize,
) -> Result<(), TokenError> {
    let (_, kind, name) = mechanism(hash);
    let info = ctx.get_mechanism_info(slot, kind).map_err(|_| {
        TokenError::NotSupported(format!(
            "the token does not offer {name}, which this exchange's MAC needs; keep the secret \
             sealed (add it without --in-token) or use a token that has the mechanism \
             (`pkcs11-tool -M` lists them)"
        ))
    })?;
    if !info.sign() {
        return Err(TokenError::NotSupported(format!(
            "the token offers {name} but not for signing (CKF_SIGN); add the secret without \
             --in-token"
        )));
    }
    // For the HMAC mechanisms the key sizes are in bytes (PKCS#11 2.40, 2.1.8).
    let (min, max) = (info.min_key_size(), info.max_key_size());
    if key_len < min || (max > 0 && key_len > max) {
        return Err(TokenError::NotSupported(format!(
            "the token takes {name} keys of {min} to {max} bytes, and this secret's MAC key is \
             {key_len} bytes; add it without --in-token (sealed, the agent MACs in its memory)"
        )));
    }
    Ok(())
}

/// Imports `key` as the HMAC key `label`: sensitive, not extractable, for signing only. The
/// template's copy of the key is wiped once the token has it.
pub fn import_hmac_key(session: &Session, label: &str, key: &[u8]) -> Result<(), TokenError> {
    if find_hmac_key(session, label).is_ok() {
        return Err(TokenError::BadKey(format!(
            "an HMAC key labelled {label:?} already exists on the token"
        )));
    }
    let id: Vec<u8> = Sha256::digest(label.as_bytes())[..8].to_vec();
    let mut template = vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::GENERIC_SECRET),
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Sign(true),
        Attribute::Verify(false),
        Attribute::Encrypt(false),
        Attribute::Decrypt(false),
        Attribute::Wrap(false),
        Attribute::Unwrap(false),
        Attribute::Derive(false),
        Attribute::Modifiable(false),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Id(id),
        Attribute::Value(key.to_vec()),
    ];
    let created = session.create_object(&template);
    for a in &mut template {
        if let Attribute::Value(v) = a {
            v.zeroize();
        }
    }
    created.map(drop).map_err(ck)
}

/// The HMAC key `label`.
pub fn find_hmac_key(session: &Session, label: &str) -> Result<ObjectHandle, TokenError> {
    session
        .find_objects(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::GENERIC_SECRET),
            Attribute::Label(label.as_bytes().to_vec()),
        ])
        .map_err(ck)?
        .first()
        .copied()
        .ok_or_else(|| TokenError::HmacKeyNotFound {
            label: label.to_owned(),
        })
}

/// The HMAC of `data` with the HMAC key `label`, computed by the token.
pub fn mac_with_key(
    session: &Session,
    label: &str,
    hash: Hash,
    data: &[u8],
) -> Result<Vec<u8>, TokenError> {
    let key = find_hmac_key(session, label)?;
    session.sign(&mechanism(hash).0, key, data).map_err(ck)
}

/// Destroys the HMAC key `label`; false when there was none.
pub fn destroy_hmac_key(session: &Session, label: &str) -> Result<bool, TokenError> {
    match find_hmac_key(session, label) {
        Ok(key) => session.destroy_object(key).map(|()| true).map_err(ck),
        Err(TokenError::HmacKeyNotFound { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Whether the key `label` is one the token will not reveal: sensitive, never extractable.
pub fn is_sealed_in(session: &Session, label: &str) -> Result<bool, TokenError> {
    let key = find_hmac_key(session, label)?;
    let attrs = session
        .get_attributes(key, &[AttributeType::Sensitive, AttributeType::Extractable])
        .map_err(ck)?;
    let (mut sensitive, mut extractable) = (false, true);
    for a in attrs {
        match a {
            Attribute::Sensitive(v) => sensitive = v,
            Attribute::Extractable(v) => extractable = v,
            _ => {}
        }
    }
    Ok(sensitive && !extractable)
}

/// A session of the agent's pool: the keys' handles found once, found again after a failure.
pub struct Pkcs11MacSession {
    session: Session,
    keys: HashMap<String, ObjectHandle>,
}

impl Pkcs11MacSession {
    pub fn new(session: Session) -> Self {
        Self {
            session,
            keys: HashMap::new(),
        }
    }
}

impl MacSession for Pkcs11MacSession {
    fn mac(&mut self, label: &str, hash: Hash, data: &[u8]) -> Result<Vec<u8>, TokenError> {
        let key = match self.keys.get(label) {
            Some(&k) => k,
            None => {
                let k = find_hmac_key(&self.session, label)?;
                self.keys.insert(label.to_owned(), k);
                k
            }
        };
        self.session
            .sign(&mechanism(hash).0, key, data)
            .map_err(|e| {
                // A key destroyed and made again (rotate) has a new handle.
                self.keys.remove(label);
                ck(e)
            })
    }
}
