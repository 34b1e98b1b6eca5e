//! A software age identity for the `piv-p256` stanza, written for the tests from
//! age-plugin-yubikey's format description (not from the agent's code), and fed with the virtual
//! card's private key: if an entry the agent sealed opens with it, the agent writes the real
//! format.
//!
//! Format: recipient = bech32("age1yubikey", compressed point); stanza `piv-p256 TAG EPK` with
//! TAG = SHA-256(compressed point)[..4] (age-plugin-yubikey `src/p256.rs`; stock rage with the
//! plugin checks it, tests/tests/stock_age.rs), EPK = compressed ephemeral point (unpadded
//! base64); wrap key =
//! HKDF-SHA256(salt = EPK || recipient point, ikm = ECDH x, info = "piv-p256"); body =
//! ChaCha20-Poly1305(wrap key, nonce 0, file key).

use age::DecryptError;
use age_core::format::{FileKey, Stanza};
use base64::Engine;
use bech32::ToBase32;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::ChaCha20Poly1305;
use hkdf::Hkdf;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use sha2::{Digest, Sha256};

pub struct SoftPivIdentity {
    secret: p256::SecretKey,
    compressed: Vec<u8>,
    recipient: String,
}

impl SoftPivIdentity {
    /// From a raw P-256 private scalar (big-endian, 32 bytes).
    pub fn from_scalar(scalar: &[u8]) -> Self {
        let secret = p256::SecretKey::from_slice(scalar).expect("a P-256 scalar");
        let compressed = secret
            .public_key()
            .to_encoded_point(true)
            .as_bytes()
            .to_vec();
        let recipient = bech32::encode(
            "age1yubikey",
            compressed.to_base32(),
            bech32::Variant::Bech32,
        )
        .unwrap();
        Self {
            secret,
            compressed,
            recipient,
        }
    }

    /// The recipient string age-plugin-yubikey prints for this key.
    pub fn recipient(&self) -> &str {
        &self.recipient
    }
}

impl age::Identity for SoftPivIdentity {
    fn unwrap_stanza(&self, stanza: &Stanza) -> Option<Result<FileKey, DecryptError>> {
        let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
        if stanza.tag != "piv-p256" || stanza.args.len() != 2 {
            return None;
        }
        // age-plugin-yubikey's tag (src/p256.rs): SHA-256 of the compressed point.
        let tag = &Sha256::digest(&self.compressed)[..4];
        if b64.decode(&stanza.args[0]).ok()? != tag {
            return None;
        }
        let epk = b64.decode(&stanza.args[1]).ok()?;
        let epk_point = p256::PublicKey::from_sec1_bytes(&epk).ok()?;
        let shared =
            p256::ecdh::diffie_hellman(self.secret.to_nonzero_scalar(), epk_point.as_affine());
        let mut salt = epk.clone();
        salt.extend_from_slice(&self.compressed);
        let mut wrap_key = [0u8; 32];
        Hkdf::<Sha256>::new(Some(&salt), shared.raw_secret_bytes())
            .expand(b"piv-p256", &mut wrap_key)
            .unwrap();
        let plain = ChaCha20Poly1305::new(&wrap_key.into())
            .decrypt(&[0u8; 12].into(), stanza.body.as_slice());
        Some(match plain {
            Ok(p) if p.len() == 16 => {
                let mut fk = Box::new([0u8; 16]);
                fk.copy_from_slice(&p);
                Ok(FileKey::new(fk))
            }
            _ => Err(DecryptError::DecryptionFailed),
        })
    }
}

/// Opens an ASCII-armored age file with `identity`.
pub fn decrypt(armored: &str, identity: &SoftPivIdentity) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let reader = age::armor::ArmoredReader::new(armored.as_bytes());
    let decryptor = age::Decryptor::new(reader).map_err(|e| e.to_string())?;
    let mut stream = decryptor
        .decrypt(std::iter::once(identity as &dyn age::Identity))
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    stream.read_to_end(&mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

/// The `piv-p256` stanza tag age-plugin-yubikey gives `recipient` (`age1yubikey1...`): SHA-256 of
/// the compressed point, first 4 bytes, unpadded base64.
pub fn plugin_tag(recipient: &str) -> String {
    use bech32::FromBase32;
    let (_, data, _) = bech32::decode(recipient).expect("an age1yubikey1 recipient");
    let point = Vec::<u8>::from_base32(&data).unwrap();
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(&Sha256::digest(&point)[..4])
}

/// The tags of the `piv-p256` stanzas in the header of an ASCII-armored age file, read from the
/// header's text (`-> piv-p256 TAG EPK`) without opening anything.
pub fn stanza_tags(armored: &str) -> Vec<String> {
    let b64: String = armored
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let binary = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .expect("armored base64");
    let header_end = binary
        .windows(4)
        .position(|w| w == b"\n---")
        .expect("an age header");
    String::from_utf8_lossy(&binary[..header_end])
        .lines()
        .filter_map(|l| l.strip_prefix("-> piv-p256 "))
        .filter_map(|args| args.split(' ').next())
        .map(str::to_owned)
        .collect()
}

/// The armored block of a store entry file.
pub fn sealed_block(entry: &str) -> String {
    let start = entry
        .find("-----BEGIN AGE ENCRYPTED FILE-----")
        .expect("a sealed block");
    let end = entry.find("-----END AGE ENCRYPTED FILE-----").unwrap();
    format!("{}-----END AGE ENCRYPTED FILE-----\n", &entry[start..end])
}
