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
        query: "",
        body_params: matches!(method, "POST" | "PUT"),
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

#[test]
fn a_login_needs_allow_login_which_no_rule_replaces() {
    let login = Some(Class::Login);
    let ws = "/api/v1/bullet-private";
    // Without allow_login: refused by default, by a rule naming the class, by one naming the
    // path, and with default_deny off.
    for text in [
        "",
        "[[rule]]\naction = \"allow\"\nclass = \"login\"\n",
        "[[rule]]\naction = \"allow\"\npath = \"/api/v1/bullet-private\"\n",
        "default_deny = false\n",
    ] {
        let p = parse(text).unwrap().0;
        assert!(
            matches!(decide(&p, "POST", ws, login, &[]), Decision::Deny(m)
                if m.contains("is a login") && m.contains("allow_login = true")),
            "{text:?}"
        );
    }
    // With it: allowed by default, and a rule still decides first.
    let p = parse("allow_login = true\n").unwrap().0;
    assert_eq!(decide(&p, "POST", ws, login, &[]), Decision::Allow);
    let p = parse("allow_login = true\n[[rule]]\naction = \"step-up\"\nclass = \"login\"\n")
        .unwrap()
        .0;
    assert!(matches!(
        decide(&p, "POST", ws, login, &[]),
        Decision::StepUp(_)
    ));
    let p = parse("allow_login = true\n[[rule]]\naction = \"deny\"\npath = \"/api/v1/*\"\n")
        .unwrap()
        .0;
    assert!(matches!(
        decide(&p, "POST", ws, login, &[]),
        Decision::Deny(_)
    ));
    // It allows logins only: a transfer is refused as before.
    let p = parse("allow_login = true\n").unwrap().0;
    assert!(matches!(
        decide(&p, "POST", "/x", Some(Class::Transfer), &[]),
        Decision::Deny(_)
    ));
}

#[test]
fn a_required_field_must_be_there_and_not_empty() {
    let p = parse(
        "[[rule]]\naction = \"allow\"\nmethods = [\"POST\"]\npath = \"/w\"\nrequire = [\"clientOid\"]\n",
    )
    .unwrap()
    .0;
    let refused = |f: &[(&str, &str)]| {
        matches!(decide(&p, "POST", "/w", Some(Class::Transfer), f), Decision::Deny(m)
            if m.contains("rule 1") && m.contains("must carry clientOid") && m.contains("Replays"))
    };
    assert!(refused(&[]));
    assert!(refused(&[("clientOid", "")]));
    assert!(refused(&[("clientoid", "x")]));
    assert_eq!(
        decide(
            &p,
            "POST",
            "/w",
            Some(Class::Transfer),
            &[("clientOid", "x")]
        ),
        Decision::Allow
    );
    // A request the rule does not match is not asked for it.
    assert_eq!(
        decide(&p, "POST", "/other", Some(Class::Trade), &[]),
        Decision::Allow
    );
    assert_eq!(p.rules[0].describe(), "allow POST /w require=clientOid");
}
