//! Asymmetric exchange API keys (Binance Ed25519, Coinbase CDP P-256 and Ed25519): the kinds an
//! entry can hold, software signers over locked memory, importing a key file, and the public key
//! in the form an exchange's website asks for.

use base64::Engine;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePublicKey};
use zeroize::Zeroizing;

use crate::secret::LockedBytes;
use crate::sign::{AsymmetricSigner, KeyAlgorithm};

/// Why a key could not be used, imported or shown. The messages name the form expected; none
/// shows key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("a {algorithm:?} private key is 32 bytes, not {len}")]
    SeedLength { algorithm: KeyAlgorithm, len: usize },
    #[error("not a valid P-256 private key")]
    InvalidP256,
    #[error("an Ed25519 public key is 32 bytes")]
    PublicLength,
    /// A key encoding the library refused, in its own words.
    #[error("{0}")]
    Encoding(String),
    #[error("the key file is not valid JSON: {0}")]
    Json(String),
    #[error("the key JSON has no \"privateKey\" field")]
    NoPrivateKey,
    #[error("the key JSON's privateKey is neither PEM nor base64")]
    NotPemOrBase64,
    #[error("a base64 Ed25519 private key is 32 or 64 bytes, not {0}")]
    Base64Length(usize),
    #[error("not a P-256 SEC1 private key")]
    NotSec1,
    #[error("the PKCS#8 key is neither Ed25519 nor P-256 (RSA keys are not supported)")]
    UnsupportedPkcs8,
    #[error(
        "not a PEM private key (expected -----BEGIN PRIVATE KEY----- or -----BEGIN EC PRIVATE KEY-----)"
    )]
    NotPem,
}

impl KeyError {
    fn encoding(e: impl std::fmt::Display) -> Self {
        Self::Encoding(e.to_string())
    }
}

/// What an entry holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyType {
    /// A shared HMAC secret (and maybe a passphrase): the usual exchange API secret.
    Hmac,
    /// An Ed25519 private key sealed like a secret, held in locked memory when unsealed.
    Ed25519,
    /// A P-256 private key sealed like a secret.
    P256,
    /// An Ed25519 key generated on the token: it never leaves it; the token signs.
    TokenEd25519,
    /// A P-256 key on the token.
    TokenP256,
    /// An HMAC secret imported into the token (`add --in-token`): the token MACs; the entry
    /// seals only the passphrase, if any.
    TokenHmac,
}

impl KeyType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hmac => "hmac",
            Self::Ed25519 => "ed25519",
            Self::P256 => "p256",
            Self::TokenEd25519 => "token-ed25519",
            Self::TokenP256 => "token-p256",
            Self::TokenHmac => "token-hmac",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "hmac" => Self::Hmac,
            "ed25519" => Self::Ed25519,
            "p256" => Self::P256,
            "token-ed25519" => Self::TokenEd25519,
            "token-p256" => Self::TokenP256,
            "token-hmac" => Self::TokenHmac,
            _ => return None,
        })
    }

    pub fn algorithm(self) -> Option<KeyAlgorithm> {
        match self {
            Self::Hmac | Self::TokenHmac => None,
            Self::Ed25519 | Self::TokenEd25519 => Some(KeyAlgorithm::Ed25519),
            Self::P256 | Self::TokenP256 => Some(KeyAlgorithm::P256),
        }
    }

    pub fn in_token(self) -> bool {
        matches!(self, Self::TokenEd25519 | Self::TokenP256 | Self::TokenHmac)
    }

    pub fn software(algorithm: KeyAlgorithm) -> Self {
        match algorithm {
            KeyAlgorithm::Ed25519 => Self::Ed25519,
            KeyAlgorithm::P256 => Self::P256,
        }
    }

    pub fn token(algorithm: KeyAlgorithm) -> Self {
        match algorithm {
            KeyAlgorithm::Ed25519 => Self::TokenEd25519,
            KeyAlgorithm::P256 => Self::TokenP256,
        }
    }
}

