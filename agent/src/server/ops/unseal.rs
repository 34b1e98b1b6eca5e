//! Turning a store entry into what the agent holds: one token operation to open the envelope,
//! the tamper check of the clear metadata against the sealed copy, and the signer its key type
//! needs. Unlock and reload both come here.

use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::envelope::{TokenIdentity, UnsealError};
use crate::keys::{KeyType, SoftKey};
use crate::policy::coverage;
use crate::policy::judge::Plan;
use crate::proto::{ErrorCode, ErrorReply};
use crate::sign;
use crate::sign::mac_key::Hash;
use crate::store::unseal::OpenError;
use crate::store::{self, Unsealed};
use crate::token::{TokenMacKey, TokenSigner};

use super::super::error_reply::open_error;
use super::super::state::{Agent, Held};

/// Unseals a store entry (on a blocking thread: the token may wait for a touch) into what the
/// agent holds, with the signer its key type needs.
pub async fn unseal_held(
    agent: &Arc<Agent>,
    file: store::EntryFile,
    forget_at: Option<u64>,
) -> Result<Held, ErrorReply> {
    let sealed_digest: [u8; 32] = Sha256::digest(file.sealed.as_bytes()).into();
    let this = Arc::clone(agent);
    let unsealed = tokio::task::spawn_blocking(move || unseal_file(&this, &file))
        .await
        .map_err(|_| ErrorReply::new(ErrorCode::Internal, "the unseal task failed"))??;
    let (unsealed, signer) = signer_for(agent, unsealed)?;
    let mac = in_token_mac_key(agent, &unsealed)?;
    let plan = plan_for(&unsealed)?;
    Ok(Held {
        unsealed,
        signer,
        mac,
        forget_at,
        sealed_digest,
        plan,
    })
}

/// One token operation: open the envelope, parse, compare the sealed metadata with the clear.
fn unseal_file(agent: &Agent, file: &store::EntryFile) -> Result<Unsealed, ErrorReply> {
    let result = unseal_file_inner(agent, file);
    crate::secret::wipe_stack();
    result
}

fn unseal_file_inner(agent: &Agent, file: &store::EntryFile) -> Result<Unsealed, ErrorReply> {
    let unsealed = open_with_first_present(agent, file)?;
    check_attested(agent, file, &unsealed)?;
    Ok(unsealed)
}

/// Opens `file` with the first configured token that is present: the primary, else each backup
/// token in the config's order. A token found absent (before any PIN is asked for) or not among
/// the entry's recipients is passed over; any other failure (a wrong PIN, a refused touch, a
/// damaged entry) is the answer.
fn open_with_first_present(agent: &Agent, file: &store::EntryFile) -> Result<Unsealed, ErrorReply> {
    let mut first_error = None;
    for (i, (recipient, token)) in agent.tokens().enumerate() {
        let identity = TokenIdentity::new(recipient, token);
        match store::unseal::open(file, &identity) {
            Ok(unsealed) => {
                if i > 0 {
                    crate::warn!(
                        "unsealed {} with backup token {i} ({recipient}): the tokens before it \
                         are absent or not among its recipients",
                        file.name
                    );
                }
                return Ok(unsealed);
            }
            // Absent, or not a recipient of this entry: the next token may open it; the first
            // such reason is the answer when none does.
            Err(OpenError::Envelope(e @ (UnsealError::Token(_) | UnsealError::NotForThisKey)))
                if !matches!(&e, UnsealError::Token(t) if !t.is_absent()) =>
            {
                first_error.get_or_insert_with(|| open_error(&file.name, OpenError::Envelope(e)));
            }
            Err(e) => return Err(open_error(&file.name, e)),
        }
    }
    let mut e = first_error.expect("at least the primary token was tried");
    let backups = agent.settings().backup_tokens.len();
    if backups > 0 {
        e.message = format!(
            "{} (and none of the {backups} backup token(s) is present and among its recipients)",
            e.message
        );
    }
    Err(e)
}

