//! The `piv-p256` stanza of age-plugin-yubikey's recipient format, byte for byte, so that an
//! entry sealed to a YubiKey PIV slot decrypts with stock `rage` + `age-plugin-yubikey`.
//!
//! Format facts (age-plugin-yubikey `src/format.rs` and `src/p256.rs`):
//! - recipient: bech32 (not bech32m), HRP `age1yubikey`, data = compressed SEC1 point (33 bytes);
//! - stanza: `-> piv-p256 TAG EPK` where TAG = base64(SHA-256(compressed recipient point)[..4])
//!   (age-plugin-yubikey `src/p256.rs`, `Recipient::tag`) and EPK = base64 of the compressed
//!   ephemeral point (both unpadded standard base64). Releases before 0.2 hashed the recipient
//!   *string* instead; stock tools skip such a stanza without trying the card, so entries sealed
//!   then are still opened here ([`P256Recipient::legacy_tag`]) and sealed again by `reseal`;
//! - wrap key = HKDF-SHA256(ikm = ECDH x-coordinate, salt = EPK || recipient point (both
//!   compressed), info = "piv-p256"); body = ChaCha20-Poly1305(wrap key, zero nonce, file key).
//!
//! Sealing needs only the public key; unsealing one ECDH, which the token does.

use std::fmt;
use std::str::FromStr;

use age::secrecy::ExposeSecret;
use age_core::format::{FileKey, Stanza};
use base64::Engine;
use p256::elliptic_curve::sec1::{FromEncodedPoint, ToEncodedPoint};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::{bech32_decode, bech32_encode, StanzaKind, UnwrapFailure, Unwrapped, WrappingKey, B64};

pub const STANZA_TAG: &str = "piv-p256";
pub(super) const RECIPIENT_HRP: &str = "age1yubikey";

/// A P-256 public key that entries are sealed to (a YubiKey PIV slot, or a PKCS#11 EC key).
#[derive(Clone, PartialEq, Eq)]
pub struct P256Recipient(p256::PublicKey);

impl fmt::Debug for P256Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "P256Recipient({self})")
    }
}

impl P256Recipient {
    /// From a SEC1 point, compressed or not (a token gives the uncompressed 65-byte form).
    pub fn from_sec1(bytes: &[u8]) -> Option<Self> {
        p256::PublicKey::from_sec1_bytes(bytes).ok().map(Self)
    }

    pub fn public_key(&self) -> &p256::PublicKey {
        &self.0
    }

    pub fn compressed(&self) -> Vec<u8> {
        self.0.to_encoded_point(true).as_bytes().to_vec()
    }

    pub fn uncompressed(&self) -> [u8; 65] {
        let mut out = [0u8; 65];
        out.copy_from_slice(self.0.to_encoded_point(false).as_bytes());
        out
    }

    /// The 4-byte stanza tag, as age-plugin-yubikey computes it: the first bytes of SHA-256 of
    /// the 33-byte compressed point.
    pub fn tag(&self) -> [u8; 4] {
        let digest = Sha256::digest(self.compressed());
        [digest[0], digest[1], digest[2], digest[3]]
    }

    /// The tag releases before 0.2 wrote (SHA-256 of the recipient string): accepted when
    /// opening, never written.
    pub fn legacy_tag(&self) -> [u8; 4] {
        let digest = Sha256::digest(self.to_string().as_bytes());
        [digest[0], digest[1], digest[2], digest[3]]
    }

    fn wrap_key(&self, shared_x: &[u8], epk_compressed: &[u8]) -> Zeroizing<[u8; 32]> {
        let mut salt = Vec::with_capacity(66);
        salt.extend_from_slice(epk_compressed);
        salt.extend_from_slice(&self.compressed());
        Zeroizing::new(age_core::primitives::hkdf(
            &salt,
            STANZA_TAG.as_bytes(),
            shared_x,
        ))
    }
}

impl fmt::Display for P256Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&bech32_encode(RECIPIENT_HRP, &self.compressed())?)
    }
}

impl FromStr for P256Recipient {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not an age1yubikey1... P-256 recipient");
        let bytes = bech32_decode(s, RECIPIENT_HRP).ok_or_else(bad)?;
        if bytes.len() != 33 {
            return Err(bad());
        }
        Self::from_sec1(&bytes).ok_or_else(bad)
    }
}

impl StanzaKind for P256Recipient {
    fn wrap(&self, file_key: &FileKey) -> Stanza {
        let ephemeral = p256::ecdh::EphemeralSecret::random(&mut rand::rngs::OsRng);
        let epk = ephemeral.public_key().to_encoded_point(true);
        let shared = ephemeral.diffie_hellman(&self.0);
        let wrap_key = self.wrap_key(shared.raw_secret_bytes().as_slice(), epk.as_bytes());
        Stanza {
            tag: STANZA_TAG.to_owned(),
            args: vec![B64.encode(self.tag()), B64.encode(epk.as_bytes())],
            body: age_core::primitives::aead_encrypt(&wrap_key, file_key.expose_secret()),
        }
    }

    fn unwrap<K: WrappingKey>(
        &self,
        stanza: &Stanza,
        key: &K,
    ) -> Option<Result<Unwrapped, UnwrapFailure<K::Error>>> {
        if stanza.tag != STANZA_TAG || stanza.args.len() != 2 {
            return None;
        }
        let tag = B64.decode(&stanza.args[0]).ok()?;
        let legacy = tag == self.legacy_tag();
        if tag != self.tag() && !legacy {
            return None; // addressed to another recipient (a backup token)
        }
        let epk_bytes = match B64.decode(&stanza.args[1]) {
            Ok(b) if b.len() == 33 => b,
            _ => return Some(Err(UnwrapFailure::Header)),
        };
        let Some(epk) = p256::EncodedPoint::from_bytes(&epk_bytes)
            .ok()
            .and_then(|p| Option::<p256::PublicKey>::from(p256::PublicKey::from_encoded_point(&p)))
        else {
            return Some(Err(UnwrapFailure::Header));
        };
        if stanza.body.len() != 32 {
            return Some(Err(UnwrapFailure::Header));
        }
        let mut peer = [0u8; 65];
        peer.copy_from_slice(epk.to_encoded_point(false).as_bytes());
        let shared = match key.ecdh(&peer) {
            Ok(s) => s,
            Err(e) => return Some(Err(UnwrapFailure::Token(e))),
        };
        let wrap_key = self.wrap_key(&shared[..], &epk_bytes);
        let Ok(plain) = age_core::primitives::aead_decrypt(&wrap_key, 16, &stanza.body) else {
            return Some(Err(UnwrapFailure::Integrity));
        };
        let plain = Zeroizing::new(plain);
        let mut file_key = Box::new([0u8; 16]);
        file_key.copy_from_slice(&plain);
        Some(Ok(Unwrapped {
            file_key: FileKey::new(file_key),
            legacy_tag: legacy,
        }))
    }
}
