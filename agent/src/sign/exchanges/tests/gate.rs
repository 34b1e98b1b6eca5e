// Gate's v4 docs give the prehash layout and sample code but no input/output pair, so the
// vectors come from ccxt 4.5.90's gate signer with a pinned clock:
//
//   import ccxt
//   MS = 1700000000123
//   g = ccxt.gate({"apiKey": "gate-key", "secret": "gate-secret"})
//   g.milliseconds = lambda: MS; g.nonce = lambda: MS
//   print(g.sign("orders", ["private", "spot"], "GET", {"currency_pair": "BTC_USDT", "status": "open"}))
//   print(g.sign("orders", ["private", "spot"], "POST", {"currency_pair": "BTC_USDT", "side": "buy",
//       "amount": "0.01", "price": "30000", "text": "t-abc"}))

use super::Gate;
use crate::sign::exchanges::common::test_support::*;
use crate::sign::preset::Preset;

#[test]
fn get_with_query_matches_ccxt() {
    let s = Gate
        .sign(
            &req(
                "GET",
                "/api/v4/spot/orders",
                "currency_pair=BTC_USDT&status=open",
                "",
            ),
            &creds("gate-key", "gate-secret", None),
            &stamp("1700000000", None),
        )
        .unwrap();
    assert_eq!(
        s.headers,
        vec![
            ("KEY", "gate-key".into()),
            ("Timestamp", "1700000000".into()),
            ("SIGN", "34eb7c34c8713032fe3254bde04fe8a61e16b540297b7b6515287bf0e785e1fa55230aa8d85d77763ff2d37c5af9b07cfb8f9133db981854cdf1de02bb8c3bdf".into()),
        ]
    );
}

#[test]
fn post_with_body_matches_ccxt() {
    let body = r#"{"currency_pair":"BTC_USDT","side":"buy","amount":"0.01","price":"30000","text":"t-abc"}"#;
    let s = Gate
        .sign(
            &req("POST", "/api/v4/spot/orders", "", body),
            &creds("gate-key", "gate-secret", None),
            &stamp("1700000000", None),
        )
        .unwrap();
    assert_eq!(
        header(&s.headers, "SIGN"),
        "09b0f5177e0c4c0a9b428130b273f6c0fd2a56bef811f672052563be2c47409a157d2613b7a430b1b3d823125486fbea0e0b97e62eb7f37703820699f8c364be"
    );
}

#[test]
fn refuses_millisecond_timestamps_and_foreign_paths() {
    let c = creds("k", "s", None);
    let e = Gate
        .sign_checked(
            &req("GET", "/api/v4/spot/orders", "", ""),
            &c,
            &stamp("1700000000.5", None),
        )
        .unwrap_err();
    assert!(e.to_string().contains("UnixSeconds"), "{e}");
    let e = Gate
        .sign_checked(
            &req("GET", "/spot/orders", "", ""),
            &c,
            &stamp("1700000000", None),
        )
        .unwrap_err();
    assert!(e.to_string().contains("/api/v4/"), "{e}");
}
