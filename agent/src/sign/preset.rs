//! The shape every exchange preset has: a request in, the exact headers and query additions out.
//!
//! A preset never reads the clock and never sees anything but the request, the credentials and a
//! [`Stamp`] the agent made (the agent owns time, see `sign/time.rs`). That keeps every preset a
//! pure function, testable against the exchange's published vectors byte for byte.

use std::fmt;

use super::login::{LoginKind, LoginMessage, LoginRequest, LoginStamp};
use super::mac_key::{Hash, KeyForm, MacKey, MemoryMacKey};
use super::shape::Shape;

/// What a client asks to have signed. `query` is the raw query string without the leading `?`,
/// exactly as it will be sent; `body` is the exact body bytes; `host` the host it goes to, for
/// an exchange that signs the host (empty: the preset's default host, `Shape::hosts`).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: String,
    pub path: String,
    pub query: String,
    pub body: Vec<u8>,
    pub host: String,
}

impl fmt::Debug for HttpRequest {
    // The body can hold order details a user may not want in logs; show only its length.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("query", &self.query)
            .field("body_len", &self.body.len())
            .field("host", &self.host)
            .finish()
    }
}

/// The kind of an asymmetric API key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyAlgorithm {
    Ed25519,
    /// ECDSA on P-256 with SHA-256 (JWT `ES256`).
    P256,
}

/// An asymmetric API key that signs without showing itself: in locked memory, or inside the
/// token (where it cannot be extracted).
pub trait AsymmetricSigner: Sync {
    fn algorithm(&self) -> KeyAlgorithm;
    /// Ed25519: the 64-byte signature of `message`. P-256: the 64-byte `r || s` of ECDSA over
    /// SHA-256(`message`).
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, String>;
}

/// The key material a preset signs with. Borrowed from locked memory for the duration of one call.
pub struct Credentials<'a> {
    /// The API key id the exchange issued (public; sent in a header).
    pub api_key: &'a str,
    /// The secret exactly as the exchange displayed it (a preset decodes it if the exchange says so).
    pub secret: &'a [u8],
    /// The passphrase chosen when the key was created (Bitget, OKX, KuCoin, Coinbase Exchange).
    pub passphrase: Option<&'a [u8]>,
    /// The asymmetric key, for Ed25519 / P-256 API keys (then `secret` is empty).
    pub signer: Option<&'a dyn AsymmetricSigner>,
    /// The HMAC key on the token, for a secret added with `--in-token` (then `secret` is empty):
    /// every MAC is computed there.
    pub mac: Option<&'a dyn MacKey>,
}

impl Credentials<'_> {
    /// The HMAC of `parts` with this secret, keyed as `form` says: by the token when the key is
    /// there (it holds the bytes `form` gives), else in memory. The one way presets MAC.
    pub fn hmac(
        &self,
        exchange: &'static str,
        form: KeyForm,
        hash: Hash,
        parts: &[&[u8]],
    ) -> Result<Vec<u8>, PresetError> {
        let signer_failed = |reason: String| PresetError::Signer { exchange, reason };
        match self.mac {
            Some(key) => key.mac(hash, parts).map_err(signer_failed),
            None => MemoryMacKey::new(exchange, self.secret, form)?
                .mac(hash, parts)
                .map_err(signer_failed),
        }
    }

    /// Refuses, before anything is computed, a secret in memory that does not have `form` (a
    /// base64 secret that does not decode); a key on the token was checked when it was imported.
    pub fn check_key(&self, exchange: &'static str, form: KeyForm) -> Result<(), PresetError> {
        if self.mac.is_none() {
            MemoryMacKey::new(exchange, self.secret, form)?;
        }
        Ok(())
    }

    /// Refuses an empty secret (after trimming) where the MAC is computed in memory; a key on
    /// the token was checked when it was imported.
    pub fn require_secret(&self, exchange: &'static str) -> Result<(), PresetError> {
        if self.mac.is_some() {
            return Ok(());
        }
        super::mac_key::nonempty_secret(exchange, self.secret)
    }
}

impl fmt::Debug for Credentials<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("api_key", &self.api_key)
            .field("secret", &"<redacted>")
            .field("passphrase", &self.passphrase.map(|_| "<redacted>"))
            .field("signer", &self.signer.map(|s| s.algorithm()))
            .field("mac", &self.mac.map(|_| "<on the token>"))
            .finish()
    }
}

/// How an exchange writes its timestamp. The agent formats its own clock with this, and parses a
/// client-supplied value with it to check freshness.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeFormat {
    /// Milliseconds since the Unix epoch, decimal (`1700000000123`): Bitget, Binance, Bybit, KuCoin.
    UnixMillis,
    /// Whole seconds since the Unix epoch (`1700000000`).
    UnixSeconds,
    /// Seconds with a fractional part (`1700000000.123`): Coinbase Exchange.
    UnixSecondsDecimal,
    /// ISO 8601 UTC with milliseconds (`2020-12-08T09:08:57.715Z`): OKX.
    Iso8601Millis,
}

/// The time values the agent stamped (or accepted from the client) for this one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stamp {
    /// The timestamp string, already in the preset's [`TimeFormat`].
    pub timestamp: String,
    /// A nonce for exchanges that want one (Kraken); `None` for the others.
    pub nonce: Option<String>,
}

