//! 8-lane planar kernels of the phaser and the band-pass resonator: one `f32` lane per channel, the
//! planar ↔ frame-major transposes fused into the recursion loop. This module holds the lane and
//! frame-loop machinery both kernels share; each kernel's recursion lives in its own module.
//!
//! # What
//! - [`allpass_planar`] (module `allpass`): the phaser core — a chain of first-order all-pass stages with
//!   feedback, its coefficients held over 16-frame control segments — from 8 planar input channels to 8
//!   planar output channels.
//! - [`resonator_planar`] (module `resonator`): a bank of 2-pole resonators (the all-pole part of RBJ
//!   band-pass sections, their zeros `1 − z⁻²` and gain `b0` shared) summed and mixed with the input.
//! - Shared here: the 8-lane vector trait `Lanes`, the per-frame step trait `Frame`, the block runners
//!   (`Base`, `AvxRun`, `AvxLean`) and [`flush8`].
//!
//! # How
//! A kernel is a per-frame step (`Frame`) written once over a small 8-lane vector trait (`Lanes`, one
//! lane per channel) with two implementations: `[f32; 8]` with lane loops (the portable baseline, unfused
//! multiply-adds) and `Avx`, explicit AVX2/FMA intrinsics on one `__m256` (no reliance on the
//! auto-vectoriser). On x86-64 CPUs with AVX2 + FMA (checked by `is_x86_feature_detected!`, cached by
//! std) the block runs in tiles of 8 frames: each tile is loaded from the 8 channel rows, transposed in
//! registers (8×8 AVX transpose), stepped through 8 frames written out one after the other and
//! transposed back straight into the output rows. For the resonator the next tile is loaded and
//! transposed before the current one runs (`AvxRun`), so its shuffles overlap with the latency-bound
//! recursion; the phaser's state leaves no registers for that (it would spill), so its tiles are loaded
//! one at a time (`AvxLean`) and the out-of-order core overlaps them. Other CPUs gather each frame with
//! scalar loads (`Base`). Every runner calls `Frame::segment` at each multiple of 16 frames, where a
//! kernel may update coefficients it holds over a control segment.
//!
//! # Real-time safety
//! Arithmetic on caller-provided buffers and stack values only. The `unsafe` blocks call the
//! `#[target_feature]` variants after the feature check, do unaligned vector loads/stores on slices of
//! checked length (or through pointers into rows sliced to the block once) and reinterpret `__m256` as
//! `[f32; 8]` (same size, every bit pattern valid).
#![allow(unsafe_code)]

mod allpass;
mod resonator;

pub(crate) use allpass::{allpass_planar, AllpassRamp, AllpassState, MAX_STAGES};
pub(crate) use resonator::{resonator_planar, ResonatorBank, MAX_SECTIONS};

use crate::basic::simd8::{LANES, V8};

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

/// Zeroes the lanes of `v` whose magnitude is in the denormal range.
#[inline]
pub(crate) fn flush8(v: &mut V8) {
    for x in v.iter_mut() {
        *x = if x.abs() < 1e-30 { 0.0 } else { *x };
    }
}

/// A deterministic test signal for channel `c`: `n` samples in `[−0.5, 0.5)`.
#[cfg(test)]
fn test_signal(c: usize, n: usize) -> Vec<f32> {
    (0..n).map(|i| ((i * (7 + c)) % 23) as f32 / 23.0 - 0.5).collect()
}
