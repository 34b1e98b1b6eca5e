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

/// The readings with the request's own method, as (path, query, body).
fn alts(id: &str, r: &HttpRequest) -> Vec<(String, String, String)> {
    let p = exchanges::by_id(id).unwrap();
    alternatives(p.shape(), r)
        .into_iter()
        .filter(|a| a.method == r.method)
        .map(|a| (a.path, a.query, String::from_utf8(a.body).unwrap()))
        .collect()
}

fn methods_of(id: &str, r: &HttpRequest) -> Vec<(String, String, String, String)> {
    let p = exchanges::by_id(id).unwrap();
    alternatives(p.shape(), r)
        .into_iter()
        .filter(|a| a.method != r.method)
        .map(|a| {
            (
                a.method,
                a.path,
                a.query,
                String::from_utf8(a.body).unwrap(),
            )
        })
        .collect()
}

/// Kraken Futures signs `postData + nonce + path`: a signature is good for the same path with
/// any method, its parameters in the query or the body. Every other exchange signs the method.
#[test]
fn an_unsigned_method_gives_a_reading_per_method() {
    let got = methods_of(
        "kraken-futures",
        &req(
            "GET",
            "/derivatives/api/v3/withdrawal",
            "amount=10&currency=xbt",
            "",
        ),
    );
    let methods: Vec<&str> = got.iter().map(|(m, ..)| m.as_str()).collect();
    assert!(methods.contains(&"POST"), "{got:?}");
    assert!(got.iter().any(|(m, p, q, _)| m == "POST"
        && p == "/derivatives/api/v3/withdrawal"
        && q == "amount=10&currency=xbt"));
    let got = methods_of(
        "kraken-futures",
        &req(
            "POST",
            "/derivatives/api/v3/sendorder",
            "",
            "symbol=PF_XBTUSD",
        ),
    );
    assert!(
        got.iter()
            .any(|(m, _, q, b)| m == "GET" && q == "symbol=PF_XBTUSD" && b.is_empty()),
        "a GET carries the parameters in its query: {got:?}"
    );
    for p in exchanges::ALL {
        if p.id() == "kraken-futures" {
            continue;
        }
        let r = req(p.shape().methods[0], "/api/v5/account/balance", "", "");
        assert!(
            alternatives(p.shape(), &r)
                .iter()
                .all(|a| a.method == r.method),
            "{} signs the method",
            p.id()
        );
    }
}

#[test]
fn a_canonical_request_of_separated_parts_reads_one_way() {
    for (id, r) in [
        (
            "bitget",
            req(
                "POST",
                "/api/v2/spot/trade/place-order",
                "",
                "{\"size\":\"1\"}",
            ),
        ),
        (
            "bitget",
            req("GET", "/api/v2/spot/account/assets", "coin=USDT", ""),
        ),
        (
            "okx",
            req("POST", "/api/v5/trade/order", "", "[{\"sz\":\"10\"}]"),
        ),
        (
            "gate",
            req("GET", "/api/v4/spot/accounts", "currency=USDT1", ""),
        ),
    ] {
        assert_eq!(alts(id, &r), vec![], "{id}");
    }
}

/// A path's trailing digits can join the agent's number: each such reading is a request the
/// signature is good for.
#[test]
fn digits_before_the_agents_number_give_other_readings() {
    let got = alts(
        "bitfinex",
        &req("POST", "/v2/auth/w/withdraw12", "", "{\"a\":1}"),
    );
    assert_eq!(
        got,
        vec![
            ("/v2/auth/w/withdraw".into(), "".into(), "{\"a\":1}".into()),
            ("/v2/auth/w/withdraw1".into(), "".into(), "{\"a\":1}".into()),
        ]
    );
    let got = alts("bitmex", &req("GET", "/api/v1/order", "count=100", ""));
    assert_eq!(
        got,
        vec![
            ("/api/v1/order".into(), "count=".into(), "".into()),
            ("/api/v1/order".into(), "count=1".into(), "".into()),
            ("/api/v1/order".into(), "count=10".into(), "".into()),
        ]
    );
    // A BitMEX DELETE carries a JSON body (cancel order): the digits at the path's end can
    // still be read as the expiry's start, the body kept as it is.
    let got = alts(
        "bitmex",
        &req("DELETE", "/api/v1/userPriceAlert/12", "", "{\"a\":1}"),
    );
    assert_eq!(
        got,
        vec![
            (
                "/api/v1/userPriceAlert/".into(),
                "".into(),
                "{\"a\":1}".into()
            ),
            (
                "/api/v1/userPriceAlert/1".into(),
                "".into(),
                "{\"a\":1}".into()
            ),
        ]
    );
    let got = alts(
        "kraken-futures",
        &req("POST", "/derivatives/api/v3/withdrawal", "", "amount=10"),
    );
    assert_eq!(
        got,
        vec![
            (
                "/derivatives/api/v3/withdrawal".into(),
                "".into(),
                "amount=".into()
            ),
            (
                "/derivatives/api/v3/withdrawal".into(),
                "".into(),
                "amount=1".into()
            ),
        ]
    );
}
