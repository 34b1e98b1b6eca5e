//! The request's fields a policy rule can test, read from the query and the body the way the
//! exchange reads them.

use std::collections::BTreeMap;

use serde::Deserialize;

/// A request whose fields the policy cannot read as the exchange does.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldsError {
    #[error(
        "the request names the field {0:?} more than once; the policy's rules test fields, and \
         could test a value the exchange does not use: send each field once"
    )]
    Repeated(String),
    /// A JSON object body the agent's reading of fields refuses (an unpaired `\u` surrogate,
    /// nesting past 128 levels) where a lenient parser at the exchange may read it: judged as
    /// having no fields, it would pass a rule that tests them.
    #[error(
        "the JSON body's fields cannot be read ({0}); the policy's rules test fields, so a body \
         they cannot read is refused: send plain JSON (no unpaired \\u surrogates, nesting \
         under 128 levels)"
    )]
    UnreadableJson(String),
}

/// The request's fields a rule can test: query parameters, form or top-level JSON body fields,
/// decoded as the exchange decodes them (`%41` is `A`, `+` in a form is a space).
///
/// A field named twice (in the query, the body, or both) is an error: exchanges disagree on
/// which one wins, so a rule could test one value while the exchange acts on the other.
pub fn request_fields(query: &str, body: &[u8]) -> Result<BTreeMap<String, String>, FieldsError> {
    let mut out = BTreeMap::new();
    let mut put = |k: String, v: String| match out.entry(k) {
        std::collections::btree_map::Entry::Occupied(e) => {
            Err(FieldsError::Repeated(e.key().clone()))
        }
        std::collections::btree_map::Entry::Vacant(e) => {
            e.insert(v);
            Ok(())
        }
    };
    let form = |s: &str, put: &mut dyn FnMut(String, String) -> Result<(), FieldsError>| {
        for kv in s.split('&').filter(|kv| !kv.is_empty()) {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            put(form_decode(k), form_decode(v))?;
        }
        Ok::<(), FieldsError>(())
    };
    form(query, &mut put)?;
    let trimmed = body.trim_ascii_start();
    if trimmed.starts_with(b"{") {
        let JsonFields(entries) = serde_json::from_slice::<JsonFields>(body)
            .map_err(|e| FieldsError::UnreadableJson(e.to_string()))?;
        for (k, v) in entries {
            let v = match v {
                serde_json::Value::String(s) => s,
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                _ => continue,
            };
            put(k, v)?;
        }
    } else if let Ok(s) = std::str::from_utf8(body) {
        form(s, &mut put)?;
    }
    Ok(out)
}

/// `application/x-www-form-urlencoded` decoding (`sign::encoding`); bytes that are not UTF-8
/// become U+FFFD, which no rule's value names.
pub(super) fn form_decode(s: &str) -> String {
    String::from_utf8_lossy(&crate::sign::encoding::form_decode_bytes(s)).into_owned()
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

/// Whether the query names `field` (decoded as [`request_fields`] decodes it).
pub(super) fn query_names(query: &str, field: &str) -> bool {
    query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .any(|kv| form_decode(kv.split_once('=').map_or(kv, |(k, _)| k)) == field)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_from_query_form_and_json() {
        let f = request_fields("a=1&b=2", br#"{"coin":"USDT","size":5}"#).unwrap();
        assert_eq!(f["a"], "1");
        assert_eq!(f["coin"], "USDT");
        assert_eq!(f["size"], "5");
        let f = request_fields("", b"nonce=1&pair=XBTUSD").unwrap();
        assert_eq!(f["pair"], "XBTUSD");
    }

    /// A JSON object body whose fields cannot be read is an error, never "no fields".
    #[test]
    fn a_json_body_whose_fields_cannot_be_read_is_an_error() {
        for body in [
            r#"{"coin":"BTC","t":"\ud800"}"#.to_owned(),
            format!(
                r#"{{"coin":"BTC","t":{}{}}}"#,
                "[".repeat(200),
                "]".repeat(200)
            ),
        ] {
            let e = request_fields("", body.as_bytes()).unwrap_err();
            assert!(matches!(e, FieldsError::UnreadableJson(_)), "{e}");
        }
        // Escapes that are whole are read, decoded.
        let f = request_fields("", br#"{"coin":"\u0042TC","t":"\ud83d\ude00"}"#).unwrap();
        assert_eq!(f["coin"], "BTC");
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
            let e = request_fields(query, body).unwrap_err().to_string();
            assert!(
                e.contains("\"coin\" more than once"),
                "{query} {body:?}: {e}"
            );
        }
    }
}
