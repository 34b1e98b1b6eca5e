//! One store entry: the clear metadata (so `list` needs no token) and the sealed age block. The
//! sealed plaintext holds the secret, the passphrase and a copy of the security-relevant metadata,
//! which is what the agent enforces; a clear copy that differs is refused by name.
//!
//! Sealed plaintext layout (inside age; SSH wire encoding):
//! `"apisec-sealed-v1\n" || string meta_json || string secret || bool has_passphrase || string passphrase`

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::spelled::Spelled;
use crate::envelope;
use crate::keys::KeyType;
use crate::policy::Policy;
use crate::proto::wire::{Cursor, Out};
use crate::secret::LockedBytes;
use crate::sign::Freshness;

const SEALED_MAGIC: &[u8] = b"apisec-sealed-v1\n";
pub const FORMAT_VERSION: u32 = 1;

/// The security-relevant metadata: enforced from the sealed copy, shown from the clear copy.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EntryMeta {
    pub name: String,
    pub exchange: String,
    /// The key id the exchange issued; public, sent with every request.
    pub api_key: String,
    /// When the entry was sealed, `YYYY-MM-DDTHH:MM:SSZ`.
    pub created: String,
    /// Last day of validity, `YYYY-MM-DD` (UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// Whether `apisec mac` may use this secret (it signs arbitrary bytes).
    #[serde(default)]
    pub allow_raw: bool,
    /// How far a client timestamp may stray from the agent's clock: `5s`, `off`, ...
    #[serde(default = "default_freshness")]
    pub freshness: Spelled<Freshness>,
    /// `hmac` (a shared secret), `ed25519` / `p256` (a sealed private key), `token-ed25519` /
    /// `token-p256` (a key that lives on the token).
    #[serde(default = "default_key_type", skip_serializing_if = "is_hmac")]
    pub key_type: Spelled<KeyType>,
    /// The label of the key on the token, for `token-*` key types.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_key: Option<String>,
    /// The public key (hex) of an asymmetric key, to show and to check against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
    /// The recipients of the backup tokens that hold a copy of the token key (`token-hmac`):
    /// the tokens the agent may MAC with when the primary is absent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub token_copies: Vec<String>,
    /// Which clients and requests may use the secret (docs/policy.md).
    #[serde(
        default = "Policy::standard",
        skip_serializing_if = "Policy::is_default"
    )]
    pub policy: Policy,
}

fn default_key_type() -> Spelled<KeyType> {
    Spelled::new(KeyType::Hmac)
}

fn is_hmac(k: &Spelled<KeyType>) -> bool {
    k.as_str() == "hmac"
}

fn default_freshness() -> Spelled<Freshness> {
    Spelled::new(Freshness::DEFAULT)
}

impl EntryMeta {
    pub fn freshness(&self) -> Freshness {
        // Validated at `add`; an unparsable value (a hand edit) falls back to the safe default.
        self.freshness.get().unwrap_or(Freshness::DEFAULT)
    }

    /// The fields whose clear and sealed values differ.
    pub fn differences(&self, sealed: &EntryMeta) -> Vec<&'static str> {
        // Destructured without `..`: a field added to EntryMeta does not compile until it is
        // compared here, so the tamper check cannot silently miss it.
        let EntryMeta {
            name,
            exchange,
            api_key,
            created,
            expires,
            allow_raw,
            freshness,
            key_type,
            token_key,
            public_key,
            token_copies,
            policy,
        } = self;
        [
            ("name", *name == sealed.name),
            ("exchange", *exchange == sealed.exchange),
            ("api_key", *api_key == sealed.api_key),
            ("created", *created == sealed.created),
            ("expires", *expires == sealed.expires),
            ("allow_raw", *allow_raw == sealed.allow_raw),
            ("freshness", *freshness == sealed.freshness),
            ("key_type", *key_type == sealed.key_type),
            ("token_key", *token_key == sealed.token_key),
            ("public_key", *public_key == sealed.public_key),
            ("token_copies", *token_copies == sealed.token_copies),
            ("policy", *policy == sealed.policy),
        ]
        .into_iter()
        .filter(|(_, same)| !same)
        .map(|(field, _)| field)
        .collect()
    }
}

/// The file on disk, `NAME.toml`.
#[derive(Serialize, Deserialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct EntryFile {
    pub format: u32,
    pub name: String,
    pub exchange: String,
    pub api_key: String,
    pub created: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    #[serde(default)]
    pub allow_raw: bool,
    #[serde(default = "default_freshness")]
    pub freshness: Spelled<Freshness>,
    #[serde(default = "default_key_type", skip_serializing_if = "is_hmac")]
    pub key_type: Spelled<KeyType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub token_copies: Vec<String>,
    /// For a token-held key: the token key's signature of the entry's statement
    /// ([`super::attest`]), base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestation: Option<String>,
    /// The recipients the block is sealed to (informational; the age header is authoritative).
    pub recipients: Vec<String>,
    /// The ASCII-armored age file.
    pub sealed: String,
    /// A table, so it comes last in the TOML.
    #[serde(
        default = "Policy::standard",
        skip_serializing_if = "Policy::is_default"
    )]
    pub policy: Policy,
}