/// A private key in locked memory (the 32-byte Ed25519 seed or P-256 scalar). Each signature
/// builds the signing key on the stack and drops (zeroizes) it at once.
pub struct SoftKey {
    algorithm: KeyAlgorithm,
    material: LockedBytes,
}

impl std::fmt::Debug for SoftKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SoftKey({:?}, <redacted>)", self.algorithm)
    }
}

impl SoftKey {
    pub fn new(algorithm: KeyAlgorithm, material: LockedBytes) -> Result<Self, KeyError> {
        let key = Self {
            algorithm,
            material,
        };
        key.public_key()?;
        Ok(key)
    }

    fn seed(&self) -> Result<Zeroizing<[u8; 32]>, KeyError> {
        let bytes = self.material.as_slice();
        if bytes.len() != 32 {
            return Err(KeyError::SeedLength {
                algorithm: self.algorithm,
                len: bytes.len(),
            });
        }
        let mut out = Zeroizing::new([0u8; 32]);
        out.copy_from_slice(bytes);
        Ok(out)
    }

    /// The raw public key: 32 bytes (Ed25519) or the uncompressed 65-byte point (P-256).
    pub fn public_key(&self) -> Result<Vec<u8>, KeyError> {
        let seed = self.seed()?;
        Ok(match self.algorithm {
            KeyAlgorithm::Ed25519 => ed25519_dalek::SigningKey::from_bytes(&seed)
                .verifying_key()
                .to_bytes()
                .to_vec(),
            KeyAlgorithm::P256 => {
                use p256::elliptic_curve::sec1::ToEncodedPoint;
                let sk = p256::SecretKey::from_bytes(seed.as_ref().into())
                    .map_err(|_| KeyError::InvalidP256)?;
                sk.public_key().to_encoded_point(false).as_bytes().to_vec()
            }
        })
    }
}

impl AsymmetricSigner for SoftKey {
    fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, String> {
        let seed = self.seed().map_err(|e| e.to_string())?;
        match self.algorithm {
            KeyAlgorithm::Ed25519 => {
                use ed25519_dalek::Signer;
                let sk = ed25519_dalek::SigningKey::from_bytes(&seed);
                Ok(sk.sign(message).to_bytes().to_vec())
            }
            KeyAlgorithm::P256 => {
                use p256::ecdsa::signature::Signer;
                let sk = p256::ecdsa::SigningKey::from_bytes(seed.as_ref().into())
                    .map_err(|_| KeyError::InvalidP256.to_string())?;
                let sig: p256::ecdsa::Signature = sk.sign(message);
                Ok(sig.to_bytes().to_vec())
            }
        }
    }
}

/// Whether `signature` is `public`'s signature of `message`: Ed25519 (32-byte key), or ECDSA
/// P-256 over SHA-256 of the message (SEC1 key, `r || s`), as the token and [`SoftKey`] make
/// them.
pub fn verify(algorithm: KeyAlgorithm, public: &[u8], message: &[u8], signature: &[u8]) -> bool {
    match algorithm {
        KeyAlgorithm::Ed25519 => {
            let (Ok(key), Ok(sig)) = (
                <[u8; 32]>::try_from(public),
                <[u8; 64]>::try_from(signature),
            ) else {
                return false;
            };
            ed25519_dalek::VerifyingKey::from_bytes(&key).is_ok_and(|k| {
                k.verify_strict(message, &ed25519_dalek::Signature::from_bytes(&sig))
                    .is_ok()
            })
        }
        KeyAlgorithm::P256 => {
            use p256::ecdsa::signature::Verifier;
            let (Ok(key), Ok(sig)) = (
                p256::ecdsa::VerifyingKey::from_sec1_bytes(public),
                p256::ecdsa::Signature::from_slice(signature),
            ) else {
                return false;
            };
            key.verify(message, &sig).is_ok()
        }
    }
}

