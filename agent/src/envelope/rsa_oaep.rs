//! The `apisec-rsa-oaep` stanza, for PKCS#11 tokens that cannot derive: FIPS-mode HSMs that
//! refuse `CKD_NULL`, and tokens reached through `p11-kit server`, whose protocol (0.24) does
//! not carry `CKM_ECDH1_DERIVE` parameters. The token decrypts with `CKM_RSA_PKCS_OAEP`.
//!
//! Byte for byte (docs/formats.md, "The RSA-OAEP stanza"):
//! - recipient: bech32 (not bech32m), HRP `age1apisec-rsa`, data = DER SubjectPublicKeyInfo of
//!   the RSA public key (RFC 5280, `rsaEncryption`), modulus 2048 to 4096 bits;
//! - stanza: `-> apisec-rsa-oaep TAG`, TAG = base64(SHA-256(that DER)[..4]) (unpadded standard
//!   base64, as the other stanzas), body = RSAES-OAEP (RFC 8017 section 7.1) of the 16-byte file
//!   key with SHA-1, MGF1 with SHA-1 and an empty label: exactly the modulus' length in bytes.
//!
//! SHA-1 because it is the one OAEP hash SoftHSM 2.6 and p11-kit 0.24 carry; OAEP's proof
//! needs no collision resistance, so SHA-1's broken collisions do not weaken it. Stock `rage`
//! knows no such stanza: an entry sealed only to such a token opens with the agent alone, so an
//! offline recipient (`init --backup-recipient`) is the way to recover without it.

use std::fmt;
use std::str::FromStr;

use age::secrecy::ExposeSecret;
use age_core::format::{FileKey, Stanza};
use base64::Engine;
use rsa::pkcs8::{DecodePublicKey, EncodePublicKey};
use rsa::traits::PublicKeyParts;
use sha2::{Digest, Sha256};

use super::{bech32_decode, bech32_encode, StanzaKind, UnwrapFailure, Unwrapped, WrappingKey, B64};

pub const STANZA_TAG: &str = "apisec-rsa-oaep";
pub(super) const RECIPIENT_HRP: &str = "age1apisec-rsa";
/// Smaller moduli are refused (NIST SP 800-57: 2048 bits is the least for 112-bit security).
pub const MIN_MODULUS_BITS: usize = 2048;
/// The largest the `rsa` crate (0.9) takes; HSMs' usual sizes are 2048, 3072 and 4096.
const MAX_MODULUS_BITS: usize = 4096;

/// An RSA public key that entries are sealed to; its private half is on a PKCS#11 token.
#[derive(Clone, PartialEq, Eq)]
pub struct RsaRecipient {
    key: rsa::RsaPublicKey,
    /// Its DER SubjectPublicKeyInfo: what the recipient string carries and the tag hashes.
    spki: Vec<u8>,
}

impl fmt::Debug for RsaRecipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "RsaRecipient({} bits, tag {})",
            self.bits(),
            B64.encode(self.tag())
        )
    }
}

impl RsaRecipient {
    /// From the big-endian modulus and public exponent (a token's `CKA_MODULUS` and
    /// `CKA_PUBLIC_EXPONENT`).
    pub fn from_modulus(modulus: &[u8], exponent: &[u8]) -> Result<Self, String> {
        let key = rsa::RsaPublicKey::new(
            rsa::BigUint::from_bytes_be(modulus),
            rsa::BigUint::from_bytes_be(exponent),
        )
        .map_err(|e| format!("not a usable RSA public key: {e}"))?;
        Self::from_key(key)
    }

    /// From a DER SubjectPublicKeyInfo.
    pub fn from_spki(der: &[u8]) -> Result<Self, String> {
        let key = rsa::RsaPublicKey::from_public_key_der(der)
            .map_err(|e| format!("not an RSA SubjectPublicKeyInfo: {e}"))?;
        Self::from_key(key)
    }

    fn from_key(key: rsa::RsaPublicKey) -> Result<Self, String> {
        let bits = key.n().bits();
        if !(MIN_MODULUS_BITS..=MAX_MODULUS_BITS).contains(&bits) {
            return Err(format!(
                "an RSA key of {bits} bits: the RSA-OAEP stanza takes {MIN_MODULUS_BITS} to \
                 {MAX_MODULUS_BITS} bits"
            ));
        }
        let spki = key
            .to_public_key_der()
            .map_err(|e| format!("encoding the RSA public key: {e}"))?
            .as_bytes()
            .to_vec();
        Ok(Self { key, spki })
    }

    pub fn bits(&self) -> usize {
        self.key.n().bits()
    }

    pub fn spki(&self) -> &[u8] {
        &self.spki
    }

    /// The 4-byte stanza tag: the first bytes of SHA-256 of the DER SubjectPublicKeyInfo.
    pub fn tag(&self) -> [u8; 4] {
        let digest = Sha256::digest(&self.spki);
        [digest[0], digest[1], digest[2], digest[3]]
    }

    /// RSAES-OAEP-SHA1 of `plain` (at most 16 bytes are ever encrypted here: a file key, or
    /// `init`'s trial of the token).
    pub fn encrypt(&self, plain: &[u8]) -> Vec<u8> {
        self.key
            .encrypt(
                &mut rand::rngs::OsRng,
                rsa::Oaep::new::<sha1::Sha1>(),
                plain,
            )
            .expect("a short message fits any modulus of 2048 bits or more")
    }
}

impl fmt::Display for RsaRecipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&bech32_encode(RECIPIENT_HRP, &self.spki)?)
    }
}

impl FromStr for RsaRecipient {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not an age1apisec-rsa1... RSA recipient");
        let der = bech32_decode(s, RECIPIENT_HRP).ok_or_else(bad)?;
        Self::from_spki(&der).map_err(|e| format!("{}: {e}", bad()))
    }
}

impl StanzaKind for RsaRecipient {
    fn wrap(&self, file_key: &FileKey) -> Stanza {
        Stanza {
            tag: STANZA_TAG.to_owned(),
            args: vec![B64.encode(self.tag())],
            body: self.encrypt(file_key.expose_secret()),
        }
    }

    fn unwrap<K: WrappingKey>(
        &self,
        stanza: &Stanza,
        key: &K,
    ) -> Option<Result<Unwrapped, UnwrapFailure<K::Error>>> {
        if stanza.tag != STANZA_TAG || stanza.args.len() != 1 {
            return None;
        }
        if B64.decode(&stanza.args[0]).ok()? != self.tag() {
            return None; // addressed to another recipient
        }
        if stanza.body.len() != self.key.size() {
            return Some(Err(UnwrapFailure::Header));
        }
        let plain = match key.rsa_oaep_decrypt(&stanza.body) {
            Ok(Some(plain)) => plain,
            Ok(None) => return Some(Err(UnwrapFailure::Integrity)),
            Err(e) => return Some(Err(UnwrapFailure::Token(e))),
        };
        if plain.len() != 16 {
            return Some(Err(UnwrapFailure::Integrity));
        }
        let mut file_key = Box::new([0u8; 16]);
        file_key.copy_from_slice(&plain);
        Some(Ok(Unwrapped {
            file_key: FileKey::new(file_key),
            legacy_tag: false,
        }))
    }
}
