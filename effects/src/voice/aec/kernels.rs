//! Vector kernels of the partitioned frequency-domain filters (the inner loops of [`super::filter`]).
//!
//! # What
//! - [`Simd::output2`]: the echo estimates `Ŷ(k) = Σ_p W_p(k)·X_p(k)` of two filters (main and shadow,
//!   the shadow possibly shorter) reading the far-end spectra once;
//! - [`Simd::power_sum`]: `Σ_p w_p·|X_p(k)|²` with one weight per partition;
//! - [`Simd::var_power_sum`]: `Σ_p P_p(k)·|X_p(k)|²` with per-bin weights (the Kalman innovation power);
//! - [`Simd::adapt_pair`]: the Kalman update of the main filter (coefficients and state-error variance)
//!   and the NLMS update of the shadow filter in one call, which also yields the next frame's innovation
//!   power and both filters' next outputs but for their first partition ([`Carry`]): the history moves
//!   by one frame, so the row `X_{p−1}` read for partition `p − 1` meets the updated `W_p` next frame, and
//!   the next frame's output pass over the whole filter (memory-bound: both filters and the history
//!   streamed through the cache once more) shrinks to its newest partition.
//!
//! # How
//! Spectra are stored as structure of arrays (real and imaginary parts in separate rows of `bins`
//! floats), so every operation is a lane-wise loop over bins; the far-end ring stores each frame twice
//! ([`Ring`]), so a walk over the partitions moves by a fixed stride. The sums over partitions keep their
//! accumulators for a block of bins in registers while they walk the partitions (no load/store of the
//! accumulators per partition), and so does the update with its carried sums: per block of 8 bins it walks
//! the main filter's partitions (Kalman), then the shadow's (NLMS) — one walk doing both needed more
//! vector registers than x86-64 has. Each kernel is written once
//! in plain Rust on fixed-size blocks that LLVM turns into vector instructions, and compiled twice: for the
//! build's baseline (SSE2 on x86-64) and, on x86-64 CPUs that have them, with AVX2 + FMA enabled (8-wide
//! fused multiply-adds), chosen by [`Simd::detect`] once when the filter is built (as in
//! `crate::basic::simd8`). With FMA the products are rounded once instead of twice, and the split of the
//! complex products' sums differs from the scalar order: results agree with the portable path to float
//! rounding (checked by the tests below).
//!
//! The filters' real FFTs ([`crate::voice::rfft::RealFft`]) make the same instruction-set choice for their
//! split and merge steps when they are built.
//!
//! # Real-time safety
//! Arithmetic on caller-provided slices only. `unsafe` is confined to calling the `#[target_feature]`
//! variants after the feature check and to the update's unchecked loads and stores (every row length is
//! asserted once before the walk), each with a `// SAFETY:` note.
#![allow(unsafe_code)]

use realfft::num_complex::Complex;

use crate::basic::simd8::madd;

/// Which instruction set the kernels use (decided once, when a filter is built).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Simd {
    pub(super) avx2_fma: bool,
}

/// Far-end spectra of consecutive partitions in a ring of frames (structure of arrays): partition `p` is
/// in slot `(first − p) mod slots`, each slot `bins` floats of `re` and `im` (powers are recomputed where
/// needed: two fused multiply-adds cost less than streaming a third row through the cache). Every slot is
/// stored twice, as rows `s` and `s + slots` (`2·slots` rows in all), so partition `p` is row
/// `first + slots − p`: the partitions the kernels walk lie at a fixed stride, with no wrap to test.
#[derive(Clone, Copy)]
pub(super) struct Ring<'a> {
    pub re: &'a [f32],
    pub im: &'a [f32],
    pub bins: usize,
    pub slots: usize,
    pub first: usize,
}

impl<'a> Ring<'a> {
    /// Offset of partition `p`'s row (`p < slots`).
    #[inline(always)]
    fn off(&self, p: usize) -> usize {
        (self.first + self.slots - p) * self.bins
    }

