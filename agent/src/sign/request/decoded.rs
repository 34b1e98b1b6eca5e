//! Exchanges that sign the query decoded (Bitget, KuCoin, Gate: `SignedQuery::Decoded`). The
//! client sends `coin=USDT%26x`, the exchange signs `coin=USDT&x`: the decoded bytes lose the
//! line between a separator and a value's own `&` or `=`. So a request whose decoded values
//! hold `&` or `=` is refused (its decoded form would parse as other parameters), and the
//! policy judges, besides the parameters as sent, every other grouping of them that the same
//! decoded bytes could be sent as (`coin=USDT&amount=100` is also what
//! `coin=USDT%26amount%3D100` signs).

use crate::sign::encoding::{form_decode, percent_encode};
use crate::sign::preset::PresetError;

fn bad(exchange: &'static str, reason: impl Into<String>) -> PresetError {
    PresetError::BadRequest {
        exchange,
        reason: reason.into(),
    }
}

/// The most groupings the judge weighs for one query: seven parameters give 1,458, eight 4,374.
pub const MAX_GROUPINGS: usize = 4096;

/// Checks that each parameter of `query` (already `k=v&...` of plain names and escapes)
/// decodes to text that reads back as that one parameter.
pub(super) fn check(exchange: &'static str, query: &str) -> Result<(), PresetError> {
    // A '+' decodes to a space in a form, and stays a '+' for Bitget's own Python and Go SDKs,
    // which send it unencoded: the exchange could sign either, so the agent signs neither.
    if let Some(pair) = query.split('&').find(|p| p.contains('+')) {
        let name = pair.split_once('=').map_or(pair, |(k, _)| k);
        return Err(bad(
            exchange,
            format!(
                "the value of {name:?} in the query holds a '+', which {exchange} may read as a \
                 space or as a plus; send a space as %20 and a plus as %2B"
            ),
        ));
    }
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let value = form_decode(v).ok_or_else(|| {
            bad(
                exchange,
                format!("the value of {k:?} in the query does not decode to UTF-8 text"),
            )
        })?;
        if value.chars().any(char::is_control) {
            return Err(bad(
                exchange,
                format!(
                    "the value of {k:?} in the query decodes to control characters, which \
                     {exchange} does not document in a signed query"
                ),
            ));
        }
        // ';' too: some servers' query parsers split at it, or drop the pair that holds it,
        // while the decoded bytes signed stay the same.
        if let Some(c) = value.chars().find(|c| matches!(c, '&' | '=' | ';')) {
            return Err(bad(
                exchange,
                format!(
                    "the value of {k:?} decodes to {value:?}, which holds '{c}': {exchange} signs \
                     the query decoded, where that reads as other parameters ({k}={value}); send \
                     values without '&', '=' or ';'"
                ),
            ));
        }
    }
    Ok(())
}

/// The query as the exchange signs it: decoded. `query` passed [`check`].
pub fn signed(exchange: &'static str, query: &str) -> Result<String, PresetError> {
    form_decode(query).ok_or_else(|| bad(exchange, "the query does not decode to UTF-8 text"))
}

/// `(name, value)` pairs of a decoded query as the exchange would parse it: split at every
/// `&`, then at the first `=`.
fn pairs(decoded: &str) -> Vec<(&str, &str)> {
    decoded
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .collect()
}

