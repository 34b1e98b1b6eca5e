//! The canonical request: every rule a request must meet before a preset signs it, with an
//! error that names what was wrong and what to send instead.
//!
//! Why so strict: the policy judges the request as the client names it, the exchange acts on the
//! bytes signed. A path that a server normalises (`//`, `/./`, a trailing `/`, `%77`, `;x=1`)
//! or a query and body an exchange parses differently from the agent would make the two differ.

use crate::sign::endpoints;
use crate::sign::preset::{HttpRequest, PresetError};
use crate::sign::shape::{Body, Query, Shape, SignedQuery};

fn bad(exchange: &'static str, reason: impl Into<String>) -> PresetError {
    PresetError::BadRequest {
        exchange,
        reason: reason.into(),
    }
}

/// The characters of a canonical path: those the exchanges' documented paths and their ids,
/// symbols and currencies use.
pub fn path_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'/' | b'-' | b'_' | b'.' | b':' | b'@' | b'~')
}

/// The characters of a parameter name.
pub fn form_key_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b'[' | b']')
}

/// The characters of a parameter value as sent: unreserved characters, percent-escapes, and
/// the few separators exchanges use unescaped in values (`,`, `:`, `+`, and the `$` ccxt sends
/// unescaped to Bitget); none of them means anything to a form parser.
pub fn query_value_char(c: u8) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            b'-' | b'_' | b'.' | b'~' | b'%' | b',' | b':' | b'+' | b'*' | b'@' | b'!' | b'$'
        )
}

fn check_path(ex: &'static str, shape: &Shape, path: &str) -> Result<(), PresetError> {
    if !path.starts_with('/') {
        return Err(bad(ex, format!("path {path:?} must start with '/'")));
    }
    if path.contains('?') || path.contains('#') {
        return Err(bad(
            ex,
            format!("path {path:?} must not contain '?' or '#'; put the query in the query field"),
        ));
    }
    if path.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(bad(ex, "the path contains spaces or control characters"));
    }
    if path.contains('%') {
        return Err(bad(
            ex,
            format!(
                "path {path:?} holds a percent-escape; send the path as the exchange documents \
                 it, unescaped"
            ),
        ));
    }
    if path.contains(';') {
        return Err(bad(
            ex,
            format!("path {path:?} carries parameters after ';'; send them in the query or body"),
        ));
    }
    if path.len() > 1 && path.ends_with('/') {
        return Err(bad(
            ex,
            format!(
                "path {path:?} ends with '/'; send the endpoint's path as the exchange documents \
                 it, without the trailing '/'"
            ),
        ));
    }
    for segment in path[1..].split('/') {
        match segment {
            "" => {
                return Err(bad(
                    ex,
                    format!("path {path:?} has an empty segment ('//'); send it with single '/'"),
                ))
            }
            "." | ".." => {
                return Err(bad(
                    ex,
                    format!("path {path:?} has a '{segment}' segment; send the path it stands for"),
                ))
            }
            _ => {}
        }
    }
    if let Some(c) = path.bytes().find(|&c| !path_char(c)) {
        return Err(bad(
            ex,
            format!(
                "path {path:?} holds {:?}, which no endpoint of {ex} has",
                char::from(c)
            ),
        ));
    }
    if !shape.path_prefixes.is_empty() && !shape.path_prefixes.iter().any(|p| path.starts_with(p)) {
        return Err(bad(
            ex,
            format!(
                "path {path:?} is not a private endpoint of {ex} (its paths start with {})",
                shape.path_prefixes.join(" or ")
            ),
        ));
    }
    Ok(())
}

/// A path that is a known endpoint in another case is refused: a server that routes without
/// regard to case would serve that endpoint, while the table (and every rule) would not see it.
pub(super) fn check_case(ex: &'static str, request: &HttpRequest) -> Result<(), PresetError> {
    let Some(table) = endpoints::table(ex) else {
        return Ok(());
    };
    if !table.find(&request.method, &request.path).is_empty() {
        return Ok(());
    }
    match table.find_ignoring_case(&request.method, &request.path) {
        Some(e) => Err(bad(
            ex,
            format!(
                "path {:?} is {} in another case; send it as {ex} serves it",
                request.path,
                e.describe()
            ),
        )),
        None => Ok(()),
    }
}

/// `k=v&k=v`, every name once: `what` is "query" or "body".
fn check_pairs(ex: &'static str, what: &str, text: &str) -> Result<(), PresetError> {
    if text.is_empty() {
        return Ok(());
    }
    if text
        .bytes()
        .any(|c| c.is_ascii_control() || c == b' ' || c == b'#')
    {
        return Err(bad(
            ex,
            format!(
                "the {what} contains spaces, '#' or control characters; send it percent-encoded"
            ),
        ));
    }
    let mut names = std::collections::BTreeSet::new();
    for pair in text.split('&') {
        let Some((k, v)) = pair.split_once('=') else {
            return Err(bad(
                ex,
                format!("the {what} is not key=value pairs (bad segment {pair:?})"),
            ));
        };
        if k.is_empty() || !k.bytes().all(form_key_char) {
            return Err(bad(
                ex,
                format!("the {what} has a parameter name {k:?} that is empty or not plain"),
            ));
        }
        if let Some(c) = v.bytes().find(|&c| !query_value_char(c)) {
            return Err(bad(
                ex,
                format!(
                    "the value of {k:?} in the {what} holds {:?}; percent-encode it (%{c:02X})",
                    char::from(c)
                ),
            ));
        }
        let escapes_ok = v
            .as_bytes()
            .iter()
            .enumerate()
            .filter(|(_, &c)| c == b'%')
            .all(|(i, _)| {
                v.as_bytes()
                    .get(i + 1..i + 3)
                    .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
            });
        if !escapes_ok {
            return Err(bad(
                ex,
                format!("the value of {k:?} in the {what} has a '%' that is not an escape"),
            ));
        }
        if !names.insert(k) {
            return Err(bad(
                ex,
                format!(
                    "the {what} names {k:?} twice; exchanges differ on which one counts, so the \
                     agent signs each parameter once"
                ),
            ));
        }
    }
    Ok(())
}

