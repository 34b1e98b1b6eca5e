//! Signatures computed independently of the agent (`hmac_sha256`, `bitget_sign`), signing through
//! the CLI (`sign`, `sign_json`, `assert_cli_bitget_get_signs`) and reading the headers it prints
//! (`parse_headers`, `header`).

use crate::env::Env;
use std::process::Output;

use crate::process::{assert_ok, stdout};

/// The headers printed by `apisec sign` (format headers), in order.
pub fn parse_headers(out: &str) -> Vec<(String, String)> {
    out.lines()
        .filter(|l| !l.starts_with('?'))
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no header {name} in {headers:?}"))
}

/// HMAC-SHA256, computed here independently of the agent's own signing code.
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    use hmac::Mac;
    let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).expect("any key length");
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

/// `apisec sign ARGS` (a secret's name first), checked to succeed; the headers it printed.
#[track_caller]
pub fn sign(env: &Env, args: &[&str]) -> Vec<(String, String)> {
    let mut full = vec!["sign"];
    full.extend_from_slice(args);
    let out = env.cli(&full);
    assert_ok(&out, "sign");
    parse_headers(&stdout(&out))
}

/// `apisec sign NAME --method GET --path /api/v2/spot/account/assets`: the Bitget read most
/// tests sign, whatever its outcome.
pub fn sign_assets(env: &Env, name: &str) -> std::process::Output {
    env.cli(&[
        "sign",
        name,
        "--method",
        "GET",
        "--path",
        "/api/v2/spot/account/assets",
    ])
}

/// `apisec sign ARGS --json`, checked to succeed; the JSON it printed.
#[track_caller]
pub fn sign_json(env: &Env, args: &[&str]) -> serde_json::Value {
    let mut full = vec!["sign"];
    full.extend_from_slice(args);
    full.push("--json");
    let out = env.cli(&full);
    assert_ok(&out, "sign --json");
    serde_json::from_str(&stdout(&out)).unwrap()
}

/// Signs a Bitget `GET /api/v2/spot/account/assets?coin=USDT` with secret `name` through the
/// CLI, checks `ACCESS-SIGN` against an independent HMAC of `secret`, and returns the headers.
#[track_caller]
pub fn assert_cli_bitget_get_signs(env: &Env, name: &str, secret: &[u8]) -> Vec<(String, String)> {
    let mut args = vec!["sign"];
    args.extend(bitget_get_args(name));
    assert_bitget_get_signed(&env.cli(&args), secret)
}

/// The arguments after `apisec sign` of the request [`assert_cli_bitget_get_signs`] signs, for a
/// test that runs it some other way (spawned, bounded by `timeout`).
pub fn bitget_get_args(name: &str) -> [&str; 7] {
    [
        name,
        "--method",
        "GET",
        "--path",
        "/api/v2/spot/account/assets",
        "--query",
        "coin=USDT",
    ]
}

/// Checks the output of `apisec sign` [`bitget_get_args`]: it succeeded, and `ACCESS-SIGN` is an
/// independent HMAC of `secret`; returns the headers.
#[track_caller]
pub fn assert_bitget_get_signed(out: &Output, secret: &[u8]) -> Vec<(String, String)> {
    assert_ok(out, "sign GET");
    let headers = parse_headers(&stdout(out));
    let ts = header(&headers, "ACCESS-TIMESTAMP");
    // The query joins the prehash after '?'.
    let prehash = format!("{ts}GET/api/v2/spot/account/assets?coin=USDT");
    assert_eq!(
        header(&headers, "ACCESS-SIGN"),
        bitget_sign(secret, &prehash)
    );
    headers
}

/// Bitget's `ACCESS-SIGN` for a prehash (timestamp + METHOD + path[?query] + body), computed
/// independently: base64 of HMAC-SHA256.
pub fn bitget_sign(secret: &[u8], prehash: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(hmac_sha256(secret, prehash.as_bytes()))
}

/// A fresh 32-byte secret as 64 hex characters, the form most exchanges hand out.
pub fn random_hex_secret() -> Vec<u8> {
    hex::encode(rand::random::<[u8; 32]>()).into_bytes()
}
