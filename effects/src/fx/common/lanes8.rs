//! 8-lane planar kernels of the phaser and the band-pass resonator: one `f32` lane per channel, the
//! planar ↔ frame-major transposes fused into the recursion loop.
//!
//! # What
//! - [`allpass_planar`]: the phaser core — a chain of first-order all-pass stages with feedback, its
//!   coefficients held over 16-frame control segments — from 8 planar input channels to 8 planar output
//!   channels.
//! - [`resonator_planar`]: a bank of 2-pole resonators (the all-pole part of RBJ band-pass sections,
//!   their zeros `1 − z⁻²` and gain `b0` shared) summed and mixed with the input.
//!
//! # How
//! A kernel is a per-frame step written once over a small 8-lane vector trait ([`Lanes`], one lane per
//! channel) with two implementations: `[f32; 8]` with lane loops (the portable baseline, unfused
//! multiply-adds) and `Avx`, explicit AVX2/FMA intrinsics on one `__m256` (no reliance on the
//! auto-vectoriser). On x86-64 CPUs with AVX2 + FMA (checked by `is_x86_feature_detected!`, cached by
//! std) the block runs in tiles of 8 frames: each tile is loaded from the 8 channel rows, transposed in
//! registers (8×8 AVX transpose), stepped through 8 frames written out one after the other and
//! transposed back straight into the output rows. For the resonator the next tile is loaded and
//! transposed before the current one runs, so its shuffles overlap with the latency-bound recursion; the
//! phaser's state leaves no registers for that (it would spill), so its tiles are loaded one at a time
//! and the out-of-order core overlaps them. Other CPUs gather each frame with scalar loads.
//!
//! The recursions are arranged so the loop-carried chains are short (the CPU overlaps consecutive
//! frames only as far as the longest chain allows):
//!
//! *All-pass chain.* The phaser's coefficients are held over control segments of 16 frames, so within a
//! segment its chain of `K` first-order all-passes `A(z) = (a + z⁻¹)/(1 + a z⁻¹)` is time-invariant.
//! With `g = 1 − a²` and `G(z) = z⁻¹/(1 + a z⁻¹)`, `A = a + g·G`, so a group of `m ≤ 4` stages is the
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
//! coefficient switched between frames. Per frame and stage about three vector operations.
//!
//! *Resonators.* A band-pass section `b0·(1 − z⁻²)/(1 − na1·z⁻¹ − na2·z⁻²)` is run as the shared
//! numerator `v = x − x[n−2]` followed by the direct-form all-pole recursion
//! `w = v + na2·w[n−2] + na1·w[n−1]` (one fused multiply-add on the loop-carried path); the sections'
//! outputs are summed and scaled once by `wet·b0`.
//!
//! # Real-time safety
//! Arithmetic on caller-provided buffers and stack values only. The `unsafe` blocks call the
//! `#[target_feature]` variants after the feature check, do unaligned vector loads/stores on slices of
//! checked length (or through pointers into rows sliced to the block once) and reinterpret `__m256` as
//! `[f32; 8]` (same size, every bit pattern valid).
#![allow(unsafe_code)]

use crate::basic::simd8::{LANES, V8};

/// Most all-pass stages per chain.
pub(crate) const MAX_STAGES: usize = 12;
/// Most resonator sections per bank.
pub(crate) const MAX_SECTIONS: usize = 16;

/// The 8-lane vector operations the kernels use.
trait Lanes: Copy {
    fn splat(v: f32) -> Self;
    fn load(a: &V8) -> Self;
    fn store(self) -> V8;
    fn add(self, o: Self) -> Self;
    fn sub(self, o: Self) -> Self;
    fn mul(self, o: Self) -> Self;
    /// `self·b + c` (fused where the CPU has FMA).
    fn madd(self, b: Self, c: Self) -> Self;
    /// `c − self·b` (fused where the CPU has FMA).
    fn nmadd(self, b: Self, c: Self) -> Self;
    /// `self / o`.
    fn div(self, o: Self) -> Self;
}

