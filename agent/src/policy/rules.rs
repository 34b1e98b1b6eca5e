//! A secret's policy: which clients, which requests (allow, deny, step-up rules on an endpoint's
//! path or class, method, and the request's fields where the signature covers them), rate
//! limits. Written as TOML (`apisec-agent add --policy FILE`), sealed with the secret, enforced
//! from the sealed copy.
//!
//! Order of decision for one request: a login (class `login`) is refused outright unless the
//! policy says `allow_login = true`; then the first user rule that matches decides; when none
//! matches, the default refusals (unless `default_deny = false`): an endpoint of class
//! `transfer` or `admin`, and an endpoint the exchange's table does not know; everything else is
//! allowed. [`super::judge`] decides every request a signature is good for this way.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::glob;
use crate::sign::endpoints::Class;

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Which clients may use the secret (beyond the socket's own uid check).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clients: Option<Clients>,
    /// Rules, first match wins.
    #[serde(default, rename = "rule", skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<Rule>,
    /// Whether signatures that open a session outside the agent may be made: WebSocket login
    /// tokens, and the signatures an exchange also takes as a login (every Deribit signature).
    /// No rule can allow a login without it (default: no).
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_login: bool,
    /// Whether the default refusals (classes `transfer` and `admin`, endpoints the table does
    /// not know) apply to requests no rule matched (default: yes).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub default_deny: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<Rate>,
}

pub(super) fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Policy {
    pub fn is_default(&self) -> bool {
        *self
            == Self {
                default_deny: true,
                ..Self::default()
            }
    }

    /// One line for `apisec-agent list`.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        parts.push(
            if self.default_deny {
                "transfers, admin and unknown endpoints refused"
            } else {
                "NO default refusals (default_deny = false)"
            }
            .to_owned(),
        );
        if self.allow_login {
            parts.push("logins allowed".to_owned());
        }
        for r in &self.rules {
            parts.push(r.describe());
        }
        if let Some(r) = &self.rate {
            parts.push(format!("rate {}/s burst {}", r.per_second, r.burst));
        }
        if let Some(c) = &self.clients {
            if !c.uids.is_empty() {
                parts.push(format!("uids {:?}", c.uids));
            }
            if !c.executables.is_empty() {
                parts.push(format!("executables {:?}", c.executables));
            }
        }
        parts.join("; ")
    }

    /// The policy a secret gets without `--policy`.
    pub fn standard() -> Self {
        Self {
            default_deny: true,
            ..Self::default()
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(deny_unknown_fields)]
pub struct Clients {
    /// Peer uids allowed (empty: any uid the socket lets in).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub uids: Vec<u32>,
    /// Executables allowed, as `/proc/PID/exe` names them (empty: any).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub executables: Vec<PathBuf>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Allow,
    Deny,
    /// Allowed only after a fresh approval for this one request.
    StepUp,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Deny => "deny",
            Self::StepUp => "step-up",
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub action: Action,
    /// Methods the rule covers (empty: all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub methods: Vec<String>,
    /// Path pattern: `*` within a segment, `**` across segments. A rule names a path or a
    /// class, never both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The endpoint's class (`read`, `trade`, `transfer`, `admin`) in the exchange's table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<Class>,
    /// Request fields that must all have these values (query parameters, form or top-level JSON
    /// body fields), e.g. `{ coin = "USDT" }`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, String>,
    /// Fields an allowed or stepped-up request must carry, non-empty, or it is refused: the
    /// exchange's client id for the operation (`clientOid`, `withdrawOrderId`, ...), which makes
    /// a second send of the same signature a duplicate the exchange turns away
    /// (docs/policy.md, "Replays").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub require: Vec<String>,
}

impl Rule {
    /// `step-up POST /api/v2/spot/wallet/withdrawal`, `allow * class=transfer`.
    pub fn describe(&self) -> String {
        let methods = if self.methods.is_empty() {
            "*".to_owned()
        } else {
            self.methods.join("|")
        };
        let target = match (&self.path, self.class) {
            (Some(p), _) => p.clone(),
            (None, Some(c)) => format!("class={c}"),
            (None, None) => "(nothing)".into(),
        };
        let mut s = format!("{} {methods} {target}", self.action.as_str());
        for (k, v) in &self.fields {
            s.push_str(&format!(" {k}={v}"));
        }
        if !self.require.is_empty() {
            s.push_str(&format!(" require={}", self.require.join(",")));
        }
        s
    }

    /// The first required field the request lacks (or leaves empty). A request whose
    /// parameters are read from its body (POST, PUT; BitMEX's DELETE) must carry it there: an
    /// exchange that ignores such a request's query would take the withdrawal without its
    /// client id.
    fn missing<'r>(&'r self, r: &Judged<'_>) -> Option<&'r str> {
        self.require.iter().map(String::as_str).find(|k| {
            r.fields.get(*k).is_none_or(|v| v.is_empty())
                || (r.body_params && super::fields::query_names(r.query, k))
        })
    }

    fn matches(&self, r: &Judged<'_>) -> bool {
        (self.methods.is_empty() || self.methods.iter().any(|m| m == r.method))
            && match (&self.path, self.class) {
                (Some(p), _) => glob::matches(p, r.path),
                (None, Some(c)) => r.class == Some(c),
                (None, None) => false,
            }
            && self.fields.iter().all(|(k, v)| r.fields.get(k) == Some(v))
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    /// Sustained requests per second for this secret.
    pub per_second: f64,
    /// Requests allowed at once above the sustained rate.
    pub burst: u32,
    /// The same, per client (uid and executable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_client_per_second: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_client_burst: Option<u32>,
}

/// What the policy says of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// Allowed after a fresh approval; names the rule.
    StepUp(String),
    /// Refused; says which rule or default refused it and what to do.
    Deny(String),
}

impl Decision {
    /// How strict it is: a signature good for several requests takes the strictest decision.
    pub fn severity(&self) -> u8 {
        match self {
            Self::Allow => 0,
            Self::StepUp(_) => 1,
            Self::Deny(_) => 2,
        }
    }
}

/// One request as the policy judges it: the endpoint it reaches (its class from the table,
/// `None` when the table does not know it) and its fields.
#[derive(Debug, Clone)]
pub struct Judged<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub class: Option<Class>,
    /// What the endpoint does, from the table ("withdraw to an external address").
    pub what: &'a str,
    pub fields: &'a BTreeMap<String, String>,
    /// The query of this reading: where a field came from, for `require`.
    pub query: &'a str,
    /// Whether the exchange reads this request's parameters from its body
    /// ([`crate::sign::request::Shape::body_params`]): then a required field must be there.
    pub body_params: bool,
}

