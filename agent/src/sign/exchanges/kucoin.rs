//! KuCoin REST (spot, margin and futures share the scheme), API key version 2.
//!
//! Source: KuCoin docs, "Authentication" (sections "Creating a Request", "Signing a Message",
//! and the passphrase note for key version 2)
//! (https://www.kucoin.com/docs-new/authentication).

use super::common::*;
use crate::sign::preset::{deny, DenyEntry};
use crate::sign::preset::{
    Credentials, HttpRequest, Preset, PresetError, Signed, Stamp, TimeFormat,
};

const EX: &str = "kucoin";

/// Keys created since version 2 send the passphrase HMAC-signed with the secret. KuCoin's newer
/// universal SDK sends "3", which uses the same algorithm (see exchanges.md).
pub const KEY_VERSION: &str = "2";

#[derive(Debug, Clone, Copy, Default)]
pub struct Kucoin;

/// Refused by default (docs/exchanges.md lists the sources).
const DENY: &[DenyEntry] = &[
    deny("POST", "/api/v1/withdrawals", "withdrawal"),
    deny("POST", "/api/v3/withdrawals", "withdrawal"),
    deny("DELETE", "/api/v1/withdrawals/*", "withdrawal"),
    deny("POST", "/api/v2/accounts/inner-transfer", "transfer"),
    deny("POST", "/api/v2/accounts/sub-transfer", "transfer"),
    deny("POST", "/api/v3/accounts/universal-transfer", "transfer"),
    deny("POST", "/api/v3/transfer-out", "transfer"),
    deny("POST", "/api/v1/transfer-in", "transfer"),
    deny("POST", "/api/v1/transfer-out", "transfer"),
    deny("POST", "/api/v2/sub/user/created", "sub-account"),
    deny("POST", "/api/v1/sub/api-key", "API-key management"),
    deny("POST", "/api/v1/sub/api-key/update", "API-key management"),
    deny("DELETE", "/api/v1/sub/api-key", "API-key management"),
    deny("*", "/api/v1/broker/nd/**", "sub-account"),
];

impl Preset for Kucoin {
    fn deny_list(&self) -> &'static [DenyEntry] {
        DENY
    }

    fn id(&self) -> &'static str {
        EX
    }
    fn time_format(&self) -> TimeFormat {
        TimeFormat::UnixMillis
    }
    fn needs_passphrase(&self) -> bool {
        true
    }
    fn check_secret(&self, secret: &[u8]) -> Result<(), PresetError> {
        nonempty_secret(EX, secret)
    }
    fn sign(&self, r: &HttpRequest, c: &Credentials<'_>, s: &Stamp) -> Result<Signed, PresetError> {
        check_method(
            EX,
            &r.method,
            &["GET", "POST", "PUT", "DELETE"],
            "GET, POST, PUT, DELETE",
        )?;
        check_path(EX, &r.path)?;
        check_query(EX, &r.query)?;
        check_timestamp(EX, self.time_format(), &s.timestamp)?;
        header_safe(EX, "api key", c.api_key)?;
        nonempty_secret(EX, c.secret)?;
        let key = raw_key(c.secret);
        let pass = passphrase(EX, c.passphrase)?;
        let endpoint = path_and_query(&r.path, &r.query);
        let sig = b64(&hmac_sha256(
            key,
            &[
                s.timestamp.as_bytes(),
                r.method.as_bytes(),
                endpoint.as_bytes(),
                &r.body,
            ],
        ));
        let signed_pass = b64(&hmac_sha256(key, &[pass.as_bytes()]));
        Ok(Signed {
            headers: headers(&[
                ("KC-API-KEY", c.api_key),
                ("KC-API-SIGN", &sig),
                ("KC-API-TIMESTAMP", &s.timestamp),
                ("KC-API-PASSPHRASE", &signed_pass),
                ("KC-API-KEY-VERSION", KEY_VERSION),
            ]),
            query_additions: Vec::new(),
            query: r.query.clone(),
            body: None,
        })
    }
}

#[cfg(test)]
#[path = "tests/kucoin.rs"]
mod tests;
