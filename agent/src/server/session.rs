//! One client connection: look at a request (length checked before allocation), answer it, take
//! it off the socket, repeat ([`super::request_reader`] says why in that order).
//! Requests are answered strictly in order, so pipelined requests get their replies in the order
//! sent. A request the agent does not know gets `SSH_AGENT_FAILURE` and the connection stays
//! open; only an unreadable frame (bad length, closed mid-frame) ends the connection.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::task::Poll;

use tokio::io::AsyncWriteExt;
use tokio::net::unix::OwnedWriteHalf;
use tokio::net::UnixStream;
use tokio::sync::{mpsc, Notify};
use zeroize::Zeroize;

use super::ops;
use super::request_reader::RequestReader;
use super::state::Agent;
use crate::peer::PeerInfo;
use crate::proto::{self, frame, msg, ApisecRequest, Decoded, ErrorCode, ErrorReply, FrameError};

fn failure() -> Vec<u8> {
    frame::encode(msg::FAILURE, &[])
}

fn success() -> Vec<u8> {
    frame::encode(msg::SUCCESS, &[])
}

fn yes_or_failure(ok: bool) -> Vec<u8> {
    if ok {
        success()
    } else {
        failure()
    }
}

/// A successful extension's reply frame (`string name || details`), or its refusal.
fn extension_reply(name: &str, result: Result<Vec<u8>, ErrorReply>) -> Vec<u8> {
    match result {
        Ok(details) => proto::extension_response_frame(name, &details),
        Err(e) => e.to_frame(),
    }
}

/// How many requests one connection gets answered in a row, when it always has the next one
/// ready, before the other connections get a turn.
const FAIR_STREAK: u32 = 1;

/// What one connection needs besides its socket.
struct Connection<'a> {
    peer: &'a PeerInfo,
    agent: &'a Arc<Agent>,
    requests: &'a mut RequestReader,
    write: &'a mut OwnedWriteHalf,
    shutdown: &'a Notify,
}

/// Serves one connection until the client closes it or sends an unreadable frame. Each request
/// stays queued on the socket until its reply is written (see [`super::request_reader`]).
pub async fn serve(stream: UnixStream, peer: PeerInfo, agent: Arc<Agent>, shutdown: Arc<Notify>) {
    let (read, mut write) = stream.into_split();
    let mut requests = RequestReader::new(read);
    // Requests answered in a row without waiting for the client.
    let mut streak = 0;
    loop {
        let (decoded, waited) = next_request(&mut requests).await;
        streak = if waited { 0 } else { streak + 1 };
        if streak >= FAIR_STREAK {
            // A client that sends its next request as soon as it has the reply finds the socket
            // readable every time, so this loop never waits: without a turn for the others, one
            // busy connection is served until tokio's budget runs out (128 requests) while every
            // other connection's request sits queued.
            streak = 0;
            tokio::task::yield_now().await;
        }
        let decoded = match decoded {
            Ok(decoded) => decoded,
            Err(FrameError::Closed) => return,
            Err(e) => {
                crate::warn!("closing connection from {}: {e}", peer.describe());
                return;
            }
        };
        let carried_passphrase = matches!(decoded, Decoded::Lock(_) | Decoded::Unlock(_));
        let mut conn = Connection {
            peer: &peer,
            agent: &agent,
            requests: &mut requests,
            write: &mut write,
            shutdown: &shutdown,
        };
        let answered = dispatch(decoded, &mut conn).await;
        if answered.and_then(|()| requests.take()).is_err() {
            return; // the client went away
        }
        if carried_passphrase {
            requests.wipe();
        }
    }
}

/// The next request, decoded, and whether it had to be waited for (it was not already queued).
async fn next_request(requests: &mut RequestReader) -> (Result<Decoded, FrameError>, bool) {
    let mut waited = false;
    let mut next = std::pin::pin!(requests.next());
    let message = std::future::poll_fn(|cx| {
        let poll = next.as_mut().poll(cx);
        waited |= poll.is_pending();
        poll
    })
    .await;
    (message.map(proto::decode), waited)
}

