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
use crate::sign::login::{Json, LoginKind, LoginMessage, LoginRequest, LoginStamp};
use crate::sign::mac_key::{Hash, KeyForm};
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
    number_optional: false,
    delete_body: false,
};

/// The WebSocket logins: the spot v2 one (`/ws/v2`, its own parameter names and version 2.1)
/// and the contract v1 ones (signed exactly as a REST `GET` of their path with no query, which
/// the table classes `login`). `host` is each one's default host.
const LOGINS: &[LoginKind] = &[
    LoginKind {
        name: "spot",
        what: "the spot private WebSocket (v2: orders, accounts, trade clearing)",
        host: HOST,
        rest_twin: None,
    },
    LoginKind {
        name: "linear-swap",
        what: "USDT-margined contracts' order and account notifications",
        host: "api.hbdm.com",
        rest_twin: Some("/linear-swap-notification"),
    },
    LoginKind {
        name: "swap",
        what: "coin-margined swaps' order and account notifications",
        host: "api.hbdm.com",
        rest_twin: Some("/swap-notification"),
    },
    LoginKind {
        name: "futures",
        what: "coin-margined futures' order and account notifications",
        host: "api.hbdm.com",
        rest_twin: Some("/notification"),
    },
    LoginKind {
        name: "unified",
        what: "the unified account's (v5) order and account notifications",
        host: "api.hbdm.com",
        rest_twin: Some("/ws/v5/notification"),
    },
];

/// A login kind's WebSocket path.
fn login_path(kind: &str) -> &'static str {
    match kind {
        "spot" => "/ws/v2",
        "swap" => "/swap-notification",
        "futures" => "/notification",
        "unified" => "/ws/v5/notification",
        _ => "/linear-swap-notification",
    }
}

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
    /// https://www.htx.com/en-us/opend/newApiPages/?id=7ec5342e-7773-11ed-9966-0242ac110003
    /// (spot v2 "Authentication") and the contract docs' "Authentication" of their
    /// notification WebSockets: "GET\nhost\npath\n" + the sorted, encoded auth parameters;
    /// members in ccxt.pro's order. The host is signed: a client names it among the kind's.
    fn login_kinds(&self) -> &'static [LoginKind] {
        LOGINS
    }

    fn login(
        &self,
        kind: &LoginKind,
        request: &LoginRequest,
        c: &Credentials<'_>,
        stamp: LoginStamp,
    ) -> Result<LoginMessage, PresetError> {
        header_safe(EX, "api key", c.api_key)?;
        c.require_secret(EX)?;
        let group = SHAPE.host(kind.host).map(|h| h.table);
        let host = if request.host.is_empty() {
            kind.host
        } else {
            match SHAPE.host(&request.host) {
                Some(h) if Some(h.table) == group => h.name,
                _ => {
                    let hosts: Vec<&str> = HOSTS
                        .iter()
                        .filter(|h| Some(h.table) == group)
                        .map(|h| h.name)
                        .collect();
                    return Err(bad(
                        EX,
                        format!(
                            "the {} login is on {}, not {:?}",
                            kind.name,
                            hosts.join(" or "),
                            request.host
                        ),
                    ));
                }
            }
        };
        let ts = crate::timefmt::iso8601_seconds(stamp.now_ms / 1000);
        let ts = ts.trim_end_matches('Z').to_owned();
        let spot = kind.name == "spot";
        let (key_name, method_name, version_name, ts_name, version) = if spot {
            (
                "accessKey",
                "signatureMethod",
                "signatureVersion",
                "timestamp",
                "2.1",
            )
        } else {
            (
                "AccessKeyId",
                "SignatureMethod",
                "SignatureVersion",
                "Timestamp",
                "2",
            )
        };
        let canonical = format!(
            "{key_name}={}&{method_name}=HmacSHA256&{version_name}={version}&{ts_name}={}",
            percent_encode(c.api_key),
            percent_encode(&ts)
        );
        let prehash = format!("GET\n{host}\n{}\n{canonical}", login_path(kind.name));
        let parts: &[&[u8]] = &[prehash.as_bytes()];
        let sig = b64(&c.hmac(EX, KeyForm::Trimmed, Hash::Sha256, parts)?);
        let message = if spot {
            let params = Json::new()
                .str("authType", "api")
                .str("accessKey", c.api_key)
                .str("signatureMethod", "HmacSHA256")
                .str("signatureVersion", "2.1")
                .str("timestamp", &ts)
                .str("signature", &sig)
                .done();
            Json::new()
                .raw("params", &params)
                .str("action", "req")
                .str("ch", "auth")
                .done()
        } else {
            Json::new()
                .str("op", "auth")
                .str("type", "api")
                .str("AccessKeyId", c.api_key)
                .str("SignatureMethod", "HmacSHA256")
                .str("SignatureVersion", "2")
                .str("Timestamp", &ts)
                .str("Signature", &sig)
                .done()
        };
        Ok(LoginMessage {
            message,
            fields: vec![
                (key_name, c.api_key.to_owned()),
                (ts_name, ts.clone()),
                (if spot { "signature" } else { "Signature" }, sig),
                ("host", host.to_owned()),
            ],
            signed_sha256: signed_digest(parts),
        })
    }

    fn sign(&self, r: &HttpRequest, c: &Credentials<'_>, s: &Stamp) -> Result<Signed, PresetError> {
        header_safe(EX, "api key", c.api_key)?;
        c.require_secret(EX)?;
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
        let sig = b64(&c.hmac(EX, KeyForm::Trimmed, Hash::Sha256, signed_parts)?);
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
