// Kraken's Futures guide gives only example inputs (its sample api_secret
// "rttp4AzwRfYEdQ7R7X8Z/04Y4TZPa97pqCypi3xXxAqftygftnI6H9yGV+OcUOOJeFtZkr8mVwbAndU3Kz4Q+eG" is not
// even valid base64) and no resulting Authent, so there is no official vector. Without a nonce the
// expected values come from ccxt 4.5.90's krakenfutures signer:
//
//   import ccxt
//   S = "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="
//   kf = ccxt.krakenfutures({"apiKey": "kf-key", "secret": S})
//   print(kf.sign("sendorder", ["private"], "POST", {"orderType": "lmt", "symbol": "PF_XBTUSD",
//       "side": "buy", "size": "1", "limitPrice": "30000"}))
//   print(kf.sign("accounts", ["private"], "GET", {}))

use super::KrakenFutures;
use crate::sign::exchanges::common::test_support::*;
use crate::sign::preset::Preset;

const S: &str =
    "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg==";
const ORDER: &str = "orderType=lmt&symbol=PF_XBTUSD&side=buy&size=1&limitPrice=30000";

#[test]
fn sendorder_without_nonce_matches_ccxt() {
    let s = KrakenFutures
        .sign(
            &req("POST", "/derivatives/api/v3/sendorder", ORDER, ""),
            &creds("kf-key", S, None),
            &stamp("1700000000123", None),
        )
        .unwrap();
    assert_eq!(
        s.headers,
        vec![
            ("APIKey", "kf-key".into()),
            (
                "Authent",
                "KSOCw44m/nRCcthCthtgc20UrDYJBRuaUnKUy3ojsnsaSDBijCze1/ireuCc14VpppGTuPywqyxkLzsGKahCVQ==".into()
            ),
        ]
    );
}

#[test]
fn accounts_without_params_matches_ccxt() {
    let s = KrakenFutures
        .sign(
            &req("GET", "/derivatives/api/v3/accounts", "", ""),
            &creds("kf-key", S, None),
            &stamp("1700000000123", None),
        )
        .unwrap();
    assert_eq!(
        header(&s.headers, "Authent"),
        "nJH9pTKkNbq08nxmP9E1eRLJOXsXZEQWSB4zXBICD91l16ZzyGddRkBKrB55ZwPEwFQy+iSRX9DQMNlD5OmKEA=="
    );
}

// ccxt never sends a Nonce, so this one is an independent computation of the documented steps
// (postData + Nonce + endpointPath, SHA-256, HMAC-SHA512 with the decoded secret, base64):
//   python3 -c 'import base64,hashlib,hmac; k=base64.b64decode(S);
//     pd="orderType=lmt&symbol=PF_XBTUSD&side=buy&size=1&limitPrice=30000";
//     print(base64.b64encode(hmac.new(k, hashlib.sha256((pd+"1700000000123"+"/api/v3/sendorder").encode()).digest(), hashlib.sha512).digest()).decode())'
#[test]
fn sendorder_with_nonce_signs_and_sends_it() {
    let s = KrakenFutures
        .sign(
            &req("POST", "/derivatives/api/v3/sendorder", ORDER, ""),
            &creds("kf-key", S, None),
            &stamp("1700000000123", Some("1700000000123")),
        )
        .unwrap();
    assert_eq!(
        header(&s.headers, "Authent"),
        "pJ1+PlEJ8dJHQU2xAQzvTlePSNT1rWgp/CDOSyVcmp3qWzideNvErgUcIYdrLRb+GZgWMFUPoa3qayZMvq4r+w=="
    );
    assert_eq!(header(&s.headers, "Nonce"), "1700000000123");
}

#[test]
fn refuses_split_params_and_bad_secret() {
    let e = KrakenFutures
        .sign(
            &req("POST", "/derivatives/api/v3/sendorder", "a=1", "b=2"),
            &creds("k", S, None),
            &stamp("1", None),
        )
        .unwrap_err();
    assert!(e.to_string().contains("both"), "{e}");
    let e = KrakenFutures.check_secret(b"$$$").unwrap_err();
    assert!(e.to_string().contains("base64"), "{e}");
}

/// The deny list names `/derivatives/api/v3/withdrawal`; the same endpoint without the prefix
/// must not be signed (it would sign the withdrawal past the deny list).
#[test]
fn refuses_a_path_without_the_derivatives_prefix() {
    let e = KrakenFutures
        .sign(
            &req("POST", "/api/v3/withdrawal", "", "amount=1"),
            &creds("k", S, None),
            &stamp("1", None),
        )
        .unwrap_err();
    assert!(e.to_string().contains("/derivatives/api/"), "{e}");
}

/// Through the agent's signing path the preset always gets the agent's nonce (one signature is
/// good once); the vector is the independent computation above.
#[test]
fn the_agent_stamps_its_nonce_on_every_request() {
    use crate::sign::Freshness;
    use crate::sign::TimeContext;
    let time = TimeContext {
        client_timestamp: "",
        client_nonce: "",
        now_ms: 1_700_000_000_123,
        freshness: Freshness::Window { millis: 5000 },
    };
    let mut asked = 0;
    let preset = crate::sign::exchanges::by_id("kraken-futures").unwrap();
    let r = req("POST", "/derivatives/api/v3/sendorder", ORDER, "");
    let s = crate::sign::sign(
        "kraken-futures",
        crate::sign::request::check(preset.id(), preset.shape(), &r).unwrap(),
        &creds("kf-key", S, None),
        &time,
        &mut || {
            asked += 1;
            Ok(1_700_000_000_123)
        },
    )
    .unwrap();
    assert_eq!(asked, 1);
    assert_eq!(header(&s.headers, "Nonce"), "1700000000123");
    assert_eq!(
        header(&s.headers, "Authent"),
        "pJ1+PlEJ8dJHQU2xAQzvTlePSNT1rWgp/CDOSyVcmp3qWzideNvErgUcIYdrLRb+GZgWMFUPoa3qayZMvq4r+w=="
    );
}

/// The history API (`/api/history/...`, no /derivatives) signs its own path as endpointPath,
/// its query as sent: ccxt 4.5.90, `kf.history_get_account_log({"since": "1700000000000",
/// "info": "futures trade"})` with the network replaced, sends this Authent (and no nonce).
#[test]
fn history_api_matches_ccxt_and_is_refused_under_derivatives() {
    let q = "since=1700000000000&info=futures%20trade";
    let s = KrakenFutures
        .sign_checked(
            &req("GET", "/api/history/v3/account-log", q, ""),
            &creds("kf-key", S, None),
            &stamp("1700000000123", None),
        )
        .unwrap();
    assert_eq!(
        header(&s.headers, "Authent"),
        "+5DeEEjPG+eJY3sFtLlrgJAL7eta5ljMutnZ2pn2QWEL5aZXUYlj4yqoeLCKhSgaxxbQezXggErEMFwcV1hOcA=="
    );
    for path in [
        "/derivatives/api/history/v3/account-log",
        "/api/v3/withdrawal",
    ] {
        let e = KrakenFutures
            .sign_checked(
                &req("GET", path, q, ""),
                &creds("kf-key", S, None),
                &stamp("1", None),
            )
            .unwrap_err();
        assert!(e.to_string().contains("/api/history/"), "{path}: {e}");
    }
}
