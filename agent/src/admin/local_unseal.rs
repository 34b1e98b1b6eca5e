//! Unsealing an entry in the admin process, with the token, for the commands that carry an
//! entry's sealed contents over into a new entry (`rotate`, `reseal`).

use apisec_agent::config::Config;
use apisec_agent::envelope::{TokenIdentity, UnsealError};
use apisec_agent::store::unseal::OpenError;
use apisec_agent::store::{self, EntryFile, Unsealed};
use apisec_agent::token;

use super::CliError;

/// Unseals an entry with the first configured token that is present (the primary, else each
/// backup token in order, as the agent does), locally, and checks it was not tampered with:
/// rotation must carry over the sealed policy, never a clear copy someone edited.
pub fn unseal_locally(config: &Config, file: &EntryFile) -> Result<Unsealed, CliError> {
    let tokens = std::iter::once((&config.token, &config.recipients[0]))
        .chain(config.backup_tokens.iter().map(|(t, r)| (t, r)));
    let mut first_error = None;
    for (token_config, recipient) in tokens {
        let token = token::spawn(token_config, recipient, token_config.touch_approves());
        let identity = TokenIdentity::new(recipient, &token);
        let opened = store::unseal::open(file, &identity);
        // Closed here, not by the token thread while this process exits (TokenHandle::shut_down).
        token.shut_down(token::configured::SHUTDOWN_PATIENCE);
        let e = match opened {
            Ok(unsealed) => return Ok(unsealed),
            // Absent (found out before its PIN is asked), or not among the entry's recipients:
            // the next token may open it.
            Err(OpenError::Envelope(UnsealError::Token(t))) if t.is_absent() => {
                OpenError::Envelope(UnsealError::Token(t))
            }
            Err(e @ OpenError::Envelope(UnsealError::NotForThisKey)) => e,
            Err(e) => return Err(error(file, e)),
        };
        first_error.get_or_insert(e);
    }
    Err(error(
        file,
        first_error.expect("the primary token was tried"),
    ))
}

fn error(file: &EntryFile, e: OpenError<token::TokenError>) -> CliError {
    match e {
        OpenError::Envelope(e) => CliError::new(format!("cannot unseal {}: {e}", file.name)),
        OpenError::Plaintext(e) => CliError::new(format!("store entry {:?}: {e}", file.name)),
        OpenError::Tampered(e) => e.into(),
    }
}
