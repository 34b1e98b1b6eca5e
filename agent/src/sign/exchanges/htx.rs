//! HTX (formerly Huobi) spot REST, signature version 2 (HmacSHA256 in the query string).
//!
//! Source: HTX spot API docs, "Quick Start > Authentication" (steps 1-5 of "Signature Method")
//! (https://www.htx.com/en-us/opend/newApiPages/?id=419).
//!
//! The host is part of the signed string: the client names it (`HttpRequest::host`, one of
//! [`HOSTS`]), and the policy judges the endpoints the table lists for that host; no host is the
//! spot host [`HOST`]. The contract APIs (coin-M futures and swaps, USDT-M) are served by
//! `api.hbdm.com` (same scheme, HTX's contract docs, "Authentication").

use super::common::*;
use crate::sign::preset::{
    Credentials, HttpRequest, Preset, PresetError, Signed, Stamp, TimeFormat,
};
use crate::sign::shape::{Body, Covers, Host, Login, Query, Shape, SignedQuery};

const EX: &str = "htx";

/// The host HTX signatures are computed for when the client names none. Lower case, as the
/// exchange compares it.
pub const HOST: &str = "api.huobi.pro";

/// The hosts a client may name: spot (and its AWS address), contracts (and the AWS address
/// ccxt uses by default). Each is signed as named; the table knows spot endpoints without
/// `host=` and contract ones as `host=api.hbdm.com`.
pub const HOSTS: &[Host] = &[
    Host {
        name: HOST,
        table: None,
    },
    Host {
        name: "api-aws.huobi.pro",
        table: None,
    },
    Host {
        name: "api.hbdm.com",
        table: Some("api.hbdm.com"),
    },
    Host {
        name: "api.hbdm.vn",
        table: Some("api.hbdm.com"),
    },
];

const AUTH_PARAMS: [&str; 5] = [
    "AccessKeyId",
    "SignatureMethod",
    "SignatureVersion",
    "Timestamp",
    "Signature",
];

#[derive(Debug, Clone, Copy, Default)]
pub struct Htx;

/// HTX wants `YYYY-MM-DDThh:mm:ss` (UTC, no fraction, no zone). TimeFormat has no such variant,
/// so the preset announces Iso8601Millis and drops the `.mmmZ` tail. It also takes the bare
/// seconds form (the SDK's vector is given so); a client's timestamp reaches it only in the
/// millisecond form (`sign::time::parse`). The shape is checked before anything is signed.
fn htx_timestamp(ts: &str) -> Result<&str, PresetError> {
    if iso8601_millis_shape(ts) {
        Ok(&ts[..19])
    } else if crate::timefmt::iso8601_seconds_shape(ts) {
        Ok(ts)
    } else {
        Err(bad(
            EX,
            format!("timestamp {ts:?} is neither 2020-04-01T12:34:56 nor 2020-04-01T12:34:56.789Z"),
        ))
    }
}

/// `METHOD\nhost\npath\nsorted query`: the body of a POST is not signed.
const SHAPE: Shape = Shape {
    methods: &["GET", "POST"],
    path_prefixes: &[],
    query: Query::Any,
    body: Body::Json,
    covers: Covers::Endpoint {
        method: true,
        query: true,
        body: false,
        host: true,
    },
    adjacent: &[],
    login: Login::NONE,
    signed_query: SignedQuery::Reencoded,
    hosts: HOSTS,
};

impl Preset for Htx {
    fn shape(&self) -> &'static Shape {
        &SHAPE
    }

    fn id(&self) -> &'static str {
        EX
    }
    fn time_format(&self) -> TimeFormat {
        TimeFormat::Iso8601Millis
    }
    fn check_secret(&self, secret: &[u8]) -> Result<(), PresetError> {
        nonempty_secret(EX, secret)
    }
    fn sign(&self, r: &HttpRequest, c: &Credentials<'_>, s: &Stamp) -> Result<Signed, PresetError> {
        header_safe(EX, "api key", c.api_key)?;
        nonempty_secret(EX, c.secret)?;
        let ts = htx_timestamp(&s.timestamp)?;
        let host = SHAPE
            .host(&r.host)
            .ok_or_else(|| bad(EX, format!("{:?} is not an HTX API host", r.host)))?
            .name;
        let client = form_pairs(EX, "query", &r.query)?;
        if let Some((k, _)) = client.iter().find(|(k, _)| AUTH_PARAMS.contains(k)) {
            return Err(bad(
                EX,
                format!("the query already has {k}; the agent adds the signature parameters"),
            ));
        }
        let additions: Vec<(String, String)> = vec![
            ("AccessKeyId".into(), percent_encode(c.api_key)),
            ("SignatureMethod".into(), "HmacSHA256".into()),
            ("SignatureVersion".into(), "2".into()),
            ("Timestamp".into(), percent_encode(ts)),
        ];
        // HTX signs every query parameter (client's and auth) sorted by name in byte order,
        // each value decoded and encoded again its one way (upper-case hex, a space as %20); the
        // body of a POST is not signed. The server sorts and encodes on its side, so the order
        // and spelling the client sends are free.
        let mut reencoded = Vec::with_capacity(client.len());
        for (k, v) in &client {
            reencoded.push((*k, reencode_value(EX, "query", k, v)?));
        }
        let mut sorted: Vec<(&str, &str)> =
            reencoded.iter().map(|(k, v)| (*k, v.as_str())).collect();
        sorted.extend(additions.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        sorted.sort_by(|a, b| a.0.cmp(b.0));
        let canonical = sorted
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        let prehash = format!("{}\n{}\n{}\n{}", r.method, host, r.path, canonical);
        let signed_parts: &[&[u8]] = &[prehash.as_bytes()];
        let sig = b64(&hmac_sha256(raw_key(c.secret), signed_parts));
        let mut additions = additions;
        additions.push(("Signature".into(), percent_encode(&sig)));
        Ok(Signed {
            signed_sha256: signed_digest(signed_parts),
            headers: Vec::new(),
            query: join_query(&r.query, &additions),
            query_additions: additions,
            body: None,
        })
    }
}

#[cfg(test)]
#[path = "tests/htx.rs"]
mod tests;
