//! The typed layer between clap's raw flags ([`super::args`]) and the commands, as ripgrep turns
//! its flags into typed arguments: each value is converted once, here, with the message and exit
//! status (1) users see; a command then works only with these types.
//!
//! - [`values`]: one value each: an exchange preset, a key type, a duration.
//! - [`entry`]: the settings every new entry takes (`add`, `keygen`), flags merged with the
//!   policy file.
//! - [`run`]: the agent's settings, its flags over its config (the one place of that precedence).
//! - [`init`]: a YubiKey slot and its touch and PIN policies; where the PIN comes from.

pub mod entry;
pub mod init;
pub mod run;
pub mod values;
