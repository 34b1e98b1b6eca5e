//! The raw MAC: HMAC over arbitrary bytes, for exchanges without a preset. Off by default per
//! secret, because it lets a client sign anything (including a withdrawal).

use hmac::{Hmac, Mac};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown MAC algorithm {0:?}; use hmac-sha256, hmac-sha384 or hmac-sha512")]
pub struct UnknownAlgorithm(pub String);

/// Computes the MAC named by `algorithm` (`hmac-sha256`, `hmac-sha384`, `hmac-sha512`).
pub fn compute(algorithm: &str, key: &[u8], data: &[u8]) -> Result<Vec<u8>, UnknownAlgorithm> {
    fn run<M: Mac + hmac::digest::KeyInit>(key: &[u8], data: &[u8]) -> Vec<u8> {
        let mut m = <M as hmac::digest::KeyInit>::new_from_slice(key)
            .expect("HMAC accepts keys of any length");
        m.update(data);
        m.finalize().into_bytes().to_vec()
    }
    match algorithm {
        "hmac-sha256" => Ok(run::<Hmac<sha2::Sha256>>(key, data)),
        "hmac-sha384" => Ok(run::<Hmac<sha2::Sha384>>(key, data)),
        "hmac-sha512" => Ok(run::<Hmac<sha2::Sha512>>(key, data)),
        other => Err(UnknownAlgorithm(other.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231 test case 2 ("Jefe" / "what do ya want for nothing?").
    #[test]
    fn rfc4231_case_2() {
        let key = b"Jefe";
        let data = b"what do ya want for nothing?";
        assert_eq!(
            hex::encode(compute("hmac-sha256", key, data).unwrap()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hex::encode(compute("hmac-sha384", key, data).unwrap()),
            "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e\
             8e2240ca5e69e2c78b3239ecfab21649"
        );
        assert_eq!(
            hex::encode(compute("hmac-sha512", key, data).unwrap()),
            "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554\
             9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"
        );
        assert!(compute("md5", key, data).is_err());
    }
}
