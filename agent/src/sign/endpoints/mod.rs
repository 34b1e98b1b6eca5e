//! The exchanges' private endpoints, one table per preset: every API version and product line a
//! key can reach, each with its method, path, class, mandatory parameters and (where it differs
//! from the exchange's usual place) where its parameters travel and which host serves it.
//!
//! The tables are data (`tables/ID.txt`, one endpoint per line, format in
//! `docs/exchanges.md`), built from the exchanges' documentation and official SDKs and
//! cross-checked against ccxt's endpoint lists (`scripts/check-endpoints.py`). They answer two
//! questions for the policy: what class of request is this (read, trade, transfer, admin), and,
//! for an exchange whose signature does not cover the endpoint, which endpoints would accept the
//! parameters signed.

mod pattern;
mod table;

use std::fmt;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

pub use pattern::Pattern;
pub use table::{Table, TableError};

/// What an endpoint does, as the policy sees it. Ordered from the least to the most dangerous:
/// a signature good for several endpoints is as dangerous as the worst of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    /// Reads the account: balances, orders, positions, history. Changes nothing.
    Read,
    /// Places, amends or cancels orders; trading settings (leverage, margin mode).
    Trade,
    /// Opens a session that later requests use without the agent: a WebSocket login token or
    /// a signature the exchange also takes as a login. Signed only for a secret whose policy
    /// says `allow_login = true`.
    Login,
    /// Moves funds: withdrawals, transfers between accounts or users, lending and borrowing,
    /// earn subscriptions, payments.
    Transfer,
    /// Administers the account: sub-accounts, API keys, deposit addresses, account settings.
    Admin,
}

impl Class {
    pub const ALL: [Class; 5] = [
        Class::Read,
        Class::Trade,
        Class::Login,
        Class::Transfer,
        Class::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Trade => "trade",
            Self::Login => "login",
            Self::Transfer => "transfer",
            Self::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// Whether the default policy allows it: reads and trades yes; moving funds and
    /// administering the account no; logins only where `allow_login` says so.
    pub fn allowed_by_default(self) -> bool {
        matches!(self, Self::Read | Self::Trade)
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an endpoint's parameters travel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Carrier {
    Query,
    Json,
    Form,
}

/// One private endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub method: &'static str,
    pub path: Pattern,
    pub class: Class,
    /// The parameters the exchange requires (besides the ones the signer adds itself); `None`
    /// when the table does not say.
    pub params: Option<Vec<&'static str>>,
    /// Where the parameters travel, when it differs from the exchange's usual place.
    pub carrier: Option<Carrier>,
    /// The host that serves it, when it is not the exchange's main REST host.
    pub host: Option<&'static str>,
    /// A few words on what it does.
    pub what: &'static str,
}

impl Endpoint {
    /// `POST /api/v2/spot/wallet/withdrawal`.
    pub fn describe(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// The table of preset `id` (`None` for an id without one), parsed the first time it is asked
/// for.
pub fn table(id: &str) -> Option<&'static Table> {
    macro_rules! tables {
        ($($id:literal => $file:literal),* $(,)?) => {
            match id {
                $($id => {
                    static TABLE: OnceLock<Table> = OnceLock::new();
                    Some(TABLE.get_or_init(|| {
                        Table::parse(include_str!(concat!("tables/", $file)))
                            .unwrap_or_else(|e| panic!("tables/{}: {e}", $file))
                    }))
                })*
                _ => None,
            }
        };
    }
    tables! {
        "bitget" => "bitget.txt",
        "binance" => "binance.txt",
        "okx" => "okx.txt",
        "bybit" => "bybit.txt",
        "kraken" => "kraken.txt",
        "kraken-futures" => "kraken-futures.txt",
        "coinbase-exchange" => "coinbase-exchange.txt",
        "coinbase-advanced" => "coinbase-advanced.txt",
        "kucoin" => "kucoin.txt",
        "gate" => "gate.txt",
        "mexc" => "mexc.txt",
        "htx" => "htx.txt",
        "bitmex" => "bitmex.txt",
        "bitfinex" => "bitfinex.txt",
        "deribit" => "deribit.txt",
    }
}

/// The strictest class the table gives `METHOD path` on exchange `id` (one path may be served by
/// several hosts), when it knows the endpoint: what a refusal before judging was aimed at.
pub fn class_of(id: &str, method: &str, path: &str) -> Option<Class> {
    table(id)?.find(method, path).iter().map(|e| e.class).max()
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
