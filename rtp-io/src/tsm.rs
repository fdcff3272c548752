//! Time-scale modification of speech: remove or insert one pitch period (accelerate / expand).
//!
//! # What
//! The jitter buffer changes its delay by playing decoded speech slightly faster or slower instead of
//! dropping samples or inserting silence. [`Tsm::accelerate`] shortens a signal by one pitch period,
//! [`Tsm::expand`] lengthens it by one pitch period; both work in place on interleaved `i16` audio, touch only
//! the not-yet-played part of the buffer and keep the pitch.
//!
//! # How
//! Pitch-synchronous overlap-add in the manner of WSOLA (Verhelst & Roelands, ICASSP 1993) and of WebRTC
//! NetEQ's `Accelerate`/`PreemptiveExpand`: the lag `P` in 2.5–15 ms (400–67 Hz) that maximises the
//! normalised cross-correlation between two adjacent segments is searched (on a decimated copy at rates
//! above 8 kHz, then refined at full rate). Accelerate replaces the two periods `x[s..s+2P]` by their linear
//! cross-fade (fade-out of the first, fade-in of the second), removing `P` samples; expand inserts, at the play
//! point `s`, the cross-fade of `x[s..s+P]` (fading out) with the already played period `x[s-P..s]` (fading
//! in), which adds `P` samples. Because the two periods are similar, each junction is continuous: the result
//! has the original waveform shape and period, only one period more or fewer.
//! A segment is stretched only when it is periodic (correlation ≥ the threshold) or quiet (energy below the
//! silence level); otherwise the caller plays it unmodified (unless it forces the operation).
//!
//! # Real-time safety
//! No allocation after [`Tsm::new`]: the decimated search buffer is preallocated.

/// Outcome of a time-scale modification attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TsmResult {
    /// Samples per channel removed (accelerate) or inserted (expand); 0 when the signal was left alone.
    pub samples: usize,
    /// Chosen pitch lag in samples per channel (0 when nothing was done).
    pub lag: usize,
}

/// Pitch-period time-scale modification (accelerate / expand) for one stream.
#[derive(Debug, Clone)]
pub struct Tsm {
    rate: u32,
    channels: usize,
    min_lag: usize,
    max_lag: usize,
    decim: usize,
    mono: Vec<f32>,
    /// Correlation a stretch needs unless forced (0..1).
    pub threshold: f32,
    /// Mean-square level (of 16-bit samples) below which a segment counts as silence and may be stretched.
    pub silence_power: f32,
}

impl Tsm {
    /// A modifier for `channels`-channel interleaved audio at `rate` Hz.
    pub fn new(rate: u32, channels: usize) -> Self {
        let channels = channels.max(1);
        let min_lag = (rate as usize * 25 / 10_000).max(2);
        let max_lag = (rate as usize * 15 / 1000).max(min_lag + 1);
        let decim = (rate as usize / 8000).max(1);
        Self {
            rate,
            channels,
            min_lag,
            max_lag,
            decim,
            mono: vec![0.0; 4 * max_lag + 8],
            threshold: 0.8,
            silence_power: 40.0 * 40.0,
        }
    }

    /// Audio rate in Hz.
    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// Smallest pitch lag searched (2.5 ms), in samples per channel.
    pub fn min_lag(&self) -> usize {
        self.min_lag
    }

    /// Largest pitch lag searched, in samples per channel.
    pub fn max_lag(&self) -> usize {
        self.max_lag
    }

    /// Unplayed samples per channel [`Tsm::accelerate`] needs after the play point.
    pub fn accelerate_needs(&self) -> usize {
        2 * self.max_lag
    }

    /// Played (history) and unplayed samples per channel [`Tsm::expand`] needs around the play point.
    pub fn expand_needs(&self) -> usize {
        self.max_lag
    }

    /// Shortens `buf[start * ch..]` (interleaved) by one pitch period in place. `len` is the number of valid
    /// samples per channel in `buf`; `start` is the first unplayed one. Returns how much was removed; the
    /// valid length becomes `len - result.samples`.
    pub fn accelerate(&mut self, buf: &mut [i16], start: usize, len: usize, force: bool) -> TsmResult {
        self.accelerate_at_most(buf, start, len, force, self.max_lag)
    }

