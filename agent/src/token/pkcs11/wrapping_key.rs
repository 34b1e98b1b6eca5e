//! The wrapping key on a PKCS#11 token, of either kind: EC P-256 (unseals with one ECDH) or RSA
//! (one RSA-OAEP decryption, for tokens that cannot derive). `init` finds out which the token
//! can use by trying each ([`try_unwrap`]), not by reading its mechanism list: a token behind
//! `p11-kit server` lists `CKM_ECDH1_DERIVE` and fails it, since p11-kit 0.24's protocol does
//! not carry the mechanism's parameters.

use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use zeroize::Zeroizing;

use super::ck;
use super::objects::{
    derive, find_key, find_labelled, find_public_of, generate_key, key_id, p256_point,
    private_key_template,
};
use crate::envelope::{Recipient, RsaRecipient};
use crate::token::TokenError;

/// The RSA modulus `init --generate` makes: 128-bit security (NIST SP 800-57 part 1, table 2).
pub const RSA_MODULUS_BITS: u64 = 3072;

/// The private half of the wrapping key, as found on the token, with its recipient.
#[derive(Clone, Debug)]
pub struct WrapKey {
    pub handle: ObjectHandle,
    pub recipient: Recipient,
}

/// A key pair this process just generated: the wrapping key, and the handles of both halves
/// (what [`destroy_generated`] may take back, and nothing else of the same label).
pub struct Generated {
    pub key: WrapKey,
    public: ObjectHandle,
}

impl WrapKey {
    pub fn is_rsa(&self) -> bool {
        matches!(self.recipient, Recipient::Rsa(_))
    }
}

/// The wrapping key labelled `label`: an EC P-256 key pair, else an RSA one.
pub fn find_wrapping_key(session: &Session, label: &str) -> Result<WrapKey, TokenError> {
    match find_key(session, label) {
        Ok((handle, point)) => {
            let recipient = Recipient::from_sec1(&point).ok_or_else(|| {
                TokenError::BadKey("the token's EC public key is not a valid P-256 point".into())
            })?;
            Ok(WrapKey { handle, recipient })
        }
        Err(TokenError::KeyNotFound { .. }) => find_rsa_key(session, label),
        Err(e) => Err(e),
    }
}

fn find_rsa_key(session: &Session, label: &str) -> Result<WrapKey, TokenError> {
    let Some(handle) = find_labelled(session, ObjectClass::PRIVATE_KEY, KeyType::RSA, label)?
    else {
        return Err(TokenError::KeyNotFound {
            label: label.to_owned(),
        });
    };
    // The modulus and exponent are public: on the private key object itself on most tokens
    // (sensitive keys hide only their private parts), which is the key that decrypts; else on
    // its public half, paired by CKA_ID as the EC key's is.
    let wanted = [AttributeType::Modulus, AttributeType::PublicExponent];
    let own = session.get_attributes(handle, &wanted).map_err(ck)?;
    let attrs = if has_modulus(&own) {
        own
    } else {
        match find_public_of(session, handle, KeyType::RSA, label)? {
            Some(public) => session.get_attributes(public, &wanted).map_err(ck)?,
            None => own,
        }
    };
    Ok(WrapKey {
        handle,
        recipient: rsa_recipient(label, attrs)?,
    })
}

fn has_modulus(attrs: &[Attribute]) -> bool {
    let has = |t| attrs.iter().any(|a| a.attribute_type() == t);
    has(AttributeType::Modulus) && has(AttributeType::PublicExponent)
}

/// The recipient of an RSA key from its `CKA_MODULUS` and `CKA_PUBLIC_EXPONENT`.
fn rsa_recipient(label: &str, attrs: Vec<Attribute>) -> Result<Recipient, TokenError> {
    let (mut modulus, mut exponent) = (None, None);
    for a in attrs {
        match a {
            Attribute::Modulus(m) => modulus = Some(m),
            Attribute::PublicExponent(e) => exponent = Some(e),
            _ => {}
        }
    }
    let (Some(modulus), Some(exponent)) = (modulus, exponent) else {
        return Err(TokenError::BadKey(format!(
            "the RSA key labelled {label:?} shows no modulus and public exponent"
        )));
    };
    let recipient = RsaRecipient::from_modulus(&modulus, &exponent).map_err(TokenError::BadKey)?;
    Ok(Recipient::Rsa(recipient))
}

