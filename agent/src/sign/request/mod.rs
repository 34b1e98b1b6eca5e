//! The one canonical form of a request, checked in one place before any preset signs it: the
//! method the exchange uses, the path exactly as the exchange writes it, a query and a body that
//! parse as what they claim to be, each in the place the exchange signs. A request that could be
//! read another way by the exchange is refused here, or its other readings are judged too
//! ([`alternatives`]).

mod canonical;
pub mod decoded;
mod layout;

pub use super::shape::{Body, Covers, Query, Shape, Slot, STANDARD_METHODS};
pub use canonical::{check, form_key_char, path_char, query_value_char, Canonical};
pub use layout::alternatives;
