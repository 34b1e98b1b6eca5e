//! One client connection: look at a request (length checked before allocation), answer it, take
//! it off the socket, repeat ([`super::conn`] says why in that order).
//! Requests are answered strictly in order, so pipelined requests get their replies in the order
//! sent. A request the agent does not know gets `SSH_AGENT_FAILURE` and the connection stays
//! open; only an unreadable frame (bad length, closed mid-frame) ends the connection.

use std::future::Future;
use std::sync::Arc;
use std::task::Poll;

use ssh_agent_lib::proto::Request;
use ssh_encoding::Decode;
use tokio::io::AsyncWriteExt;
use tokio::net::unix::OwnedWriteHalf;
use tokio::net::UnixStream;
use tokio::sync::{mpsc, Notify};
use zeroize::Zeroize;

use super::agent::Agent;
use super::conn::Requests;
use crate::peer::PeerInfo;
use crate::proto::{self, frame, msg, ApisecRequest, ErrorCode, ErrorReply, FrameError};

fn lock_event<'a>(action: &'static str, allowed: bool, reason: &'a str) -> crate::audit::Event<'a> {
    crate::audit::Event {
        action,
        allowed,
        reason: (!reason.is_empty()).then_some(reason),
        ..Default::default()
    }
}

/// A request as the server understands it, decoded from one frame without any I/O.
pub enum Decoded {
    /// `SSH_AGENTC_REQUEST_IDENTITIES`.
    Identities,
    /// `SSH_AGENTC_REMOVE_ALL_IDENTITIES` (`ssh-add -D`).
    RemoveAll,
    /// `SSH_AGENTC_LOCK` with its passphrase (the caller zeroizes it).
    Lock(String),
    /// `SSH_AGENTC_UNLOCK` with its passphrase (the caller zeroizes it).
    Unlock(String),
    /// One of the agent's extensions.
    Apisec(ApisecRequest),
    /// One of the agent's extensions whose details do not parse: `bad-request`.
    Malformed(proto::WireError),
    /// Anything else (unknown type or extension, a payload that is not the standard message):
    /// `SSH_AGENT_FAILURE`.
    Unknown,
}

/// Decodes one frame's message (type byte first; never empty, `frame::check_len` sees to that):
/// the message type, then ssh-agent-lib's `Request::decode`, then `ApisecRequest::decode`.
pub fn decode(message: &[u8]) -> Decoded {
    let Some(&message_type) = message.first() else {
        return Decoded::Unknown;
    };
    match message_type {
        msg::REQUEST_IDENTITIES => Decoded::Identities,
        msg::REMOVE_ALL_IDENTITIES => Decoded::RemoveAll,
        msg::LOCK | msg::UNLOCK => match Request::decode(&mut &message[..]) {
            Ok(Request::Lock(pass)) => Decoded::Lock(pass),
            Ok(Request::Unlock(pass)) => Decoded::Unlock(pass),
            _ => Decoded::Unknown,
        },
        msg::EXTENSION => match Request::decode(&mut &message[..]) {
            Ok(Request::Extension(ext)) => {
                match ApisecRequest::decode(&ext.name, ext.details.as_ref()) {
                    Ok(Some(req)) => Decoded::Apisec(req),
                    Ok(None) => Decoded::Unknown,
                    Err(e) => Decoded::Malformed(e),
                }
            }
            _ => Decoded::Unknown,
        },
        _ => Decoded::Unknown,
    }
}

fn failure() -> Vec<u8> {
    frame::encode(msg::FAILURE, &[])
}

fn success() -> Vec<u8> {
    frame::encode(msg::SUCCESS, &[])
}

