//! Per-secret rules checked before every signature. The rules come from the sealed copy of the
//! entry's metadata, never from the clear copy a local user could edit.
//!
//! - [`admit`]: which clients may use a secret, and its rate limits.
//! - [`rules`]: the policy's types and the decision on one request.
//! - [`fields`]: the request fields a rule can test, read as the exchange reads them.
//! - [`file`]: the TOML policy file, parsed and checked; [`coverage`]: what a rule may test for
//!   an exchange.
//! - [`judge`]: every request a signature is good for, judged.
//! - [`glob`], [`rate`]: path patterns; token buckets.

pub mod admit;
pub mod coverage;
pub mod fields;
pub mod file;
pub mod glob;
pub mod judge;
pub mod rate;
pub mod residual;
pub mod rules;

pub use rules::{Decision, Policy};
