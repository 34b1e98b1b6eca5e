use super::*;
use crate::policy::file::parse;
use crate::sign::exchanges;
use crate::sign::HttpRequest;

fn req(method: &str, path: &str, query: &str, body: &str) -> HttpRequest {
    HttpRequest {
        method: method.into(),
        path: path.into(),
        query: query.into(),
        body: body.as_bytes().to_vec(),
        ..Default::default()
    }
}

fn verdict(id: &str, policy: &Policy, r: &HttpRequest) -> Decision {
    let preset = exchanges::by_id(id).unwrap();
    let plan = Plan::new(policy, preset);
    let canonical = crate::sign::request::check(preset.id(), preset.shape(), r).unwrap();
    judge(policy, &plan, "s", preset, canonical)
        .unwrap()
        .decision
}

#[test]
fn the_named_request_is_judged_by_its_class() {
    let p = Policy::standard();
    let d = verdict(
        "bitget",
        &p,
        &req("POST", "/api/v2/spot/wallet/withdrawal", "", "{}"),
    );
    assert!(matches!(d, Decision::Deny(m) if m.contains("transfer endpoint")));
    let d = verdict(
        "bitget",
        &p,
        &req("GET", "/api/v2/spot/account/assets", "coin=USDT", ""),
    );
    assert_eq!(d, Decision::Allow);
    let bitget = exchanges::by_id("bitget").unwrap();
    let r = req("GET", "/api/v2/spot/account/assets", "", "");
    let canonical = crate::sign::request::check(bitget.id(), bitget.shape(), &r).unwrap();
    let v = judge(&p, &Plan::default(), "s", bitget, canonical).unwrap();
    assert_eq!(v.class, Some(Class::Read));
}

/// Another reading of the signed string is judged even when the named request is allowed.
#[test]
fn another_reading_of_the_signed_string_is_judged_too() {
    let (p, _) =
        parse("default_deny = false\n[[rule]]\naction = \"deny\"\nclass = \"transfer\"\n").unwrap();
    // Not a Bitfinex endpoint, so no rule matches it: but its signature is also a withdrawal's.
    let d = verdict(
        "bitfinex",
        &p,
        &req("POST", "/v2/auth/w/withdraw1", "", "{}"),
    );
    assert!(
        matches!(&d, Decision::Deny(m) if m.contains("is also that of POST /v2/auth/w/withdraw") && m.contains("rule 1")),
        "{d:?}"
    );
}

/// Binance signs the parameters only: a read endpoint named with a withdrawal's parameters is a
/// withdrawal.
#[test]
fn unbound_parameters_are_judged_by_the_endpoints_they_reach() {
    let p = Policy::standard();
    let r = req(
        "GET",
        "/api/v3/account",
        "coin=USDT&network=TRX&address=TXyz&amount=100",
        "",
    );
    let d = verdict("binance", &p, &r);
    assert!(
        matches!(&d, Decision::Deny(m) if m.contains("/sapi/v1/capital/withdraw/apply") && m.contains("does not sign the endpoint")),
        "{d:?}"
    );
    assert_eq!(
        verdict("binance", &p, &req("GET", "/api/v3/account", "", "")),
        Decision::Allow
    );
    // Another case of the names is the same parameters, should the exchange read them so.
    let shouted = req(
        "GET",
        "/api/v3/account",
        "COIN=USDT&Network=TRX&ADDRESS=TXyz&amount=100",
        "",
    );
    assert!(
        matches!(verdict("binance", &p, &shouted), Decision::Deny(m) if m.contains("/sapi/v1/capital/withdraw/apply")),
        "names in another case"
    );
    let (allow, _) = parse("[[rule]]\naction = \"allow\"\nclass = \"transfer\"\n").unwrap();
    assert_eq!(verdict("binance", &allow, &r), Decision::Allow);
    let (step, _) = parse("[[rule]]\naction = \"step-up\"\nclass = \"transfer\"\n").unwrap();
    assert!(matches!(verdict("binance", &step, &r), Decision::StepUp(_)));
}