    /// As [`Tsm::accelerate`], removing at most `max_samples` per channel: the lag is searched in
    /// `[min_lag, min(max_lag, max_samples)]` (nothing is done when that range is empty). The jitter buffer
    /// uses it to trim its decode phase without moving a packet's decode to an earlier output frame.
    pub fn accelerate_at_most(
        &mut self,
        buf: &mut [i16],
        start: usize,
        len: usize,
        force: bool,
        max_samples: usize,
    ) -> TsmResult {
        let none = TsmResult { samples: 0, lag: 0 };
        let ch = self.channels;
        let hi = max_samples.min(self.max_lag);
        if hi < self.min_lag || len < start + 2 * self.max_lag || buf.len() < len * ch {
            return none;
        }
        // Search the lag that makes x[s..s+P] and x[s+P..s+2P] most alike.
        let (lag, corr, power) = self.search(buf, start, start, 2 * self.max_lag, hi);
        if !self.may_stretch(force, corr, power) {
            return none;
        }
        let p = lag;
        // The first period becomes the cross-fade from itself to the second; the second is removed.
        cross_fade(buf, ch, p, start, start, start + p);
        buf.copy_within((start + 2 * p) * ch..len * ch, (start + p) * ch);
        TsmResult { samples: p, lag: p }
    }

    /// Lengthens `buf` by one pitch period inserted at the play point `start` (samples per channel before it
    /// are history, already played). `len` is the valid length; `buf` must have room for `len + max_lag`
    /// samples per channel. Returns how much was inserted.
    pub fn expand(&mut self, buf: &mut [i16], start: usize, len: usize, force: bool) -> TsmResult {
        let none = TsmResult { samples: 0, lag: 0 };
        let ch = self.channels;
        if start < self.max_lag || len < start + self.max_lag || buf.len() < (len + self.max_lag) * ch {
            return none;
        }
        // Compare the last played period x[s-P..s] with the next one x[s..s+P].
        let (lag, corr, power) = self.search(buf, start - self.max_lag, start, self.max_lag, self.max_lag);
        if !self.may_stretch(force, corr, power) {
            return none;
        }
        let p = lag;
        buf.copy_within(start * ch..len * ch, (start + p) * ch);
        // Now x[s+i] lives at buf[s+p+i]; the inserted period at buf[s..s+p] fades from the next period to
        // the last played one.
        cross_fade(buf, ch, p, start, start + p, start - p);
        TsmResult { samples: p, lag: p }
    }

    /// Whether a segment with this correlation and power may be stretched (periodic or quiet, or forced).
    fn may_stretch(&self, force: bool, corr: f32, power: f32) -> bool {
        force || corr >= self.threshold || power < self.silence_power
    }

