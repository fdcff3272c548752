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
//! Each update is O(1) amortised rather than O(buckets): instead of multiplying every bucket by the forget
//! factor `f`, the histogram is stored unnormalised as `H = hist / scale` with `scale` the product of the
//! forget factors so far, so a new packet just adds the growing weight `(1 − f) / scale` to its bucket
//! (exponential-decay histograms with a growing increment, renormalised by `scale` when the weight gets large,
//! about once per 20 000 packets). The quantile bucket is tracked incrementally with the running total and
//! the mass below it, and moves by the few buckets the new packet shifts it. Quantiles equal those of the
//! direct computation up to float rounding (unit test `matches_direct_estimator`).
//!
//! # Real-time safety
//! No allocation after construction: histogram and window are fixed-size vectors.

use std::time::Duration;

/// Renormalise the histogram when the product of forget factors drops below this (weights near 1e150).
const RENORM_BELOW: f64 = 1e-150;

/// Quantile estimator of relative arrival delay (milliseconds).
#[derive(Debug, Clone)]
pub struct DelayEstimator {
    /// Unnormalised histogram: the true (forgetting) histogram is `hist[i] * scale`.
    hist: Vec<f64>,
    /// Product of the forget factors since the last renormalisation.
    scale: f64,
    /// Sum of `hist`.
    total: f64,
    /// The quantile bucket: smallest `k` with `hist[..=k].sum() >= quantile * total`.
    q_idx: usize,
    /// Sum of `hist[..q_idx]`.
    below: f64,
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
            scale: 1.0,
            total: 0.0,
            q_idx: 0,
            below: 0.0,
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
        let idx = (rel_ms.max(0.0) as usize).min(self.hist.len() - 1);
        if f <= 0.0 {
            // Everything is forgotten: the histogram is this packet alone.
            self.hist.fill(0.0);
            self.hist[idx] = 1.0;
            self.scale = 1.0;
            self.total = 1.0;
            self.q_idx = 0;
            self.below = 0.0;
        } else {
            // true_new = f·true + (1 − f)·e_idx  ⇔  H_new = H + (1 − f)/scale_new · e_idx.
            self.scale *= f;
            let w = (1.0 - f) / self.scale;
            self.hist[idx] += w;
            self.total += w;
            if idx < self.q_idx {
                self.below += w;
            }
            if self.scale < RENORM_BELOW {
                self.renormalise();
            }
        }
        self.seek_quantile();
    }

    /// Folds `scale` into the buckets so the weights stay far from overflow (O(buckets), rare).
    fn renormalise(&mut self) {
        let s = self.scale;
        for b in &mut self.hist {
            *b *= s;
        }
        self.scale = 1.0;
        self.total = self.hist.iter().sum();
        self.below = self.hist[..self.q_idx].iter().sum();
    }

    /// Moves `q_idx` to the smallest bucket whose cumulative mass reaches `quantile · total`.
    fn seek_quantile(&mut self) {
        let want = self.quantile * self.total;
        let last = self.hist.len() - 1;
        while self.q_idx < last && self.below + self.hist[self.q_idx] < want {
            self.below += self.hist[self.q_idx];
            self.q_idx += 1;
        }
        while self.q_idx > 0 && self.below >= want {
            self.q_idx -= 1;
            self.below -= self.hist[self.q_idx];
        }
        if self.q_idx == 0 {
            self.below = 0.0;
        }
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
        Some(self.q_idx as f64 + 1.0)
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

    /// The direct O(buckets) estimator this module replaced: scale every bucket, then scan for the quantile.
    struct DirectHistogram {
        hist: Vec<f64>,
        forget: f64,
        quantile: f64,
        updates: u64,
    }

    impl DirectHistogram {
        fn add(&mut self, rel_ms: f64) {
            self.updates += 1;
            let f = self.forget.min(1.0 - 1.0 / self.updates as f64);
            for b in &mut self.hist {
                *b *= f;
            }
            let idx = (rel_ms.max(0.0) as usize).min(self.hist.len() - 1);
            self.hist[idx] += 1.0 - f;
        }

        /// The quantile bucket's upper edge, and the cumulative mass / wanted mass at the bucket below it
        /// and at it (to recognise float ties).
        fn quantile(&self) -> (f64, f64, f64, f64) {
            let total: f64 = self.hist.iter().sum();
            let want = self.quantile * total;
            let mut acc = 0.0;
            for (i, b) in self.hist.iter().enumerate() {
                let before = acc;
                acc += b;
                if acc >= want {
                    return (i as f64 + 1.0, before, acc, want);
                }
            }
            (self.hist.len() as f64, acc, acc, want)
        }
    }

    #[test]
    fn matches_direct_estimator() {
        // Seeded xorshift; delays: mostly gamma-like small jitter, some spikes, some beyond the last bucket,
        // and regime changes so the quantile bucket moves both ways. 60 000 updates cross several
        // renormalisations (one per ≈ 20 000 packets at f = 0.983).
        for &(quantile, forget) in &[(0.97, 0.983), (0.95, 0.995), (0.5, 0.9), (0.9999, 0.9999)] {
            let mut fast = DelayEstimator::new(500, quantile, forget);
            let mut direct = DirectHistogram {
                hist: vec![0.0; 501],
                forget: fast.forget,
                quantile: fast.quantile,
                updates: 0,
            };
            let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
            let mut next = move || {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 11) as f64 / (1u64 << 53) as f64
            };
            let mut renorms = 0;
            let mut ties = 0;
            for i in 0..60_000u32 {
                let regime = (i / 7_000) % 3;
                let u = next();
                let base = -(next().max(1e-12)).ln() * [8.0, 40.0, 2.0][regime as usize];
                let rel = if u < 0.01 {
                    300.0 + 400.0 * next()
                } else {
                    base + next()
                };
                let before = fast.scale;
                fast.add_to_histogram(rel);
                direct.add(rel);
                if fast.scale > before {
                    renorms += 1;
                }
                let (q, below, at, want) = direct.quantile();
                let got = fast.quantile_ms().unwrap();
                if got != q {
                    // Only a float tie at the bucket edge may differ.
                    let tol = 1e-9 * want.abs().max(1e-300);
                    assert!(
                        (below - want).abs() < tol || (at - want).abs() < tol,
                        "update {i}: fast {got} vs direct {q} (q {quantile}, f {forget})"
                    );
                    ties += 1;
                }
            }
            assert!(forget > 0.99 || renorms >= 2, "only {renorms} renormalisations");
            assert!(ties < 10, "{ties} ties");
        }
    }
}
