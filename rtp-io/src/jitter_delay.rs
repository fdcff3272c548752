//! Target-delay estimation for the jitter buffer from the distribution of relative arrival delays.
//!
//! # What
//! [`DelayEstimator`] turns (arrival time, RTP timestamp) pairs into a target buffering delay: the chosen
//! quantile (NetEQ: 0.95; `JitterConfig` defaults to 0.97) of each packet's *relative delay*, i.e. how much later it arrived than the
//! fastest packet of the last two seconds would predict.
//!
//! # How
//! As WebRTC NetEQ's `DelayManager` (relative delay to the fastest packet in a 2 s window, histogram with
//! exponential forgetting 0.983 per packet, quantile 0.95): the transit time `arrival − ts/clock` of each
//! packet is compared with the minimum transit over the window (kept by a monotonic deque in a fixed ring, so
//! each update is amortised O(1)); the difference goes into a 1 ms-bucket histogram whose old mass decays by
//! the forget factor. During start-up the forget factor ramps from 0 (plain average) to its final value so
//! the first packets are not drowned by the empty initial histogram. Sender clock skew of a few hundred ppm
//! moves the minimum transit by well under a millisecond per window and is absorbed by the window.
//!
//! # Real-time safety
//! No allocation after construction: histogram and window are fixed-size vectors.

use std::time::Duration;

/// Quantile estimator of relative arrival delay (milliseconds).
#[derive(Debug, Clone)]
pub struct DelayEstimator {
    hist: Vec<f64>,
    forget: f64,
    quantile: f64,
    updates: u64,
    /// Monotonic deque of (arrival µs, transit µs), ascending transit, in a ring.
    win: Vec<(i64, i64)>,
    head: usize,
    len: usize,
    window_us: i64,
    last_rel_ms: f64,
}

impl DelayEstimator {
    /// An estimator with delays up to `max_ms` (larger ones land in the last bucket).
    pub fn new(max_ms: u32, quantile: f64, forget: f64) -> Self {
        Self {
            hist: vec![0.0; max_ms.max(1) as usize + 1],
            forget: forget.clamp(0.0, 0.9999),
            quantile: quantile.clamp(0.5, 0.9999),
            updates: 0,
            win: vec![(0, 0); 2048],
            head: 0,
            len: 0,
            window_us: 2_000_000,
            last_rel_ms: 0.0,
        }
    }

    /// Records a packet that arrived at `arrival` with timestamp `ts_us` (its RTP timestamp converted to
    /// microseconds on the sender's clock). Returns its relative delay in milliseconds.
    pub fn update(&mut self, arrival: Duration, ts_us: i64) -> f64 {
        let a = arrival.as_micros() as i64;
        let transit = a - ts_us;
        // Drop entries older than the window.
        while self.len > 0 && a - self.win[self.head].0 > self.window_us {
            self.head = (self.head + 1) % self.win.len();
            self.len -= 1;
        }
        // Keep the deque ascending in transit: drop newer entries with a larger transit.
        while self.len > 0 {
            let back = (self.head + self.len - 1) % self.win.len();
            if self.win[back].1 >= transit {
                self.len -= 1;
            } else {
                break;
            }
        }
        if self.len == self.win.len() {
            self.head = (self.head + 1) % self.win.len();
            self.len -= 1;
        }
        let slot = (self.head + self.len) % self.win.len();
        self.win[slot] = (a, transit);
        self.len += 1;
        let min_transit = self.win[self.head].1;
        let rel_ms = (transit - min_transit) as f64 / 1000.0;
        let max_ms = (self.hist.len() - 1) as f64;
        if rel_ms > 2.0 * max_ms + 1000.0 {
            // A timestamp jump, not network delay: restart the window from this packet.
            self.reset_window();
            self.win[0] = (a, transit);
            self.len = 1;
            self.last_rel_ms = 0.0;
            return 0.0;
        }
        self.add_to_histogram(rel_ms);
        self.last_rel_ms = rel_ms;
        rel_ms
    }

