//! The sealed envelope: an age v1 file whose recipient stanza is age-plugin-yubikey's `piv-p256`,
//! byte for byte, so that an entry sealed here decrypts with stock `rage` + `age-plugin-yubikey`
//! when the key is a YubiKey PIV slot.
//!
//! Format facts (age-plugin-yubikey `src/format.rs` and `src/p256.rs`):
//! - recipient: bech32 (not bech32m), HRP `age1yubikey`, data = compressed SEC1 point (33 bytes);
//! - stanza: `-> piv-p256 TAG EPK` where TAG = base64(SHA-256(compressed recipient point)[..4])
//!   (age-plugin-yubikey `src/p256.rs`, `Recipient::tag`) and EPK = base64 of the compressed
//!   ephemeral point (both unpadded standard base64). Releases before 0.2 hashed the recipient
//!   *string* instead; stock tools skip such a stanza without trying the card, so entries sealed
//!   then are still opened here ([`Recipient::legacy_tag`]) and sealed again by `reseal`;
//! - wrap key = HKDF-SHA256(ikm = ECDH x-coordinate, salt = EPK || recipient point (both
//!   compressed), info = "piv-p256"); body = ChaCha20-Poly1305(wrap key, zero nonce, file key).
//!
//! Sealing needs only the public key. Unsealing needs one ECDH with the private key, which the
//! token does (see [`Ecdh`]).

use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;
use std::io::{Read, Write};
use std::str::FromStr;

use age::secrecy::ExposeSecret;
use age_core::format::{FileKey, Stanza};
use base64::Engine;
use bech32::{FromBase32, ToBase32, Variant};
use p256::elliptic_curve::sec1::{FromEncodedPoint, ToEncodedPoint};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

pub const STANZA_TAG: &str = "piv-p256";
const RECIPIENT_HRP: &str = "age1yubikey";
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD_NO_PAD;

/// A P-256 public key that entries are sealed to.
#[derive(Clone, PartialEq, Eq)]
pub struct Recipient(p256::PublicKey);

impl fmt::Debug for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Recipient({self})")
    }
}

impl Recipient {
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
}

impl fmt::Display for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = bech32::encode(
            RECIPIENT_HRP,
            self.compressed().to_base32(),
            Variant::Bech32,
        )
        .map_err(|_| fmt::Error)?;
        f.write_str(&s)
    }
}

impl FromStr for Recipient {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not an age1yubikey1... P-256 recipient");
        let (hrp, data, variant) = bech32::decode(s).map_err(|_| bad())?;
        if hrp != RECIPIENT_HRP || variant != Variant::Bech32 {
            return Err(bad());
        }
        let bytes = Vec::<u8>::from_base32(&data).map_err(|_| bad())?;
        if bytes.len() != 33 {
            return Err(bad());
        }
        Self::from_sec1(&bytes).ok_or_else(bad)
    }
}

impl age::Recipient for Recipient {
    fn wrap_file_key(
        &self,
        file_key: &FileKey,
    ) -> Result<(Vec<Stanza>, HashSet<String>), age::EncryptError> {
        let ephemeral = p256::ecdh::EphemeralSecret::random(&mut rand::rngs::OsRng);
        let epk = ephemeral.public_key().to_encoded_point(true);
        let shared = ephemeral.diffie_hellman(&self.0);
        let wrap_key = wrap_key(shared.raw_secret_bytes().as_slice(), epk.as_bytes(), self);
        let body = age_core::primitives::aead_encrypt(&wrap_key, file_key.expose_secret());
        let stanza = Stanza {
            tag: STANZA_TAG.to_owned(),
            args: vec![B64.encode(self.tag()), B64.encode(epk.as_bytes())],
            body,
        };
        Ok((vec![stanza], HashSet::new()))
    }
}

fn wrap_key(shared_x: &[u8], epk_compressed: &[u8], recipient: &Recipient) -> Zeroizing<[u8; 32]> {
    let mut salt = Vec::with_capacity(66);
    salt.extend_from_slice(epk_compressed);
    salt.extend_from_slice(&recipient.compressed());
    Zeroizing::new(age_core::primitives::hkdf(
        &salt,
        STANZA_TAG.as_bytes(),
        shared_x,
    ))
}