impl Lanes for V8 {
    #[inline(always)]
    fn splat(v: f32) -> Self {
        [v; LANES]
    }
    #[inline(always)]
    fn load(a: &V8) -> Self {
        *a
    }
    #[inline(always)]
    fn store(self) -> V8 {
        self
    }
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        std::array::from_fn(|l| self[l] + o[l])
    }
    #[inline(always)]
    fn sub(self, o: Self) -> Self {
        std::array::from_fn(|l| self[l] - o[l])
    }
    #[inline(always)]
    fn mul(self, o: Self) -> Self {
        std::array::from_fn(|l| self[l] * o[l])
    }
    #[inline(always)]
    fn madd(self, b: Self, c: Self) -> Self {
        std::array::from_fn(|l| self[l] * b[l] + c[l])
    }
    #[inline(always)]
    fn nmadd(self, b: Self, c: Self) -> Self {
        std::array::from_fn(|l| c[l] - self[l] * b[l])
    }
    #[inline(always)]
    fn div(self, o: Self) -> Self {
        std::array::from_fn(|l| self[l] / o[l])
    }
}

/// One `__m256` of AVX2/FMA operations. Values of this type are only created and used inside
/// [`run_avx2`] (a `#[target_feature(enable = "avx2,fma")]` function entered after the feature check),
/// where its `#[inline(always)]` methods are inlined: that is what makes their intrinsic calls sound.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
struct Avx(std::arch::x86_64::__m256);

#[cfg(target_arch = "x86_64")]
impl Lanes for Avx {
    #[inline(always)]
    fn splat(v: f32) -> Self {
        // SAFETY: see the type's docs (AVX is available wherever an `Avx` is used).
        Avx(unsafe { std::arch::x86_64::_mm256_set1_ps(v) })
    }
    #[inline(always)]
    fn load(a: &V8) -> Self {
        // SAFETY: `a` is 8 readable floats (unaligned load); AVX as in the type's docs.
        Avx(unsafe { std::arch::x86_64::_mm256_loadu_ps(a.as_ptr()) })
    }
    #[inline(always)]
    fn store(self) -> V8 {
        let mut a = [0.0f32; LANES];
        // SAFETY: `a` is 8 writable floats (unaligned store); AVX as in the type's docs.
        unsafe { std::arch::x86_64::_mm256_storeu_ps(a.as_mut_ptr(), self.0) };
        a
    }
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        // SAFETY: see the type's docs.
        Avx(unsafe { std::arch::x86_64::_mm256_add_ps(self.0, o.0) })
    }
    #[inline(always)]
    fn sub(self, o: Self) -> Self {
        // SAFETY: see the type's docs.
        Avx(unsafe { std::arch::x86_64::_mm256_sub_ps(self.0, o.0) })
    }
    #[inline(always)]
    fn mul(self, o: Self) -> Self {
        // SAFETY: see the type's docs.
        Avx(unsafe { std::arch::x86_64::_mm256_mul_ps(self.0, o.0) })
    }
    #[inline(always)]
    fn madd(self, b: Self, c: Self) -> Self {
        // SAFETY: see the type's docs (FMA is checked together with AVX2).
        Avx(unsafe { std::arch::x86_64::_mm256_fmadd_ps(self.0, b.0, c.0) })
    }
    #[inline(always)]
    fn nmadd(self, b: Self, c: Self) -> Self {
        // SAFETY: see the type's docs (FMA is checked together with AVX2).
        Avx(unsafe { std::arch::x86_64::_mm256_fnmadd_ps(self.0, b.0, c.0) })
    }
    #[inline(always)]
    fn div(self, o: Self) -> Self {
        // SAFETY: see the type's docs.
        Avx(unsafe { std::arch::x86_64::_mm256_div_ps(self.0, o.0) })
    }
}

/// Frames per control segment: the runners call [`Frame::segment`] at every multiple of it.
const SEGMENT: usize = 16;

/// A per-frame step over 8 lanes.
trait Frame<T: Lanes>: Copy {
    /// Consumes one input frame and returns the output frame.
    fn frame(&mut self, x: T) -> T;
    /// Called before frame `start` when `start` is a multiple of [`SEGMENT`]: the frames `start..end`
    /// (`end` = the next multiple or the block's end) form one control segment.
    #[inline(always)]
    fn segment(&mut self, _start: usize, _end: usize) {}
}

