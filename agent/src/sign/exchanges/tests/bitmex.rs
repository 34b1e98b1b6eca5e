// Published vectors: BitMEX "API Keys Usage" page, "Full sample calculation"
// (https://www.bitmex.com/app/apiKeysUsage): apiKey LAqUlngMIQkIUjXMUreyu3qn, apiSecret
// chNOOS4KvNXR_Xq4k4c9qsfoKWvnDecLATCRlcBwyKDYnWgO, three requests (simple GET, GET with query,
// POST with JSON body) and their expires values. All three recomputed with Python hmac: correct.

use super::Bitmex;
use crate::sign::exchanges::common::test_support::*;
use crate::sign::preset::Preset;

const KEY: &str = "LAqUlngMIQkIUjXMUreyu3qn";
const SECRET: &str = "chNOOS4KvNXR_Xq4k4c9qsfoKWvnDecLATCRlcBwyKDYnWgO";

fn sign(
    method: &str,
    path: &str,
    query: &str,
    body: &str,
    expires: &str,
) -> Vec<(&'static str, String)> {
    Bitmex
        .sign(
            &req(method, path, query, body),
            &creds(KEY, SECRET, None),
            &stamp(expires, None),
        )
        .unwrap()
        .headers
}

#[test]
fn published_simple_get() {
    assert_eq!(
        sign("GET", "/api/v1/instrument", "", "", "1518064236"),
        vec![
            ("api-expires", "1518064236".into()),
            ("api-key", KEY.into()),
            (
                "api-signature",
                "c7682d435d0cfe87c16098df34ef2eb5a549d4c5a3c2b1f0f77b8af73423bf00".into()
            ),
        ]
    );
}

#[test]
fn published_get_with_query() {
    let h = sign(
        "GET",
        "/api/v1/instrument",
        "filter=%7B%22symbol%22%3A+%22XBTM15%22%7D",
        "",
        "1518064237",
    );
    assert_eq!(
        header(&h, "api-signature"),
        "e2f422547eecb5b3cb29ade2127e21b858b235b386bfa45e1c1756eb3383919f"
    );
}

#[test]
fn published_post_with_body() {
    let h = sign(
        "POST",
        "/api/v1/order",
        "",
        r#"{"symbol":"XBTM15","price":219.0,"clOrdID":"mm_bitmex_1a/oemUeQ4CAJZgP3fjHsA","orderQty":98}"#,
        "1518064238",
    );
    assert_eq!(
        header(&h, "api-signature"),
        "1749cd2ccae4aa49048ae09f0b95110cee706e0944e6a14ad0b3a8cb45bd336b"
    );
}

#[test]
fn refuses_millisecond_expires() {
    let e = Bitmex
        .sign(
            &req("GET", "/api/v1/instrument", "", ""),
            &creds(KEY, SECRET, None),
            &stamp("1518064236.5", None),
        )
        .unwrap_err();
    assert!(e.to_string().contains("UnixSeconds"), "{e}");
}

/// BitMEX takes form bodies too: a JSON body with '&' would be other parameters sent as a form,
/// so it is refused, with the escape that says the same in JSON.
#[test]
fn a_json_body_with_an_ampersand_is_refused() {
    let e = Bitmex
        .sign(
            &req(
                "DELETE",
                "/api/v1/order/all",
                "",
                r#"{"text":"a&symbol=ETHUSD&"}"#,
            ),
            &creds(KEY, SECRET, None),
            &stamp("1518064238", None),
        )
        .unwrap_err();
    assert!(e.to_string().contains("u0026"), "{e}");
    sign(
        "DELETE",
        "/api/v1/order/all",
        "",
        r#"{"text":"a\u0026b"}"#,
        "1518064238",
    );
}
