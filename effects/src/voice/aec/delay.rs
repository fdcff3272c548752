//! Bulk-delay estimation between the far-end reference and its echo in the microphone signal.
//!
//! # What
//! [`DelayEstimator`] finds the lag (0 to a maximum, 500 ms by default) at which the microphone signal is
//! most coherent with the far-end, so that the adaptive filter only has to model the room tail after it.
//!
//! # How
//! Both signals are low-passed (4th-order Butterworth at 1.6 kHz) and decimated to about 4 kHz
//! ([`super::decimate`]: only the kept outputs are computed). Every
//! 128 ms the last 256 ms of microphone signal are cross-correlated with the last 1.024 s of far-end via a
//! 4096-point FFT; the cross-power spectrum is smoothed over updates and weighted by the phase transform
//! (GCC-PHAT: C. H. Knapp and G. C. Carter, "The generalized correlation method for estimation of time
//! delay", IEEE Trans. ASSP 24(4), 1976), restricted to 150–1600 Hz. The lag of the largest
//! |correlation| (refined by parabolic interpolation) is accepted when it stands out from the mean by a
//! factor (confidence) and, when it differs from the current estimate, when two updates in a row agree.
//! Updates are skipped while the far-end or microphone is silent. The work of one update is spread over
//! three frames (far FFT, microphone FFT, inverse FFT and peak search) to bound the per-frame cost.
//!
//! # Real-time safety
//! Buffers and FFT plans are allocated in `new`; `push` only does arithmetic.

use realfft::num_complex::Complex;

use super::decimate::Decimator;
use crate::basic::BiquadCoeffs;
use crate::reduce::dot;
use crate::voice::rfft::RealFft;

/// Decimated rate the estimator aims for, Hz.
const TARGET_RATE: u32 = 4000;
/// FFT length (decimated samples): covers the microphone window plus the largest lag.
const FFT_LEN: usize = 4096;
/// Microphone window, decimated samples.
const MIC_WIN: usize = 1024;
/// Samples between updates, decimated.
const HOP: usize = 512;
/// Smoothing of the cross-power spectrum per update.
const ALPHA: f32 = 0.7;
/// Peak over mean |correlation| needed to accept a lag.
const MIN_CONFIDENCE: f32 = 6.0;

/// One biquad section in transposed direct form II (f32 state).
#[derive(Clone, Copy, Default)]
pub(super) struct Section {
    b0: f32,
    b1: f32,
    b2: f32,
    a1: f32,
    a2: f32,
    s1: f32,
    s2: f32,
}

impl Section {
    /// A section with the given coefficients and zero state.
    pub(super) fn new(c: BiquadCoeffs) -> Self {
        Self {
            b0: c.b0 as f32,
            b1: c.b1 as f32,
            b2: c.b2 as f32,
            a1: c.a1 as f32,
            a2: c.a2 as f32,
            s1: 0.0,
            s2: 0.0,
        }
    }

    /// Filters one sample.
    #[inline]
    pub(super) fn tick(&mut self, x: f32) -> f32 {
        let y = self.b0 * x + self.s1;
        // Input terms first: the recursion through `y` is one multiply and one subtraction long.
        self.s1 = (self.b1 * x + self.s2) - self.a1 * y;
        self.s2 = self.b2 * x - self.a2 * y;
        y
    }

    /// Zeroes the state.
    pub(super) fn clear(&mut self) {
        self.s1 = 0.0;
        self.s2 = 0.0;
    }

    /// Flushes tiny states to zero so that silence never produces denormals.
    pub(super) fn flush(&mut self) {
        if self.s1.abs() < 1e-20 {
            self.s1 = 0.0;
        }
        if self.s2.abs() < 1e-20 {
            self.s2 = 0.0;
        }
    }
}

/// Stage of the spread-out correlation update.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    Idle,
    FarFft,
    MicFft,
    Search,
}

/// GCC-PHAT bulk-delay estimator (see the module docs).
pub(super) struct DelayEstimator {
    dec: Decimator,
    far_ring: Vec<f32>,
    mic_ring: Vec<f32>,
    pos: usize,
    since_update: usize,
    max_lag: usize,
    lo_bin: usize,
    hi_bin: usize,
    fft: RealFft,
    far_win: Vec<f32>,
    mic_win: Vec<f32>,
    far_spec: Vec<Complex<f32>>,
    mic_spec: Vec<Complex<f32>>,
    acc: Vec<Complex<f32>>,
    corr: Vec<f32>,
    stage: Stage,
    estimate: Option<f32>,
    candidate: Option<usize>,
    updates: u64,
}

