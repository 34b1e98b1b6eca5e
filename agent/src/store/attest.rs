//! The token's attestation of an entry for a token-held key (`keygen`, `add --token-key`). Such an
//! entry seals no secret: anyone with the token's public recipient could seal one naming the real
//! token key by its label, with any policy. So when the entry is made (which needs the token
//! anyway) the token key itself signs a statement binding the entry's name, generation and sealed
//! metadata (policy included), and the agent unseals such an entry only when that signature
//! verifies under the public key the token holds, never the entry's own copy.
//!
//! The statement starts with a prefix no preset signs: it holds NUL bytes, which the canonical
//! check refuses in every request a client can ask the agent to sign.

use base64::Engine;
use sha2::{Digest, Sha256};

use super::entry::EntryMeta;

/// The statement's first bytes.
pub const PREFIX: &[u8] = b"apisec-agent token-key entry\0v1\0";

/// The first bytes of the challenge the agent has a token key sign at unseal, to prove that the
/// public key it checks an attestation with is that key's own (random bytes follow).
pub const CHALLENGE_PREFIX: &[u8] = b"apisec-agent key check\0v1\0";

/// What the token key signs for an entry: `PREFIX || name || NUL || created || NUL ||
/// SHA-256(the sealed metadata as JSON)`.
pub fn statement(meta: &EntryMeta) -> Vec<u8> {
    let json = serde_json::to_vec(meta).expect("metadata always serializes");
    let mut out = PREFIX.to_vec();
    out.extend_from_slice(meta.name.as_bytes());
    out.push(0);
    out.extend_from_slice(meta.created.as_bytes());
    out.push(0);
    out.extend_from_slice(&Sha256::digest(&json));
    out
}

/// The attestation as the entry keeps it.
pub fn encode(signature: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(signature)
}

pub fn decode(text: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(name: &str, created: &str, policy: &str) -> EntryMeta {
        EntryMeta {
            name: name.into(),
            exchange: "binance".into(),
            api_key: "k".into(),
            created: created.into(),
            expires: None,
            allow_raw: false,
            freshness: "5s".into(),
            key_type: "token-ed25519".into(),
            token_key: Some("apisec-key:bn".into()),
            public_key: None,
            token_copies: Vec::new(),
            policy: crate::policy::file::parse(policy).unwrap().0,
        }
    }

    #[test]
    fn the_statement_binds_name_generation_and_policy_behind_a_prefix_no_request_has() {
        let base = statement(&meta("bn", "2026-01-01T00:00:00Z", ""));
        assert!(base.starts_with(PREFIX) && PREFIX.contains(&0));
        assert_ne!(base, statement(&meta("bo", "2026-01-01T00:00:00Z", "")));
        assert_ne!(base, statement(&meta("bn", "2026-01-02T00:00:00Z", "")));
        assert_ne!(
            base,
            statement(&meta(
                "bn",
                "2026-01-01T00:00:00Z",
                "default_deny = false\n"
            ))
        );
        assert_eq!(decode(&encode(&[1, 2, 3])), Some(vec![1, 2, 3]));
    }
}
