//! 8-lane `f32` kernels for the multichannel biquad and all-pass filters (one lane per channel).
//!
//! # What
//! Frame-major kernels over blocks of `[f32; 8]` frames: a biquad cascade ([`cascade`]), a parallel
//! biquad bank summed into one output ([`parallel_sum`]) and a first-order all-pass chain with feedback and
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

#[inline(always)]
fn allpass_impl<const F: bool>(z: &mut [V8], last: &mut V8, p: &AllpassRamp, frames: &mut [V8]) {
    let mut a = p.a;
    let mut lst = *last;
    let (mut fb, mut mix) = (p.fb, p.mix);
    for x in frames.iter_mut() {
        let mut u = [0.0f32; LANES];
        for l in 0..LANES {
            u[l] = madd::<F>(fb, lst[l], x[l]);
        }
        for zs in z.iter_mut() {
            for l in 0..LANES {
                let y = madd::<F>(a[l], u[l], zs[l]);
                zs[l] = madd::<F>(-a[l], y, u[l]);
                u[l] = y;
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
    for zs in z.iter_mut() {
        for v in zs.iter_mut() {
            if v.abs() < 1e-30 {
                *v = 0.0;
            }
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

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn allpass_avx2(z: &mut [V8], last: &mut V8, p: &AllpassRamp, frames: &mut [V8]) {
    allpass_impl::<true>(z, last, p, frames);
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

/// The phaser core in place: per frame `u = x + fb·last`, then every stage
/// `y = a·u + z; z = u − a·y; u = y` (first-order all-pass `(a + z⁻¹)/(1 + a z⁻¹)`), `last = u`,
/// `x ← (1 − mix)·x + mix·u`; `a`, `fb` and `mix` move by `da`, `dfb`, `dmix` per frame. `z` holds one state per stage.
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
