//! 8-lane `f32` kernels for the multichannel biquad filters (one lane per channel).
//!
//! # What
//! Frame-major kernels over blocks of `[f32; 8]` frames: a biquad cascade ([`cascade`]) and a parallel
//! biquad bank summed into one output ([`parallel_sum`]); the planar ↔ frame-major transposes
//! ([`gather`], [`scatter`], and the in-register [`transpose8`] that the phaser's and resonator's
//! fused kernels in `fx::common::lanes8` use).
//!
//! # How
//! Each kernel is written once on `[f32; 8]` arrays (loops over independent lanes that LLVM turns into
//! vector instructions) and compiled twice: for the build's baseline (SSE2 on x86-64: two 4-wide operations
//! per step) and, on x86-64 CPUs that have them, with AVX2 + FMA enabled (one 8-wide fused multiply-add
//! per step), chosen at run time with `is_x86_feature_detected!` (cached by std after the first call: no
//! system call on the audio path). The recursions run along time within each lane, so each lane equals a
//! scalar filter in `f32` (FMA rounds once where the baseline rounds twice).
//!
//! # Real-time safety
//! Arithmetic on caller-provided buffers only. The only `unsafe` is calling the `#[target_feature]`
//! variants after the feature check.
#![allow(unsafe_code)]

/// Lanes (channels) per kernel call.
pub const LANES: usize = 8;

/// One frame of 8 lanes.
pub type V8 = [f32; LANES];

/// One biquad section on 8 lanes: coefficients (`a1`, `a2` stored negated) and TDF-II state.
#[derive(Debug, Clone, Copy, Default)]
pub struct Section8 {
    pub(crate) b0: V8,
    pub(crate) b1: V8,
    pub(crate) b2: V8,
    pub(crate) na1: V8,
    pub(crate) na2: V8,
    pub(crate) z1: V8,
    pub(crate) z2: V8,
}

impl Section8 {
    /// Sets the coefficients of lane `lane` (ignored when out of range); the state is kept.
    pub(crate) fn set(&mut self, lane: usize, c: &super::BiquadCoeffs) {
        if lane < LANES {
            self.b0[lane] = c.b0 as f32;
            self.b1[lane] = c.b1 as f32;
            self.b2[lane] = c.b2 as f32;
            self.na1[lane] = -c.a1 as f32;
            self.na2[lane] = -c.a2 as f32;
        }
    }

    /// Zeroes state values that decayed into the denormal range.
    pub(crate) fn flush(&mut self) {
        for v in self.z1.iter_mut().chain(self.z2.iter_mut()) {
            if v.abs() < 1e-30 {
                *v = 0.0;
            }
        }
    }
}

