//! The real FFT of the voice DSP: the echo canceller's filters, suppressor and delay estimator, and the
//! STFT of the spectral nodes all run their transforms through [`RealFft`].
//!
//! # What
//! [`RealFft::forward`] turns `n` real samples (`n` even) into the `n/2 + 1` bins of their spectrum;
//! [`RealFft::inverse`] is the unnormalised inverse (`inverse(forward(x)) = n·x`, the convention of
//! `realfft`). Both work on caller-provided slices.
//!
//! # How
//! The "two for one" real FFT (E. O. Brigham, *The Fast Fourier Transform*, 1974, ch. 10; H. V. Sorensen
//! et al., "Real-valued fast Fourier transform algorithms", IEEE TASSP 35(6), 1987): the samples paired as
//! `z[j] = x[2j] + i·x[2j+1]` go through one in-place complex FFT of `H = n/2` points (`rustfft`), and a
//! split pass turns its result `Z` into the real signal's spectrum (formulas at [`split_impl`]); the
//! inverse merges the spectrum back into `Z` ([`merge_impl`]) before an inverse complex FFT of `H`
//! points. Both passes pair bin `k` with its mirror `H − k`, so each twiddle `e^{−iπk/H}` (`k ≤ H/2`) is
//! read once for two bins. The complex plans and the twiddle table are shared by every instance of the
//! same length (`crate::plans`: one copy in cache for all the legs of a media server); each instance owns
//! only its half-length work buffer and the plans' scratch. On x86-64 CPUs with AVX2 and FMA (detected
//! once, in [`RealFft::new`]) the split and merge do four bins and their four mirrors per step with AVX2
//! intrinsics, the bins left over by the portable loop compiled with FMA (the pairing copies around the
//! complex FFT run in that build too); elsewhere the portable loop runs alone. The two builds agree to
//! float rounding (fused multiply-adds round once).
//!
//! # Real-time safety
//! [`RealFft::new`] plans, fills the shared tables and allocates (take it in a constructor or
//! `prepare`); [`RealFft::forward`] and [`RealFft::inverse`] only copy and transform in place, without
//! allocating or locking. `unsafe` is confined to calling the `#[target_feature]` variants after the
//! feature check and to the AVX2 intrinsics (unaligned loads and stores whose bounds are asserted first),
//! each with a `// SAFETY:` note.
#![allow(unsafe_code)]

use std::sync::Arc;

use realfft::num_complex::Complex32;

use crate::basic::simd8::{has_avx2_fma, madd};

/// Forward and unnormalised inverse real FFTs of one even length (see the module docs).
pub(crate) struct RealFft {
    /// Complex FFTs of `H = n/2` points, shared per length.
    fwd: Arc<dyn rustfft::Fft<f32>>,
    inv: Arc<dyn rustfft::Fft<f32>>,
    /// `e^{−iπk/H}` for `k = 0..=H/2` as (re, im) pairs, shared per length.
    twiddles: Arc<[f32]>,
    /// The `H` values of the half-length transforms.
    z: Vec<Complex32>,
    /// Scratch of both plans.
    scratch: Vec<Complex32>,
    /// Run the split and merge built for AVX2 + FMA (the CPU has them).
    wide: bool,
}

impl std::fmt::Debug for RealFft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RealFft")
            .field("len", &self.len())
            .field("wide", &self.wide)
            .finish_non_exhaustive()
    }
}

impl RealFft {
    /// Transforms of `n` samples (even, at least 4). Allocates; the plans and twiddles of a length are
    /// made once per process and shared.
    pub(crate) fn new(n: usize) -> Self {
        assert!(
            n >= 4 && n.is_multiple_of(2),
            "real FFT lengths are even and at least 4 (got {n})"
        );
        let h = n / 2;
        let (fwd, inv) = crate::plans::complex_fft(h);
        let twiddles = crate::plans::table("rfft-twiddles", [n, 0], || {
            (0..=h / 2)
                .flat_map(|k| {
                    let a = -std::f64::consts::PI * k as f64 / h as f64;
                    [a.cos() as f32, a.sin() as f32]
                })
                .collect()
        });
        let scratch =
            vec![Complex32::default(); fwd.get_inplace_scratch_len().max(inv.get_inplace_scratch_len())];
        Self {
            fwd,
            inv,
            twiddles,
            z: vec![Complex32::default(); h],
            scratch,
            wide: has_avx2_fma(),
        }
    }

