//! How many approver programs run at once (`[approval] max_running`), and how many of them one
//! uid's requests may take: all but one, so that one bot queueing step-ups cannot make every
//! other client's approval wait behind its own. A request waits for its slots before its
//! approver starts (and its time-out with it).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

#[derive(Debug)]
pub struct Slots {
    all: Arc<Semaphore>,
    per_uid_max: usize,
    per_uid: Mutex<HashMap<u32, Arc<Semaphore>>>,
}

/// An approver's place: released when dropped.
pub struct Slot {
    _uid: OwnedSemaphorePermit,
    _all: OwnedSemaphorePermit,
}

impl Slots {
    pub fn new(max_running: usize) -> Self {
        let max_running = max_running.max(1);
        Self {
            all: Arc::new(Semaphore::new(max_running)),
            per_uid_max: (max_running - 1).max(1),
            per_uid: Mutex::new(HashMap::new()),
        }
    }

    /// Waits for a slot for a request of `uid`: one of its own first, then one of all.
    pub async fn acquire(&self, uid: u32) -> Slot {
        let mine = {
            let mut map = self.per_uid.lock().unwrap_or_else(|p| p.into_inner());
            Arc::clone(
                map.entry(uid)
                    .or_insert_with(|| Arc::new(Semaphore::new(self.per_uid_max))),
            )
        };
        let uid_permit = mine.acquire_owned().await.expect("never closed");
        let all = Arc::clone(&self.all)
            .acquire_owned()
            .await
            .expect("never closed");
        Slot {
            _uid: uid_permit,
            _all: all,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn one_uid_takes_all_slots_but_one_and_another_uid_gets_that_one() {
        let slots = Slots::new(4);
        let mut held = Vec::new();
        for _ in 0..3 {
            held.push(slots.acquire(1000).await);
        }
        let fourth = tokio::time::timeout(Duration::from_millis(100), slots.acquire(1000)).await;
        assert!(fourth.is_err(), "uid 1000 waits for its own slots");
        let other = tokio::time::timeout(Duration::from_millis(100), slots.acquire(1001)).await;
        assert!(other.is_ok(), "the last slot is another uid's");
        drop(held.pop());
        let again = tokio::time::timeout(Duration::from_millis(100), slots.acquire(1000)).await;
        assert!(again.is_ok(), "one of uid 1000's was given back");
        let third = tokio::time::timeout(Duration::from_millis(100), slots.acquire(1002)).await;
        assert!(
            third.is_err(),
            "all four run: a third uid waits for one of all"
        );
        drop((other, again));
    }

    #[tokio::test]
    async fn one_slot_is_shared_by_everyone() {
        let slots = Slots::new(1);
        let first = slots.acquire(1).await;
        let second = tokio::time::timeout(Duration::from_millis(100), slots.acquire(2)).await;
        assert!(second.is_err());
        drop(first);
        assert!(
            tokio::time::timeout(Duration::from_millis(100), slots.acquire(2))
                .await
                .is_ok()
        );
    }
}