    /// Rows `(re, im)` of partition `p`, `bins` long.
    #[inline(always)]
    pub(super) fn rows(&self, p: usize) -> (&'a [f32], &'a [f32]) {
        let o = self.off(p);
        let b = self.bins;
        (&self.re[o..o + b], &self.im[o..o + b])
    }
}

/// Kalman update parameters per bin (all `bins` long) and per frame.
pub(super) struct KalmanStep<'a> {
    /// `μ / Φ_EE(k)`.
    pub phi: &'a [f32],
    /// Error spectrum, real parts.
    pub er: &'a [f32],
    /// Error spectrum, imaginary parts.
    pub ei: &'a [f32],
    /// State transition factor `A²`.
    pub a2: f32,
}

/// Block of bins of the two-filter output (four accumulators per lane).
const BLK2: usize = 16;
/// Block of bins of the power sums (one accumulator per lane).
const BLKP: usize = 64;
/// The vector width the blocks fall back to before the scalar tail.
const VEC: usize = 8;

/// Coefficients `(re, im)` of a filter, `parts · bins` floats each.
type Coeffs<'a> = (&'a [f32], &'a [f32]);

/// `acc += W·X` on `B` lanes of complex values split into real and imaginary rows.
#[inline(always)]
fn cmadd<const F: bool, const B: usize>(
    acc: (&mut [f32; B], &mut [f32; B]),
    w: Coeffs,
    x: Coeffs,
    at: (usize, usize),
) {
    let row = |s: &[f32], o: usize| -> [f32; B] { s[o..o + B].try_into().expect("B floats") };
    let (wr, wi, xr, xi) = (row(w.0, at.0), row(w.1, at.0), row(x.0, at.1), row(x.1, at.1));
    for l in 0..B {
        acc.0[l] = madd::<F>(wr[l], xr[l], acc.0[l]);
        acc.0[l] = madd::<F>(-wi[l], xi[l], acc.0[l]);
        acc.1[l] = madd::<F>(wr[l], xi[l], acc.1[l]);
        acc.1[l] = madd::<F>(wi[l], xr[l], acc.1[l]);
    }
}

#[inline(always)]
fn output2_block<const F: bool, const B: usize>(
    ring: &Ring,
    parts: (usize, usize),
    wa: Coeffs,
    wb: Coeffs,
    k0: usize,
    out_a: &mut [Complex<f32>],
    out_b: &mut [Complex<f32>],
) {
    let b = ring.bins;
    let (mut ar, mut ai, mut br, mut bi) = ([0f32; B], [0f32; B], [0f32; B], [0f32; B]);
    let x = (ring.re, ring.im);
    for p in 0..parts.1 {
        let at = (p * b + k0, ring.off(p) + k0);
        cmadd::<F, B>((&mut ar, &mut ai), wa, x, at);
        cmadd::<F, B>((&mut br, &mut bi), wb, x, at);
    }
    // The longer filter's remaining partitions.
    for p in parts.1..parts.0 {
        cmadd::<F, B>((&mut ar, &mut ai), wa, x, (p * b + k0, ring.off(p) + k0));
    }
    for l in 0..B {
        out_a[k0 + l] = Complex::new(ar[l], ai[l]);
        out_b[k0 + l] = Complex::new(br[l], bi[l]);
    }
}

#[inline(always)]
fn output2_impl<const F: bool>(
    ring: &Ring,
    parts: (usize, usize),
    wa: Coeffs,
    wb: Coeffs,
    out_a: &mut [Complex<f32>],
    out_b: &mut [Complex<f32>],
) {
    let b = ring.bins;
    let mut k = 0;
    while k + BLK2 <= b {
        output2_block::<F, BLK2>(ring, parts, wa, wb, k, out_a, out_b);
        k += BLK2;
    }
    while k + VEC <= b {
        output2_block::<F, VEC>(ring, parts, wa, wb, k, out_a, out_b);
        k += VEC;
    }
    while k < b {
        output2_block::<F, 1>(ring, parts, wa, wb, k, out_a, out_b);
        k += 1;
    }
}

