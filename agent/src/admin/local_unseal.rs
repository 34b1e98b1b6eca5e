//! Unsealing an entry in the admin process, with the token, for the commands that carry an
//! entry's sealed contents over into a new entry (`rotate`, `reseal`).

use apisec_agent::config::Config;
use apisec_agent::envelope::TokenIdentity;
use apisec_agent::store::unseal::OpenError;
use apisec_agent::store::{self, EntryFile, Unsealed};
use apisec_agent::token;

use super::CliError;

/// Unseals an entry with the token, locally, and checks it was not tampered with: rotation must
/// carry over the sealed policy, never a clear copy someone edited.
pub fn unseal_locally(config: &Config, file: &EntryFile) -> Result<Unsealed, CliError> {
    let recipient = &config.recipients[0];
    let token = token::spawn(&config.token, recipient, config.token.touch_approves());
    let identity = TokenIdentity::new(recipient, &token);
    let unsealed = store::unseal::open(file, &identity).map_err(|e| match e {
        OpenError::Envelope(e) => CliError::new(format!("cannot unseal {}: {e}", file.name)),
        OpenError::Plaintext(e) => CliError::new(format!("store entry {:?}: {e}", file.name)),
        OpenError::Tampered(e) => e.into(),
    });
    // Closed here, not by the token thread while this process exits (TokenHandle::shut_down).
    token.shut_down(token::configured::SHUTDOWN_PATIENCE);
    unsealed
}
