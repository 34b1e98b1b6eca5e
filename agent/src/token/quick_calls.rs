//! Whether a MAC on the token may run on the thread that asks for it. A token call blocks; from
//! an async worker it is normally handed to a blocking thread ([`run_blocking`], which the
//! agent sets to `block_in_place`), which on a virtual machine costs tens of microseconds of
//! thread hand-over: more than SoftHSM's whole `C_Sign` (about 12 us). So a token whose recent
//! MACs came back quickly MACs on the asking worker, when a session is idle, one call at a
//! time: a token that stalls (a network HSM, a link cut) holds one worker, for one `C_Sign`,
//! and its slow answer sends the next calls back to blocking threads. Waiting for a session,
//! opening one and logging in again are always blocking calls.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

/// How a call that may block for long is run, and whether a quick one may run where it is:
/// set once by the agent's server ([`run_blocking_with`]); until then (admin commands, tests
/// on plain threads) calls just run, and none counts as inline.
static BLOCKING: OnceLock<(Runner, bool)> = OnceLock::new();

/// Runs the call it is given, however the host runs blocking calls.
pub type Runner = fn(&mut dyn FnMut());

/// Sets how blocking calls run (`block_in_place` on the agent's runtime) and whether quick MACs
/// may run on the asking thread (not with a single worker, which a stall would stop).
pub fn run_blocking_with(runner: Runner, inline_allowed: bool) {
    let _ = BLOCKING.set((runner, inline_allowed));
}

/// Runs `call` as a call that may block for long (see [`run_blocking_with`]).
pub fn run_blocking<T>(call: impl FnOnce() -> T) -> T {
    let Some((runner, _)) = BLOCKING.get() else {
        return call();
    };
    let mut call = Some(call);
    let mut out = None;
    runner(&mut || out = call.take().map(|c| c()));
    out.expect("the runner runs the call")
}

fn inline_allowed() -> bool {
    BLOCKING.get().is_some_and(|(_, allowed)| *allowed)
}

/// MACs run on the asking worker once their recent average is under this...
pub const QUICK: Duration = Duration::from_micros(200);
/// ...and go back to blocking threads once it is over this (the gap keeps an average near the
/// line from switching at every call).
pub const SLOW: Duration = Duration::from_micros(400);

/// How long the token's MACs took lately, and whether one runs on a worker now.
pub struct CallTimes {
    /// A moving average (weight 1/8 for each new call) in nanoseconds; `u64::MAX` until the
    /// first call has been timed.
    average_ns: AtomicU64,
    /// Whether calls may run inline now: set under [`QUICK`], cleared over [`SLOW`].
    quick: AtomicBool,
    inline_busy: AtomicBool,
}

impl Default for CallTimes {
    fn default() -> Self {
        Self {
            average_ns: AtomicU64::new(u64::MAX),
            quick: AtomicBool::new(false),
            inline_busy: AtomicBool::new(false),
        }
    }
}

impl CallTimes {
    /// Records one call (it may have failed: a failure that took long counts as long).
    pub fn record(&self, took: Duration) {
        let sample = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        // A lost update between racing callers only delays the average by one sample.
        let old = self.average_ns.load(Ordering::Relaxed);
        let new = if old == u64::MAX {
            sample
        } else {
            old - old / 8 + sample / 8
        };
        self.average_ns.store(new, Ordering::Relaxed);
        let quick = self.quick.load(Ordering::Relaxed);
        if !quick && new < QUICK.as_nanos() as u64 {
            self.switch(true, &format!("their recent average is {} us", new / 1000));
        } else if quick && new > SLOW.as_nanos() as u64 {
            self.switch(false, &format!("their recent average is {} us", new / 1000));
        }
    }

    /// Changes the mode, saying so in the log once per change (a race logs twice at most).
    fn switch(&self, quick: bool, why: &str) {
        if self.quick.swap(quick, Ordering::Relaxed) != quick {
            let mode = if quick {
                "on the asking worker"
            } else {
                "on blocking threads"
            };
            crate::info!("MACs on the token now run {mode}: {why}");
        }
    }

    /// The permission to run one call on the asking thread: while the recent calls were quick
    /// and no other call runs that way. Dropped when the call is done.
    pub fn inline_slot(&self) -> Option<InlineSlot<'_>> {
        if !self.quick.load(Ordering::Relaxed) || !inline_allowed() {
            return None;
        }
        self.inline_busy
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .ok()
            .map(|_| InlineSlot(&self.inline_busy))
    }

    /// A call that failed as lost (the token gone, the link cut): the next calls block
    /// elsewhere until one has come back quickly again.
    pub fn forget(&self) {
        self.average_ns.store(u64::MAX, Ordering::Relaxed);
        if self.quick.load(Ordering::Relaxed) {
            self.switch(false, "a call found its session lost or the token gone");
        }
    }
}

/// See [`CallTimes::inline_slot`].
pub struct InlineSlot<'a>(&'a AtomicBool);

impl Drop for InlineSlot<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_quick_calls_and_one_at_a_time_run_inline() {
        run_blocking_with(|call| call(), true);
        let times = CallTimes::default();
        assert!(times.inline_slot().is_none(), "untimed: not inline");
        times.record(Duration::from_micros(12));
        let slot = times.inline_slot().expect("quick");
        assert!(times.inline_slot().is_none(), "one call at a time");
        drop(slot);
        assert!(times.inline_slot().is_some());
        // A stall (a network HSM): the average goes over at once for a long call...
        times.record(Duration::from_millis(5));
        assert!(times.inline_slot().is_none());
        // ...and comes back under after quick calls, once clearly under (not at the line).
        for _ in 0..8 {
            times.record(Duration::from_micros(300));
        }
        assert!(
            times.inline_slot().is_none(),
            "between the lines: as it was"
        );
        for _ in 0..64 {
            times.record(Duration::from_micros(12));
        }
        assert!(times.inline_slot().is_some());
        for _ in 0..8 {
            times.record(Duration::from_micros(300));
        }
        assert!(
            times.inline_slot().is_some(),
            "between the lines: as it was"
        );
        times.forget();
        assert!(times.inline_slot().is_none(), "a lost session: not inline");
    }
}
