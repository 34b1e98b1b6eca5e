//! The key operations behind the applet: P-256 keygen/ECDH/ECDSA and the
//! 3DES block operations of the management-key handshake.

use des::cipher::{BlockDecrypt, BlockEncrypt, KeyInit};
use des::TdesEde3;
use p256::ecdsa::signature::hazmat::PrehashSigner;
use p256::ecdsa::{Signature, SigningKey};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::{PublicKey, SecretKey};
use rand_core::{OsRng, RngCore};

/// A fresh P-256 private scalar (32 bytes, big-endian).
pub fn generate_p256() -> Vec<u8> {
    SecretKey::random(&mut OsRng).to_bytes().to_vec()
}

fn secret(scalar: &[u8]) -> Option<SecretKey> {
    SecretKey::from_slice(scalar).ok()
}

/// Uncompressed SEC1 public point (04 || x || y) for a stored scalar.
pub fn p256_public_point(scalar: &[u8]) -> Option<Vec<u8>> {
    let sk = secret(scalar)?;
    Some(sk.public_key().to_encoded_point(false).as_bytes().to_vec())
}

/// ECDH as the YubiKey does it: the x-coordinate of scalar * peer point.
/// The peer must be an uncompressed point on the curve.
pub fn p256_ecdh(scalar: &[u8], peer: &[u8]) -> Option<Vec<u8>> {
    if peer.len() != 65 || peer[0] != 0x04 {
        return None;
    }
    let sk = secret(scalar)?;
    let pk = PublicKey::from_sec1_bytes(peer).ok()?;
    let shared = p256::ecdh::diffie_hellman(sk.to_nonzero_scalar(), pk.as_affine());
    Some(shared.raw_secret_bytes().to_vec())
}

/// ECDSA over a caller-supplied digest (the card never hashes), DER-encoded.
/// Digests shorter than 32 bytes are left-padded with zeros as the card does.
pub fn p256_sign(scalar: &[u8], digest: &[u8]) -> Option<Vec<u8>> {
    if digest.len() > 32 {
        return None;
    }
    let mut padded = [0u8; 32];
    padded[32 - digest.len()..].copy_from_slice(digest);
    let key = SigningKey::from(secret(scalar)?);
    let sig: Signature = key.sign_prehash(&padded).ok()?;
    Some(sig.to_der().as_bytes().to_vec())
}

pub fn random8() -> [u8; 8] {
    let mut b = [0u8; 8];
    OsRng.fill_bytes(&mut b);
    b
}

pub fn tdes_encrypt(key: &[u8], block: &[u8; 8]) -> Option<[u8; 8]> {
    let cipher = TdesEde3::new_from_slice(key).ok()?;
    let mut b = (*block).into();
    cipher.encrypt_block(&mut b);
    Some(b.into())
}

pub fn tdes_decrypt(key: &[u8], block: &[u8; 8]) -> Option<[u8; 8]> {
    let cipher = TdesEde3::new_from_slice(key).ok()?;
    let mut b = (*block).into();
    cipher.decrypt_block(&mut b);
    Some(b.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::hazmat::PrehashVerifier;
    use p256::ecdsa::VerifyingKey;

    #[test]
    fn tdes_round_trips_with_the_default_key() {
        let key = crate::state::DEFAULT_MGM_KEY;
        let block = *b"8 bytes!";
        let enc = tdes_encrypt(&key, &block).unwrap();
        assert_ne!(enc, block);
        assert_eq!(tdes_decrypt(&key, &enc).unwrap(), block);
    }

    #[test]
    fn signatures_verify_under_the_public_point() {
        let sk = generate_p256();
        let digest = [0x5a; 32];
        let der = p256_sign(&sk, &digest).unwrap();
        let vk = VerifyingKey::from_sec1_bytes(&p256_public_point(&sk).unwrap()).unwrap();
        let sig = Signature::from_der(&der).unwrap();
        vk.verify_prehash(&digest, &sig).unwrap();
        assert!(vk.verify_prehash(&[0x5b; 32], &sig).is_err());
    }

    #[test]
    fn ecdh_rejects_compressed_or_off_curve_points() {
        let sk = generate_p256();
        let mut pt = p256_public_point(&generate_p256()).unwrap();
        assert!(p256_ecdh(&sk, &pt).is_some());
        assert!(p256_ecdh(&sk, &pt[..33]).is_none());
        pt[64] ^= 1;
        assert!(p256_ecdh(&sk, &pt).is_none());
    }
}
