//! When a private-key operation needs a touch, and how the "user" answers.
//!
//! The decision (does this operation need a touch now?) is pure and lives
//! here; the answer comes from a [`TouchSensor`], which in the binary is the
//! control directory (see `control.rs`) and in unit tests a scripted fake.

use std::time::{Duration, Instant};

/// PIV touch policy values (Yubico extension, tag AB / metadata tag 02).
pub const TOUCH_DEFAULT: u8 = 0;
pub const TOUCH_NEVER: u8 = 1;
pub const TOUCH_ALWAYS: u8 = 2;
pub const TOUCH_CACHED: u8 = 3;

/// How long a touch satisfies a key with touch policy Cached (Yubico: 15 s).
pub const CACHED_WINDOW: Duration = Duration::from_secs(15);

/// A YubiKey gives up waiting for a touch after about 15 s and answers 6982.
pub const DEFAULT_TOUCH_TIMEOUT: Duration = Duration::from_secs(15);

/// Monotonic time, injectable so the cached window can be tested without sleeping.
pub trait Clock: Send {
    fn now(&self) -> Duration;
}

/// Real time since the emulator started.
pub struct SystemClock(Instant);

impl Default for SystemClock {
    fn default() -> Self {
        SystemClock(Instant::now())
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        self.0.elapsed()
    }
}

/// The button. `wait_for_touch` blocks the way the card blinks and waits;
/// it returns whether the user touched in time.
pub trait TouchSensor: Send {
    fn wait_for_touch(&mut self) -> bool;
}

/// Whether an operation with `policy` needs a fresh touch at `now`, given
/// the time of the last accepted touch.
pub fn touch_required(policy: u8, last_touch: Option<Duration>, now: Duration) -> bool {
    match policy {
        TOUCH_ALWAYS => true,
        TOUCH_CACHED => match last_touch {
            Some(t) => now.saturating_sub(t) >= CACHED_WINDOW,
            None => true,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_and_default_policies_never_ask() {
        assert!(!touch_required(TOUCH_NEVER, None, Duration::ZERO));
        assert!(!touch_required(TOUCH_DEFAULT, None, Duration::ZERO));
    }

    #[test]
    fn always_asks_even_right_after_a_touch() {
        let t = Duration::from_secs(100);
        assert!(touch_required(TOUCH_ALWAYS, Some(t), t));
    }

    #[test]
    fn cached_honours_a_fifteen_second_window() {
        let t = Duration::from_secs(100);
        assert!(touch_required(TOUCH_CACHED, None, t));
        assert!(!touch_required(
            TOUCH_CACHED,
            Some(t),
            t + Duration::from_secs(14)
        ));
        assert!(touch_required(TOUCH_CACHED, Some(t), t + CACHED_WINDOW));
    }
}
