//! Reading a client's requests: look at a request, answer it, and only then take it off the
//! socket.
//!
//! Why: a client waits for its reply in `read()` on its end of the socket. When the server
//! consumes the request, the kernel frees the client's send buffer and wakes every sleeper on the
//! client's socket to say "writable" (`unix_write_space`), the reader included: a wake-up, two
//! context switches and often an inter-processor interrupt per request, for nothing (the reader
//! finds no data and sleeps again). Peeking (`MSG_PEEK`) leaves the request queued; once the reply
//! has woken the client, taking the request off the socket finds no sleeper to wake. On two
//! cores this is the difference between ~100k and ~150k signatures per second (docs/performance.md).
//!
//! A frame that has not fully arrived, or is larger than a peek, is read the ordinary way
//! ([`read_frame`]), which waits for it without spinning.

use std::io;
use std::os::fd::AsRawFd;

use tokio::io::{AsyncRead, AsyncReadExt, Interest};
use tokio::net::unix::OwnedReadHalf;
use zeroize::Zeroize;

use crate::proto::{frame, FrameError};

/// The most a single peek looks at; typical requests are a few hundred bytes.
const PEEK: usize = 8 * 1024;

/// Reads one frame, consuming it (the length is checked before anything is allocated for it).
/// Generic over the reader so that the fuzz target (`crate::fuzzing::frame`) drives this very
/// function over bytes.
pub async fn read_frame<R: AsyncRead + Unpin>(reader: &mut R) -> Result<Vec<u8>, FrameError> {
    let mut header = [0u8; 4];
    reader
        .read_exact(&mut header)
        .await
        .map_err(frame::eof_is_closed)?;
    let mut message = vec![0u8; frame::check_len(header)?];
    reader
        .read_exact(&mut message)
        .await
        .map_err(frame::eof_is_closed)?;
    Ok(message)
}

/// The reading side of one client connection: each request stays queued on the socket until
/// it is answered and [taken](Self::take).
pub struct RequestReader {
    half: OwnedReadHalf,
    /// The current request's frame (peeked or read), reused from request to request.
    buf: Vec<u8>,
    /// Where the current request's message is in `buf`.
    message: std::ops::Range<usize>,
    /// Bytes of the current request still queued on the socket (peeked, not yet taken off).
    queued: usize,
}

/// `recv(2)` on the connection's socket, never blocking.
fn recv(half: &OwnedReadHalf, buf: &mut [u8], flags: libc::c_int) -> io::Result<usize> {
    let fd = half.as_ref().as_raw_fd();
    half.as_ref().try_io(Interest::READABLE, || {
        // SAFETY: `buf` is valid for writes of `buf.len()` bytes for the duration of the call.
        let n = unsafe {
            libc::recv(
                fd,
                buf.as_mut_ptr().cast(),
                buf.len(),
                flags | libc::MSG_DONTWAIT,
            )
        };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(n as usize)
        }
    })
}

impl RequestReader {
    pub fn new(half: OwnedReadHalf) -> Self {
        Self {
            half,
            buf: Vec::new(),
            message: 0..0,
            queued: 0,
        }
    }

    /// The next request's message (type byte first). The previous request must have been
    /// [`taken`](Self::take) off the socket.
    pub async fn next(&mut self) -> Result<&[u8], FrameError> {
        debug_assert_eq!(self.queued, 0, "the previous request is still queued");
        self.buf.resize(PEEK, 0);
        loop {
            self.half.readable().await?;
            let peeked = match recv(&self.half, &mut self.buf, libc::MSG_PEEK) {
                Ok(0) => return Err(FrameError::Closed),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                // The client closed without reading its last reply: a hang-up like any other.
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {
                    return Err(FrameError::Closed)
                }
                Err(e) => return Err(e.into()),
            };
            if let Some(total) = frame::complete(&self.buf[..peeked])? {
                self.queued = total;
                self.message = 4..total;
                return Ok(&self.buf[self.message.clone()]);
            }
            // Not all there yet (a slow client, a frame larger than a peek): wait for it the
            // ordinary way.
            let mut message = read_frame(&mut self.half).await?;
            self.buf.clear();
            self.buf.extend_from_slice(&message);
            self.message = 0..message.len();
            // It may be an ssh-agent lock passphrase, sent in pieces.
            message.zeroize();
            return Ok(&self.buf[self.message.clone()]);
        }
    }

    /// Takes the current request off the socket (after its reply was written, or before a long
    /// wait that must notice the client hanging up).
    pub fn take(&mut self) -> io::Result<()> {
        while self.queued > 0 {
            // The bytes were peeked (into `buf`, so it is long enough) and nothing else reads
            // this socket: they are there, and `WouldBlock` would be a bug, not a reason to wait.
            match recv(&self.half, &mut self.buf[..self.queued], 0)? {
                0 => return Err(io::ErrorKind::UnexpectedEof.into()),
                n => self.queued -= n,
            }
        }
        // A buffer grown for a large frame is not kept while the connection idles.
        if self.buf.capacity() > PEEK {
            self.wipe();
            self.buf = Vec::new();
        }
        Ok(())
    }

