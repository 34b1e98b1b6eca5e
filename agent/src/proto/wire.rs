//! SSH wire primitives (RFC 4251 section 5) for the payloads of our extension messages:
//! `byte`, `uint32`, `uint64`, `string`. A [`Cursor`] parses and must be [`Cursor::finish`]ed, so a
//! payload with trailing bytes is rejected instead of silently accepted.

use std::fmt;

/// Why a payload could not be parsed. Carries no payload bytes (they may be secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError {
    /// What was being read when the payload ran out or was wrong.
    pub what: &'static str,
    pub reason: &'static str,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed {}: {}", self.what, self.reason)
    }
}

impl std::error::Error for WireError {}

/// A read position in one message payload.
pub struct Cursor<'a> {
    rest: &'a [u8],
}

impl<'a> Cursor<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], WireError> {
        if self.rest.len() < n {
            return Err(WireError {
                what,
                reason: "payload ends early",
            });
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    pub fn u8(&mut self, what: &'static str) -> Result<u8, WireError> {
        Ok(self.take(1, what)?[0])
    }

    pub fn bool(&mut self, what: &'static str) -> Result<bool, WireError> {
        match self.u8(what)? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(WireError {
                what,
                reason: "boolean is neither 0 nor 1",
            }),
        }
    }

    pub fn u32(&mut self, what: &'static str) -> Result<u32, WireError> {
        let b = self.take(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn u64(&mut self, what: &'static str) -> Result<u64, WireError> {
        let b = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }

    /// A `string` as raw bytes, borrowed from the payload (no copy: it may be a secret).
    pub fn bytes(&mut self, what: &'static str) -> Result<&'a [u8], WireError> {
        let len = self.u32(what)? as usize;
        self.take(len, what)
    }

    /// A `string` that must be UTF-8.
    pub fn text(&mut self, what: &'static str) -> Result<&'a str, WireError> {
        std::str::from_utf8(self.bytes(what)?).map_err(|_| WireError {
            what,
            reason: "not UTF-8",
        })
    }

    /// A `uint32` count followed by that many UTF-8 strings. The count is checked against the bytes
    /// left before anything is allocated, so a huge count cannot make us reserve memory.
    pub fn text_list(&mut self, what: &'static str) -> Result<Vec<&'a str>, WireError> {
        let count = self.u32(what)? as usize;
        if count > self.rest.len() / 4 {
            return Err(WireError {
                what,
                reason: "count larger than the payload",
            });
        }
        (0..count).map(|_| self.text(what)).collect()
    }

    /// A `uint32` count followed by that many (string, string) pairs.
    pub fn pair_list(&mut self, what: &'static str) -> Result<Vec<(String, String)>, WireError> {
        let count = self.u32(what)? as usize;
        if count > self.rest.len() / 8 {
            return Err(WireError {
                what,
                reason: "count larger than the payload",
            });
        }
        (0..count)
            .map(|_| Ok((self.text(what)?.to_owned(), self.text(what)?.to_owned())))
            .collect()
    }

    /// Ends parsing: leftover bytes mean the peer and we disagree about the format.
    /// Whether every byte was read (a reply may carry fields a newer agent appended).
    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    pub fn finish(self, what: &'static str) -> Result<(), WireError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(WireError {
                what,
                reason: "trailing bytes after the last field",
            })
        }
    }
}

/// Appends SSH wire values to a buffer.
#[derive(Default)]
pub struct Out {
    pub buf: Vec<u8>,
}

impl Out {
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.buf.push(v);
        self
    }
    pub fn bool(&mut self, v: bool) -> &mut Self {
        self.u8(v as u8)
    }
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.u32(v.len() as u32);
        self.buf.extend_from_slice(v);
        self
    }
    pub fn text(&mut self, v: &str) -> &mut Self {
        self.bytes(v.as_bytes())
    }
    pub fn text_list<S: AsRef<str>>(&mut self, v: &[S]) -> &mut Self {
        self.u32(v.len() as u32);
        for s in v {
            self.text(s.as_ref());
        }
        self
    }
    pub fn pair_list<A: AsRef<str>, B: AsRef<str>>(&mut self, v: &[(A, B)]) -> &mut Self {
        self.u32(v.len() as u32);
        for (a, b) in v {
            self.text(a.as_ref()).text(b.as_ref());
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_trailing_bytes_are_refused() {
        let mut out = Out::default();
        out.u8(7).u32(9).text("héllo").text_list(&["a", "bc"]);
        let mut c = Cursor::new(&out.buf);
        assert_eq!(c.u8("x").unwrap(), 7);
        assert_eq!(c.u32("x").unwrap(), 9);
        assert_eq!(c.text("x").unwrap(), "héllo");
        assert_eq!(c.text_list("x").unwrap(), vec!["a", "bc"]);
        c.finish("x").unwrap();

        let mut extra = out.buf.clone();
        extra.push(0);
        let mut c = Cursor::new(&extra);
        c.u8("x").unwrap();
        c.u32("x").unwrap();
        c.text("x").unwrap();
        c.text_list("x").unwrap();
        assert_eq!(
            c.finish("x").unwrap_err().reason,
            "trailing bytes after the last field"
        );
    }

    #[test]
    fn string_longer_than_payload_is_an_error_not_a_panic() {
        let bytes = [0xff, 0xff, 0xff, 0xff, b'a'];
        let err = Cursor::new(&bytes).bytes("name").unwrap_err();
        assert_eq!(err.reason, "payload ends early");
    }

    #[test]
    fn huge_list_count_is_refused_before_allocation() {
        let bytes = [0x7f, 0xff, 0xff, 0xff];
        let err = Cursor::new(&bytes).text_list("names").unwrap_err();
        assert_eq!(err.reason, "count larger than the payload");
    }
}
