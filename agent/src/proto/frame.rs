//! Framing: `uint32 length || length bytes`, the first of which is the message type
//! (draft-miller-ssh-agent section 3). The length is checked against [`MAX_FRAME`] before any
//! buffer is allocated for it, as openssh's `AGENT_MAX_LEN` does.

use std::io::{self, Read, Write};

/// The largest frame either side accepts: 256 KiB, openssh's limit. A request body bigger than
/// this is not an exchange request.
pub const MAX_FRAME: usize = 256 * 1024;

/// Why a frame could not be read. Every variant ends the connection: after a bad length the
/// stream can no longer be split into frames.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("frame of {0} bytes is over the {MAX_FRAME}-byte limit")]
    TooLarge(u64),
    #[error("empty frame (no message type)")]
    Empty,
    #[error("connection closed")]
    Closed,
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
}

/// Checks a frame's announced length; returns it as a usize when it is acceptable.
pub fn check_len(header: [u8; 4]) -> Result<usize, FrameError> {
    let len = u32::from_be_bytes(header) as usize;
    if len == 0 {
        return Err(FrameError::Empty);
    }
    if len > MAX_FRAME {
        return Err(FrameError::TooLarge(len as u64));
    }
    Ok(len)
}

/// The length of the frame (prefix included) at the start of `bytes`, when all of it is there;
/// `None` while more bytes are needed. How the server splits what it peeks at into frames.
pub fn complete(bytes: &[u8]) -> Result<Option<usize>, FrameError> {
    let Some(header) = bytes.first_chunk::<4>() else {
        return Ok(None);
    };
    let total = 4 + check_len(*header)?;
    Ok((bytes.len() >= total).then_some(total))
}

/// Wraps a message (type byte + payload) in its length prefix.
pub fn encode(message_type: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + payload.len());
    out.extend_from_slice(&((payload.len() + 1) as u32).to_be_bytes());
    out.push(message_type);
    out.extend_from_slice(payload);
    out
}

/// A stream that ends inside a frame has closed; any other error is an error.
pub fn eof_is_closed(e: io::Error) -> FrameError {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        FrameError::Closed
    } else {
        e.into()
    }
}

/// Reads one frame from a blocking stream: the message (type byte first), without the length.
pub fn read_blocking(stream: &mut impl Read) -> Result<Vec<u8>, FrameError> {
    let mut header = [0u8; 4];
    stream.read_exact(&mut header).map_err(eof_is_closed)?;
    let mut message = vec![0u8; check_len(header)?];
    stream.read_exact(&mut message).map_err(eof_is_closed)?;
    Ok(message)
}

/// Writes one already-encoded frame to a blocking stream.
pub fn write_blocking(stream: &mut impl Write, frame: &[u8]) -> io::Result<()> {
    stream.write_all(frame)?;
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_gib_length_is_refused_without_allocating() {
        let bytes = [0xff, 0xff, 0xff, 0xff, 1, 2, 3];
        let err = read_blocking(&mut &bytes[..]).unwrap_err();
        assert!(matches!(err, FrameError::TooLarge(4294967295)), "{err}");
    }

    #[test]
    fn limit_is_inclusive() {
        assert_eq!(
            check_len((MAX_FRAME as u32).to_be_bytes()).unwrap(),
            MAX_FRAME
        );
        assert!(check_len((MAX_FRAME as u32 + 1).to_be_bytes()).is_err());
    }

    #[test]
    fn encode_then_read_gives_the_message_back() {
        let frame = encode(27, b"abc");
        assert_eq!(frame, [0, 0, 0, 4, 27, b'a', b'b', b'c']);
        assert_eq!(
            read_blocking(&mut &frame[..]).unwrap(),
            [27, b'a', b'b', b'c']
        );
    }

    #[test]
    fn truncated_frame_reports_closed() {
        let bytes = [0, 0, 0, 9, 27, 1];
        assert!(matches!(
            read_blocking(&mut &bytes[..]),
            Err(FrameError::Closed)
        ));
    }
}