/// A new random private key (for `keygen --in-memory`).
pub fn generate(algorithm: KeyAlgorithm) -> Zeroizing<Vec<u8>> {
    match algorithm {
        KeyAlgorithm::Ed25519 => {
            let seed = Zeroizing::new(rand::random::<[u8; 32]>());
            Zeroizing::new(seed.to_vec())
        }
        KeyAlgorithm::P256 => {
            let sk = p256::SecretKey::random(&mut rand::rngs::OsRng);
            Zeroizing::new(sk.to_bytes().to_vec())
        }
    }
}

/// The public key as a PEM `PUBLIC KEY` (SubjectPublicKeyInfo): what Binance's "register an
/// Ed25519 key" page and most tools take.
pub fn public_key_pem(algorithm: KeyAlgorithm, public: &[u8]) -> Result<String, KeyError> {
    let line = p256::pkcs8::LineEnding::LF;
    match algorithm {
        KeyAlgorithm::Ed25519 => {
            let bytes: [u8; 32] = public.try_into().map_err(|_| KeyError::PublicLength)?;
            let vk = ed25519_dalek::VerifyingKey::from_bytes(&bytes).map_err(KeyError::encoding)?;
            vk.to_public_key_pem(line).map_err(KeyError::encoding)
        }
        KeyAlgorithm::P256 => {
            use p256::pkcs8::EncodePublicKey as _;
            let pk = p256::PublicKey::from_sec1_bytes(public).map_err(KeyError::encoding)?;
            pk.to_public_key_pem(line).map_err(KeyError::encoding)
        }
    }
}

/// A private key read from a file.
pub struct ImportedKey {
    pub algorithm: KeyAlgorithm,
    pub secret: Zeroizing<Vec<u8>>,
    /// The key's own id where the file carries one (Coinbase's key JSON `name` / `id`).
    pub key_id: Option<String>,
}

impl std::fmt::Debug for ImportedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportedKey")
            .field("algorithm", &self.algorithm)
            .field("secret", &"<redacted>")
            .field("key_id", &self.key_id)
            .finish()
    }
}

/// Reads a PEM private key (PKCS#8 Ed25519 or P-256, or SEC1 `EC PRIVATE KEY`), or Coinbase's
/// CDP key JSON (`{"name": ..., "privateKey": "-----BEGIN EC PRIVATE KEY-----..."}` or
/// `{"id": ..., "privateKey": "<base64 of seed || public>"}`).
pub fn import(text: &str) -> Result<ImportedKey, KeyError> {
    let trimmed = text.trim();
    if trimmed.starts_with('{') {
        let v: serde_json::Value =
            serde_json::from_str(trimmed).map_err(|e| KeyError::Json(e.to_string()))?;
        let private = v["privateKey"].as_str().ok_or(KeyError::NoPrivateKey)?;
        let id = v["name"].as_str().or(v["id"].as_str()).map(str::to_owned);
        let mut key = if private.contains("-----BEGIN") {
            import_pem(private)?
        } else {
            let raw = Zeroizing::new(
                base64::engine::general_purpose::STANDARD
                    .decode(private.trim())
                    .map_err(|_| KeyError::NotPemOrBase64)?,
            );
            // Coinbase's Ed25519 keys: 64 bytes, the seed then the public key.
            if raw.len() != 64 && raw.len() != 32 {
                return Err(KeyError::Base64Length(raw.len()));
            }
            ImportedKey {
                algorithm: KeyAlgorithm::Ed25519,
                secret: Zeroizing::new(raw[..32].to_vec()),
                key_id: None,
            }
        };
        key.key_id = id;
        return Ok(key);
    }
    import_pem(trimmed)
}

