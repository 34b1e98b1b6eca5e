//! apisec-agent: keeps exchange API secrets sealed to a hardware token and signs requests for
//! bots over a Unix socket, so that a bot never holds the secret.
//!
//! Map of the modules, lowest layer first (`docs/architecture.md` gives the one-way order that
//! `tests/tests/architecture.rs` checks):
//!
//! Without features (the client side, what the `apisec` CLI links):
//! - [`timefmt`]: the wall clock and the time formats exchanges and logs use.
//! - [`paths`]: default socket, config, store and state locations.
//! - [`expiry`]: where a secret stands against its expiry date, and the note shown with it.
//! - [`proto`]: the wire protocol for both sides (frames, extension messages); no I/O.
//! - [`client`]: a blocking client (used by `apisec`, the tests and the benches).
//! - [`manpages`] (feature `manpages`): man pages from a clap definition, for both binaries.
//! - [`completion`] (feature `completions`): shell completion, for both binaries.
//!
//! With the `daemon` feature (the default):
//! - [`log`]: the agent's log lines on stderr, control characters escaped.
//! - [`secret`]: secret bytes in locked, non-dumpable memory.
//! - [`sign`]: exchange presets, the agent's clock, raw MAC.
//! - [`keys`]: asymmetric API keys (Ed25519, P-256) in memory, imported or generated.
//! - [`policy`]: per-secret rules: clients, rate limits, request rules.
//! - [`peer`]: who is on the other end of a connection.
//! - [`envelope`]: the age envelope with the `piv-p256` stanza (P-256 keys) or the
//!   `apisec-rsa-oaep` stanza (RSA keys on tokens that cannot derive).
//! - [`token`]: the key holder (PKCS#11, or a YubiKey PIV slot natively) behind one actor thread.
//! - [`store`]: one sealed entry per secret on disk, atomic writes, tamper checks.
//! - [`pin`], [`approval`]: where the PIN and the human's approval come from.
//! - [`config`]: the config file, validated, and written.
//! - [`audit`]: the hash-chained audit log.
//! - [`hardening`]: no core dumps, not dumpable, private umask.
//! - [`accounts`]: the host's users and groups, by name.
//! - [`server`]: the socket, peer checks, sessions, the operations, the unsealed secrets.
//! - [`fuzzing`]: one never-panicking entry point per parser, for `fuzz/` and the corpus test.

pub mod accounts;
pub mod client;
#[cfg(feature = "completions")]
pub mod completion;
pub mod expiry;
#[cfg(feature = "manpages")]
pub mod manpages;
pub mod paths;
pub mod proto;
pub mod timefmt;

/// The version every component reports.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

#[cfg(feature = "daemon")]
pub mod approval;
#[cfg(feature = "daemon")]
pub mod audit;
#[cfg(feature = "daemon")]
pub mod config;
#[cfg(feature = "daemon")]
pub mod envelope;
#[cfg(feature = "daemon")]
pub mod fuzzing;
#[cfg(feature = "daemon")]
pub mod hardening;
#[cfg(feature = "daemon")]
pub mod keys;
#[cfg(feature = "daemon")]
pub mod log;
#[cfg(feature = "daemon")]
pub mod peer;
#[cfg(feature = "daemon")]
pub mod pin;
#[cfg(feature = "daemon")]
pub mod policy;
#[cfg(feature = "daemon")]
pub mod secret;
#[cfg(feature = "daemon")]
pub mod server;
#[cfg(feature = "daemon")]
pub mod sign;
#[cfg(feature = "daemon")]
pub mod store;
#[cfg(feature = "daemon")]
pub mod token;