/// What an entry is sealed to: a token's P-256 key, which the agent unseals with, or an offline
/// age X25519 key (`age-keygen`, `rage-keygen`): a recovery key kept on paper or offline media,
/// which stock `rage -d -i key.txt` (or `age`) opens and the agent never uses.
#[derive(Clone)]
pub enum SealTo {
    Token(Recipient),
    Offline(age::x25519::Recipient),
}

impl FromStr for SealTo {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s.starts_with("age1yubikey1") {
            return s.parse().map(Self::Token);
        }
        s.parse::<age::x25519::Recipient>()
            .map(Self::Offline)
            .map_err(|_| {
                format!(
                    "{s:?} is neither an age1yubikey1... recipient (a token's P-256 key) nor an \
                     age1... X25519 recipient (from age-keygen or rage-keygen)"
                )
            })
    }
}

impl fmt::Display for SealTo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Token(r) => r.fmt(f),
            Self::Offline(r) => r.fmt(f),
        }
    }
}

impl fmt::Debug for SealTo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealTo({self})")
    }
}

impl SealTo {
    fn as_age(&self) -> &dyn age::Recipient {
        match self {
            Self::Token(r) => r,
            Self::Offline(r) => r,
        }
    }
}

/// Whatever holds the private key: computes the ECDH shared x-coordinate with a peer point
/// (uncompressed, 65 bytes). A token does it inside the token.
pub trait Ecdh {
    type Error;
    fn ecdh(&self, peer_uncompressed: &[u8; 65]) -> Result<Zeroizing<[u8; 32]>, Self::Error>;
}

/// An age identity that unwraps `piv-p256` stanzas addressed to `recipient` with an [`Ecdh`].
/// The token's own error (wrong PIN, token gone) is kept aside, since age's error type has no
/// room for it.
pub struct TokenIdentity<'a, E: Ecdh> {
    recipient: &'a Recipient,
    holder: &'a E,
    error: RefCell<Option<E::Error>>,
    /// The stanza it opened carried the tag of releases before 0.2.
    legacy: std::cell::Cell<bool>,
}

impl<'a, E: Ecdh> TokenIdentity<'a, E> {
    pub fn new(recipient: &'a Recipient, holder: &'a E) -> Self {
        Self {
            recipient,
            holder,
            error: RefCell::new(None),
            legacy: std::cell::Cell::new(false),
        }
    }

    pub fn take_error(&self) -> Option<E::Error> {
        self.error.borrow_mut().take()
    }

    /// Whether the stanza it opened was addressed with [`Recipient::legacy_tag`]: the entry
    /// opens here, but not with stock age-plugin-yubikey until it is sealed again.
    pub fn opened_legacy_tag(&self) -> bool {
        self.legacy.get()
    }
}

impl<E: Ecdh> age::Identity for TokenIdentity<'_, E> {
    fn unwrap_stanza(&self, stanza: &Stanza) -> Option<Result<FileKey, age::DecryptError>> {
        if stanza.tag != STANZA_TAG || stanza.args.len() != 2 {
            return None;
        }
        let tag = B64.decode(&stanza.args[0]).ok()?;
        let legacy = tag == self.recipient.legacy_tag();
        if tag != self.recipient.tag() && !legacy {
            return None; // addressed to another recipient (a backup token)
        }
        let epk_bytes = match B64.decode(&stanza.args[1]) {
            Ok(b) if b.len() == 33 => b,
            _ => return Some(Err(age::DecryptError::InvalidHeader)),
        };
        let Some(epk) = p256::EncodedPoint::from_bytes(&epk_bytes)
            .ok()
            .and_then(|p| Option::<p256::PublicKey>::from(p256::PublicKey::from_encoded_point(&p)))
        else {
            return Some(Err(age::DecryptError::InvalidHeader));
        };
        if stanza.body.len() != 32 {
            return Some(Err(age::DecryptError::InvalidHeader));
        }
        let mut peer = [0u8; 65];
        peer.copy_from_slice(epk.to_encoded_point(false).as_bytes());
        let shared = match self.holder.ecdh(&peer) {
            Ok(s) => s,
            Err(e) => {
                *self.error.borrow_mut() = Some(e);
                return Some(Err(age::DecryptError::KeyDecryptionFailed));
            }
        };
        let key = wrap_key(&shared[..], &epk_bytes, self.recipient);
        let plain = match age_core::primitives::aead_decrypt(&key, 16, &stanza.body) {
            Ok(p) => Zeroizing::new(p),
            Err(_) => return Some(Err(age::DecryptError::DecryptionFailed)),
        };
        let mut fk = Box::new([0u8; 16]);
        fk.copy_from_slice(&plain);
        self.legacy.set(legacy);
        Some(Ok(FileKey::new(fk)))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("no recipient to seal to")]
    NoRecipient,
    #[error("sealing failed: {0}")]
    Age(String),
}

