//! Whether a MAC on the token may run on the thread that asks for it. A token call blocks; from
//! an async worker it is normally handed to a blocking thread ([`run_blocking`], which the
//! agent sets to `block_in_place`), which on a virtual machine costs tens of microseconds of
//! thread hand-over: more than SoftHSM's whole `C_Sign` (about 12 us). So a token whose recent
//! MACs came back quickly MACs on the asking worker, when a session is idle, one call at a
//! time: a token that stalls (a network HSM, a link cut) holds one worker, for one `C_Sign`,
//! and its slow answer sends the next calls back to blocking threads. Waiting for a session,
//! opening one and logging in again are always blocking calls.
//!
//! The agent's server keeps it off for now (`server/mod.rs`: a worker blocked in a call that
//! did not go through `block_in_place` strands the task in its LIFO slot while the token
//! stalls); what is here is the mechanism, tested, for when that is solved.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

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
    average: Mutex<Average>,
    /// Whether calls may run inline now: set under [`QUICK`], cleared over [`SLOW`], changed
    /// only under `average`'s lock (so in the order of the samples and losses).
    quick: AtomicBool,
    inline_busy: AtomicBool,
}

struct Average {
    /// A moving average (weight 1/8 for each new call) in nanoseconds; `u64::MAX` until the
    /// first call has been timed, and again after a loss.
    ns: u64,
    /// How many losses ([`CallTimes::forget`]) there have been: a call that began before the
    /// last one says nothing of the token as it is now, however quickly it came back.
    losses: u64,
}

/// One call being timed ([`CallTimes::start`]).
pub struct Timing {
    started: Instant,
    losses: u64,
}

impl Default for CallTimes {
    fn default() -> Self {
        Self {
            average: Mutex::new(Average {
                ns: u64::MAX,
                losses: 0,
            }),
            quick: AtomicBool::new(false),
            inline_busy: AtomicBool::new(false),
        }
    }
}

impl CallTimes {
    fn average(&self) -> MutexGuard<'_, Average> {
        // The numbers stay consistent whatever panicked while holding the lock.
        self.average.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts timing one call.
    pub fn start(&self) -> Timing {
        Timing {
            started: Instant::now(),
            losses: self.average().losses,
        }
    }

    /// Records one call (it may have failed: a failure that took long counts as long).
    pub fn record(&self, timing: Timing) {
        self.record_sample(timing.losses, timing.started.elapsed());
    }

    fn record_sample(&self, losses: u64, took: Duration) {
        let sample = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        let mut average = self.average();
        if average.losses != losses {
            return;
        }
        let old = average.ns;
        let new = if old == u64::MAX {
            sample
        } else {
            old - old / 8 + sample / 8
        };
        average.ns = new;
        let quick = self.quick.load(Ordering::Relaxed);
        // Where calls may not run inline (the agent's server: see `server/mod.rs`), the mode
        // never changes, and the log never says they do.
        if !quick && inline_allowed() && new < QUICK.as_nanos() as u64 {
            self.switch(true, &format!("their recent average is {} us", new / 1000));
        } else if quick && new > SLOW.as_nanos() as u64 {
            self.switch(false, &format!("their recent average is {} us", new / 1000));
        }
    }

    /// Changes the mode (under `average`'s lock), saying so in the log once per change.
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
        let mut average = self.average();
        average.ns = u64::MAX;
        average.losses += 1;
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
        sample(&times, Duration::from_micros(12));
        let slot = times.inline_slot().expect("quick");
        assert!(times.inline_slot().is_none(), "one call at a time");
        drop(slot);
        assert!(times.inline_slot().is_some());
        // A stall (a network HSM): the average goes over at once for a long call...
        sample(&times, Duration::from_millis(5));
        assert!(times.inline_slot().is_none());
        // ...and comes back under after quick calls, once clearly under (not at the line).
        for _ in 0..8 {
            sample(&times, Duration::from_micros(300));
        }
        assert!(
            times.inline_slot().is_none(),
            "between the lines: as it was"
        );
        for _ in 0..64 {
            sample(&times, Duration::from_micros(12));
        }
        assert!(times.inline_slot().is_some());
        for _ in 0..8 {
            sample(&times, Duration::from_micros(300));
        }
        assert!(
            times.inline_slot().is_some(),
            "between the lines: as it was"
        );
        times.forget();
        assert!(times.inline_slot().is_none(), "a lost session: not inline");
    }

    fn sample(times: &CallTimes, took: Duration) {
        let losses = times.average().losses;
        times.record_sample(losses, took);
    }

    /// A call that began before a loss and came back quickly after it (its session was not the
    /// lost one) does not turn inline calls back on: only a call begun since does.
    #[test]
    fn a_call_begun_before_a_loss_does_not_count_after_it() {
        run_blocking_with(|call| call(), true);
        let times = CallTimes::default();
        sample(&times, Duration::from_micros(12));
        assert!(times.inline_slot().is_some());
        let before = times.start();
        times.forget();
        times.record(before);
        assert!(
            times.inline_slot().is_none(),
            "a stale sample turned inline on"
        );
        let since = times.start();
        times.record(since);
        assert!(times.inline_slot().is_some(), "a fresh quick call does");
    }
}