/// Per-partition weight: one scalar per partition, or a row of `bins` per partition.
#[derive(Clone, Copy)]
enum Weights<'a> {
    PerPart(&'a [f32]),
    PerBin(&'a [f32]),
}

#[inline(always)]
fn power_block<const F: bool, const B: usize>(
    ring: &Ring,
    parts: usize,
    w: Weights,
    k0: usize,
    out: &mut [f32],
) {
    let b = ring.bins;
    let mut acc = [0f32; B];
    for p in 0..parts {
        let o = ring.off(p) + k0;
        let xr: &[f32; B] = ring.re[o..o + B].try_into().expect("B floats");
        let xi: &[f32; B] = ring.im[o..o + B].try_into().expect("B floats");
        let mut x = [0f32; B];
        for l in 0..B {
            x[l] = madd::<F>(xr[l], xr[l], xi[l] * xi[l]);
        }
        match w {
            Weights::PerPart(ws) => {
                let c = ws[p];
                for l in 0..B {
                    acc[l] = madd::<F>(c, x[l], acc[l]);
                }
            }
            Weights::PerBin(v) => {
                let c: &[f32; B] = v[p * b + k0..p * b + k0 + B].try_into().expect("B floats");
                for l in 0..B {
                    acc[l] = madd::<F>(c[l], x[l], acc[l]);
                }
            }
        }
    }
    out[k0..k0 + B].copy_from_slice(&acc);
}

#[inline(always)]
fn power_impl<const F: bool>(ring: &Ring, parts: usize, w: Weights, out: &mut [f32]) {
    let b = ring.bins;
    let mut k = 0;
    while k + BLKP <= b {
        power_block::<F, BLKP>(ring, parts, w, k, out);
        k += BLKP;
    }
    while k + VEC <= b {
        power_block::<F, VEC>(ring, parts, w, k, out);
        k += VEC;
    }
    while k < b {
        power_block::<F, 1>(ring, parts, w, k, out);
        k += 1;
    }
}

/// The shadow filter's NLMS update per frame: `W_p += step[p]·conj(X_p)·g`.
pub(super) struct NlmsStep<'a> {
    /// Step profile, one value per partition of the shadow filter (its length: at most the main
    /// filter's).
    pub step: &'a [f32],
    /// `g`, real parts (`bins`).
    pub gr: &'a [f32],
    /// `g`, imaginary parts (`bins`).
    pub gi: &'a [f32],
}

/// Coefficients `(re, im)` of a filter to update, `parts · bins` floats each.
type CoeffsMut<'a> = (&'a mut [f32], &'a mut [f32]);

/// What one update pass carries over to the next frame (rows of `bins` values), all but the next
/// frame's first partition (its far-end frame is not known yet; the caller adds it).
pub(super) struct Carry<'a> {
    /// `Σ_{p ≥ 1} P'_p(k)·|X_{p−1}(k)|²` (the next innovation power).
    pub phi_next: &'a mut [f32],
    /// `Σ_{p ≥ 1} W'_p(k)·X_{p−1}(k)` of the main filter, real and imaginary parts.
    pub main: CoeffsMut<'a>,
    /// The same for the shadow filter.
    pub shadow: CoeffsMut<'a>,
}

