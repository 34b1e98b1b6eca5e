// Bitfinex's docs show the payload rule and sample code, no input/output pair, so vectors come
// from ccxt 4.5.90's bitfinex (v2) signer with a pinned nonce:
//
//   import ccxt
//   MS = 1700000000123
//   b = ccxt.bitfinex({"apiKey": "bfx-key", "secret": "bfx-secret"})
//   b.incrementing_nonce = lambda: MS
//   print(b.sign("auth/r/wallets", ["private"], "POST", {}))
//   print(b.sign("auth/w/order/submit", ["private"], "POST", {"type": "EXCHANGE LIMIT",
//       "symbol": "tBTCUSD", "amount": "0.01", "price": "30000"}))

use super::Bitfinex;
use crate::sign::exchanges::common::test_support::*;
use crate::sign::preset::{Preset, PresetError};

#[test]
fn wallets_matches_ccxt() {
    let s = Bitfinex
        .sign(
            &req("POST", "/v2/auth/r/wallets", "", "{}"),
            &creds("bfx-key", "bfx-secret", None),
            &stamp("1700000000123", Some("1700000000123")),
        )
        .unwrap();
    assert_eq!(
        s.headers,
        vec![
            ("bfx-nonce", "1700000000123".into()),
            ("bfx-apikey", "bfx-key".into()),
            ("bfx-signature", "67506bc8ff076970df1282b84d191ce638b35565105274086eddbcfccf0837126c7348a4a01d660b13f7434072fbd5da".into()),
        ]
    );
}

#[test]
fn order_submit_matches_ccxt() {
    let body = r#"{"type":"EXCHANGE LIMIT","symbol":"tBTCUSD","amount":"0.01","price":"30000"}"#;
    let s = Bitfinex
        .sign(
            &req("POST", "/v2/auth/w/order/submit", "", body),
            &creds("bfx-key", "bfx-secret", None),
            &stamp("1700000000123", Some("1700000000123")),
        )
        .unwrap();
    assert_eq!(
        header(&s.headers, "bfx-signature"),
        "b64bbc352df24a7575bc714426968c810e77f260e6506a9ccd0da22de567faefd44288c6f854fc6fbe2d617a580a4bb8"
    );
}

#[test]
fn refuses_missing_nonce_get_and_public_path() {
    let c = creds("k", "s", None);
    let e = Bitfinex
        .sign_checked(
            &req("POST", "/v2/auth/r/wallets", "", "{}"),
            &c,
            &stamp("1", None),
        )
        .unwrap_err();
    assert!(e.to_string().contains("nonce"), "{e}");
    let e = Bitfinex
        .sign_checked(
            &req("GET", "/v2/auth/r/wallets", "", ""),
            &c,
            &stamp("1", Some("1")),
        )
        .unwrap_err();
    assert!(matches!(e, PresetError::Method { .. }));
    let e = Bitfinex
        .sign_checked(
            &req("POST", "/v2/tickers", "", ""),
            &c,
            &stamp("1", Some("1")),
        )
        .unwrap_err();
    assert!(e.to_string().contains("/v2/auth/"), "{e}");
}