impl DelayEstimator {
    /// An estimator for signals at `rate` Hz, fed frames of up to `max_frame` samples, with lags up to
    /// `max_delay_ms`.
    pub fn new(rate: u32, max_frame: usize, max_delay_ms: f32) -> Self {
        let factor = ((rate as f32 / TARGET_RATE as f32).round() as usize).max(1);
        let dec_rate = rate as f32 / factor as f32;
        let max_lag = ((max_delay_ms / 1000.0 * dec_rate).ceil() as usize).min(FFT_LEN - MIC_WIN);
        let fc = (1600.0f64).min(0.4 * f64::from(dec_rate));
        let bins = FFT_LEN / 2 + 1;
        let hz_per_bin = dec_rate / FFT_LEN as f32;
        Self {
            dec: Decimator::new(fc, f64::from(rate), factor, max_frame),
            far_ring: vec![0.0; FFT_LEN],
            mic_ring: vec![0.0; FFT_LEN],
            pos: 0,
            since_update: 0,
            max_lag,
            lo_bin: (150.0 / hz_per_bin) as usize,
            hi_bin: ((fc as f32 / hz_per_bin) as usize).min(bins - 1),
            fft: RealFft::new(FFT_LEN),
            far_win: vec![0.0; FFT_LEN],
            mic_win: vec![0.0; FFT_LEN],
            far_spec: vec![Complex::default(); bins],
            mic_spec: vec![Complex::default(); bins],
            acc: vec![Complex::default(); bins],
            corr: vec![0.0; FFT_LEN],
            stage: Stage::Idle,
            estimate: None,
            candidate: None,
            updates: 0,
        }
    }

    /// The current estimate in full-rate samples, if any.
    pub fn delay_samples(&self) -> Option<f32> {
        self.estimate.map(|l| l * self.dec.factor() as f32)
    }

    /// Forgets everything.
    pub fn reset(&mut self) {
        self.dec.reset();
        self.far_ring.fill(0.0);
        self.mic_ring.fill(0.0);
        self.acc.fill(Complex::default());
        self.pos = 0;
        self.since_update = 0;
        self.stage = Stage::Idle;
        self.estimate = None;
        self.candidate = None;
        self.updates = 0;
    }

    /// Feeds one frame of far-end and microphone samples (same length). Returns true when the estimate
    /// changed.
    #[inline(always)]
    pub fn push(&mut self, far: &[f32], mic: &[f32]) -> bool {
        let (mut pos, mut since) = (self.pos, self.since_update);
        let (far_ring, mic_ring) = (&mut self.far_ring, &mut self.mic_ring);
        self.dec.push(far, mic, |f, m| {
            far_ring[pos] = f;
            mic_ring[pos] = m;
            pos = (pos + 1) % FFT_LEN;
            since += 1;
        });
        (self.pos, self.since_update) = (pos, since);
        match self.stage {
            Stage::Idle => {
                if self.since_update >= HOP {
                    self.since_update = 0;
                    self.snapshot();
                }
                false
            }
            Stage::FarFft => {
                self.fft.forward(&self.far_win, &mut self.far_spec);
                self.stage = Stage::MicFft;
                false
            }
            Stage::MicFft => {
                self.fft.forward(&self.mic_win, &mut self.mic_spec);
                let (lo, hi) = (self.lo_bin, self.hi_bin);
                for ((acc, m), f) in self.acc[lo..=hi]
                    .iter_mut()
                    .zip(&self.mic_spec[lo..=hi])
                    .zip(&self.far_spec[lo..=hi])
                {
                    *acc = *acc * ALPHA + (m * f.conj()) * (1.0 - ALPHA);
                }
                self.updates += 1;
                self.stage = Stage::Search;
                false
            }
            Stage::Search => {
                self.stage = Stage::Idle;
                self.search()
            }
        }
    }