    /// Transform length `n` (samples).
    pub(crate) fn len(&self) -> usize {
        2 * self.z.len()
    }

    /// Number of spectrum bins, `n/2 + 1`.
    pub(crate) fn bins(&self) -> usize {
        self.z.len() + 1
    }

    /// Panics unless `samples` and `bins` fit this length (a caller's sizing bug, not bad input).
    fn check_lengths(&self, samples: usize, bins: usize) {
        let n = self.len();
        assert!(
            samples == n && bins == self.bins(),
            "a real FFT of {n} takes {n} samples and {} bins, not {samples} and {bins}",
            self.bins()
        );
    }

    /// Spectrum of `input` (`n` samples, not modified) into `out` (`n/2 + 1` bins; DC and Nyquist have
    /// zero imaginary parts).
    #[inline]
    pub(crate) fn forward(&mut self, input: &[f32], out: &mut [Complex32]) {
        self.check_lengths(input.len(), out.len());
        self.run(Job::Forward(input, out));
    }

    /// Unnormalised inverse transform of `spec` (`n/2 + 1` bins) into `out` (`n` samples):
    /// `inverse(forward(x)) = n·x`. The imaginary parts of the DC and Nyquist bins, which a real signal's
    /// spectrum does not have, are set to zero in `spec` (they do not enter the result).
    #[inline]
    pub(crate) fn inverse(&mut self, spec: &mut [Complex32], out: &mut [f32]) {
        self.check_lengths(out.len(), spec.len());
        let last = spec.len() - 1;
        spec[0].im = 0.0;
        spec[last].im = 0.0;
        self.run(Job::Inverse(spec, out));
    }

    /// Runs `job` with the build chosen in [`Self::new`].
    #[inline]
    fn run(&mut self, job: Job<'_>) {
        #[cfg(target_arch = "x86_64")]
        if self.wide {
            // SAFETY: `wide` is only set where `has_avx2_fma` found AVX2 and FMA on this CPU, the only
            // requirement of the `#[target_feature]` function.
            return unsafe { self.run_avx2(job) };
        }
        self.run_impl::<false>(job);
    }

    /// [`Self::run_impl`] built for AVX2 + FMA. Safety: the CPU must have both.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn run_avx2(&mut self, job: Job<'_>) {
        self.run_impl::<true>(job);
    }

    /// Pairs the samples, transforms them and splits the result, or merges the bins, transforms them and
    /// unpairs the samples; with the AVX2 split and merge where `W` (inlined into both builds, so that the
    /// copies run as wide as the split).
    #[inline(always)]
    fn run_impl<const W: bool>(&mut self, job: Job<'_>) {
        let tw = &*self.twiddles;
        match job {
            Job::Forward(input, out) => {
                for (z, x) in self.z.iter_mut().zip(input.chunks_exact(2)) {
                    *z = Complex32::new(x[0], x[1]);
                }
                self.fwd.process_with_scratch(&mut self.z, &mut self.scratch);
                #[cfg(target_arch = "x86_64")]
                if W {
                    // SAFETY: `W` is set only in `run_avx2`, which runs where the CPU has AVX2 and FMA,
                    // the requirement of `avx::split` besides the bounds it asserts.
                    return unsafe { avx::split(&self.z, tw, out) };
                }
                split_impl::<false>(&self.z, tw, out, 1);
            }
            Job::Inverse(spec, out) => {
                #[cfg(target_arch = "x86_64")]
                if W {
                    // SAFETY: as for `avx::split` above.
                    unsafe { avx::merge(spec, tw, &mut self.z) };
                } else {
                    merge_impl::<false>(spec, tw, &mut self.z, 1);
                }
                #[cfg(not(target_arch = "x86_64"))]
                merge_impl::<false>(spec, tw, &mut self.z, 1);
                self.inv.process_with_scratch(&mut self.z, &mut self.scratch);
                for (x, z) in out.chunks_exact_mut(2).zip(&self.z) {
                    x[0] = z.re;
                    x[1] = z.im;
                }
            }
        }
    }
}

