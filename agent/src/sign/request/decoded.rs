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

/// The most groupings the judge weighs for one query: ten parameters give 3,363.
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
        if let Some(c) = value.chars().find(|c| matches!(c, '&' | '=')) {
            return Err(bad(
                exchange,
                format!(
                    "the value of {k:?} decodes to {value:?}, which holds '{c}': {exchange} signs \
                     the query decoded, where that reads as other parameters ({k}={value}); send \
                     values without '&' or '='"
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
/// run of two or more parameters sent as one either keeps the first name (the rest in its
/// value) or carries a name no rule knows (the last `=` splits it); more than that changes
/// nothing a rule can see.
fn count(n: usize) -> usize {
    // a[i]: the groupings of i parameters; the last run is one parameter (a[i - 1] ways) or a
    // run of two or more ending at i (two ways each).
    let mut a = vec![1usize; n + 1];
    for i in 1..=n {
        let runs = a[..i.saturating_sub(1)]
            .iter()
            .fold(0usize, |t, x| t.saturating_add(x.saturating_mul(2)));
        a[i] = a[i - 1].saturating_add(runs);
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

fn group(
    segments: &[(&str, &str)],
    start: usize,
    current: &mut Vec<(String, String)>,
    merged: bool,
    out: &mut Vec<String>,
) {
    if start == segments.len() {
        if merged {
            out.push(encode(current));
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
        if end == start + 1 {
            let (k, v) = segments[start];
            current.push((k.to_owned(), v.to_owned()));
            group(segments, end, current, merged, out);
            current.pop();
            continue;
        }
        // The first name, the rest of the run in its value.
        let (k, v) = segments[start];
        current.push((k.to_owned(), format!("{v}&{}", joined(start + 1, end))));
        group(segments, end, current, true, out);
        current.pop();
        // The last `=` splits the run: a name that is none of the run's own.
        let (last_k, last_v) = segments[end - 1];
        current.push((
            format!("{}&{last_k}", joined(start, end - 1)),
            last_v.to_owned(),
        ));
        group(segments, end, current, true, out);
        current.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_that_decodes_to_a_separator_is_refused() {
        for q in ["coin=USDT%26amount%3D100", "coin=USDT%3D", "a=1&coin=x%26y"] {
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
        assert!(all.contains(&"a=1%26b%3D2&c=3".to_owned()), "{all:?}");
        assert!(all.contains(&"a%3D1%26b=2&c=3".to_owned()), "{all:?}");
        assert!(all.contains(&"a=1%26b%3D2%26c%3D3".to_owned()), "{all:?}");
        for g in &all {
            assert_eq!(form_decode(g).unwrap(), decoded, "{g}");
            assert_ne!(g, "a=1&b=2&c=3");
        }
        let unique: std::collections::BTreeSet<_> = all.iter().collect();
        assert_eq!(unique.len(), all.len());
        assert_eq!(groupings("a=1").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn too_many_parameters_to_judge_is_said() {
        let ten: Vec<String> = (0..10).map(|i| format!("p{i}=v")).collect();
        assert_eq!(groupings(&ten.join("&")).unwrap().len(), 3362);
        let eleven: Vec<String> = (0..11).map(|i| format!("p{i}=v")).collect();
        assert_eq!(groupings(&eleven.join("&")), Err(count(11)));
    }

    #[test]
    fn sent_form_reads_a_decoded_query_as_the_exchange_does() {
        assert_eq!(sent_form("a=b c&{\"x\":1}"), "a=b%20c&%7B%22x%22%3A1%7D=");
        assert_eq!(sent_form("a=b=c"), "a=b%3Dc");
    }
}
