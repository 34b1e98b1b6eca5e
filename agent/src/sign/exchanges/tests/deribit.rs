// Deribit's HTTP example (docs "deri-hmac-sha256", shell output 9bfbc51a...) uses the current time
// and a random nonce, says "Exact value depends on current timestamp", and does not print them,
// so it cannot be reproduced. Its only fixed vector (56590594..., timestamp 1576074319000, nonce
// 1iqt2wls) is for the WebSocket client_signature grant, whose string has no method/URI lines.
// The expected value here comes from ccxt 4.5.90's deribit signer:
//
//   import ccxt
//   MS = 1700000000123
//   d = ccxt.deribit({"apiKey": "der-id", "secret": "der-secret"})
//   d.milliseconds = lambda: MS; d.nonce = lambda: "abcd1234"
//   print(d.sign("get_account_summary", ["private"], "GET", {"currency": "BTC"}))

use super::Deribit;
use crate::sign::exchanges::common::test_support::*;
use crate::sign::preset::Preset;

#[test]
fn account_summary_matches_ccxt() {
    let s = Deribit
        .sign(
            &req(
                "GET",
                "/api/v2/private/get_account_summary",
                "currency=BTC",
                "",
            ),
            &creds("der-id", "der-secret", None),
            &stamp("1700000000123", Some("abcd1234")),
        )
        .unwrap();
    assert_eq!(
        s.headers,
        vec![(
            "Authorization",
            "deri-hmac-sha256 id=der-id,ts=1700000000123,sig=a1d69cf46e5059e3d4fdeece585b14e3f6719700cc874cf6e634f6af3e297859,nonce=abcd1234".into()
        )]
    );
}

#[test]
fn refuses_nonce_and_id_that_could_forge_header_fields() {
    let e = Deribit
        .sign(
            &req("GET", "/api/v2/private/x", "", ""),
            &creds("der-id", "s", None),
            &stamp("1", Some("a,sig=0")),
        )
        .unwrap_err();
    assert!(e.to_string().contains("alphanumeric"), "{e}");
    let e = Deribit
        .sign(
            &req("GET", "/api/v2/private/x", "", ""),
            &creds("id,ts=0", "s", None),
            &stamp("1", Some("abc")),
        )
        .unwrap_err();
    assert!(e.to_string().contains("client id"), "{e}");
}
