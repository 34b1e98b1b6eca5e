//! The exchange presets, one file each (with its test file under `tests/`). Adding an exchange:
//! one file implementing [`Preset`](super::Preset), one line in [`ALL`], one test file, one
//! section of `docs/exchanges.md`.

pub(crate) mod common;

pub mod binance;
pub mod binance_ws;
pub mod bitfinex;
pub mod bitget;
pub mod bitmex;
pub mod bybit;
pub mod coinbase_advanced;
pub mod coinbase_exchange;
pub mod deribit;
pub mod gate;
pub mod htx;
pub mod kraken;
pub mod kraken_futures;
pub mod kucoin;
pub mod mexc;
pub mod okx;

pub use binance::Binance;
pub use bitfinex::Bitfinex;
pub use bitget::Bitget;
pub use bitmex::Bitmex;
pub use bybit::Bybit;
pub use coinbase_advanced::CoinbaseAdvanced;
pub use coinbase_exchange::CoinbaseExchange;
pub use deribit::Deribit;
pub use gate::Gate;
pub use htx::Htx;
pub use kraken::Kraken;
pub use kraken_futures::KrakenFutures;
pub use kucoin::Kucoin;
pub use mexc::Mexc;
pub use okx::Okx;

use super::Preset;

/// Every preset the agent knows, in the order `--help` lists them.
pub static ALL: &[&dyn Preset] = &[
    &Bitget,
    &Binance,
    &Okx,
    &Bybit,
    &Kraken,
    &KrakenFutures,
    &CoinbaseExchange,
    &CoinbaseAdvanced,
    &Kucoin,
    &Gate,
    &Mexc,
    &Htx,
    &Bitmex,
    &Bitfinex,
    &Deribit,
];

/// The preset users name with `--exchange ID` (ids are lower case, compared exactly).
pub fn by_id(id: &str) -> Option<&'static dyn Preset> {
    ALL.iter().copied().find(|p| p.id() == id)
}

/// The ids of every preset, for error messages and `--help`.
pub fn ids() -> Vec<&'static str> {
    ALL.iter().map(|p| p.id()).collect()
}

#[cfg(test)]
#[path = "tests/registry.rs"]
mod tests;

#[cfg(test)]
#[path = "tests/logins.rs"]
mod login_tests;
