//! The vsmartcard vpcd wire protocol, card side.
//!
//! The card is a TCP client of the vpcd driver loaded in pcscd (port 35963
//! is reader "... 00 00", 35964 is "... 00 01"). Every message in both
//! directions is a 2-byte big-endian length and a payload. One-byte
//! payloads are control messages; longer ones are APDUs.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Control messages from vpcd; only GET ATR expects an answer.
pub const CTRL_POWER_OFF: u8 = 0;
pub const CTRL_POWER_ON: u8 = 1;
pub const CTRL_RESET: u8 = 2;
pub const CTRL_GET_ATR: u8 = 4;

/// YubiKey 5 NFC style ATR: T=1 only, historical bytes "\x80\x73\xC0\x21\xC0WYubiKey".
/// The yubikey crate connects with T=1, so T=1 must be offered.
pub const ATR: [u8; 23] = [
    0x3b, 0xfd, 0x13, 0x00, 0x00, 0x81, 0x31, 0xfe, 0x15, 0x80, 0x73, 0xc0, 0x21, 0xc0, 0x57, 0x59,
    0x75, 0x62, 0x69, 0x4b, 0x65, 0x79, 0x40,
];

/// One connection to vpcd. Reads use a short timeout so the owner can poll
/// the control directory between messages; partial frames are kept.
pub struct Link {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Link {
    pub fn connect(addr: &str, poll: Duration) -> io::Result<Link> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(poll))?;
        let _ = socket2::SockRef::from(&stream).set_tcp_quickack(true);
        Ok(Link {
            stream,
            buf: Vec::new(),
        })
    }

    /// Returns the next whole message, `None` if none arrived within the
    /// poll interval, or an error once vpcd closed the connection.
    pub fn poll(&mut self) -> io::Result<Option<Vec<u8>>> {
        loop {
            if let Some(msg) = take_frame(&mut self.buf) {
                return Ok(Some(msg));
            }
            let mut chunk = [0u8; 4096];
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    // vpcd sends length and payload separately with Nagle on;
                    // ACK at once so the payload is not held back ~40 ms.
                    // Linux resets quick-ACK mode by itself, hence every read.
                    let _ = socket2::SockRef::from(&self.stream).set_tcp_quickack(true);
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Ok(None)
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    pub fn send(&mut self, payload: &[u8]) -> io::Result<()> {
        self.stream.write_all(&frame(payload))
    }
}

/// Length-prefixes a payload.
pub fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 2);
    out.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// Removes and returns one whole frame from the front of `buf`, if there is one.
pub fn take_frame(buf: &mut Vec<u8>) -> Option<Vec<u8>> {
    if buf.len() < 2 {
        return None;
    }
    let len = usize::from(u16::from_be_bytes([buf[0], buf[1]]));
    if buf.len() < 2 + len {
        return None;
    }
    let msg = buf[2..2 + len].to_vec();
    buf.drain(..2 + len);
    Some(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atr_check_byte_is_valid_and_offers_t1() {
        // TCK makes the XOR of T0..TCK zero (ISO 7816-3 8.2.5).
        assert_eq!(ATR[1..].iter().fold(0u8, |a, b| a ^ b), 0);
        // TD1 = 0x81 and TD2 = 0x31: protocol T=1 announced, nothing else.
        assert_eq!(ATR[5], 0x81);
        assert_eq!(ATR[6] & 0x0f, 0x01);
    }

    #[test]
    fn frames_split_and_join() {
        let mut buf = frame(&[4]);
        buf.extend(frame(&[0, 0xa4, 4, 0]));
        buf.extend_from_slice(&[0x00]); // half of the next length prefix
        assert_eq!(take_frame(&mut buf), Some(vec![4]));
        assert_eq!(take_frame(&mut buf), Some(vec![0, 0xa4, 4, 0]));
        assert_eq!(take_frame(&mut buf), None);
        assert_eq!(buf, vec![0x00]);
    }
}
