//! One exchange's table: parsed from its text, indexed for the lookups the policy makes on every
//! request.
//!
//! Line format (`#` starts a comment line):
//! `METHOD PATH CLASS [params=a,b] [body=json|form|query] [host=HOST] [-- what it does]`.

use std::collections::HashMap;

use super::{Carrier, Class, Endpoint, Pattern};

/// A line of a table that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct TableError {
    pub line: usize,
    pub reason: String,
}

/// Index key of a pattern with placeholders: a hash of the method, the segment count and the
/// first two segments (a collision only adds candidates, which the match then filters).
fn prefix_key(method: &str, count: usize, first: &str, second: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    // SipHash with fixed keys: the same in every process, no allocation per lookup.
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (method, count, first, second).hash(&mut h);
    h.finish()
}

/// The lookups run on every signature, so the index avoids allocating: a literal path is one
/// map lookup; a path with placeholders is found among the few sharing its first segments.
#[derive(Debug)]
pub struct Table {
    endpoints: Vec<Endpoint>,
    /// Literal patterns: method, then path, giving the first endpoint of that method and path;
    /// `next_same` chains the others (one path on several hosts).
    exact: HashMap<&'static str, HashMap<&'static str, u32>>,
    next_same: Vec<u32>,
    /// Patterns with a placeholder after their first two segments.
    by_prefix: HashMap<u64, Vec<usize>>,
    /// Patterns whose first two segments hold a placeholder.
    others: Vec<usize>,
}

/// The HTTP methods, and `WS`: a WebSocket API request signed like a REST one (Binance).
const METHODS: &[&str] = &["GET", "POST", "PUT", "DELETE", "PATCH", "WS"];

/// The end of a `next_same` chain.
const NONE: u32 = u32::MAX;

fn parse_line(line: &'static str) -> Result<Endpoint, String> {
    let (main, what) = match line.split_once(" -- ") {
        Some((m, w)) => (m, w.trim()),
        None => (line, ""),
    };
    let mut words = main.split_whitespace();
    let method = words.next().ok_or("no method")?;
    let method = *METHODS
        .iter()
        .find(|m| **m == method)
        .ok_or_else(|| format!("unknown method {method:?}"))?;
    let path = words.next().ok_or("no path")?;
    let path = Pattern::parse(path).ok_or_else(|| format!("bad path {path:?}"))?;
    let class = words.next().ok_or("no class")?;
    let class = Class::parse(class).ok_or_else(|| format!("unknown class {class:?}"))?;
    let mut endpoint = Endpoint {
        method,
        path,
        class,
        params: None,
        carrier: None,
        host: None,
        what,
    };
    for word in words {
        match word.split_once('=') {
            Some(("params", list)) => {
                endpoint.params = Some(list.split(',').filter(|p| !p.is_empty()).collect())
            }
            Some(("body", carrier)) => {
                endpoint.carrier = Some(match carrier {
                    "json" => Carrier::Json,
                    "form" => Carrier::Form,
                    "query" => Carrier::Query,
                    other => return Err(format!("unknown body={other}")),
                })
            }
            Some(("host", host)) => endpoint.host = Some(host),
            _ => return Err(format!("unknown field {word:?}")),
        }
    }
    Ok(endpoint)
}

