//! An endpoint's path as its table writes it: literal segments, and `{name}` placeholders that
//! fill a segment or part of one (`/orders/{id}`, `/v2/auth/r/order/{symbol}:{id}/trades`).

use std::fmt;

/// The characters a placeholder may stand for: what ids, symbols and currencies are made of.
/// Never `/` (a placeholder fills part of one segment), never `%`, `?`, `#` or a space.
pub fn placeholder_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b':' | b'@' | b'~')
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Literal(String),
    Placeholder(String),
}

/// A parsed path pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pattern {
    text: String,
    segments: Vec<Vec<Part>>,
}

impl Pattern {
    /// Parses `/a/{b}/c`; `None` when it does not start with `/`, has an empty segment or an
    /// unclosed placeholder.
    pub fn parse(text: &str) -> Option<Self> {
        let rest = text.strip_prefix('/')?;
        let mut segments = Vec::new();
        for seg in rest.split('/') {
            if seg.is_empty() {
                return None;
            }
            let mut parts = Vec::new();
            let mut s = seg;
            while !s.is_empty() {
                match s.find('{') {
                    Some(0) => {
                        let end = s.find('}')?;
                        parts.push(Part::Placeholder(s[1..end].to_owned()));
                        s = &s[end + 1..];
                    }
                    Some(i) => {
                        parts.push(Part::Literal(s[..i].to_owned()));
                        s = &s[i..];
                    }
                    None => {
                        parts.push(Part::Literal(s.to_owned()));
                        s = "";
                    }
                }
            }
            segments.push(parts);
        }
        Some(Self {
            text: text.to_owned(),
            segments,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// The segment at `i` when it is one literal (the table's index uses it).
    pub fn literal_segment(&self, i: usize) -> Option<&str> {
        match self.segments.get(i)?.as_slice() {
            [Part::Literal(l)] => Some(l),
            _ => None,
        }
    }

    /// Whether `path` (split into its segments) is this pattern with its placeholders filled.
    pub fn matches_segments(&self, segments: &[&str]) -> bool {
        self.segments.len() == segments.len()
            && self
                .segments
                .iter()
                .zip(segments)
                .all(|(parts, seg)| parts_match(parts, seg.as_bytes(), false))
    }

    /// [`Self::matches_segments`] with the literal parts compared without regard to ASCII case:
    /// how a server that routes case-insensitively would read the path.
    pub fn matches_segments_ignoring_case(&self, segments: &[&str]) -> bool {
        self.segments.len() == segments.len()
            && self
                .segments
                .iter()
                .zip(segments)
                .all(|(parts, seg)| parts_match(parts, seg.as_bytes(), true))
    }
}

fn parts_match(parts: &[Part], s: &[u8], fold: bool) -> bool {
    match parts.split_first() {
        None => s.is_empty(),
        Some((Part::Literal(l), rest)) => {
            let l = l.as_bytes();
            let same = s.get(..l.len()).is_some_and(|head| {
                if fold {
                    head.eq_ignore_ascii_case(l)
                } else {
                    head == l
                }
            });
            same && parts_match(rest, &s[l.len()..], fold)
        }
        Some((Part::Placeholder(_), rest)) => {
            // One character at least; the shortest filling that lets the rest match.
            let most = s.iter().take_while(|&&c| placeholder_char(c)).count();
            (1..=most).any(|n| parts_match(rest, &s[n..], fold))
        }
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}