/// Answers one message, writing one or more frames: the one place where a message meets the
/// operation that answers it.
async fn dispatch(decoded: Decoded, conn: &mut Connection<'_>) -> io::Result<()> {
    let (agent, peer) = (conn.agent, conn.peer);
    if !agent.admits(decoded.access(), peer.uid) {
        let reply = ops::owner_only::refuse(decoded, agent, peer);
        return conn.write.write_all(&reply).await;
    }
    let reply = match decoded {
        // No SSH keys are served (yet): an empty list, so `ssh-add -l` says so without error.
        Decoded::Identities => frame::encode(msg::IDENTITIES_ANSWER, &0u32.to_be_bytes()),
        Decoded::RemoveAll => {
            ops::lock::remove_all(agent, peer);
            success()
        }
        Decoded::Lock(mut pass) => {
            let ok = ops::lock::agent_lock(agent, pass.as_bytes(), peer);
            pass.zeroize();
            yes_or_failure(ok)
        }
        Decoded::Unlock(mut pass) => {
            let ok = ops::lock::agent_unlock(agent, pass.as_bytes(), peer);
            pass.zeroize();
            if !ok {
                ops::lock::slow_down_guessing().await;
            }
            yes_or_failure(ok)
        }
        Decoded::Apisec(ApisecRequest::Sign(r)) => return sign(&r, conn).await,
        Decoded::Apisec(ApisecRequest::Login(r)) => return login(&r, conn).await,
        Decoded::Apisec(ApisecRequest::Unlock(r)) => return unlock(&r, conn).await,
        Decoded::Apisec(ApisecRequest::Shutdown) => {
            crate::info!("shutdown requested by {}", peer.describe());
            agent.audit(
                &crate::audit::Event::agent(crate::audit::Action::Shutdown).allowed(None),
                Some(peer),
            );
            conn.write
                .write_all(&proto::extension_response_frame(proto::EXT_SHUTDOWN, &[]))
                .await?;
            conn.shutdown.notify_one();
            return Ok(());
        }
        Decoded::Apisec(ApisecRequest::Query) => {
            extension_reply(proto::EXT_QUERY, Ok(proto::encode_query_reply()))
        }
        Decoded::Apisec(ApisecRequest::Status(r)) => extension_reply(
            proto::EXT_STATUS,
            Ok(ops::status::status(agent, peer).encode_for(r.flags)),
        ),
        Decoded::Apisec(ApisecRequest::Lock(r)) => {
            let n = ops::lock::lock(agent, &r.names, peer);
            extension_reply(proto::EXT_LOCK, Ok(proto::encode_count(n)))
        }
        Decoded::Apisec(ApisecRequest::Reload) => {
            let n = ops::reload::reload(agent, peer).await.inspect(|n| {
                crate::info!("reload from {}: {n} store entries", peer.describe());
                let note = format!("{n} store entries");
                agent.audit(
                    &crate::audit::Event::agent(crate::audit::Action::Reload)
                        .allowed(None)
                        .noting(&note),
                    Some(peer),
                );
            });
            extension_reply(proto::EXT_RELOAD, n.map(proto::encode_count))
        }
        Decoded::Apisec(ApisecRequest::Mac(r)) => {
            let mac = ops::mac::mac(agent, &r, peer);
            extension_reply(proto::EXT_MAC, mac.map(|m| proto::encode_mac_reply(&m)))
        }
        Decoded::Apisec(ApisecRequest::Approvals) => {
            extension_reply(proto::EXT_APPROVALS, ops::approvals::list(agent))
        }
        Decoded::Apisec(ApisecRequest::Answer(r)) => {
            extension_reply(proto::EXT_ANSWER, ops::approvals::answer(agent, &r, peer))
        }
        Decoded::Malformed(e) => ErrorReply::new(ErrorCode::BadRequest, e.to_string()).to_frame(),
        Decoded::Unknown => failure(),
    };
    conn.write.write_all(&reply).await
}

/// Progress lines on their way to a waiting client.
type Progress<'a> = (
    &'a mut mpsc::UnboundedReceiver<String>,
    &'a mut OwnedWriteHalf,
);

