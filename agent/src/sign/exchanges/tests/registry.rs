use super::{by_id, ALL};
use crate::sign::exchanges::common::test_support::*;
use crate::sign::preset::PresetError;
use std::collections::HashSet;

#[test]
fn ids_are_unique_and_resolvable() {
    let ids: Vec<&str> = ALL.iter().map(|p| p.id()).collect();
    assert_eq!(ids.len(), 15);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len());
    for id in ids {
        assert_eq!(by_id(id).map(|p| p.id()), Some(id));
    }
    assert!(by_id("binance").is_some());
    assert!(by_id("OKX").is_none());
}

// A secret must never surface in an error, whatever the preset refuses for.
#[test]
fn no_error_or_debug_output_contains_the_secret() {
    let secret = "SuperSecretValue-DoNotLeak";
    for p in ALL {
        let attempts = [
            req("TRACE", "/x", "", ""),
            req("GET", "no-slash", "", ""),
            req("POST", "/x", "?bad", "not a form {"),
        ];
        for r in &attempts {
            let c = creds("key", secret, Some("pass-DoNotLeak"));
            if let Err(e) = p.sign(r, &c, &stamp("garbage", Some("bad nonce"))) {
                let shown = format!("{e} {e:?}");
                assert!(!shown.contains("DoNotLeak"), "{}: {shown}", p.id());
            }
            assert!(!format!("{c:?}").contains("DoNotLeak"));
        }
        if let Err(e) = p.check_secret(secret.as_bytes()) {
            assert!(matches!(e, PresetError::BadSecret { .. }));
            assert!(!format!("{e} {e:?}").contains("DoNotLeak"), "{}", p.id());
        }
    }
}

#[test]
fn unknown_methods_name_the_allowed_ones() {
    for p in ALL {
        let e = p
            .sign_checked(
                &req("get", "/x", "", ""),
                &creds("k", "s", Some("p")),
                &stamp("1", Some("1")),
            )
            .unwrap_err();
        match e {
            PresetError::Method {
                exchange,
                method,
                allowed,
            } => {
                assert_eq!(exchange, p.id());
                assert_eq!(method, "get");
                assert!(!allowed.is_empty());
            }
            other => panic!("{}: {other}", p.id()),
        }
    }
}

/// A client nonce on an exchange the agent signs without one would be dropped from the signature,
/// the client believing it signed; it is refused instead, whatever the freshness setting.
#[test]
fn a_client_nonce_is_refused_where_no_nonce_is_signed() {
    use crate::sign::Freshness;
    use crate::sign::{sign, time::StampError, SignError, TimeContext};
    let without_nonce: Vec<_> = ALL
        .iter()
        .filter(|p| !p.wants_nonce() && p.accepts_key(None))
        .collect();
    assert!(without_nonce.len() >= 8, "{}", without_nonce.len());
    for p in without_nonce {
        for freshness in [Freshness::Off, Freshness::Window { millis: 5000 }] {
            let time = TimeContext {
                client_timestamp: "",
                client_nonce: "42",
                now_ms: 1_700_000_000_000,
                freshness,
            };
            let r = sample_request(*p);
            let e = sign(
                p.id(),
                crate::sign::request::check(p.id(), p.shape(), &r).unwrap(),
                &creds("k", "czNjcjN0", Some("p")),
                &time,
                &mut || unreachable!("{} signs no nonce", p.id()),
            )
            .unwrap_err();
            assert_eq!(
                e,
                SignError::Time(StampError::NonceNotSigned { exchange: p.id() })
            );
            assert!(e.to_string().contains("send none"), "{e}");
        }
    }
}

/// A request to one of the preset's own read endpoints that needs no parameters.
pub(super) fn sample_request(p: &dyn crate::sign::Preset) -> crate::sign::HttpRequest {
    let table = crate::sign::endpoints::table(p.id()).expect("a table");
    table
        .endpoints()
        .iter()
        .filter(|e| {
            e.class == crate::sign::endpoints::Class::Read && !e.path.as_str().contains('{')
        })
        .map(|e| req(e.method, e.path.as_str(), "", ""))
        .find(|r| crate::sign::request::check(p.id(), p.shape(), r).is_ok())
        .unwrap_or_else(|| panic!("{} has no plain read endpoint", p.id()))
}

/// A request checked for one exchange is not signed by another's preset: the canonical form is
/// the exchange's own.
#[test]
fn a_request_checked_for_another_exchange_is_not_signed() {
    use crate::sign::{sign, Freshness, SignError, TimeContext};
    let okx = by_id("okx").unwrap();
    let r = req("GET", "/api/v5/account/balance", "", "");
    let checked = crate::sign::request::check(okx.id(), okx.shape(), &r).unwrap();
    let time = TimeContext {
        client_timestamp: "",
        client_nonce: "",
        now_ms: 1_700_000_000_000,
        freshness: Freshness::DEFAULT,
    };
    let e = sign(
        "bitget",
        checked,
        &creds("k", "s3cr3t", Some("p")),
        &time,
        &mut || unreachable!(),
    )
    .unwrap_err();
    assert!(
        matches!(&e, SignError::Preset(PresetError::BadRequest { reason, .. }) if reason.contains("checked for okx")),
        "{e}"
    );
}
