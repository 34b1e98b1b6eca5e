//! Raw frames on the agent's socket, built and read by hand (independent of the agent's own
//! encoder): `frames::*`, `roundtrip_raw`, `read_frame`.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;

/// Sends raw bytes and reads one frame back (type byte + payload); `None` when the agent closed.
pub fn roundtrip_raw(stream: &mut UnixStream, bytes: &[u8]) -> Option<Vec<u8>> {
    stream.write_all(bytes).ok()?;
    read_frame(stream)
}

pub fn read_frame(stream: &mut UnixStream) -> Option<Vec<u8>> {
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).ok()?;
    let mut msg = vec![0u8; u32::from_be_bytes(len) as usize];
    stream.read_exact(&mut msg).ok()?;
    Some(msg)
}

/// Hand-built frames, independent of the agent's own encoder.
pub mod frames {
    pub fn string(s: &[u8]) -> Vec<u8> {
        let mut v = (s.len() as u32).to_be_bytes().to_vec();
        v.extend_from_slice(s);
        v
    }

    pub fn frame(msg_type: u8, payload: &[u8]) -> Vec<u8> {
        let mut v = ((payload.len() + 1) as u32).to_be_bytes().to_vec();
        v.push(msg_type);
        v.extend_from_slice(payload);
        v
    }

    pub fn extension(name: &str, details: &[u8]) -> Vec<u8> {
        let mut p = string(name.as_bytes());
        p.extend_from_slice(details);
        frame(27, &p)
    }

    pub fn status() -> Vec<u8> {
        extension("status@apisec", &[])
    }
}