const HEADER: &str = "# apisec-agent store entry. The clear fields are for `apisec-agent list`;\n\
# the sealed block holds the secret and a copy of every field above it, which is what the agent\n\
# enforces. Do not edit: an entry whose clear fields differ from the sealed copy is refused.\n";

impl EntryFile {
    pub fn meta(&self) -> EntryMeta {
        EntryMeta {
            name: self.name.clone(),
            exchange: self.exchange.clone(),
            api_key: self.api_key.clone(),
            created: self.created.clone(),
            expires: self.expires.clone(),
            allow_raw: self.allow_raw,
            freshness: self.freshness.clone(),
            key_type: self.key_type.clone(),
            token_key: self.token_key.clone(),
            public_key: self.public_key.clone(),
            token_copies: self.token_copies.clone(),
            policy: self.policy.clone(),
        }
    }

    pub fn to_toml(&self) -> String {
        let body = toml::to_string(self).expect("an entry always serializes");
        format!("{HEADER}{body}")
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let file: Self = toml::from_str(text).map_err(|e| e.message().to_owned())?;
        if file.format != FORMAT_VERSION {
            return Err(format!(
                "format {} is not one this agent reads (it reads {FORMAT_VERSION}); upgrade apisec-agent",
                file.format
            ));
        }
        Ok(file)
    }
}

/// Key material for one entry, as it goes into the seal.
pub struct SecretMaterial<'a> {
    pub secret: &'a [u8],
    pub passphrase: Option<&'a [u8]>,
}

/// Seals `material` and a copy of `meta` to `recipients`, giving the file to write.
pub fn seal(
    meta: &EntryMeta,
    material: &SecretMaterial<'_>,
    recipients: &[envelope::SealTo],
) -> Result<EntryFile, envelope::SealError> {
    let meta_json = serde_json::to_vec(meta).expect("metadata always serializes");
    let mut out = Out::default();
    out.buf.extend_from_slice(SEALED_MAGIC);
    out.bytes(&meta_json)
        .bytes(material.secret)
        .bool(material.passphrase.is_some())
        .bytes(material.passphrase.unwrap_or_default());
    let plaintext = Zeroizing::new(out.buf);
    let sealed = envelope::seal(recipients, &plaintext)?;
    Ok(EntryFile {
        format: FORMAT_VERSION,
        name: meta.name.clone(),
        exchange: meta.exchange.clone(),
        api_key: meta.api_key.clone(),
        created: meta.created.clone(),
        expires: meta.expires.clone(),
        allow_raw: meta.allow_raw,
        freshness: meta.freshness.clone(),
        key_type: meta.key_type.clone(),
        token_key: meta.token_key.clone(),
        public_key: meta.public_key.clone(),
        token_copies: meta.token_copies.clone(),
        attestation: None,
        recipients: recipients.iter().map(|r| r.to_string()).collect(),
        sealed,
        policy: meta.policy.clone(),
    })
}

/// An entry after unsealing: the sealed metadata and the key material in locked memory. The
/// secret and the passphrase share one locked page (`secret || passphrase`): a thousand unsealed
/// secrets then cost a thousand pages, not two thousand.
#[derive(Debug)]
pub struct Unsealed {
    pub meta: EntryMeta,
    material: LockedBytes,
    secret_len: usize,
    has_passphrase: bool,
}

impl Unsealed {
    pub fn secret(&self) -> &[u8] {
        &self.material.as_slice()[..self.secret_len]
    }

    pub fn passphrase(&self) -> Option<&[u8]> {
        self.has_passphrase
            .then(|| &self.material.as_slice()[self.secret_len..])
    }

    /// Moves the secret out into its own locked page (for an asymmetric key's signer), leaving
    /// nothing behind.
    pub fn take_secret(&mut self) -> LockedBytes {
        let secret = LockedBytes::new(self.secret());
        self.material = LockedBytes::new(&[]);
        self.secret_len = 0;
        self.has_passphrase = false;
        secret
    }
}

/// Parses a sealed plaintext. The secret goes straight from the (zeroized) plaintext buffer into
/// locked memory, with no other copy.
pub fn parse_sealed(plaintext: &[u8]) -> Result<Unsealed, String> {
    let rest = plaintext
        .strip_prefix(SEALED_MAGIC)
        .ok_or("the sealed plaintext has no apisec header")?;
    let mut c = Cursor::new(rest);
    let meta_json = c.bytes("sealed metadata").map_err(|e| e.to_string())?;
    let meta: EntryMeta = serde_json::from_slice(meta_json)
        .map_err(|e| format!("the sealed metadata is unreadable: {e}"))?;
    let secret = c.bytes("sealed secret").map_err(|e| e.to_string())?;
    let has_pass = c
        .bool("sealed passphrase flag")
        .map_err(|e| e.to_string())?;
    let pass = c.bytes("sealed passphrase").map_err(|e| e.to_string())?;
    c.finish("sealed plaintext").map_err(|e| e.to_string())?;
    let mut joined = zeroize::Zeroizing::new(Vec::with_capacity(secret.len() + pass.len()));
    joined.extend_from_slice(secret);
    joined.extend_from_slice(pass);
    Ok(Unsealed {
        meta,
        material: LockedBytes::new(&joined),
        secret_len: secret.len(),
        has_passphrase: has_pass,
    })
}
