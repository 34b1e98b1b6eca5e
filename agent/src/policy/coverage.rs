//! What a policy may test for a given exchange: a field rule judges fields (and `require`
//! demands some), and so must test only fields the exchange's signature covers. A rule on an HTX POST body (not signed) or on a
//! Coinbase Advanced request's fields (its JWT covers method and path only) would judge bytes
//! the exchange acts on but the signature does not bind: a bot could sign one request and send
//! another.

use super::rules::Policy;
use crate::sign::request::Shape;

/// The first rule (its index) that tests fields the signature does not cover, and why.
pub fn check(policy: &Policy, exchange: &str, shape: &Shape) -> Result<(), (usize, String)> {
    for (i, rule) in policy.rules.iter().enumerate() {
        if rule.fields.is_empty() && rule.require.is_empty() {
            continue;
        }
        let methods: Vec<&str> = if rule.methods.is_empty() {
            shape.methods.to_vec()
        } else {
            rule.methods.iter().map(String::as_str).collect()
        };
        if let Some(m) = methods.iter().find(|m| !shape.covers_fields(m)) {
            let readable: Vec<&str> = shape
                .methods
                .iter()
                .copied()
                .filter(|m| shape.covers_fields(m))
                .collect();
            let remedy = if readable.is_empty() {
                "test the path or class only".to_owned()
            } else {
                format!(
                    "restrict the rule to methods = {readable:?}, or test the path or class only"
                )
            };
            return Err((
                i,
                format!(
                    "this rule tests fields, but {exchange} does not sign a {m} request's fields: \
                     the exchange would act on fields the signature does not cover; {remedy}"
                ),
            ));
        }
    }
    Ok(())
}

/// An exchange whose every signature is also a login (Deribit) can sign nothing for a policy
/// without `allow_login = true`: such an entry is refused when it is added (and, sealed before
/// this check, when it is unlocked), saying why.
pub fn logins(policy: &Policy, exchange: &str, shape: &Shape) -> Result<(), String> {
    match shape.login.every_signature {
        Some(why) if !policy.allow_login => Err(format!(
            "{why}; so a {exchange} secret signs only with allow_login = true in its policy \
             (a policy file with that line: docs/policy.md), and without it would sign nothing"
        )),
        _ => Ok(()),
    }
}
