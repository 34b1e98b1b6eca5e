//! The exchange presets, one file each. Adding an exchange: one file implementing
//! [`Preset`](super::Preset), one line in [`ALL`], one test file, one section of
//! `docs/exchanges.md`.

mod binance;
mod bitget;
mod util;

pub use binance::Binance;
pub use bitget::Bitget;

use super::Preset;

/// Every preset the agent knows.
pub static ALL: &[&dyn Preset] = &[&Bitget, &Binance];

/// The preset users name with `--exchange ID`.
pub fn by_id(id: &str) -> Option<&'static dyn Preset> {
    ALL.iter().copied().find(|p| p.id() == id)
}

/// The ids of every preset, for error messages and `--help`.
pub fn ids() -> Vec<&'static str> {
    ALL.iter().map(|p| p.id()).collect()
}
