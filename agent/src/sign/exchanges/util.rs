//! Small helpers the presets share.

use base64::Engine;
use hmac::{Hmac, Mac};

pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut m = <Hmac<sha2::Sha256> as Mac>::new_from_slice(key).expect("any key length");
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

pub fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Checks the method against the ones a preset accepts. Upper case only: the method goes into the
/// prehash verbatim, so `get` would sign something other than what an HTTP library sends.
pub fn method(
    exchange: &'static str,
    given: &str,
    allowed: &'static [&'static str],
) -> Result<&'static str, super::super::PresetError> {
    allowed
        .iter()
        .copied()
        .find(|m| *m == given)
        .ok_or_else(|| super::super::PresetError::Method {
            exchange,
            method: given.to_owned(),
            allowed: "GET, POST, PUT, DELETE",
        })
}

/// Refuses request parts that cannot be sent as they are (a path without `/`, control characters
/// or spaces in the path or query, a query that starts with `?`).
pub fn check_target(
    exchange: &'static str,
    path: &str,
    query: &str,
) -> Result<(), super::super::PresetError> {
    let bad = |reason: &str| super::super::PresetError::BadRequest {
        exchange,
        reason: reason.to_owned(),
    };
    if !path.starts_with('/') {
        return Err(bad("the path must start with '/'"));
    }
    if path.contains('?') {
        return Err(bad("put the query in --query, not in the path"));
    }
    if query.starts_with('?') {
        return Err(bad("give the query without the leading '?'"));
    }
    if path
        .chars()
        .chain(query.chars())
        .any(|c| c.is_control() || c == ' ' || c == '#')
    {
        return Err(bad(
            "the path or query holds spaces, '#' or control characters; URL-encode them",
        ));
    }
    Ok(())
}

pub const STANDARD_METHODS: &[&str] = &["GET", "POST", "PUT", "DELETE"];
