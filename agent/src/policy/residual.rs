//! What no agent can refuse on an exchange that does not sign the endpoint: a `transfer` or
//! `admin` endpoint whose mandatory parameters are all among those of a `read` or `trade`
//! endpoint (or that has none) accepts a signature made for that harmless request, and the
//! signed bytes cannot tell the two apart. `docs/threat-model.md` lists them per exchange, as
//! generated from the tables (a test keeps the list and the tables in step); only the key's own
//! permissions at the exchange close them.
//!
//! The judge (`policy::judge`) and this list share one definition of "reaches": [`reaches`].

use std::collections::BTreeSet;

use crate::sign::endpoints::{self, Endpoint};
use crate::sign::request::{Covers, Shape};
use crate::sign::Preset;

/// Whether a signature whose signed parameters are `signed`, made for a request of `method`,
/// is good for endpoint `e` too: it carries all of `e`'s mandatory parameters and, on an
/// exchange that signs the method's kind of payload (Bybit: a GET's query, a POST's body), the
/// request is of `e`'s kind.
pub fn reaches(shape: &Shape, method: &str, signed: &BTreeSet<&str>, e: &Endpoint) -> bool {
    if shape.covers == Covers::Payload && is_read(&e.method) != is_read(method) {
        return false;
    }
    e.params
        .as_deref()
        .unwrap_or_default()
        .iter()
        .all(|p| signed.contains(p.as_str()))
}

fn is_read(method: &str) -> bool {
    matches!(method, "GET" | "DELETE")
}

/// One residual endpoint and why it cannot be told apart.
#[derive(Debug)]
pub struct Residual {
    pub endpoint: &'static Endpoint,
    /// The harmless endpoints whose every valid request is also a valid request of this one;
    /// empty when it needs no parameters at all (then any signature reaches it).
    pub within: Vec<&'static Endpoint>,
}

/// The residual endpoints of `preset`, in table order; empty for an exchange that signs the
/// endpoint.
pub fn residual(preset: &dyn Preset) -> Vec<Residual> {
    let shape = preset.shape();
    let Some(table) = endpoints::table(preset.id()) else {
        return Vec::new();
    };
    if shape.covers.endpoint() {
        return Vec::new();
    }
    let in_scope = |e: &Endpoint| {
        shape.path_prefixes.is_empty()
            || shape
                .path_prefixes
                .iter()
                .any(|p| e.path.as_str().starts_with(p))
    };
    let harmless: Vec<&'static Endpoint> = table
        .endpoints()
        .iter()
        .filter(|e| e.class.allowed_by_default() && in_scope(e))
        .collect();
    let mut out = Vec::new();
    for e in table.endpoints() {
        if e.class.allowed_by_default() || !in_scope(e) {
            continue;
        }
        let mandatory = e.params.as_deref().unwrap_or_default();
        if mandatory.is_empty() {
            out.push(Residual {
                endpoint: e,
                within: Vec::new(),
            });
            continue;
        }
        let within: Vec<&'static Endpoint> = harmless
            .iter()
            .copied()
            .filter(|n| {
                let signed: BTreeSet<&str> = n
                    .params
                    .as_deref()
                    .unwrap_or_default()
                    .iter()
                    .map(String::as_str)
                    .collect();
                reaches(shape, &n.method, &signed, e)
            })
            .collect();
        if !within.is_empty() {
            out.push(Residual {
                endpoint: e,
                within,
            });
        }
    }
    out
}

#[cfg(test)]
#[path = "residual_tests.rs"]
mod tests;
