//! Second-order IIR section (biquad) with f64 coefficients and state.
//!
//! # What
//! [`BiquadCoeffs`] designs the RBJ "Audio EQ Cookbook" filters (R. Bristow-Johnson): low/high-pass,
//! band-pass, notch, peaking, low/high shelf; [`Biquad`] runs one section per channel in transposed direct
//! form II.
//!
//! # How
//! Coefficients are computed and stored in `f64` so that low `f/fs` ratios (e.g. a 20 Hz high-pass at
//! 48 kHz) keep their accuracy; the state is `f64` too. [`BiquadCoeffs::response_db`] evaluates the exact
//! magnitude response of the digital filter for tests and plots.
//!
//! # Real-time safety
//! `process` and `tick` are arithmetic only.

use std::f64::consts::PI;

/// Normalised biquad coefficients (`a0 = 1`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BiquadCoeffs {
    /// Feed-forward coefficients.
    pub b0: f64,
    /// Feed-forward coefficient 1.
    pub b1: f64,
    /// Feed-forward coefficient 2.
    pub b2: f64,
    /// Feedback coefficient 1 (sign as in `y = b·x − a·y`).
    pub a1: f64,
    /// Feedback coefficient 2.
    pub a2: f64,
}

impl BiquadCoeffs {
    /// The identity filter.
    pub const IDENTITY: Self = Self {
        b0: 1.0,
        b1: 0.0,
        b2: 0.0,
        a1: 0.0,
        a2: 0.0,
    };

    fn norm(b0: f64, b1: f64, b2: f64, a0: f64, a1: f64, a2: f64) -> Self {
        Self {
            b0: b0 / a0,
            b1: b1 / a0,
            b2: b2 / a0,
            a1: a1 / a0,
            a2: a2 / a0,
        }
    }

    fn omega(f: f64, fs: f64) -> (f64, f64) {
        let w0 = 2.0 * PI * (f / fs).clamp(1e-6, 0.499_999);
        (w0.cos(), w0.sin())
    }

    /// Low-pass with quality `q` (`q = 1/√2` gives Butterworth).
    pub fn lowpass(f: f64, q: f64, fs: f64) -> Self {
        let (c, s) = Self::omega(f, fs);
        let alpha = s / (2.0 * q);
        Self::norm(
            (1.0 - c) / 2.0,
            1.0 - c,
            (1.0 - c) / 2.0,
            1.0 + alpha,
            -2.0 * c,
            1.0 - alpha,
        )
    }

    /// High-pass with quality `q` (`q = 1/√2` gives Butterworth).
    pub fn highpass(f: f64, q: f64, fs: f64) -> Self {
        let (c, s) = Self::omega(f, fs);
        let alpha = s / (2.0 * q);
        Self::norm(
            (1.0 + c) / 2.0,
            -(1.0 + c),
            (1.0 + c) / 2.0,
            1.0 + alpha,
            -2.0 * c,
            1.0 - alpha,
        )
    }

    /// Band-pass with 0 dB peak gain.
    pub fn bandpass(f: f64, q: f64, fs: f64) -> Self {
        let (c, s) = Self::omega(f, fs);
        let alpha = s / (2.0 * q);
        Self::norm(alpha, 0.0, -alpha, 1.0 + alpha, -2.0 * c, 1.0 - alpha)
    }

    /// Notch.
    pub fn notch(f: f64, q: f64, fs: f64) -> Self {
        let (c, s) = Self::omega(f, fs);
        let alpha = s / (2.0 * q);
        Self::norm(1.0, -2.0 * c, 1.0, 1.0 + alpha, -2.0 * c, 1.0 - alpha)
    }

    /// Peaking EQ with `gain_db` at `f`.
    pub fn peaking(f: f64, q: f64, gain_db: f64, fs: f64) -> Self {
        let (c, s) = Self::omega(f, fs);
        let a = 10f64.powf(gain_db / 40.0);
        let alpha = s / (2.0 * q);
        Self::norm(
            1.0 + alpha * a,
            -2.0 * c,
            1.0 - alpha * a,
            1.0 + alpha / a,
            -2.0 * c,
            1.0 - alpha / a,
        )
    }

    /// Low shelf with `gain_db` below `f` (shelf slope `q` as in the cookbook's Q form).
    pub fn lowshelf(f: f64, q: f64, gain_db: f64, fs: f64) -> Self {
        let (c, s) = Self::omega(f, fs);
        let a = 10f64.powf(gain_db / 40.0);
        let alpha = s / (2.0 * q);
        let k = 2.0 * a.sqrt() * alpha;
        Self::norm(
            a * ((a + 1.0) - (a - 1.0) * c + k),
            2.0 * a * ((a - 1.0) - (a + 1.0) * c),
            a * ((a + 1.0) - (a - 1.0) * c - k),
            (a + 1.0) + (a - 1.0) * c + k,
            -2.0 * ((a - 1.0) + (a + 1.0) * c),
            (a + 1.0) + (a - 1.0) * c - k,
        )
    }

