//! Latency samples and their percentiles.

use std::time::Duration;

#[derive(Default, Clone)]
pub struct Samples(pub Vec<Duration>);

impl Samples {
    pub fn percentile_us(&self, p: f64) -> f64 {
        if self.0.is_empty() {
            return f64::NAN;
        }
        let mut v = self.0.clone();
        v.sort();
        let idx = ((p / 100.0) * (v.len() - 1) as f64).round() as usize;
        v[idx].as_secs_f64() * 1e6
    }

    pub fn extend(&mut self, other: Samples) {
        self.0.extend(other.0);
    }
}
