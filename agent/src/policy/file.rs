//! A policy file (`apisec-agent add --policy FILE`): TOML parsed into a [`Policy`] and the entry
//! settings it may carry, checked, with every error naming its line.

use serde::Deserialize;

use super::glob;
use super::rules::{yes, Action, Clients, Policy, Rate, Rule};
use crate::sign::request::Shape;

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
    allow_login: bool,
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

/// The HTTP methods, and `WS` (a Binance WebSocket API request, signed like a REST one).
const METHODS: &[&str] = &["GET", "POST", "PUT", "DELETE", "PATCH", "WS"];

/// What is wrong with a policy file, and on which line when the file says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyFileError {
    pub line: Option<usize>,
    pub message: String,
}

impl PolicyFileError {
    fn at(line: usize, message: impl std::fmt::Display) -> Self {
        Self {
            line: Some(line),
            message: message.to_string(),
        }
    }
}

impl std::fmt::Display for PolicyFileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for PolicyFileError {}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Parses and checks a policy file. Errors name the line: syntax, unknown keys, bad values,
/// and rules that contradict an earlier one.
pub fn parse(text: &str) -> Result<(Policy, EntrySettings), PolicyFileError> {
    parse_with_lines(text).map(|(p, s, _)| (p, s))
}

/// [`parse`], then the checks that depend on the exchange (a field rule must test only fields
/// its signature covers), each naming its line.
pub fn parse_for(
    text: &str,
    exchange: &str,
    shape: &Shape,
) -> Result<(Policy, EntrySettings), PolicyFileError> {
    let (policy, settings, lines) = parse_with_lines(text)?;
    if let Err((i, message)) = super::coverage::check(&policy, exchange, shape) {
        return Err(PolicyFileError::at(lines[i], message));
    }
    Ok((policy, settings))
}

fn parse_with_lines(text: &str) -> Result<(Policy, EntrySettings, Vec<usize>), PolicyFileError> {
    let file: PolicyFile = toml::from_str(text).map_err(|e| PolicyFileError {
        line: e.span().map(|s| line_of(text, s.start)),
        message: e.message().trim_end().to_owned(),
    })?;
    let mut rules: Vec<Rule> = Vec::new();
    let mut lines = Vec::new();
    for spanned in &file.rule {
        let line = line_of(text, spanned.span().start);
        let rule = spanned.get_ref().clone();
        match (&rule.path, rule.class) {
            (Some(_), Some(_)) => {
                return Err(PolicyFileError::at(
                    line,
                    "a rule names a path or a class, not both: split it into two rules",
                ))
            }
            (None, None) => {
                return Err(PolicyFileError::at(
                    line,
                    "a rule needs a path (path = \"/api/...\") or a class (class = \"read\", \
                     \"trade\", \"transfer\" or \"admin\")",
                ))
            }
            (Some(path), None) => glob::check(path).map_err(|e| PolicyFileError::at(line, e))?,
            (None, Some(_)) => {}
        }
        if !rule.require.is_empty() && rule.action == Action::Deny {
            return Err(PolicyFileError::at(
                line,
                "require = [...] belongs on an allow or step-up rule: a deny rule refuses the \
                 request whatever it carries",
            ));
        }
        if let Some(bad) = rule
            .require
            .iter()
            .find(|f| f.trim().is_empty() || f.trim() != *f)
        {
            return Err(PolicyFileError::at(
                line,
                format!("require names fields by their exact name; {bad:?} is not one"),
            ));
        }
        for m in &rule.methods {
            if !METHODS.contains(&m.as_str()) {
                return Err(PolicyFileError::at(
                    line,
                    format!("unknown method {m:?} (use {})", METHODS.join(", ")),
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
                && earlier.class == rule.class
                && earlier.fields == rule.fields
                && earlier.action != rule.action
            {
                return Err(PolicyFileError::at(
                    line,
                    format!(
                        "this rule ({}) contradicts the rule at line {} ({}): same requests, \
                         different action",
                        rule.describe(),
                        lines[i],
                        earlier.describe()
                    ),
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
                return Err(PolicyFileError::at(
                    line,
                    "rate.per_second and rate.burst must be more than zero",
                ));
            }
            if r.per_client_per_second.is_some() != r.per_client_burst.is_some()
                || r.per_client_per_second.is_some_and(|v| !ok(v))
                || r.per_client_burst == Some(0)
            {
                return Err(PolicyFileError::at(
                    line,
                    "set both rate.per_client_per_second and rate.per_client_burst, above zero",
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
            allow_login: file.allow_login,
            default_deny: file.default_deny,
            rate,
        },
        EntrySettings {
            allow_raw: file.allow_raw,
            freshness: file.freshness,
            expires: file.expires,
        },
        lines,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_line() {
        let e = parse("[[rule]]\naction = \"allow\"\npath = \"/x\"\ncolour = 1\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("line 4:") && e.contains("colour"), "{e}");
        let e = parse("[[rule]]\naction = \"maybe\"\npath = \"/x\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("line 2:"), "{e}");
        let e = parse("[[rule]]\naction = \"allow\"\npath = \"/x\"\n\n[[rule]]\naction = \"deny\"\npath = \"/x\"\n").unwrap_err().to_string();
        assert!(
            e.starts_with("line 5:") && e.contains("contradicts the rule at line 1"),
            "{e}"
        );
        let e = parse("[rate]\nper_second = 0\nburst = 1\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("line 1:") || e.starts_with("line 2:"), "{e}");
        let e = parse("[[rule]]\naction = \"allow\"\npath = \"x\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("must start with '/'"), "{e}");
        let e = parse("[[rule]\n").unwrap_err().to_string();
        assert!(e.starts_with("line 1:"), "{e}");
    }
}
