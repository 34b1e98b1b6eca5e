//! WebSocket logins: the message (or its fields) with which a client authenticates an
//! exchange's private WebSocket, stamped by the agent. A login opens a session whose later
//! requests never pass through the agent, so it is its own action class (`login`), signed only
//! for a secret whose policy says `allow_login = true`.
//!
//! `sign::login` checks what every login shares, then the preset signs its own. No field a
//! client chooses may turn a login into a REST signature: each preset checks them
//! (a Kraken Futures challenge is a UUID, a Gate channel one of its private channels, an HTX
//! host one of its own), and every login's signed string is one no REST request of the same
//! exchange has (tested per preset against the REST readings of the same secret).

use std::fmt;

/// One kind of login a preset makes: a private stream, or an API session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoginKind {
    /// What a client names (`apisec login NAME --kind KIND`).
    pub name: &'static str,
    /// What it opens, for `--help`, errors and the audit log.
    pub what: &'static str,
    /// The host whose name the login signs, when it signs one (HTX), else "".
    pub host: &'static str,
    /// The REST request whose signed string the login's is, where the exchange signs both
    /// alike (Coinbase Exchange's `GET /users/self/verify`, HTX's contract notification paths):
    /// its path, judged with method GET too, so that a rule on it applies to the login.
    pub rest_twin: Option<&'static str>,
}

impl LoginKind {
    /// A kind whose login signs no host and is no REST request's twin: most of them.
    pub const fn plain(name: &'static str, what: &'static str) -> Self {
        Self {
            name,
            what,
            host: "",
            rest_twin: None,
        }
    }
}

/// What a client asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoginRequest {
    /// Empty: the preset's default kind.
    pub kind: String,
    /// The server's challenge, for an exchange whose login signs one (Kraken Futures).
    pub challenge: String,
    /// Empty: the kind's default host.
    pub host: String,
}

/// The time and nonce the agent stamped for one login.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoginStamp {
    pub now_ms: u64,
    /// The agent's next nonce for the secret (microseconds, strictly increasing).
    pub nonce: u64,
}

/// A login: its fields in the exchange's order, and the message to send, when the exchange
/// defines the whole message (empty where the fields go into a message the client writes, such
/// as Coinbase Exchange's `subscribe`).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct LoginMessage {
    pub fields: Vec<(&'static str, String)>,
    pub message: String,
    /// SHA-256 of the bytes the signature covers (for the audit log).
    pub signed_sha256: [u8; 32],
}

impl fmt::Debug for LoginMessage {
    // A login carries the passphrase on the exchanges that send it in clear: names only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginMessage")
            .field(
                "fields",
                &self.fields.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
            )
            .field("message_len", &self.message.len())
            .finish()
    }
}

/// A JSON object written member by member, in the order the exchange's own messages have them
/// (a map would sort them); values are escaped by `serde_json`.
#[derive(Default)]
pub struct Json(String);

impl Json {
    pub fn new() -> Self {
        Self::default()
    }

    fn key(&mut self, k: &str) {
        self.0.push(if self.0.is_empty() { '{' } else { ',' });
        self.0.push_str(&text(k));
        self.0.push(':');
    }

    /// A string member.
    pub fn str(mut self, k: &str, v: &str) -> Self {
        self.key(k);
        self.0.push_str(&text(v));
        self
    }

    /// A member whose value is already JSON (a number, an array, an object).
    pub fn raw(mut self, k: &str, v: &str) -> Self {
        self.key(k);
        self.0.push_str(v);
        self
    }

    pub fn done(mut self) -> String {
        if self.0.is_empty() {
            self.0.push('{');
        }
        self.0.push('}');
        self.0
    }
}

/// `s` as a JSON string.
pub fn text(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_keeps_the_order_and_escapes() {
        let j = Json::new()
            .str("op", "login")
            .raw("n", "1")
            .str("q", "a\"b\\\u{1}")
            .done();
        assert_eq!(j, r#"{"op":"login","n":1,"q":"a\"b\\\u0001"}"#);
        assert_eq!(Json::new().done(), "{}");
    }
}