/// What the client must add to its request.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Signed {
    /// Headers to send, in the order the exchange documents them (names are the exchange's, fixed).
    pub headers: Vec<(&'static str, String)>,
    /// Parameters the agent appended to the query (already included in `query`).
    pub query_additions: Vec<(String, String)>,
    /// The complete query string to send (the client's query plus the additions), without `?`.
    pub query: String,
    /// `Some` when the preset had to put a value into the body (Kraken spot adds `nonce=`): the
    /// exact body to send instead of the client's.
    pub body: Option<Vec<u8>>,
    /// SHA-256 of the bytes the signature covers (for the audit log; never sent).
    pub signed_sha256: [u8; 32],
}

impl fmt::Debug for Signed {
    // Header values can hold a passphrase in clear (Bitget, OKX, Coinbase Exchange send theirs
    // that way): show the header names only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signed")
            .field(
                "headers",
                &self.headers.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
            )
            .field("query_additions", &self.query_additions)
            .field("query", &self.query)
            .field("body", &self.body.as_ref().map(Vec::len))
            .finish()
    }
}

/// Why a preset refused to sign. The messages name what was wrong and never include the secret.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PresetError {
    #[error(
        "the {exchange} preset does not know the HTTP method {method:?}; use one of {allowed}"
    )]
    Method {
        exchange: &'static str,
        method: String,
        allowed: String,
    },
    #[error("the {exchange} preset needs a passphrase; re-add the secret with --passphrase-file")]
    MissingPassphrase { exchange: &'static str },
    #[error("the secret does not fit the {exchange} preset: {reason}")]
    BadSecret {
        exchange: &'static str,
        reason: &'static str,
    },
    #[error("the {exchange} preset needs {needed}; this secret is {have}")]
    KeyKind {
        exchange: &'static str,
        needed: &'static str,
        have: &'static str,
    },
    #[error("the key failed to sign for {exchange}: {reason}")]
    Signer {
        exchange: &'static str,
        reason: String,
    },
    #[error("malformed request for {exchange}: {reason}")]
    BadRequest {
        exchange: &'static str,
        reason: String,
    },
}

/// One exchange's signing rules.
pub trait Preset: Sync + Send {
    /// The name users type (`--exchange bitget`).
    fn id(&self) -> &'static str;
    /// How this exchange writes timestamps.
    fn time_format(&self) -> TimeFormat;
    /// How far ahead of now the agent stamps: BitMEX's `api-expires` is a time in the future.
    fn timestamp_lead_ms(&self) -> u64 {
        0
    }
    /// Whether this preset signs with an asymmetric key (and with which) instead of HMAC.
    fn accepts_key(&self, algorithm: Option<KeyAlgorithm>) -> bool {
        algorithm.is_none()
    }
    /// Its requests: methods, where parameters go, what the signature covers, which parts lie
    /// side by side in the signed string (checked before [`Preset::sign`] by `sign::sign`).
    fn shape(&self) -> &'static Shape;
    /// Whether this exchange wants a nonce besides the timestamp.
    fn wants_nonce(&self) -> bool {
        false
    }
    /// Whether keys of this exchange come with a passphrase that must be sent or signed.
    fn needs_passphrase(&self) -> bool {
        false
    }
    /// The hash of this exchange's HMAC (of its signatures; a login may use the same).
    fn mac_hash(&self) -> Hash {
        Hash::Sha256
    }
    /// How this exchange keys its HMAC with the secret it showed: what `add --in-token` imports
    /// (`sign::mac_key::mac_key_bytes`).
    fn mac_key_form(&self) -> KeyForm {
        KeyForm::Trimmed
    }
    /// Checks, at `add` time, that a secret has the form this exchange issues.
    fn check_secret(&self, secret: &[u8]) -> Result<(), PresetError> {
        let _ = secret;
        Ok(())
    }
    /// Signs one request.
    fn sign(
        &self,
        request: &HttpRequest,
        credentials: &Credentials<'_>,
        stamp: &Stamp,
    ) -> Result<Signed, PresetError>;
    /// The WebSocket logins the exchange has, the default first (empty: none).
    fn login_kinds(&self) -> &'static [LoginKind] {
        &[]
    }
    /// How the exchange's private streams authenticate when it has no login to sign here.
    fn no_login(&self) -> &'static str {
        "it has no private WebSocket the agent knows"
    }
    /// Whether its login signs a challenge the server sent (Kraken Futures).
    fn login_takes_challenge(&self) -> bool {
        false
    }
    /// Signs one login of `kind` (one of [`Preset::login_kinds`], checked by `sign::login`).
    fn login(
        &self,
        kind: &LoginKind,
        request: &LoginRequest,
        credentials: &Credentials<'_>,
        stamp: LoginStamp,
    ) -> Result<LoginMessage, PresetError> {
        let _ = (kind, request, credentials, stamp);
        Err(PresetError::BadRequest {
            exchange: self.id(),
            reason: format!("{} has no WebSocket login: {}", self.id(), self.no_login()),
        })
    }
}
