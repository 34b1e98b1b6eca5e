//! The sealed envelope: an age v1 file with one stanza per recipient. A token's recipient
//! takes one of two stanza kinds, each behind [`StanzaKind`]:
//! - [`piv_p256`]: age-plugin-yubikey's `piv-p256`, byte for byte, so that an entry sealed to
//!   a YubiKey PIV slot decrypts with stock `rage` + `age-plugin-yubikey`; unsealed with one
//!   ECDH on the token (YubiKey PIV, and PKCS#11 tokens that derive);
//! - [`rsa_oaep`]: `apisec-rsa-oaep`, for PKCS#11 tokens that cannot derive (FIPS-mode HSMs,
//!   a token behind `p11-kit server`); unsealed with one RSA-OAEP decryption on the token.
//!
//! An offline recipient is age's own X25519. Sealing needs only public keys; unsealing one
//! operation of the token's private key ([`WrappingKey`]).

mod piv_p256;
mod rsa_oaep;

pub use piv_p256::{P256Recipient, STANZA_TAG};
pub use rsa_oaep::{RsaRecipient, MIN_MODULUS_BITS as RSA_MIN_MODULUS_BITS};

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::fmt;
use std::io::{Read, Write};
use std::str::FromStr;

use age_core::format::{FileKey, Stanza};
use base64::Engine;
use zeroize::Zeroizing;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD_NO_PAD;

/// Whatever holds the private half of a token's wrapping key: the one operation each stanza
/// kind needs of it, done inside the token.
pub trait WrappingKey {
    type Error;
    /// The ECDH shared x-coordinate with a peer point (uncompressed, 65 bytes).
    fn ecdh(&self, peer_uncompressed: &[u8; 65]) -> Result<Zeroizing<[u8; 32]>, Self::Error>;
    /// RSAES-OAEP decryption (SHA-1, MGF1-SHA-1, empty label); `Ok(None)` when the token finds
    /// the ciphertext invalid (damaged, or not made with its key).
    fn rsa_oaep_decrypt(
        &self,
        ciphertext: &[u8],
    ) -> Result<Option<Zeroizing<Vec<u8>>>, Self::Error>;
}

/// One kind of token stanza: how a recipient wraps a file key, and opens a stanza addressed to
/// it with the token's key. A new kind is one file implementing this and a [`Recipient`] arm.
trait StanzaKind {
    fn wrap(&self, file_key: &FileKey) -> Stanza;
    /// `None` when the stanza is not of this kind or not addressed to this recipient.
    fn unwrap<K: WrappingKey>(
        &self,
        stanza: &Stanza,
        key: &K,
    ) -> Option<Result<Unwrapped, UnwrapFailure<K::Error>>>;
}

/// A file key a stanza gave up.
struct Unwrapped {
    file_key: FileKey,
    /// Addressed with the tag of releases before 0.2 (`piv-p256` only).
    legacy_tag: bool,
}

/// Why a stanza addressed to this recipient did not open.
enum UnwrapFailure<E> {
    /// Its arguments or body are malformed.
    Header,
    /// The token's answer did not authenticate: damaged or tampered with.
    Integrity,
    /// The token failed (wrong PIN, gone, refused).
    Token(E),
}

/// A token's public key, that entries are sealed to and that the token unseals.
#[derive(Clone, PartialEq, Eq)]
pub enum Recipient {
    /// EC P-256: `age1yubikey1...`, the `piv-p256` stanza.
    P256(P256Recipient),
    /// RSA: `age1apisec-rsa1...`, the `apisec-rsa-oaep` stanza.
    Rsa(RsaRecipient),
}

impl fmt::Debug for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Recipient({self})")
    }
}

impl Recipient {
    /// A P-256 recipient from a SEC1 point, compressed or not.
    pub fn from_sec1(bytes: &[u8]) -> Option<Self> {
        P256Recipient::from_sec1(bytes).map(Self::P256)
    }

    /// The P-256 key, for what only such keys do (a PIV slot, stock age-plugin-yubikey).
    pub fn p256(&self) -> Option<&P256Recipient> {
        match self {
            Self::P256(r) => Some(r),
            Self::Rsa(_) => None,
        }
    }

    /// How entries sealed to it are opened, in a few words for messages.
    pub fn stanza_kind(&self) -> &'static str {
        match self {
            Self::P256(_) => "P-256 ECDH (the piv-p256 stanza)",
            Self::Rsa(_) => "RSA-OAEP (the apisec-rsa-oaep stanza)",
        }
    }

    fn wrap(&self, file_key: &FileKey) -> Stanza {
        match self {
            Self::P256(r) => r.wrap(file_key),
            Self::Rsa(r) => r.wrap(file_key),
        }
    }

    fn unwrap<K: WrappingKey>(
        &self,
        stanza: &Stanza,
        key: &K,
    ) -> Option<Result<Unwrapped, UnwrapFailure<K::Error>>> {
        match self {
            Self::P256(r) => r.unwrap(stanza, key),
            Self::Rsa(r) => r.unwrap(stanza, key),
        }
    }
}

