//! Percent-encoding both ways, in the one spelling the agent uses wherever a preset, the
//! canonical checks and the policy need it: `application/x-www-form-urlencoded` decoding (the
//! `unquote_plus` the exchanges' SDKs apply) and RFC 3986 encoding with upper-case hex.

/// The bytes `s` stands for as a form value: `%XX` (two hex digits) is the byte, `+` a space;
/// a `%` not followed by two hex digits stays as it is.
pub fn form_decode_bytes(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (
            b[i],
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b'+', _, _) => {
                out.push(b' ');
                i += 1;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// [`form_decode_bytes`] as text; `None` when the bytes are not UTF-8 (every exchange reads
/// its parameters as UTF-8 text).
pub fn form_decode(s: &str) -> Option<String> {
    String::from_utf8(form_decode_bytes(s)).ok()
}

/// RFC 3986 unreserved characters stay, every other byte becomes `%XX` with upper-case hex
/// (a space is `%20`): what HTX's signature v2 and Binance's percent-encoded payloads use.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
    }
    out
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

#[cfg(test)]
mod tests {
    use super::*;

    /// Python's `urllib.parse.unquote_plus` and `quote(safe="")` (the functions Gate's and
    /// HTX's official SDKs call) give these, checked with Python 3.11:
    /// `unquote_plus("a+b%20c%2B%26%E2%82%AC%zz")` == `"a b c+&€%zz"`,
    /// `quote("a b+c/€~", safe="")` == `"a%20b%2Bc%2F%E2%82%AC~"`.
    #[test]
    fn matches_pythons_unquote_plus_and_quote() {
        assert_eq!(
            form_decode("a+b%20c%2B%26%E2%82%AC%zz").as_deref(),
            Some("a b c+&€%zz")
        );
        assert_eq!(percent_encode("a b+c/€~"), "a%20b%2Bc%2F%E2%82%AC~");
        assert_eq!(form_decode("%FF"), None, "not UTF-8");
        assert_eq!(
            form_decode("%e2%82%ac").as_deref(),
            Some("€"),
            "lower-case hex"
        );
    }
}
