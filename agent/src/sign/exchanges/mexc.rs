//! MEXC spot API v3 (`/api/v3/*`).
//!
//! Source: MEXC spot v3 docs, "General Info > SIGNED" and "SIGNED Endpoint Examples for POST
//! /api/v3/order" (https://mexcdevelop.github.io/apidocs/spot_v3_en/#signed).

use super::common::*;
use crate::sign::mac_key::{Hash, KeyForm};
use crate::sign::preset::{
    Credentials, HttpRequest, Preset, PresetError, Signed, Stamp, TimeFormat,
};
use crate::sign::shape::{Body, Covers, Login, Query, Shape, SignedQuery, STANDARD_METHODS};

const EX: &str = "mexc";

#[derive(Debug, Clone, Copy, Default)]
pub struct Mexc;

/// `totalParams` (query, then body): no method, no path.
const SHAPE: Shape = Shape {
    methods: STANDARD_METHODS,
    path_prefixes: &["/api/v3/"],
    query: Query::Any,
    body: Body::Form,
    covers: Covers::Parameters,
    adjacent: &[],
    login: Login::NONE,
    signed_query: SignedQuery::AsSent,
    hosts: &[],
    number_optional: false,
    delete_body: false,
};

impl Preset for Mexc {
    fn shape(&self) -> &'static Shape {
        &SHAPE
    }

    fn id(&self) -> &'static str {
        EX
    }
    fn time_format(&self) -> TimeFormat {
        TimeFormat::UnixMillis
    }
    fn check_secret(&self, secret: &[u8]) -> Result<(), PresetError> {
        nonempty_secret(EX, secret)
    }
    fn no_login(&self) -> &'static str {
        "MEXC spot's private streams take a listen key from the REST call POST /api/v3/userDataStream: sign that with `apisec sign`; MEXC futures' own WebSocket login is not signed here (its string, key + time, is also the signature of every parameterless futures REST read)"
    }

    fn sign(&self, r: &HttpRequest, c: &Credentials<'_>, s: &Stamp) -> Result<Signed, PresetError> {
        check_timestamp(EX, self.time_format(), &s.timestamp)?;
        header_safe(EX, "api key", c.api_key)?;
        c.require_secret(EX)?;
        let body = utf8(EX, "body", &r.body)?;
        let query_pairs = form_pairs(EX, "query", &r.query)?;
        let body_pairs = form_pairs(EX, "body (MEXC signs url-encoded form bodies)", body)?;
        let all = || query_pairs.iter().chain(body_pairs.iter());
        if all().any(|(k, _)| *k == "signature") {
            return Err(bad(EX, "the request already carries a signature parameter"));
        }
        // A client may place timestamp itself (MEXC's examples do, even in the body); it then has
        // to be the stamped value, since that is what the agent checked for freshness.
        // An empty `timestamp=` in the query says where the stamp goes (ccxt puts it after the
        // parameters, before recvWindow), as for Binance.
        let mut additions = Vec::new();
        let mut placed = r.query.clone();
        match all().find(|(k, _)| *k == "timestamp") {
            Some((_, ""))
                if query_pairs
                    .iter()
                    .any(|(k, v)| *k == "timestamp" && v.is_empty()) =>
            {
                placed = query_pairs
                    .iter()
                    .map(|(k, v)| {
                        if *k == "timestamp" {
                            format!("timestamp={}", s.timestamp)
                        } else {
                            format!("{k}={v}")
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("&");
                additions.push(("timestamp".to_string(), s.timestamp.clone()));
            }
            Some((_, v)) if *v == s.timestamp => {}
            Some((_, v)) => {
                return Err(bad(
                    EX,
                    format!(
                        "timestamp parameter {v:?} differs from the stamped {:?}",
                        s.timestamp
                    ),
                ))
            }
            None => additions.push(("timestamp".to_string(), s.timestamp.clone())),
        }
        let query = if placed == r.query {
            join_query(&r.query, &additions)
        } else {
            placed
        };
        // totalParams is the query string immediately followed by the body, with no separator
        // (MEXC's Example 3 signs "...type=LIMITquantity=1...").
        let signed_parts: &[&[u8]] = &[query.as_bytes(), body.as_bytes()];
        let sig = hex::encode(c.hmac(EX, KeyForm::Trimmed, Hash::Sha256, signed_parts)?);
        additions.push(("signature".to_string(), sig.clone()));
        let query = join_query(&query, &[("signature".to_string(), sig)]);
        Ok(Signed {
            signed_sha256: signed_digest(signed_parts),
            headers: headers(&[("X-MEXC-APIKEY", c.api_key)]),
            query_additions: additions,
            query,
            body: None,
        })
    }
}

#[cfg(test)]
#[path = "tests/mexc.rs"]
mod tests;