/// Bybit: the payload kind (a GET's query, a POST's JSON) decides which endpoints it reaches;
/// an endpoint whose parameters the named one needs too cannot be told apart from it.
#[test]
fn a_payload_reaches_endpoints_of_its_kind_and_the_indistinguishable_are_left() {
    let p = Policy::standard();
    let bybit = exchanges::by_id("bybit").unwrap();
    let table = endpoints::table("bybit").unwrap();
    let info = table.find("POST", "/v5/p2p/order/info");
    assert!(!info.is_empty(), "the table has p2p/order/info");
    let finish = table.find("POST", "/v5/p2p/order/finish");
    assert!(finish.iter().all(|e| !e.class.allowed_by_default()));
    // Named as the read it is: the release it cannot be told from is the residual.
    let d = verdict(
        "bybit",
        &p,
        &req("POST", "/v5/p2p/order/info", "", "{\"orderId\":\"1\"}"),
    );
    assert_eq!(d, Decision::Allow);
    // The same parameters under a read that does not need them: refused.
    let d = verdict(
        "bybit",
        &p,
        &req(
            "POST",
            "/v5/crypto-loan-common/max-loan",
            "",
            "{\"orderId\":\"1\",\"currency\":\"USDT\"}",
        ),
    );
    assert!(
        matches!(&d, Decision::Deny(m) if m.contains("mandatory ones (orderId)") && m.contains("transfer endpoint")),
        "{d:?}"
    );
    let _ = bybit;
}

/// Kraken Futures does not sign the method: a GET to the withdrawal's path is judged as the
/// withdrawal (POST) its signature is also good for, even where unknown endpoints are allowed.
#[test]
fn an_unsigned_method_is_judged_for_every_method() {
    let (p, _) =
        parse("default_deny = false\n[[rule]]\naction = \"deny\"\nclass = \"transfer\"\n").unwrap();
    let d = verdict(
        "kraken-futures",
        &p,
        &req(
            "GET",
            "/derivatives/api/v3/withdrawal",
            "amount=1&currency=xbt",
            "",
        ),
    );
    assert!(
        matches!(&d, Decision::Deny(m) if m.contains("is also that of POST /derivatives/api/v3/withdrawal")),
        "{d:?}"
    );
    let d = verdict(
        "kraken-futures",
        &Policy::standard(),
        &req("GET", "/derivatives/api/v3/openpositions", "", ""),
    );
    assert_eq!(d, Decision::Allow);
}

/// Bitget signs the query decoded: a signature of `symbol=BTCUSDT&limit=10` is also good for
/// `symbol%3DBTCUSDT%26limit=10` (one parameter, no `symbol`). A rule that requires `symbol`
/// is judged on that grouping too, and refuses; where the query is signed as sent (OKX), the
/// same rule allows it.
#[test]
fn a_grouping_of_a_decoded_query_is_judged() {
    let rules = |path: &str| {
        format!("[[rule]]\naction = \"allow\"\npath = \"{path}\"\nrequire = [\"instId\"]\n")
    };
    let (p, _) = parse(&rules("/api/v2/spot/trade/unfilled-orders")).unwrap();
    let path = "/api/v2/spot/trade/unfilled-orders";
    // Even one parameter: `instId%3DBTCUSDT` signs the same decoded bytes and names no instId.
    let d = verdict("bitget", &p, &req("GET", path, "instId=BTCUSDT", ""));
    assert!(
        matches!(&d, Decision::Deny(m) if m.contains("instId%3DBTCUSDT")),
        "{d:?}"
    );
    let d = verdict(
        "bitget",
        &p,
        &req("GET", path, "instId=BTCUSDT&limit=10", ""),
    );
    assert!(
        matches!(&d, Decision::Deny(m) if m.contains("signs the query decoded")
            && m.contains("instId%3DBTCUSDT")),
        "{d:?}"
    );
    let (p, _) = parse(&rules("/api/v5/trade/orders-pending")).unwrap();
    let okx = req(
        "GET",
        "/api/v5/trade/orders-pending",
        "instId=BTC-USDT&limit=10",
        "",
    );
    assert_eq!(verdict("okx", &p, &okx), Decision::Allow);
}

