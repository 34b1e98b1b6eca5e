use super::Kraken;
use crate::sign::exchanges::common::test_support::*;
use crate::sign::preset::{Preset, PresetError};

const DOC_SECRET: &str =
    "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg==";

// Published vector: Kraken "Spot REST Authentication" guide, section "Examples"
// (https://docs.kraken.com/api/docs/guides/spot-rest-auth): private key above, nonce
// 1616492376594, encoded payload
// "nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25",
// URI path /0/private/AddOrder, API-Sign
// "4/dpxb3iT4tp/ZCVEwSnEsLxx0bqyhLpdfOpc6fn7OR8+UClSV5n9E6aSS8MPtnRfp32bAb0nmbRn6H8ndwLUQ==".
// Recomputed independently (Python hashlib/hmac) before use: the published value is correct.
#[test]
fn published_addorder_example() {
    let s = Kraken
        .sign(
            &req(
                "POST",
                "/0/private/AddOrder",
                "",
                "ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25",
            ),
            &creds("pubkey", DOC_SECRET, None),
            &stamp("1616492376594", Some("1616492376594")),
        )
        .unwrap();
    assert_eq!(
        s.body.as_deref(),
        Some(
            &b"nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25"[..]
        )
    );
    assert_eq!(
        s.headers,
        vec![
            ("API-Key", "pubkey".into()),
            (
                "API-Sign",
                "4/dpxb3iT4tp/ZCVEwSnEsLxx0bqyhLpdfOpc6fn7OR8+UClSV5n9E6aSS8MPtnRfp32bAb0nmbRn6H8ndwLUQ==".into()
            ),
        ]
    );
}

// Empty body: independent computation from the documented formula,
//   python3 -c 'import base64,hashlib,hmac; k=base64.b64decode("kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg==");
//     n="1616492376594"; b="nonce="+n;
//     print(base64.b64encode(hmac.new(k, b"/0/private/Balance"+hashlib.sha256((n+b).encode()).digest(), hashlib.sha512).digest()).decode())'
#[test]
fn empty_body_gets_only_the_nonce() {
    let s = Kraken
        .sign(
            &req("POST", "/0/private/Balance", "", ""),
            &creds("pubkey", DOC_SECRET, None),
            &stamp("1616492376594", Some("1616492376594")),
        )
        .unwrap();
    assert_eq!(s.body.as_deref(), Some(&b"nonce=1616492376594"[..]));
    assert_eq!(header(&s.headers, "API-Sign"), KRAKEN_BALANCE_SIG);
}
const KRAKEN_BALANCE_SIG: &str =
    "1nH4vwR+8FHiYh1QT649xXkGd3JR3x0DWkgv3u9Ed/Qqv6KPtgQpEU4m+Emb/VgpEji3j1XNwI+HCbfXxmrTOg==";

#[test]
fn refuses_non_base64_secret_json_body_client_nonce_and_get() {
    let e = Kraken.check_secret(b"not*base64!").unwrap_err();
    assert!(e.to_string().contains("base64"), "{e}");
    assert!(!e.to_string().contains("not*base64!"));
    let c = creds("k", DOC_SECRET, None);
    let st = stamp("1", Some("1"));
    for body in [r#"{"nonce":"5","pair":"XBTUSD"}"#, r#"[{"pair":"XBTUSD"}]"#] {
        let e = Kraken
            .sign_checked(&req("POST", "/0/private/AddOrder", "", body), &c, &st)
            .unwrap_err();
        assert!(e.to_string().contains("nonce"), "{body}: {e}");
    }
    // An '&' makes the same bytes a form too (Kraken picks by Content-Type).
    let e = Kraken
        .sign_checked(
            &req(
                "POST",
                "/0/private/Withdraw",
                "",
                r#"{"asset":"XBT","x":"&nonce=1&key=other&"}"#,
            ),
            &c,
            &st,
        )
        .unwrap_err();
    assert!(e.to_string().contains("u0026"), "{e}");
    let e = Kraken
        .sign_checked(
            &req("POST", "/0/private/AddOrder", "", "nonce=5&pair=XBTUSD"),
            &c,
            &st,
        )
        .unwrap_err();
    assert!(e.to_string().contains("nonce"), "{e}");
    let e = Kraken
        .sign_checked(&req("POST", "/0/private/AddOrder", "", "pair"), &c, &st)
        .unwrap_err();
    assert!(e.to_string().contains("key=value"), "{e}");
    let e = Kraken
        .sign_checked(&req("GET", "/0/private/Balance", "", ""), &c, &st)
        .unwrap_err();
    assert!(matches!(e, PresetError::Method { .. }));
    let e = Kraken
        .sign_checked(
            &req("POST", "/0/private/Balance", "", ""),
            &c,
            &stamp("1", None),
        )
        .unwrap_err();
    assert!(e.to_string().contains("nonce"), "{e}");
}

/// A JSON body (AddOrderBatch, as ccxt sends it) gets the agent's nonce as its first member, a
/// string, and is signed as Kraken signs POST data: equal to ccxt 4.5.90's own request, with
/// its nonce pinned:
///
/// ```text
/// import ccxt
/// k = ccxt.kraken({"apiKey": "kr-key", "secret": DOC_SECRET}); k.nonce = lambda: 1700000000123
/// k.private_post_addorderbatch({"pair": "XBTUSD", "orders": [{"ordertype": "limit",
///     "price": "40000", "type": "buy", "volume": "1.2", "cl_ord_id": "\u20ac a=b"}]})
/// ```
#[test]
fn json_body_matches_ccxt() {
    let body = r#"{"pair":"XBTUSD","orders":[{"ordertype":"limit","price":"40000","type":"buy","volume":"1.2","cl_ord_id":"€ a=b"}]}"#;
    let s = Kraken
        .sign_checked(
            &req("POST", "/0/private/AddOrderBatch", "", body),
            &creds("kr-key", DOC_SECRET, None),
            &stamp("1", Some("1700000000123")),
        )
        .unwrap();
    assert_eq!(
        String::from_utf8(s.body.unwrap()).unwrap(),
        r#"{"nonce":"1700000000123","pair":"XBTUSD","orders":[{"ordertype":"limit","price":"40000","type":"buy","volume":"1.2","cl_ord_id":"€ a=b"}]}"#
    );
    assert_eq!(
        header(&s.headers, "API-Sign"),
        "MnYtHu6xEn9wSnFnbwpBrS28Bq9IDI0erGU1sFk9LCxMUDiXsTjABcZuELf7inUSAHrJaEybs8s6B51VaTwAcg=="
    );
    assert_eq!(header(&s.headers, "Content-Type"), "application/json");
    let s = Kraken
        .sign_checked(
            &req("POST", "/0/private/AddOrderBatch", "", "{ }"),
            &creds("kr-key", DOC_SECRET, None),
            &stamp("1", Some("7")),
        )
        .unwrap();
    assert_eq!(s.body.as_deref(), Some(&br#"{"nonce":"7"}"#[..]));
}
