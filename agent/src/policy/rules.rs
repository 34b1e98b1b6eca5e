//! A secret's policy: which clients, which requests (allow, deny, step-up rules on method + path
//! and, where the request carries them, the exchange's own fields), rate limits. Written as TOML
//! (`apisec-agent add --policy FILE`), sealed with the secret, enforced from the sealed copy.
//!
//! Order of decision for a request: the first user rule that matches decides; when none matches,
//! the preset's default deny list refuses withdrawals, transfers, sub-account and API-key
//! management; everything else is allowed.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::glob;
use crate::sign::preset::DenyEntry;

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Which clients may use the secret (beyond the socket's own uid check).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clients: Option<Clients>,
    /// Rules, first match wins.
    #[serde(default, rename = "rule", skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<Rule>,
    /// Whether the preset's default deny list applies to requests no rule matched (default: yes).
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
                "default deny list"
            } else {
                "NO default deny list"
            }
            .to_owned(),
        );
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
    /// Path pattern: `*` within a segment, `**` across segments.
    pub path: String,
    /// Request fields that must all have these values (query parameters, form or top-level JSON
    /// body fields), e.g. `{ coin = "USDT" }`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, String>,
}

impl Rule {
    /// `step-up POST /api/v2/spot/wallet/withdrawal`.
    pub fn describe(&self) -> String {
        let methods = if self.methods.is_empty() {
            "*".to_owned()
        } else {
            self.methods.join("|")
        };
        let mut s = format!("{} {methods} {}", self.action.as_str(), self.path);
        for (k, v) in &self.fields {
            s.push_str(&format!(" {k}={v}"));
        }
        s
    }

    fn matches(&self, method: &str, path: &str, fields: &BTreeMap<String, String>) -> bool {
        (self.methods.is_empty() || self.methods.iter().any(|m| m == method))
            && glob::matches(&self.path, path)
            && self.fields.iter().all(|(k, v)| fields.get(k) == Some(v))
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
    /// Refused; says which rule or list refused it and what to do.
    Deny(String),
}

/// Decides a request.
pub fn evaluate(
    policy: &Policy,
    secret: &str,
    exchange: &str,
    deny_list: &[DenyEntry],
    method: &str,
    path: &str,
    fields: &BTreeMap<String, String>,
) -> Decision {
    for (i, rule) in policy.rules.iter().enumerate() {
        if rule.matches(method, path, fields) {
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
    }
    if policy.default_deny {
        if let Some(d) = deny_list
            .iter()
            .find(|d| (d.method == "*" || d.method == method) && glob::matches(d.path, path))
        {
            return Decision::Deny(format!(
                "refused by the {exchange} default deny list: {} ({} {}); a trading bot should not \
                 need it; to allow it, add a rule to {secret}'s policy (a step-up rule asks for \
                 approval on every request; see docs/policy.md)",
                d.what, d.method, d.path
            ));
        }
    }
    Decision::Allow
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::fields::request_fields;
    use crate::policy::file::parse;
    use crate::sign::preset::deny;

    const DENY: &[DenyEntry] = &[deny("POST", "/api/v2/spot/wallet/withdrawal", "withdrawal")];

    fn decide(p: &Policy, method: &str, path: &str, body: &str) -> Decision {
        evaluate(
            p,
            "bg",
            "bitget",
            DENY,
            method,
            path,
            &request_fields("", body.as_bytes()).unwrap(),
        )
    }

    #[test]
    fn default_deny_then_rules_first_match_wins() {
        let p = Policy::standard();
        assert!(
            matches!(decide(&p, "POST", "/api/v2/spot/wallet/withdrawal", ""), Decision::Deny(m) if m.contains("bitget default deny list: withdrawal"))
        );
        assert_eq!(
            decide(&p, "POST", "/api/v2/spot/trade/place-order", ""),
            Decision::Allow
        );
        let (p, _) = parse(
            "[[rule]]\naction = \"step-up\"\nmethods = [\"POST\"]\npath = \"/api/v2/spot/wallet/withdrawal\"\nfields = { coin = \"USDT\" }\n\
             [[rule]]\naction = \"deny\"\npath = \"/api/v2/spot/wallet/*\"\n",
        )
        .unwrap();
        assert!(
            matches!(decide(&p, "POST", "/api/v2/spot/wallet/withdrawal", r#"{"coin":"USDT","size":"1"}"#), Decision::StepUp(r) if r.starts_with("rule 1"))
        );
        assert!(
            matches!(decide(&p, "POST", "/api/v2/spot/wallet/withdrawal", r#"{"coin":"BTC"}"#), Decision::Deny(m) if m.contains("rule 2"))
        );
    }
}
