//! Parameter plumbing shared by the modulation effects (tremolo, ringmod, flanger, phaser, chorus).
//!
//! # What
//! [`ParamSet`] keeps a node's raw parameter values (in the order of its `ParamInfo` table) together with
//! one [`Smoothed`] ramp per continuous parameter, and the sample rate. Nodes read
//! [`ParamSet::next`] once per frame and [`ParamSet::value`] for discrete parameters (shapes, modes).
//!
//! # How
//! `S` slots map to parameter indices; `prepare` builds [`SMOOTH_MS`] ramps at the stream rate, `reset`
//! jumps every ramp to its value, `set` stores a new value and retargets its ramp.
//!
//! # Real-time safety
//! Fixed-size arrays; every method is arithmetic only.

use tutti_engine::Smoothed;

use super::SMOOTH_MS;

/// `P` parameter values, `S` of them smoothed (see the module docs).
#[derive(Debug, Clone)]
pub(crate) struct ParamSet<const P: usize, const S: usize> {
    values: [f32; P],
    slots: [usize; S],
    sm: [Smoothed; S],
    rate: f64,
}

impl<const P: usize, const S: usize> ParamSet<P, S> {
    /// Values in `ParamInfo` order (missing ones are 0); `slots[k]` is the index smoothed by ramp `k`.
    pub(crate) fn new(values: &[f32], slots: [usize; S]) -> Self {
        let mut v = [0.0; P];
        for (d, s) in v.iter_mut().zip(values) {
            *d = *s;
        }
        Self {
            values: v,
            slots,
            sm: slots.map(|i| Smoothed::new(v[i], 1)),
            rate: 48_000.0,
        }
    }

    /// Builds the ramps for `sample_rate` (from `prepare`), starting at the current values.
    pub(crate) fn prepare(&mut self, sample_rate: u32) {
        self.rate = f64::from(sample_rate);
        self.sm = self
            .slots
            .map(|i| Smoothed::with_time(self.values[i], SMOOTH_MS, sample_rate));
    }

    /// Jumps every ramp to its parameter's value.
    pub(crate) fn reset(&mut self) {
        for (s, &i) in self.sm.iter_mut().zip(&self.slots) {
            s.set_immediate(self.values[i]);
        }
    }

    /// Stores parameter `index` (ignored when out of range) and retargets its ramp if it has one.
    pub(crate) fn set(&mut self, index: usize, value: f32) {
        if let Some(v) = self.values.get_mut(index) {
            *v = value;
        }
        if let Some(k) = self.slots.iter().position(|&i| i == index) {
            self.sm[k].set_target(value);
        }
    }

    /// The next value of every ramp, in slot order.
    #[inline]
    pub(crate) fn next(&mut self) -> [f64; S] {
        self.sm.each_mut().map(|s| f64::from(s.next()))
    }

    /// Whether any ramp is still moving.
    pub(crate) fn ramping(&self) -> bool {
        self.sm.iter().any(Smoothed::is_ramping)
    }

    /// The current (ramped) value of slot `k`.
    pub(crate) fn current(&self, k: usize) -> f64 {
        f64::from(self.sm[k].current())
    }

    /// The raw value of parameter `index`.
    #[inline]
    pub(crate) fn value(&self, index: usize) -> f32 {
        self.values[index]
    }

    /// The stream's sample rate in Hz.
    #[inline]
    pub(crate) fn rate(&self) -> f64 {
        self.rate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ramps_follow_set_and_reset() {
        let mut p: ParamSet<3, 2> = ParamSet::new(&[1.0, 2.0, 3.0], [0, 2]);
        p.prepare(1000);
        assert_eq!(p.next(), [1.0, 3.0]);
        p.set(2, 5.0);
        p.set(1, 7.0);
        assert_eq!(p.value(1), 7.0);
        assert!(p.ramping());
        let mid = p.next()[1];
        assert!(mid > 3.0 && mid < 5.0, "{mid}");
        p.reset();
        assert_eq!(p.next(), [1.0, 5.0]);
        p.set(9, 1.0); // out of range: ignored
        assert_eq!(p.rate(), 1000.0);
    }
}
