// Bybit's v5 guide shows the prehash rule but no worked signature, so the vectors come from
// ccxt 4.5.90's Bybit signer with a pinned clock (recvWindow 5000 is ccxt's default too):
//
//   import ccxt
//   MS = 1700000000123
//   b = ccxt.bybit({"apiKey": "bybit-key", "secret": "bybit-secret"})
//   b.milliseconds = lambda: MS; b.nonce = lambda: MS
//   print(b.sign("v5/account/wallet-balance", ["private"], "GET", {"accountType": "UNIFIED"}))
//   print(b.sign("v5/order/create", ["private"], "POST", {"category": "spot", "symbol": "BTCUSDT",
//       "side": "Buy", "orderType": "Limit", "qty": "0.01", "price": "30000"}))

use super::Bybit;
use crate::sign::exchanges::common::test_support::*;
use crate::sign::preset::{Preset, PresetError};

#[test]
fn get_matches_ccxt() {
    let s = Bybit
        .sign(
            &req(
                "GET",
                "/v5/account/wallet-balance",
                "accountType=UNIFIED",
                "",
            ),
            &creds("bybit-key", "bybit-secret", None),
            &stamp("1700000000123", None),
        )
        .unwrap();
    assert_eq!(
        s.headers,
        vec![
            ("X-BAPI-API-KEY", "bybit-key".into()),
            ("X-BAPI-TIMESTAMP", "1700000000123".into()),
            (
                "X-BAPI-SIGN",
                "c7fd48f0084f86346c89616caf137eeef63709ef4a9906c29988e2594e8e3d62".into()
            ),
            ("X-BAPI-RECV-WINDOW", "5000".into()),
        ]
    );
}

#[test]
fn post_matches_ccxt() {
    let body = r#"{"category":"spot","symbol":"BTCUSDT","side":"Buy","orderType":"Limit","qty":"0.01","price":"30000"}"#;
    let s = Bybit
        .sign(
            &req("POST", "/v5/order/create", "", body),
            &creds("bybit-key", "bybit-secret", None),
            &stamp("1700000000123", None),
        )
        .unwrap();
    assert_eq!(
        header(&s.headers, "X-BAPI-SIGN"),
        "1813c386866e25b438b68ef122a4c664bb8dc4fc2082ec6b0948daa2ad1fc061"
    );
}

#[test]
fn refuses_rsa_keys_without_echoing_them() {
    let pem =
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----";
    let e = Bybit.check_secret(pem.as_bytes()).unwrap_err();
    assert!(matches!(e, PresetError::BadSecret { .. }));
    assert!(!e.to_string().contains("MIIEvQ"));
    assert!(!format!("{e:?}").contains("MIIEvQ"));
}

/// A POST body holding '&' is also the signed string of a GET whose query decodes to it (Bybit
/// signs the payload alone): refused, with the JSON escape to use instead.
#[test]
fn a_body_holding_an_ampersand_is_refused() {
    let body =
        r#"{"category":"spot","symbol":"BTCUSDT","z":"&currency=USDT&amount=100&direction=0&"}"#;
    let e = Bybit
        .sign_checked(
            &req("POST", "/v5/order/create", "", body),
            &creds("k", "s", None),
            &stamp("1700000000000", None),
        )
        .unwrap_err();
    assert!(e.to_string().contains("u0026"), "{e}");
}
