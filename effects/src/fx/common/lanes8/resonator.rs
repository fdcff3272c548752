//! The band-pass resonator's 8-lane kernel: a bank of 2-pole resonators summed and mixed with the
//! input on planar rows, one channel per lane.
//!
//! # What
//! [`resonator_planar`] runs the first `sections` (at most [`MAX_SECTIONS`]) sections of a
//! [`ResonatorBank`] — the all-pole parts of RBJ band-pass biquads (R. Bristow-Johnson, *Audio EQ
//! Cookbook*), their zeros `1 − z⁻²` and gain `b0` shared — and returns `dry·x + gain·Σ_s w_s`.
//!
//! # How
//! A band-pass section `b0·(1 − z⁻²)/(1 − na1·z⁻¹ − na2·z⁻²)` is run as the shared numerator
//! `v = x − x[n−2]` followed by the direct-form all-pole recursion `w = v + na2·w[n−2] + na1·w[n−1]`
//! (one fused multiply-add on the loop-carried path); the sections' outputs are summed and scaled once
//! by `wet·b0`. The frame loop is the parent module's (`AvxRun`, which loads and transposes the next
//! tile ahead, on AVX2/FMA CPUs; `Base` elsewhere).
//!
//! # Real-time safety
//! Arithmetic on caller-provided buffers and stack values only; the one `unsafe` block enters the
//! `#[target_feature(enable = "avx2,fma")]` variant after the CPU feature check.

use super::{flush8, Base, Frame, Lanes, Runner};
#[cfg(target_arch = "x86_64")]
use super::{has_avx2_fma, AvxRun};
use crate::basic::simd8::{LANES, V8};

/// Most resonator sections per bank.
pub(crate) const MAX_SECTIONS: usize = 16;

/// A bank of resonators on 8 lanes: coefficients (`na1 = −a1`, `na2 = −a2` of each section) and the
/// direct-form state.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ResonatorBank {
    /// `−a1` of every section, per lane.
    pub na1: [V8; MAX_SECTIONS],
    /// `−a2` of every section, per lane.
    pub na2: [V8; MAX_SECTIONS],
    /// All-pole outputs one frame earlier.
    pub w1: [V8; MAX_SECTIONS],
    /// All-pole outputs two frames earlier.
    pub w2: [V8; MAX_SECTIONS],
    /// Inputs one and two frames earlier (the shared zeros).
    pub x1: V8,
    /// Input two frames earlier.
    pub x2: V8,
}

impl ResonatorBank {
    /// Zeroes the state (coefficients kept).
    pub(crate) fn clear(&mut self) {
        self.w1 = [[0.0; LANES]; MAX_SECTIONS];
        self.w2 = [[0.0; LANES]; MAX_SECTIONS];
        self.x1 = [0.0; LANES];
        self.x2 = [0.0; LANES];
    }
}

#[derive(Clone, Copy)]
struct Resonators<const K: usize, T> {
    na1: [T; K],
    na2: [T; K],
    w1: [T; K],
    w2: [T; K],
    x1: T,
    x2: T,
    dry: T,
    wet: T,
}

impl<const K: usize, T: Lanes> Frame<T> for Resonators<K, T> {
    #[inline(always)]
    fn frame(&mut self, x: T) -> T {
        let v = x.sub(self.x2);
        self.x2 = self.x1;
        self.x1 = x;
        let mut acc = T::splat(0.0);
        for k in 0..K {
            let t = self.na2[k].madd(self.w2[k], v);
            let w = self.na1[k].madd(self.w1[k], t);
            self.w2[k] = self.w1[k];
            self.w1[k] = w;
            acc = if k == 0 { w } else { acc.add(w) };
        }
        self.dry.madd(x, self.wet.mul(acc))
    }
}

