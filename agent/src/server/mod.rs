//! The socket server: accept loop, peer-credential check, one task per connection. `run` takes
//! its listener and shutdown signal from the caller, so tests and systemd socket activation can
//! hand in their own.
//!
//! Shutting down: `run` returns as soon as the signal comes (or a client sends
//! `shutdown@apisec`) and accepts nothing more; it does not wait for the sessions. The caller
//! then gives every session and blocking job (an unseal waiting for its touch) two seconds to
//! finish as the runtime shuts down (`admin/run.rs`), and closes the audit log after them.
//!
//! The rooms: [`state`] (what the agent holds), [`ops`] (one file per operation), [`session`]
//! (one connection's loop and the one dispatch), [`request_reader`] (reading requests off the
//! socket), [`error_reply`] (library errors as replies), [`notify`] (telling the human that a
//! request waits), [`nonces`], [`socket`].

pub mod alerts;
pub mod approved;
pub mod error_reply;
pub mod flights;
pub mod nonces;
pub mod notify;
pub mod ops;
pub mod per_uid;
pub mod request_reader;
pub mod session;
pub mod socket;
pub mod state;

use std::future::Future;
use std::sync::Arc;

use tokio::net::UnixListener;
use tokio::sync::{Notify, Semaphore};

pub use state::{Agent, AgentSettings};

use crate::peer::PeerInfo;

/// At most this many connections at once; more wait in the listen backlog.
pub const MAX_CONNECTIONS: usize = 4096;

/// A token call runs on a blocking thread's budget (`block_in_place`: this worker's other tasks
/// move to another thread).
///
/// Quick MACs on the asking worker (`token::quick_calls`) stay off: a worker that blocks in a
/// token call without `block_in_place` keeps the task in its LIFO slot, which no other worker
/// can steal (tokio-rs/tokio#4941), so a token that stalls there strands that task (another
/// client's connection, or the accept loop) for as long as it stalls. Seen once in CI: a sign
/// with a secret held in memory got no answer while the token stalled
/// (`tests/tests/in_token.rs`, the stalled-token test). They may come back when the slot can be
/// stolen, or emptied before the call.
fn install_token_call_runner() {
    let inline_allowed = false;
    crate::token::quick_calls::run_blocking_with(
        |call| {
            let multi_thread = tokio::runtime::Handle::try_current().is_ok_and(|runtime| {
                runtime.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread
            });
            if multi_thread {
                tokio::task::block_in_place(call)
            } else {
                call()
            }
        },
        inline_allowed,
    );
}

/// Serves until `shutdown` completes or a client sends `shutdown@apisec`.
pub async fn run(
    listener: UnixListener,
    agent: Arc<Agent>,
    allowed_uids: Vec<u32>,
    shutdown: impl Future<Output = ()>,
) {
    install_token_call_runner();
    let stop = Arc::new(Notify::new());
    let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let per_uid = per_uid::PerUid::default();
    let cap = agent.settings().max_connections_per_uid;
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            _ = &mut shutdown => break,
            _ = stop.notified() => break,
            permit = Arc::clone(&limit).acquire_owned() => permit.expect("semaphore never closes"),
        };
        let (stream, _) = tokio::select! {
            _ = &mut shutdown => break,
            _ = stop.notified() => break,
            accepted = listener.accept() => match accepted {
                Ok(s) => s,
                Err(e) => {
                    crate::warn!("accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let cred = match stream.peer_cred() {
            Ok(c) => c,
            Err(e) => {
                crate::warn!("refusing a connection whose credentials cannot be read: {e}");
                continue;
            }
        };
        // The uid first: a refused client costs no /proc lookup.
        if !allowed_uids.contains(&cred.uid()) {
            crate::warn!(
                "refused a connection from uid {} (pid {}): not an allowed uid",
                cred.uid(),
                cred.pid().map_or("unknown".into(), |p| p.to_string())
            );
            continue;
        }
        let Some(counted) = per_uid.admit(cred.uid(), cap) else {
            crate::warn!(
                "refused a connection from uid {} (pid {}): it holds {cap} already \
                 ([agent] max_connections_per_uid)",
                cred.uid(),
                cred.pid().map_or("unknown".into(), |p| p.to_string())
            );
            continue;
        };
        let peer = PeerInfo::from_cred(cred.uid(), cred.gid(), cred.pid());
        agent.alerts().connected(&peer, agent.is_owner(peer.uid));
        let agent = Arc::clone(&agent);
        let stop = Arc::clone(&stop);
        tokio::spawn(async move {
            session::serve(stream, peer, agent, stop).await;
            drop(counted);
            drop(permit);
        });
    }
}