/// A policy that tests no fields cannot tell the groupings apart (same method, same path):
/// none is made, however many parameters.
#[test]
fn groupings_are_judged_only_where_fields_are_tested() {
    let p = Policy::standard();
    let many: Vec<String> = (0..14).map(|i| format!("p{i}=v")).collect();
    let r = req(
        "GET",
        "/api/v2/spot/trade/unfilled-orders",
        &many.join("&"),
        "",
    );
    assert_eq!(verdict("bitget", &p, &r), Decision::Allow);
    let (p, _) = parse(
        "[[rule]]\naction = \"deny\"\npath = \"/api/v2/spot/wallet/*\"\nfields = { coin = \"BTC\" }\n",
    )
    .unwrap();
    let d = verdict("bitget", &p, &r);
    assert!(
        matches!(&d, Decision::Deny(m) if m.contains("at most seven query parameters")),
        "{d:?}"
    );
}

/// HTX signs the host: a contract endpoint is known on the contract host only, and a spot
/// endpoint there is an unknown one.
#[test]
fn htx_endpoints_are_judged_on_the_host_named() {
    let p = Policy::standard();
    let mut r = req("POST", "/linear-swap-api/v1/swap_account_info", "", "{}");
    let d = verdict("htx", &p, &r);
    assert!(
        matches!(&d, Decision::Deny(m) if m.contains("no endpoint")),
        "on the spot host: {d:?}"
    );
    for host in ["api.hbdm.com", "api.hbdm.vn"] {
        r.host = host.into();
        assert_eq!(verdict("htx", &p, &r), Decision::Allow, "{host}");
    }
    let mut spot = req("GET", "/v1/account/accounts", "", "");
    assert_eq!(verdict("htx", &p, &spot), Decision::Allow);
    spot.host = "api.hbdm.com".into();
    let d = verdict("htx", &p, &spot);
    assert!(
        matches!(&d, Decision::Deny(m) if m.contains("no endpoint")),
        "{d:?}"
    );
}

/// A bot that names the other HTX host for a withdrawal, under a policy that signs unknown
/// endpoints: the class the spot host gives the path follows it to every host.
#[test]
fn a_refused_class_follows_its_path_to_every_host() {
    let (open, _) =
        parse("default_deny = false\n[[rule]]\naction = \"deny\"\nclass = \"transfer\"\n").unwrap();
    for host in ["", "api-aws.huobi.pro", "api.hbdm.com", "api.hbdm.vn"] {
        let mut w = req("POST", "/v1/dw/withdraw/api/create", "", "{}");
        w.host = host.into();
        let d = verdict("htx", &open, &w);
        assert!(
            matches!(&d, Decision::Deny(m) if m.contains("transfer")),
            "{host}: {d:?}"
        );
    }
}

/// Binance's WebSocket API requests: every one's signature may also be a session.logon, so none
/// is signed without allow_login; with it, each is judged by its method's class, and its
/// parameters reach the REST endpoints they would reach.
#[test]
fn binance_websocket_api_requests_are_logins_and_judged_by_class() {
    let ws = |path: &str, query: &str| req("WS", path, query, "");
    let order = ws(
        "/ws-api/v3/order.place",
        "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=1",
    );
    let d = verdict("binance", &Policy::standard(), &order);
    assert!(
        matches!(&d, Decision::Deny(m) if m.contains("session.logon") && m.contains("allow_login")),
        "{d:?}"
    );
    let (logins, _) = parse("allow_login = true\n").unwrap();
    assert_eq!(verdict("binance", &logins, &order), Decision::Allow);
    let withdraw = ws(
        "/ws-api/v3/account.status",
        "coin=USDT&address=TXYZ&amount=100",
    );
    let d = verdict("binance", &logins, &withdraw);
    assert!(
        matches!(&d, Decision::Deny(m) if m.contains("withdraw")),
        "{d:?}"
    );
    let (no_ws, _) = parse(
        "allow_login = true\n[[rule]]\naction = \"deny\"\nmethods = [\"WS\"]\npath = \"/ws-api/**\"\n",
    )
    .unwrap();
    assert!(matches!(
        verdict("binance", &no_ws, &order),
        Decision::Deny(_)
    ));
    // Another spelling of the method, or a REST method on a WebSocket API path, is no request.
    let preset = exchanges::by_id("binance").unwrap();
    for (method, path) in [
        ("ws", "/ws-api/v3/order.place"),
        ("GET", "/ws-api/v3/order.place"),
    ] {
        let r = req(method, path, "symbol=BTCUSDT", "");
        let checked = crate::sign::request::check(preset.id(), preset.shape(), &r);
        let refused = match checked {
            Err(_) => true,
            Ok(c) => {
                let creds = crate::sign::Credentials {
                    api_key: "k",
                    secret: b"s",
                    passphrase: None,
                    signer: None,
                    mac: None,
                };
                let stamp = crate::sign::Stamp {
                    timestamp: "1".into(),
                    nonce: None,
                };
                preset.sign(c.request(), &creds, &stamp).is_err()
            }
        };
        assert!(refused, "{method} {path}");
    }
}

