//! Path patterns for policy rules: `*` matches within one path segment, `**` across segments;
//! everything else matches itself. `/api/v2/spot/wallet/*` matches `/api/v2/spot/wallet/withdrawal`
//! but not `/api/v2/spot/wallet/a/b`; `/sapi/**` matches everything under `/sapi/`.

/// Whether `path` matches `pattern`.
pub fn matches(pattern: &str, path: &str) -> bool {
    match_from(pattern.as_bytes(), path.as_bytes())
}

fn match_from(p: &[u8], s: &[u8]) -> bool {
    if p.is_empty() {
        return s.is_empty();
    }
    if p.starts_with(b"**") {
        let rest = &p[2..];
        return (0..=s.len()).any(|i| match_from(rest, &s[i..]));
    }
    if p[0] == b'*' {
        let rest = &p[1..];
        let segment_end = s.iter().position(|&c| c == b'/').unwrap_or(s.len());
        return (0..=segment_end).any(|i| match_from(rest, &s[i..]));
    }
    !s.is_empty() && p[0] == s[0] && match_from(&p[1..], &s[1..])
}

/// A path pattern that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("path pattern {0:?} must start with '/'")]
    NotAbsolute(String),
    #[error("path pattern {0:?} has '***'; use '*' (one segment) or '**' (any depth)")]
    TripleStar(String),
}

/// Checks a pattern is usable: starts with `/` (or is `**`), no `***`.
pub fn check(pattern: &str) -> Result<(), PatternError> {
    if !(pattern.starts_with('/') || pattern.starts_with("**")) {
        return Err(PatternError::NotAbsolute(pattern.to_owned()));
    }
    if pattern.contains("***") {
        return Err(PatternError::TripleStar(pattern.to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn segments_and_depth() {
        assert!(matches(
            "/api/v2/spot/wallet/*",
            "/api/v2/spot/wallet/withdrawal"
        ));
        assert!(!matches("/api/v2/spot/wallet/*", "/api/v2/spot/wallet/a/b"));
        assert!(matches("/sapi/**", "/sapi/v1/capital/withdraw/apply"));
        assert!(matches(
            "/api/v5/asset/*-withdrawal",
            "/api/v5/asset/cancel-withdrawal"
        ));
        assert!(matches("/x", "/x"));
        assert!(!matches("/x", "/x/"));
        assert!(!matches("/x", "/y"));
        assert!(matches("**", "/anything/at/all"));
    }
}
