//! Counting what each uid holds at once (connections, requests waiting for approval), so that a
//! uid at its cap is refused more and one client cannot take every slot from the others.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// How many of something each uid holds now.
#[derive(Default, Clone)]
pub struct PerUid(Arc<Mutex<HashMap<u32, usize>>>);

/// One held by its uid, given back when dropped.
pub struct Counted {
    per_uid: PerUid,
    uid: u32,
}

impl PerUid {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u32, usize>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts one more for `uid`, or `None` when it holds `cap` already.
    pub fn admit(&self, uid: u32, cap: usize) -> Option<Counted> {
        let mut held = self.lock();
        let n = held.entry(uid).or_default();
        if *n >= cap {
            return None;
        }
        *n += 1;
        Some(Counted {
            per_uid: self.clone(),
            uid,
        })
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        let mut held = self.per_uid.lock();
        if let Some(n) = held.get_mut(&self.uid) {
            *n -= 1;
            if *n == 0 {
                held.remove(&self.uid);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_uid_has_its_own_cap_and_gets_its_slots_back() {
        let per_uid = PerUid::default();
        let a: Vec<Counted> = (0..3).filter_map(|_| per_uid.admit(1, 3)).collect();
        assert_eq!(a.len(), 3);
        assert!(per_uid.admit(1, 3).is_none(), "uid 1 is at its cap");
        assert!(per_uid.admit(2, 3).is_some(), "uid 2 is not");
        drop(a);
        assert!(per_uid.admit(1, 3).is_some(), "given back when dropped");
    }
}