/// An entry for a token-held key must carry the token key's signature of its statement
/// (`store::attest`), checked with the public key the token itself holds.
fn check_attested(
    agent: &Agent,
    file: &store::EntryFile,
    unsealed: &Unsealed,
) -> Result<(), ErrorReply> {
    let meta = &unsealed.meta;
    let Some(key_type) = meta.key_type.get().filter(|k| k.in_token()) else {
        return Ok(());
    };
    let bad = |why: String| ErrorReply::new(ErrorCode::BadEntry, why);
    let label = meta
        .token_key
        .as_deref()
        .ok_or_else(|| bad(format!("store entry {:?} names no token key", meta.name)))?;
    let Some(signature) = file.attestation.as_deref().and_then(store::attest::decode) else {
        return Err(bad(format!(
            "store entry {:?} is for the token key {label:?} but carries no attestation by the \
             token: anyone with the token's public recipient can seal such an entry, with any \
             policy, so the agent uses only one the token signed when it was made; if you made \
             it (with a release before 0.2), check its policy with `apisec-agent list` and run \
             `apisec-agent attest {}`",
            meta.name, meta.name
        )));
    };
    let token_error =
        |e: crate::token::TokenError| ErrorReply::new(ErrorCode::Token, e.to_string());
    let Some(algorithm) = key_type.algorithm() else {
        // An HMAC key on the token: its attestation is the token's HMAC of the statement, which
        // only the token can compute (no request a client can have signed holds its prefix).
        let mac = token_mac_key(agent, meta, label)
            .mac_bytes(Hash::Sha256, &store::attest::statement(meta))
            .map_err(token_error)?;
        if !crate::secret::same_bytes(&mac, &signature) {
            return Err(bad(format!(
                "store entry {:?}: its attestation is not the token's HMAC with the key \
                 {label:?}: the entry was not made with this token's key, or was changed after; \
                 refusing it (add the secret again with `apisec-agent add --in-token`)",
                meta.name
            )));
        }
        return Ok(());
    };
    let public = agent
        .token()
        .public_key(label, algorithm)
        .map_err(token_error)?;
    // The public object is found by its label, and a public object can be added to a token
    // without its PIN: the private key signs a fresh challenge, so the public key checked is the
    // private key's own.
    let mut challenge = store::attest::CHALLENGE_PREFIX.to_vec();
    challenge.extend_from_slice(&rand::random::<[u8; 32]>());
    let proof = agent
        .token()
        .sign(label, algorithm, &challenge)
        .map_err(token_error)?;
    if !crate::keys::verify(algorithm, &public, &challenge, &proof) {
        return Err(bad(format!(
            "store entry {:?}: the token's public key labelled {label:?} is not its private \
             key's (another public object under that label?); refusing the entry: check the \
             token's objects with `pkcs11-tool --list-objects`",
            meta.name
        )));
    }
    if !crate::keys::verify(
        algorithm,
        &public,
        &store::attest::statement(meta),
        &signature,
    ) {
        return Err(bad(format!(
            "store entry {:?}: its attestation does not verify under the token key {label:?}: \
             the entry was not made with this token's key, or was changed after; refusing it \
             (add it again with `apisec-agent add --token-key`)",
            meta.name
        )));
    }
    Ok(())
}

type Signer = Box<dyn sign::AsymmetricSigner + Send + Sync>;

/// Checks the sealed policy against its exchange (a field rule sealed before the agent knew
/// which fields an exchange signs is refused here, with the remedy) and plans its judging.
fn plan_for(unsealed: &Unsealed) -> Result<Plan, ErrorReply> {
    let meta = &unsealed.meta;
    let Some(preset) = sign::exchanges::by_id(&meta.exchange) else {
        return Ok(Plan::default());
    };
    if let Err(why) = coverage::logins(&meta.policy, preset.id(), preset.shape()) {
        return Err(ErrorReply::new(
            ErrorCode::BadEntry,
            format!(
                "store entry {:?}: {why}; add the secret again with such a policy",
                meta.name
            ),
        ));
    }
    if let Err((i, why)) = coverage::check(&meta.policy, preset.id(), preset.shape()) {
        return Err(ErrorReply::new(
            ErrorCode::BadEntry,
            format!(
                "store entry {:?}: rule {} of its policy: {why}; add the secret again with a \
                 policy that tests only what {} signs (docs/policy.md)",
                meta.name,
                i + 1,
                preset.id()
            ),
        ));
    }
    Ok(Plan::new(&meta.policy, preset))
}

/// The token's MAC key for a secret added with `--in-token`; other entries have none.
fn in_token_mac_key(agent: &Agent, unsealed: &Unsealed) -> Result<Option<TokenMacKey>, ErrorReply> {
    let meta = &unsealed.meta;
    if meta.key_type.get() != Some(KeyType::TokenHmac) {
        return Ok(None);
    }
    let label = meta.token_key.as_deref().ok_or_else(|| {
        ErrorReply::new(
            ErrorCode::BadEntry,
            "an in-token HMAC entry without token_key",
        )
    })?;
    Ok(Some(token_mac_key(agent, meta, label)))
}

/// The key `label` on the primary token, then on each backup token the entry says holds a copy.
fn token_mac_key(agent: &Agent, meta: &store::EntryMeta, label: &str) -> TokenMacKey {
    let tokens = agent
        .tokens()
        .enumerate()
        .filter(|(i, (recipient, _))| *i == 0 || meta.token_copies.contains(&recipient.to_string()))
        .map(|(_, (_, token))| token.clone())
        .collect();
    TokenMacKey {
        tokens,
        label: label.to_owned(),
        reserved: &[store::attest::PREFIX, store::attest::CHALLENGE_PREFIX],
    }
}

/// Builds the signer an asymmetric key needs; HMAC secrets need none.
fn signer_for(
    agent: &Agent,
    mut unsealed: Unsealed,
) -> Result<(Unsealed, Option<Signer>), ErrorReply> {
    let bad = |reason: String| ErrorReply::new(ErrorCode::BadEntry, reason);
    let key_type = unsealed.meta.key_type.get().ok_or_else(|| {
        bad(format!(
            "unknown key_type {:?}",
            unsealed.meta.key_type.as_str()
        ))
    })?;
    let signer: Option<Signer> = match key_type {
        KeyType::Hmac | KeyType::TokenHmac => None,
        KeyType::Ed25519 | KeyType::P256 => {
            let algorithm = key_type.algorithm().expect("asymmetric");
            let material = unsealed.take_secret();
            Some(Box::new(
                SoftKey::new(algorithm, material).map_err(|e| bad(e.to_string()))?,
            ))
        }
        KeyType::TokenEd25519 | KeyType::TokenP256 => {
            let label = unsealed
                .meta
                .token_key
                .clone()
                .ok_or_else(|| bad("a token key entry without token_key".into()))?;
            Some(Box::new(TokenSigner {
                handle: agent.token().clone(),
                label,
                algorithm: key_type.algorithm().expect("asymmetric"),
            }))
        }
    };
    Ok((unsealed, signer))
}
