use super::*;
use crate::sign::exchanges;

fn req(method: &str, path: &str, query: &str, body: &str) -> HttpRequest {
    HttpRequest {
        method: method.into(),
        path: path.into(),
        query: query.into(),
        body: body.as_bytes().to_vec(),
        ..Default::default()
    }
}

fn check_on(id: &str, r: &HttpRequest) -> Result<(), String> {
    let p = exchanges::by_id(id).unwrap();
    check(p.id(), p.shape(), r)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// The spellings a server may normalise to a denied path are refused, each with its reason.
#[test]
fn every_other_spelling_of_a_path_is_refused() {
    for (path, says) in [
        ("/api/v2/spot/wallet/withdrawal/", "ends with '/'"),
        ("/api/v2//spot/wallet/withdrawal", "empty segment"),
        ("/api/v2/spot/./wallet/withdrawal", "'.' segment"),
        ("/api/v2/spot/x/../wallet/withdrawal", "'..' segment"),
        ("/api/v2/spot/wallet/%77ithdrawal", "percent-escape"),
        ("/api/v2/spot/wallet/withdrawal;x=1", "after ';'"),
        ("/api/v2/spot/wallet/with drawal", "spaces"),
        ("api/v2/spot/wallet/withdrawal", "must start with '/'"),
        ("/api/v2/spot/wallet/withdrawal?x=1", "'?' or '#'"),
        ("/api/v2/spot/wallet/with\"drawal", "holds '\"'"),
        (
            "/api/v2/spot/wallet/WITHDRAWAL",
            "is POST /api/v2/spot/wallet/withdrawal in another case",
        ),
        ("/API/V2/SPOT/WALLET/WITHDRAWAL", "not a private endpoint"),
        (
            "/api/v2/Spot/Wallet/Withdrawal",
            "is POST /api/v2/spot/wallet/withdrawal in another case",
        ),
    ] {
        let e = check_on("bitget", &req("POST", path, "", "{}")).unwrap_err();
        assert!(e.contains(says), "{path}: {e}");
    }
    check_on(
        "bitget",
        &req("POST", "/api/v2/spot/wallet/withdrawal", "", "{}"),
    )
    .unwrap();
    // Case inside a placeholder is the value's (an order id, a symbol), not the path's.
    check_on(
        "kraken",
        &req("POST", "/0/private/Withdraw", "", "asset=XBT"),
    )
    .unwrap();
    let e = check_on(
        "kraken",
        &req("POST", "/0/private/withdraw", "", "asset=XBT"),
    )
    .unwrap_err();
    assert!(
        e.contains("is POST /0/private/Withdraw in another case"),
        "{e}"
    );
    for p in crate::sign::exchanges::ALL {
        let Some(t) = crate::sign::endpoints::table(p.id()) else {
            continue;
        };
        for e in t
            .endpoints()
            .iter()
            .filter(|e| !e.path.as_str().contains('{'))
        {
            let upper = e.path.as_str().to_ascii_uppercase();
            if upper != e.path.as_str() && t.find(e.method, &upper).is_empty() {
                let r = req(e.method, &upper, "", "");
                assert!(
                    crate::sign::request::canonical::check_case(p.id(), &r).is_err(),
                    "{}: {} {upper} passed",
                    p.id(),
                    e.method
                );
            }
        }
    }
}

#[test]
fn a_query_and_a_body_must_be_what_they_claim() {
    let get = |q: &str| check_on("bitget", &req("GET", "/api/v2/spot/account/assets", q, ""));
    get("coin=USDT&limit=5").unwrap();
    get("coin=%55SDT").unwrap();
    assert!(get("coin=USDT&coin=BTC").unwrap_err().contains("twice"));
    assert!(get("coin=a=b")
        .unwrap_err()
        .contains("percent-encode it (%3D)"));
    assert!(get("coin").unwrap_err().contains("key=value"));
    assert!(get("coin=%zz").unwrap_err().contains("not an escape"));
    assert!(get("=1").unwrap_err().contains("name"));
    assert!(get("coin=US DT").unwrap_err().contains("spaces"));
    let post = |b: &str| {
        check_on(
            "bitget",
            &req("POST", "/api/v2/spot/trade/place-order", "", b),
        )
    };
    post("{\"symbol\":\"BTCUSDT\"}").unwrap();
    post("[{\"a\":1}]").unwrap();
    assert!(post("drawal{\"a\":1}")
        .unwrap_err()
        .contains("JSON object or array"));
    assert!(post("{\"a\":1}{\"b\":2}")
        .unwrap_err()
        .contains("not valid JSON"));
    assert!(post(" {\"a\":1}").unwrap_err().contains("starting with"));
    let e = check_on(
        "bitget",
        &req("GET", "/api/v2/spot/account/assets", "", "{}"),
    )
    .unwrap_err();
    assert!(e.contains("carries no body"), "{e}");
    // BitMEX takes a DELETE's parameters as a JSON body (ccxt's cancel_order sends them so);
    // no other preset does, and a GET has no body on BitMEX either.
    check_on(
        "bitmex",
        &req("DELETE", "/api/v1/order", "", "{\"orderID\":\"x\"}"),
    )
    .unwrap();
    let e = check_on("bitmex", &req("DELETE", "/api/v1/order", "", "orderID=x")).unwrap_err();
    assert!(e.contains("JSON object or array"), "{e}");
    let e = check_on("bitmex", &req("GET", "/api/v1/order", "", "{}")).unwrap_err();
    assert!(e.contains("carries no body"), "{e}");
    let mut refused = 0;
    for p in exchanges::ALL.iter().filter(|p| p.id() != "bitmex") {
        let shape = p.shape();
        if !shape.methods.contains(&"DELETE") {
            continue;
        }
        let path = shape.path_prefixes.first().map_or("/", |p| p).to_owned() + "x";
        let e = check_on(p.id(), &req("DELETE", &path, "", "{\"a\":1}")).unwrap_err();
        assert!(e.contains("carries no body"), "{}: {e}", p.id());
        refused += 1;
    }
    assert!(refused >= 8, "only {refused} other presets take DELETE");
    // A form preset refuses JSON; Kraken takes a JSON object too, not an array.
    let e = check_on(
        "kraken-futures",
        &req("POST", "/derivatives/api/v3/sendorder", "", "{\"a\":1}"),
    )
    .unwrap_err();
    assert!(e.contains("url-encoded form"), "{e}");
    check_on(
        "kraken",
        &req("POST", "/0/private/Balance", "", "{\"a\":1}"),
    )
    .unwrap();
    let e = check_on("kraken", &req("POST", "/0/private/Balance", "", "[1]")).unwrap_err();
    assert!(e.contains("JSON body must be an object"), "{e}");
}

#[test]
fn parameters_go_where_the_exchange_signs_them() {
    let e = check_on(
        "bitfinex",
        &req("POST", "/v2/auth/r/wallets", "limit=1", "{}"),
    )
    .unwrap_err();
    assert!(e.contains("does not sign the query"), "{e}");
    let e = check_on("kraken", &req("POST", "/0/private/Balance", "x=1", "")).unwrap_err();
    assert!(e.contains("does not sign the query"), "{e}");
    let e = check_on("bybit", &req("POST", "/v5/order/create", "a=1", "{}")).unwrap_err();
    assert!(e.contains("signs a POST's body, not its query"), "{e}");
    check_on(
        "bybit",
        &req(
            "GET",
            "/v5/account/wallet-balance",
            "accountType=UNIFIED",
            "",
        ),
    )
    .unwrap();
    let e = check_on(
        "kraken-futures",
        &req("POST", "/derivatives/api/v3/sendorder", "a=1", "b=2"),
    )
    .unwrap_err();
    assert!(e.contains("in one place"), "{e}");
    let e = check_on("gate", &req("GET", "/api/v3/spot/accounts", "", "")).unwrap_err();
    assert!(e.contains("start with /api/v4/"), "{e}");
    let e = check_on("okx", &req("PATCH", "/api/v5/account/balance", "", "")).unwrap_err();
    assert!(e.contains("PATCH") && e.contains("GET, POST"), "{e}");
}

/// A host only where the exchange signs it, and only one of the preset's; for every other
/// exchange the signature is the same on every host, so naming one is a mistake said plainly.
#[test]
fn a_host_is_named_only_where_it_is_signed() {
    let mut r = req("GET", "/v1/account/accounts", "", "");
    r.host = "api.hbdm.com".into();
    check_on("htx", &r).unwrap();
    r.host = "API.HBDM.COM".into();
    let e = check_on("htx", &r).unwrap_err();
    assert!(
        e.contains("api.huobi.pro") && e.contains("lower case"),
        "{e}"
    );
    r.host = "api.hbdm.com:443".into();
    assert!(check_on("htx", &r).is_err());
    let mut b = req("GET", "/api/v2/spot/account/assets", "", "");
    b.host = "api.bitget.com".into();
    let e = check_on("bitget", &b).unwrap_err();
    assert!(e.contains("does not sign the host"), "{e}");
}

/// Where the query is signed decoded, its boundaries must survive the decoding, and a '+'
/// (a space or a plus, depending on who reads it) is refused; elsewhere both are plain bytes.
#[test]
fn a_decoded_query_must_read_as_it_was_sent() {
    for id in ["bitget", "kucoin", "gate", "bybit"] {
        let path = match id {
            "bitget" => "/api/v2/spot/account/assets",
            "kucoin" => "/api/v1/accounts",
            "gate" => "/api/v4/spot/accounts",
            _ => "/v5/account/wallet-balance",
        };
        let e = check_on(id, &req("GET", path, "coin=USDT%26amount%3D100", "")).unwrap_err();
        assert!(e.contains("signs the query decoded"), "{id}: {e}");
        let e = check_on(id, &req("GET", path, "coin=a+b", "")).unwrap_err();
        assert!(e.contains("%20"), "{id}: {e}");
        check_on(
            id,
            &req("GET", path, "coin=a%20b%2B%2F%23%25%E2%82%AC&x=", ""),
        )
        .unwrap();
    }
    check_on(
        "okx",
        &req("GET", "/api/v5/account/balance", "ccy=a%26b%3Dc+d", ""),
    )
    .unwrap();
}
