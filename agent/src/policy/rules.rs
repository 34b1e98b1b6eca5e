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

fn yes() -> bool {
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

/// The request's fields a rule can test: query parameters, form or top-level JSON body fields,
/// decoded as the exchange decodes them (`%41` is `A`, `+` in a form is a space).
///
/// A field named twice (in the query, the body, or both) is an error: exchanges disagree on
/// which one wins, so a rule could test one value while the exchange acts on the other.
pub fn request_fields(query: &str, body: &[u8]) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    let mut put = |k: String, v: String| match out.entry(k) {
        std::collections::btree_map::Entry::Occupied(e) => Err(format!(
            "the request names the field {:?} more than once; the policy's rules test fields, \
             and could test a value the exchange does not use: send each field once",
            e.key()
        )),
        std::collections::btree_map::Entry::Vacant(e) => {
            e.insert(v);
            Ok(())
        }
    };
    let form = |s: &str, put: &mut dyn FnMut(String, String) -> Result<(), String>| {
        for kv in s.split('&').filter(|kv| !kv.is_empty()) {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            put(form_decode(k), form_decode(v))?;
        }
        Ok::<(), String>(())
    };
    form(query, &mut put)?;
    let trimmed = body.trim_ascii_start();
    if trimmed.starts_with(b"{") {
        if let Ok(JsonFields(entries)) = serde_json::from_slice::<JsonFields>(body) {
            for (k, v) in entries {
                let v = match v {
                    serde_json::Value::String(s) => s,
                    serde_json::Value::Number(n) => n.to_string(),
                    serde_json::Value::Bool(b) => b.to_string(),
                    _ => continue,
                };
                put(k, v)?;
            }
        }
    } else if let Ok(s) = std::str::from_utf8(body) {
        form(s, &mut put)?;
    }
    Ok(out)
}

/// `application/x-www-form-urlencoded` decoding; a `%` not followed by two hex digits stays.
fn form_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (
            b[i],
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b'+', _, _) => {
                out.push(b' ');
                i += 1;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A JSON object's top-level members in order, duplicates kept (a map would keep only the last).
struct JsonFields(Vec<(String, serde_json::Value)>);

impl<'de> Deserialize<'de> for JsonFields {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Members;
        impl<'de> serde::de::Visitor<'de> for Members {
            type Value = JsonFields;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<JsonFields, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = m.next_entry()? {
                    entries.push(entry);
                }
                Ok(JsonFields(entries))
            }
        }
        d.deserialize_map(Members)
    }
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

/// A policy file: the policy, and optionally the entry settings it may also carry.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default)]
    clients: Option<Clients>,
    #[serde(default)]
    rule: Vec<toml::Spanned<Rule>>,
    #[serde(default = "yes")]
    default_deny: bool,
    #[serde(default)]
    rate: Option<toml::Spanned<Rate>>,
    #[serde(default)]
    allow_raw: Option<bool>,
    #[serde(default)]
    freshness: Option<String>,
    #[serde(default)]
    expires: Option<String>,
}

/// Entry settings a policy file may carry besides the policy.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct EntrySettings {
    pub allow_raw: Option<bool>,
    pub freshness: Option<String>,
    pub expires: Option<String>,
}

