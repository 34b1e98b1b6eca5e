//! The other readings of a signed string. Where an exchange concatenates the client's parts with
//! nothing between them (`path + "?" + query + body`, `path + nonce + body`), the same bytes can
//! be split another way: `/api/v2/spot/wallet/with` + `drawal{...}` signs exactly what
//! `/api/v2/spot/wallet/withdrawal` + `{...}` does, and a path ending in a digit lends it to the
//! nonce that follows. Every reading the exchange could accept is a request the signature is good
//! for, so the policy judges each of them.
//!
//! A reading the exchange could accept: each part well formed in its own right (a path of path
//! characters starting with `/`, a query of query characters after `?`, a body that is the JSON
//! or form the exchange parses, a number of digits). The canonical checks make the client's
//! request well formed; here the boundaries move.
//!
//! Where the exchange signs the query decoded (`SignedQuery::Decoded`), the run holds the
//! decoded query, and a query in a reading may hold any byte: the client can send each one
//! percent-encoded.

use super::canonical::{form_key_char, path_char, query_value_char};
use crate::sign::preset::HttpRequest;
use crate::sign::shape::{Body, Shape, SignedQuery, Slot};

use super::decoded;

/// A byte of the signed run, or the agent's number (its digits are the agent's to choose).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Unit {
    Byte(u8),
    Number,
}

fn query_char(c: u8) -> bool {
    query_value_char(c) || form_key_char(c) || c == b'=' || c == b'&'
}

fn decodes(shape: &Shape) -> bool {
    shape.signed_query == SignedQuery::Decoded
}

/// A query's bytes as they stand in the signed string.
fn signed_query(shape: &Shape, query: &str) -> Vec<u8> {
    if decodes(shape) {
        crate::sign::encoding::form_decode_bytes(query)
    } else {
        query.as_bytes().to_vec()
    }
}

/// The query of a reading, as a client would send it, from its bytes in the signed string.
fn sent_query(shape: &Shape, signed: &[u8]) -> String {
    let text = String::from_utf8_lossy(signed);
    if decodes(shape) {
        decoded::sent_form(&text)
    } else {
        text.into_owned()
    }
}

/// Whether byte `c` can stand in a query's place in the signed string.
fn in_query(shape: &Shape, c: u8) -> bool {
    decodes(shape) || query_char(c)
}

/// The run of adjacent slots as the request fills them, and where each slot ends.
fn run(shape: &Shape, r: &HttpRequest) -> (Vec<Unit>, Vec<usize>) {
    let mut units = Vec::new();
    let mut ends = Vec::new();
    let params_in_body = !r.body.is_empty();
    for slot in shape.adjacent {
        let bytes: Vec<u8> = match slot {
            Slot::Path => r.path.as_bytes().to_vec(),
            Slot::QueryWithMark if r.query.is_empty() => Vec::new(),
            Slot::QueryWithMark => [&b"?"[..], &signed_query(shape, &r.query)].concat(),
            Slot::Params if params_in_body => r.body.clone(),
            Slot::Params => signed_query(shape, &r.query),
            Slot::Body => r.body.clone(),
            Slot::Number => {
                units.push(Unit::Number);
                ends.push(units.len());
                continue;
            }
        };
        units.extend(bytes.into_iter().map(Unit::Byte));
        ends.push(units.len());
    }
    (units, ends)
}

fn bytes(units: &[Unit]) -> Vec<u8> {
    units
        .iter()
        .filter_map(|u| match u {
            Unit::Byte(b) => Some(*b),
            Unit::Number => None,
        })
        .collect()
}

fn byte(u: &Unit) -> Option<u8> {
    match u {
        Unit::Byte(b) => Some(*b),
        Unit::Number => None,
    }
}