/// How to allow what the defaults refuse, for the refusal message.
pub struct Remedy<'a> {
    pub secret: &'a str,
    pub exchange: &'a str,
    /// The exchange's signature does not cover the endpoint: a path rule then names a request,
    /// not what the signature can be used for.
    pub unbound: bool,
}

/// The first rule that matches `r` (its index from 0), if any: the rule that decides it.
pub fn matching_rule<'p>(policy: &'p Policy, r: &Judged<'_>) -> Option<(usize, &'p Rule)> {
    policy
        .rules
        .iter()
        .enumerate()
        .find(|(_, rule)| rule.matches(r))
}

/// Decides one request: the first rule that matches, else the default refusals.
pub fn evaluate(policy: &Policy, r: &Judged<'_>, remedy: &Remedy<'_>) -> Decision {
    decide(policy, r, remedy, true)
}

/// Decides another reading of a signed string (`policy::judge`): as [`evaluate`], except that a
/// path the table does not know is taken for one the exchange does not serve (it would answer
/// 404), so only the user's rules can refuse it. The tables are what the agent knows of the
/// exchanges; a client naming an unknown endpoint is refused, a reading nobody named is not.
pub fn evaluate_reading(policy: &Policy, r: &Judged<'_>, remedy: &Remedy<'_>) -> Decision {
    decide(policy, r, remedy, r.class.is_some())
}

fn decide(policy: &Policy, r: &Judged<'_>, remedy: &Remedy<'_>, defaults: bool) -> Decision {
    let secret = remedy.secret;
    if r.class == Some(Class::Login) && !policy.allow_login {
        return Decision::Deny(login_refusal(
            secret,
            &format!(
                "{} {} of {} is a login ({})",
                r.method, r.path, remedy.exchange, r.what
            ),
        ));
    }
    if let Some((i, rule)) = matching_rule(policy, r) {
        if let Some(field) = rule.missing(r) {
            return Decision::Deny(format!(
                "refused by rule {} of {secret}'s policy ({}): the request must carry {field}, \
                 the exchange's client id, so that a second send of this signature is a \
                 duplicate the exchange refuses (docs/policy.md, \"Replays\")",
                i + 1,
                rule.describe()
            ));
        }
        return match rule.action {
            Action::Allow => Decision::Allow,
            Action::StepUp => Decision::StepUp(format!("rule {} ({})", i + 1, rule.describe())),
            Action::Deny => Decision::Deny(format!(
                "refused by rule {} of {secret}'s policy ({})",
                i + 1,
                rule.describe()
            )),
        };
    }
    if !policy.default_deny || !defaults {
        return Decision::Allow;
    }
    let exchange = remedy.exchange;
    match r.class {
        Some(class) if class.allowed_by_default() => Decision::Allow,
        // Past the check above, a login is one the policy allows (`allow_login = true`).
        Some(Class::Login) => Decision::Allow,
        Some(class) => Decision::Deny(format!(
            "refused: {} {} is {} {class} endpoint of {exchange} ({}); a trading bot should not \
             need it; to allow it, add a rule to {secret}'s policy with class = \"{class}\" or \
             path = \"{}\" (a step-up rule asks for approval on every request; see \
             docs/policy.md)",
            r.method,
            r.path,
            if class == Class::Admin { "an" } else { "a" },
            r.what,
            r.path
        )),
        None if remedy.unbound => Decision::Deny(format!(
            "refused: {exchange} has no endpoint {} {} in the agent's table \
             (`apisec-agent endpoints {exchange}` lists them); if the exchange has it, allow it \
             with a rule naming its path in {secret}'s policy. {exchange} does not sign the \
             endpoint, so such a rule allows this request by name only: what its signature is \
             good for is judged by its parameters (docs/policy.md)",
            r.method, r.path
        )),
        None => Decision::Deny(format!(
            "refused: {exchange} has no endpoint {} {} in the agent's table \
             (`apisec-agent endpoints {exchange}` lists them); check the path's spelling and \
             version, or, if the exchange has it, allow it with a rule naming its path in \
             {secret}'s policy (docs/policy.md)",
            r.method, r.path
        )),
    }
}

/// The refusal of a login: `what` says why the request is one.
pub fn login_refusal(secret: &str, what: &str) -> String {
    format!(
        "refused: {what}: a session opened with it makes requests the agent never sees, so the \
         policy could not judge them; if {secret} should log in, add it again with \
         allow_login = true in its policy (docs/policy.md)"
    )
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
