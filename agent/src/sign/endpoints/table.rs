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

/// Index key: method, segment count, and the first two segments when they are literal.
type Key = (String, usize, String, String);

#[derive(Debug)]
pub struct Table {
    endpoints: Vec<Endpoint>,
    by_prefix: HashMap<Key, Vec<usize>>,
    /// Endpoints whose first two segments hold a placeholder.
    others: Vec<usize>,
}

const METHODS: &[&str] = &["GET", "POST", "PUT", "DELETE", "PATCH"];

fn parse_line(line: &str) -> Result<Endpoint, String> {
    let (main, what) = match line.split_once(" -- ") {
        Some((m, w)) => (m, w.trim()),
        None => (line, ""),
    };
    let mut words = main.split_whitespace();
    let method = words.next().ok_or("no method")?;
    if !METHODS.contains(&method) {
        return Err(format!("unknown method {method:?}"));
    }
    let path = words.next().ok_or("no path")?;
    let path = Pattern::parse(path).ok_or_else(|| format!("bad path {path:?}"))?;
    let class = words.next().ok_or("no class")?;
    let class = Class::parse(class).ok_or_else(|| format!("unknown class {class:?}"))?;
    let mut endpoint = Endpoint {
        method: method.to_owned(),
        path,
        class,
        params: None,
        carrier: None,
        host: None,
        what: what.to_owned(),
    };
    for word in words {
        match word.split_once('=') {
            Some(("params", list)) => {
                endpoint.params = Some(
                    list.split(',')
                        .filter(|p| !p.is_empty())
                        .map(str::to_owned)
                        .collect(),
                )
            }
            Some(("body", carrier)) => {
                endpoint.carrier = Some(match carrier {
                    "json" => Carrier::Json,
                    "form" => Carrier::Form,
                    "query" => Carrier::Query,
                    other => return Err(format!("unknown body={other}")),
                })
            }
            Some(("host", host)) => endpoint.host = Some(host.to_owned()),
            _ => return Err(format!("unknown field {word:?}")),
        }
    }
    Ok(endpoint)
}

impl Table {
    pub fn parse(text: &str) -> Result<Self, TableError> {
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
        let mut by_prefix: HashMap<Key, Vec<usize>> = HashMap::new();
        let mut others = Vec::new();
        for (i, e) in endpoints.iter().enumerate() {
            match (e.path.literal_segment(0), e.path.literal_segment(1)) {
                (Some(a), Some(b)) => by_prefix
                    .entry((e.method.clone(), e.path.segment_count(), a.into(), b.into()))
                    .or_default()
                    .push(i),
                (Some(a), None) if e.path.segment_count() == 1 => by_prefix
                    .entry((e.method.clone(), 1, a.into(), String::new()))
                    .or_default()
                    .push(i),
                _ => others.push(i),
            }
        }
        Ok(Self {
            endpoints,
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
        let Some(rest) = path.strip_prefix('/') else {
            return Vec::new();
        };
        let segments: Vec<&str> = rest.split('/').collect();
        let key = (
            method.to_owned(),
            segments.len(),
            segments[0].to_owned(),
            segments.get(1).map_or(String::new(), |s| (*s).to_owned()),
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
