//! Low-pass filtering and decimation of the delay estimator's two signals (far-end and microphone).
//!
//! # What
//! [`Decimator`] keeps every `factor`-th output of a 4th-order Butterworth low-pass (two RBJ low-pass
//! sections with the Butterworth qualities) run over each signal, and computes only those outputs.
//!
//! # How
//! The recursion of an IIR filter normally needs every output, so a decimating IIR is latency-bound: each
//! sample waits for the previous one. Each pole `p` of `H = N/D` is moved to `p^M` (`M` = `factor`) by
//! multiplying numerator and denominator with `Σ_{k<M} p^k z^{−k}`, since
//! `(1 − p z^{−1})·Σ_{k<M} p^k z^{−k} = 1 − p^M z^{−M}` (the polyphase IIR decimator: M. Bellanger,
//! G. Bonnerot, M. Coudreuse, "Digital filtering by polyphase network", IEEE Trans. ASSP 24(2), 1976;
//! P. P. Vaidyanathan, *Multirate Systems and Filter Banks*, 1993, § 4.3). The transfer function is the
//! same; the recursion now only involves outputs `M` samples apart, so it runs at the low rate, and the
//! numerator, `4M + 1` taps, is a dot product computed only where an output is kept. Coefficients are
//! derived in f64 from the poles; filtering is in f32.
//!
//! # Real-time safety
//! Buffers are allocated in `new`; `push` only does arithmetic on them.

use realfft::num_complex::Complex;

use crate::basic::BiquadCoeffs;
use crate::reduce::dot;

/// Order of the low-pass (two sections).
const ORDER: usize = 4;

/// Low-pass and decimation of two signals (see the module docs).
pub(super) struct Decimator {
    factor: usize,
    /// Numerator taps, oldest sample first (`4·factor + 1`).
    taps: Vec<f32>,
    /// Denominator coefficients of `z^{−j·factor}`, `j = 1..=4`.
    fb: [f32; ORDER],
    /// Input history (`taps − 1` samples) followed by the current frame, per signal.
    buf: [Vec<f32>; 2],
    /// The last four kept outputs per signal, newest first.
    y: [[f32; ORDER]; 2],
    /// Input samples since the last kept output.
    phase: usize,
}

impl Decimator {
    /// Low-pass at `fc` Hz (4th-order Butterworth) for signals at `fs` Hz, keeping every `factor`-th
    /// output, for frames of up to `max_frame` samples.
    pub(super) fn new(fc: f64, fs: f64, factor: usize, max_frame: usize) -> Self {
        let m = factor.max(1);
        let sections = [
            BiquadCoeffs::lowpass(fc, 0.541_196_1, fs),
            BiquadCoeffs::lowpass(fc, 1.306_563, fs),
        ];
        // N(z) = Π (b0 + b1 z⁻¹ + b2 z⁻²) and the poles of each section (the roots of z² + a1 z + a2).
        let mut num = vec![Complex::new(1.0f64, 0.0)];
        let mut poles = Vec::with_capacity(ORDER);
        for s in &sections {
            num = poly_mul(&num, &[s.b0, s.b1, s.b2].map(|b| Complex::new(b, 0.0)));
            let disc = Complex::new(s.a1 * s.a1 - 4.0 * s.a2, 0.0).sqrt();
            poles.push((Complex::new(-s.a1, 0.0) + disc) * 0.5);
            poles.push((Complex::new(-s.a1, 0.0) - disc) * 0.5);
        }
        // N'(z) = N(z)·Π_p Σ_{k<M} p^k z^{−k};  D'(z) = Π_p (1 − p^M z^{−M}).
        let mut den = vec![Complex::new(1.0f64, 0.0)];
        for &p in &poles {
            let geometric: Vec<Complex<f64>> = (0..m).map(|k| p.powu(k as u32)).collect();
            num = poly_mul(&num, &geometric);
            let mut step = vec![Complex::new(0.0, 0.0); m + 1];
            step[0] = Complex::new(1.0, 0.0);
            step[m] = -p.powu(m as u32);
            den = poly_mul(&den, &step);
        }
        // Conjugate pairs make both real; the taps are stored oldest sample first.
        let taps: Vec<f32> = num.iter().rev().map(|c| c.re as f32).collect();
        let fb = std::array::from_fn(|j| den[(j + 1) * m].re as f32);
        let hist = taps.len() - 1;
        Self {
            factor: m,
            taps,
            fb,
            buf: [vec![0.0; hist + max_frame], vec![0.0; hist + max_frame]],
            y: [[0.0; ORDER]; 2],
            phase: 0,
        }
    }

