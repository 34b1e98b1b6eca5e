//! The raw MAC: HMAC over arbitrary bytes, for exchanges without a preset. Off by default per
//! secret, because it lets a client sign anything (including a withdrawal).

use super::mac_key::{Hash, MacKey};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown MAC algorithm {0:?}; use hmac-sha256, hmac-sha384 or hmac-sha512")]
pub struct UnknownAlgorithm(pub String);

/// The hash of the MAC named by `algorithm` (`hmac-sha256`, `hmac-sha384`, `hmac-sha512`).
pub fn hash_of(algorithm: &str) -> Result<Hash, UnknownAlgorithm> {
    match algorithm {
        "hmac-sha256" => Ok(Hash::Sha256),
        "hmac-sha384" => Ok(Hash::Sha384),
        "hmac-sha512" => Ok(Hash::Sha512),
        other => Err(UnknownAlgorithm(other.to_owned())),
    }
}

/// Why a raw MAC was not computed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RawMacError {
    #[error(transparent)]
    Algorithm(#[from] UnknownAlgorithm),
    #[error(
        "the data starts with the prefix of the agent's own statements (an entry's \
         attestation), which no raw MAC may cover: a MAC of one would let a client attest an \
         entry it made"
    )]
    Reserved,
    #[error("the token failed to MAC: {0}")]
    Key(String),
}

/// The MAC named by `algorithm` of `data` with `key` (in memory, or on the token), unless `data`
/// starts with one of `reserved` (the agent's own statements: `store::attest`).
pub fn compute(
    algorithm: &str,
    key: &dyn MacKey,
    data: &[u8],
    reserved: &[&[u8]],
) -> Result<Vec<u8>, RawMacError> {
    let hash = hash_of(algorithm)?;
    if reserved.iter().any(|prefix| data.starts_with(prefix)) {
        return Err(RawMacError::Reserved);
    }
    key.mac(hash, &[data]).map_err(RawMacError::Key)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231 test case 2 ("Jefe" / "what do ya want for nothing?").
    use crate::sign::mac_key::{KeyForm, MemoryMacKey};

    #[test]
    fn rfc4231_case_2() {
        let key = &MemoryMacKey::new("raw", b"Jefe", KeyForm::AsShown).unwrap();
        let data = b"what do ya want for nothing?";
        assert_eq!(
            hex::encode(compute("hmac-sha256", key, data, &[]).unwrap()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hex::encode(compute("hmac-sha384", key, data, &[]).unwrap()),
            "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e\
             8e2240ca5e69e2c78b3239ecfab21649"
        );
        assert_eq!(
            hex::encode(compute("hmac-sha512", key, data, &[]).unwrap()),
            "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554\
             9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"
        );
        assert!(compute("md5", key, data, &[]).is_err());
        // The agent's own statements are never a raw MAC's data.
        let prefix: &[u8] = b"apisec-agent statement\0";
        let mut statement = prefix.to_vec();
        statement.extend_from_slice(b"forged\0entry");
        assert_eq!(
            compute("hmac-sha256", key, &statement, &[prefix]),
            Err(RawMacError::Reserved)
        );
    }
}
