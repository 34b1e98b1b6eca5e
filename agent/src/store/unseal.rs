//! Opening an entry: the one place that unseals a sealed block and checks the entry's clear
//! metadata against the sealed copy, for the agent (unlock, reload) and for `rotate`, which must
//! carry over the sealed policy, never a clear copy someone edited.

use super::entry::{self, EntryFile, Unsealed};
use super::{check_untampered, StoreError};
use crate::envelope::{self, TokenIdentity, UnsealError, WrappingKey};

/// Why an entry did not open.
#[derive(Debug, thiserror::Error)]
pub enum OpenError<T: std::fmt::Debug + std::fmt::Display> {
    /// The envelope: the token's own failure, or a block not for this key, damaged or altered.
    #[error(transparent)]
    Envelope(UnsealError<T>),
    /// The plaintext is not an entry this release reads.
    #[error("{0}")]
    Plaintext(String),
    /// The clear metadata differs from the sealed copy.
    #[error(transparent)]
    Tampered(StoreError),
}

/// Unseals `file` with `identity` (one token operation), parses the sealed plaintext and runs
/// the tamper check. The plaintext buffer is zeroized; the secret goes into locked memory.
pub fn open<E: WrappingKey>(
    file: &EntryFile,
    identity: &TokenIdentity<'_, E>,
) -> Result<Unsealed, OpenError<E::Error>>
where
    E::Error: std::fmt::Debug + std::fmt::Display,
{
    let plaintext = envelope::unseal(&file.sealed, identity).map_err(OpenError::Envelope)?;
    let unsealed = entry::parse_sealed(&plaintext).map_err(OpenError::Plaintext)?;
    check_untampered(file, &unsealed.meta).map_err(OpenError::Tampered)?;
    if identity.opened_legacy_tag() {
        crate::warn!(
            "store entry {:?} was sealed by a release before 0.2, whose stanza tag stock rage + \
             age-plugin-yubikey do not recognise: it opens here, but cannot be recovered with \
             those tools until it is sealed again: run `apisec-agent reseal {}` (docs/yubikey.md)",
            file.name,
            file.name
        );
    }
    Ok(unsealed)
}
