//! The split between a real signal's spectrum and the half-length complex FFT of its paired samples (the
//! "two for one" real FFT that [`super::filter::Fft`] builds on rustfft).
//!
//! # What
//! [`Simd::r2c_post`] turns the `H`-point complex DFT of `x[2n] + j·x[2n+1]` into the `H + 1` bins of the
//! real signal's spectrum; [`Simd::c2r_pre`] is its inverse (before an `H`-point inverse DFT).
//!
//! # How
//! E. O. Brigham, *The Fast Fourier Transform*, 1974, ch. 10 (formulas at each function). The portable
//! build is plain Rust; on x86-64 CPUs with AVX2 + FMA (the choice of [`Simd::detect`]) four bins and their
//! mirrors are done per step with AVX2 intrinsics, the rest by the portable loop.
//!
//! # Real-time safety
//! Arithmetic on caller-provided slices only. `unsafe` is confined to calling the `#[target_feature]`
//! variants after the feature check and to the AVX2 intrinsics (unaligned loads and stores whose bounds are
//! asserted first), each with a `// SAFETY:` note.
#![allow(unsafe_code)]

use realfft::num_complex::Complex;

use super::kernels::Simd;
use crate::basic::simd8::madd;

/// Spectrum of a real signal `x` of `2H` samples from `z = DFT_H(x[2n] + j·x[2n+1])`: with
/// `E = (Z_k + Z*_{H−k})/2`, `O = −j(Z_k − Z*_{H−k})/2` and `P = e^{−jπk/H}·O`, `X_k = E + P` and
/// `X_{H−k} = (E − P)*`. `tw[k] = e^{−jπk/H}`, `out` has `H + 1` bins.
#[inline(always)]
fn r2c_post_impl<const F: bool>(
    z: &[Complex<f32>],
    tw: &[Complex<f32>],
    out: &mut [Complex<f32>],
    first: usize,
) {
    let h = z.len();
    let (zr, zi) = (z[0].re, z[0].im);
    out[0] = Complex::new(zr + zi, 0.0);
    out[h] = Complex::new(zr - zi, 0.0);
    let half = h / 2;
    let (lo, hi) = out[..h].split_at_mut(half + 1);
    let (z_lo, z_hi) = z.split_at(half + 1);
    // k in first..=half pairs with h − k (the middle bin, k = h/2 for even h, pairs with itself and is
    // written twice with the same value).
    for k in first..=half {
        let a = z_lo[k];
        let b = if h - k > half {
            z_hi[h - k - half - 1]
        } else {
            z_lo[h - k]
        };
        let (er, ei) = (0.5 * (a.re + b.re), 0.5 * (a.im - b.im));
        // O = −j·d with d = (a − b*)/2: O = (d.im, −d.re).
        let (or, oi) = (0.5 * (a.im + b.im), -0.5 * (a.re - b.re));
        let w = tw[k];
        let pr = madd::<F>(w.re, or, -(w.im * oi));
        let pi = madd::<F>(w.re, oi, w.im * or);
        lo[k] = Complex::new(er + pr, ei + pi);
        let m = Complex::new(er - pr, pi - ei);
        if h - k > half {
            hi[h - k - half - 1] = m;
        } else {
            lo[h - k] = m;
        }
    }
}

