//! The one way a preset computes an HMAC: through a [`MacKey`], which is either the secret in the
//! agent's locked memory ([`MemoryMacKey`]) or a key object on the PKCS#11 token that the token
//! itself MACs with (`token::TokenMacKey`, `add --in-token`). Everything above the trait, the
//! signed string, the headers, the checks, is the same code for both.
//!
//! Some exchanges key their HMAC with something else than the secret as they show it: Kraken
//! and Coinbase Exchange decode it from base64 first ([`KeyForm`]). A key on the token holds
//! those bytes already (`add --in-token` imports [`mac_key_bytes`]); in memory the secret is
//! kept as shown and transformed at each use.

use hmac::{Hmac, Mac};
use zeroize::Zeroizing;

use super::PresetError;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// The hash of an HMAC, as the exchanges use them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

/// How an exchange turns the secret it showed into the bytes its HMAC is keyed with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyForm {
    /// The bytes as shown, nothing removed (Bitget's and Binance's REST signatures).
    AsShown,
    /// The bytes as shown without surrounding whitespace (most exchanges).
    Trimmed,
    /// The base64 the exchange shows, decoded; the text says what the secret should look like.
    Base64(&'static str),
}

/// Something that computes an HMAC without showing its key.
pub trait MacKey: Sync {
    /// The HMAC of the concatenation of `parts`; an error says why not (a token that failed).
    fn mac(&self, hash: Hash, parts: &[&[u8]]) -> Result<Vec<u8>, String>;
}

/// The secret in memory, keyed as the preset's [`KeyForm`] says.
pub struct MemoryMacKey<'a> {
    key: Key<'a>,
}

enum Key<'a> {
    Borrowed(&'a [u8]),
    Decoded(Zeroizing<Vec<u8>>),
}

impl<'a> MemoryMacKey<'a> {
    /// The MAC key of `secret` in `form`, or why the secret does not fit `exchange`.
    pub fn new(
        exchange: &'static str,
        secret: &'a [u8],
        form: KeyForm,
    ) -> Result<Self, PresetError> {
        let key = match form {
            KeyForm::AsShown => Key::Borrowed(secret),
            KeyForm::Trimmed => Key::Borrowed(raw_key(secret)),
            KeyForm::Base64(what) => Key::Decoded(base64_secret(exchange, secret, what)?),
        };
        Ok(Self { key })
    }

    fn bytes(&self) -> &[u8] {
        match &self.key {
            Key::Borrowed(b) => b,
            Key::Decoded(d) => d,
        }
    }
}

impl MacKey for MemoryMacKey<'_> {
    fn mac(&self, hash: Hash, parts: &[&[u8]]) -> Result<Vec<u8>, String> {
        fn run<M: Mac + hmac::digest::KeyInit>(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
            let mut m = <M as hmac::digest::KeyInit>::new_from_slice(key)
                .expect("HMAC takes keys of any length");
            parts.iter().for_each(|p| m.update(p));
            m.finalize().into_bytes().to_vec()
        }
        let key = self.bytes();
        Ok(match hash {
            Hash::Sha256 => run::<Hmac<sha2::Sha256>>(key, parts),
            Hash::Sha384 => run::<Hmac<sha2::Sha384>>(key, parts),
            Hash::Sha512 => run::<Hmac<sha2::Sha512>>(key, parts),
        })
    }
}

/// The bytes a key on the token must hold to stand for `secret` at `exchange`, whose preset
/// keys its MACs in `form` (surrounding whitespace is never part of a key on the token).
pub fn mac_key_bytes(
    exchange: &'static str,
    secret: &[u8],
    form: KeyForm,
) -> Result<Zeroizing<Vec<u8>>, PresetError> {
    let form = match form {
        KeyForm::AsShown => KeyForm::Trimmed,
        other => other,
    };
    let key = MemoryMacKey::new(exchange, secret, form)?;
    let bytes = Zeroizing::new(key.bytes().to_vec());
    if bytes.is_empty() {
        return Err(PresetError::BadSecret {
            exchange,
            reason: "the secret is empty",
        });
    }
    Ok(bytes)
}

pub(crate) fn base64_secret(
    exchange: &'static str,
    secret: &[u8],
    reason: &'static str,
) -> Result<Zeroizing<Vec<u8>>, PresetError> {
    // Users paste secrets from web pages; a trailing newline is not part of the key.
    let trimmed = trim_ascii(secret);
    match STANDARD.decode(trimmed).map(Zeroizing::new) {
        Ok(k) if !k.is_empty() => Ok(k),
        _ => Err(PresetError::BadSecret { exchange, reason }),
    }
}

pub(crate) fn nonempty_secret(exchange: &'static str, secret: &[u8]) -> Result<(), PresetError> {
    if trim_ascii(secret).is_empty() {
        Err(PresetError::BadSecret {
            exchange,
            reason: "the secret is empty",
        })
    } else {
        Ok(())
    }
}

fn trim_ascii(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end]
}

/// Exchanges display the secret as text and use its bytes as the key; whitespace around a
/// pasted secret is never part of it.
pub(crate) fn raw_key(secret: &[u8]) -> &[u8] {
    trim_ascii(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_memory_key_is_the_secret_in_the_exchanges_form() {
        // RFC 4231 test case 2.
        let jefe = MemoryMacKey::new("x", b" Jefe\n", KeyForm::Trimmed).unwrap();
        assert_eq!(
            hex::encode(
                jefe.mac(Hash::Sha256, &[b"what do ya ", b"want for nothing?"])
                    .unwrap()
            ),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let shown = MemoryMacKey::new("x", b" Jefe\n", KeyForm::AsShown).unwrap();
        assert_ne!(
            shown.mac(Hash::Sha256, &[b"what do ya want for nothing?"]),
            jefe.mac(Hash::Sha256, &[b"what do ya want for nothing?"])
        );
        let decoded = MemoryMacKey::new("x", b"SmVmZQ==", KeyForm::Base64("base64")).unwrap();
        assert_eq!(
            decoded.mac(Hash::Sha512, &[b"what do ya want for nothing?"]),
            jefe.mac(Hash::Sha512, &[b"what do ya want for nothing?"])
        );
        assert!(MemoryMacKey::new("x", b"not base64!", KeyForm::Base64("base64")).is_err());
    }

    #[test]
    fn the_token_gets_the_bytes_the_memory_key_is_keyed_with() {
        assert_eq!(
            &*mac_key_bytes("x", b" Jefe\n", KeyForm::AsShown).unwrap(),
            b"Jefe"
        );
        assert_eq!(
            &*mac_key_bytes("x", b"SmVmZQ==\n", KeyForm::Base64("b")).unwrap(),
            b"Jefe"
        );
        assert!(mac_key_bytes("x", b" \n", KeyForm::Trimmed).is_err());
    }
}