impl fmt::Display for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::P256(r) => r.fmt(f),
            Self::Rsa(r) => r.fmt(f),
        }
    }
}

/// Whether `s` has the `HRP1` start of a recipient of `hrp`.
fn has_hrp(s: &str, hrp: &str) -> bool {
    s.strip_prefix(hrp)
        .is_some_and(|rest| rest.starts_with('1'))
}

/// A recipient string: bech32 (not bech32m) of `data` under `hrp`.
fn bech32_encode(hrp: &str, data: &[u8]) -> Result<String, fmt::Error> {
    use bech32::ToBase32;
    bech32::encode(hrp, data.to_base32(), bech32::Variant::Bech32).map_err(|_| fmt::Error)
}

/// The data of a bech32 (not bech32m) recipient string under `hrp`, if it is one.
fn bech32_decode(s: &str, hrp: &str) -> Option<Vec<u8>> {
    use bech32::FromBase32;
    let (got, data, variant) = bech32::decode(s).ok()?;
    if got != hrp || variant != bech32::Variant::Bech32 {
        return None;
    }
    Vec::<u8>::from_base32(&data).ok()
}

impl Recipient {
    /// Whether `s` is spelled as a token's recipient (of either kind), well formed or not.
    fn names_a_token(s: &str) -> bool {
        has_hrp(s, rsa_oaep::RECIPIENT_HRP) || has_hrp(s, piv_p256::RECIPIENT_HRP)
    }
}

impl FromStr for Recipient {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if has_hrp(s, rsa_oaep::RECIPIENT_HRP) {
            return s.parse().map(Self::Rsa);
        }
        if has_hrp(s, piv_p256::RECIPIENT_HRP) {
            return s.parse().map(Self::P256);
        }
        Err(format!(
            "{s:?} is not a token's recipient (age1yubikey1... for a P-256 key, \
             age1apisec-rsa1... for an RSA key)"
        ))
    }
}

impl age::Recipient for Recipient {
    fn wrap_file_key(
        &self,
        file_key: &FileKey,
    ) -> Result<(Vec<Stanza>, HashSet<String>), age::EncryptError> {
        Ok((vec![self.wrap(file_key)], HashSet::new()))
    }
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
        if Recipient::names_a_token(s) {
            return s.parse().map(Self::Token);
        }
        s.parse::<age::x25519::Recipient>()
            .map(Self::Offline)
            .map_err(|_| {
                format!(
                    "{s:?} is neither a token's recipient (age1yubikey1... for a P-256 key, \
                     age1apisec-rsa1... for an RSA key) nor an age1... X25519 recipient (from \
                     age-keygen or rage-keygen)"
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

/// An age identity that opens the stanzas addressed to `recipient` with the token's key. The
/// token's own error (wrong PIN, token gone) is kept aside, since age's error type has no room
/// for it.
pub struct TokenIdentity<'a, K: WrappingKey> {
    recipient: &'a Recipient,
    key: &'a K,
    error: RefCell<Option<K::Error>>,
    /// The stanza it opened carried the tag of releases before 0.2.
    legacy: Cell<bool>,
}

impl<'a, K: WrappingKey> TokenIdentity<'a, K> {
    pub fn new(recipient: &'a Recipient, key: &'a K) -> Self {
        Self {
            recipient,
            key,
            error: RefCell::new(None),
            legacy: Cell::new(false),
        }
    }

    pub fn take_error(&self) -> Option<K::Error> {
        self.error.borrow_mut().take()
    }

    /// Whether the stanza it opened was addressed with [`P256Recipient::legacy_tag`]: the entry
    /// opens here, but not with stock age-plugin-yubikey until it is sealed again.
    pub fn opened_legacy_tag(&self) -> bool {
        self.legacy.get()
    }
}

impl<K: WrappingKey> age::Identity for TokenIdentity<'_, K> {
    fn unwrap_stanza(&self, stanza: &Stanza) -> Option<Result<FileKey, age::DecryptError>> {
        Some(match self.recipient.unwrap(stanza, self.key)? {
            Ok(unwrapped) => {
                self.legacy.set(unwrapped.legacy_tag);
                Ok(unwrapped.file_key)
            }
            Err(UnwrapFailure::Header) => Err(age::DecryptError::InvalidHeader),
            Err(UnwrapFailure::Integrity) => Err(age::DecryptError::DecryptionFailed),
            Err(UnwrapFailure::Token(e)) => {
                *self.error.borrow_mut() = Some(e);
                Err(age::DecryptError::KeyDecryptionFailed)
            }
        })
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
    let p256: Vec<&P256Recipient> = recipients.iter().filter_map(Recipient::p256).collect();
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
        .any(|tag| p256.iter().any(|r| tag == r.legacy_tag()))
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
pub fn unseal<K: WrappingKey>(
    armored: &str,
    identity: &TokenIdentity<'_, K>,
) -> Result<Zeroizing<Vec<u8>>, UnsealError<K::Error>> {
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
mod tests;