/// Serves one connection until the client closes it or sends an unreadable frame. Each request
/// stays queued on the socket until its reply is written (see [`super::conn`]).
pub async fn serve(stream: UnixStream, peer: PeerInfo, agent: Arc<Agent>, shutdown: Arc<Notify>) {
    let (read, mut write) = stream.into_split();
    let mut requests = Requests::new(read);
    loop {
        let decoded = match requests.next().await {
            Ok(message) => decode(message),
            Err(FrameError::Closed) => return,
            Err(e) => {
                crate::warn!("closing connection from {}: {e}", peer.describe());
                return;
            }
        };
        let carried_passphrase = matches!(decoded, Decoded::Lock(_) | Decoded::Unlock(_));
        let answered = handle(decoded, &peer, &agent, &mut requests, &mut write, &shutdown).await;
        if answered.and_then(|()| requests.take()).is_err() {
            return; // the client went away
        }
        if carried_passphrase {
            requests.wipe();
        }
    }
}

/// Answers one message, writing one or more frames.
async fn handle(
    decoded: Decoded,
    peer: &PeerInfo,
    agent: &Arc<Agent>,
    requests: &mut Requests,
    write: &mut OwnedWriteHalf,
    shutdown: &Notify,
) -> std::io::Result<()> {
    let reply = match decoded {
        Decoded::Identities => {
            // No SSH keys are served (yet): an empty list, so `ssh-add -l` says so without error.
            frame::encode(msg::IDENTITIES_ANSWER, &0u32.to_be_bytes())
        }
        Decoded::RemoveAll => {
            let n = agent.forget(&[]);
            crate::info!("ssh-add -D from {}: forgot {n} secret(s)", peer.describe());
            agent.audit(
                &lock_event("remove-all", true, &format!("forgot {n} secret(s)")),
                Some(peer),
            );
            success()
        }
        Decoded::Lock(mut pass) => {
            let ok = agent.lock_agent(pass.as_bytes());
            pass.zeroize();
            agent.audit(&lock_event("agent-lock", ok, ""), Some(peer));
            crate::info!(
                "agent lock from {}: {}",
                peer.describe(),
                if ok { "locked" } else { "already locked" }
            );
            if ok {
                success()
            } else {
                failure()
            }
        }
        Decoded::Unlock(mut pass) => {
            let ok = agent.unlock_agent(pass.as_bytes());
            pass.zeroize();
            agent.audit(&lock_event("agent-unlock", ok, ""), Some(peer));
            crate::info!(
                "agent unlock from {}: {}",
                peer.describe(),
                if ok { "unlocked" } else { "refused" }
            );
            if ok {
                success()
            } else {
                // As ssh-agent does: slow down passphrase guessing.
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                failure()
            }
        }
        Decoded::Apisec(req) => {
            return extension(req, peer, agent, requests, write, shutdown).await
        }
        Decoded::Malformed(e) => ErrorReply::new(ErrorCode::BadRequest, e.to_string()).to_frame(),
        Decoded::Unknown => failure(),
    };
    write.write_all(&reply).await
}

async fn extension(
    req: ApisecRequest,
    peer: &PeerInfo,
    agent: &Arc<Agent>,
    requests: &mut Requests,
    write: &mut OwnedWriteHalf,
    shutdown: &Notify,
) -> std::io::Result<()> {
    let name = req.name();
    let result: Result<Vec<u8>, ErrorReply> = match &req {
        ApisecRequest::Query => Ok(proto::encode_query_reply()),
        ApisecRequest::Status => Ok(agent.status().encode()),
        ApisecRequest::Lock(r) => {
            let n = agent.forget(&r.names);
            crate::info!("lock from {}: forgot {n} secret(s)", peer.describe());
            agent.audit(
                &lock_event("lock", true, &format!("forgot {n} secret(s)")),
                Some(peer),
            );
            Ok(proto::encode_count(n))
        }
        ApisecRequest::Reload => agent.reload().await.map(|n| {
            crate::info!("reload from {}: {n} store entries", peer.describe());
            proto::encode_count(n)
        }),
        ApisecRequest::Shutdown => {
            crate::info!("shutdown requested by {}", peer.describe());
            write
                .write_all(&proto::extension_response_frame(name, &[]))
                .await?;
            shutdown.notify_one();
            return Ok(());
        }
        ApisecRequest::Sign(r) => {
            let frame = match sign(r, peer, agent, requests).await? {
                Ok(s) => proto::sign_reply_frame(
                    &s.headers,
                    &s.query_additions,
                    &s.query,
                    s.body.as_deref(),
                ),
                Err(e) => e.to_frame(),
            };
            return write.write_all(&frame).await;
        }
        ApisecRequest::Mac(r) => agent.mac(r, peer).map(|m| proto::encode_mac_reply(&m)),
        ApisecRequest::Unlock(r) => {
            return unlock(r, peer, agent, requests, write).await;
        }
    };
    let frame = match result {
        Ok(details) => proto::extension_response_frame(name, &details),
        Err(e) => e.to_frame(),
    };
    write.write_all(&frame).await
}