/// Generates an RSA key pair on the token for unwrapping: the private key sensitive, never
/// extractable, for decryption only.
pub fn generate_rsa_key(session: &Session, label: &str) -> Result<Generated, TokenError> {
    let public_template = [
        Attribute::Token(true),
        Attribute::Private(false),
        Attribute::ModulusBits(RSA_MODULUS_BITS.into()),
        Attribute::PublicExponent(vec![0x01, 0x00, 0x01]),
        Attribute::Encrypt(true),
        Attribute::Verify(false),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Id(key_id(label)),
    ];
    let private_template =
        private_key_template(label, [Attribute::Decrypt(true), Attribute::Sign(false)]);
    let (public, private) = session
        .generate_key_pair(
            &Mechanism::RsaPkcsKeyPairGen,
            &public_template,
            &private_template,
        )
        .map_err(ck)?;
    let attrs = session
        .get_attributes(
            public,
            &[AttributeType::Modulus, AttributeType::PublicExponent],
        )
        .map_err(ck)?;
    let recipient = rsa_recipient(label, attrs)?;
    Ok(Generated {
        key: WrapKey {
            handle: private,
            recipient,
        },
        public,
    })
}

/// Generates the EC P-256 wrapping key (see [`generate_key`]).
pub fn generate_ec_key(session: &Session, label: &str) -> Result<Generated, TokenError> {
    let (public, private) = generate_key(session, label)?;
    let point = p256_point(session, public)?;
    let recipient = Recipient::from_sec1(&point).ok_or_else(|| {
        TokenError::BadKey("the token's EC public key is not a valid P-256 point".into())
    })?;
    Ok(Generated {
        key: WrapKey {
            handle: private,
            recipient,
        },
        public,
    })
}

/// Destroys a key pair this process generated, both halves by their handles: `init` takes back
/// a key the token turned out unable to use, and nothing else that carries its label (an API
/// key `keygen` made, another program's key on a shared HSM).
pub fn destroy_generated(session: &Session, generated: &Generated) -> Result<(), TokenError> {
    session.destroy_object(generated.key.handle).map_err(ck)?;
    session.destroy_object(generated.public).map_err(ck)
}

/// `CKM_RSA_PKCS_OAEP` with SHA-1, MGF1-SHA-1 and no label: the RSA-OAEP stanza's padding.
fn oaep() -> Mechanism<'static> {
    Mechanism::RsaPkcsOaep(PkcsOaepParams::new(
        MechanismType::SHA1,
        PkcsMgfType::MGF1_SHA1,
        PkcsOaepSource::empty(),
    ))
}

/// RSA-OAEP decryption on the token; `Ok(None)` when the token finds the ciphertext invalid.
pub(super) fn rsa_oaep_decrypt(
    session: &Session,
    key: ObjectHandle,
    ciphertext: &[u8],
) -> Result<Option<Zeroizing<Vec<u8>>>, CkError> {
    match session.decrypt(&oaep(), key, ciphertext) {
        Ok(plain) => Ok(Some(Zeroizing::new(plain))),
        Err(CkError::Pkcs11(RvError::EncryptedDataInvalid | RvError::EncryptedDataLenRange, _)) => {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Whether the token can unwrap with `key`: one ECDH with a fresh point checked against the same
/// ECDH in software, or one RSA-OAEP decryption of a fresh random value. The error names the
/// PKCS#11 call that failed and what it returned.
pub fn try_unwrap(session: &Session, key: &WrapKey) -> Result<(), TokenError> {
    match &key.recipient {
        Recipient::P256(r) => {
            let ephemeral = p256::ecdh::EphemeralSecret::random(&mut rand::rngs::OsRng);
            let mut peer = [0u8; 65];
            peer.copy_from_slice(ephemeral.public_key().to_encoded_point(false).as_bytes());
            let on_token = derive(session, key.handle, &peer).map_err(ck)?;
            let in_software = ephemeral.diffie_hellman(r.public_key());
            if on_token[..] != in_software.raw_secret_bytes()[..] {
                return Err(TokenError::BadKey(
                    "the token's ECDH result differs from the same ECDH in software".into(),
                ));
            }
        }
        Recipient::Rsa(r) => {
            let probe = Zeroizing::new(rand::random::<[u8; 16]>());
            let sealed = r.encrypt(&probe[..]);
            let opened = rsa_oaep_decrypt(session, key.handle, &sealed).map_err(ck)?;
            if opened.as_deref().map(|p| &p[..]) != Some(&probe[..]) {
                return Err(TokenError::BadKey(
                    "the token's RSA-OAEP decryption did not give back what was encrypted to \
                     its public key"
                        .into(),
                ));
            }
        }
    }
    Ok(())
}
