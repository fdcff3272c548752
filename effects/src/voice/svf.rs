//! Topology-preserving-transform (TPT) state-variable filter.
//!
//! # What
//! [`Svf`] is a second-order filter whose coefficients may change every sample without the transients and
//! instability of a direct-form biquad: use it for modulated EQ bands. It realises the same transfer
//! functions as the RBJ cookbook filters (low/high/band-pass, notch, peaking, shelves).
//!
//! # How
//! V. Zavalishin, "The Art of VA Filter Design" (2012), ch. 3–4: the analogue SVF integrated with the
//! trapezoidal rule and the zero-delay feedback loop solved in closed form, in the form of A. Simper,
//! "Linear trapezoidal integrated SVF" (Cytomic, 2013): `g = tan(π f/fs)`, `k = 1/Q`, output
//! `m0·v0 + m1·v1 + m2·v2`. Bell and shelf gains follow Simper's mixing coefficients, which make the
//! response identical to the RBJ designs with the same `f`, `Q` and gain (bilinear transform prewarped at
//! `f`).
//!
//! # Real-time safety
//! Arithmetic only.

use std::f64::consts::PI;

/// Filter shapes of the SVF (and of the EQ bands).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SvfShape {
    /// Second-order low-pass.
    LowPass,
    /// Second-order high-pass.
    HighPass,
    /// Band-pass with 0 dB peak gain.
    BandPass,
    /// Notch.
    Notch,
    /// Peaking (bell) with gain.
    Peak,
    /// Low shelf with gain.
    LowShelf,
    /// High shelf with gain.
    HighShelf,
}

/// Coefficients of one SVF setting.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SvfCoeffs {
    a1: f64,
    a2: f64,
    a3: f64,
    m0: f64,
    m1: f64,
    m2: f64,
}

impl SvfCoeffs {
    /// Designs `shape` at `f` Hz with quality `q` and `gain_db` (peak and shelves) for rate `fs`.
    pub fn new(shape: SvfShape, f: f64, q: f64, gain_db: f64, fs: f64) -> Self {
        let w = PI * (f / fs).clamp(1e-6, 0.499_999);
        let a = 10f64.powf(gain_db / 40.0);
        let q = q.max(1e-3);
        let (mut g, mut k) = (w.tan(), 1.0 / q);
        let (m0, m1, m2) = match shape {
            SvfShape::LowPass => (0.0, 0.0, 1.0),
            SvfShape::HighPass => (1.0, -k, -1.0),
            SvfShape::BandPass => (0.0, k, 0.0),
            SvfShape::Notch => (1.0, -k, 0.0),
            SvfShape::Peak => {
                k = 1.0 / (q * a);
                (1.0, k * (a * a - 1.0), 0.0)
            }
            SvfShape::LowShelf => {
                g /= a.sqrt();
                (1.0, k * (a - 1.0), a * a - 1.0)
            }
            SvfShape::HighShelf => {
                g *= a.sqrt();
                (a * a, k * (1.0 - a) * a, 1.0 - a * a)
            }
        };
        let a1 = 1.0 / (1.0 + g * (g + k));
        let a2 = g * a1;
        let a3 = g * a2;
        Self {
            a1,
            a2,
            a3,
            m0,
            m1,
            m2,
        }
    }
}

/// One SVF section with its state.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Svf {
    /// Coefficients in use (may change every sample).
    pub coeffs: SvfCoeffs,
    ic1: f64,
    ic2: f64,
}

impl Svf {
    /// A section with `coeffs` and zero state.
    pub fn new(coeffs: SvfCoeffs) -> Self {
        Self {
            coeffs,
            ic1: 0.0,
            ic2: 0.0,
        }
    }

    /// Filters one sample.
    #[inline]
    pub fn tick(&mut self, v0: f64) -> f64 {
        let c = &self.coeffs;
        let v3 = v0 - self.ic2;
        let v1 = c.a1 * self.ic1 + c.a2 * v3;
        let v2 = self.ic2 + c.a2 * self.ic1 + c.a3 * v3;
        self.ic1 = 2.0 * v1 - self.ic1;
        self.ic2 = 2.0 * v2 - self.ic2;
        c.m0 * v0 + c.m1 * v1 + c.m2 * v2
    }

    /// Clears the state.
    pub fn reset(&mut self) {
        self.ic1 = 0.0;
        self.ic2 = 0.0;
    }

    /// Flushes denormal-range state to zero.
    pub fn flush(&mut self) {
        if self.ic1.abs() < 1e-30 {
            self.ic1 = 0.0;
        }
        if self.ic2.abs() < 1e-30 {
            self.ic2 = 0.0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::basic::BiquadCoeffs;

    /// Magnitude response from the impulse response via a DFT at one frequency.
    fn measured_db(mut f: impl FnMut(f64) -> f64, freq: f64, fs: f64) -> f64 {
        let n = 1 << 15;
        let (mut re, mut im) = (0.0, 0.0);
        for i in 0..n {
            let h = f(if i == 0 { 1.0 } else { 0.0 });
            let ph = 2.0 * PI * freq * i as f64 / fs;
            re += h * ph.cos();
            im -= h * ph.sin();
        }
        10.0 * (re * re + im * im).log10()
    }

    #[test]
    fn svf_equals_rbj_response() {
        let fs = 48_000.0;
        let cases: [(SvfShape, fn(f64, f64, f64, f64) -> BiquadCoeffs); 7] = [
            (SvfShape::LowPass, |f, q, _g, fs| BiquadCoeffs::lowpass(f, q, fs)),
            (SvfShape::HighPass, |f, q, _g, fs| {
                BiquadCoeffs::highpass(f, q, fs)
            }),
            (SvfShape::BandPass, |f, q, _g, fs| {
                BiquadCoeffs::bandpass(f, q, fs)
            }),
            (SvfShape::Notch, |f, q, _g, fs| BiquadCoeffs::notch(f, q, fs)),
            (SvfShape::Peak, |f, q, g, fs| BiquadCoeffs::peaking(f, q, g, fs)),
            (SvfShape::LowShelf, |f, q, g, fs| {
                BiquadCoeffs::lowshelf(f, q, g, fs)
            }),
            (SvfShape::HighShelf, |f, q, g, fs| {
                BiquadCoeffs::highshelf(f, q, g, fs)
            }),
        ];
        for (shape, rbj) in cases {
            let (f0, q, g) = (1200.0, 0.9, 7.5);
            let c = rbj(f0, q, g, fs);
            for freq in [100.0, 700.0, 1200.0, 2500.0, 9000.0] {
                let mut s = Svf::new(SvfCoeffs::new(shape, f0, q, g, fs));
                let got = measured_db(|x| s.tick(x), freq, fs);
                let want = c.response_db(freq, fs);
                if want > -60.0 {
                    assert!(
                        (got - want).abs() < 1e-6,
                        "{shape:?} at {freq} Hz: {got} vs {want}"
                    );
                }
            }
        }
    }
}