impl Table {
    pub fn parse(text: &'static str) -> Result<Self, TableError> {
        let mut endpoints = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            endpoints.push(parse_line(line).map_err(|reason| TableError {
                line: i + 1,
                reason,
            })?);
        }
        endpoints.shrink_to_fit();
        let mut exact: HashMap<&'static str, HashMap<&'static str, u32>> = HashMap::new();
        let mut next_same = vec![NONE; endpoints.len()];
        let mut by_prefix: HashMap<u64, Vec<usize>> = HashMap::new();
        let mut others = Vec::new();
        for (i, e) in endpoints.iter().enumerate().rev() {
            if !e.path.as_str().contains('{') {
                // Walking backwards, each entry goes in front: the chain is in table order.
                let first = exact
                    .entry(e.method)
                    .or_default()
                    .entry(e.path.as_str())
                    .or_insert(NONE);
                next_same[i] = *first;
                *first = i as u32;
                continue;
            }
            let count = e.path.segment_count();
            match (e.path.literal_segment(0), e.path.literal_segment(1)) {
                (Some(a), Some(b)) => by_prefix
                    .entry(prefix_key(e.method, count, a, b))
                    .or_default()
                    .push(i),
                (Some(a), None) if count == 1 => by_prefix
                    .entry(prefix_key(e.method, 1, a, ""))
                    .or_default()
                    .push(i),
                _ => others.push(i),
            }
        }
        for ids in by_prefix.values_mut() {
            ids.reverse();
        }
        others.reverse();
        Ok(Self {
            endpoints,
            exact,
            next_same,
            by_prefix,
            others,
        })
    }

    pub fn endpoints(&self) -> &[Endpoint] {
        &self.endpoints
    }

    /// Every endpoint `method path` is (one path may be served by several hosts, each with its
    /// own entry); a literal segment wins over a placeholder (`/orders/all` is not
    /// `/orders/{id}`).
    pub fn find(&self, method: &str, path: &str) -> Vec<&Endpoint> {
        // A literal pattern is the most literal there is: when one matches, it is the endpoint.
        if let Some(&first) = self.exact.get(method).and_then(|paths| paths.get(path)) {
            let mut found = Vec::new();
            let mut i = first;
            while i != NONE {
                found.push(&self.endpoints[i as usize]);
                i = self.next_same[i as usize];
            }
            return found;
        }
        self.patterns(method, path)
    }

    /// The entries with placeholders that `method path` matches, the most literal ones.
    fn patterns(&self, method: &str, path: &str) -> Vec<&Endpoint> {
        let Some(rest) = path.strip_prefix('/') else {
            return Vec::new();
        };
        let segments: Vec<&str> = rest.split('/').collect();
        let key = prefix_key(
            method,
            segments.len(),
            segments[0],
            segments.get(1).copied().unwrap_or_default(),
        );
        let candidates = self
            .by_prefix
            .get(&key)
            .into_iter()
            .flatten()
            .chain(&self.others)
            .map(|&i| &self.endpoints[i])
            .filter(|e| e.method == method && e.path.matches_segments(&segments));
        let mut found: Vec<&Endpoint> = candidates.collect();
        // The most literal pattern (fewest placeholders) is the endpoint meant.
        let literalness = |e: &Endpoint| e.path.as_str().matches('{').count();
        if let Some(best) = found.iter().map(|e| literalness(e)).min() {
            found.retain(|e| literalness(e) == best);
        }
        found
    }

    /// Every endpoint `method path` is on one host (`host`: the `host=` of its entries, `None`
    /// for the main host): for an exchange that signs the host, where the signature is good
    /// on that host alone. A literal entry of another host does not hide a pattern of this one.
    pub fn find_on_host(&self, method: &str, path: &str, host: Option<&str>) -> Vec<&Endpoint> {
        let mut found = self.find(method, path);
        found.retain(|e| e.host == host);
        if found.is_empty() && self.exact.get(method).is_some_and(|p| p.contains_key(path)) {
            found = self.patterns(method, path);
            found.retain(|e| e.host == host);
        }
        found
    }

    /// The endpoint `method path` would be if the exchange ignored the case of its path, when
    /// it is not that endpoint exactly: another spelling of a known endpoint.
    pub fn find_ignoring_case(&self, method: &str, path: &str) -> Option<&Endpoint> {
        let segments: Vec<&str> = path.strip_prefix('/')?.split('/').collect();
        self.endpoints.iter().find(|e| {
            e.method == method
                && e.path.as_str() != path
                && e.path.matches_segments_ignoring_case(&segments)
        })
    }
}