/// A transform for [`RealFft::run`]: real samples in, bins out, or the reverse.
enum Job<'a> {
    Forward(&'a [f32], &'a mut [Complex32]),
    Inverse(&'a [Complex32], &'a mut [f32]),
}

/// The real signal's spectrum `out` (`H + 1` bins) from `z = DFT_H(x[2j] + i·x[2j+1])`, for bins
/// `first..=H/2` and their mirrors (and DC and Nyquist): with `E = (Z_k + Z*_{H−k})/2`,
/// `O = −i(Z_k − Z*_{H−k})/2` and `P = e^{−iπk/H}·O`, `X_k = E + P` and `X_{H−k} = (E − P)*`.
/// `tw` holds `e^{−iπk/H}` (`k ≤ H/2`) as (re, im) pairs.
#[inline(always)]
fn split_impl<const F: bool>(z: &[Complex32], tw: &[f32], out: &mut [Complex32], first: usize) {
    let h = z.len();
    let (zr, zi) = (z[0].re, z[0].im);
    out[0] = Complex32::new(zr + zi, 0.0);
    out[h] = Complex32::new(zr - zi, 0.0);
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
        // O = −i·d with d = (a − b*)/2: O = (d.im, −d.re).
        let (or, oi) = (0.5 * (a.im + b.im), -0.5 * (a.re - b.re));
        let (wr, wi) = (tw[2 * k], tw[2 * k + 1]);
        let pr = madd::<F>(wr, or, -(wi * oi));
        let pi = madd::<F>(wr, oi, wi * or);
        lo[k] = Complex32::new(er + pr, ei + pi);
        let m = Complex32::new(er - pr, pi - ei);
        if h - k > half {
            hi[h - k - half - 1] = m;
        } else {
            lo[h - k] = m;
        }
    }
}