/// Signs. Nearly every signature is done at the first poll and the socket is not touched; one
/// that has to wait (a step-up asks its human) takes its request off the socket first, so that a
/// client hanging up during the wait cancels it, as for unlock: the approver is killed and nothing
/// is signed for nobody.
async fn sign(
    r: &proto::SignRequest,
    peer: &PeerInfo,
    agent: &Arc<Agent>,
    requests: &mut Requests,
) -> std::io::Result<Result<crate::sign::Signed, ErrorReply>> {
    let work = agent.sign(r, peer);
    tokio::pin!(work);
    // Polled with this task's waker, so a pending step-up wakes this task as usual.
    let first = std::future::poll_fn(|cx| Poll::Ready(work.as_mut().poll(cx))).await;
    if let Poll::Ready(result) = first {
        return Ok(result);
    }
    requests.take()?;
    let mut more_pending = false;
    loop {
        tokio::select! {
            result = &mut work => return Ok(result),
            hung_up = requests.closed_or_more(), if !more_pending => match hung_up {
                Ok(true) | Err(_) => {
                    crate::info!(
                        "sign {} {} {} abandoned: {} hung up while waiting for the step-up",
                        r.name,
                        r.method,
                        r.path,
                        peer.describe()
                    );
                    agent.audit_abandoned_step_up(r, peer);
                    return Err(std::io::ErrorKind::ConnectionAborted.into());
                }
                Ok(false) => more_pending = true,
            },
        }
    }
}

/// Unlock, relaying progress lines to the client while it waits (when it asked for them). A
/// client that hangs up while it waits cancels the wait: the approver is killed and nothing is
/// unsealed for nobody.
async fn unlock(
    r: &proto::UnlockRequest,
    peer: &PeerInfo,
    agent: &Arc<Agent>,
    requests: &mut Requests,
    write: &mut OwnedWriteHalf,
) -> std::io::Result<()> {
    // Off the socket now, so that a hang-up during the wait can be seen.
    requests.take()?;
    let want_progress = r.flags & proto::UNLOCK_WANT_PROGRESS != 0;
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    let work = agent.unlock(&r.names, peer, want_progress.then_some(tx));
    tokio::pin!(work);
    // Once the client has sent its next request there is nothing more to learn from reading.
    let mut more_pending = false;
    let result = loop {
        tokio::select! {
            result = &mut work => break result,
            hung_up = requests.closed_or_more(), if !more_pending => {
                match hung_up {
                    Ok(true) | Err(_) => {
                        crate::info!("unlock abandoned: {} hung up while waiting", peer.describe());
                        return Err(std::io::ErrorKind::ConnectionAborted.into());
                    }
                    Ok(false) => more_pending = true,
                }
            }
            Some(line) = rx.recv() => {
                write.write_all(&proto::extension_response_frame(
                    proto::EXT_PROGRESS,
                    &proto::encode_progress(&line),
                )).await?;
            }
        }
    };
    while let Ok(line) = rx.try_recv() {
        write
            .write_all(&proto::extension_response_frame(
                proto::EXT_PROGRESS,
                &proto::encode_progress(&line),
            ))
            .await?;
    }
    let frame = match result {
        Ok(reply) => proto::extension_response_frame(proto::EXT_UNLOCK, &reply.encode()),
        Err(e) => e.to_frame(),
    };
    write.write_all(&frame).await
}
