//! Deribit API v2 over HTTP, `deri-hmac-sha256` Authorization header.
//!
//! Source: Deribit API v2 docs, "Authentication > Additional authorization method -
//! deri-hmac-sha256" (https://docs.deribit.com/#authentication).

use super::common::*;
use crate::sign::preset::{deny, DenyEntry};
use crate::sign::preset::{
    Credentials, HttpRequest, Preset, PresetError, Signed, Stamp, TimeFormat,
};

const EX: &str = "deribit";

#[derive(Debug, Clone, Copy, Default)]
pub struct Deribit;

/// Refused by default (docs/exchanges.md lists the sources).
const DENY: &[DenyEntry] = &[
    deny("*", "/api/v2/private/withdraw", "withdrawal"),
    deny("*", "/api/v2/private/cancel_withdrawal", "withdrawal"),
    deny(
        "*",
        "/api/v2/private/submit_transfer_to_subaccount",
        "transfer",
    ),
    deny("*", "/api/v2/private/submit_transfer_to_user", "transfer"),
    deny(
        "*",
        "/api/v2/private/submit_transfer_between_subaccounts",
        "transfer",
    ),
    deny("*", "/api/v2/private/cancel_transfer_by_id", "transfer"),
    deny("*", "/api/v2/private/add_to_address_book", "withdrawal"),
    deny("*", "/api/v2/private/update_in_address_book", "withdrawal"),
    deny(
        "*",
        "/api/v2/private/remove_from_address_book",
        "withdrawal",
    ),
    deny("*", "/api/v2/private/create_subaccount", "sub-account"),
    deny("*", "/api/v2/private/remove_subaccount", "sub-account"),
    deny("*", "/api/v2/private/change_subaccount_name", "sub-account"),
    deny(
        "*",
        "/api/v2/private/set_email_for_subaccount",
        "sub-account",
    ),
    deny(
        "*",
        "/api/v2/private/set_password_for_subaccount",
        "sub-account",
    ),
    deny(
        "*",
        "/api/v2/private/toggle_subaccount_login",
        "sub-account",
    ),
    deny(
        "*",
        "/api/v2/private/disable_tfa_for_subaccount",
        "sub-account",
    ),
    deny("*", "/api/v2/private/create_api_key", "API-key management"),
    deny("*", "/api/v2/private/edit_api_key", "API-key management"),
    deny("*", "/api/v2/private/remove_api_key", "API-key management"),
    deny("*", "/api/v2/private/reset_api_key", "API-key management"),
    deny("*", "/api/v2/private/enable_api_key", "API-key management"),
    deny("*", "/api/v2/private/disable_api_key", "API-key management"),
    deny(
        "*",
        "/api/v2/private/change_scope_in_api_key",
        "API-key management",
    ),
    deny(
        "*",
        "/api/v2/private/change_api_key_name",
        "API-key management",
    ),
    deny(
        "*",
        "/api/v2/private/set_api_key_as_default",
        "API-key management",
    ),
    deny("*", "/api/v2/private/list_api_keys", "API-key management"),
];

impl Preset for Deribit {
    fn deny_list(&self) -> &'static [DenyEntry] {
        DENY
    }

    fn id(&self) -> &'static str {
        EX
    }
    fn time_format(&self) -> TimeFormat {
        TimeFormat::UnixMillis
    }
    /// Deribit's nonce is a single-use random token next to the timestamp.
    fn wants_nonce(&self) -> bool {
        true
    }
    fn check_secret(&self, secret: &[u8]) -> Result<(), PresetError> {
        nonempty_secret(EX, secret)
    }
    fn sign(&self, r: &HttpRequest, c: &Credentials<'_>, s: &Stamp) -> Result<Signed, PresetError> {
        check_method(EX, &r.method, &["GET", "POST"], "GET, POST")?;
        check_path(EX, &r.path)?;
        check_query(EX, &r.query)?;
        check_timestamp(EX, self.time_format(), &s.timestamp)?;
        header_safe(EX, "client id", c.api_key)?;
        // The id sits inside a comma-separated header value; a comma or '=' would let it forge
        // the other fields.
        if c.api_key.contains([',', '=', ' ']) {
            return Err(bad(EX, "the client id contains ',', '=' or a space"));
        }
        nonempty_secret(EX, c.secret)?;
        let nonce = stamped_nonce(EX, s.nonce.as_deref(), false)?;
        let uri = path_and_query(&r.path, &r.query);
        let sig = hex::encode(hmac_sha256(
            raw_key(c.secret),
            &[
                s.timestamp.as_bytes(),
                b"\n",
                nonce.as_bytes(),
                b"\n",
                r.method.as_bytes(),
                b"\n",
                uri.as_bytes(),
                b"\n",
                &r.body,
                b"\n",
            ],
        ));
        let auth = format!(
            "deri-hmac-sha256 id={},ts={},sig={},nonce={}",
            c.api_key, s.timestamp, sig, nonce
        );
        Ok(Signed {
            headers: headers(&[("Authorization", &auth)]),
            query_additions: Vec::new(),
            query: r.query.clone(),
            body: None,
        })
    }
}

#[cfg(test)]
#[path = "tests/deribit.rs"]
mod tests;