/// `a·b + c`, fused (one rounding) where `F`: the kernels compiled for FMA pass `true`, the portable
/// builds `false`. Shared with the AEC's kernels.
#[inline(always)]
pub(crate) fn madd<const F: bool>(a: f32, b: f32, c: f32) -> f32 {
    if F {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

#[inline(always)]
fn step<const F: bool>(s: &mut Section8, x: &V8) -> V8 {
    let mut y = [0.0f32; LANES];
    for l in 0..LANES {
        y[l] = madd::<F>(s.b0[l], x[l], s.z1[l]);
        s.z1[l] = madd::<F>(s.na1[l], y[l], madd::<F>(s.b1[l], x[l], s.z2[l]));
        s.z2[l] = madd::<F>(s.na2[l], y[l], s.b2[l] * x[l]);
    }
    y
}

/// Sections handled together with their state in registers (4 × 2 state vectors + temporaries fit the
/// 16 vector registers of x86-64; their recursions overlap in the pipeline).
const GROUP: usize = 4;

#[inline(always)]
fn cascade_group<const F: bool, const K: usize>(secs: &mut [Section8], frames: &mut [V8]) {
    let mut loc: [Section8; K] = std::array::from_fn(|i| secs[i]);
    for x in frames.iter_mut() {
        let mut v = *x;
        for s in loc.iter_mut() {
            v = step::<F>(s, &v);
        }
        *x = v;
    }
    for (d, s) in secs.iter_mut().zip(&loc) {
        d.z1 = s.z1;
        d.z2 = s.z2;
    }
}

#[inline(always)]
fn cascade_impl<const F: bool>(secs: &mut [Section8], frames: &mut [V8]) {
    for g in secs.chunks_mut(GROUP) {
        match g.len() {
            1 => cascade_group::<F, 1>(g, frames),
            2 => cascade_group::<F, 2>(g, frames),
            3 => cascade_group::<F, 3>(g, frames),
            _ => cascade_group::<F, GROUP>(g, frames),
        }
    }
}

#[inline(always)]
fn parallel_group<const F: bool, const K: usize>(
    secs: &mut [Section8],
    input: &[V8],
    out: &mut [V8],
    add: bool,
) {
    let mut loc: [Section8; K] = std::array::from_fn(|i| secs[i]);
    for (x, o) in input.iter().zip(out.iter_mut()) {
        let mut acc = if add { *o } else { [0.0f32; LANES] };
        for s in loc.iter_mut() {
            let y = step::<F>(s, x);
            for l in 0..LANES {
                acc[l] += y[l];
            }
        }
        *o = acc;
    }
    for (d, s) in secs.iter_mut().zip(&loc) {
        d.z1 = s.z1;
        d.z2 = s.z2;
    }
}

#[inline(always)]
fn parallel_impl<const F: bool>(secs: &mut [Section8], input: &[V8], out: &mut [V8]) {
    if secs.is_empty() {
        for o in out.iter_mut() {
            *o = [0.0; LANES];
        }
    }
    for (i, g) in secs.chunks_mut(GROUP).enumerate() {
        let add = i > 0;
        match g.len() {
            1 => parallel_group::<F, 1>(g, input, out, add),
            2 => parallel_group::<F, 2>(g, input, out, add),
            3 => parallel_group::<F, 3>(g, input, out, add),
            _ => parallel_group::<F, GROUP>(g, input, out, add),
        }
    }
}

/// Whether the CPU has AVX2 and FMA (cached by std after the first call: no system call); false off
/// x86-64.
pub(crate) fn has_avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn cascade_avx2(secs: &mut [Section8], frames: &mut [V8]) {
    cascade_impl::<true>(secs, frames);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn parallel_avx2(secs: &mut [Section8], input: &[V8], out: &mut [V8]) {
    parallel_impl::<true>(secs, input, out);
}

/// `dst[i][c] = rows[c][i]` for `i < dst.len()` (every row at least `dst.len()` long): planar channels to
/// frame-major frames.
#[inline(always)]
fn gather_impl(rows: &[&[f32]; LANES], dst: &mut [V8]) {
    for (i, fr) in dst.iter_mut().enumerate() {
        for c in 0..LANES {
            fr[c] = rows[c][i];
        }
    }
}

/// `rows[c][i] = src[i][c]` for `i < src.len()`: frame-major frames back to planar channels.
#[inline(always)]
fn scatter_impl(src: &[V8], rows: &mut [&mut [f32]; LANES]) {
    for c in 0..LANES {
        for (d, fr) in rows[c].iter_mut().zip(src) {
            *d = fr[c];
        }
    }
}

/// The AVX 8×8 transpose of eight 8-float rows (unpack, shuffle, lane permute: 24 shuffles).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
pub(crate) fn transpose8(r: [std::arch::x86_64::__m256; 8]) -> [std::arch::x86_64::__m256; 8] {
    use std::arch::x86_64::*;
    let t0 = _mm256_unpacklo_ps(r[0], r[1]);
    let t1 = _mm256_unpackhi_ps(r[0], r[1]);
    let t2 = _mm256_unpacklo_ps(r[2], r[3]);
    let t3 = _mm256_unpackhi_ps(r[2], r[3]);
    let t4 = _mm256_unpacklo_ps(r[4], r[5]);
    let t5 = _mm256_unpackhi_ps(r[4], r[5]);
    let t6 = _mm256_unpacklo_ps(r[6], r[7]);
    let t7 = _mm256_unpackhi_ps(r[6], r[7]);
    let s0 = _mm256_shuffle_ps::<0x44>(t0, t2);
    let s1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
    let s2 = _mm256_shuffle_ps::<0x44>(t1, t3);
    let s3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
    let s4 = _mm256_shuffle_ps::<0x44>(t4, t6);
    let s5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
    let s6 = _mm256_shuffle_ps::<0x44>(t5, t7);
    let s7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
    [
        _mm256_permute2f128_ps::<0x20>(s0, s4),
        _mm256_permute2f128_ps::<0x20>(s1, s5),
        _mm256_permute2f128_ps::<0x20>(s2, s6),
        _mm256_permute2f128_ps::<0x20>(s3, s7),
        _mm256_permute2f128_ps::<0x31>(s0, s4),
        _mm256_permute2f128_ps::<0x31>(s1, s5),
        _mm256_permute2f128_ps::<0x31>(s2, s6),
        _mm256_permute2f128_ps::<0x31>(s3, s7),
    ]
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn gather_avx2(rows: &[&[f32]; LANES], dst: &mut [V8]) {
    use std::arch::x86_64::*;
    let full = dst.len() / LANES * LANES;
    let (body, rest) = dst.split_at_mut(full);
    for (t, tile) in body.chunks_exact_mut(LANES).enumerate() {
        let f0 = t * LANES;
        let r: [__m256; 8] = std::array::from_fn(|c| {
            let row: &[f32; LANES] = rows[c][f0..f0 + LANES]
                .try_into()
                .expect("a slice of LANES elements is an array of LANES");
            // SAFETY: `row` is 8 readable floats; the load is unaligned.
            unsafe { _mm256_loadu_ps(row.as_ptr()) }
        });
        let o = transpose8(r);
        for (fr, v) in tile.iter_mut().zip(o) {
            // SAFETY: `fr` is 8 writable floats; the store is unaligned.
            unsafe { _mm256_storeu_ps(fr.as_mut_ptr(), v) };
        }
    }
    for (i, fr) in rest.iter_mut().enumerate() {
        for c in 0..LANES {
            fr[c] = rows[c][full + i];
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn scatter_avx2(src: &[V8], rows: &mut [&mut [f32]; LANES]) {
    use std::arch::x86_64::*;
    let full = src.len() / LANES * LANES;
    for (t, tile) in src[..full].chunks_exact(LANES).enumerate() {
        let f0 = t * LANES;
        // SAFETY: every frame is 8 readable floats; the loads are unaligned.
        let r: [__m256; 8] = std::array::from_fn(|i| unsafe { _mm256_loadu_ps(tile[i].as_ptr()) });
        let o = transpose8(r);
        for (row, v) in rows.iter_mut().zip(o) {
            let dst: &mut [f32; LANES] = (&mut row[f0..f0 + LANES])
                .try_into()
                .expect("a slice of LANES elements is an array of LANES");
            // SAFETY: `dst` is 8 writable floats; the store is unaligned.
            unsafe { _mm256_storeu_ps(dst.as_mut_ptr(), v) };
        }
    }
    for (i, fr) in src[full..].iter().enumerate() {
        for c in 0..LANES {
            rows[c][full + i] = fr[c];
        }
    }
}

/// Planar to frame-major: `dst[i][c] = rows[c][i]` for `i < dst.len()` (8×8 AVX transposes where the CPU
/// has AVX2). Panics if a row is shorter than `dst` (callers slice them to the block).
pub fn gather(rows: &[&[f32]; LANES], dst: &mut [V8]) {
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        // SAFETY: the CPU supports AVX2 and FMA (checked just above), the only requirement of the
        // `#[target_feature]` function.
        unsafe { gather_avx2(rows, dst) };
        return;
    }
    gather_impl(rows, dst);
}

/// Frame-major to planar: `rows[c][i] = src[i][c]` for `i < src.len()` (the inverse of [`gather`]).
pub fn scatter(src: &[V8], rows: &mut [&mut [f32]; LANES]) {
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        // SAFETY: the CPU supports AVX2 and FMA (checked just above), the only requirement of the
        // `#[target_feature]` function.
        unsafe { scatter_avx2(src, rows) };
        return;
    }
    scatter_impl(src, rows);
}

/// Runs `frames` through the cascade `secs` in place.
pub fn cascade(secs: &mut [Section8], frames: &mut [V8]) {
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        // SAFETY: the CPU supports AVX2 and FMA (checked just above), the only requirement of the
        // `#[target_feature]` function; its body is safe code.
        unsafe { cascade_avx2(secs, frames) };
        return;
    }
    cascade_impl::<false>(secs, frames);
}

/// `out[i] = Σ_s secs[s](input)[i]`: the sections in parallel on the same input, summed.
/// `input` and `out` have the same length (the shorter one bounds the work).
pub fn parallel_sum(secs: &mut [Section8], input: &[V8], out: &mut [V8]) {
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        // SAFETY: the CPU supports AVX2 and FMA (checked just above), the only requirement of the
        // `#[target_feature]` function; its body is safe code.
        unsafe { parallel_avx2(secs, input, out) };
        return;
    }
    parallel_impl::<false>(secs, input, out);
}

/// Both compilations of the kernels agree (the baseline one is what other CPUs run).
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baseline_and_dispatched_kernels_agree() {
        let mut s = Section8::default();
        for l in 0..LANES {
            s.b0[l] = 0.2 + 0.01 * l as f32;
            s.b1[l] = 0.3;
            s.b2[l] = 0.1;
            s.na1[l] = 0.9;
            s.na2[l] = -0.4;
        }
        let mut x: Vec<V8> = (0..200)
            .map(|i| [((i * 7) % 13) as f32 / 13.0 - 0.5; LANES])
            .collect();
        let mut y = x.clone();
        let (mut s1, mut s2) = ([s, s], [s, s]);
        cascade(&mut s1, &mut x);
        cascade_impl::<false>(&mut s2, &mut y);
        for (a, b) in x.iter().zip(&y) {
            for l in 0..LANES {
                assert!((a[l] - b[l]).abs() < 1e-5);
            }
        }
        let mut o1 = vec![[0.0; LANES]; 200];
        let mut o2 = o1.clone();
        parallel_sum(&mut s1, &x, &mut o1);
        parallel_impl::<false>(&mut s2, &y, &mut o2);
        for (a, b) in o1.iter().zip(&o2) {
            for l in 0..LANES {
                assert!((a[l] - b[l]).abs() < 1e-4, "{} {}", a[l], b[l]);
            }
        }
    }
}