fn import_pem(pem: &str) -> Result<ImportedKey, KeyError> {
    if pem.contains("BEGIN EC PRIVATE KEY") {
        let sk = p256::SecretKey::from_sec1_pem(pem).map_err(|_| KeyError::NotSec1)?;
        return Ok(ImportedKey {
            algorithm: KeyAlgorithm::P256,
            secret: Zeroizing::new(sk.to_bytes().to_vec()),
            key_id: None,
        });
    }
    if pem.contains("BEGIN PRIVATE KEY") {
        if let Ok(sk) = ed25519_dalek::SigningKey::from_pkcs8_pem(pem) {
            return Ok(ImportedKey {
                algorithm: KeyAlgorithm::Ed25519,
                secret: Zeroizing::new(sk.to_bytes().to_vec()),
                key_id: None,
            });
        }
        if let Ok(sk) = p256::SecretKey::from_pkcs8_pem(pem) {
            return Ok(ImportedKey {
                algorithm: KeyAlgorithm::P256,
                secret: Zeroizing::new(sk.to_bytes().to_vec()),
                key_id: None,
            });
        }
        return Err(KeyError::UnsupportedPkcs8);
    }
    Err(KeyError::NotPem)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8032 section 7.1, TEST 1: the empty message.
    #[test]
    fn ed25519_rfc8032_test_1() {
        let seed = hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
            .unwrap();
        let key = SoftKey::new(KeyAlgorithm::Ed25519, LockedBytes::new(&seed)).unwrap();
        assert_eq!(
            hex::encode(key.public_key().unwrap()),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        );
        assert_eq!(
            hex::encode(key.sign(b"").unwrap()),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        );
        assert!(format!("{key:?}").contains("redacted"));
    }

    #[test]
    fn p256_signature_verifies() {
        use p256::ecdsa::signature::Verifier;
        let secret = generate(KeyAlgorithm::P256);
        let key = SoftKey::new(KeyAlgorithm::P256, LockedBytes::new(&secret)).unwrap();
        let sig = key.sign(b"message").unwrap();
        let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(&key.public_key().unwrap()).unwrap();
        let sig = p256::ecdsa::Signature::from_slice(&sig).unwrap();
        vk.verify(b"message", &sig).unwrap();
    }

    #[test]
    fn imports_pem_and_coinbase_json() {
        // RFC 8410 section 10.3 example Ed25519 private key.
        let pem = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n-----END PRIVATE KEY-----\n";
        let k = import(pem).unwrap();
        assert_eq!(k.algorithm, KeyAlgorithm::Ed25519);
        assert_eq!(
            hex::encode(&k.secret[..]),
            "d4ee72dbf913584ad5b6d8f1f769f8ad3afe7c28cbf1d4fbe097a88f44755842"
        );
        let p256_key = p256::SecretKey::random(&mut rand::rngs::OsRng);
        use p256::pkcs8::EncodePrivateKey;
        let sec1 = p256_key.to_sec1_pem(p256::pkcs8::LineEnding::LF).unwrap();
        let json =
            serde_json::json!({"name": "organizations/o/apiKeys/k", "privateKey": sec1.as_str()})
                .to_string();
        let k = import(&json).unwrap();
        assert_eq!(k.algorithm, KeyAlgorithm::P256);
        assert_eq!(k.key_id.as_deref(), Some("organizations/o/apiKeys/k"));
        assert_eq!(&k.secret[..], &p256_key.to_bytes()[..]);
        let pkcs8 = p256_key.to_pkcs8_pem(p256::pkcs8::LineEnding::LF).unwrap();
        assert_eq!(import(&pkcs8).unwrap().algorithm, KeyAlgorithm::P256);
        assert_eq!(import("hello").unwrap_err(), KeyError::NotPem);
        assert!(KeyError::NotPem
            .to_string()
            .contains("not a PEM private key"));
    }

    #[test]
    fn public_key_pem_is_spki() {
        let seed = hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
            .unwrap();
        let key = SoftKey::new(KeyAlgorithm::Ed25519, LockedBytes::new(&seed)).unwrap();
        let pem = public_key_pem(KeyAlgorithm::Ed25519, &key.public_key().unwrap()).unwrap();
        // SPKI for Ed25519: 302a300506032b6570032100 || key.
        assert_eq!(pem, "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n-----END PUBLIC KEY-----\n");
    }
}