    /// Finds the lag P in [min_lag, hi] (`hi ≤ max_lag`) maximising the normalised correlation of x[a..a+P] with
    /// x[a+P..a+2P] when `a + P == split` is not required: for accelerate `a == split`, for expand the two
    /// segments are x[split-P..split] and x[split..split+P]. Returns (lag, correlation, mean power).
    fn search(
        &mut self,
        buf: &[i16],
        region: usize,
        split: usize,
        span: usize,
        hi: usize,
    ) -> (usize, f32, f32) {
        let ch = self.channels;
        let expand = region != split;
        // Mono mix of the region [region, region + span) (expand: [split-max, split+max)).
        let total = if expand { 2 * self.max_lag } else { span };
        let n = total.min(self.mono.len());
        let mut power = 0.0f32;
        for i in 0..n {
            let mut s = 0.0f32;
            for c in 0..ch {
                s += f32::from(buf[(region + i) * ch + c]);
            }
            let s = s / ch as f32;
            self.mono[i] = s;
            power += s * s;
        }
        power /= n.max(1) as f32;
        // Offset of the split point inside `mono`.
        let origin = if expand { self.max_lag } else { 0 };
        let corr_at = |mono: &[f32], p: usize, step: usize| -> f32 {
            // Accelerate: segments mono[0..p] and mono[p..2p]; expand: mono[o-p..o] and mono[o..o+p].
            let (a0, b0) = if expand { (origin - p, origin) } else { (0, p) };
            let (mut ab, mut aa, mut bb) = (0.0f32, 0.0f32, 0.0f32);
            let mut i = 0;
            while i < p {
                let a = mono[a0 + i];
                let b = mono[b0 + i];
                ab += a * b;
                aa += a * a;
                bb += b * b;
                i += step;
            }
            if aa <= 0.0 || bb <= 0.0 {
                return 0.0;
            }
            ab / (aa * bb).sqrt()
        };
        let d = self.decim;
        let mut best = (self.min_lag, f32::MIN);
        let mut p = self.min_lag;
        while p <= hi {
            let c = corr_at(&self.mono, p, d);
            if c > best.1 {
                best = (p, c);
            }
            p += d;
        }
        if d > 1 {
            let lo = best.0.saturating_sub(d).max(self.min_lag);
            let top = (best.0 + d).min(hi);
            best = (best.0, f32::MIN);
            for p in lo..=top {
                let c = corr_at(&self.mono, p, 1);
                if c > best.1 {
                    best = (p, c);
                }
            }
        }
        (best.0, best.1.max(0.0), power)
    }
}

/// Writes the `p` samples per channel at `dst` (interleaved, `ch` channels) as the linear cross-fade from
/// the period at `from` (weight 1 → 0) to the period at `to` (0 → 1). `dst` may be `from` (each sample is
/// read before it is written); `to` must not overlap `dst`.
fn cross_fade(buf: &mut [i16], ch: usize, p: usize, dst: usize, from: usize, to: usize) {
    for i in 0..p {
        let w = (i as f32 + 0.5) / p as f32;
        for c in 0..ch {
            let a = f32::from(buf[(from + i) * ch + c]);
            let b = f32::from(buf[(to + i) * ch + c]);
            buf[(dst + i) * ch + c] = round_i16(a * (1.0 - w) + b * w);
        }
    }
}

