//! The transport floor: Unix-socket servers that answer each frame with a frame of the size the
//! agent's sign reply has, with the same framing (docs/performance.md says why three):
//! `tokio`, a bare server on the agent's runtime (a multi-thread tokio runtime, one task per
//! connection, a buffered reader); `tokio-peek`, the same reading requests with the agent's own
//! reader; and `threads`, one blocking OS thread per connection, the simplest server there is.

use std::future::Future;
use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;

use tokio::io::AsyncWriteExt;

/// The reply frame: a type-29 message of `reply_size` bytes.
fn reply_frame(reply_size: usize) -> Vec<u8> {
    let mut reply = vec![0u8; 4 + reply_size];
    reply[..4].copy_from_slice(&(reply_size as u32).to_be_bytes());
    reply[4] = 29;
    reply
}

/// Accepts connections on `path` on a multi-thread tokio runtime (the agent's) and serves each
/// with `connection` in its own task, until killed.
fn serve_on_tokio<F, Fut>(path: &Path, connection: F) -> std::io::Result<()>
where
    F: Fn(tokio::net::UnixStream) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let _ = std::fs::remove_file(path);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::UnixListener::bind(path)?;
        loop {
            let (stream, _) = listener.accept().await?;
            tokio::spawn(connection(stream));
        }
    })
}

/// Runs the bare tokio echo server until killed.
pub fn serve_tokio(path: &Path, reply_size: usize) -> std::io::Result<()> {
    use tokio::io::{AsyncReadExt, BufReader};
    serve_on_tokio(path, move |stream| async move {
        let (read, mut write) = stream.into_split();
        let mut reader = BufReader::new(read);
        let reply = reply_frame(reply_size);
        loop {
            let mut len = [0u8; 4];
            if reader.read_exact(&mut len).await.is_err() {
                return;
            }
            let n = u32::from_be_bytes(len) as usize;
            if n > apisec_agent::proto::MAX_FRAME {
                return;
            }
            let mut msg = vec![0u8; n];
            if reader.read_exact(&mut msg).await.is_err() || write.write_all(&reply).await.is_err()
            {
                return;
            }
        }
    })
}

/// Runs the echo server with the agent's own request reader ([`RequestReader`]: peek, answer, then
/// take the request off the socket) until killed: the floor for the agent's I/O as it is, so
/// that the difference between it and the agent is the agent's own work and nothing else.
///
/// [`RequestReader`]: apisec_agent::server::request_reader::RequestReader
pub fn serve_tokio_peek(path: &Path, reply_size: usize) -> std::io::Result<()> {
    use apisec_agent::server::request_reader::RequestReader;
    serve_on_tokio(path, move |stream| async move {
        let (read, mut write) = stream.into_split();
        let mut requests = RequestReader::new(read);
        let reply = reply_frame(reply_size);
        while requests.next().await.is_ok() {
            if write.write_all(&reply).await.is_err() || requests.take().is_err() {
                return;
            }
        }
    })
}

/// Runs the thread-per-connection echo server until killed.
pub fn serve_threads(path: &Path, reply_size: usize) -> std::io::Result<()> {
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
    let reply = reply_frame(reply_size);
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
