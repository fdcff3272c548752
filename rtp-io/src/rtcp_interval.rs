//! The RTCP transmission interval (RFC 3550 §6.3 and Appendix A.7).
//!
//! # What
//! [`rtcp_interval`] computes the randomised deterministic interval `T` (in µs) for the next report from
//! the membership counts, the RTCP bandwidth and the average RTCP packet size. [`SeededRng`] is the
//! small deterministic generator used for the randomisation, so sessions are reproducible in tests.
//!
//! # How
//! A.7 `rtcp_interval()`: when senders are at most 25 % of the members, senders share 25 % of the RTCP
//! bandwidth and receivers 75 %; `Td = max(Tmin, avg_size · n / bw)` with `Tmin` = 5 s (2.5 s before
//! the first report); `T = Td · U[0.5, 1.5] / (e − 3/2)`. The compensation factor `e − 3/2` offsets the
//! timer reconsideration, which [`crate::RtcpSession`] applies when the timer fires (§6.3.6).
//!
//! # Real-time safety
//! Pure arithmetic.

/// `e − 3/2`, the A.7 compensation for timer reconsideration.
pub const COMPENSATION: f64 = std::f64::consts::E - 1.5;

/// Inputs of the interval computation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IntervalInput {
    /// Members of the session, including ourselves.
    pub members: u32,
    /// Senders among them (including ourselves when `we_sent`).
    pub senders: u32,
    /// RTCP bandwidth in octets per second (typically 5 % of the session bandwidth).
    pub rtcp_bw: f64,
    /// We sent RTP since the last two reports.
    pub we_sent: bool,
    /// Average compound RTCP packet size in octets, including UDP/IP headers.
    pub avg_rtcp_size: f64,
    /// No report sent yet (halves the minimum).
    pub initial: bool,
    /// Minimum interval `Tmin` in seconds (5 s per §6.2; smaller values per §6.2 scaling are allowed).
    pub min_interval_s: f64,
}

/// Deterministic interval `Td` (seconds) before randomisation.
pub fn deterministic_interval(i: &IntervalInput) -> f64 {
    let min = if i.initial {
        i.min_interval_s / 2.0
    } else {
        i.min_interval_s
    };
    let mut n = f64::from(i.members.max(1));
    let mut bw = i.rtcp_bw;
    if f64::from(i.senders) <= f64::from(i.members) * 0.25 {
        if i.we_sent {
            bw *= 0.25;
            n = f64::from(i.senders.max(1));
        } else {
            bw *= 0.75;
            n = f64::from(i.members.saturating_sub(i.senders).max(1));
        }
    }
    let t = if bw > 0.0 { i.avg_rtcp_size * n / bw } else { min };
    t.max(min)
}

/// Randomised interval `T` in µs: `Td · u / (e − 3/2)` with `u` uniform in [0.5, 1.5) from `rng`.
pub fn rtcp_interval(i: &IntervalInput, rng: &mut SeededRng) -> u64 {
    let td = deterministic_interval(i);
    let t = td * (rng.next_f64() + 0.5) / COMPENSATION;
    (t * 1e6) as u64
}

/// A small seeded generator (SplitMix64), enough for timer randomisation.
#[derive(Debug, Clone)]
pub struct SeededRng(u64);

impl SeededRng {
    /// Seeds the generator.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> IntervalInput {
        IntervalInput {
            members: 2,
            senders: 1,
            rtcp_bw: 0.05 * 64_000.0 / 8.0,
            we_sent: false,
            avg_rtcp_size: 100.0,
            initial: false,
            min_interval_s: 5.0,
        }
    }

    #[test]
    fn minimum_applies_for_small_sessions() {
        assert_eq!(deterministic_interval(&input()), 5.0);
        assert_eq!(
            deterministic_interval(&IntervalInput {
                initial: true,
                ..input()
            }),
            2.5
        );
    }

    #[test]
    fn large_sessions_scale_with_members() {
        // 1000 receivers, 2 senders, 400 B/s RTCP bandwidth, 120-byte reports:
        // receivers share 75 %: 120 * 998 / 300 = 399.2 s.
        let i = IntervalInput {
            members: 1000,
            senders: 2,
            rtcp_bw: 400.0,
            avg_rtcp_size: 120.0,
            ..input()
        };
        assert!((deterministic_interval(&i) - 399.2).abs() < 1e-9);
        // A sender shares 25 % among the 2 senders: 120 * 2 / 100 = 2.4 s -> minimum 5 s.
        let s = IntervalInput { we_sent: true, ..i };
        assert_eq!(deterministic_interval(&s), 5.0);
    }

    #[test]
    fn randomisation_range_and_mean() {
        let mut rng = SeededRng::new(1);
        let n = 100_000;
        let mut sum = 0.0;
        for _ in 0..n {
            let t = rtcp_interval(&input(), &mut rng) as f64 / 1e6;
            assert!((2.5 / COMPENSATION..7.5 / COMPENSATION).contains(&t));
            sum += t;
        }
        let mean = sum / f64::from(n);
        assert!((mean - 5.0 / COMPENSATION).abs() < 0.02, "mean {mean}");
    }
}