/// Lane `c` of `ins` at frame `i` (0 for missing channels).
#[inline(always)]
fn load_frame(ins: &[&[f32]], i: usize) -> V8 {
    std::array::from_fn(|c| if c < ins.len() { ins[c][i] } else { 0.0 })
}

/// Frames `from..frames` one at a time with scalar gathers and scatters (the baseline path and tails).
#[inline(always)]
fn run_frames<T: Lanes, K: Frame<T>>(
    k: &mut K,
    ins: &[&[f32]],
    outs: &mut [&mut [f32]],
    from: usize,
    frames: usize,
) {
    for i in from..frames {
        if i % SEGMENT == 0 {
            k.segment(i, (i + SEGMENT).min(frames));
        }
        let y = k.frame(T::load(&load_frame(ins, i))).store();
        for (o, &v) in outs.iter_mut().zip(&y) {
            o[i] = v;
        }
    }
}

/// Tiles of 8 frames through `k` with in-register 8×8 transposes (see the module docs); the last
/// `frames % 8` frames one at a time. Every row holds at least `frames` samples.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn run_avx2<K: Frame<Avx>>(k: &mut K, ins: &[&[f32]], outs: &mut [&mut [f32]], frames: usize) {
    use crate::basic::simd8::transpose8;
    use std::arch::x86_64::*;
    let mut st = *k;
    let full = frames / LANES * LANES;
    // Tile `f0` transposed into frames (8 loads, 24 shuffles).
    let load_tile = |f0: usize| -> [__m256; LANES] {
        let rows: [__m256; LANES] = std::array::from_fn(|c| {
            if c < ins.len() {
                let row = &ins[c][f0..f0 + LANES];
                // SAFETY: `row` holds 8 readable floats; the load is unaligned.
                unsafe { _mm256_loadu_ps(row.as_ptr()) }
            } else {
                _mm256_setzero_ps()
            }
        });
        transpose8(rows)
    };
    let mut next = if full > 0 {
        load_tile(0)
    } else {
        [_mm256_setzero_ps(); LANES]
    };
    let mut f0 = 0;
    while f0 < full {
        if f0 % SEGMENT == 0 {
            st.segment(f0, (f0 + SEGMENT).min(frames));
        }
        let t = next;
        if f0 + LANES < full {
            next = load_tile(f0 + LANES);
        }
        let mut o = [_mm256_setzero_ps(); LANES];
        for (ov, &tv) in o.iter_mut().zip(&t) {
            *ov = st.frame(Avx(tv)).0;
        }
        let s = transpose8(o);
        for (row, v) in outs.iter_mut().zip(s) {
            let dst = &mut row[f0..f0 + LANES];
            // SAFETY: `dst` holds 8 writable floats; the store is unaligned.
            unsafe { _mm256_storeu_ps(dst.as_mut_ptr(), v) };
        }
        f0 += LANES;
    }
    run_frames(&mut st, ins, outs, full, frames);
    *k = st;
}

#[cfg(target_arch = "x86_64")]
fn has_avx2_fma() -> bool {
    crate::basic::simd8::has_avx2_fma()
}

/// How a kernel is driven over a block: its vector type and frame loop.
trait Runner {
    type T: Lanes;
    fn run<K: Frame<Self::T>>(k: &mut K, ins: &[&[f32]], outs: &mut [&mut [f32]], frames: usize);
}

/// The portable path: `[f32; 8]` lanes, one frame at a time.
struct Base;

impl Runner for Base {
    type T = V8;
    #[inline(always)]
    fn run<K: Frame<V8>>(k: &mut K, ins: &[&[f32]], outs: &mut [&mut [f32]], frames: usize) {
        run_frames(k, ins, outs, 0, frames);
    }
}

/// The AVX2/FMA path (tiles of 8 frames). Only used inside the `*_avx` entry points, which are entered
/// after the feature check.
#[cfg(target_arch = "x86_64")]
struct AvxRun;

#[cfg(target_arch = "x86_64")]
impl Runner for AvxRun {
    type T = Avx;
    #[inline(always)]
    fn run<K: Frame<Avx>>(k: &mut K, ins: &[&[f32]], outs: &mut [&mut [f32]], frames: usize) {
        // SAFETY: `AvxRun` is only used from the `#[target_feature(enable = "avx2,fma")]` entry points,
        // which callers enter after `has_avx2_fma()`; `run_avx2` slices every row to the block.
        unsafe { run_avx2(k, ins, outs, frames) };
    }
}

