//! Low-frequency oscillator with sox's sine and triangle shapes.
//!
//! # What
//! [`Lfo`] keeps a phase in cycles (`[0, 1)`, `f64`) and returns a unipolar value in `[0, 1]`:
//! - sine: `(sin(2πφ) + 1) / 2`;
//! - triangle: `2φ + ½` for `φ < ¼`, `3/2 − 2φ` for `φ < ¾`, `2φ − 3/2` otherwise;
//!
//! both reach 1 at `φ = ¼` and 0 at `φ = ¾`, as in sox's `lsx_generate_wave_table`, so that a flanger
//! started at `φ = ¾` starts at its minimum delay like sox's.
//!
//! # Real-time safety
//! Arithmetic only.

/// Wave shape of an [`Lfo`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LfoShape {
    /// `(sin(2πφ) + 1) / 2`.
    Sine,
    /// Piecewise-linear triangle with the sine's extremes.
    Triangle,
}

/// Choice names of an LFO shape parameter, in index order.
pub(crate) const LFO_SHAPES: &[&str] = &["sine", "triangle"];

impl LfoShape {
    /// The shape for a choice index (0 = sine, 1 = triangle).
    pub(crate) fn from_index(v: f32) -> Self {
        if v >= 0.5 {
            Self::Triangle
        } else {
            Self::Sine
        }
    }

    /// The unipolar value in `[0, 1]` at phase `phase` (cycles, any real number).
    #[inline]
    pub(crate) fn eval(self, phase: f64) -> f64 {
        let p = phase - phase.floor();
        match self {
            Self::Sine => ((2.0 * std::f64::consts::PI * p).sin() + 1.0) * 0.5,
            Self::Triangle => {
                if p < 0.25 {
                    2.0 * p + 0.5
                } else if p < 0.75 {
                    1.5 - 2.0 * p
                } else {
                    2.0 * p - 1.5
                }
            }
        }
    }
}

/// A phase accumulator.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Lfo {
    /// Phase in cycles, in `[0, 1)`.
    pub(crate) phase: f64,
}

impl Lfo {
    /// An oscillator at `phase` cycles.
    pub(crate) fn new(phase: f64) -> Self {
        Self {
            phase: phase - phase.floor(),
        }
    }

    /// Advances by `inc` cycles (frequency / sample rate).
    #[inline]
    pub(crate) fn advance(&mut self, inc: f64) {
        self.phase += inc;
        if self.phase >= 1.0 {
            self.phase -= 1.0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_share_extremes() {
        for s in [LfoShape::Sine, LfoShape::Triangle] {
            assert!((s.eval(0.25) - 1.0).abs() < 1e-12);
            assert!(s.eval(0.75).abs() < 1e-12);
            assert!((s.eval(0.0) - 0.5).abs() < 1e-12);
            assert!((s.eval(1.5) - 0.5).abs() < 1e-12);
        }
        assert!((LfoShape::Triangle.eval(0.125) - 0.75).abs() < 1e-12);
    }
}