    /// High shelf with `gain_db` above `f`.
    pub fn highshelf(f: f64, q: f64, gain_db: f64, fs: f64) -> Self {
        let (c, s) = Self::omega(f, fs);
        let a = 10f64.powf(gain_db / 40.0);
        let alpha = s / (2.0 * q);
        let k = 2.0 * a.sqrt() * alpha;
        Self::norm(
            a * ((a + 1.0) + (a - 1.0) * c + k),
            -2.0 * a * ((a - 1.0) + (a + 1.0) * c),
            a * ((a + 1.0) + (a - 1.0) * c - k),
            (a + 1.0) - (a - 1.0) * c + k,
            2.0 * ((a - 1.0) - (a + 1.0) * c),
            (a + 1.0) - (a - 1.0) * c - k,
        )
    }

    /// Exact magnitude response in dB of this digital filter at `f` Hz.
    pub fn response_db(&self, f: f64, fs: f64) -> f64 {
        let w = 2.0 * PI * f / fs;
        let (c1, s1, c2, s2) = (w.cos(), w.sin(), (2.0 * w).cos(), (2.0 * w).sin());
        let nr = self.b0 + self.b1 * c1 + self.b2 * c2;
        let ni = -(self.b1 * s1 + self.b2 * s2);
        let dr = 1.0 + self.a1 * c1 + self.a2 * c2;
        let di = -(self.a1 * s1 + self.a2 * s2);
        10.0 * ((nr * nr + ni * ni) / (dr * dr + di * di)).log10()
    }
}

/// One biquad section with its state (one channel).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Biquad {
    /// The coefficients in use.
    pub coeffs: BiquadCoeffs,
    z1: f64,
    z2: f64,
}

impl Default for Biquad {
    fn default() -> Self {
        Self::new(BiquadCoeffs::IDENTITY)
    }
}

impl Biquad {
    /// A section with `coeffs` and zero state.
    pub fn new(coeffs: BiquadCoeffs) -> Self {
        Self {
            coeffs,
            z1: 0.0,
            z2: 0.0,
        }
    }

    /// The transposed-direct-form-II state `(z1, z2)`.
    pub(crate) fn state(&self) -> (f64, f64) {
        (self.z1, self.z2)
    }

    /// Sets the transposed-direct-form-II state (hand-over to and from the 8-lane bank).
    pub(crate) fn set_state(&mut self, z1: f64, z2: f64) {
        self.z1 = z1;
        self.z2 = z2;
    }

    /// Filters one sample.
    #[inline]
    pub fn tick(&mut self, x: f64) -> f64 {
        let c = &self.coeffs;
        let y = c.b0 * x + self.z1;
        // The state update adds the input terms first: the recursion through `y` is then one multiply
        // and one subtraction long (a shorter dependency chain per sample).
        self.z1 = (c.b1 * x + self.z2) - c.a1 * y;
        self.z2 = c.b2 * x - c.a2 * y;
        y
    }

    /// Filters `input` into `output` (same length).
    pub fn process(&mut self, input: &[f32], output: &mut [f32]) {
        for (o, &x) in output.iter_mut().zip(input) {
            *o = self.tick(f64::from(x)) as f32;
        }
        // Flush state that decayed into the denormal range so silence stays cheap.
        if self.z1.abs() < 1e-30 {
            self.z1 = 0.0;
        }
        if self.z2.abs() < 1e-30 {
            self.z2 = 0.0;
        }
    }

    /// Filters `buf` in place.
    pub fn process_in_place(&mut self, buf: &mut [f32]) {
        for s in buf.iter_mut() {
            *s = self.tick(f64::from(*s)) as f32;
        }
    }

    /// Clears the state.
    pub fn reset(&mut self) {
        self.z1 = 0.0;
        self.z2 = 0.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The measured steady-state gain of a sine through the filter equals `response_db`.
    #[test]
    fn measured_response_matches_formula() {
        let fs = 16_000.0;
        let c = BiquadCoeffs::peaking(1000.0, 1.0, 6.0, fs);
        for f in [300.0, 1000.0, 3000.0] {
            let mut bq = Biquad::new(c);
            let n = 32_000;
            let x: Vec<f32> = (0..n)
                .map(|i| (2.0 * PI * f * i as f64 / fs).sin() as f32)
                .collect();
            let mut y = vec![0.0; n];
            bq.process(&x, &mut y);
            let rms =
                |s: &[f32]| (s.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / s.len() as f64).sqrt();
            let g = 20.0 * (rms(&y[16_000..]) / rms(&x[16_000..])).log10();
            assert!(
                (g - c.response_db(f, fs)).abs() < 0.01,
                "f={f}: {g} vs {}",
                c.response_db(f, fs)
            );
        }
        assert!((c.response_db(1000.0, fs) - 6.0).abs() < 1e-9);
    }
}