/// The Kalman update of the main filter and the NLMS update of the shadow filter (`n.step.len()`
/// partitions, at most `parts`); also accumulates the [`Carry`] with the updated variances `P'` and
/// coefficients `W'` (the history moves by one frame: today's partition `p − 1` is tomorrow's `p`). Walks
/// a block of bins through all partitions at a time, so the carried sums and the previous partition's
/// spectrum stay in registers.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn adapt_pair_impl<const F: bool>(
    ring: &Ring,
    parts: usize,
    main: CoeffsMut,
    var: &mut [f32],
    s: &KalmanStep,
    shadow: CoeffsMut,
    n: &NlmsStep,
    c: &mut Carry,
) {
    let b = ring.bins;
    // The bounds every access of `adapt_cols` relies on (checked once here, not per load).
    let rows = parts * b;
    let shadow_parts = n.step.len();
    let shadow_rows = shadow_parts * b;
    assert!(
        parts <= ring.slots
            && shadow_parts <= parts
            && ring.first < ring.slots
            && ring.re.len() >= 2 * ring.slots * b
            && ring.im.len() >= 2 * ring.slots * b
            && main.0.len() >= rows
            && main.1.len() >= rows
            && var.len() >= rows
            && shadow.0.len() >= shadow_rows
            && shadow.1.len() >= shadow_rows
            && [s.phi, s.er, s.ei, n.gr, n.gi].iter().all(|r| r.len() >= b)
            && [&*c.phi_next, &*c.main.0, &*c.main.1, &*c.shadow.0, &*c.shadow.1]
                .iter()
                .all(|r| r.len() >= b),
        "adapt_pair: rows shorter than parts × bins, or a shadow longer than the main filter"
    );
    let mut cols = Cols {
        ring,
        parts,
        main,
        var,
        shadow,
        step: n.step,
        g: (&n.gr[..b], &n.gi[..b]),
    };
    let mut k = 0;
    while k + VEC <= b {
        // SAFETY: `k + VEC <= bins`; the row lengths were asserted above.
        unsafe { adapt_cols::<F, VEC>(k, &mut cols, s, c) };
        k += VEC;
    }
    while k < b {
        // SAFETY: as above, `k + 1 <= bins`.
        unsafe { adapt_cols::<F, 1>(k, &mut cols, s, c) };
        k += 1;
    }
}

/// The rows [`adapt_pair_impl`] walks.
struct Cols<'r> {
    ring: &'r Ring<'r>,
    parts: usize,
    main: CoeffsMut<'r>,
    var: &'r mut [f32],
    shadow: CoeffsMut<'r>,
    /// The shadow's NLMS step per partition (its length is the shadow's).
    step: &'r [f32],
    /// The shadow's per-bin gradient factor `g`.
    g: Coeffs<'r>,
}

/// `B` floats of `s` from `k0` on, as an array, without a bounds check.
///
/// # Safety
/// `k0 + B <= s.len()`.
#[inline(always)]
unsafe fn load<const B: usize>(s: &[f32], k0: usize) -> [f32; B] {
    debug_assert!(k0 + B <= s.len(), "load in bounds");
    // SAFETY: the caller guarantees `k0 + B <= s.len()`; `[f32; B]` has no alignment beyond f32's and
    // the read is unaligned.
    unsafe { std::ptr::read_unaligned(s.as_ptr().add(k0).cast::<[f32; B]>()) }
}

/// Writes `v` to `s[k0..k0 + B]` without a bounds check.
///
/// # Safety
/// `k0 + B <= s.len()`.
#[inline(always)]
unsafe fn store<const B: usize>(s: &mut [f32], k0: usize, v: &[f32; B]) {
    debug_assert!(k0 + B <= s.len(), "store in bounds");
    // SAFETY: as in `load`; `v` is a local array, so the ranges do not overlap.
    unsafe { std::ptr::copy_nonoverlapping(v.as_ptr(), s.as_mut_ptr().add(k0), B) }
}