/// Seals `plaintext` to every recipient; returns the ASCII-armored age file.
pub fn seal(recipients: &[SealTo], plaintext: &[u8]) -> Result<String, SealError> {
    if recipients.is_empty() {
        return Err(SealError::NoRecipient);
    }
    let encryptor = age::Encryptor::with_recipients(recipients.iter().map(SealTo::as_age))
        .map_err(|e| SealError::Age(e.to_string()))?;
    let mut armored = Vec::new();
    let armor =
        age::armor::ArmoredWriter::wrap_output(&mut armored, age::armor::Format::AsciiArmor)
            .map_err(|e| SealError::Age(e.to_string()))?;
    let mut w = encryptor
        .wrap_output(armor)
        .map_err(|e| SealError::Age(e.to_string()))?;
    w.write_all(plaintext)
        .and_then(|_| w.finish())
        .and_then(|armor| armor.finish())
        .map_err(|e| SealError::Age(e.to_string()))?;
    String::from_utf8(armored).map_err(|e| SealError::Age(e.to_string()))
}

/// Whether the sealed block addresses one of `recipients` with the tag of releases before 0.2
/// (which stock tools do not recognise), read from its header alone: no token needed.
pub fn has_legacy_tag(armored: &str, recipients: &[Recipient]) -> bool {
    let mut binary = Vec::new();
    let read = age::armor::ArmoredReader::new(armored.as_bytes()).read_to_end(&mut binary);
    if read.is_err() {
        return false;
    }
    let end = binary
        .windows(4)
        .position(|w| w == b"\n---")
        .unwrap_or(binary.len());
    let header = String::from_utf8_lossy(&binary[..end]);
    header
        .lines()
        .filter_map(|l| l.strip_prefix("-> piv-p256 "))
        .filter_map(|args| B64.decode(args.split(' ').next()?).ok())
        .any(|tag| recipients.iter().any(|r| tag == r.legacy_tag()))
}

/// Why an envelope could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum UnsealError<T> {
    #[error("the sealed block is not a valid age file ({0})")]
    Format(String),
    #[error("the sealed block is not addressed to this token's key")]
    NotForThisKey,
    #[error("the sealed block failed its integrity check (damaged or tampered with)")]
    Integrity,
    #[error(transparent)]
    Token(T),
}

/// Opens an armored age file with a token-backed identity.
pub fn unseal<E: Ecdh>(
    armored: &str,
    identity: &TokenIdentity<'_, E>,
) -> Result<Zeroizing<Vec<u8>>, UnsealError<E::Error>> {
    let reader = age::armor::ArmoredReader::new(armored.as_bytes());
    let decryptor = age::Decryptor::new(reader).map_err(|e| UnsealError::Format(e.to_string()))?;
    let mut stream = match decryptor.decrypt(std::iter::once(identity as &dyn age::Identity)) {
        Ok(s) => s,
        Err(e) => {
            if let Some(token_error) = identity.take_error() {
                return Err(UnsealError::Token(token_error));
            }
            return Err(match e {
                age::DecryptError::NoMatchingKeys => UnsealError::NotForThisKey,
                age::DecryptError::DecryptionFailed | age::DecryptError::InvalidMac => {
                    UnsealError::Integrity
                }
                other => UnsealError::Format(other.to_string()),
            });
        }
    };
    let mut plaintext = Zeroizing::new(Vec::new());
    stream
        .read_to_end(&mut plaintext)
        .map_err(|_| UnsealError::Integrity)?;
    Ok(plaintext)
}

#[cfg(test)]
#[path = "envelope_tests.rs"]
mod tests;