/// A reading of Bitget's signed string whose query and body both name `symbol` (a query value
/// that decodes to the JSON body of an ETHUSDT order) is refused, never judged without fields.
#[test]
fn a_reading_that_names_a_field_twice_is_refused() {
    let (p, _) = parse(
        "[[rule]]\naction = \"deny\"\nmethods = [\"POST\"]\npath = \"/api/v2/spot/trade/place-order\"\nfields = { symbol = \"ETHUSDT\" }\n",
    )
    .unwrap();
    let q = "symbol=BTCUSDT%7B%22symbol%22%3A%22ETHUSDT%22%2C%22side%22%3A%22buy%22%2C%22orderType%22%3A%22market%22%2C%22size%22%3A%22100%22%7D";
    let d = verdict(
        "bitget",
        &p,
        &req("POST", "/api/v2/spot/trade/place-order", q, ""),
    );
    assert!(matches!(&d, Decision::Deny(_)), "{d:?}");
    // Judged alone (no groupings: a policy without field rules has none), the reading with
    // `symbol` in both places is refused for naming it twice.
    let (twice, _) = parse(
        "default_deny = false\n[[rule]]\naction = \"deny\"\nmethods = [\"POST\"]\npath = \"/api/v2/spot/trade/cancel-order\"\nfields = { symbol = \"ETHUSDT\" }\n",
    )
    .unwrap();
    let d = verdict(
        "bitget",
        &twice,
        &req("POST", "/api/v2/spot/trade/place-order", q, ""),
    );
    assert!(
        matches!(&d, Decision::Deny(m) if m.contains("\"symbol\" twice")),
        "{d:?}"
    );
}

