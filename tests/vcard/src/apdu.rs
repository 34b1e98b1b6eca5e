//! Command APDU parsing (ISO 7816-4 short and extended cases) and status words.

/// Status words the applet answers with.
pub mod sw {
    pub const OK: u16 = 0x9000;
    pub const WRONG_LENGTH: u16 = 0x6700;
    /// Security status not satisfied: PIN/management key missing, or touch timed out.
    pub const SECURITY_STATUS: u16 = 0x6982;
    pub const AUTH_BLOCKED: u16 = 0x6983;
    pub const CONDITIONS_NOT_SATISFIED: u16 = 0x6985;
    pub const INCORRECT_DATA: u16 = 0x6a80;
    pub const FUNCTION_NOT_SUPPORTED: u16 = 0x6a81;
    pub const NOT_FOUND: u16 = 0x6a82;
    pub const INCORRECT_P1P2: u16 = 0x6a86;
    pub const WRONG_P1P2: u16 = 0x6b00;
    pub const INS_NOT_SUPPORTED: u16 = 0x6d00;
    pub const CLA_NOT_SUPPORTED: u16 = 0x6e00;

    /// 63Cx: verification failed, x tries left (x is capped at 15 by the encoding).
    pub fn verify_failed(tries_left: u8) -> u16 {
        0x63c0 | u16::from(tries_left.min(0x0f))
    }
}

/// A parsed command APDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub cla: u8,
    pub ins: u8,
    pub p1: u8,
    pub p2: u8,
    pub data: Vec<u8>,
    /// Expected response length; `None` when the command carried no Le.
    pub le: Option<usize>,
    /// Whether the command used extended length encoding (then the
    /// response may exceed 256 bytes in one piece).
    pub extended: bool,
}

impl Command {
    /// True when CLA bit 0x10 says more chained command blocks follow.
    pub fn is_chained(&self) -> bool {
        self.cla & 0x10 != 0
    }

    /// Parses the four ISO 7816-3 cases in short and extended form.
    pub fn parse(raw: &[u8]) -> Result<Command, u16> {
        if raw.len() < 4 {
            return Err(sw::WRONG_LENGTH);
        }
        let mut cmd = Command {
            cla: raw[0],
            ins: raw[1],
            p1: raw[2],
            p2: raw[3],
            data: Vec::new(),
            le: None,
            extended: false,
        };
        let body = &raw[4..];
        match body.len() {
            0 => {}
            // Case 2 short. The yubikey crate also sends "Lc=0, no data" this
            // way, which reads identically (Le=256), so both are fine.
            1 => cmd.le = Some(short_le(body[0])),
            _ if body[0] != 0 => {
                let lc = usize::from(body[0]);
                let rest = &body[1..];
                match rest.len().checked_sub(lc) {
                    Some(0) => {}
                    Some(1) => cmd.le = Some(short_le(rest[lc])),
                    _ => return Err(sw::WRONG_LENGTH),
                }
                cmd.data = rest[..lc].to_vec();
            }
            3 => {
                cmd.extended = true;
                cmd.le = Some(extended_le(body[1], body[2]));
            }
            n if n > 3 => {
                cmd.extended = true;
                let lc = (usize::from(body[1]) << 8) | usize::from(body[2]);
                let rest = &body[3..];
                match rest.len().checked_sub(lc) {
                    Some(0) => {}
                    Some(2) => cmd.le = Some(extended_le(rest[lc], rest[lc + 1])),
                    _ => return Err(sw::WRONG_LENGTH),
                }
                cmd.data = rest[..lc].to_vec();
            }
            _ => return Err(sw::WRONG_LENGTH),
        }
        Ok(cmd)
    }
}

fn short_le(b: u8) -> usize {
    if b == 0 {
        256
    } else {
        usize::from(b)
    }
}

fn extended_le(hi: u8, lo: u8) -> usize {
    match (usize::from(hi) << 8) | usize::from(lo) {
        0 => 65536,
        n => n,
    }
}

/// A response: data followed by a status word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub data: Vec<u8>,
    pub sw: u16,
}

impl Response {
    pub fn ok(data: Vec<u8>) -> Self {
        Response { data, sw: sw::OK }
    }

    pub fn status(sw: u16) -> Self {
        Response {
            data: Vec::new(),
            sw,
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.data.clone();
        out.extend_from_slice(&self.sw.to_be_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_short_cases() {
        let c = Command::parse(&[0, 0xfd, 0, 0]).unwrap();
        assert_eq!((c.data.len(), c.le), (0, None));
        let c = Command::parse(&[0, 0xfd, 0, 0, 0]).unwrap();
        assert_eq!(c.le, Some(256));
        let c = Command::parse(&[0, 0xa4, 4, 0, 2, 0xa0, 0x00]).unwrap();
        assert_eq!((c.data, c.le), (vec![0xa0, 0], None));
        let c = Command::parse(&[0, 0xa4, 4, 0, 1, 0xa0, 0x10]).unwrap();
        assert_eq!((c.data, c.le), (vec![0xa0], Some(16)));
    }

    #[test]
    fn parses_extended_cases() {
        let mut raw = vec![0, 0xdb, 0x3f, 0xff, 0, 0x01, 0x00];
        raw.extend(std::iter::repeat_n(7u8, 256));
        let c = Command::parse(&raw).unwrap();
        assert!(c.extended);
        assert_eq!(c.data.len(), 256);
        raw.extend_from_slice(&[0, 0]);
        assert_eq!(Command::parse(&raw).unwrap().le, Some(65536));
    }

    #[test]
    fn rejects_inconsistent_lc() {
        assert_eq!(
            Command::parse(&[0, 0x20, 0, 0x80, 4, 1, 2]),
            Err(sw::WRONG_LENGTH)
        );
    }

    #[test]
    fn chaining_bit() {
        assert!(Command::parse(&[0x10, 0xdb, 0, 0]).unwrap().is_chained());
        assert!(!Command::parse(&[0x00, 0xdb, 0, 0]).unwrap().is_chained());
    }
}