fn check_json(ex: &'static str, body: &[u8]) -> Result<(), PresetError> {
    if !matches!(body.first(), Some(b'{' | b'[')) {
        return Err(bad(
            ex,
            "the body must be a JSON object or array, starting with '{' or '['",
        ));
    }
    serde_json::from_slice::<serde::de::IgnoredAny>(body)
        .map(|_| ())
        .map_err(|e| bad(ex, format!("the body is not valid JSON ({e})")))
}

/// The host the client names: only where the exchange signs it, and one of the preset's.
fn check_host(ex: &'static str, shape: &Shape, host: &str) -> Result<(), PresetError> {
    if host.is_empty() {
        return Ok(());
    }
    if shape.hosts.is_empty() {
        return Err(bad(
            ex,
            format!(
                "{ex} does not sign the host, so a signature is the same for every host of \
                    {ex}: leave the host out"
            ),
        ));
    }
    if shape.host(host).is_none() {
        let known: Vec<&str> = shape.hosts.iter().map(|h| h.name).collect();
        return Err(bad(
            ex,
            format!(
                "host {host:?} is not one {ex} signs for; name one of {} (lower case, no port)",
                known.join(", ")
            ),
        ));
    }
    Ok(())
}

/// A request that passed [`check`] for one exchange: what the judge judges and what the preset
/// signs, so neither can be handed a request that skipped the check, and the check runs once.
#[derive(Clone, Copy, Debug)]
pub struct Canonical<'a> {
    exchange: &'static str,
    request: &'a HttpRequest,
}

impl<'a> Canonical<'a> {
    /// The exchange whose canonical form it has.
    pub fn exchange(&self) -> &'static str {
        self.exchange
    }

    pub fn request(&self) -> &'a HttpRequest {
        self.request
    }
}

impl std::ops::Deref for Canonical<'_> {
    type Target = HttpRequest;

    fn deref(&self) -> &HttpRequest {
        self.request
    }
}

/// Checks `request` against the canonical form of `exchange`'s requests.
pub fn check<'a>(
    exchange: &'static str,
    shape: &Shape,
    request: &'a HttpRequest,
) -> Result<Canonical<'a>, PresetError> {
    if !shape.methods.contains(&request.method.as_str()) {
        return Err(PresetError::Method {
            exchange,
            method: request.method.clone(),
            allowed: shape.methods.join(", "),
        });
    }
    check_path(exchange, shape, &request.path)?;
    check_case(exchange, request)?;
    if request.query.starts_with('?') {
        return Err(bad(exchange, "the query must not start with '?'"));
    }
    check_pairs(exchange, "query", &request.query)?;
    if shape.signed_query == SignedQuery::Decoded {
        super::decoded::check(exchange, &request.query)?;
    }
    check_host(exchange, shape, &request.host)?;
    let reads = !shape.carries_body(&request.method);
    if reads && !request.body.is_empty() {
        return Err(bad(
            exchange,
            format!(
                "a {} request carries no body; send its parameters in the query",
                request.method
            ),
        ));
    }
    if !request.query.is_empty() {
        match shape.query {
            Query::Any => {}
            Query::Never => {
                return Err(bad(
                    exchange,
                    format!("{exchange} does not sign the query; send the parameters in the body"),
                ))
            }
            Query::ReadOnly if !reads => {
                return Err(bad(
                    exchange,
                    format!(
                    "{exchange} signs a {}'s body, not its query; send the parameters in the body",
                    request.method
                ),
                ))
            }
            Query::ReadOnly => {}
            Query::NotWithBody if !request.body.is_empty() => {
                return Err(bad(
                    exchange,
                    format!(
                        "parameters are in both the query and the body; {exchange} signs one \
                         parameter string, so send them in one place"
                    ),
                ))
            }
            Query::NotWithBody => {}
        }
    }
    if !request.body.is_empty() {
        match shape.body {
            Body::Json => check_json(exchange, &request.body)?,
            Body::FormOrJson if request.body.first() == Some(&b'{') => {
                check_json(exchange, &request.body)?
            }
            Body::FormOrJson if request.body.trim_ascii_start().starts_with(b"[") => {
                return Err(bad(
                    exchange,
                    "a JSON body must be an object ({...}), where the agent puts the nonce",
                ))
            }
            Body::Form | Body::FormOrJson => {
                let text = std::str::from_utf8(&request.body)
                    .map_err(|_| bad(exchange, "the body is not valid UTF-8"))?;
                if text.trim_start().starts_with('{') {
                    return Err(bad(
                        exchange,
                        if shape.body == Body::FormOrJson {
                            "the JSON body starts with whitespace; send it from its '{'"
                        } else {
                            "the body is JSON; this preset signs url-encoded form bodies (key=value&...)"
                        },
                    ));
                }
                check_pairs(exchange, "body", text)?;
            }
        }
    }
    Ok(Canonical { exchange, request })
}

#[cfg(test)]
#[path = "canonical_tests.rs"]
mod tests;