/// KuCoin cancels every order of every symbol for a DELETE without `symbol`: the signature of
/// `symbol=BTC-USDT` is also that of `symbol%3DBTC-USDT` (one bare name), so an allow rule on
/// the symbol cannot let it through.
#[test]
fn a_single_parameter_sent_as_a_bare_name_is_judged() {
    let (p, _) = parse(
        "[[rule]]\naction = \"allow\"\nmethods = [\"DELETE\"]\npath = \"/api/v1/orders\"\nfields = { symbol = \"BTC-USDT\" }\n[[rule]]\naction = \"deny\"\nmethods = [\"DELETE\"]\npath = \"/api/v1/orders\"\nfields = { tradeType = \"x\" }\n[[rule]]\naction = \"deny\"\nmethods = [\"DELETE\"]\npath = \"/api/v1/orders\"\n",
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
    let d = verdict(
        "kucoin",
        &p,
        &req("DELETE", "/api/v1/orders", "symbol=BTC-USDT", ""),
    );
    assert!(
        matches!(&d, Decision::Deny(m) if m.contains("symbol%3DBTC-USDT")),
        "{d:?}"
    );
}

/// Binance and MEXC sign query and body joined with nothing between them: the query
/// `...&newClientOrderId=am` with the body `ount=1000` is also `...&newClientOrderId=` with the
/// body `amount=1000`, a withdrawal's parameters; and a query-only `...&xamount=1` cut after
/// its `x` is too.
#[test]
fn a_cut_moved_between_query_and_body_is_judged() {
    let p = Policy::standard();
    for (id, query, body) in [
        (
            "binance",
            "timestamp=&coin=USDT&address=TXyz123&newClientOrderId=am",
            "ount=1000",
        ),
        ("binance", "coin=USDT&address=TXyz123&xamount=1000", ""),
        (
            "mexc",
            "coin=USDT&address=TXyz123&netWork=TRX&xamount=1000",
            "",
        ),
    ] {
        let method = if body.is_empty() { "GET" } else { "POST" };
        let d = verdict(id, &p, &req(method, "/api/v3/order", query, body));
        assert!(
            matches!(&d, Decision::Deny(m) if m.contains("withdraw") && m.contains("cut")),
            "{id} {query} {body}: {d:?}"
        );
    }
    // Without the withdrawal's other names, a suffix reaches nothing.
    let honest = req("GET", "/api/v3/account", "newClientOrderId=myamount", "");
    assert_eq!(verdict("binance", &p, &honest), Decision::Allow);
}

/// Kraken Futures takes a request without its Nonce header: the nonce's digits then end the
/// parameters. An allow rule on the last value cannot let the signature through, and a path
/// whose endpointPath holds a second `/api/` (the rest of it sendable as postData) is refused.
#[test]
fn kraken_futures_without_its_nonce_is_judged() {
    let (p, _) = parse(
        "[[rule]]\naction = \"allow\"\nmethods = [\"POST\"]\npath = \"/derivatives/api/v3/sendorder\"\nfields = { side = \"buy\" }\n[[rule]]\naction = \"deny\"\nmethods = [\"POST\"]\npath = \"/derivatives/api/v3/sendorder\"\n",
    )
    .unwrap();
    // The last value ends in a letter, so no reading lends its digits to the nonce: only the
    // one without the nonce (side=buy<digits>) falls to the deny rule.
    let body = "orderType=lmt&symbol=PF_XBTUSD&size=1&limitPrice=5&side=buy";
    let d = verdict(
        "kraken-futures",
        &p,
        &req("POST", "/derivatives/api/v3/sendorder", "", body),
    );
    assert!(
        matches!(&d, Decision::Deny(m) if m.contains("optional nonce") && m.contains("rule 2")),
        "{d:?}"
    );
    let kf = exchanges::by_id("kraken-futures").unwrap();
    let r = req(
        "POST",
        "/derivatives/api/v3/x/api/v3/withdrawal",
        "",
        "amount=1",
    );
    let checked = crate::sign::request::check(kf.id(), kf.shape(), &r).unwrap();
    let creds = crate::sign::Credentials {
        api_key: "k",
        secret: b"c2VjcmV0",
        passphrase: None,
        signer: None,
        mac: None,
    };
    let stamp = crate::sign::Stamp {
        timestamp: "1".into(),
        nonce: Some("1".into()),
    };
    let e = kf.sign(checked.request(), &creds, &stamp).unwrap_err();
    assert!(e.to_string().contains("second /api/"), "{e}");
}

/// A cut can leave only a name that ends at an `=`: in a long value the agent looks at the
/// ends of its runs between `=`s, not at every suffix (a 200 KB value is judged at once).
#[test]
fn a_long_binance_value_is_judged_without_every_suffix() {
    let long = "x".repeat(200_000);
    let r = req(
        "POST",
        "/api/v3/order",
        "coin=USDT&address=TXyz123",
        &format!("note={long}&xamount=1000"),
    );
    let d = verdict("binance", &Policy::standard(), &r);
    assert!(
        matches!(&d, Decision::Deny(m) if m.contains("withdraw") && m.contains("cut")),
        "{d:?}"
    );
    let names = crate::policy::residual::boundary_names("coin=USDT&xamount=1&n=ab", b"");
    assert!(
        names.contains("amount") && names.contains("mount"),
        "{names:?}"
    );
    assert!(
        !names.iter().any(|n| n.contains('=') || n == "b"),
        "{names:?}"
    );
}

/// A JSON body the policy's reading of fields cannot read (an unpaired surrogate, nesting past
/// 128 levels) but the canonical check lets through, and a lenient parser at the exchange may
/// read, is refused wherever fields are read, not judged as having none: a deny rule on a
/// field's value would not have matched it.
#[test]
fn a_json_body_whose_fields_cannot_be_read_is_refused_not_judged_as_empty() {
    let (p, _) = parse(
        "[[rule]]\naction = \"deny\"\nmethods = [\"DELETE\"]\npath = \"/api/v1/order/all\"\n\
         fields = { symbol = \"ETHUSD\" }\n",
    )
    .unwrap();
    let plain = req("DELETE", "/api/v1/order/all", "", r#"{"symbol":"ETHUSD"}"#);
    assert!(matches!(verdict("bitmex", &p, &plain), Decision::Deny(_)));
    let other = req("DELETE", "/api/v1/order/all", "", r#"{"symbol":"XBTUSD"}"#);
    assert_eq!(verdict("bitmex", &p, &other), Decision::Allow);
    let deep = format!(
        r#"{{"symbol":"ETHUSD","t":{}{}}}"#,
        "[".repeat(200),
        "]".repeat(200)
    );
    let mut judged = 0;
    for body in [r#"{"symbol":"ETHUSD","t":"\ud800"}"#, deep.as_str()] {
        let r = req("DELETE", "/api/v1/order/all", "", body);
        let bitmex = exchanges::by_id("bitmex").unwrap();
        // Refused by the canonical check, or by the judge: never judged with no fields.
        let Ok(canonical) = crate::sign::request::check(bitmex.id(), bitmex.shape(), &r) else {
            continue;
        };
        judged += 1;
        let e = judge(&p, &Plan::new(&p, bitmex), "s", bitmex, canonical).unwrap_err();
        assert!(
            e.to_string()
                .contains("the JSON body's fields cannot be read"),
            "{e}"
        );
    }
    assert!(
        judged >= 1,
        "the canonical check refused both: test the judge another way"
    );
    // An exchange that signs the payload only (Bybit) reads a body's fields for every policy.
    let bybit = exchanges::by_id("bybit").unwrap();
    let r = req(
        "POST",
        "/v5/order/create",
        "",
        r#"{"category":"spot","t":"\udc00"}"#,
    );
    let std = Policy::standard();
    let canonical = crate::sign::request::check(bybit.id(), bybit.shape(), &r).unwrap();
    assert!(judge(&std, &Plan::new(&std, bybit), "s", bybit, canonical).is_err());
}

/// A required field of a BitMEX DELETE, whose parameters travel in its JSON body, must be in
/// the body, as a POST's must: in the query beside a body, it is refused.
#[test]
fn a_required_field_of_a_bitmex_delete_must_be_in_its_body() {
    let (p, _) = parse(
        "[[rule]]\naction = \"allow\"\nmethods = [\"DELETE\"]\npath = \"/api/v1/user/withdrawal\"\n\
         require = [\"transactID\"]\n",
    )
    .unwrap();
    let path = "/api/v1/user/withdrawal";
    let d = verdict(
        "bitmex",
        &p,
        &req("DELETE", path, "", r#"{"transactID":"t1"}"#),
    );
    assert_eq!(d, Decision::Allow);
    let d = verdict(
        "bitmex",
        &p,
        &req("DELETE", path, "transactID=t1", r#"{"note":"x"}"#),
    );
    assert!(
        matches!(&d, Decision::Deny(m) if m.contains("must carry transactID")),
        "{d:?}"
    );
    // Elsewhere a DELETE's parameters are its query: there the field is found.
    let (c, _) = parse(
        "[[rule]]\naction = \"allow\"\nmethods = [\"DELETE\"]\npath = \"/orders/*\"\n\
         require = [\"profile_id\"]\n",
    )
    .unwrap();
    let d = verdict(
        "coinbase-exchange",
        &c,
        &req("DELETE", "/orders/o1", "profile_id=p1", ""),
    );
    assert_eq!(d, Decision::Allow);
}
