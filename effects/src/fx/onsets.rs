//! Causal transient (onset) detection for the time stretcher.
//!
//! # What
//! [`OnsetDetector`] scans a stream block by block and records the sample positions where a transient
//! starts, so that [`super::stretcher::TimeStretcher`] can keep transients intact (copy them at factor 1,
//! with a phase reset in the vocoder) and stretch only the stationary parts.
//!
//! # How
//! High-frequency content per block (Masri & Bateman 1996; Bello et al., "A tutorial on onset detection in
//! music signals", IEEE TSAP 13(5), 2005, §3.1.1): the energy of the first difference
//! `h_b = Σ_c Σ_i (x[i] − x[i−1])²` over blocks of ≈ 1.3 ms, all channels summed. Block `b` is an onset
//! when `h_b > RATIO · h̄ + FLOOR` where `h̄` is an exponential average of the previous blocks' `h`
//! (time constant ≈ 10 blocks) — a jump of the high-frequency energy by more than 9 dB above a level of
//! about −60 dBFS — and the previous onset is at least `MIN_GAP` (≈ 50 ms) earlier. The reported position is
//! the first sample of the block whose difference reaches 30 % of the block's largest one.
//!
//! # Real-time safety
//! A fixed ring of positions allocated in [`OnsetDetector::new`]; `feed` is arithmetic only.

/// Onset when the block's high-frequency energy exceeds this multiple of the running average.
const RATIO: f32 = 8.0;
/// Absolute floor of a block's high-frequency energy per sample (a difference RMS of 10⁻³).
const FLOOR_PER_SAMPLE: f32 = 1e-6;
/// Smoothing of the running average per block.
const AVG_KEEP: f32 = 0.9;
/// Positions kept (older ones are overwritten; the stretcher prunes far earlier).
const RING: usize = 64;

/// Causal block-wise onset detector (see the module docs).
#[derive(Debug, Clone)]
pub(crate) struct OnsetDetector {
    block: usize,
    min_gap: usize,
    /// Next position (stream coordinates) to analyse.
    pos: usize,
    avg: f32,
    last: Option<usize>,
    ring: [usize; RING],
    head: usize,
    len: usize,
}

impl OnsetDetector {
    /// A detector for `rate` Hz starting at stream position `start`.
    pub(crate) fn new(rate: u32, start: usize) -> Self {
        let block = ((f64::from(rate) * 0.00133).round() as usize).max(16);
        Self {
            block,
            min_gap: rate as usize / 20,
            pos: start.max(1),
            avg: 0.0,
            last: None,
            ring: [0; RING],
            head: 0,
            len: 0,
        }
    }

    /// Block length in samples (the look-ahead the detector needs beyond a queried position).
    pub(crate) fn block(&self) -> usize {
        self.block
    }

    /// Forgets everything and restarts at `start`.
    pub(crate) fn reset(&mut self, start: usize) {
        *self = Self {
            pos: start.max(1),
            avg: 0.0,
            last: None,
            head: 0,
            len: 0,
            ..*self
        };
    }

    /// Analyses every complete block of `bufs` (one slice per channel, `bufs[c][i]` is stream sample
    /// `base + i`) that ends at or before `base + len`.
    pub(crate) fn feed(&mut self, bufs: &[Vec<f32>], base: usize, len: usize) {
        let end = base + len;
        if self.pos <= base {
            // The sample before the block is gone: restart the analysis at the buffer.
            self.pos = base + 1;
        }
        while self.pos + self.block <= end {
            let i0 = self.pos - base;
            let (mut h, mut peak) = (0.0f32, 0.0f32);
            for b in bufs {
                let s = &b[i0 - 1..i0 + self.block];
                for w in s.windows(2) {
                    let d = w[1] - w[0];
                    h += d * d;
                    peak = peak.max(d.abs());
                }
            }
            let floor = FLOOR_PER_SAMPLE * self.block as f32 * bufs.len() as f32;
            let gap_ok = self.last.is_none_or(|l| self.pos >= l + self.min_gap);
            if h > RATIO * self.avg + floor && gap_ok {
                let thr = 0.3 * peak;
                let off = (0..self.block)
                    .find(|&i| bufs.iter().any(|b| (b[i0 + i] - b[i0 + i - 1]).abs() >= thr))
                    .unwrap_or(0);
                let at = self.pos + off;
                self.ring[self.head] = at;
                self.head = (self.head + 1) % RING;
                self.len = (self.len + 1).min(RING);
                self.last = Some(at);
            }
            self.avg = AVG_KEEP * self.avg + (1.0 - AVG_KEEP) * h;
            self.pos += self.block;
        }
    }

    /// Recorded onsets, oldest first.
    fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.len).map(move |k| self.ring[(self.head + RING - self.len + k) % RING])
    }

    /// The first onset in `[lo, hi)`.
    pub(crate) fn first_in(&self, lo: usize, hi: usize) -> Option<usize> {
        self.iter().find(|&o| o >= lo && o < hi)
    }

    /// The last onset in `[lo, hi)`.
    pub(crate) fn last_in(&self, lo: usize, hi: usize) -> Option<usize> {
        self.iter().filter(|&o| o >= lo && o < hi).last()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_clicks_and_attacks_but_not_steady_tones() {
        let rate = 48_000;
        let mut x = vec![0.0f32; 48_000];
        for (i, v) in x.iter_mut().enumerate() {
            *v = 0.3 * (i as f32 * 2.0 * std::f32::consts::PI * 220.0 / 48_000.0).sin();
        }
        x[10_000] += 0.5;
        // A noise burst (seeded) starting at 30 000.
        let mut seed = 7u32;
        for v in &mut x[30_000..31_000] {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            *v += ((seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5) * 0.4;
        }
        let mut d = OnsetDetector::new(rate, 0);
        // Fed in uneven pieces: the same result as at once.
        let bufs = vec![x.clone()];
        for end in [777, 5_000, 10_001, 29_999, 48_000] {
            d.feed(&bufs, 0, end);
        }
        // The tone's start (from silence), the click and the burst; nothing during the steady tone.
        let found: Vec<usize> = d.iter().collect();
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(found[0] < 64, "{found:?}");
        assert_eq!(found[1], 10_000);
        assert!((30_000..30_010).contains(&found[2]), "{found:?}");
        assert_eq!(d.first_in(10_001, 40_000), Some(found[2]));
        assert_eq!(d.last_in(64, 30_000), Some(10_000));
    }
}