    /// Overwrites the buffer (after a request that carried a passphrase; and when the
    /// connection ends, whichever way).
    pub fn wipe(&mut self) {
        self.buf.zeroize();
    }

    /// Waits until the client sends more or hangs up; `true` when it hung up. The current
    /// request must have been taken off the socket.
    pub async fn closed_or_more(&mut self) -> io::Result<bool> {
        debug_assert_eq!(self.queued, 0, "the current request is still queued");
        let mut byte = [0u8; 1];
        loop {
            self.half.readable().await?;
            match recv(&self.half, &mut byte, libc::MSG_PEEK) {
                Ok(n) => return Ok(n == 0),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return Ok(true),
                Err(e) => return Err(e),
            }
        }
    }
}

impl Drop for RequestReader {
    fn drop(&mut self) {
        self.wipe();
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsRawFd;

    use tokio::io::AsyncWriteExt;
    use tokio::net::UnixStream;

    use super::*;
    use crate::proto::frame::encode;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    /// Bytes waiting in the server's receive queue (`FIONREAD` on its socket).
    fn queued(server_fd: i32) -> usize {
        let mut n: libc::c_int = 0;
        // SAFETY: FIONREAD writes one int.
        let r = unsafe { libc::ioctl(server_fd, libc::FIONREAD, &mut n) };
        assert_eq!(r, 0, "{}", io::Error::last_os_error());
        n as usize
    }

    #[test]
    fn a_request_stays_queued_until_taken_and_pipelined_requests_come_in_order() {
        runtime().block_on(async {
            let (mut client, server) = UnixStream::pair().unwrap();
            let fd = server.as_raw_fd();
            let (read, _write) = server.into_split();
            let mut requests = RequestReader::new(read);
            let first = encode(27, b"first");
            let second = encode(11, &[]);
            client
                .write_all(&[&first[..], &second[..]].concat())
                .await
                .unwrap();
            assert_eq!(requests.next().await.unwrap(), &first[4..]);
            // Peeked, not taken: both frames are still queued on the socket.
            assert_eq!(queued(fd), first.len() + second.len());
            requests.take().unwrap();
            assert_eq!(queued(fd), second.len());
            assert_eq!(requests.next().await.unwrap(), &second[4..]);
            requests.take().unwrap();
            assert_eq!(queued(fd), 0);
            drop(client);
            assert!(matches!(requests.next().await, Err(FrameError::Closed)));
        });
    }

    #[test]
    fn a_frame_larger_than_a_peek_arriving_in_pieces_is_read_whole() {
        runtime().block_on(async {
            let (mut client, server) = UnixStream::pair().unwrap();
            let fd = server.as_raw_fd();
            let (read, _write) = server.into_split();
            let mut requests = RequestReader::new(read);
            let payload: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
            let frame = encode(27, &payload);
            let sender = tokio::spawn(async move {
                for piece in frame.chunks(7_000) {
                    client.write_all(piece).await.unwrap();
                    tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                }
                client
            });
            let message = requests.next().await.unwrap().to_vec();
            assert_eq!(message[0], 27);
            assert_eq!(&message[1..], &payload[..]);
            requests.take().unwrap();
            // The grown buffer is not kept while the connection idles.
            assert!(
                requests.buf.capacity() <= PEEK,
                "{}",
                requests.buf.capacity()
            );
            drop(sender.await.unwrap());
            assert_eq!(queued(fd), 0);
        });
    }

    #[test]
    fn a_bad_length_ends_the_connection_and_a_hang_up_is_seen() {
        runtime().block_on(async {
            let (mut client, server) = UnixStream::pair().unwrap();
            let (read, _write) = server.into_split();
            let mut requests = RequestReader::new(read);
            client
                .write_all(&[0xff, 0xff, 0xff, 0xff, 1])
                .await
                .unwrap();
            assert!(matches!(
                requests.next().await,
                Err(FrameError::TooLarge(4294967295))
            ));

            let (mut client, server) = UnixStream::pair().unwrap();
            let (read, _write) = server.into_split();
            let mut requests = RequestReader::new(read);
            client.write_all(&encode(11, &[])).await.unwrap();
            requests.next().await.unwrap();
            requests.take().unwrap();
            client.write_all(&encode(11, &[])).await.unwrap();
            assert!(!requests.closed_or_more().await.unwrap(), "more was sent");
            requests.next().await.unwrap();
            requests.take().unwrap();
            drop(client);
            assert!(
                requests.closed_or_more().await.unwrap(),
                "the client hung up"
            );
        });
    }
}
