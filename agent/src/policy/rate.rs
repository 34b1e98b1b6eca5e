//! Token-bucket rate limits, per secret and per client. A bucket holds up to `burst` tokens and
//! refills at `per_second`; each request takes one.

use std::collections::HashMap;
use std::time::Instant;

#[derive(Debug, Clone)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// The buckets of every secret and client, keyed by a string the caller chooses.
#[derive(Default)]
pub struct Limiter {
    buckets: HashMap<String, Bucket>,
}

impl Limiter {
    /// Takes one token from bucket `key`; on refusal returns the seconds until one is available.
    pub fn take(
        &mut self,
        key: &str,
        per_second: f64,
        burst: u32,
        now: Instant,
    ) -> Result<(), f64> {
        let cap = burst as f64;
        let b = self.buckets.entry(key.to_owned()).or_insert(Bucket {
            tokens: cap,
            last: now,
        });
        let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
        b.tokens = (b.tokens + elapsed * per_second).min(cap);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err((1.0 - b.tokens) / per_second)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn burst_then_refill() {
        let mut l = Limiter::default();
        let t0 = Instant::now();
        for _ in 0..3 {
            l.take("k", 2.0, 3, t0).unwrap();
        }
        let wait = l.take("k", 2.0, 3, t0).unwrap_err();
        assert!((wait - 0.5).abs() < 1e-9, "{wait}");
        l.take("k", 2.0, 3, t0 + Duration::from_millis(500))
            .unwrap();
        assert!(l.take("other", 2.0, 3, t0).is_ok());
    }
}
