//! `F8`: eight f32 lanes on AVX2 + FMA, the wide counterpart of [`super::lanes::F4`] for the per-bin loops
//! of the spectral voice nodes.
//!
//! # What
//! A [`Lanes`] implementation whose operations map one to one onto AVX2 and FMA instructions (x86-64
//! only), and [`Avx2Fma`], the token that proves the CPU has them. Kernels written generically over
//! [`Lanes`] are compiled a second time inside a `#[target_feature(enable = "avx2,fma")]` function and
//! run with `F8` on CPUs that pass the check; the baseline build runs them with `F4`.
//!
//! # How
//! `exp` and `ln` follow the scalar [`super::fastmath::exp`] and [`super::fastmath::ln`] step by step
//! (Cody–Waite reduction with a degree-7 Taylor polynomial; exponent split with an atanh series), with the
//! polynomials evaluated by fused multiply-adds (Horner): results equal the scalar functions up to the
//! rounding of the individual operations (checked by the tests below).
//!
//! # Real-time safety
//! Register arithmetic only. `unsafe` wraps the intrinsics, each with a `// SAFETY:` note: an `F8` can
//! only be created with an [`Avx2Fma`] token, and a token only by [`Avx2Fma::detect`] after
//! `is_x86_feature_detected!` confirmed both features (cached by std: no system call on the audio path).
#![allow(unsafe_code)]

use std::arch::x86_64::*;
use std::ops::{Add, Div, Mul, Neg, Sub};

use super::fastmath;
use super::lanes::Lanes;

/// Proof that the CPU supports AVX2 and FMA (see the module docs).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Avx2Fma(());

impl Avx2Fma {
    /// The token when the CPU has AVX2 and FMA, else `None`.
    pub(crate) fn detect() -> Option<Self> {
        crate::basic::simd8::has_avx2_fma().then_some(Self(()))
    }
}

/// Eight f32 lanes (an AVX register); exists only where [`Avx2Fma`] does.
#[derive(Clone, Copy, Debug)]
pub(crate) struct F8(__m256);

/// Wraps intrinsics whose only requirement is AVX2 + FMA support, which every `F8` value proves.
macro_rules! avx {
    ($e:expr) => {
        // SAFETY: an `F8` (or the `Avx2Fma` token creating one) exists only after `Avx2Fma::detect` found
        // AVX2 and FMA on this CPU, the only requirement of these intrinsics; loads and stores check their
        // slice lengths before the call.
        unsafe { $e }
    };
}

impl F8 {
    #[inline(always)]
    fn c(v: f32) -> Self {
        F8(avx!(_mm256_set1_ps(v)))
    }
}

impl Lanes for F8 {
    type Token = Avx2Fma;
    const N: usize = 8;

    #[inline(always)]
    fn splat(_: Avx2Fma, v: f32) -> Self {
        Self::c(v)
    }

    #[inline(always)]
    fn load(_: Avx2Fma, s: &[f32]) -> Self {
        assert!(s.len() >= 8, "F8::load needs eight values");
        F8(avx!(_mm256_loadu_ps(s.as_ptr())))
    }

    #[inline(always)]
    fn store(self, s: &mut [f32]) {
        assert!(s.len() >= 8, "F8::store needs eight values");
        avx!(_mm256_storeu_ps(s.as_mut_ptr(), self.0))
    }

    #[inline(always)]
    fn min(self, o: Self) -> Self {
        F8(avx!(_mm256_min_ps(self.0, o.0)))
    }

    #[inline(always)]
    fn max(self, o: Self) -> Self {
        F8(avx!(_mm256_max_ps(self.0, o.0)))
    }

    #[inline(always)]
    fn le_select(self, o: Self, a: Self, b: Self) -> Self {
        avx!({
            let m = _mm256_cmp_ps::<_CMP_LE_OQ>(self.0, o.0);
            F8(_mm256_blendv_ps(b.0, a.0, m))
        })
    }

    #[inline(always)]
    fn madd(self, b: Self, c: Self) -> Self {
        F8(avx!(_mm256_fmadd_ps(self.0, b.0, c.0)))
    }