fn round_i16(x: f32) -> i16 {
    x.round().clamp(-32768.0, 32767.0) as i16
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A voiced-like signal: harmonics of `f0` with decaying amplitude.
    fn voiced(rate: u32, f0: f64, n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| {
                let t = i as f64 / f64::from(rate);
                let mut s = 0.0;
                for h in 1..=5 {
                    s += (2.0 * std::f64::consts::PI * f0 * h as f64 * t).sin() / h as f64;
                }
                (s * 6000.0) as i16
            })
            .collect()
    }

    /// Largest difference between neighbouring samples.
    fn largest_step(x: &[i16]) -> i32 {
        x.windows(2)
            .map(|w| (i32::from(w[1]) - i32::from(w[0])).abs())
            .max()
            .expect("at least two samples")
    }

    /// Best autocorrelation lag of a signal in [lo, hi].
    fn pitch_lag(x: &[i16], lo: usize, hi: usize) -> usize {
        let x: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
        let n = x.len() - hi;
        (lo..=hi)
            .max_by(|&a, &b| {
                let ca: f64 = (0..n).map(|i| x[i] * x[i + a]).sum();
                let cb: f64 = (0..n).map(|i| x[i] * x[i + b]).sum();
                ca.partial_cmp(&cb).expect("finite correlations")
            })
            .expect("non-empty lag range")
    }

    #[test]
    fn accelerate_removes_one_period_and_keeps_pitch() {
        for &(rate, f0) in &[(8000u32, 160.0f64), (16000, 125.0), (48000, 200.0)] {
            let n = rate as usize / 10;
            let mut x = voiced(rate, f0, n);
            let orig = x.clone();
            let mut t = Tsm::new(rate, 1);
            let start = n / 4;
            let r = t.accelerate(&mut x, start, n, false);
            let period = (f64::from(rate) / f0).round() as usize;
            assert_eq!(r.samples, period, "rate {rate}");
            let out = &x[..n - r.samples];
            assert_eq!(&out[..start], &orig[..start], "played part untouched");
            let lag = pitch_lag(out, period / 2 + 1, period * 3 / 2);
            assert_eq!(lag, period, "pitch kept at {rate}");
            // Continuity: no step larger than the signal's own largest step.
            let (max_step, out_step) = (largest_step(&orig), largest_step(out));
            assert!(out_step <= max_step + 2, "{out_step} > {max_step}");
        }
    }

    #[test]
    fn accelerate_at_most_respects_its_limit() {
        // 100 Hz at 8 kHz: one period is 80 samples (10 ms); 250 Hz: 32 samples.
        let n = 800;
        let mut t = Tsm::new(8000, 1);
        let mut x = voiced(8000, 100.0, n);
        let r = t.accelerate_at_most(&mut x, 200, n, false, 79);
        assert!(r.samples <= 79, "removed {} > 79", r.samples);
        let mut x = voiced(8000, 100.0, n);
        let r = t.accelerate_at_most(&mut x, 200, n, false, 80);
        assert_eq!(r.samples, 80, "the whole period fits the limit");
        let mut x = voiced(8000, 250.0, n);
        let r = t.accelerate_at_most(&mut x, 200, n, false, 70);
        assert!(
            r.samples > 0 && r.samples <= 70 && r.samples.is_multiple_of(32),
            "removed {}",
            r.samples
        );
        // Below the smallest lag (2.5 ms = 20 samples) nothing is done, even forced.
        let orig = voiced(8000, 250.0, n);
        let mut x = orig.clone();
        let r = t.accelerate_at_most(&mut x, 200, n, true, 19);
        assert_eq!(r.samples, 0);
        assert_eq!(x, orig);
    }

    #[test]
    fn expand_inserts_one_period_and_keeps_pitch() {
        for &(rate, f0) in &[(8000u32, 100.0f64), (16000, 250.0), (48000, 150.0)] {
            let n = rate as usize / 10;
            let mut x = voiced(rate, f0, n);
            let orig = x.clone();
            let mut t = Tsm::new(rate, 1);
            x.resize(n + t.max_lag(), 0);
            let start = n / 2;
            let r = t.expand(&mut x, start, n, false);
            let period = (f64::from(rate) / f0).round() as usize;
            assert_eq!(r.samples, period, "rate {rate}");
            let out = &x[..n + r.samples];
            assert_eq!(&out[..start], &orig[..start]);
            assert_eq!(
                &out[start + period..],
                &orig[start..],
                "the rest follows unchanged"
            );
            let lag = pitch_lag(out, period / 2 + 1, period * 3 / 2);
            assert_eq!(lag, period);
            let (max_step, out_step) = (largest_step(&orig), largest_step(out));
            assert!(out_step <= max_step + 2, "{out_step} > {max_step}");
        }
    }

    #[test]
    fn noise_is_not_stretched_unless_forced() {
        let mut state = 12345u32;
        let mut x: Vec<i16> = (0..1600)
            .map(|_| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                ((state >> 16) as i16) / 4
            })
            .collect();
        let mut t = Tsm::new(8000, 1);
        assert_eq!(t.accelerate(&mut x, 100, 1600, false).samples, 0);
        assert!(t.accelerate(&mut x, 100, 1600, true).samples > 0);
    }

    #[test]
    fn stereo_both_channels_follow() {
        let rate = 16000;
        let mono = voiced(rate, 200.0, 1600);
        let mut x: Vec<i16> = mono.iter().flat_map(|&s| [s, s / 2]).collect();
        let mut t = Tsm::new(rate, 2);
        let r = t.accelerate(&mut x, 200, 1600, false);
        assert_eq!(r.samples, 80);
        for i in 0..1600 - 80 {
            assert!((i32::from(x[2 * i]) / 2 - i32::from(x[2 * i + 1])).abs() <= 1);
        }
    }
}