/// Bins `k0..k0 + B` of every partition of [`adapt_pair_impl`].
///
/// # Safety
/// `k0 + B <= bins` and the row lengths [`adapt_pair_impl`] asserts.
#[inline(always)]
unsafe fn adapt_cols<const F: bool, const B: usize>(k0: usize, r: &mut Cols, s: &KalmanStep, c: &mut Carry) {
    let b = r.ring.bins;
    // SAFETY (every `load`/`store` below): per-bin rows are read at `k0..k0 + B ≤ bins`; partition rows
    // at `p·bins + k0` with `p < parts` (main rows hold `parts·bins`) or `p < step.len()` (shadow rows
    // hold `step.len()·bins`), or at `ring.off(p) + k0` with
    // `ring.off(p) ≤ (2·slots − 1)·bins` (`first < slots`; the ring holds `2·slots·bins`), as the caller
    // asserted.
    let (a2, q) = (s.a2, 1.0 - s.a2);
    let (phi, er, ei) = unsafe { (load::<B>(s.phi, k0), load::<B>(s.er, k0), load::<B>(s.ei, k0)) };
    let (gr, gi) = unsafe { (load::<B>(r.g.0, k0), load::<B>(r.g.1, k0)) };
    // Two walks over the partitions, the Kalman update first and the NLMS update second: one walk with
    // both needs more vector registers than x86-64 has (the spills put the carried sums on a
    // store-to-load chain). The second walk reads the far-end rows again while they are in L1.
    //
    // Carried sums, and the previous partition's far-end spectrum and power (zero before the first:
    // its terms belong to the frame yet to come).
    let (mut phi_next, mut ymr, mut ymi) = ([0f32; B], [0f32; B], [0f32; B]);
    let (mut pr, mut pi, mut ppw) = ([0f32; B], [0f32; B], [0f32; B]);
    for p in 0..r.parts {
        let o = r.ring.off(p) + k0;
        let (xr, xi) = unsafe { (load::<B>(r.ring.re, o), load::<B>(r.ring.im, o)) };
        let o = p * b + k0;
        let (mut wr, mut wi, mut v) = unsafe {
            (
                load::<B>(r.main.0, o),
                load::<B>(r.main.1, o),
                load::<B>(r.var, o),
            )
        };
        let mut pw = [0f32; B];
        for l in 0..B {
            pw[l] = madd::<F>(xr[l], xr[l], xi[l] * xi[l]);
            let gk = v[l] * phi[l];
            let gkr = gk * er[l];
            let gki = gk * ei[l];
            let nr = madd::<F>(xi[l], gki, madd::<F>(xr[l], gkr, wr[l]));
            let ni = madd::<F>(-xi[l], gkr, madd::<F>(xr[l], gki, wi[l]));
            wr[l] = nr;
            wi[l] = ni;
            let t = madd::<F>(-gk, pw[l], 1.0);
            let vp = v[l] * if t > 0.0 { t } else { 0.0 };
            let w2 = madd::<F>(nr, nr, ni * ni);
            let vn = madd::<F>(a2, vp, madd::<F>(q, w2, 1e-12));
            v[l] = vn;
            phi_next[l] = madd::<F>(vn, ppw[l], phi_next[l]);
            // Next frame's output: W'_p·X_{p−1}.
            ymr[l] = madd::<F>(nr, pr[l], madd::<F>(-ni, pi[l], ymr[l]));
            ymi[l] = madd::<F>(nr, pi[l], madd::<F>(ni, pr[l], ymi[l]));
        }
        unsafe {
            store(r.main.0, o, &wr);
            store(r.main.1, o, &wi);
            store(r.var, o, &v);
        }
        (pr, pi, ppw) = (xr, xi, pw);
    }
    let (mut ysr, mut ysi) = ([0f32; B], [0f32; B]);
    let (mut pr, mut pi) = ([0f32; B], [0f32; B]);
    for p in 0..r.step.len() {
        let o = r.ring.off(p) + k0;
        let (xr, xi) = unsafe { (load::<B>(r.ring.re, o), load::<B>(r.ring.im, o)) };
        let o = p * b + k0;
        let (mut sr, mut si) = unsafe { (load::<B>(r.shadow.0, o), load::<B>(r.shadow.1, o)) };
        // SAFETY: `p < step.len()`.
        let w = unsafe { *r.step.get_unchecked(p) };
        for l in 0..B {
            // conj(X)·g = (xr − j·xi)(gr + j·gi)
            let snr = madd::<F>(w, madd::<F>(xr[l], gr[l], xi[l] * gi[l]), sr[l]);
            let sni = madd::<F>(w, madd::<F>(xr[l], gi[l], -(xi[l] * gr[l])), si[l]);
            sr[l] = snr;
            si[l] = sni;
            ysr[l] = madd::<F>(snr, pr[l], madd::<F>(-sni, pi[l], ysr[l]));
            ysi[l] = madd::<F>(snr, pi[l], madd::<F>(sni, pr[l], ysi[l]));
        }
        unsafe {
            store(r.shadow.0, o, &sr);
            store(r.shadow.1, o, &si);
        }
        (pr, pi) = (xr, xi);
    }
    unsafe {
        store(c.phi_next, k0, &phi_next);
        store(c.main.0, k0, &ymr);
        store(c.main.1, k0, &ymi);
        store(c.shadow.0, k0, &ysr);
        store(c.shadow.1, k0, &ysi);
    }
}

