//! Polling until something is ready: `wait_until`.

use std::time::{Duration, Instant};

/// Polls `ready` every 20 ms until it gives a value, for `within` at most; then fails with
/// `what_failed()` (built only then, so it can show the state at the end).
#[track_caller]
pub fn wait_until<T>(
    within: Duration,
    mut ready: impl FnMut() -> Option<T>,
    what_failed: impl FnOnce() -> String,
) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = ready() {
            return v;
        }
        if Instant::now() >= deadline {
            panic!("{}", what_failed());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