/// Whether `part` could be this slot, as the exchange reads it.
fn valid(shape: &Shape, slot: Slot, part: &[Unit], is_last: bool, method: &str) -> bool {
    let all = |ok: &dyn Fn(u8) -> bool| part.iter().all(|u| byte(u).is_some_and(ok));
    match slot {
        Slot::Path => part.first().and_then(byte) == Some(b'/') && all(&path_char),
        Slot::QueryWithMark => {
            part.is_empty()
                || (part.len() > 1
                    && part.first().and_then(byte) == Some(b'?')
                    && part[1..]
                        .iter()
                        .all(|u| byte(u).is_some_and(|c| in_query(shape, c))))
        }
        Slot::Params => all(&|c| in_query(shape, c)),
        Slot::Body => {
            if part.is_empty() {
                return is_last;
            }
            if !shape.carries_body(method) {
                return false;
            }
            match shape.body {
                // Cheap tests first: a body is long, and most candidates fail at its first byte.
                Body::Json => {
                    matches!(part.first().and_then(byte), Some(b'{' | b'['))
                        && part.iter().all(|u| byte(u).is_some())
                        && serde_json::from_slice::<serde::de::IgnoredAny>(&bytes(part)).is_ok()
                }
                Body::Form => all(&query_char),
                Body::FormOrJson => {
                    all(&query_char)
                        || (part.first().and_then(byte) == Some(b'{')
                            && part.iter().all(|u| byte(u).is_some())
                            && serde_json::from_slice::<serde::de::IgnoredAny>(&bytes(part))
                                .is_ok())
                }
            }
        }
        Slot::Number => false,
    }
}

/// Whether the slots `rest` could begin at `at`: the first that cannot be empty must start with
/// the byte it starts with (a cheap look ahead that prunes almost every cut; `true` when in
/// doubt, the full checks follow).
fn may_follow(shape: &Shape, rest: &[Slot], units: &[Unit], at: usize) -> bool {
    let next = units.get(at);
    for slot in rest {
        match slot {
            Slot::Path => return next.and_then(byte) == Some(b'/'),
            // Empty, or starting with '?'.
            Slot::QueryWithMark if next.and_then(byte) == Some(b'?') => return true,
            Slot::QueryWithMark => continue,
            Slot::Params => return true,
            Slot::Body => {
                return match shape.body {
                    Body::Json => {
                        next.is_none() || matches!(next.and_then(byte), Some(b'{' | b'['))
                    }
                    Body::Form | Body::FormOrJson => true,
                }
            }
            Slot::Number => {
                return matches!(next, Some(Unit::Number))
                    || next.and_then(byte).is_some_and(|c| c.is_ascii_digit())
            }
        }
    }
    next.is_none()
}

/// [`valid`] for a part whose characters are known to be the slot's.
fn begins_right(shape: &Shape, slot: Slot, part: &[Unit], method: &str) -> bool {
    match slot {
        Slot::Path => part.first().and_then(byte) == Some(b'/'),
        Slot::QueryWithMark => {
            part.is_empty()
                || (part.len() > 1
                    && part.first().and_then(byte) == Some(b'?')
                    && (decodes(shape) || part[1..].iter().all(|u| byte(u) != Some(b'?'))))
        }
        Slot::Params => true,
        Slot::Body => valid(shape, slot, part, false, method),
        Slot::Number => false,
    }
}

/// The search for the other splits of one signed run.
struct Search<'a> {
    shape: &'a Shape,
    method: &'a str,
    units: &'a [Unit],
    /// The client's own split, which is not another reading.
    original: &'a [usize],
    found: Vec<Vec<usize>>,
}