    fn add_to_histogram(&mut self, rel_ms: f64) {
        self.updates += 1;
        // Start-up ramp: weight 1/n until the forget factor takes over.
        let ramp = 1.0 - 1.0 / self.updates as f64;
        let f = self.forget.min(ramp);
        for b in &mut self.hist {
            *b *= f;
        }
        let idx = (rel_ms.max(0.0) as usize).min(self.hist.len() - 1);
        self.hist[idx] += 1.0 - f;
    }

    /// Forgets the transit window (after an SSRC change or a timestamp jump); the histogram is kept, since the
    /// network path is the same.
    pub fn reset_window(&mut self) {
        self.head = 0;
        self.len = 0;
    }

    /// The smallest transit time (arrival − timestamp, µs) in the window, or `None` when it is empty.
    pub fn min_transit_us(&self) -> Option<i64> {
        (self.len > 0).then(|| self.win[self.head].1)
    }

    /// The relative delay of the last packet, in ms.
    pub fn last_relative_delay_ms(&self) -> f64 {
        self.last_rel_ms
    }

    /// Number of packets seen.
    pub fn updates(&self) -> u64 {
        self.updates
    }

    /// The configured quantile of relative delay, in ms (upper bucket edge), or `None` before any packet.
    pub fn quantile_ms(&self) -> Option<f64> {
        if self.updates == 0 {
            return None;
        }
        let total: f64 = self.hist.iter().sum();
        let want = self.quantile * total;
        let mut acc = 0.0;
        for (i, b) in self.hist.iter().enumerate() {
            acc += b;
            if acc >= want {
                return Some(i as f64 + 1.0);
            }
        }
        Some(self.hist.len() as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_delay_gives_small_quantile() {
        let mut e = DelayEstimator::new(500, 0.95, 0.983);
        for i in 0..500i64 {
            e.update(Duration::from_millis(100 + 20 * i as u64), i * 20_000);
        }
        assert_eq!(e.quantile_ms(), Some(1.0));
    }

    #[test]
    fn uniform_jitter_quantile() {
        // Delays uniformly 0..=49 ms in a fixed cycle: 0.95 quantile is 47..=48 ms (upper edge 48).
        let mut e = DelayEstimator::new(500, 0.95, 0.995);
        for i in 0..3000i64 {
            let d = (i * 37) % 50;
            e.update(
                Duration::from_micros((1_000_000 + 20_000 * i + d * 1000) as u64),
                i * 20_000,
            );
        }
        let q = e.quantile_ms().unwrap();
        assert!((46.0..=50.0).contains(&q), "{q}");
    }

    #[test]
    fn forgets_old_jitter() {
        let mut e = DelayEstimator::new(500, 0.95, 0.983);
        for i in 0..500i64 {
            let d = if i % 2 == 0 { 80 } else { 0 };
            e.update(Duration::from_micros((20_000 * i + d * 1000) as u64), i * 20_000);
        }
        assert!(e.quantile_ms().unwrap() > 70.0);
        for i in 500..1000i64 {
            e.update(Duration::from_micros((20_000 * i) as u64), i * 20_000);
        }
        assert!(e.quantile_ms().unwrap() < 5.0, "{:?}", e.quantile_ms());
    }

    #[test]
    fn timestamp_jump_does_not_blow_up() {
        let mut e = DelayEstimator::new(500, 0.95, 0.983);
        for i in 0..100i64 {
            e.update(Duration::from_millis(20 * i as u64), i * 20_000);
        }
        // The sender's timestamp jumps back by an hour.
        let rel = e.update(Duration::from_millis(2000), 100 * 20_000 - 3_600_000_000);
        assert_eq!(rel, 0.0);
        assert!(e.quantile_ms().unwrap() < 5.0);
    }
}
