//! Approvals answered over the socket (`[approval] over_socket = true`): in the separated
//! deployment the human is not the agent's user, so an admin uid answers with `apisec approvals`,
//! `apisec approve ID` and `apisec deny ID`. Every approval the agent asks for is listed here
//! while it waits; the first answer wins, from the admin or from the approver program (or the
//! token's touch) configured beside it. An approval whose requester hangs up is dropped, and with
//! it its entry.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::{ApprovalError, ApprovalRequest, Approver};
use crate::proto::WaitingApproval;

struct Entry {
    line: String,
    prompt: String,
    since: Instant,
    answer: oneshot::Sender<Answer>,
}

/// An admin's answer: approve or deny, and who.
#[derive(Debug, Clone, Copy)]
struct Answer {
    approve: bool,
    uid: u32,
}

/// The approvals waiting for an answer over the socket.
#[derive(Default)]
pub struct Waiting {
    next: AtomicU32,
    entries: Mutex<BTreeMap<u32, Entry>>,
}

/// Removes its entry when the wait ends, however it ends (answered, timed out, cancelled).
struct Ticket<'w> {
    waiting: &'w Waiting,
    id: u32,
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        self.waiting.lock().remove(&self.id);
    }
}

impl Waiting {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u32, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What waits now, oldest first.
    pub fn list(&self) -> Vec<WaitingApproval> {
        self.lock()
            .iter()
            .map(|(id, e)| WaitingApproval {
                id: *id,
                line: e.line.clone(),
                prompt: e.prompt.clone(),
                waited_secs: e.since.elapsed().as_secs().min(u32::MAX as u64) as u32,
            })
            .collect()
    }

    /// Answers approval `id`; false when nothing waits under that id (answered, gone, or never).
    pub fn answer(&self, id: u32, approve: bool, uid: u32) -> bool {
        match self.lock().remove(&id) {
            Some(e) => e.answer.send(Answer { approve, uid }).is_ok(),
            None => false,
        }
    }

    /// Asks `approver` and the socket's admins at once; the first answer decides. Without an
    /// approver (or with one that cannot answer this request) only an admin can; after `timeout`
    /// the request is refused.
    pub async fn ask(
        &self,
        approver: &Approver,
        request: &ApprovalRequest<'_>,
        timeout: Duration,
    ) -> Result<&'static str, ApprovalError> {
        let (tx, rx) = oneshot::channel();
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        self.lock().insert(
            id,
            Entry {
                line: request.prompt(),
                prompt: request.full_text(),
                since: Instant::now(),
                answer: tx,
            },
        );
        let _ticket = Ticket { waiting: self, id };
        crate::info!(
            "approval {id} waits for an answer over the socket: {}",
            request.prompt()
        );
        let by_admin = async {
            match tokio::time::timeout(timeout, rx).await {
                Ok(Ok(a)) if a.approve => {
                    crate::info!("approval {id} approved by uid {} over the socket", a.uid);
                    Ok("an admin over the socket (apisec approve)")
                }
                Ok(Ok(a)) => Err(ApprovalError::Denied {
                    program: format!("admin uid {} (apisec deny)", a.uid),
                    status: "denied over the socket".into(),
                }),
                _ => Err(ApprovalError::Timeout {
                    program: "no admin (apisec approve)".into(),
                    secs: timeout.as_secs(),
                }),
            }
        };
        match approver {
            // Nothing else can answer: only an admin.
            Approver::None => by_admin.await,
            _ => {
                tokio::select! {
                    r = approver.ask(request) => r,
                    r = by_admin => r,
                }
            }
        }
    }
}
