//! The phaser's 8-lane kernel: a chain of first-order all-pass stages with feedback on planar rows,
//! one channel per lane.
//!
//! # What
//! [`allpass_planar`] runs up to [`MAX_STAGES`] all-pass stages `A(z) = (a + z⁻¹)/(1 + a z⁻¹)` with the
//! chain's output fed back into its input and mixed with the dry signal; [`AllpassRamp`] carries a
//! block's coefficient ramps and [`AllpassState`] the chain's state between blocks (cascade form).
//!
//! # How
//! The recursion is arranged so the loop-carried chains are short (the CPU overlaps consecutive frames
//! only as far as the longest chain allows). The coefficients are held over control segments of 16
//! frames, so within a segment the chain of `K` first-order all-passes is time-invariant. With
//! `g = 1 − a²` and `G(z) = z⁻¹/(1 + a z⁻¹)`, `A = a + g·G`, so a group of `m ≤ 4` stages is the
//! binomial expansion `Aᵐ = Σ_j C(m, j)·a^{m−j}·g^j·Gʲ`: one repeated pole `−a`, states
//! `v_j = Gʲ·(input)` updated as `v_1 ← −a·v_1 + in`, `v_j ← −a·v_j + v_{j−1}` (one fused multiply-add
//! each, no chain through the stages inside a frame) and output `aᵐ·in + Σ_j C(m, j)·a^{m−j}·g^j·v_j`
//! from the states at the frame's start. The feedback loop per frame is then `u = x + fb·L`,
//! `L = aᵐ·u + S` (two fused multiply-adds; the direct cascade needs `K + 1`), and every other loop is at
//! most as long per frame. Longer chains are groups of four in cascade (the cancellation in the output
//! sum is bounded by `(1 + 2|a|)ᵐ ≤ 81` for `m = 4`, which keeps `f32` accurate; a single group of 12
//! would not be). The cascade's stage states `z_k` (kept between blocks) and the group states are
//! related by the Pascal matrix `B(a)` (`B(a)_{kj} = C(k − 1, j − 1)·a^{k−j}`, `k, j = 1..m`):
//! `z = B(a)·diag(gᵏ)·v`; at a segment boundary the states are re-expressed for the new `a` through
//! `B(x)·B(y) = B(x + y)` (Call & Velleman, "Pascal's matrices", *Amer. Math. Monthly* 100 (1993)) as
//! `v' = B((a − a')/g')·diag((g/g')ᵏ)·v`, so the chain behaves exactly like the cascade with the
//! coefficient switched between frames. Per frame and stage about three vector operations. The frame
//! loop is the parent module's (`AvxLean` on AVX2/FMA CPUs, `Base` elsewhere).
//!
//! # Real-time safety
//! Arithmetic on caller-provided buffers and stack values only; the one `unsafe` block enters the
//! `#[target_feature(enable = "avx2,fma")]` variant after the CPU feature check.

use super::{flush8, Base, Frame, Lanes, Runner, SEGMENT};
#[cfg(target_arch = "x86_64")]
use super::{has_avx2_fma, AvxLean};
use crate::basic::simd8::{LANES, V8};

/// Most all-pass stages per chain.
pub(crate) const MAX_STAGES: usize = 12;

/// Coefficient ramps of one block of [`allpass_planar`]: every value at the block's first frame and its
/// increment per frame, per lane. The kernel samples them at the middle of each control segment.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AllpassRamp {
    /// Stage coefficient `a` (every stage of a lane shares it).
    pub a: V8,
    /// Increment of `a` per frame.
    pub da: V8,
    /// Feedback of the chain's output into its input.
    pub fb: f32,
    /// Feedback increment per frame.
    pub dfb: f32,
    /// Share of the chain's output in the result (`(1 − mix)·x + mix·chain`).
    pub mix: f32,
    /// Mix increment per frame.
    pub dmix: f32,
}

/// State of an all-pass chain on 8 lanes, in the cascade form of [`allpass_planar`] (the kernel works in
/// the binomial form inside a block and converts on entry and exit).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct AllpassState {
    /// Stage states `z_k`.
    pub z: [V8; MAX_STAGES],
    /// The chain's output one frame earlier (the feedback source).
    pub last: V8,
}

/// Stages per binomial group.
const GROUP: usize = 4;