    #[inline(always)]
    fn exp(self) -> Self {
        let c = Self::c;
        let x = self.max(c(-87.0)).min(c(88.0));
        let magic = c(fastmath::MAGIC);
        let t = x.madd(c(std::f32::consts::LOG2_E), magic);
        let n = t - magic;
        let ni = avx!(_mm256_sub_epi32(
            _mm256_castps_si256(t.0),
            _mm256_castps_si256(magic.0)
        ));
        // r = (x − n·ln2_hi) − n·ln2_lo
        let r = (-n).madd(c(fastmath::LN2_LO), (-n).madd(c(fastmath::LN2_HI), x));
        let mut p = c(1.0 / 5040.0);
        for k in [1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0] {
            p = p.madd(r, c(k));
        }
        let scale = avx!(_mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(
            ni,
            _mm256_set1_epi32(127)
        ))));
        p * F8(scale)
    }

    #[inline(always)]
    fn ln(self) -> Self {
        let c = Self::c;
        let (e, m) = avx!({
            let bits = _mm256_castps_si256(self.0);
            let e = _mm256_sub_epi32(
                _mm256_and_si256(_mm256_srli_epi32::<23>(bits), _mm256_set1_epi32(0xff)),
                _mm256_set1_epi32(127),
            );
            let m = _mm256_castsi256_ps(_mm256_or_si256(
                _mm256_and_si256(bits, _mm256_set1_epi32(0x007f_ffff)),
                _mm256_set1_epi32(0x3f80_0000),
            ));
            // m > √2: halve it and add one to the exponent (the mask is all ones = −1 in those lanes).
            let big = _mm256_cmp_ps::<_CMP_GT_OQ>(m, _mm256_set1_ps(std::f32::consts::SQRT_2));
            let m = _mm256_blendv_ps(m, _mm256_mul_ps(m, _mm256_set1_ps(0.5)), big);
            let e = _mm256_sub_epi32(e, _mm256_castps_si256(big));
            (F8(_mm256_cvtepi32_ps(e)), F8(m))
        });
        let one = c(1.0);
        let s = (m - one) / (m + one);
        let s2 = s * s;
        let mut p = c(1.0 / 9.0);
        for k in [1.0 / 7.0, 1.0 / 5.0, 1.0 / 3.0, 1.0] {
            p = p.madd(s2, c(k));
        }
        e.madd(c(std::f32::consts::LN_2), c(2.0) * s * p)
    }
}

macro_rules! binop {
    ($tr:ident, $f:ident, $intr:ident) => {
        impl $tr for F8 {
            type Output = F8;
            #[inline(always)]
            fn $f(self, o: F8) -> F8 {
                F8(avx!($intr(self.0, o.0)))
            }
        }
    };
}
binop!(Add, add, _mm256_add_ps);
binop!(Sub, sub, _mm256_sub_ps);
binop!(Mul, mul, _mm256_mul_ps);
binop!(Div, div, _mm256_div_ps);

impl Neg for F8 {
    type Output = F8;
    #[inline(always)]
    fn neg(self) -> F8 {
        F8(avx!(_mm256_xor_ps(self.0, _mm256_set1_ps(-0.0))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[target_feature(enable = "avx2,fma")]
    fn exp_ln(t: Avx2Fma, x: &[f32], e: &mut [f32], l: &mut [f32]) {
        for ((x, e), l) in x
            .chunks_exact(8)
            .zip(e.chunks_exact_mut(8))
            .zip(l.chunks_exact_mut(8))
        {
            let v = F8::load(t, x);
            v.exp().store(e);
            (v * v + F8::splat(t, 1e-30)).ln().store(l);
        }
    }

    #[test]
    fn lanes_match_the_scalar_functions() {
        let Some(t) = Avx2Fma::detect() else {
            eprintln!("no AVX2+FMA on this CPU: the F8 path is never taken here");
            return;
        };
        let xs: Vec<f32> = (0..4000).map(|i| (i as f32 - 2000.0) * 0.047).collect();
        let (mut e, mut l) = (vec![0.0; xs.len()], vec![0.0; xs.len()]);
        // SAFETY: `t` proves AVX2 and FMA, the only requirement of `exp_ln`.
        unsafe { exp_ln(t, &xs, &mut e, &mut l) };
        for (i, &x) in xs.iter().enumerate() {
            let (we, wl) = (fastmath::exp(x), fastmath::ln(x * x + 1e-30));
            assert!((e[i] - we).abs() <= 3e-7 * we.abs(), "exp({x}) {} vs {we}", e[i]);
            assert!(
                (l[i] - wl).abs() <= 3e-7 * wl.abs().max(1.0),
                "ln({x}²) {} vs {wl}",
                l[i]
            );
        }
    }
}
