use super::*;
use crate::sign::exchanges;

#[test]
fn every_preset_has_a_table_that_parses_with_every_class() {
    for preset in exchanges::ALL {
        let t = table(preset.id()).unwrap_or_else(|| panic!("{} has no table", preset.id()));
        for class in [Class::Read, Class::Trade] {
            assert!(
                t.endpoints().iter().any(|e| e.class == class),
                "{} has no {class} endpoint",
                preset.id()
            );
        }
        assert!(
            t.endpoints().iter().any(|e| !e.class.allowed_by_default()),
            "{} lists no transfer or admin endpoint",
            preset.id()
        );
    }
    assert!(table("nope").is_none());
}

#[test]
fn lookups_find_the_endpoint_its_class_and_its_parameters() {
    let bitget = table("bitget").unwrap();
    let w = bitget.find("POST", "/api/v2/spot/wallet/withdrawal");
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].class, Class::Transfer);
    // Another version of the same thing is in the table too (the old deny list missed it).
    assert_eq!(
        bitget.find("POST", "/api/spot/v1/wallet/withdrawal")[0].class,
        Class::Transfer
    );
    assert_eq!(
        bitget.find("GET", "/api/v2/spot/account/assets")[0].class,
        Class::Read
    );
    // The method is part of the endpoint; a spelling the exchange does not serve is not found.
    assert!(bitget
        .find("GET", "/api/v2/spot/wallet/withdrawal")
        .is_empty());
    assert!(bitget
        .find("POST", "/api/v2/spot/wallet/Withdrawal")
        .is_empty());
    assert!(bitget
        .find("POST", "/api/v2/spot/wallet/withdrawal/")
        .is_empty());

    let binance = table("binance").unwrap();
    let apply = binance.find("POST", "/sapi/v1/capital/withdraw/apply");
    assert_eq!(apply[0].class, Class::Transfer);
    let params = apply[0].params.as_ref().expect("mandatory parameters");
    for p in ["coin", "address", "amount"] {
        assert!(params.contains(&p), "{params:?}");
    }
}

#[test]
fn placeholders_fill_a_segment_or_part_of_one_and_literals_win() {
    let p = Pattern::parse("/v2/auth/r/order/{symbol}:{id}/trades").unwrap();
    let segs = |s: &'static str| s[1..].split('/').collect::<Vec<_>>();
    assert!(p.matches_segments(&segs("/v2/auth/r/order/tBTCUSD:123/trades")));
    assert!(p.matches_segments(&segs("/v2/auth/r/order/tBTCF0:USTF0:9/trades")));
    assert!(!p.matches_segments(&segs("/v2/auth/r/order/tBTCUSD/trades")));
    assert!(!p.matches_segments(&segs("/v2/auth/r/order/a%2Fb:1/trades")));
    assert!(Pattern::parse("/a//b").is_none());
    assert!(Pattern::parse("a/b").is_none());

    let t = Table::parse(
        "GET /orders/{id} read -- one order\nGET /orders/all read -- every order\n\
         DELETE /orders/{id} trade -- cancel\n",
    )
    .unwrap();
    assert_eq!(t.find("GET", "/orders/all")[0].what, "every order");
    assert_eq!(t.find("GET", "/orders/42")[0].what, "one order");
    assert_eq!(t.find("DELETE", "/orders/42")[0].class, Class::Trade);
}

#[test]
fn a_bad_line_is_named() {
    let e = Table::parse("# c\nGET /a read\nFETCH /b read\n").unwrap_err();
    assert_eq!(e.line, 3);
    assert!(e.reason.contains("FETCH"), "{e}");
    assert!(Table::parse("GET /a reading\n")
        .unwrap_err()
        .reason
        .contains("reading"));
    assert!(Table::parse("GET /a read colour=blue\n")
        .unwrap_err()
        .reason
        .contains("colour"));
}

/// One method and path, one class: two lines for the same endpoint (on two hosts) that disagree
/// would leave the decision to the order of the file.
#[test]
fn no_endpoint_has_two_classes() {
    for preset in exchanges::ALL {
        let t = table(preset.id()).unwrap();
        let mut seen: std::collections::HashMap<(&str, String), Class> = Default::default();
        for e in t.endpoints() {
            let key = (e.method, e.path.as_str().to_owned());
            if let Some(c) = seen.insert(key.clone(), e.class) {
                assert_eq!(c, e.class, "{}: {key:?} has two classes", preset.id());
            }
        }
    }
}

/// Where the signature does not bind the endpoint, the judge tells a transfer or an admin
/// endpoint from a harmless request by its mandatory parameters: a line without them could not
/// be judged at all, so each must say (`params=` with nothing after it for none).
#[test]
fn unbound_exchanges_list_the_parameters_of_every_refused_endpoint() {
    for preset in exchanges::ALL {
        if preset.shape().covers.endpoint() {
            continue;
        }
        for e in table(preset.id()).unwrap().endpoints() {
            assert!(
                e.class.allowed_by_default() || e.params.is_some(),
                "{}: {} ({}) lists no params=",
                preset.id(),
                e.describe(),
                e.class
            );
        }
    }
}

/// A table that says a DELETE takes its parameters in a body names a preset whose requests
/// may carry one (BitMEX), or one of the endpoints listed here, which the agent cannot sign
/// with a body (the canonical check refuses a DELETE's body there), each with why that is
/// acceptable. A new `body=` line on a DELETE elsewhere fails until one of the two is decided.
#[test]
fn a_delete_with_a_body_in_a_table_is_one_its_preset_can_sign() {
    const UNSIGNABLE: &[(&str, &str, &str)] = &[
        // Futures batch cancel: not signable (a KuCoin DELETE carries no body); one order at a
        // time (DELETE /api/v1/orders/{orderId}) is.
        ("kucoin", "/api/v1/orders/multi-cancel", "trade"),
        // Broker sub-account key removal: admin, denied by default.
        ("mexc", "/api/v3/broker/sub-account/apiKey", "admin"),
    ];
    let mut bitmex = 0;
    for preset in exchanges::ALL {
        let shape = preset.shape();
        let t = table(preset.id()).unwrap();
        for e in t.endpoints().iter().filter(|e| e.method == "DELETE") {
            if !matches!(e.carrier, Some(Carrier::Json | Carrier::Form)) {
                continue;
            }
            let path = e.path.to_string();
            if shape.carries_body("DELETE") {
                bitmex += usize::from(preset.id() == "bitmex");
                continue;
            }
            assert!(
                UNSIGNABLE.contains(&(preset.id(), path.as_str(), &e.class.to_string())),
                "{} DELETE {path} takes a body by its table, which the preset refuses",
                preset.id()
            );
        }
    }
    assert!(
        bitmex >= 5,
        "BitMEX's DELETE endpoints with a body: {bitmex}"
    );
}