#[cfg(target_arch = "x86_64")]
mod avx {
    use super::*;

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn output2(
        ring: &Ring,
        parts: (usize, usize),
        wa: Coeffs,
        wb: Coeffs,
        out_a: &mut [Complex<f32>],
        out_b: &mut [Complex<f32>],
    ) {
        output2_impl::<true>(ring, parts, wa, wb, out_a, out_b);
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn power(ring: &Ring, parts: usize, w: Weights, out: &mut [f32]) {
        power_impl::<true>(ring, parts, w, out);
    }

    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    pub(super) unsafe fn adapt_pair(
        ring: &Ring,
        parts: usize,
        main: CoeffsMut,
        var: &mut [f32],
        s: &KalmanStep,
        shadow: CoeffsMut,
        n: &NlmsStep,
        c: &mut Carry,
    ) {
        adapt_pair_impl::<true>(ring, parts, main, var, s, shadow, n, c);
    }
}

impl Simd {
    /// AVX2 + FMA where the CPU has them (`is_x86_feature_detected!`, cached by std), else portable.
    pub fn detect() -> Self {
        Self {
            avx2_fma: crate::basic::simd8::has_avx2_fma(),
        }
    }

    /// The portable kernels (the build's baseline instruction set).
    #[cfg(test)]
    pub fn portable() -> Self {
        Self { avx2_fma: false }
    }

    /// `out_a(k) = Σ_{p<parts.0} Wa_p(k)·X_p(k)` and `out_b(k) = Σ_{p<parts.1} Wb_p(k)·X_p(k)`
    /// (`parts.1 ≤ parts.0`), reading the far-end spectra once (coefficients: rows of `bins`, real and
    /// imaginary parts).
    pub fn output2(
        self,
        ring: &Ring,
        parts: (usize, usize),
        wa: (&[f32], &[f32]),
        wb: (&[f32], &[f32]),
        out_a: &mut [Complex<f32>],
        out_b: &mut [Complex<f32>],
    ) {
        assert!(parts.1 <= parts.0, "output2: the second filter is the shorter");
        #[cfg(target_arch = "x86_64")]
        if self.avx2_fma {
            // SAFETY: the CPU supports AVX2 and FMA (checked in `detect`), the only requirement of the
            // `#[target_feature]` function; its body is safe code.
            return unsafe { avx::output2(ring, parts, wa, wb, out_a, out_b) };
        }
        output2_impl::<false>(ring, parts, wa, wb, out_a, out_b);
    }

    /// `out(k) = Σ_{p<parts} weights[p]·|X_p(k)|²`.
    pub fn power_sum(self, ring: &Ring, parts: usize, weights: &[f32], out: &mut [f32]) {
        let w = Weights::PerPart(weights);
        #[cfg(target_arch = "x86_64")]
        if self.avx2_fma {
            // SAFETY: as in `output2`.
            return unsafe { avx::power(ring, parts, w, out) };
        }
        power_impl::<false>(ring, parts, w, out);
    }

    /// `out(k) = Σ_{p<parts} var_p(k)·|X_p(k)|²` (`var`: `parts` rows of `bins`).
    pub fn var_power_sum(self, ring: &Ring, parts: usize, var: &[f32], out: &mut [f32]) {
        let w = Weights::PerBin(var);
        #[cfg(target_arch = "x86_64")]
        if self.avx2_fma {
            // SAFETY: as in `output2`.
            return unsafe { avx::power(ring, parts, w, out) };
        }
        power_impl::<false>(ring, parts, w, out);
    }