/// Over the group `v[lo..lo + m]`: `v[lo + k] ← Σ_{j ≤ k} C(k, j)·d^{k−j}·v[lo + j]` (the Pascal matrix
/// `B(d)`, by a Taylor shift).
#[inline(always)]
fn taylor_shift<T: Lanes, const K: usize>(v: &mut [T; K], lo: usize, m: usize, d: T) {
    for i in 1..m {
        for k in (i..m).rev() {
            v[lo + k] = d.madd(v[lo + k - 1], v[lo + k]);
        }
    }
}

/// Over the group `v[lo..lo + m]`: `v[lo + k] ← f^{k+1}·v[lo + k]`.
#[inline(always)]
fn scale_powers<T: Lanes, const K: usize>(v: &mut [T; K], lo: usize, m: usize, f: T) {
    let mut p = f;
    for k in 0..m {
        v[lo + k] = v[lo + k].mul(p);
        p = p.mul(f);
    }
}

/// Output weights of a group of `m ≤ 4` stages, `C(m, j)·a^{m−j}·g^j` for `j = 1..=m` (index `j − 1`),
/// and the direct gain `a^m` (straight-line code: `m` is a constant where it is inlined).
#[inline(always)]
fn group_weights<T: Lanes>(m: usize, a: T, g: T) -> ([T; GROUP], T) {
    let z = T::splat(0.0);
    let c = T::splat;
    match m {
        1 => ([g, z, z, z], a),
        2 => ([c(2.0).mul(a).mul(g), g.mul(g), z, z], a.mul(a)),
        3 => {
            let (a2, g2) = (a.mul(a), g.mul(g));
            (
                [c(3.0).mul(a2).mul(g), c(3.0).mul(a).mul(g2), g2.mul(g), z],
                a2.mul(a),
            )
        }
        _ => {
            let (a2, g2, ag) = (a.mul(a), g.mul(g), a.mul(g));
            let w = [
                c(4.0).mul(a2).mul(ag),
                c(6.0).mul(a2).mul(g2),
                c(4.0).mul(ag).mul(g2),
                g2.mul(g2),
            ];
            (w, a2.mul(a2))
        }
    }
}

#[derive(Clone, Copy)]
struct Allpass<const K: usize, T> {
    /// Binomial-form states, group after group.
    v: [T; K],
    /// The chain's output one frame earlier.
    last: T,
    /// The segment's `a`, `g = 1 − a²` and `−a`.
    a: T,
    g: T,
    na: T,
    /// Output weights and direct gain of a full group.
    w: [T; GROUP],
    aw: T,
    /// The same for the last group (shorter when `K` is not a multiple of 4).
    wl: [T; GROUP],
    al: T,
    fb: T,
    mix: T,
    /// The block's ramps.
    a0: T,
    da: T,
    fb0: f32,
    dfb: f32,
    mix0: f32,
    dmix: f32,
}

impl<const K: usize, T: Lanes> Allpass<K, T> {
    const GROUPS: usize = K.div_ceil(GROUP);
    /// Stages in the last group.
    const LAST: usize = K - (K.div_ceil(GROUP) - 1) * GROUP;

    /// First stage and size of group `b`.
    #[inline(always)]
    fn group(b: usize) -> (usize, usize) {
        (b * GROUP, if b + 1 == Self::GROUPS { Self::LAST } else { GROUP })
    }

    /// `a` and `g` held over the segment `start..end` (the ramp at its middle).
    #[inline(always)]
    fn held(&self, start: usize, end: usize) -> (T, T) {
        let mid = T::splat((start + end - 1) as f32 * 0.5);
        let a = mid.madd(self.da, self.a0);
        (a, a.nmadd(a, T::splat(1.0)))
    }

    /// Cascade states `z` → binomial states `v` at `a`, `g`: `v = diag(g^{−k})·B(−a)·z` per group.
    #[inline(always)]
    fn switch_to_binomial(&mut self) {
        let rho = T::splat(1.0).div(self.g);
        let na = T::splat(0.0).sub(self.a);
        for b in 0..Self::GROUPS {
            let (lo, m) = Self::group(b);
            taylor_shift(&mut self.v, lo, m, na);
            scale_powers(&mut self.v, lo, m, rho);
        }
    }

