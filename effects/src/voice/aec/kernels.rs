//! Vector kernels of the partitioned frequency-domain filters (the inner loops of [`super::filter`]).
//!
//! # What
//! - [`Simd::output`] / [`Simd::output2`]: the echo estimate `Ŷ(k) = Σ_p W_p(k)·X_p(k)` of one filter or of
//!   two filters (main and shadow) reading the far-end spectra once;
//! - [`Simd::power_sum`]: `Σ_p w_p·|X_p(k)|²` with one weight per partition;
//! - [`Simd::var_power_sum`]: `Σ_p P_p(k)·|X_p(k)|²` with per-bin weights (the Kalman innovation power);
//! - [`Simd::adapt_pair`]: the Kalman update of the main filter (coefficients and state-error variance)
//!   and the NLMS update of the shadow filter in one pass, which also yields the next frame's innovation
//!   power but for its first partition.
//!
//! # How
//! Spectra are stored as structure of arrays (real and imaginary parts in separate rows of `bins` floats), so every operation is a lane-wise loop over bins. The sums over partitions keep their
//! accumulators for a block of bins in registers while they walk the partitions (no load/store of the
//! accumulators per partition); the updates walk one partition row at a time. Each kernel is written once
//! in plain Rust on fixed-size blocks that LLVM turns into vector instructions, and compiled twice: for the
//! build's baseline (SSE2 on x86-64) and, on x86-64 CPUs that have them, with AVX2 + FMA enabled (8-wide
//! fused multiply-adds), chosen by [`Simd::detect`] once when the filter is built (as in
//! `crate::basic::simd8`). With FMA the products are rounded once instead of twice, and the split of the
//! complex products' sums differs from the scalar order: results agree with the portable path to float
//! rounding (checked by the tests below).
//!
//! The real-FFT split that [`super::filter::Fft`] runs with the same instruction-set choice is in
//! [`super::fft_split`].
//!
//! # Real-time safety
//! Arithmetic on caller-provided slices only. `unsafe` is confined to calling the `#[target_feature]`
//! variants after the feature check, each with a `// SAFETY:` note.
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
/// needed: two fused multiply-adds cost less than streaming a third row through the cache).
#[derive(Clone, Copy)]
pub(super) struct Ring<'a> {
    pub re: &'a [f32],
    pub im: &'a [f32],
    pub bins: usize,
    pub slots: usize,
    pub first: usize,
}