    /// One pass of both filter updates over the far-end spectra:
    /// - main filter (Kalman): with `g = P·φ`, `W += g·conj(X)·E`,
    ///   `P ← A²·P·max(1 − g·|X|², 0) + (1 − A²)·|W|² + 10⁻¹²`;
    /// - shadow filter (NLMS): `W_p += step[p]·conj(X_p)·g` with `g = (gr, gi)` per bin;
    /// - the [`Carry`] to the next frame, with the updated `P` and `W` (see `adapt_pair_impl`).
    #[allow(clippy::too_many_arguments)]
    pub fn adapt_pair(
        self,
        ring: &Ring,
        parts: usize,
        main: CoeffsMut,
        var: &mut [f32],
        s: &KalmanStep,
        shadow: CoeffsMut,
        n: &NlmsStep,
        c: &mut Carry,
    ) {
        #[cfg(target_arch = "x86_64")]
        if self.avx2_fma {
            // SAFETY: as in `output2`.
            return unsafe { avx::adapt_pair(ring, parts, main, var, s, shadow, n, c) };
        }
        adapt_pair_impl::<false>(ring, parts, main, var, s, shadow, n, c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Data {
        re: Vec<f32>,
        im: Vec<f32>,
        bins: usize,
        slots: usize,
    }

    fn rnd(seed: &mut u32) -> f32 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 17;
        *seed ^= *seed << 5;
        *seed as f32 / u32::MAX as f32 - 0.5
    }

    /// A random ring in the kernels' layout (every slot twice).
    fn data(bins: usize, slots: usize, seed: &mut u32) -> Data {
        let mut re: Vec<f32> = (0..bins * slots).map(|_| rnd(seed)).collect();
        let mut im: Vec<f32> = (0..bins * slots).map(|_| rnd(seed)).collect();
        re.extend_from_within(..);
        im.extend_from_within(..);
        Data { re, im, bins, slots }
    }

    fn ring(d: &Data, first: usize) -> Ring<'_> {
        Ring {
            re: &d.re,
            im: &d.im,
            bins: d.bins,
            slots: d.slots,
            first,
        }
    }

    fn close(a: f32, b: f32, what: &str) {
        assert!(
            (a - b).abs() <= 1e-4 * (1.0 + a.abs().max(b.abs())),
            "{what}: {a} vs {b}"
        );
    }

