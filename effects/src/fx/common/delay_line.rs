//! A ring-buffer delay line with fractional reads.
//!
//! # What
//! [`DelayLine`] stores the last `capacity` samples (`f64`). After [`DelayLine::push`] of `x[n]`,
//! [`DelayLine::at`]`(d)` returns `x[n − d]` (so `d = 0` is the sample just pushed), and the fractional
//! reads interpolate between `x[n − i]` and `x[n − i − 1]` (and `x[n − i − 2]` for the quadratic one) for
//! a delay `i + f`.
//!
//! # How
//! The capacity is rounded up to a power of two so that indexing is a mask. Linear interpolation is
//! `x₀ + (x₁ − x₀)f`; the quadratic one is the three-point Lagrange parabola through `x₀, x₁, x₂`, written
//! as in sox's flanger: `a = (x₂ − x₀)/2 − (x₁ − x₀)`, `b = 2(x₁ − x₀) − (x₂ − x₀)/2`,
//! `y = x₀ + (a f + b) f`.
//!
//! # Real-time safety
//! `new` allocates; `push`, the reads and `clear` do not.

/// A delay line of `f64` samples.
#[derive(Debug, Clone)]
pub(crate) struct DelayLine {
    buf: Vec<f64>,
    mask: usize,
    pos: usize,
}

impl DelayLine {
    /// A line that can delay by at least `max_delay` samples (plus two for the interpolators).
    pub(crate) fn new(max_delay: usize) -> Self {
        let cap = (max_delay + 4).next_power_of_two();
        Self {
            buf: vec![0.0; cap],
            mask: cap - 1,
            pos: 0,
        }
    }

    /// Appends `x[n]`.
    #[inline]
    pub(crate) fn push(&mut self, x: f64) {
        self.pos = (self.pos + 1) & self.mask;
        self.buf[self.pos] = x;
    }

    /// `x[n − d]` for an integer delay.
    #[inline]
    pub(crate) fn at(&self, d: usize) -> f64 {
        self.buf[self.pos.wrapping_sub(d) & self.mask]
    }

    /// Linear interpolation at a delay of `d ≥ 0` samples.
    #[inline]
    pub(crate) fn linear(&self, d: f64) -> f64 {
        let i = d as usize;
        let f = d - i as f64;
        let x0 = self.at(i);
        let x1 = self.at(i + 1);
        x0 + (x1 - x0) * f
    }

    /// Three-point (quadratic) interpolation at a delay of `d ≥ 0` samples.
    #[inline]
    pub(crate) fn quadratic(&self, d: f64) -> f64 {
        let i = d as usize;
        let f = d - i as f64;
        let x0 = self.at(i);
        let x1 = self.at(i + 1) - x0;
        let x2 = self.at(i + 2) - x0;
        let a = x2 * 0.5 - x1;
        let b = x1 * 2.0 - x2 * 0.5;
        x0 + (a * f + b) * f
    }

    /// Zeroes the contents.
    pub(crate) fn clear(&mut self) {
        self.buf.fill(0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_match_definitions() {
        let mut d = DelayLine::new(10);
        for i in 0..20 {
            d.push(f64::from(i * i));
        }
        // Newest is 19² = 361.
        assert_eq!(d.at(0), 361.0);
        assert_eq!(d.at(3), 256.0);
        assert_eq!(d.linear(1.5), (324.0 + 289.0) / 2.0);
        // A parabola is reproduced exactly by the quadratic interpolator: x(t) = (19 − t)².
        assert!((d.quadratic(2.25) - (19.0f64 - 2.25).powi(2)).abs() < 1e-9);
    }
}