#[inline(always)]
fn resonators_body<const K: usize, R: Runner>(
    bank: &mut ResonatorBank,
    dry: f32,
    wet: f32,
    ins: &[&[f32]],
    outs: &mut [&mut [f32]],
    frames: usize,
) {
    let mut k = Resonators::<K, R::T> {
        na1: std::array::from_fn(|k| R::T::load(&bank.na1[k])),
        na2: std::array::from_fn(|k| R::T::load(&bank.na2[k])),
        w1: std::array::from_fn(|k| R::T::load(&bank.w1[k])),
        w2: std::array::from_fn(|k| R::T::load(&bank.w2[k])),
        x1: R::T::load(&bank.x1),
        x2: R::T::load(&bank.x2),
        dry: R::T::splat(dry),
        wet: R::T::splat(wet),
    };
    R::run(&mut k, ins, outs, frames);
    for (d, s) in bank.w1.iter_mut().zip(&k.w1) {
        *d = s.store();
        flush8(d);
    }
    for (d, s) in bank.w2.iter_mut().zip(&k.w2) {
        *d = s.store();
        flush8(d);
    }
    bank.x1 = k.x1.store();
    bank.x2 = k.x2.store();
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn resonators_avx<const K: usize>(
    bank: &mut ResonatorBank,
    dry: f32,
    wet: f32,
    ins: &[&[f32]],
    outs: &mut [&mut [f32]],
    frames: usize,
) {
    resonators_body::<K, AvxRun>(bank, dry, wet, ins, outs, frames);
}

fn resonators_k<const K: usize>(
    bank: &mut ResonatorBank,
    dry: f32,
    wet: f32,
    ins: &[&[f32]],
    outs: &mut [&mut [f32]],
    frames: usize,
) {
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        // SAFETY: the CPU supports AVX2 and FMA (checked just above), the only requirement of the
        // `#[target_feature]` function.
        unsafe { resonators_avx::<K>(bank, dry, wet, ins, outs, frames) };
        return;
    }
    resonators_body::<K, Base>(bank, dry, wet, ins, outs, frames);
}

/// The first `sections` resonators of `bank` (at most [`MAX_SECTIONS`]) on planar `ins` into planar
/// `outs` (at most 8 rows each, every row at least `frames` long; missing input lanes run on zeros):
/// `out = dry·x + gain·Σ_s w_s` with `w_s = (1 − z⁻²)/(1 − na1_s z⁻¹ − na2_s z⁻²) x` — band-pass
/// sections with the common numerator gain `b0` when `gain = wet·b0`.
pub(crate) fn resonator_planar(
    bank: &mut ResonatorBank,
    sections: usize,
    dry: f32,
    gain: f32,
    ins: &[&[f32]],
    outs: &mut [&mut [f32]],
    frames: usize,
) {
    let ins = &ins[..ins.len().min(LANES)];
    let n_out = outs.len().min(LANES);
    let outs = &mut outs[..n_out];
    macro_rules! by_count {
        ($($k:literal)*) => {
            match sections.min(MAX_SECTIONS) {
                $($k => resonators_k::<$k>(bank, dry, gain, ins, outs, frames),)*
                _ => resonators_k::<MAX_SECTIONS>(bank, dry, gain, ins, outs, frames),
            }
        };
    }
    by_count!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15);
}

/// The baseline kernel (what CPUs without AVX2/FMA run) agrees with the dispatched one, including
/// partial tiles and fewer than 8 channels.
#[cfg(test)]
mod tests {
    use super::super::test_signal;
    use super::*;

    #[test]
    fn baseline_and_dispatched_kernels_agree() {
        for (channels, frames) in [(8, 203), (5, 64), (8, 7)] {
            let x: Vec<Vec<f32>> = (0..channels).map(|c| test_signal(c, frames)).collect();
            let ins: Vec<&[f32]> = x.iter().map(|v| v.as_slice()).collect();
            let mut bank = ResonatorBank::default();
            for k in 0..3 {
                let w = 0.05 * (k + 1) as f32;
                bank.na1[k] = [2.0 * 0.999 * w.cos(); LANES];
                bank.na2[k] = [-0.999 * 0.999; LANES];
            }
            let mut bank2 = bank;
            let mut r1 = vec![vec![0.0f32; frames]; channels];
            let mut r2 = r1.clone();
            {
                let mut o1: Vec<&mut [f32]> = r1.iter_mut().map(|v| v.as_mut_slice()).collect();
                let mut o2: Vec<&mut [f32]> = r2.iter_mut().map(|v| v.as_mut_slice()).collect();
                resonator_planar(&mut bank, 3, 0.3, 0.01, &ins, &mut o1, frames);
                resonators_body::<3, Base>(&mut bank2, 0.3, 0.01, &ins, &mut o2, frames);
            }
            for (a, b) in r1.iter().flatten().zip(r2.iter().flatten()) {
                assert!((a - b).abs() < 1e-3 * (1.0 + b.abs()), "resonator {a} {b}");
            }
            assert!(r1.iter().flatten().any(|v| v.abs() > 0.01));
        }
    }
}