/// Runs `work` while its client waits, relaying `progress` lines to it. The request must have
/// been taken off the socket. When the client hangs up first, `work` is dropped (which cancels
/// it: an approver is killed, nothing is done for nobody) and the result is `ConnectionAborted`.
async fn while_client_waits<T>(
    work: impl Future<Output = T>,
    requests: &mut RequestReader,
    mut progress: Option<Progress<'_>>,
) -> io::Result<T> {
    tokio::pin!(work);
    // Once the client has sent its next request there is nothing more to learn from reading.
    let mut more_pending = false;
    loop {
        let next_line = async {
            match progress.as_mut() {
                Some((rx, _)) => rx.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            result = &mut work => return Ok(result),
            hung_up = requests.closed_or_more(), if !more_pending => match hung_up {
                Ok(true) | Err(_) => return Err(io::ErrorKind::ConnectionAborted.into()),
                Ok(false) => more_pending = true,
            },
            Some(line) = next_line => {
                if let Some((_, write)) = progress.as_mut() {
                    write_progress(write, &line).await?;
                }
            }
        }
    }
}

async fn write_progress(write: &mut OwnedWriteHalf, line: &str) -> io::Result<()> {
    write
        .write_all(&proto::extension_response_frame(
            proto::EXT_PROGRESS,
            &proto::encode_progress(line),
        ))
        .await
}

/// The answer of `work`, which is nearly always ready at the first poll, with the socket not
/// touched; work that has to wait (a step-up asks its human) takes its request off the socket
/// first, so that a client hanging up during the wait cancels it, as for unlock (`on_abandon`
/// is then told, and the error returned).
async fn at_once_or_while_client_waits<T>(
    work: impl Future<Output = T>,
    requests: &mut RequestReader,
    on_abandon: impl FnOnce(),
) -> io::Result<T> {
    tokio::pin!(work);
    // Polled with this task's waker, so a pending step-up wakes this task as usual.
    let first = std::future::poll_fn(|cx| Poll::Ready(work.as_mut().poll(cx))).await;
    match first {
        Poll::Ready(result) => Ok(result),
        Poll::Pending => {
            requests.take()?;
            while_client_waits(&mut work, requests, None)
                .await
                .inspect_err(|_| on_abandon())
        }
    }
}

/// Signs.
async fn sign(r: &proto::SignRequest, conn: &mut Connection<'_>) -> io::Result<()> {
    let (agent, peer) = (conn.agent, conn.peer);
    let result =
        at_once_or_while_client_waits(ops::sign::sign(agent, r, peer), conn.requests, || {
            crate::info!(
                "sign {} {} {} abandoned: {} hung up while waiting for the step-up",
                r.name,
                r.method,
                r.path,
                peer.describe()
            );
            ops::sign::audit_abandoned_step_up(agent, r, peer);
        })
        .await?;
    let frame = match result {
        Ok(s) => {
            proto::sign_reply_frame(&s.headers, &s.query_additions, &s.query, s.body.as_deref())
        }
        Err(e) => e.to_frame(),
    };
    conn.write.write_all(&frame).await
}

/// A WebSocket login: like a signature, answered at once unless a step-up asks its human.
async fn login(r: &proto::LoginRequest, conn: &mut Connection<'_>) -> io::Result<()> {
    let (agent, peer) = (conn.agent, conn.peer);
    let result =
        at_once_or_while_client_waits(ops::login::login(agent, r, peer), conn.requests, || {
            crate::info!(
                "login {} abandoned: {} hung up while waiting for the step-up",
                r.name,
                peer.describe()
            );
        })
        .await?;
    let frame = match result {
        Ok(login) => {
            let reply = proto::LoginReply {
                fields: login
                    .fields
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), v.clone()))
                    .collect(),
                message: login.message.clone(),
            };
            proto::extension_response_frame(proto::EXT_LOGIN, &reply.encode())
        }
        Err(e) => e.to_frame(),
    };
    conn.write.write_all(&frame).await
}

/// Unlock, relaying progress lines to the client while it waits (when it asked for them).
async fn unlock(r: &proto::UnlockRequest, conn: &mut Connection<'_>) -> io::Result<()> {
    // Off the socket now, so that a hang-up during the wait can be seen.
    conn.requests.take()?;
    let want_progress = r.flags & proto::UNLOCK_WANT_PROGRESS != 0;
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    let work = ops::unlock::unlock(conn.agent, &r.names, conn.peer, want_progress.then_some(tx));
    let result = match while_client_waits(work, conn.requests, Some((&mut rx, conn.write))).await {
        Ok(result) => result,
        Err(e) => {
            crate::info!(
                "unlock abandoned: {} hung up while waiting",
                conn.peer.describe()
            );
            return Err(e);
        }
    };
    while let Ok(line) = rx.try_recv() {
        write_progress(conn.write, &line).await?;
    }
    let frame = match result {
        Ok(reply) => proto::extension_response_frame(proto::EXT_UNLOCK, &reply.encode()),
        Err(e) => e.to_frame(),
    };
    conn.write.write_all(&frame).await
}