impl Search<'_> {
    /// Every split of the run from `start` into `slots`, depth first. `cuts` holds the ends
    /// chosen so far.
    fn splits(&mut self, slots: &[Slot], start: usize, cuts: &mut Vec<usize>) {
        let units = self.units;
        let Some((&slot, rest)) = slots.split_first() else {
            if start == units.len() {
                self.found.push(cuts.clone());
            }
            return;
        };
        if slot == Slot::Number {
            // Digits borrowed from the part before, then the agent's number.
            let mut end = start;
            while let Some(Unit::Byte(c)) = units.get(end) {
                if !c.is_ascii_digit() {
                    return;
                }
                end += 1;
            }
            if units.get(end) == Some(&Unit::Number) {
                cuts.push(end + 1);
                self.splits(rest, end + 1, cuts);
                cuts.pop();
            }
            return;
        }
        let is_last = rest.is_empty();
        let ends = if is_last {
            units.len()..=units.len()
        } else {
            // A part can reach as far as its characters allow; the number stops every part.
            let mut reach = start;
            while let Some(Unit::Byte(c)) = units.get(reach) {
                let ok = match slot {
                    Slot::Path => path_char(*c),
                    Slot::QueryWithMark | Slot::Params => in_query(self.shape, *c) || *c == b'?',
                    Slot::Body => true,
                    Slot::Number => false,
                };
                if !ok {
                    break;
                }
                reach += 1;
            }
            start..=reach
        };
        for end in ends {
            if !is_last && !may_follow(self.shape, rest, units, end) {
                continue;
            }
            // The client's own reading is not another one (and its last part, often a long
            // body, was checked as the canonical request).
            if is_last && cuts.as_slice() == &self.original[..cuts.len()] {
                continue;
            }
            let part = &units[start..end];
            // Up to `reach` every character is already one the slot takes: only how the part
            // begins is left to check (and the whole of the last part, which `reach` did not
            // scan).
            let ok = if is_last {
                valid(self.shape, slot, part, is_last, self.method)
            } else {
                begins_right(self.shape, slot, part, self.method)
            };
            if ok {
                cuts.push(end);
                self.splits(rest, end, cuts);
                cuts.pop();
            }
        }
    }
}

/// The other requests a signature of `request` is good for: each split of its adjacent parts
/// the exchange could read, with the parts in their places (the digits lent to a number are not
/// part of the request any more). Empty when the exchange separates or hashes the parts.
pub fn alternatives(shape: &Shape, request: &HttpRequest) -> Vec<HttpRequest> {
    let mut readings = splits_of(shape, request);
    if shape.covers.endpoint() && !shape.covers.method() {
        let with_original: Vec<HttpRequest> = std::iter::once(request.clone())
            .chain(readings.iter().cloned())
            .collect();
        for r in with_original {
            readings.extend(other_methods(shape, &r));
        }
    }
    readings
}

/// The same request with each other method the exchange takes, its parameters where that
/// method carries them (a GET's in the query): for an exchange that does not sign the method.
fn other_methods(shape: &Shape, r: &HttpRequest) -> Vec<HttpRequest> {
    shape
        .methods
        .iter()
        .filter(|m| **m != r.method)
        .map(|m| {
            let mut alt = r.clone();
            alt.method = (*m).to_owned();
            if !shape.carries_body(m) && !alt.body.is_empty() && alt.query.is_empty() {
                alt.query = String::from_utf8_lossy(&alt.body).into_owned();
                alt.body.clear();
            }
            alt
        })
        .collect()
}

fn splits_of(shape: &Shape, request: &HttpRequest) -> Vec<HttpRequest> {
    if shape.adjacent.is_empty() {
        return Vec::new();
    }
    let (units, original) = run(shape, request);
    let mut search = Search {
        shape,
        method: &request.method,
        units: &units,
        original: &original,
        found: Vec::new(),
    };
    search.splits(shape.adjacent, 0, &mut Vec::new());
    let found = search.found;
    let params_in_body = !request.body.is_empty();
    found
        .into_iter()
        .map(|cuts| {
            let mut alt = HttpRequest {
                method: request.method.clone(),
                host: request.host.clone(),
                ..Default::default()
            };
            let mut start = 0;
            for (slot, &end) in shape.adjacent.iter().zip(&cuts) {
                let part = bytes(&units[start..end]);
                match slot {
                    Slot::Path => alt.path = String::from_utf8_lossy(&part).into_owned(),
                    Slot::QueryWithMark => {
                        alt.query = sent_query(shape, part.get(1..).unwrap_or(&[]))
                    }
                    Slot::Params if params_in_body => alt.body = part,
                    Slot::Params => alt.query = sent_query(shape, &part),
                    Slot::Body => alt.body = part,
                    Slot::Number => {}
                }
                start = end;
            }
            if !shape.adjacent.contains(&Slot::QueryWithMark)
                && !shape.adjacent.contains(&Slot::Params)
            {
                alt.query = request.query.clone();
            }
            alt
        })
        .collect()
}

#[cfg(test)]
#[path = "layout_tests.rs"]
mod tests;
