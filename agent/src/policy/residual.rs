//! What no agent can refuse on an exchange that does not sign the endpoint: a `transfer` or
//! `admin` endpoint whose mandatory parameters are all among those of a `read` or `trade`
//! endpoint (or that has none) accepts a signature made for that harmless request, and the
//! signed bytes cannot tell the two apart. `docs/threat-model.md` lists them per exchange, as
//! generated from the tables (a test keeps the list and the tables in step); only the key's own
//! permissions at the exchange close them.
//!
//! The judge (`policy::judge`) and this list share one definition of "reaches":
//! [`Mandatory::reached`].

use std::collections::BTreeSet;

use crate::sign::endpoints::{self, Endpoint};
use crate::sign::request::{Covers, Shape};
use crate::sign::Preset;

/// Parameter names as [`Mandatory::reached`] compares them: without regard to ASCII case, so that an
/// exchange that matched names case-insensitively could not take `ADDRESS` for `address`
/// behind the judge's back.
pub fn names<S: AsRef<str>>(names: impl IntoIterator<Item = S>) -> BTreeSet<String> {
    names
        .into_iter()
        .map(|n| n.as_ref().to_ascii_lowercase())
        .collect()
}

/// An endpoint's mandatory parameters as [`names`] gives them, worked out once: the judge asks
/// for each signature which endpoints its parameters reach.
#[derive(Debug)]
pub struct Mandatory {
    pub endpoint: &'static Endpoint,
    names: Vec<String>,
}

impl Mandatory {
    pub fn of(endpoint: &'static Endpoint) -> Self {
        Self {
            endpoint,
            names: names(endpoint.params.as_deref().unwrap_or_default())
                .into_iter()
                .collect(),
        }
    }

    /// One of the names (`None` when it needs none): a signature reaches the endpoint only if
    /// it carries this one, so the judge indexes the endpoints by it.
    pub fn any_name(&self) -> Option<&str> {
        self.names.first().map(String::as_str)
    }

    /// Whether a signature whose signed parameters are `signed` (as [`names`] gives them),
    /// made for a request of `method`, is good for this endpoint too: it carries all of its
    /// mandatory parameters and, on an exchange that signs the method's kind of payload (Bybit:
    /// a GET's query, a POST's body), the request is of the endpoint's kind.
    pub fn reached(&self, shape: &Shape, method: &str, signed: &BTreeSet<String>) -> bool {
        if shape.covers == Covers::Payload
            && shape.carries_body(self.endpoint.method) != shape.carries_body(method)
        {
            // Bybit signs a GET's decoded query and a POST's body alike. A POST's body (which
            // holds no '&': the preset refuses one) read as a GET's query is one name, JSON
            // text, which no endpoint mandates: it reaches the GET endpoints that mandate
            // nothing. A GET's query, plain names, is no JSON body.
            return shape.carries_body(method) && self.names.is_empty();
        }
        self.names.iter().all(|p| signed.contains(p))
    }

    /// The one name of `extra` that, with `signed`, carries all of its mandatory parameters,
    /// when exactly one is missing from `signed` and `extra` has it as the exchange spells it
    /// ([`boundary_names`]: a cut leaves the name's own case, and `aboveType` cut after
    /// `above` gives `Type`, which is not Binance's `type`).
    pub fn reached_with(
        &self,
        signed: &BTreeSet<String>,
        extra: &BTreeSet<String>,
    ) -> Option<&'static str> {
        let mut missing = self.names.iter().filter(|p| !signed.contains(*p));
        let (Some(one), None) = (missing.next(), missing.next()) else {
            return None;
        };
        self.endpoint
            .params
            .iter()
            .flatten()
            .copied()
            .find(|p| p.to_ascii_lowercase() == *one && extra.contains(*p))
    }
}

/// The names a request of an exchange that signs its query and body joined with nothing
/// between them (Binance's and MEXC's `totalParams`) can also carry: the client who sends a
/// signature chooses where its query ends and its body starts. Over the joined string, a cut
/// starts the body with a name made of what follows it, up to an `=`: with a value (`...&
/// xamount=1` cut after `x`: `amount=1`; `...=am` + `ount=1` cut before `a`: `amount=1`). A cut
/// leaving a name without a value (inside a value, the query's last name cut short) gives a
/// mandatory parameter nothing. One cut per request: at most one of these joins the others.
pub fn boundary_names(query: &str, body: &[u8]) -> BTreeSet<String> {
    let joined = [query.as_bytes(), body].concat();
    let joined = String::from_utf8_lossy(&joined);
    let mut out = BTreeSet::new();
    for segment in joined.split('&') {
        // A name a cut leaves ends at an `=` and starts after the `=` before it, or later: the
        // ends of each run between `=`s, no longer than any parameter's name. Bounded so that
        // a long value costs its length, not its length squared, on the signing path.
        let mut run_start = 0;
        for (eq, _) in segment.match_indices('=') {
            let first = run_start.max(1).max(eq.saturating_sub(MAX_NAME));
            for i in first..eq {
                if segment.is_char_boundary(i) {
                    out.insert(segment[i..eq].to_owned());
                }
            }
            run_start = eq + 1;
        }
    }
    out
}

/// The longest parameter name a cut could leave that an endpoint could mandate (the tables'
/// longest is well under it).
const MAX_NAME: usize = 64;

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
        let reach = Mandatory::of(e);
        let within: Vec<&'static Endpoint> = harmless
            .iter()
            .copied()
            .filter(|n| {
                let signed = names(n.params.as_deref().unwrap_or_default());
                reach.reached(shape, n.method, &signed)
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