/// A query, as a client sends it, whose decoded form is `pairs` read as they stand: each name
/// and value percent-encoded.
fn encode(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// [`encode`], where a pair with no value (`None`) is sent as a bare name: `k%3Dv`, which the
/// exchange reads as one name with no value, and decodes to the `k=v` it signs.
fn encode_reading(pairs: &[(String, Option<String>)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| match v {
            Some(v) => format!("{}={}", percent_encode(k), percent_encode(v)),
            None => percent_encode(k),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// A decoded query (bytes a reading of the signed string puts in the query's place) spelled
/// as a client would send it, parsed the way the exchange parses it.
pub fn sent_form(decoded: &str) -> String {
    let owned: Vec<(String, String)> = pairs(decoded)
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    encode(&owned)
}

/// How many groupings [`groupings`] makes of `n` parameters (the one as sent included): each
/// run of parameters sent as one either keeps the first name (the rest in its value; a run of
/// one: itself) or carries a name no rule knows (`k%3Dv` for one, the last `=` splitting a
/// longer run); more than that changes nothing a rule can see. That is 2 * 3^(n-1).
fn count(n: usize) -> usize {
    // a[i]: the groupings of i parameters, the last run two ways whatever its length.
    let mut a = vec![1usize; n + 1];
    for i in 1..=n {
        a[i] = a[..i]
            .iter()
            .fold(0usize, |t, x| t.saturating_add(x.saturating_mul(2)));
    }
    a[n]
}

/// The other queries a signature over the decoded `decoded` is good for: every way to send some
/// of its runs of parameters as one (with `%26` and `%3D` where the exchange will decode `&` and
/// `=`), as a client sends them. `Err(n)`: too many to judge (`n` would be made).
pub fn groupings(decoded: &str) -> Result<Vec<String>, usize> {
    let segments = pairs(decoded);
    let n = segments.len();
    let total = count(n);
    if total > MAX_GROUPINGS {
        return Err(total);
    }
    let mut out = Vec::with_capacity(total.saturating_sub(1));
    let mut current = Vec::new();
    group(&segments, 0, &mut current, false, &mut out);
    Ok(out)
}

/// One reading's pairs: the name and, but for a bare name, its value.
type Reading = Vec<(String, Option<String>)>;

fn push_and_recurse(
    segments: &[(&str, &str)],
    end: usize,
    current: &mut Reading,
    pair: (String, Option<String>),
    merged: bool,
    out: &mut Vec<String>,
) {
    current.push(pair);
    group(segments, end, current, merged, out);
    current.pop();
}

fn group(
    segments: &[(&str, &str)],
    start: usize,
    current: &mut Reading,
    merged: bool,
    out: &mut Vec<String>,
) {
    if start == segments.len() {
        if merged {
            out.push(encode_reading(current));
        }
        return;
    }
    let joined = |from: usize, to: usize| {
        segments[from..to]
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    };
    for end in start + 1..=segments.len() {
        let (k, v) = segments[start];
        if end == start + 1 {
            // As sent; or sent as a bare name `k%3Dv`, hiding `k`.
            let as_is = (k.to_owned(), Some(v.to_owned()));
            push_and_recurse(segments, end, current, as_is, merged, out);
            let bare = (format!("{k}={v}"), None);
            push_and_recurse(segments, end, current, bare, true, out);
            continue;
        }
        // The first name, the rest of the run in its value.
        let first = (
            k.to_owned(),
            Some(format!("{v}&{}", joined(start + 1, end))),
        );
        push_and_recurse(segments, end, current, first, true, out);
        // The last `=` splits the run: a name that is none of the run's own.
        let (last_k, last_v) = segments[end - 1];
        let last = (
            format!("{}&{last_k}", joined(start, end - 1)),
            Some(last_v.to_owned()),
        );
        push_and_recurse(segments, end, current, last, true, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_that_decodes_to_a_separator_is_refused() {
        for q in [
            "coin=USDT%26amount%3D100",
            "coin=USDT%3D",
            "a=1&coin=x%26y",
            "coin=a%3Bb",
        ] {
            let e = check("bitget", q).unwrap_err().to_string();
            assert!(e.contains("signs the query decoded"), "{q}: {e}");
        }
        assert!(check("bitget", "note=a%20b%2Bc%2F%23%25%E2%82%AC&empty=").is_ok());
        let e = check("bitget", "note=a+b").unwrap_err().to_string();
        assert!(e.contains("%20") && e.contains("%2B"), "{e}");
        let e = check("bitget", "a=%0A").unwrap_err().to_string();
        assert!(e.contains("control"), "{e}");
        let e = check("bitget", "a=%FF").unwrap_err().to_string();
        assert!(e.contains("UTF-8"), "{e}");
        assert_eq!(
            signed("bitget", "note=a%20b%2Bc%2F%23%25%E2%82%AC&empty=").unwrap(),
            "note=a b+c/#%€&empty="
        );
    }

    /// Every grouping, sent as it says, decodes to the same signed bytes, and parses to other
    /// parameters than the original.
    #[test]
    fn every_grouping_signs_the_same_decoded_bytes() {
        let decoded = "a=1&b=2&c=3";
        let all = groupings(decoded).unwrap();
        assert_eq!(all.len(), count(3) - 1);
        assert_eq!(count(3), 18);
        assert!(all.contains(&"a=1%26b%3D2&c=3".to_owned()), "{all:?}");
        assert!(all.contains(&"a%3D1%26b=2&c=3".to_owned()), "{all:?}");
        assert!(all.contains(&"a=1%26b%3D2%26c%3D3".to_owned()), "{all:?}");
        // One parameter sent as a bare name: `b` hidden, the rest as they are.
        assert!(all.contains(&"a=1&b%3D2&c=3".to_owned()), "{all:?}");
        for g in &all {
            assert_eq!(form_decode(g).unwrap(), decoded, "{g}");
            assert_ne!(g, "a=1&b=2&c=3");
        }
        let unique: std::collections::BTreeSet<_> = all.iter().collect();
        assert_eq!(unique.len(), all.len());
        assert_eq!(groupings("a=1").unwrap(), vec!["a%3D1".to_owned()]);
    }

    #[test]
    fn too_many_parameters_to_judge_is_said() {
        let seven: Vec<String> = (0..7).map(|i| format!("p{i}=v")).collect();
        assert_eq!(
            groupings(&seven.join("&")).unwrap().len(),
            2 * 3usize.pow(6) - 1
        );
        let eight: Vec<String> = (0..8).map(|i| format!("p{i}=v")).collect();
        assert_eq!(groupings(&eight.join("&")), Err(count(8)));
    }

    #[test]
    fn sent_form_reads_a_decoded_query_as_the_exchange_does() {
        assert_eq!(sent_form("a=b c&{\"x\":1}"), "a=b%20c&%7B%22x%22%3A1%7D=");
        assert_eq!(sent_form("a=b=c"), "a=b%3Dc");
    }
}
