//! The transport floor: a Unix-socket server that answers each frame with a frame of the size the
//! agent's sign reply has, with the same framing and one task per connection, so the difference
//! between it and the agent is the agent's own work.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;

/// Runs the echo server until killed (`apisec-bench --echo-server PATH --reply-size N`).
pub fn serve(path: &Path, reply_size: usize) -> std::io::Result<()> {
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path)?;
    for stream in listener.incoming() {
        let stream = stream?;
        std::thread::spawn(move || {
            let _ = connection(stream, reply_size);
        });
    }
    Ok(())
}

fn connection(mut stream: UnixStream, reply_size: usize) -> std::io::Result<()> {
    let mut reply = vec![0u8; 4 + reply_size];
    reply[..4].copy_from_slice(&(reply_size as u32).to_be_bytes());
    reply[4] = 29;
    loop {
        let mut len = [0u8; 4];
        stream.read_exact(&mut len)?;
        let n = u32::from_be_bytes(len) as usize;
        if n > apisec_agent::proto::MAX_FRAME {
            return Ok(());
        }
        let mut msg = vec![0u8; n];
        stream.read_exact(&mut msg)?;
        stream.write_all(&reply)?;
    }
}

/// One echo round trip with a request frame of the sign request's size.
pub fn roundtrip(
    stream: &mut UnixStream,
    request: &[u8],
    reply: &mut Vec<u8>,
) -> std::io::Result<()> {
    stream.write_all(request)?;
    let mut len = [0u8; 4];
    stream.read_exact(&mut len)?;
    reply.resize(u32::from_be_bytes(len) as usize, 0);
    stream.read_exact(reply)
}
