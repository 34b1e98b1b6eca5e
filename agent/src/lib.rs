//! apisec-agent: keeps exchange API secrets sealed to a hardware token and signs requests for
//! bots over a Unix socket, so that a bot never holds the secret.
//!
//! Map of the modules, in the direction dependencies flow (protocol -> core -> server):
//!
//! - [`proto`]: the wire protocol for both sides (frames, extension messages); no I/O.
//! - [`client`]: a blocking client (used by `apisec`, the tests and the benches).
//! - [`paths`]: default socket, config and store locations.
//! - [`sign`]: exchange presets, the agent's clock, raw MAC.
//! - [`policy`]: per-secret rules (freshness, expiry).
//! - [`secret`]: secret bytes in locked, non-dumpable memory.
//!
//! With the `daemon` feature (the default):
//! - [`envelope`]: the age envelope with the `piv-p256` stanza.
//! - [`store`]: one sealed entry per secret on disk, atomic writes, tamper checks.
//! - [`token`]: the key holder (PKCS#11, or a YubiKey PIV slot natively) behind one actor thread.
//! - [`pin`], [`approval`]: where the PIN and the human's approval come from.
//! - [`config`]: the config file, validated.
//! - [`server`]: the socket, peer checks, sessions, the unsealed secrets.
//! - [`hardening`]: no core dumps, not dumpable, private umask.
//! - [`fuzzing`]: one never-panicking entry point per parser, for `fuzz/` and the corpus test.

pub mod client;
pub mod log;
pub mod paths;
pub mod policy;
pub mod proto;
pub mod secret;
pub mod sign;
pub mod timefmt;

#[cfg(feature = "daemon")]
pub mod envelope;
#[cfg(feature = "daemon")]
pub mod fuzzing;
#[cfg(feature = "daemon")]
pub mod hardening;

/// The version every component reports.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
#[cfg(feature = "daemon")]
pub mod approval;
#[cfg(feature = "daemon")]
pub mod audit;
#[cfg(feature = "daemon")]
pub mod config;
#[cfg(feature = "daemon")]
pub mod keys;
#[cfg(feature = "daemon")]
pub mod peer;
#[cfg(feature = "daemon")]
pub mod pin;
#[cfg(feature = "daemon")]
pub mod server;
#[cfg(feature = "daemon")]
pub mod store;
#[cfg(feature = "daemon")]
pub mod token;
