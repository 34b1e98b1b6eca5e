use super::*;
use crate::policy::judge::{judge, Plan};
use crate::policy::rules::{Decision, Policy};
use crate::sign::exchanges;
use crate::sign::HttpRequest;

/// The request of endpoint `n` carrying `params`, where the exchange signs them.
fn request_of(id: &str, n: &Endpoint, params: &[&str]) -> HttpRequest {
    let mut names: Vec<&str> = params.to_vec();
    if id != "bybit" {
        names.push("timestamp");
    }
    let pairs: Vec<String> = names.iter().map(|p| format!("{p}=1")).collect();
    let json = format!(
        "{{{}}}",
        params
            .iter()
            .map(|p| format!("\"{p}\":\"1\""))
            .collect::<Vec<_>>()
            .join(",")
    );
    let read = matches!(n.method, "GET" | "DELETE");
    let (query, body) = match (id, read) {
        (_, true) => (pairs.join("&"), String::new()),
        ("bybit", false) => (String::new(), json),
        _ => (String::new(), pairs.join("&")),
    };
    HttpRequest {
        method: n.method.to_owned(),
        path: n.path.as_str().to_owned(),
        query,
        body: body.into_bytes(),
        ..Default::default()
    }
}

/// The judge and the residual list agree: a harmless request that carries all of a residual
/// endpoint's parameters is not refused on that endpoint's account (the judge leaves what it
/// cannot tell apart; `tests/tests/endpoint_classes.rs` shows the others refused).
#[test]
fn residual_endpoints_are_the_ones_the_judge_cannot_refuse() {
    let policy = Policy::standard();
    let mut checked = 0;
    for preset in exchanges::ALL {
        for r in residual(*preset) {
            let Some(n) = r.within.iter().find(|n| !n.path.as_str().contains('{')) else {
                continue;
            };
            let plan = Plan::new(&policy, *preset);
            let params = n.params.clone().unwrap_or_default();
            let request = request_of(preset.id(), n, &params);
            let canonical =
                crate::sign::request::check(preset.id(), preset.shape(), &request).unwrap();
            let verdict = judge(&policy, &plan, "s", *preset, canonical).unwrap();
            if let Decision::Deny(m) = &verdict.decision {
                assert!(
                    !m.contains(&format!(" of {} (", r.endpoint.describe())),
                    "{}: {} is listed as residual, but the judge refused {} {} for it: {m}",
                    preset.id(),
                    r.endpoint.describe(),
                    request.method,
                    request.path
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 40, "only {checked} residual endpoints checked");
}

#[test]
fn exchanges_that_sign_the_endpoint_have_no_residual() {
    for preset in exchanges::ALL {
        let r = residual(*preset);
        assert_eq!(
            r.is_empty(),
            preset.shape().covers.endpoint(),
            "{}: {} residual endpoints",
            preset.id(),
            r.len()
        );
    }
    let binance = exchanges::by_id("binance").unwrap();
    let fast = residual(binance)
        .into_iter()
        .find(|r| r.endpoint.path.as_str() == "/sapi/v1/account/enableFastWithdrawSwitch")
        .expect("the example of the threat model");
    assert!(fast.within.is_empty(), "it needs no parameters");
    assert!(
        !residual(binance)
            .iter()
            .any(|r| r.endpoint.path.as_str() == "/sapi/v1/capital/withdraw/apply"),
        "a withdrawal needs an address no read endpoint takes"
    );
}
