//! The one mapping from the library's error types to the [`ErrorReply`] a client gets: each
//! error's code (what the CLI turns into an exit status and a remedy) and its message (names and
//! reasons, never secret bytes). Operations return these; the session writes them.

use crate::approval::ApprovalError;
use crate::envelope::UnsealError;
use crate::policy::admit::AdmitError;
use crate::proto::{ErrorCode, ErrorReply};
use crate::sign::SignError;
use crate::store::unseal::OpenError;
use crate::store::StoreError;
use crate::token::TokenError;

impl From<StoreError> for ErrorReply {
    fn from(e: StoreError) -> Self {
        let code = match &e {
            StoreError::NotFound { .. } => ErrorCode::NotFound,
            StoreError::InvalidName(_) => ErrorCode::BadRequest,
            StoreError::Damaged { .. } | StoreError::Tampered { .. } => ErrorCode::BadEntry,
            _ => ErrorCode::Internal,
        };
        ErrorReply::new(code, e.to_string())
    }
}

impl From<AdmitError> for ErrorReply {
    fn from(e: AdmitError) -> Self {
        ErrorReply::new(ErrorCode::Refused, e.to_string())
    }
}

/// The reply code of an approval that did not happen.
pub fn approval_code(e: &ApprovalError) -> ErrorCode {
    match e {
        ApprovalError::Denied { .. } => ErrorCode::Denied,
        ApprovalError::Timeout { .. }
        | ApprovalError::Touch {
            timed_out: true, ..
        } => ErrorCode::Timeout,
        ApprovalError::Touch { .. } => ErrorCode::Token,
        _ => ErrorCode::Refused,
    }
}

impl From<ApprovalError> for ErrorReply {
    fn from(e: ApprovalError) -> Self {
        ErrorReply::new(approval_code(&e), e.to_string())
    }
}

impl From<TokenError> for ErrorReply {
    fn from(e: TokenError) -> Self {
        ErrorReply::new(ErrorCode::Token, e.to_string())
    }
}

impl From<SignError> for ErrorReply {
    fn from(e: SignError) -> Self {
        let code = match e {
            // A stale or malformed client timestamp or nonce: the policy's freshness refused it.
            SignError::Time(_) => ErrorCode::Refused,
            _ => ErrorCode::Sign,
        };
        ErrorReply::new(code, e.to_string())
    }
}

/// An entry that did not open: the token's own failure, or an entry that is not for this key,
/// damaged or tampered with (named, so the user knows which file to restore).
pub fn open_error(entry: &str, e: OpenError<TokenError>) -> ErrorReply {
    let bad_entry = |reason: &dyn std::fmt::Display| {
        ErrorReply::new(
            ErrorCode::BadEntry,
            format!("store entry {entry:?}: {reason}"),
        )
    };
    match e {
        OpenError::Envelope(UnsealError::Token(t)) => t.into(),
        OpenError::Envelope(other) => bad_entry(&other),
        OpenError::Plaintext(reason) => bad_entry(&reason),
        OpenError::Tampered(e) => e.into(),
    }
}
