//! An endpoint's path as its table writes it: literal segments, and `{name}` placeholders that
//! fill a segment or part of one (`/orders/{id}`, `/v2/auth/r/order/{symbol}:{id}/trades`).
//!
//! A pattern is its text only, borrowed from the table compiled into the binary, and is matched
//! by reading that text: a table of a thousand endpoints then costs no allocation per path.

use std::fmt;

/// The characters a placeholder may stand for: what ids, symbols and currencies are made of.
/// Never `/` (a placeholder fills part of one segment), never `%`, `?`, `#` or a space.
pub fn placeholder_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b':' | b'@' | b'~')
}

/// A parsed path pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pattern {
    text: &'static str,
}

/// One piece of a segment of a pattern.
enum Part<'a> {
    Literal(&'a str),
    Placeholder,
}

/// The first piece of `segment` and the rest; `None` for an empty segment, `Err` for an unclosed
/// or empty placeholder.
fn first_part(segment: &str) -> Option<Result<(Part<'_>, &str), ()>> {
    if segment.is_empty() {
        return None;
    }
    Some(match segment.find('{') {
        Some(0) => match segment.find('}') {
            Some(end) if end > 1 => Ok((Part::Placeholder, &segment[end + 1..])),
            _ => Err(()),
        },
        Some(i) => Ok((Part::Literal(&segment[..i]), &segment[i..])),
        None => Ok((Part::Literal(segment), "")),
    })
}

impl Pattern {
    /// Parses `/a/{b}/c`; `None` when it does not start with `/`, has an empty segment or an
    /// unclosed placeholder.
    pub fn parse(text: &'static str) -> Option<Self> {
        let rest = text.strip_prefix('/')?;
        for segment in rest.split('/') {
            let mut s = segment;
            first_part(s)?.ok()?;
            while let Some(part) = first_part(s) {
                s = part.ok()?.1;
            }
        }
        Some(Self { text })
    }

    pub fn as_str(&self) -> &'static str {
        self.text
    }

    fn segments(&self) -> std::str::Split<'static, char> {
        self.text[1..].split('/')
    }

    pub fn segment_count(&self) -> usize {
        self.segments().count()
    }

    /// The segment at `i` when it is one literal (the table's index uses it).
    pub fn literal_segment(&self, i: usize) -> Option<&'static str> {
        self.segments().nth(i).filter(|s| !s.contains('{'))
    }

    /// Whether `path` (split into its segments) is this pattern with its placeholders filled.
    pub fn matches_segments(&self, segments: &[&str]) -> bool {
        self.matches(segments, false)
    }

    /// [`Self::matches_segments`] with the literal parts compared without regard to ASCII case:
    /// how a server that routes case-insensitively would read the path.
    pub fn matches_segments_ignoring_case(&self, segments: &[&str]) -> bool {
        self.matches(segments, true)
    }

    fn matches(&self, segments: &[&str], fold: bool) -> bool {
        let mut mine = self.segments();
        for seg in segments {
            match mine.next() {
                Some(pattern) if segment_matches(pattern, seg.as_bytes(), fold) => {}
                _ => return false,
            }
        }
        mine.next().is_none()
    }
}

fn segment_matches(pattern: &str, s: &[u8], fold: bool) -> bool {
    match first_part(pattern) {
        None => s.is_empty(),
        Some(Err(())) => false,
        Some(Ok((Part::Literal(l), rest))) => {
            let l = l.as_bytes();
            let same = s.get(..l.len()).is_some_and(|head| {
                if fold {
                    head.eq_ignore_ascii_case(l)
                } else {
                    head == l
                }
            });
            same && segment_matches(rest, &s[l.len()..], fold)
        }
        Some(Ok((Part::Placeholder, rest))) => {
            // One character at least; the shortest filling that lets the rest match.
            let most = s.iter().take_while(|&&c| placeholder_char(c)).count();
            (1..=most).any(|n| segment_matches(rest, &s[n..], fold))
        }
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text)
    }
}