const METHODS: &[&str] = &["GET", "POST", "PUT", "DELETE", "PATCH"];

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Parses and checks a policy file. Errors name the line: syntax, unknown keys, bad values,
/// and rules that contradict an earlier one.
pub fn parse(text: &str) -> Result<(Policy, EntrySettings), String> {
    let file: PolicyFile = toml::from_str(text).map_err(|e| {
        let at = e
            .span()
            .map(|s| format!("line {}: ", line_of(text, s.start)))
            .unwrap_or_default();
        format!("{at}{}", e.message().trim_end())
    })?;
    let mut rules: Vec<Rule> = Vec::new();
    let mut lines = Vec::new();
    for spanned in &file.rule {
        let line = line_of(text, spanned.span().start);
        let rule = spanned.get_ref().clone();
        glob::check(&rule.path).map_err(|e| format!("line {line}: {e}"))?;
        for m in &rule.methods {
            if !METHODS.contains(&m.as_str()) {
                return Err(format!(
                    "line {line}: unknown method {m:?} (use {})",
                    METHODS.join(", ")
                ));
            }
        }
        for (i, earlier) in rules.iter().enumerate() {
            let mut a = earlier.methods.clone();
            let mut b = rule.methods.clone();
            a.sort();
            b.sort();
            if a == b
                && earlier.path == rule.path
                && earlier.fields == rule.fields
                && earlier.action != rule.action
            {
                return Err(format!(
                    "line {line}: this rule ({}) contradicts the rule at line {} ({}): same requests, \
                     different action",
                    rule.describe(),
                    lines[i],
                    earlier.describe()
                ));
            }
        }
        lines.push(line);
        rules.push(rule);
    }
    let rate = match file.rate {
        Some(r) => {
            let line = line_of(text, r.span().start);
            let r = r.into_inner();
            let ok = |v: f64| v.is_finite() && v > 0.0;
            if !ok(r.per_second) || r.burst == 0 {
                return Err(format!(
                    "line {line}: rate.per_second and rate.burst must be more than zero"
                ));
            }
            if r.per_client_per_second.is_some() != r.per_client_burst.is_some()
                || r.per_client_per_second.is_some_and(|v| !ok(v))
                || r.per_client_burst == Some(0)
            {
                return Err(format!(
                    "line {line}: set both rate.per_client_per_second and rate.per_client_burst, above zero"
                ));
            }
            Some(r)
        }
        None => None,
    };
    Ok((
        Policy {
            clients: file.clients,
            rules,
            default_deny: file.default_deny,
            rate,
        },
        EntrySettings {
            allow_raw: file.allow_raw,
            freshness: file.freshness,
            expires: file.expires,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
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

    #[test]
    fn errors_name_the_line() {
        let e = parse("[[rule]]\naction = \"allow\"\npath = \"/x\"\ncolour = 1\n").unwrap_err();
        assert!(e.starts_with("line 4:") && e.contains("colour"), "{e}");
        let e = parse("[[rule]]\naction = \"maybe\"\npath = \"/x\"\n").unwrap_err();
        assert!(e.starts_with("line 2:"), "{e}");
        let e = parse("[[rule]]\naction = \"allow\"\npath = \"/x\"\n\n[[rule]]\naction = \"deny\"\npath = \"/x\"\n").unwrap_err();
        assert!(
            e.starts_with("line 5:") && e.contains("contradicts the rule at line 1"),
            "{e}"
        );
        let e = parse("[rate]\nper_second = 0\nburst = 1\n").unwrap_err();
        assert!(e.starts_with("line 1:") || e.starts_with("line 2:"), "{e}");
        let e = parse("[[rule]]\naction = \"allow\"\npath = \"x\"\n").unwrap_err();
        assert!(e.contains("must start with '/'"), "{e}");
        let e = parse("[[rule]\n").unwrap_err();
        assert!(e.starts_with("line 1:"), "{e}");
    }

    #[test]
    fn fields_from_query_form_and_json() {
        let f = request_fields("a=1&b=2", br#"{"coin":"USDT","size":5}"#).unwrap();
        assert_eq!(f["a"], "1");
        assert_eq!(f["coin"], "USDT");
        assert_eq!(f["size"], "5");
        let f = request_fields("", b"nonce=1&pair=XBTUSD").unwrap();
        assert_eq!(f["pair"], "XBTUSD");
    }

    /// A deny rule on `coin = "BTC"` must not be passed by spelling BTC another way or by
    /// naming the field twice.
    #[test]
    fn fields_are_decoded_and_a_field_named_twice_is_refused() {
        let f = request_fields("coin=%42TC&note=a+b%20c&bad=%zz", b"").unwrap();
        assert_eq!(f["coin"], "BTC");
        assert_eq!(f["note"], "a b c");
        assert_eq!(f["bad"], "%zz");
        for (query, body) in [
            ("coin=BTC&coin=X", &b""[..]),
            ("coin=BTC", &b"coin=X"[..]),
            ("", &br#"{"coin":"BTC","coin":"X"}"#[..]),
            ("coin=BTC", &br#"{"coin":"X"}"#[..]),
        ] {
            let e = request_fields(query, body).unwrap_err();
            assert!(
                e.contains("\"coin\" more than once"),
                "{query} {body:?}: {e}"
            );
        }
    }
}