    /// Copies the windows (chronological order) if both signals are active.
    fn snapshot(&mut self) {
        // The rings' oldest sample is at `pos`: two contiguous copies each.
        let split = FFT_LEN - self.pos;
        self.far_win[..split].copy_from_slice(&self.far_ring[self.pos..]);
        self.far_win[split..].copy_from_slice(&self.far_ring[..self.pos]);
        self.mic_win[..FFT_LEN - MIC_WIN].fill(0.0);
        let tail = FFT_LEN - MIC_WIN;
        let start = (self.pos + tail) % FFT_LEN;
        let first = MIC_WIN.min(FFT_LEN - start);
        self.mic_win[tail..tail + first].copy_from_slice(&self.mic_ring[start..start + first]);
        self.mic_win[tail + first..].copy_from_slice(&self.mic_ring[..MIC_WIN - first]);
        let energy = |v: &[f32]| dot(v, v);
        let ef = energy(&self.far_win[FFT_LEN - MIC_WIN - self.max_lag..]);
        let em = energy(&self.mic_win[tail..]);
        let far_active = ef / (MIC_WIN + self.max_lag) as f32 > 1e-7;
        let mic_active = em / MIC_WIN as f32 > 1e-9;
        if far_active && mic_active {
            self.stage = Stage::FarFft;
        }
    }

    fn search(&mut self) -> bool {
        self.far_spec.fill(Complex::default());
        let (lo, hi) = (self.lo_bin, self.hi_bin);
        // Branch-free (a select per bin), so the square roots and divisions vectorise.
        for (o, a) in self.far_spec[lo..=hi].iter_mut().zip(&self.acc[lo..=hi]) {
            let mag = a.norm_sqr().sqrt();
            let ok = mag > 1e-30;
            let m = if ok { mag } else { 1.0 };
            *o = if ok {
                Complex::new(a.re / m, a.im / m)
            } else {
                Complex::default()
            };
        }
        self.fft.inverse(&mut self.far_spec, &mut self.corr);
        let lags = &self.corr[..=self.max_lag];
        // Sum and largest |c| in eight lanes (vectorised), then the first lag that holds the largest.
        let (mut sums, mut peaks) = ([0f32; 8], [0f32; 8]);
        let chunks = lags.chunks_exact(8);
        let rest = chunks.remainder();
        for c in chunks {
            for l in 0..8 {
                sums[l] += c[l].abs();
                peaks[l] = peaks[l].max(c[l].abs());
            }
        }
        let sum = sums.iter().sum::<f32>() + rest.iter().map(|c| c.abs()).sum::<f32>();
        let peak = rest
            .iter()
            .fold(peaks.iter().fold(0f32, |a, &b| a.max(b)), |a, c| a.max(c.abs()));
        let best = lags.iter().position(|c| c.abs() == peak).unwrap_or(0);
        let mean = sum / lags.len() as f32;
        let conf = if mean > 0.0 { peak / mean } else { 0.0 };
        if conf < MIN_CONFIDENCE {
            return false;
        }
        // Parabolic refinement on |c|.
        let frac = if best > 0 && best < self.max_lag {
            let (a, b, c) = (lags[best - 1].abs(), lags[best].abs(), lags[best + 1].abs());
            let d = a - 2.0 * b + c;
            if d.abs() > 1e-12 {
                (0.5 * (a - c) / d).clamp(-0.5, 0.5)
            } else {
                0.0
            }
        } else {
            0.0
        };
        let lag = best as f32 + frac;
        let accept = match self.estimate {
            None => true,
            Some(cur) if (cur - lag).abs() <= 2.0 => true,
            Some(_) => {
                let agreed = self.candidate.is_some_and(|c| c.abs_diff(best) <= 2);
                self.candidate = Some(best);
                agreed
            }
        };
        if accept {
            self.candidate = None;
            let changed = self.estimate.is_none_or(|c| (c - lag).abs() > 0.01);
            self.estimate = Some(lag);
            return changed;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_noise as noise;
    use super::*;

    #[test]
    fn finds_a_pure_delay_in_noise() {
        for (rate, delay) in [(8000u32, 1200usize), (16000, 4800), (48000, 3000)] {
            let n = rate as usize / 100;
            let far = noise(rate as usize * 3, 7);
            let mut mic = vec![0.0; far.len()];
            for i in delay..far.len() {
                mic[i] = 0.5 * far[i - delay];
            }
            let mut d = DelayEstimator::new(rate, n, 500.0);
            for (f, m) in far.chunks(n).zip(mic.chunks(n)) {
                d.push(f, m);
            }
            let est = d.delay_samples().expect("white noise gives a clear peak");
            let tol = d.dec.factor() as f32;
            assert!((est - delay as f32).abs() <= tol, "rate {rate}: {est} vs {delay}");
        }
    }
}
