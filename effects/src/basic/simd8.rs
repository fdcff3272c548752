//! 8-lane `f32` kernels for the multichannel biquad and all-pass filters (one lane per channel).
//!
//! # What
//! Frame-major kernels over blocks of `[f32; 8]` frames: a biquad cascade ([`cascade`]), a parallel
//! biquad bank summed into one output ([`parallel_sum`]; [`bandpass_mix`] for band-pass
//! sections with shared zeros) and a first-order all-pass chain with feedback and
//! linearly ramped coefficients ([`allpass_chain`], the phaser).
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

    /// Sets the coefficients of every lane.
    pub(crate) fn set_all(&mut self, c: &super::BiquadCoeffs) {
        for lane in 0..LANES {
            self.set(lane, c);
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

#[inline(always)]
fn madd<const F: bool>(a: f32, b: f32, c: f32) -> f32 {
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

/// State and per-block settings of [`allpass_chain`].
#[derive(Debug, Clone, Copy)]
pub struct AllpassRamp {
    /// Coefficient of every stage at the first frame, per lane.
    pub a: V8,
    /// Coefficient increment per frame, per lane.
    pub da: V8,
    /// Feedback of the chain's output into its input, at the first frame.
    pub fb: f32,
    /// Feedback increment per frame.
    pub dfb: f32,
    /// Share of the chain's output in the result (`(1 − mix)·x + mix·chain`), at the first frame.
    pub mix: f32,
    /// Mix increment per frame.
    pub dmix: f32,
}

/// One all-pass chain of `K` stages with its state in registers. The recursion through `last` is
/// shortened: with `c₀ = fb`, `d₀ = x`, `c_k = a·c_{k−1}`, `d_k = a·d_{k−1} + z_k` every stage output is
/// `y_k = c_k·last + d_k`, so the new `last = y_K` is one fused multiply-add after the previous one
/// (the `c`/`d` chains only depend on states of the previous frame) instead of `K + 1`.
#[inline(always)]
fn allpass_k<const F: bool, const K: usize>(z: &mut [V8], last: &mut V8, p: &AllpassRamp, frames: &mut [V8]) {
    let mut zl: [V8; K] = std::array::from_fn(|k| z[k]);
    let mut a = p.a;
    let mut lst = *last;
    let (mut fb, mut mix) = (p.fb, p.mix);
    for x in frames.iter_mut() {
        let mut c = [fb; LANES];
        let mut d = *x;
        let mut y = [[0.0f32; LANES]; K];
        for k in 0..K {
            for l in 0..LANES {
                c[l] *= a[l];
                d[l] = madd::<F>(a[l], d[l], zl[k][l]);
                y[k][l] = madd::<F>(c[l], lst[l], d[l]);
            }
        }
        let mut u = [0.0f32; LANES];
        for l in 0..LANES {
            u[l] = madd::<F>(fb, lst[l], x[l]);
        }
        for k in 0..K {
            for l in 0..LANES {
                zl[k][l] = madd::<F>(-a[l], y[k][l], u[l]);
                u[l] = y[k][l];
            }
        }
        for l in 0..LANES {
            lst[l] = u[l];
            x[l] = madd::<F>(1.0 - mix, x[l], mix * u[l]);
            a[l] += p.da[l];
        }
        fb += p.dfb;
        mix += p.dmix;
    }
    *last = lst;
    for (d, s) in z.iter_mut().zip(&zl) {
        for (dv, &sv) in d.iter_mut().zip(s) {
            *dv = if sv.abs() < 1e-30 { 0.0 } else { sv };
        }
    }
}

#[inline(always)]
fn allpass_impl<const F: bool>(z: &mut [V8], last: &mut V8, p: &AllpassRamp, frames: &mut [V8]) {
    match z.len() {
        0 => {
            // No stage: the chain is the identity on u = x + fb·last.
            allpass_k::<F, 0>(z, last, p, frames)
        }
        1 => allpass_k::<F, 1>(z, last, p, frames),
        2 => allpass_k::<F, 2>(z, last, p, frames),
        3 => allpass_k::<F, 3>(z, last, p, frames),
        4 => allpass_k::<F, 4>(z, last, p, frames),
        5 => allpass_k::<F, 5>(z, last, p, frames),
        6 => allpass_k::<F, 6>(z, last, p, frames),
        7 => allpass_k::<F, 7>(z, last, p, frames),
        8 => allpass_k::<F, 8>(z, last, p, frames),
        9 => allpass_k::<F, 9>(z, last, p, frames),
        10 => allpass_k::<F, 10>(z, last, p, frames),
        11 => allpass_k::<F, 11>(z, last, p, frames),
        _ => {
            // Longer chains: 12 stages at a time would change the feedback structure, so the
            // first 12 run here and more are not supported by the callers (the phaser caps at 12).
            allpass_k::<F, 12>(z, last, p, frames)
        }
    }
}

#[cfg(target_arch = "x86_64")]
fn has_avx2_fma() -> bool {
    std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
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

/// `K` band-pass sections (`b1 = 0`, `b2 = −b0`) in parallel: the shared zeros `v = x − x[n−2]`
/// (`hist` holds the two frames before `input`), then per section the all-pole part in transposed form
/// `y = b0·v + z1; z1 = na1·y + z2; z2 = na2·y`.
#[inline(always)]
fn bandpass_group<const F: bool, const K: usize>(
    secs: &mut [Section8],
    hist: &[V8; 2],
    input: &[V8],
    out: &mut [V8],
    add: bool,
) {
    let mut loc: [Section8; K] = std::array::from_fn(|i| secs[i]);
    let (mut x2, mut x1) = (hist[1], hist[0]);
    for (x, o) in input.iter().zip(out.iter_mut()) {
        let mut v = [0.0f32; LANES];
        for l in 0..LANES {
            v[l] = x[l] - x2[l];
        }
        (x2, x1) = (x1, *x);
        let mut acc = if add { *o } else { [0.0f32; LANES] };
        for s in loc.iter_mut() {
            for l in 0..LANES {
                let y = madd::<F>(s.b0[l], v[l], s.z1[l]);
                s.z1[l] = madd::<F>(s.na1[l], y, s.z2[l]);
                s.z2[l] = s.na2[l] * y;
                acc[l] += y;
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
fn bandpass_mix_impl<const F: bool>(
    secs: &mut [Section8],
    hist: &mut [V8; 2],
    input: &[V8],
    out: &mut [V8],
    dry: f32,
    wet: f32,
) {
    let n = input.len().min(out.len());
    if n == 0 {
        return;
    }
    let (inp, o) = (&input[..n], &mut out[..n]);
    if secs.is_empty() {
        o.fill([0.0; LANES]);
    }
    for (i, g) in secs.chunks_mut(GROUP).enumerate() {
        let add = i > 0;
        match g.len() {
            1 => bandpass_group::<F, 1>(g, hist, inp, o, add),
            2 => bandpass_group::<F, 2>(g, hist, inp, o, add),
            3 => bandpass_group::<F, 3>(g, hist, inp, o, add),
            _ => bandpass_group::<F, GROUP>(g, hist, inp, o, add),
        }
    }
    for (ov, x) in o.iter_mut().zip(inp) {
        for l in 0..LANES {
            ov[l] = madd::<F>(dry, x[l], wet * ov[l]);
        }
    }
    *hist = if n == 1 {
        [inp[0], hist[0]]
    } else {
        [inp[n - 1], inp[n - 2]]
    };
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn bandpass_mix_avx2(
    secs: &mut [Section8],
    hist: &mut [V8; 2],
    input: &[V8],
    out: &mut [V8],
    dry: f32,
    wet: f32,
) {
    bandpass_mix_impl::<true>(secs, hist, input, out, dry, wet);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn allpass_avx2(z: &mut [V8], last: &mut V8, p: &AllpassRamp, frames: &mut [V8]) {
    allpass_impl::<true>(z, last, p, frames);
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
fn transpose8(r: [std::arch::x86_64::__m256; 8]) -> [std::arch::x86_64::__m256; 8] {
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

/// A bank of RBJ band-pass sections (`b1 = 0`, `b2 = −b0`; only `b0`, `na1`, `na2` are read) in
/// parallel, mixed with the input: `out = dry·x + wet·Σ_s H_s(x)` with
/// `H_s(z) = b0_s·(1 − z⁻²)/(1 − na1_s z⁻¹ − na2_s z⁻²)`. The zeros `1 − z⁻²` are shared (`hist` keeps the
/// last two input frames), so a section costs 3 multiply-adds instead of 5. The section states `z1`, `z2`
/// belong to the all-pole part (not interchangeable with [`parallel_sum`]'s).
pub fn bandpass_mix(
    secs: &mut [Section8],
    hist: &mut [V8; 2],
    input: &[V8],
    out: &mut [V8],
    dry: f32,
    wet: f32,
) {
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        // SAFETY: the CPU supports AVX2 and FMA (checked just above), the only requirement of the
        // `#[target_feature]` function; its body is safe code.
        unsafe { bandpass_mix_avx2(secs, hist, input, out, dry, wet) };
        return;
    }
    bandpass_mix_impl::<false>(secs, hist, input, out, dry, wet);
}

/// The phaser core in place: per frame `u = x + fb·last`, then every stage
/// `y = a·u + z; z = u − a·y; u = y` (first-order all-pass `(a + z⁻¹)/(1 + a z⁻¹)`), `last = u`,
/// `x ← (1 − mix)·x + mix·u`; `a`, `fb` and `mix` move by `da`, `dfb`, `dmix` per frame. `z` holds one state per stage
/// (at most 12 stages: further states are left untouched).
pub fn allpass_chain(z: &mut [V8], last: &mut V8, p: &AllpassRamp, frames: &mut [V8]) {
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        // SAFETY: the CPU supports AVX2 and FMA (checked just above), the only requirement of the
        // `#[target_feature]` function; its body is safe code.
        unsafe { allpass_avx2(z, last, p, frames) };
        return;
    }
    allpass_impl::<false>(z, last, p, frames);
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
        // The band-pass bank equals the general parallel bank on band-pass sections.
        let mut bp = [Section8::default(); 3];
        for (k, s) in bp.iter_mut().enumerate() {
            s.set_all(&super::super::BiquadCoeffs::bandpass(
                300.0 * (k + 1) as f64,
                8.0,
                48_000.0,
            ));
        }
        let mut bp2 = bp;
        let mut hist = [[0.0; LANES]; 2];
        let (mut b1, mut b2) = (vec![[0.0; LANES]; 200], vec![[0.0; LANES]; 200]);
        for part in [0..70, 70..200] {
            bandpass_mix(
                &mut bp,
                &mut hist,
                &x[part.clone()],
                &mut b1[part.clone()],
                0.3,
                0.7,
            );
            parallel_sum(&mut bp2, &x[part.clone()], &mut b2[part.clone()]);
        }
        for (o, xv) in b2.iter_mut().zip(&x) {
            for l in 0..LANES {
                o[l] = 0.3 * xv[l] + 0.7 * o[l];
            }
        }
        for (a, b) in b1.iter().zip(&b2) {
            for l in 0..LANES {
                assert!((a[l] - b[l]).abs() < 1e-4, "{} {}", a[l], b[l]);
            }
        }
        let p = AllpassRamp {
            a: [-0.5; LANES],
            da: [0.001; LANES],
            fb: 0.5,
            dfb: -0.001,
            mix: 0.5,
            dmix: 0.001,
        };
        let (mut z1, mut z2) = ([[0.0; LANES]; 4], [[0.0; LANES]; 4]);
        let (mut l1, mut l2) = ([0.0; LANES], [0.0; LANES]);
        allpass_chain(&mut z1, &mut l1, &p, &mut o1);
        allpass_impl::<false>(&mut z2, &mut l2, &p, &mut o2);
        for (a, b) in o1.iter().zip(&o2) {
            for l in 0..LANES {
                assert!((a[l] - b[l]).abs() < 1e-4, "{} {}", a[l], b[l]);
            }
        }
    }
}