    /// Every kernel, on the detected instruction set and on the portable one, against a direct scalar
    /// evaluation of its formula (bin counts with and without tails; a ring that wraps; a second
    /// (shadow) filter shorter than the first and as long).
    #[test]
    fn kernels_match_scalar_formulas() {
        let mut seed = 0x2468_ace1u32;
        for (bins, parts, sp, slots, first) in [
            (161usize, 7usize, 4usize, 12usize, 3usize),
            (81, 5, 5, 5, 4),
            (9, 3, 1, 4, 0),
        ] {
            let d = data(bins, slots, &mut seed);
            let r = ring(&d, first);
            let wr: Vec<f32> = (0..parts * bins).map(|_| rnd(&mut seed)).collect();
            let wi: Vec<f32> = (0..parts * bins).map(|_| rnd(&mut seed)).collect();
            let var: Vec<f32> = (0..parts * bins).map(|_| 0.5 + rnd(&mut seed)).collect();
            let steps: Vec<f32> = (0..parts).map(|p| 1.0 / (1.0 + p as f32)).collect();
            let x = |p: usize, k: usize| {
                let s = (first + slots - p) % slots;
                (d.re[s * bins + k], d.im[s * bins + k])
            };
            for simd in [Simd::detect(), Simd::portable()] {
                // Outputs.
                let mut oa = vec![Complex::default(); bins];
                let mut ob = vec![Complex::default(); bins];
                let (swr, swi) = (&wi[..sp * bins], &wr[..sp * bins]);
                simd.output2(&r, (parts, sp), (&wr, &wi), (swr, swi), &mut oa, &mut ob);
                let mut ps = vec![0.0; bins];
                let mut pv = vec![0.0; bins];
                simd.power_sum(&r, parts, &steps, &mut ps);
                simd.var_power_sum(&r, parts, &var, &mut pv);
                for k in 0..bins {
                    let (mut a, mut b, mut s, mut v) = (Complex::default(), Complex::default(), 0.0, 0.0);
                    for p in 0..parts {
                        let (xr, xi) = x(p, k);
                        let xc = Complex::new(xr, xi);
                        a += Complex::new(wr[p * bins + k], wi[p * bins + k]) * xc;
                        if p < sp {
                            b += Complex::new(wi[p * bins + k], wr[p * bins + k]) * xc;
                        }
                        s += steps[p] * (xr * xr + xi * xi);
                        v += var[p * bins + k] * (xr * xr + xi * xi);
                    }
                    close(oa[k].re, a.re, "output2 a re");
                    close(oa[k].im, a.im, "output2 a im");
                    close(ob[k].re, b.re, "output2 b re");
                    close(ob[k].im, b.im, "output2 b im");
                    close(ps[k], s, "power_sum");
                    close(pv[k], v, "var_power_sum");
                }
                // Kalman update.
                let phi: Vec<f32> = (0..bins).map(|_| 0.3 + 0.2 * rnd(&mut seed)).collect();
                let er: Vec<f32> = (0..bins).map(|_| rnd(&mut seed)).collect();
                let ei: Vec<f32> = (0..bins).map(|_| rnd(&mut seed)).collect();
                let (mut kr, mut ki, mut kv) = (wr.clone(), wi.clone(), var.clone());
                let a2 = 0.998;
                let (mut nr, mut ni) = (swr.to_vec(), swi.to_vec());
                let mut rows = vec![vec![0.0; bins]; 5];
                let [phi_next, ymr, ymi, ysr, ysi] = &mut rows[..] else {
                    unreachable!("five rows")
                };
                simd.adapt_pair(
                    &r,
                    parts,
                    (&mut kr, &mut ki),
                    &mut kv,
                    &KalmanStep {
                        phi: &phi,
                        er: &er,
                        ei: &ei,
                        a2,
                    },
                    (&mut nr, &mut ni),
                    &NlmsStep {
                        step: &steps[..sp],
                        gr: &ei,
                        gi: &er,
                    },
                    &mut Carry {
                        phi_next,
                        main: (ymr, ymi),
                        shadow: (ysr, ysi),
                    },
                );
                let mut want_next = vec![0.0; bins];
                let mut want_ym = vec![Complex::default(); bins];
                let mut want_ys = vec![Complex::default(); bins];
                for p in 0..parts {
                    for k in 0..bins {
                        let i = p * bins + k;
                        let (xr, xi) = x(p, k);
                        let g = var[i] * phi[k];
                        let (gr, gi) = (g * er[k], g * ei[k]);
                        let wr2 = wr[i] + xr * gr + xi * gi;
                        let wi2 = wi[i] + xr * gi - xi * gr;
                        let vp = var[i] * (1.0 - g * (xr * xr + xi * xi)).max(0.0);
                        let v2 = a2 * vp + (1.0 - a2) * (wr2 * wr2 + wi2 * wi2) + 1e-12;
                        close(kr[i], wr2, "kalman re");
                        close(ki[i], wi2, "kalman im");
                        close(kv[i], v2, "kalman var");
                        if p > 0 {
                            let (yr, yi) = x(p - 1, k);
                            want_next[k] += v2 * (yr * yr + yi * yi);
                            want_ym[k] += Complex::new(wr2, wi2) * Complex::new(yr, yi);
                        }
                        if p >= sp {
                            continue;
                        }
                        // Shadow: coefficients (wi, wr), gradient (ei, er).
                        let w = steps[p];
                        let sr2 = wi[i] + w * (xr * ei[k] + xi * er[k]);
                        let si2 = wr[i] + w * (xr * er[k] - xi * ei[k]);
                        close(nr[i], sr2, "nlms re");
                        close(ni[i], si2, "nlms im");
                        if p > 0 {
                            let (yr, yi) = x(p - 1, k);
                            want_ys[k] += Complex::new(sr2, si2) * Complex::new(yr, yi);
                        }
                    }
                }
                for k in 0..bins {
                    close(phi_next[k], want_next[k], "phi_next");
                    close(ymr[k], want_ym[k].re, "next main re");
                    close(ymi[k], want_ym[k].im, "next main im");
                    close(ysr[k], want_ys[k].re, "next shadow re");
                    close(ysi[k], want_ys[k].im, "next shadow im");
                }
            }
        }
    }
}