/// Tiles of 8 frames through `k` like [`run_avx2`] but without loading the next tile ahead (a kernel
/// whose state fills the registers would spill it) and with the rows' bounds checked once: each tile is
/// loaded, transposed, stepped and stored back. The last `frames % 8` frames go one at a time.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn run_avx2_lean<K: Frame<Avx>>(k: &mut K, ins: &[&[f32]], outs: &mut [&mut [f32]], frames: usize) {
    use crate::basic::simd8::transpose8;
    use std::arch::x86_64::*;
    let full = frames / LANES * LANES;
    // Every row is sliced to the block once (panics on a short row like the indexing it replaces), so
    // the pointer reads and writes below stay inside their rows.
    let n_in = ins.len().min(LANES);
    let n_out = outs.len().min(LANES);
    let src: [*const f32; LANES] = std::array::from_fn(|c| {
        if c < n_in {
            ins[c][..frames].as_ptr()
        } else {
            std::ptr::null()
        }
    });
    let mut dst: [*mut f32; LANES] = [std::ptr::null_mut(); LANES];
    for (d, row) in dst.iter_mut().zip(outs.iter_mut()) {
        *d = row[..frames].as_mut_ptr();
    }
    let mut st = *k;
    let mut f0 = 0;
    while f0 < full {
        if f0 % SEGMENT == 0 {
            st.segment(f0, (f0 + SEGMENT).min(frames));
        }
        let rows: [__m256; LANES] = std::array::from_fn(|c| {
            if c < n_in {
                // SAFETY: row `c` holds `frames ≥ f0 + 8` floats (sliced above); unaligned load.
                unsafe { _mm256_loadu_ps(src[c].add(f0)) }
            } else {
                _mm256_setzero_ps()
            }
        });
        let t = transpose8(rows);
        let mut o = [_mm256_setzero_ps(); LANES];
        for (ov, &tv) in o.iter_mut().zip(&t) {
            *ov = st.frame(Avx(tv)).0;
        }
        let s = transpose8(o);
        for (c, v) in s.into_iter().enumerate().take(n_out) {
            // SAFETY: row `c` holds `frames ≥ f0 + 8` writable floats (sliced above); unaligned store.
            unsafe { _mm256_storeu_ps(dst[c].add(f0), v) };
        }
        f0 += LANES;
    }
    run_frames(&mut st, ins, outs, full, frames);
    *k = st;
}

/// The AVX2/FMA path through [`run_avx2_lean`] (the phaser). Only used inside the `*_avx` entry points,
/// which are entered after the feature check.
#[cfg(target_arch = "x86_64")]
struct AvxLean;

#[cfg(target_arch = "x86_64")]
impl Runner for AvxLean {
    type T = Avx;
    #[inline(always)]
    fn run<K: Frame<Avx>>(k: &mut K, ins: &[&[f32]], outs: &mut [&mut [f32]], frames: usize) {
        // SAFETY: `AvxLean` is only used from the `#[target_feature(enable = "avx2,fma")]` entry points,
        // which callers enter after `has_avx2_fma()`.
        unsafe { run_avx2_lean(k, ins, outs, frames) };
    }
}

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

/// Zeroes the lanes of `v` whose magnitude is in the denormal range.
#[inline]
pub(crate) fn flush8(v: &mut V8) {
    for x in v.iter_mut() {
        *x = if x.abs() < 1e-30 { 0.0 } else { *x };
    }
}

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

/// The baseline kernels (what CPUs without AVX2/FMA run) agree with the dispatched ones, including
/// partial tiles and fewer than 8 channels.
#[cfg(test)]
mod tests {
    use super::*;

    fn signal(c: usize, n: usize) -> Vec<f32> {
        (0..n).map(|i| ((i * (7 + c)) % 23) as f32 / 23.0 - 0.5).collect()
    }

    #[test]
    fn baseline_and_dispatched_kernels_agree() {
        for (channels, frames) in [(8, 203), (5, 64), (8, 7)] {
            let x: Vec<Vec<f32>> = (0..channels).map(|c| signal(c, frames)).collect();
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
        }
    }
}