/// The inverse of [`r2c_post_impl`] (times 2, so that the unnormalised inverse DFT of `z` gives
/// `2H·x[2n] + j·2H·x[2n+1]`): `Z_k = 2E + j·2O` with `2E = X_k + X*_{H−k}`,
/// `2O = (X_k − X*_{H−k})·e^{+jπk/H}`. The imaginary parts of `X_0` and `X_H` are ignored.
#[inline(always)]
fn c2r_pre_impl<const F: bool>(
    x: &[Complex<f32>],
    tw: &[Complex<f32>],
    z: &mut [Complex<f32>],
    first: usize,
) {
    let h = z.len();
    z[0] = Complex::new(x[0].re + x[h].re, x[0].re - x[h].re);
    let half = h / 2;
    let (lo, hi) = z.split_at_mut(half + 1);
    for k in first..=half {
        let a = x[k];
        let b = x[h - k];
        let (er, ei) = (a.re + b.re, a.im - b.im);
        let (dr, di) = (a.re - b.re, a.im + b.im);
        // (d)·conj(w)
        let w = tw[k];
        let or = madd::<F>(dr, w.re, di * w.im);
        let oi = madd::<F>(di, w.re, -(dr * w.im));
        lo[k] = Complex::new(er - oi, ei + or);
        let m = Complex::new(er + oi, or - ei);
        if h - k > half {
            hi[h - k - half - 1] = m;
        } else {
            lo[h - k] = m;
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx {
    use super::*;

    use std::arch::x86_64::*;

    /// Reverses the order of the four complex values in `v`.
    #[target_feature(enable = "avx2,fma")]
    fn rev4(v: __m256) -> __m256 {
        _mm256_castpd_ps(_mm256_permute4x64_pd::<0b00_01_10_11>(_mm256_castps_pd(v)))
    }

    /// Swaps re and im of every complex value in `v`.
    #[target_feature(enable = "avx2,fma")]
    fn swap(v: __m256) -> __m256 {
        _mm256_permute_ps::<0b10_11_00_01>(v)
    }

    /// Bins `k = first..first+4` are done four at a time with their mirrors `h−k` while the two blocks do
    /// not overlap (`2(first + 3) < h`); returns the first bin left to the scalar loop.
    fn blocks_end(h: usize) -> usize {
        let mut k = 1;
        while 2 * (k + 3) < h {
            k += 4;
        }
        k
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn r2c_post(z: &[Complex<f32>], tw: &[Complex<f32>], out: &mut [Complex<f32>]) {
        let h = z.len();
        assert!(
            out.len() > h && tw.len() > h / 2,
            "bins and twiddles for H points"
        );
        let end = blocks_end(h);
        let (zp, op, wp) = (
            z.as_ptr().cast::<f32>(),
            out.as_mut_ptr().cast::<f32>(),
            tw.as_ptr().cast::<f32>(),
        );
        let half = _mm256_set1_ps(0.5);
        let o_sign = _mm256_setr_ps(0.5, -0.5, 0.5, -0.5, 0.5, -0.5, 0.5, -0.5);
        let conj = _mm256_setr_ps(1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0);
        let mut k = 1;
        while k < end {
            let m = h - k - 3;
            // SAFETY: `k + 3 < h − k − 3 < h` (loop bound), so complex values k..k+4 and m..m+4 lie in `z`
            // (h values) and in `out` (h + 1), and k + 4 ≤ h/2 + 1 ≤ `tw.len()`; the loads and stores are
            // unaligned; `Complex<f32>` is two `f32` (repr(C)).
            unsafe {
                let a = _mm256_loadu_ps(zp.add(2 * k));
                let b = rev4(_mm256_loadu_ps(zp.add(2 * m)));
                let w = _mm256_loadu_ps(wp.add(2 * k));
                let s = _mm256_add_ps(a, b);
                let d = _mm256_sub_ps(a, b);
                // E = ½(s.re, d.im); O = −j·½(a − b*) = (½ s.im, −½ d.re).
                let e = _mm256_mul_ps(_mm256_blend_ps::<0b1010_1010>(s, d), half);
                let o = _mm256_mul_ps(swap(_mm256_blend_ps::<0b1010_1010>(d, s)), o_sign);
                // P = w·O.
                let p = _mm256_fmaddsub_ps(
                    _mm256_moveldup_ps(w),
                    o,
                    _mm256_mul_ps(_mm256_movehdup_ps(w), swap(o)),
                );
                _mm256_storeu_ps(op.add(2 * k), _mm256_add_ps(e, p));
                _mm256_storeu_ps(op.add(2 * m), rev4(_mm256_mul_ps(_mm256_sub_ps(e, p), conj)));
            }
            k += 4;
        }
        r2c_post_impl::<true>(z, tw, out, end);
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn c2r_pre(x: &[Complex<f32>], tw: &[Complex<f32>], z: &mut [Complex<f32>]) {
        let h = z.len();
        assert!(x.len() > h && tw.len() > h / 2, "bins and twiddles for H points");
        let end = blocks_end(h);
        let (xp, zp, wp) = (
            x.as_ptr().cast::<f32>(),
            z.as_mut_ptr().cast::<f32>(),
            tw.as_ptr().cast::<f32>(),
        );
        let conj = _mm256_setr_ps(1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0);
        let jmul = _mm256_setr_ps(-1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0);
        let mut k = 1;
        while k < end {
            let m = h - k - 3;
            // SAFETY: as in `r2c_post` (`x` has h + 1 values, `z` h).
            unsafe {
                let a = _mm256_loadu_ps(xp.add(2 * k));
                let b = rev4(_mm256_loadu_ps(xp.add(2 * m)));
                let w = _mm256_loadu_ps(wp.add(2 * k));
                let s = _mm256_add_ps(a, b);
                let d = _mm256_sub_ps(a, b);
                // 2E = (s.re, d.im); a − b* = (d.re, s.im); 2O = (a − b*)·conj(w).
                let e = _mm256_blend_ps::<0b1010_1010>(s, d);
                let dd = _mm256_blend_ps::<0b1010_1010>(d, s);
                let o = _mm256_fmsubadd_ps(
                    _mm256_moveldup_ps(w),
                    dd,
                    _mm256_mul_ps(_mm256_movehdup_ps(w), swap(dd)),
                );
                let osw = swap(o);
                // Z_k = 2E + j·2O = E + (−o.im, o.re); Z_{h−k} = conj(2E) + (o.im, o.re).
                _mm256_storeu_ps(zp.add(2 * k), _mm256_add_ps(e, _mm256_mul_ps(osw, jmul)));
                _mm256_storeu_ps(zp.add(2 * m), rev4(_mm256_add_ps(_mm256_mul_ps(e, conj), osw)));
            }
            k += 4;
        }
        c2r_pre_impl::<true>(x, tw, z, end);
    }
}

impl Simd {
    /// Real-FFT post-processing (see `r2c_post_impl`): `z` the `H`-point DFT of the paired samples,
    /// `tw[k] = e^{−jπk/H}` (`k ≤ H/2`), `out` the `H + 1` bins of the real signal's spectrum.
    pub fn r2c_post(self, z: &[Complex<f32>], tw: &[Complex<f32>], out: &mut [Complex<f32>]) {
        #[cfg(target_arch = "x86_64")]
        if self.avx2_fma {
            // SAFETY: the CPU supports AVX2 and FMA (checked in `Simd::detect`), the only requirement
            // of the `#[target_feature]` function besides the bounds it asserts.
            return unsafe { avx::r2c_post(z, tw, out) };
        }
        r2c_post_impl::<false>(z, tw, out, 1);
    }

    /// Inverse-real-FFT pre-processing (see `c2r_pre_impl`): `x` the `H + 1` bins, `z` (`H` points)
    /// what the unnormalised `H`-point inverse DFT turns into the paired samples times `2H`.
    pub fn c2r_pre(self, x: &[Complex<f32>], tw: &[Complex<f32>], z: &mut [Complex<f32>]) {
        #[cfg(target_arch = "x86_64")]
        if self.avx2_fma {
            // SAFETY: the CPU supports AVX2 and FMA (checked in `Simd::detect`), the only requirement
            // of the `#[target_feature]` function besides the bounds it asserts.
            return unsafe { avx::c2r_pre(x, tw, z) };
        }
        c2r_pre_impl::<false>(x, tw, z, 1);
    }
}
