use super::Mexc;
use crate::sign::exchanges::common::test_support::*;
use crate::sign::preset::Preset;

const DOC_KEY: &str = "mx0aBYs33eIilxBWC5";
const DOC_SECRET: &str = "45d0b3c26f2644f19bfb98b07741b2f5";
const DOC_TS: &str = "1644489390087";

// Published vectors: MEXC spot v3 docs, "SIGNED Endpoint Examples for POST /api/v3/order"
// (https://mexcdevelop.github.io/apidocs/spot_v3_en/#signed; seen in mexcdevelop/apidocs
// spot_v3_en/index.html at commit 00de0dbb). Examples 1 and 2 sign the SAME string
// "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=11&recvWindow=5000&timestamp=1644489390087"
// but publish different results. Recomputed with `openssl dgst -sha256 -hmac` / Python hmac:
//   Example 1 publishes 323c96ab85a745712e95e63cad28903dd8292e4a905e99c4ee3932023843a117 -> WRONG
//   Example 2 publishes fd3e4e8543c5188531eb7279d68ae7d26a573d0fc5ab0d18eb692451654d837a -> correct
//   Example 3 publishes d1a676610ceb39174c8039b3f548357994b2a34139a8addd33baadba65684592 -> correct
#[test]
fn published_example_2_query_only_and_example_1_is_wrong() {
    let s = Mexc
        .sign(
            &req(
                "POST",
                "/api/v3/order",
                "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=11&recvWindow=5000",
                "",
            ),
            &creds(DOC_KEY, DOC_SECRET, None),
            &stamp(DOC_TS, None),
        )
        .unwrap();
    let sig = "fd3e4e8543c5188531eb7279d68ae7d26a573d0fc5ab0d18eb692451654d837a";
    assert_eq!(
        s.query,
        format!("symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=11&recvWindow=5000&timestamp={DOC_TS}&signature={sig}")
    );
    assert_eq!(
        s.query_additions,
        vec![
            ("timestamp".to_string(), DOC_TS.to_string()),
            ("signature".to_string(), sig.to_string())
        ]
    );
    assert_ne!(
        s.query_additions[1].1,
        "323c96ab85a745712e95e63cad28903dd8292e4a905e99c4ee3932023843a117"
    );
    assert_eq!(s.headers, vec![("X-MEXC-APIKEY", DOC_KEY.into())]);
}

#[test]
fn published_example_3_query_plus_body() {
    let s = Mexc
        .sign(
            &req(
                "POST",
                "/api/v3/order",
                "symbol=BTCUSDT&side=BUY&type=LIMIT",
                "quantity=1&price=11&recvWindow=5000&timestamp=1644489390087",
            ),
            &creds(DOC_KEY, DOC_SECRET, None),
            &stamp(DOC_TS, None),
        )
        .unwrap();
    assert_eq!(
        s.query,
        "symbol=BTCUSDT&side=BUY&type=LIMIT&signature=d1a676610ceb39174c8039b3f548357994b2a34139a8addd33baadba65684592"
    );
}

// ccxt 4.5.90's mexc signer, pinned clock (ccxt puts timestamp before recvWindow, so the client
// query already holds the timestamp here):
//
//   import ccxt
//   MS = 1700000000123
//   m = ccxt.mexc({"apiKey": "mexc-key", "secret": "mexc-secret"})
//   m.milliseconds = lambda: MS; m.nonce = lambda: MS
//   print(m.sign("account", ["spot", "private"], "GET", {}))
//   print(m.sign("order", ["spot", "private"], "POST", {"symbol": "BTCUSDT", "side": "BUY",
//       "type": "LIMIT", "quantity": "0.01", "price": "30000"}))
#[test]
fn matches_ccxt_get_and_post() {
    let c = creds("mexc-key", "mexc-secret", None);
    let s = Mexc
        .sign(
            &req(
                "GET",
                "/api/v3/account",
                "timestamp=1700000000123&recvWindow=5000",
                "",
            ),
            &c,
            &stamp("1700000000123", None),
        )
        .unwrap();
    assert_eq!(
        s.query,
        "timestamp=1700000000123&recvWindow=5000&signature=c3cbf67606609a02547613aee608b12ffb4aa2fc9968697c6e6b90bd1e38011f"
    );
    let s = Mexc
        .sign(
            &req(
                "POST",
                "/api/v3/order",
                "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=0.01&price=30000&timestamp=1700000000123&recvWindow=5000",
                "",
            ),
            &c,
            &stamp("1700000000123", None),
        )
        .unwrap();
    assert!(s
        .query
        .ends_with("&signature=37de9ce0c8d8ebd83e06bf2f95b53ed6cf80e8042ccf29e5cdd6b357835f7839"));
}

#[test]
fn refuses_mismatched_timestamp_and_existing_signature() {
    let c = creds("k", "s", None);
    let e = Mexc
        .sign(
            &req("GET", "/api/v3/account", "timestamp=1", ""),
            &c,
            &stamp("2", None),
        )
        .unwrap_err();
    assert!(e.to_string().contains("differs"), "{e}");
    let e = Mexc
        .sign(
            &req("GET", "/api/v3/account", "signature=x", ""),
            &c,
            &stamp("2", None),
        )
        .unwrap_err();
    assert!(e.to_string().contains("signature"), "{e}");
}

/// An empty `timestamp=` in the query is where the stamp goes, as ccxt places it (after the
/// parameters, before recvWindow): the signed string is the query as it will be sent.
#[test]
fn an_empty_timestamp_says_where_the_stamp_goes() {
    let s = Mexc
        .sign_checked(
            &req(
                "GET",
                "/api/v3/account",
                "a=1&timestamp=&recvWindow=5000",
                "",
            ),
            &creds("k", "s", None),
            &stamp("1700000000000", None),
        )
        .unwrap();
    assert!(
        s.query
            .starts_with("a=1&timestamp=1700000000000&recvWindow=5000&signature="),
        "{}",
        s.query
    );
    assert_eq!(
        s.query_additions[0],
        ("timestamp".into(), "1700000000000".into())
    );
}