    /// The decimation factor.
    pub(super) fn factor(&self) -> usize {
        self.factor
    }

    /// Filters one frame of each signal (same length, at most `max_frame`), calling `emit(far, mic)` with
    /// every kept output in order.
    #[inline(always)]
    pub(super) fn push(&mut self, far: &[f32], mic: &[f32], mut emit: impl FnMut(f32, f32)) {
        let hist = self.taps.len() - 1;
        let n = far.len().min(mic.len()).min(self.buf[0].len() - hist);
        self.buf[0][hist..hist + n].copy_from_slice(&far[..n]);
        self.buf[1][hist..hist + n].copy_from_slice(&mic[..n]);
        // Sample `i` of the frame is kept when it completes `factor` samples since the last kept one.
        let mut i = self.factor - 1 - self.phase;
        while i < n {
            let mut out = [0.0; 2];
            for (s, o) in out.iter_mut().enumerate() {
                let x = dot(&self.buf[s][i..i + hist + 1], &self.taps);
                let y = &mut self.y[s];
                let v = x - (self.fb[0] * y[0] + self.fb[1] * y[1]) - (self.fb[2] * y[2] + self.fb[3] * y[3]);
                *y = [v, y[0], y[1], y[2]];
                *o = v;
            }
            emit(out[0], out[1]);
            i += self.factor;
        }
        self.phase = (self.phase + n) % self.factor;
        for b in &mut self.buf {
            b.copy_within(n..n + hist, 0);
        }
        for y in self.y.iter_mut().flatten() {
            if y.abs() < 1e-20 {
                *y = 0.0;
            }
        }
    }

    /// Zeroes the state.
    pub(super) fn reset(&mut self) {
        for b in &mut self.buf {
            b.fill(0.0);
        }
        self.y = [[0.0; ORDER]; 2];
        self.phase = 0;
    }
}

/// The product of two polynomials in `z^{−1}` (coefficients from `z⁰` up).
fn poly_mul(a: &[Complex<f64>], b: &[Complex<f64>]) -> Vec<Complex<f64>> {
    let mut out = vec![Complex::new(0.0, 0.0); a.len() + b.len() - 1];
    for (i, x) in a.iter().enumerate() {
        for (j, y) in b.iter().enumerate() {
            out[i + j] += x * y;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::test_noise as noise;
    use super::*;
    use crate::basic::Biquad;

    /// The kept outputs equal every `factor`-th output of the two sections run sample by sample in f64
    /// (the direct form of the same filter), at every rate the estimator uses and with a frame length
    /// that is not a multiple of the factor.
    #[test]
    fn equals_the_cascade_sampled_every_factor_th_output() {
        for (rate, factor, frame) in [
            (8000u32, 2usize, 80usize),
            (16000, 4, 160),
            (32000, 8, 317),
            (48000, 12, 480),
        ] {
            let fs = f64::from(rate);
            let fc = 1600.0f64.min(0.4 * fs / factor as f64);
            let far = noise(rate as usize, 3);
            let mic = noise(rate as usize, 5);
            let mut d = Decimator::new(fc, fs, factor, frame);
            let mut got = Vec::new();
            for (f, m) in far.chunks(frame).zip(mic.chunks(frame)) {
                d.push(f, m, |a, b| got.push((a, b)));
            }
            let mk = || {
                [
                    Biquad::new(BiquadCoeffs::lowpass(fc, 0.541_196_1, fs)),
                    Biquad::new(BiquadCoeffs::lowpass(fc, 1.306_563, fs)),
                ]
            };
            let (mut lf, mut lm) = (mk(), mk());
            let mut want = Vec::new();
            for (i, (f, m)) in far.iter().zip(&mic).enumerate() {
                let (f1, m1) = (lf[0].tick(f64::from(*f)), lm[0].tick(f64::from(*m)));
                let (yf, ym) = (lf[1].tick(f1), lm[1].tick(m1));
                if (i + 1) % factor == 0 {
                    want.push((yf, ym));
                }
            }
            assert_eq!(got.len(), want.len(), "rate {rate}: kept outputs");
            let rms = (want.iter().map(|w| w.0 * w.0).sum::<f64>() / want.len() as f64).sqrt();
            let worst = got
                .iter()
                .zip(&want)
                .map(|(g, w)| (f64::from(g.0) - w.0).abs().max((f64::from(g.1) - w.1).abs()))
                .fold(0.0, f64::max);
            assert!(
                rms > 0.01,
                "rate {rate}: the low-pass passes the noise's low band ({rms})"
            );
            assert!(worst < 1e-6, "rate {rate}: worst error {worst} (rms {rms})");
        }
    }
}
