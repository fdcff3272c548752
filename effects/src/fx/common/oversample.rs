//! Polyphase FIR oversampling by an integer factor, for nonlinear processing without aliasing.
//!
//! # What
//! [`Oversampler`] turns each input sample into `factor` samples at `factor × fs`
//! ([`Oversampler::upsample`]) and turns `factor` processed samples back into one output sample
//! ([`Oversampler::downsample`]). Both filters are the same linear-phase low-pass: pass band to
//! `0.40 fs` (19.2 kHz at 48 kHz), stop band from `0.5 fs` (24 kHz at 48 kHz) with 100 dB attenuation,
//! so that harmonics a waveshaper creates between `0.5 fs` and `(factor − 0.5) fs` are removed
//! before decimation instead of folding into the audio band.
//!
//! # How
//! Kaiser-windowed sinc, `N = factor·K + 1` taps (Kaiser's length formula for 100 dB and the transition
//! width above, `β = 0.1102(A − 8.7)`). Interpolation runs the `factor` polyphase branches
//! (`y[nM+p] = M Σ_k h[kM+p] x[n−k]`); decimation evaluates the filter only at every `factor`-th output.
//! Each filter delays by `(N−1)/2` fast samples, so the pair delays by exactly `K` input samples
//! ([`Oversampler::latency`]).
//!
//! # Real-time safety
//! `new` allocates; `upsample`/`downsample` only read and write preallocated histories.

use super::kaiser_lowpass;

/// History of the last `len` samples, readable as one contiguous slice (oldest first).
#[derive(Debug, Clone)]
struct History {
    buf: Vec<f64>,
    len: usize,
    pos: usize,
}

impl History {
    fn new(len: usize) -> Self {
        Self {
            buf: vec![0.0; 2 * len],
            len,
            pos: 0,
        }
    }

    #[inline]
    fn push(&mut self, x: f64) {
        self.buf[self.pos] = x;
        self.buf[self.pos + self.len] = x;
        self.pos += 1;
        if self.pos == self.len {
            self.pos = 0;
        }
    }

    /// The last `len` samples, oldest first.
    #[inline]
    fn window(&self) -> &[f64] {
        &self.buf[self.pos..self.pos + self.len]
    }

    fn clear(&mut self) {
        self.buf.fill(0.0);
    }
}

#[inline]
fn dot(a: &[f64], b: &[f64]) -> f64 {
    // Four partial sums let the compiler vectorise without reassociating a single chain.
    let mut s = [0.0f64; 4];
    let (ca, ra) = a.split_at(a.len() / 4 * 4);
    let (cb, rb) = b.split_at(ca.len());
    for (x, y) in ca.chunks_exact(4).zip(cb.chunks_exact(4)) {
        for i in 0..4 {
            s[i] += x[i] * y[i];
        }
    }
    let mut t = (s[0] + s[1]) + (s[2] + s[3]);
    for (x, y) in ra.iter().zip(rb) {
        t += x * y;
    }
    t
}

/// A polyphase up/down-sampler pair for one channel.
#[derive(Debug, Clone)]
pub(crate) struct Oversampler {
    k: usize,
    /// Phase `p`'s taps, reversed to line up with the history window (oldest first), times `factor`.
    up_taps: Vec<Vec<f64>>,
    /// The full filter, reversed.
    down_taps: Vec<f64>,
    up_hist: History,
    down_hist: History,
}

impl Oversampler {
    /// An oversampler by `factor` (≥ 2).
    pub(crate) fn new(factor: usize) -> Self {
        let factor = factor.max(2);
        let fs_os = factor as f64;
        // Transition 0.40..0.50 of the base rate, in units of the fast rate.
        let (pass, stop) = (0.40 / fs_os, 0.50 / fs_os);
        let atten = 100.0;
        let beta = 0.1102 * (atten - 8.7);
        let n_min = ((atten - 7.95) / (14.36 * (stop - pass))).ceil() as usize + 1;
        let k = n_min.div_ceil(factor);
        let n = factor * k + 1;
        let h = kaiser_lowpass(n, (pass + stop) / 2.0, beta, 1.0);
        let up_taps = (0..factor)
            .map(|p| {
                (0..=k)
                    .rev()
                    .map(|j| h.get(j * factor + p).copied().unwrap_or(0.0) * factor as f64)
                    .collect()
            })
            .collect();
        let down_taps = h.iter().rev().copied().collect();
        Self {
            k,
            up_taps,
            down_taps,
            up_hist: History::new(k + 1),
            down_hist: History::new(n),
        }
    }

    /// Delay of an upsample → downsample round trip, in input samples.
    pub(crate) fn latency(&self) -> usize {
        self.k
    }

    /// Writes the `factor` fast samples for input `x` into `out`.
    #[inline]
    pub(crate) fn upsample(&mut self, x: f64, out: &mut [f64]) {
        self.up_hist.push(x);
        let w = self.up_hist.window();
        for (o, taps) in out.iter_mut().zip(&self.up_taps) {
            *o = dot(w, taps);
        }
    }

    /// Consumes `factor` fast samples and returns one output sample.
    #[inline]
    pub(crate) fn downsample(&mut self, fast: &[f64]) -> f64 {
        // The output is the filtered fast signal at the group's first sample, which makes the round trip
        // a delay of exactly `k` input samples.
        self.down_hist.push(fast[0]);
        let y = dot(self.down_hist.window(), &self.down_taps);
        for &v in &fast[1..] {
            self.down_hist.push(v);
        }
        y
    }

    /// Clears both histories.
    pub(crate) fn reset(&mut self) {
        self.up_hist.clear();
        self.down_hist.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Up then down without processing is a pure delay of `latency()` samples for an in-band sine.
    #[test]
    fn round_trip_is_a_delay() {
        for factor in [4, 8] {
            let mut os = Oversampler::new(factor);
            let lat = os.latency();
            let f = 0.1; // cycles per sample (4.8 kHz at 48 kHz)
            let x: Vec<f64> = (0..4000)
                .map(|i| (2.0 * std::f64::consts::PI * f * i as f64).sin())
                .collect();
            let mut fast = vec![0.0; factor];
            let y: Vec<f64> = x
                .iter()
                .map(|&v| {
                    os.upsample(v, &mut fast);
                    os.downsample(&fast)
                })
                .collect();
            let err = (1000..4000)
                .map(|i| (y[i] - x[i - lat]).abs())
                .fold(0.0, f64::max);
            assert!(err < 1e-4, "factor {factor}: max error {err}");
        }
    }
}
