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

/// Gate's API v4 docs, "Authentication > API Signature string generation", the examples: key
/// `key`, secret `secret`, `GET /api/v4/futures/orders?contract=BTC_USD&status=finished&limit=50`
/// at 1541993715, and the POST with a body. Neither needs encoding.
#[test]
fn the_documented_examples_reproduce() {
    let c = creds("key", "secret", None);
    let s = Gate
        .sign(
            &req(
                "GET",
                "/api/v4/futures/orders",
                "contract=BTC_USD&status=finished&limit=50",
                "",
            ),
            &c,
            &stamp("1541993715", None),
        )
        .unwrap();
    assert_eq!(
        header(&s.headers, "SIGN"),
        "55f84ea195d6fe57ce62464daaa7c3c02fa9d1dde954e4c898289c9a2407a3d6fb3faf24deff16790d726b66ac9f74526668b13bd01029199cc4fcc522418b8a"
    );
    let body =
        r#"{"contract":"BTC_USD","type":"limit","size":100,"price":6800,"time_in_force":"gtc"}"#;
    let s = Gate
        .sign(
            &req("POST", "/api/v4/futures/orders", "", body),
            &c,
            &stamp("1541993715", None),
        )
        .unwrap();
    assert_eq!(
        header(&s.headers, "SIGN"),
        "eae42da914a590ddf727473aff25fc87d50b64783941061f47a3fdb92742541fc4c2c14017581b4199a1418d54471c269c03a38d788d802e2c306c37636389f0"
    );
}

/// The query line is the decoded query (Gate's docs: "Request query string without URL
/// encode"; its SDK signs `unquote_plus(urlencode(query))`): a client's `%20` signs as a space,
/// and the spelling of an escape does not matter.
#[test]
fn the_query_is_signed_decoded() {
    let c = creds("key", "secret", None);
    let sign = |q: &str| {
        let s = Gate
            .sign_checked(
                &req("GET", "/api/v4/spot/orders", q, ""),
                &c,
                &stamp("1541993715", None),
            )
            .unwrap();
        header(&s.headers, "SIGN").to_owned()
    };
    assert_eq!(
        sign("text=t%2Da%20b%E2%82%AC"),
        sign("text=t-a%20b%e2%82%ac")
    );
    let e = Gate
        .sign_checked(
            &req(
                "GET",
                "/api/v4/spot/orders",
                "currency_pair=BTC_USDT%26side%3Dsell",
                "",
            ),
            &c,
            &stamp("1541993715", None),
        )
        .unwrap_err();
    assert!(e.to_string().contains("signs the query decoded"), "{e}");
}
