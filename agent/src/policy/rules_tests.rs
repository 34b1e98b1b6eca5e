use super::*;
use crate::policy::file::parse;

fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn decide(
    p: &Policy,
    method: &str,
    path: &str,
    class: Option<Class>,
    f: &[(&str, &str)],
) -> Decision {
    let fields = fields(f);
    let r = Judged {
        method,
        path,
        class,
        what: "withdraw",
        fields: &fields,
    };
    evaluate(
        p,
        &r,
        &Remedy {
            secret: "bg",
            exchange: "bitget",
            unbound: false,
        },
    )
}

#[test]
fn the_defaults_refuse_transfers_admin_and_unknown_endpoints() {
    let p = Policy::standard();
    let w = "/api/v2/spot/wallet/withdrawal";
    assert!(
        matches!(decide(&p, "POST", w, Some(Class::Transfer), &[]), Decision::Deny(m)
            if m.contains("is a transfer endpoint of bitget (withdraw)") && m.contains("class = \"transfer\""))
    );
    assert!(matches!(
        decide(&p, "POST", "/x", Some(Class::Admin), &[]),
        Decision::Deny(_)
    ));
    assert_eq!(
        decide(&p, "GET", "/x", Some(Class::Read), &[]),
        Decision::Allow
    );
    assert_eq!(
        decide(&p, "POST", "/x", Some(Class::Trade), &[]),
        Decision::Allow
    );
    assert!(
        matches!(decide(&p, "GET", "/api/v2/x", None, &[]), Decision::Deny(m)
            if m.contains("no endpoint GET /api/v2/x") && m.contains("apisec-agent endpoints bitget"))
    );
    let off = Policy {
        default_deny: false,
        ..Policy::standard()
    };
    assert_eq!(
        decide(&off, "POST", w, Some(Class::Transfer), &[]),
        Decision::Allow
    );
    assert_eq!(decide(&off, "GET", "/api/v2/x", None, &[]), Decision::Allow);
}

#[test]
fn the_first_rule_that_matches_decides_by_path_or_by_class() {
    let (p, _) = parse(
        "[[rule]]\naction = \"step-up\"\nmethods = [\"POST\"]\npath = \"/api/v2/spot/wallet/withdrawal\"\n\
         fields = { coin = \"USDT\" }\n\
         [[rule]]\naction = \"deny\"\npath = \"/api/v2/spot/wallet/*\"\n\
         [[rule]]\naction = \"allow\"\nclass = \"admin\"\n",
    )
    .unwrap();
    let w = "/api/v2/spot/wallet/withdrawal";
    assert!(
        matches!(decide(&p, "POST", w, Some(Class::Transfer), &[("coin", "USDT")]), Decision::StepUp(r) if r.starts_with("rule 1"))
    );
    assert!(
        matches!(decide(&p, "POST", w, Some(Class::Transfer), &[("coin", "BTC")]), Decision::Deny(m) if m.contains("rule 2"))
    );
    assert_eq!(
        decide(&p, "POST", "/api/v2/user/x", Some(Class::Admin), &[]),
        Decision::Allow
    );
    // A class rule never matches an endpoint the table does not know.
    assert!(matches!(
        decide(&p, "POST", "/api/v2/user/y", None, &[]),
        Decision::Deny(_)
    ));
    assert_eq!(p.rules[2].describe(), "allow * class=admin");
}