    /// Binomial states → cascade states at `a`, `g`: `z = B(a)·diag(g^k)·v` per group.
    #[inline(always)]
    fn switch_to_cascade(&mut self) {
        let (a, g) = (self.a, self.g);
        for b in 0..Self::GROUPS {
            let (lo, m) = Self::group(b);
            scale_powers(&mut self.v, lo, m, g);
            taylor_shift(&mut self.v, lo, m, a);
        }
    }
}

impl<const K: usize, T: Lanes> Frame<T> for Allpass<K, T> {
    #[inline(always)]
    fn frame(&mut self, x: T) -> T {
        let mut y = self.fb.madd(self.last, x);
        for b in 0..Self::GROUPS {
            let (lo, m) = Self::group(b);
            let (w, aw) = if b + 1 == Self::GROUPS {
                (&self.wl, self.al)
            } else {
                (&self.w, self.aw)
            };
            // The group's output from the states at the frame's start (`v_1` last: it is the newest).
            let mut s = w[m - 1].mul(self.v[lo + m - 1]);
            for j in (0..m - 1).rev() {
                s = w[j].madd(self.v[lo + j], s);
            }
            let out = aw.madd(y, s);
            for j in (1..m).rev() {
                self.v[lo + j] = self.na.madd(self.v[lo + j], self.v[lo + j - 1]);
            }
            self.v[lo] = self.na.madd(self.v[lo], y);
            y = out;
        }
        let r = self.mix.madd(y.sub(x), x);
        self.last = y;
        r
    }

    #[inline(always)]
    fn segment(&mut self, start: usize, end: usize) {
        let (a, g) = self.held(start, end);
        if start > 0 {
            // Re-express the state at the new `a`: z = B(a_old)·diag(g_old^k)·v_old and
            // v_new = diag(g_new^{−k})·B(−a_new)·z = B(δ)·diag(r^k)·v_old with r = g_old/g_new and
            // δ = (a_old − a_new)/g_new (Pascal matrices: B(x)·B(y) = B(x + y)).
            let rho = T::splat(1.0).div(g);
            let r = self.g.mul(rho);
            let d = self.a.sub(a).mul(rho);
            for b in 0..Self::GROUPS {
                let (lo, m) = Self::group(b);
                scale_powers(&mut self.v, lo, m, r);
                taylor_shift(&mut self.v, lo, m, d);
            }
        }
        self.a = a;
        self.g = g;
        self.na = T::splat(0.0).sub(a);
        if Self::GROUPS > 1 {
            (self.w, self.aw) = group_weights(GROUP, a, g);
        }
        (self.wl, self.al) = group_weights(Self::LAST, a, g);
        let mid = (start + end - 1) as f32 * 0.5;
        self.fb = T::splat(self.fb0 + mid * self.dfb);
        self.mix = T::splat(self.mix0 + mid * self.dmix);
    }
}

#[inline(always)]
fn allpass_body<const K: usize, R: Runner>(
    st: &mut AllpassState,
    r: &AllpassRamp,
    ins: &[&[f32]],
    outs: &mut [&mut [f32]],
    frames: usize,
) {
    if frames == 0 {
        return;
    }
    let zero = R::T::splat(0.0);
    let mut k = Allpass::<K, R::T> {
        v: std::array::from_fn(|k| R::T::load(&st.z[k])),
        last: R::T::load(&st.last),
        a: zero,
        g: zero,
        na: zero,
        w: [zero; GROUP],
        aw: zero,
        wl: [zero; GROUP],
        al: zero,
        fb: zero,
        mix: zero,
        a0: R::T::load(&r.a),
        da: R::T::load(&r.da),
        fb0: r.fb,
        dfb: r.dfb,
        mix0: r.mix,
        dmix: r.dmix,
    };
    (k.a, k.g) = k.held(0, SEGMENT.min(frames));
    k.switch_to_binomial();
    R::run(&mut k, ins, outs, frames);
    k.switch_to_cascade();
    for (d, s) in st.z.iter_mut().zip(&k.v) {
        *d = s.store();
        flush8(d);
    }
    st.last = k.last.store();
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn allpass_avx<const K: usize>(
    st: &mut AllpassState,
    r: &AllpassRamp,
    ins: &[&[f32]],
    outs: &mut [&mut [f32]],
    frames: usize,
) {
    allpass_body::<K, AvxLean>(st, r, ins, outs, frames);
}

fn allpass_k<const K: usize>(
    st: &mut AllpassState,
    r: &AllpassRamp,
    ins: &[&[f32]],
    outs: &mut [&mut [f32]],
    frames: usize,
) {
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        // SAFETY: the CPU supports AVX2 and FMA (checked just above), the only requirement of the
        // `#[target_feature]` function.
        unsafe { allpass_avx::<K>(st, r, ins, outs, frames) };
        return;
    }
    allpass_body::<K, Base>(st, r, ins, outs, frames);
}