/// The inverse of [`split_impl`] times 2 (so that the unnormalised inverse DFT of `z` gives
/// `2H·x[2j] + i·2H·x[2j+1]`), for bins `first..=H/2` and their mirrors (and DC): `Z_k = 2E + i·2O` with
/// `2E = X_k + X*_{H−k}` and `2O = (X_k − X*_{H−k})·e^{+iπk/H}`. The imaginary parts of `X_0` and `X_H`
/// are ignored.
#[inline(always)]
fn merge_impl<const F: bool>(x: &[Complex32], tw: &[f32], z: &mut [Complex32], first: usize) {
    let h = z.len();
    z[0] = Complex32::new(x[0].re + x[h].re, x[0].re - x[h].re);
    let half = h / 2;
    let (lo, hi) = z.split_at_mut(half + 1);
    for k in first..=half {
        let a = x[k];
        let b = x[h - k];
        let (er, ei) = (a.re + b.re, a.im - b.im);
        let (dr, di) = (a.re - b.re, a.im + b.im);
        // d·conj(w)
        let (wr, wi) = (tw[2 * k], tw[2 * k + 1]);
        let or = madd::<F>(dr, wr, di * wi);
        let oi = madd::<F>(di, wr, -(dr * wi));
        lo[k] = Complex32::new(er - oi, ei + or);
        let m = Complex32::new(er + oi, or - ei);
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
    /// not overlap (`2(first + 3) < h`); returns the first bin left to the scalar loop, after checking
    /// that the spectrum has `h + 1` bins and `tw` the twiddles for `h` points (the bounds the loops'
    /// unchecked loads and stores rely on).
    fn blocks_end(h: usize, bins: usize, tw: &[f32]) -> usize {
        assert!(
            bins > h && tw.len() >= 2 * (h / 2 + 1),
            "bins and twiddles for H points"
        );
        let mut k = 1;
        while 2 * (k + 3) < h {
            k += 4;
        }
        k
    }

    /// With `a` the four complex values of `src` from `k`, `b` the four from `m` in reverse order and `w`
    /// the four twiddles from `k`: `(a + b, a − b, w)`. Safety: `src` holds complex values up to `m + 4`
    /// and `k + 4`, `tw` twiddle pairs up to `k + 4`, and the CPU has AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn load_block(src: *const f32, tw: &[f32], k: usize, m: usize) -> (__m256, __m256, __m256) {
        // SAFETY: the bounds are the caller's promise; the loads are unaligned.
        let (a, b, w) = unsafe {
            (
                _mm256_loadu_ps(src.add(2 * k)),
                rev4(_mm256_loadu_ps(src.add(2 * m))),
                _mm256_loadu_ps(tw.as_ptr().add(2 * k)),
            )
        };
        (_mm256_add_ps(a, b), _mm256_sub_ps(a, b), w)
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn split(z: &[Complex32], tw: &[f32], out: &mut [Complex32]) {
        let h = z.len();
        let end = blocks_end(h, out.len(), tw);
        let (zp, op) = (z.as_ptr().cast::<f32>(), out.as_mut_ptr().cast::<f32>());
        let half = _mm256_set1_ps(0.5);
        let o_sign = _mm256_setr_ps(0.5, -0.5, 0.5, -0.5, 0.5, -0.5, 0.5, -0.5);
        let conj = _mm256_setr_ps(1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0);
        let mut k = 1;
        while k < end {
            let m = h - k - 3;
            // SAFETY: `k + 3 < h − k − 3 < h` (loop bound), so complex values k..k+4 and m..m+4 lie in `z`
            // (h values) and in `out` (h + 1), and k + 4 ≤ h/2 + 1 twiddle pairs lie in `tw`; the loads
            // and stores are unaligned; `Complex32` is two `f32` (repr(C)).
            unsafe {
                let (s, d, w) = load_block(zp, tw, k, m);
                // E = ½(s.re, d.im); O = −i·½(a − b*) = (½ s.im, −½ d.re).
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
        split_impl::<true>(z, tw, out, end);
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn merge(x: &[Complex32], tw: &[f32], z: &mut [Complex32]) {
        let h = z.len();
        let end = blocks_end(h, x.len(), tw);
        let (xp, zp) = (x.as_ptr().cast::<f32>(), z.as_mut_ptr().cast::<f32>());
        let conj = _mm256_setr_ps(1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0);
        let jmul = _mm256_setr_ps(-1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0);
        let mut k = 1;
        while k < end {
            let m = h - k - 3;
            // SAFETY: as in `split` (`x` has h + 1 values, `z` h).
            unsafe {
                let (s, d, w) = load_block(xp, tw, k, m);
                // 2E = (s.re, d.im); a − b* = (d.re, s.im); 2O = (a − b*)·conj(w).
                let e = _mm256_blend_ps::<0b1010_1010>(s, d);
                let dd = _mm256_blend_ps::<0b1010_1010>(d, s);
                let o = _mm256_fmsubadd_ps(
                    _mm256_moveldup_ps(w),
                    dd,
                    _mm256_mul_ps(_mm256_movehdup_ps(w), swap(dd)),
                );
                let osw = swap(o);
                // Z_k = 2E + i·2O = E + (−o.im, o.re); Z_{h−k} = conj(2E) + (o.im, o.re).
                _mm256_storeu_ps(zp.add(2 * k), _mm256_add_ps(e, _mm256_mul_ps(osw, jmul)));
                _mm256_storeu_ps(zp.add(2 * m), rev4(_mm256_add_ps(_mm256_mul_ps(e, conj), osw)));
            }
            k += 4;
        }
        merge_impl::<true>(x, tw, z, end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(len: usize, seed: &mut u32) -> Vec<f32> {
        (0..len)
            .map(|_| {
                *seed ^= *seed << 13;
                *seed ^= *seed >> 17;
                *seed ^= *seed << 5;
                *seed as f32 / u32::MAX as f32 - 0.5
            })
            .collect()
    }

    /// Forward and inverse against `realfft`'s transforms, on both builds, for the lengths of the
    /// canceller, the delay estimator and the STFTs, and small ones with odd half lengths.
    #[test]
    fn transforms_match_realfft() {
        let mut seed = 0x9e37_79b9u32;
        for n in [4usize, 6, 10, 96, 160, 320, 640, 882, 960, 4096] {
            let (rf, ri) = crate::plans::real_fft(n);
            let x = noise(n, &mut seed);
            let mut want = rf.make_output_vec();
            rf.process(&mut x.clone(), &mut want).expect("lengths match");
            // A spectrum of a real signal with random bins, for the inverse.
            let mut spec: Vec<Complex32> = noise(2 * (n / 2 + 1), &mut seed)
                .chunks_exact(2)
                .map(|c| Complex32::new(c[0], c[1]))
                .collect();
            spec[0].im = 0.0;
            spec[n / 2].im = 0.0;
            let mut want_back = ri.make_output_vec();
            ri.process(&mut spec.clone(), &mut want_back)
                .expect("real DC and Nyquist");
            for wide in [false, true] {
                if wide && !has_avx2_fma() {
                    eprintln!("no AVX2/FMA on this CPU: only the portable build runs");
                    continue;
                }
                let mut fft = RealFft::new(n);
                fft.wide = wide;
                let mut got = vec![Complex32::default(); fft.bins()];
                fft.forward(&x, &mut got);
                let tol = 1e-5 * want.iter().map(|c| c.norm()).fold(1.0, f32::max);
                for (k, (g, w)) in got.iter().zip(&want).enumerate() {
                    assert!((g - w).norm() <= tol, "n {n} wide {wide} bin {k}: {g} vs {w}");
                }
                // DC/Nyquist imaginary parts are ignored (and cleared).
                let mut s = spec.clone();
                s[0].im = 0.3;
                s[n / 2].im = -0.2;
                let mut back = vec![0.0; n];
                fft.inverse(&mut s, &mut back);
                assert_eq!((s[0].im, s[n / 2].im), (0.0, 0.0));
                let tol = 1e-5 * want_back.iter().map(|v| v.abs()).fold(1.0, f32::max);
                for (i, (g, w)) in back.iter().zip(&want_back).enumerate() {
                    assert!((g - w).abs() <= tol, "n {n} wide {wide} sample {i}: {g} vs {w}");
                }
                // Round trip: n·x.
                fft.inverse(&mut got, &mut back);
                for (i, (g, w)) in back.iter().zip(&x).enumerate() {
                    assert!(
                        (g / n as f32 - w).abs() <= 1e-5,
                        "n {n} wide {wide} round trip {i}"
                    );
                }
            }
        }
    }

    /// Instances of one length share plans and twiddles; other lengths get their own.
    #[test]
    fn same_length_shares_plans_and_twiddles() {
        let (a, b, c) = (RealFft::new(320), RealFft::new(320), RealFft::new(640));
        assert!(Arc::ptr_eq(&a.fwd, &b.fwd) && Arc::ptr_eq(&a.inv, &b.inv));
        assert!(Arc::ptr_eq(&a.twiddles, &b.twiddles));
        assert_eq!((a.fwd.len(), c.fwd.len()), (160, 320));
        assert_eq!((a.twiddles.len(), c.twiddles.len()), (2 * 81, 2 * 161));
        assert_eq!((c.len(), c.bins()), (640, 321));
    }
}