impl Ring<'_> {
    /// Offset of partition `p`'s row (`p < slots`).
    #[inline(always)]
    fn off(&self, p: usize) -> usize {
        let s = if p <= self.first {
            self.first - p
        } else {
            self.first + self.slots - p
        };
        s * self.bins
    }

    /// Rows `(re, im)` of partition `p`, `bins` long.
    #[inline(always)]
    pub(super) fn rows(&self, p: usize) -> (&[f32], &[f32]) {
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

/// Block of bins summed over the partitions in registers by the one-filter output.
const BLK1: usize = 32;
/// Block of bins of the two-filter output (twice the accumulators).
const BLK2: usize = 16;
/// Block of bins of the power sums (one accumulator per lane).
const BLKP: usize = 64;
/// The vector width the blocks fall back to before the scalar tail.
const VEC: usize = 8;

#[inline(always)]
fn output_block<const F: bool, const B: usize>(
    ring: &Ring,
    parts: usize,
    wr: &[f32],
    wi: &[f32],
    k0: usize,
    out: &mut [Complex<f32>],
) {
    let b = ring.bins;
    let mut ar = [0f32; B];
    let mut ai = [0f32; B];
    for p in 0..parts {
        let o = ring.off(p) + k0;
        let xr: &[f32; B] = ring.re[o..o + B].try_into().expect("B floats");
        let xi: &[f32; B] = ring.im[o..o + B].try_into().expect("B floats");
        let w = p * b + k0;
        let cr: &[f32; B] = wr[w..w + B].try_into().expect("B floats");
        let ci: &[f32; B] = wi[w..w + B].try_into().expect("B floats");
        for l in 0..B {
            ar[l] = madd::<F>(cr[l], xr[l], ar[l]);
            ar[l] = madd::<F>(-ci[l], xi[l], ar[l]);
            ai[l] = madd::<F>(cr[l], xi[l], ai[l]);
            ai[l] = madd::<F>(ci[l], xr[l], ai[l]);
        }
    }
    for l in 0..B {
        out[k0 + l] = Complex::new(ar[l], ai[l]);
    }
}

#[inline(always)]
fn output_impl<const F: bool>(ring: &Ring, parts: usize, wr: &[f32], wi: &[f32], out: &mut [Complex<f32>]) {
    let b = ring.bins;
    let mut k = 0;
    while k + BLK1 <= b {
        output_block::<F, BLK1>(ring, parts, wr, wi, k, out);
        k += BLK1;
    }
    while k + VEC <= b {
        output_block::<F, VEC>(ring, parts, wr, wi, k, out);
        k += VEC;
    }
    while k < b {
        output_block::<F, 1>(ring, parts, wr, wi, k, out);
        k += 1;
    }
}

/// Coefficients `(re, im)` of a filter, `parts · bins` floats each.
type Coeffs<'a> = (&'a [f32], &'a [f32]);

#[inline(always)]
fn output2_block<const F: bool, const B: usize>(
    ring: &Ring,
    parts: usize,
    wa: Coeffs,
    wb: Coeffs,
    k0: usize,
    out_a: &mut [Complex<f32>],
    out_b: &mut [Complex<f32>],
) {
    let b = ring.bins;
    let (mut ar, mut ai, mut br, mut bi) = ([0f32; B], [0f32; B], [0f32; B], [0f32; B]);
    for p in 0..parts {
        let o = ring.off(p) + k0;
        let xr: &[f32; B] = ring.re[o..o + B].try_into().expect("B floats");
        let xi: &[f32; B] = ring.im[o..o + B].try_into().expect("B floats");
        let w = p * b + k0;
        let car: &[f32; B] = wa.0[w..w + B].try_into().expect("B floats");
        let cai: &[f32; B] = wa.1[w..w + B].try_into().expect("B floats");
        let cbr: &[f32; B] = wb.0[w..w + B].try_into().expect("B floats");
        let cbi: &[f32; B] = wb.1[w..w + B].try_into().expect("B floats");
        for l in 0..B {
            ar[l] = madd::<F>(car[l], xr[l], ar[l]);
            ar[l] = madd::<F>(-cai[l], xi[l], ar[l]);
            ai[l] = madd::<F>(car[l], xi[l], ai[l]);
            ai[l] = madd::<F>(cai[l], xr[l], ai[l]);
            br[l] = madd::<F>(cbr[l], xr[l], br[l]);
            br[l] = madd::<F>(-cbi[l], xi[l], br[l]);
            bi[l] = madd::<F>(cbr[l], xi[l], bi[l]);
            bi[l] = madd::<F>(cbi[l], xr[l], bi[l]);
        }
    }
    for l in 0..B {
        out_a[k0 + l] = Complex::new(ar[l], ai[l]);
        out_b[k0 + l] = Complex::new(br[l], bi[l]);
    }
}

#[inline(always)]
fn output2_impl<const F: bool>(
    ring: &Ring,
    parts: usize,
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
    /// Step profile, one value per partition.
    pub step: &'a [f32],
    /// `g`, real parts (`bins`).
    pub gr: &'a [f32],
    /// `g`, imaginary parts (`bins`).
    pub gi: &'a [f32],
}

/// Coefficients `(re, im)` of a filter to update, `parts · bins` floats each.
type CoeffsMut<'a> = (&'a mut [f32], &'a mut [f32]);

/// The Kalman update of the main filter and the NLMS update of the shadow filter in one pass over the
/// far-end spectra; also accumulates `phi_next(k) = Σ_{p ≥ 1} P'_p(k)·|X_{p−1}(k)|²` with the updated
/// variances `P'`, which is next frame's innovation power without its first partition (the history
/// moves by one frame: today's partition `p − 1` is tomorrow's `p`).
#[inline(always)]
fn adapt_pair_impl<const F: bool>(
    ring: &Ring,
    parts: usize,
    main: CoeffsMut,
    var: &mut [f32],
    s: &KalmanStep,
    shadow: CoeffsMut,
    n: &NlmsStep,
    phi_next: &mut [f32],
    pw_prev: &mut [f32],
) {
    let b = ring.bins;
    let q = 1.0 - s.a2;
    let (phi, er, ei) = (&s.phi[..b], &s.er[..b], &s.ei[..b]);
    let (gr, gi) = (&n.gr[..b], &n.gi[..b]);
    let phi_next = &mut phi_next[..b];
    phi_next.fill(0.0);
    let rows = main
        .0
        .chunks_exact_mut(b)
        .zip(main.1.chunks_exact_mut(b))
        .zip(var.chunks_exact_mut(b))
        .zip(shadow.0.chunks_exact_mut(b).zip(shadow.1.chunks_exact_mut(b)))
        .take(parts);
    let pw_prev = &mut pw_prev[..b];
    for (p, (((wr, wi), v), (sr, si))) in rows.enumerate() {
        let (xr, xi) = ring.rows(p);
        let w = n.step[p];
        // Next frame, partition `p` holds today's `p − 1`, whose powers `pw_prev` kept (partition 0 holds
        // the frame yet to come, added by the caller).
        let keep = if p > 0 { 1.0 } else { 0.0 };
        for k in 0..b {
            let pw = madd::<F>(xr[k], xr[k], xi[k] * xi[k]);
            let g = v[k] * phi[k];
            let gkr = g * er[k];
            let gki = g * ei[k];
            let nr = madd::<F>(xi[k], gki, madd::<F>(xr[k], gkr, wr[k]));
            let ni = madd::<F>(-xi[k], gkr, madd::<F>(xr[k], gki, wi[k]));
            wr[k] = nr;
            wi[k] = ni;
            let t = madd::<F>(-g, pw, 1.0);
            let vp = v[k] * if t > 0.0 { t } else { 0.0 };
            let w2 = madd::<F>(nr, nr, ni * ni);
            let vn = madd::<F>(s.a2, vp, madd::<F>(q, w2, 1e-12));
            v[k] = vn;
            phi_next[k] = madd::<F>(keep * vn, pw_prev[k], phi_next[k]);
            pw_prev[k] = pw;
            // conj(X)·g = (xr − j·xi)(gr + j·gi)
            sr[k] = madd::<F>(w, madd::<F>(xr[k], gr[k], xi[k] * gi[k]), sr[k]);
            si[k] = madd::<F>(w, madd::<F>(xr[k], gi[k], -(xi[k] * gr[k])), si[k]);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx {
    use super::*;

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn output(ring: &Ring, parts: usize, wr: &[f32], wi: &[f32], out: &mut [Complex<f32>]) {
        output_impl::<true>(ring, parts, wr, wi, out);
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn output2(
        ring: &Ring,
        parts: usize,
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
        phi_next: &mut [f32],
        pw_prev: &mut [f32],
    ) {
        adapt_pair_impl::<true>(ring, parts, main, var, s, shadow, n, phi_next, pw_prev);
    }
}

impl Simd {
    /// AVX2 + FMA where the CPU has them (`is_x86_feature_detected!`, cached by std), else portable.
    pub fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            Self {
                avx2_fma: crate::basic::simd8::has_avx2_fma(),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            Self { avx2_fma: false }
        }
    }

    /// The portable kernels (the build's baseline instruction set).
    #[cfg(test)]
    pub fn portable() -> Self {
        Self { avx2_fma: false }
    }

    /// `out(k) = Σ_{p<parts} W_p(k)·X_p(k)` for coefficients `(wr, wi)` (`parts` rows of `bins`).
    pub fn output(self, ring: &Ring, parts: usize, wr: &[f32], wi: &[f32], out: &mut [Complex<f32>]) {
        #[cfg(target_arch = "x86_64")]
        if self.avx2_fma {
            // SAFETY: the CPU supports AVX2 and FMA (checked in `detect`), the only requirement of the
            // `#[target_feature]` function; its body is safe code.
            return unsafe { avx::output(ring, parts, wr, wi, out) };
        }
        output_impl::<false>(ring, parts, wr, wi, out);
    }

    /// [`Self::output`] of two filters `wa` and `wb` over the same far-end spectra.
    pub fn output2(
        self,
        ring: &Ring,
        parts: usize,
        wa: (&[f32], &[f32]),
        wb: (&[f32], &[f32]),
        out_a: &mut [Complex<f32>],
        out_b: &mut [Complex<f32>],
    ) {
        #[cfg(target_arch = "x86_64")]
        if self.avx2_fma {
            // SAFETY: as in `output`.
            return unsafe { avx::output2(ring, parts, wa, wb, out_a, out_b) };
        }
        output2_impl::<false>(ring, parts, wa, wb, out_a, out_b);
    }

    /// `out(k) = Σ_{p<parts} weights[p]·|X_p(k)|²`.
    pub fn power_sum(self, ring: &Ring, parts: usize, weights: &[f32], out: &mut [f32]) {
        let w = Weights::PerPart(weights);
        #[cfg(target_arch = "x86_64")]
        if self.avx2_fma {
            // SAFETY: as in `output`.
            return unsafe { avx::power(ring, parts, w, out) };
        }
        power_impl::<false>(ring, parts, w, out);
    }

    /// `out(k) = Σ_{p<parts} var_p(k)·|X_p(k)|²` (`var`: `parts` rows of `bins`).
    pub fn var_power_sum(self, ring: &Ring, parts: usize, var: &[f32], out: &mut [f32]) {
        let w = Weights::PerBin(var);
        #[cfg(target_arch = "x86_64")]
        if self.avx2_fma {
            // SAFETY: as in `output`.
            return unsafe { avx::power(ring, parts, w, out) };
        }
        power_impl::<false>(ring, parts, w, out);
    }

    /// One pass of both filter updates over the far-end spectra:
    /// - main filter (Kalman): with `g = P·φ`, `W += g·conj(X)·E`,
    ///   `P ← A²·P·max(1 − g·|X|², 0) + (1 − A²)·|W|² + 10⁻¹²`;
    /// - shadow filter (NLMS): `W_p += step[p]·conj(X_p)·g` with `g = (gr, gi)` per bin;
    /// - `phi_next(k) = Σ_{p ≥ 1} P_p(k)·|X_{p−1}(k)|²` with the updated `P` (see `adapt_pair_impl`);
    ///   `pw_prev` is scratch of `bins` values.
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
        phi_next: &mut [f32],
        pw_prev: &mut [f32],
    ) {
        #[cfg(target_arch = "x86_64")]
        if self.avx2_fma {
            // SAFETY: as in `output`.
            return unsafe { avx::adapt_pair(ring, parts, main, var, s, shadow, n, phi_next, pw_prev) };
        }
        adapt_pair_impl::<false>(ring, parts, main, var, s, shadow, n, phi_next, pw_prev);
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

    fn data(bins: usize, slots: usize, seed: &mut u32) -> Data {
        let re: Vec<f32> = (0..bins * slots).map(|_| rnd(seed)).collect();
        let im: Vec<f32> = (0..bins * slots).map(|_| rnd(seed)).collect();
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
    /// evaluation of its formula (bin counts with and without tails; a ring that wraps).
    #[test]
    fn kernels_match_scalar_formulas() {
        let mut seed = 0x2468_ace1u32;
        for (bins, parts, slots, first) in [(161usize, 7usize, 12usize, 3usize), (81, 5, 5, 4), (9, 3, 4, 0)]
        {
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
                let mut o1 = vec![Complex::default(); bins];
                simd.output(&r, parts, &wr, &wi, &mut o1);
                simd.output2(&r, parts, (&wr, &wi), (&wi, &wr), &mut oa, &mut ob);
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
                        b += Complex::new(wi[p * bins + k], wr[p * bins + k]) * xc;
                        s += steps[p] * (xr * xr + xi * xi);
                        v += var[p * bins + k] * (xr * xr + xi * xi);
                    }
                    close(o1[k].re, a.re, "output re");
                    close(o1[k].im, a.im, "output im");
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
                let (mut nr, mut ni) = (wi.clone(), wr.clone());
                let mut phi_next = vec![0.0; bins];
                let mut pw_prev = vec![0.0; bins];
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
                        step: &steps,
                        gr: &ei,
                        gi: &er,
                    },
                    &mut phi_next,
                    &mut pw_prev,
                );
                let mut want_next = vec![0.0; bins];
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
                        }
                        // Shadow: coefficients (wi, wr), gradient (ei, er).
                        let w = steps[p];
                        close(nr[i], wi[i] + w * (xr * ei[k] + xi * er[k]), "nlms re");
                        close(ni[i], wr[i] + w * (xr * er[k] - xi * ei[k]), "nlms im");
                    }
                }
                for k in 0..bins {
                    close(phi_next[k], want_next[k], "phi_next");
                }
            }
        }
    }
}