/// The phaser core from planar `ins` to planar `outs` (at most 8 rows each, every row at least `frames`
/// long; missing input lanes run on zeros): per frame `u = x + fb·last`, then every stage
/// `y = a·u + z; z = u − a·y; u = y` (first-order all-pass `(a + z⁻¹)/(1 + a z⁻¹)`), `last = u`,
/// output `(1 − mix)·x + mix·u`. `a`, `fb` and `mix` are held over control segments of 16 frames
/// (frames `16s..16s + 16` of the block, the last one possibly shorter) at their ramps' values
/// `a + m·da` etc. at the segment's middle `m = (first + last)/2`. `stages` is clamped to
/// `1..=MAX_STAGES`. State values in the denormal range are flushed at the end.
pub(crate) fn allpass_planar(
    st: &mut AllpassState,
    stages: usize,
    r: &AllpassRamp,
    ins: &[&[f32]],
    outs: &mut [&mut [f32]],
    frames: usize,
) {
    let ins = &ins[..ins.len().min(LANES)];
    let n_out = outs.len().min(LANES);
    let outs = &mut outs[..n_out];
    match stages.clamp(1, MAX_STAGES) {
        1 => allpass_k::<1>(st, r, ins, outs, frames),
        2 => allpass_k::<2>(st, r, ins, outs, frames),
        3 => allpass_k::<3>(st, r, ins, outs, frames),
        4 => allpass_k::<4>(st, r, ins, outs, frames),
        5 => allpass_k::<5>(st, r, ins, outs, frames),
        6 => allpass_k::<6>(st, r, ins, outs, frames),
        7 => allpass_k::<7>(st, r, ins, outs, frames),
        8 => allpass_k::<8>(st, r, ins, outs, frames),
        9 => allpass_k::<9>(st, r, ins, outs, frames),
        10 => allpass_k::<10>(st, r, ins, outs, frames),
        11 => allpass_k::<11>(st, r, ins, outs, frames),
        _ => allpass_k::<12>(st, r, ins, outs, frames),
    }
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
            let ramp = AllpassRamp {
                a: std::array::from_fn(|l| -0.5 + 0.05 * l as f32),
                da: [0.0005; LANES],
                fb: 0.5,
                dfb: -0.001,
                mix: 0.5,
                dmix: 0.001,
            };
            // One group of 4, a short group alone, and groups of 4 + 3 and 4 + 4 + 4; two blocks each (the
            // state carried over in the cascade form).
            let mut y1 = vec![vec![0.0f32; frames]; channels];
            let mut y2 = y1.clone();
            for stages in [4, 1, 7, 12] {
                let (mut s1, mut s2) = (AllpassState::default(), AllpassState::default());
                for _ in 0..2 {
                    let mut o1: Vec<&mut [f32]> = y1.iter_mut().map(|v| v.as_mut_slice()).collect();
                    let mut o2: Vec<&mut [f32]> = y2.iter_mut().map(|v| v.as_mut_slice()).collect();
                    allpass_planar(&mut s1, stages, &ramp, &ins, &mut o1, frames);
                    match stages {
                        4 => allpass_body::<4, Base>(&mut s2, &ramp, &ins, &mut o2, frames),
                        1 => allpass_body::<1, Base>(&mut s2, &ramp, &ins, &mut o2, frames),
                        7 => allpass_body::<7, Base>(&mut s2, &ramp, &ins, &mut o2, frames),
                        _ => allpass_body::<12, Base>(&mut s2, &ramp, &ins, &mut o2, frames),
                    }
                }
                for (a, b) in y1.iter().flatten().zip(y2.iter().flatten()) {
                    assert!((a - b).abs() < 1e-4, "all-pass, {stages} stages: {a} {b}");
                }
                assert!(y1.iter().flatten().any(|v| v.abs() > 0.01));
            }
        }
    }
}
