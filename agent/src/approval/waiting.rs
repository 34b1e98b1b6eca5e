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

/// The most of one short line an approvals listing carries.
const LISTED_LINE: usize = 1024;
/// The most of one prompt an approvals listing carries.
const LISTED_PROMPT: usize = 16 * 1024;
/// The most of all prompts and lines one listing carries (a frame holds 256 KiB).
const LISTED_TOTAL: usize = 160 * 1024;

/// `text` cut at a character boundary to at most `max` bytes, marked when cut.
fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}\n... ({} bytes in all; the approver program gets it whole)\n",
        &text[..end],
        text.len()
    )
}

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

    /// What waits now, oldest first. The listing stays well inside one frame whatever the
    /// clients sent: each prompt is cut at [`LISTED_PROMPT`] bytes, and once [`LISTED_TOTAL`]
    /// bytes are listed the later entries come without their prompt.
    pub fn list(&self) -> Vec<WaitingApproval> {
        let mut budget = LISTED_TOTAL;
        self.lock()
            .iter()
            .map(|(id, e)| {
                let line = cut(&e.line, LISTED_LINE);
                let prompt = if budget >= LISTED_PROMPT.min(e.prompt.len()) + line.len() {
                    cut(&e.prompt, LISTED_PROMPT)
                } else {
                    "(not listed: the listing is full; answer the earlier approvals first)\n"
                        .to_owned()
                };
                budget = budget.saturating_sub(prompt.len() + line.len());
                WaitingApproval {
                    id: *id,
                    line,
                    prompt,
                    waited_secs: e.since.elapsed().as_secs().min(u32::MAX as u64) as u32,
                }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_fits_in_a_frame_whatever_the_prompts() {
        let waiting = Waiting::default();
        for id in 1..=40u32 {
            let (tx, _rx) = oneshot::channel();
            waiting.lock().insert(
                id,
                Entry {
                    line: "l".repeat(5000),
                    prompt: "p".repeat(200 * 1024),
                    since: Instant::now(),
                    answer: tx,
                },
            );
        }
        let list = waiting.list();
        assert_eq!(
            list.len(),
            40,
            "every approval is listed, if not every prompt"
        );
        let bytes = crate::proto::encode_approvals(&list);
        assert!(
            bytes.len() < crate::proto::MAX_FRAME - 1024,
            "{}",
            bytes.len()
        );
        assert!(list[0].prompt.contains("bytes in all"));
        assert!(list[39].prompt.contains("not listed"));
    }
}
