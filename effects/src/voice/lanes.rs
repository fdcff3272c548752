//! `F4`: four f32 lanes with the arithmetic, comparisons, selects and the `exp`/`ln` of [`super::fastmath`],
//! for the per-bin loops of the spectral voice nodes.
//!
//! # What
//! A small vector type whose operations map one to one onto SSE2 instructions on x86-64 (SSE2 is part of
//! the x86-64 baseline, so no run-time detection is needed) and onto plain four-element loops elsewhere.
//! Written out explicitly because the compiler's auto-vectoriser left the noise suppressor's gain loop
//! scalar (it does not vectorise a loop body this long reliably), and that loop dominated the cost of a
//! conference leg's `hpf,ns,agc` chain.
//!
//! The [`Lanes`] trait abstracts this type and the AVX2 + FMA `F8` of [`super::lanes8`], so that a kernel
//! written once compiles for both.
//!
//! # How
//! `exp` and `ln` follow the scalar [`super::fastmath::exp`] and [`super::fastmath::ln`] step by step
//! (Cody–Waite reduction with a degree-7 Taylor polynomial; exponent split with an atanh series), so the
//! lanes give the same results as the scalar functions up to the rounding of the final operations.
//!
//! # Real-time safety
//! Register arithmetic only. The only `unsafe` is the unaligned load and store of four floats from a slice
//! whose length is checked first.
#![allow(unsafe_code)]

#[cfg(target_arch = "x86_64")]
mod imp {
    use std::arch::x86_64::*;
    use std::ops::{Add, Div, Mul, Neg, Sub};

    /// Four f32 lanes (an SSE register).
    #[derive(Clone, Copy, Debug)]
    pub(crate) struct F4(__m128);

    impl F4 {
        /// All lanes `v`.
        #[inline(always)]
        pub(crate) fn splat(v: f32) -> Self {
            // SAFETY: SSE and SSE2 belong to the x86-64 baseline: every x86-64 build enables them.
            unsafe { Self(_mm_set1_ps(v)) }
        }

        /// The first four values of `s` (panics when `s` is shorter: a caller bug).
        #[inline(always)]
        pub(crate) fn load(s: &[f32]) -> Self {
            assert!(s.len() >= 4, "F4::load needs four values");
            // SAFETY: `s` holds at least four f32 (checked above); `loadu` accepts any alignment.
            Self(unsafe { _mm_loadu_ps(s.as_ptr()) })
        }

        /// Writes the lanes to the first four values of `s` (panics when `s` is shorter: a caller bug).
        #[inline(always)]
        pub(crate) fn store(self, s: &mut [f32]) {
            assert!(s.len() >= 4, "F4::store needs four values");
            // SAFETY: `s` holds at least four f32 (checked above); `storeu` accepts any alignment.
            unsafe { _mm_storeu_ps(s.as_mut_ptr(), self.0) }
        }

        /// Lane-wise minimum (the other operand where one is NaN, as `minps` does).
        #[inline(always)]
        pub(crate) fn min(self, o: Self) -> Self {
            // SAFETY: SSE and SSE2 belong to the x86-64 baseline: every x86-64 build enables them.
            unsafe { Self(_mm_min_ps(self.0, o.0)) }
        }

        /// Lane-wise maximum.
        #[inline(always)]
        pub(crate) fn max(self, o: Self) -> Self {
            // SAFETY: SSE and SSE2 belong to the x86-64 baseline: every x86-64 build enables them.
            unsafe { Self(_mm_max_ps(self.0, o.0)) }
        }

        /// `if self <= o { a } else { b }` per lane.
        #[inline(always)]
        pub(crate) fn le_select(self, o: Self, a: Self, b: Self) -> Self {
            // SAFETY: SSE and SSE2 belong to the x86-64 baseline: every x86-64 build enables them.
            unsafe {
                let m = _mm_cmple_ps(self.0, o.0);
                Self(_mm_or_ps(_mm_and_ps(m, a.0), _mm_andnot_ps(m, b.0)))
            }
        }

        /// Sum of the lanes.
        #[inline(always)]
        pub(crate) fn sum(self) -> f32 {
            let mut a = [0.0f32; 4];
            self.store(&mut a);
            (a[0] + a[1]) + (a[2] + a[3])
        }

        /// e^x per lane, as [`super::super::fastmath::exp`].
        #[inline(always)]
        pub(crate) fn exp(self) -> Self {
            // SAFETY: SSE and SSE2 belong to the x86-64 baseline: every x86-64 build enables them.
            unsafe {
                let x = self.max(Self::splat(-87.0)).min(Self::splat(88.0));
                let magic = Self::splat(super::super::fastmath::MAGIC);
                let t = x * Self::splat(std::f32::consts::LOG2_E) + magic;
                let n = t - magic;
                let ni = _mm_sub_epi32(_mm_castps_si128(t.0), _mm_castps_si128(magic.0));
                let r = (x - n * Self::splat(super::super::fastmath::LN2_HI))
                    - n * Self::splat(super::super::fastmath::LN2_LO);
                let c = |v: f32| Self::splat(v);
                let p = c(1.0)
                    + r * (c(1.0)
                        + r * (c(0.5)
                            + r * (c(1.0 / 6.0)
                                + r * (c(1.0 / 24.0)
                                    + r * (c(1.0 / 120.0) + r * (c(1.0 / 720.0) + r * c(1.0 / 5040.0)))))));
                let scale = _mm_slli_epi32::<23>(_mm_add_epi32(ni, _mm_set1_epi32(127)));
                p * Self(_mm_castsi128_ps(scale))
            }
        }

        /// Natural logarithm per lane of positive normal values, as [`super::super::fastmath::ln`].
        #[inline(always)]
        pub(crate) fn ln(self) -> Self {
            // SAFETY: SSE and SSE2 belong to the x86-64 baseline: every x86-64 build enables them.
            unsafe {
                let bits = _mm_castps_si128(self.0);
                let e = _mm_sub_epi32(
                    _mm_and_si128(_mm_srli_epi32::<23>(bits), _mm_set1_epi32(0xff)),
                    _mm_set1_epi32(127),
                );
                let m = Self(_mm_castsi128_ps(_mm_or_si128(
                    _mm_and_si128(bits, _mm_set1_epi32(0x007f_ffff)),
                    _mm_set1_epi32(0x3f80_0000),
                )));
                // m > √2: halve it and add one to the exponent (the mask is all ones = −1 in those lanes).
                let big = _mm_cmpgt_ps(m.0, _mm_set1_ps(std::f32::consts::SQRT_2));
                let m = Self(_mm_or_ps(
                    _mm_and_ps(big, _mm_mul_ps(m.0, _mm_set1_ps(0.5))),
                    _mm_andnot_ps(big, m.0),
                ));
                let e = _mm_sub_epi32(e, _mm_castps_si128(big));
                let one = Self::splat(1.0);
                let s = (m - one) / (m + one);
                let s2 = s * s;
                let c = |v: f32| Self::splat(v);
                let series = c(2.0)
                    * s
                    * (one
                        + s2 * (c(1.0 / 3.0)
                            + s2 * (c(1.0 / 5.0) + s2 * (c(1.0 / 7.0) + s2 * c(1.0 / 9.0)))));
                Self(_mm_cvtepi32_ps(e)) * c(std::f32::consts::LN_2) + series
            }
        }
    }

    macro_rules! binop {
        ($tr:ident, $f:ident, $intr:ident) => {
            impl $tr for F4 {
                type Output = F4;
                #[inline(always)]
                fn $f(self, o: F4) -> F4 {
                    // SAFETY: SSE and SSE2 belong to the x86-64 baseline: every x86-64 build enables them.
                    unsafe { F4($intr(self.0, o.0)) }
                }
            }
        };
    }
    binop!(Add, add, _mm_add_ps);
    binop!(Sub, sub, _mm_sub_ps);
    binop!(Mul, mul, _mm_mul_ps);
    binop!(Div, div, _mm_div_ps);

    impl Neg for F4 {
        type Output = F4;
        #[inline(always)]
        fn neg(self) -> F4 {
            // SAFETY: SSE and SSE2 belong to the x86-64 baseline: every x86-64 build enables them.
            unsafe { F4(_mm_xor_ps(self.0, _mm_set1_ps(-0.0))) }
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod imp {
    use std::ops::{Add, Div, Mul, Neg, Sub};

    use super::super::fastmath;

    /// Four f32 lanes (portable form).
    #[derive(Clone, Copy, Debug)]
    pub(crate) struct F4([f32; 4]);

    impl F4 {
        #[inline(always)]
        fn map(self, f: impl Fn(f32) -> f32) -> Self {
            Self(self.0.map(f))
        }

        #[inline(always)]
        fn zip(self, o: Self, f: impl Fn(f32, f32) -> f32) -> Self {
            Self([
                f(self.0[0], o.0[0]),
                f(self.0[1], o.0[1]),
                f(self.0[2], o.0[2]),
                f(self.0[3], o.0[3]),
            ])
        }

        /// All lanes `v`.
        pub(crate) fn splat(v: f32) -> Self {
            Self([v; 4])
        }

        /// The first four values of `s`.
        pub(crate) fn load(s: &[f32]) -> Self {
            Self([s[0], s[1], s[2], s[3]])
        }

        /// Writes the lanes to the first four values of `s`.
        pub(crate) fn store(self, s: &mut [f32]) {
            s[..4].copy_from_slice(&self.0);
        }

        /// Lane-wise minimum.
        pub(crate) fn min(self, o: Self) -> Self {
            self.zip(o, f32::min)
        }

        /// Lane-wise maximum.
        pub(crate) fn max(self, o: Self) -> Self {
            self.zip(o, f32::max)
        }

        /// `if self <= o { a } else { b }` per lane.
        pub(crate) fn le_select(self, o: Self, a: Self, b: Self) -> Self {
            Self(std::array::from_fn(|i| {
                if self.0[i] <= o.0[i] {
                    a.0[i]
                } else {
                    b.0[i]
                }
            }))
        }

        /// Sum of the lanes.
        pub(crate) fn sum(self) -> f32 {
            (self.0[0] + self.0[1]) + (self.0[2] + self.0[3])
        }

        /// e^x per lane.
        pub(crate) fn exp(self) -> Self {
            self.map(fastmath::exp)
        }

        /// Natural logarithm per lane.
        pub(crate) fn ln(self) -> Self {
            self.map(fastmath::ln)
        }
    }

    macro_rules! binop {
        ($tr:ident, $f:ident, $op:tt) => {
            impl $tr for F4 {
                type Output = F4;
                fn $f(self, o: F4) -> F4 {
                    self.zip(o, |a, b| a $op b)
                }
            }
        };
    }
    binop!(Add, add, +);
    binop!(Sub, sub, -);
    binop!(Mul, mul, *);
    binop!(Div, div, /);

    impl Neg for F4 {
        type Output = F4;
        fn neg(self) -> F4 {
            self.map(|v| -v)
        }
    }
}

pub(crate) use imp::F4;

/// The lane operations the spectral kernels are written with, so that one generic body compiles for
/// [`F4`] (the build's baseline) and for the 8-lane AVX2 + FMA type of [`super::lanes8`].
///
/// Values are created through a `Token` ([`Lanes::splat`], [`Lanes::load`]): `()` for [`F4`], which every
/// build can execute, and a proof of a run-time CPU feature check for lane types that need one. Holding a
/// value thus proves that its instructions are available, which keeps every other operation safe.
pub(crate) trait Lanes:
    Copy
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::Div<Output = Self>
    + std::ops::Neg<Output = Self>
{
    /// What creating a value needs (see the trait docs).
    type Token: Copy;
    /// Number of lanes (at most 8).
    const N: usize;
    /// All lanes `v`.
    fn splat(t: Self::Token, v: f32) -> Self;
    /// The first `N` values of `s` (panics when `s` is shorter: a caller bug).
    fn load(t: Self::Token, s: &[f32]) -> Self;
    /// Writes the lanes to the first `N` values of `s` (panics when `s` is shorter: a caller bug).
    fn store(self, s: &mut [f32]);
    /// Lane-wise minimum (the second operand where one is NaN).
    fn min(self, o: Self) -> Self;
    /// Lane-wise maximum (the second operand where one is NaN).
    fn max(self, o: Self) -> Self;
    /// `if self <= o { a } else { b }` per lane.
    fn le_select(self, o: Self, a: Self, b: Self) -> Self;
    /// `self·b + c`, with one rounding where the lane type has fused multiply-add.
    fn madd(self, b: Self, c: Self) -> Self;
    /// e^x per lane, as [`super::fastmath::exp`].
    fn exp(self) -> Self;
    /// Natural logarithm per lane of positive normal values, as [`super::fastmath::ln`].
    fn ln(self) -> Self;
    /// The `N` values of `s` from `k`, lanes past the end of `s` set to `pad`.
    #[inline(always)]
    fn load_padded(t: Self::Token, s: &[f32], k: usize, pad: f32) -> Self {
        match s.get(k..k + Self::N) {
            Some(q) => Self::load(t, q),
            None => {
                let mut a = [pad; 8];
                let rest = &s[k.min(s.len())..];
                a[..rest.len()].copy_from_slice(rest);
                Self::load(t, &a)
            }
        }
    }
}

impl Lanes for F4 {
    type Token = ();
    const N: usize = 4;
    #[inline(always)]
    fn splat(_: (), v: f32) -> Self {
        F4::splat(v)
    }
    #[inline(always)]
    fn load(_: (), s: &[f32]) -> Self {
        F4::load(s)
    }
    #[inline(always)]
    fn store(self, s: &mut [f32]) {
        F4::store(self, s)
    }
    #[inline(always)]
    fn min(self, o: Self) -> Self {
        F4::min(self, o)
    }
    #[inline(always)]
    fn max(self, o: Self) -> Self {
        F4::max(self, o)
    }
    #[inline(always)]
    fn le_select(self, o: Self, a: Self, b: Self) -> Self {
        F4::le_select(self, o, a, b)
    }
    #[inline(always)]
    fn madd(self, b: Self, c: Self) -> Self {
        self * b + c
    }
    #[inline(always)]
    fn exp(self) -> Self {
        F4::exp(self)
    }
    #[inline(always)]
    fn ln(self) -> Self {
        F4::ln(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voice::fastmath;

    #[test]
    fn lanes_match_the_scalar_functions() {
        let xs: Vec<f32> = (0..4000).map(|i| (i as f32 - 2000.0) * 0.047).collect();
        for c in xs.chunks_exact(4) {
            let mut e = [0.0; 4];
            F4::load(c).exp().store(&mut e);
            let pos: Vec<f32> = c.iter().map(|x| x.abs() * 1e3 + 1e-30).collect();
            let mut l = [0.0; 4];
            F4::load(&pos).ln().store(&mut l);
            for i in 0..4 {
                let (we, wl) = (fastmath::exp(c[i]), fastmath::ln(pos[i]));
                assert!(
                    (e[i] - we).abs() <= 2e-7 * we.abs(),
                    "exp({}) {} vs {}",
                    c[i],
                    e[i],
                    we
                );
                assert!(
                    (l[i] - wl).abs() <= 2e-7 * wl.abs().max(1.0),
                    "ln({}) {} vs {}",
                    pos[i],
                    l[i],
                    wl
                );
            }
        }
        let a = F4::load(&[1.0, 5.0, -2.0, 3.0]);
        let b = F4::splat(2.0);
        let mut o = [0.0; 4];
        a.le_select(b, F4::splat(10.0), F4::splat(20.0)).store(&mut o);
        assert_eq!(o, [10.0, 20.0, 10.0, 20.0]);
        assert_eq!((a * b - b / b + -a).sum(), 7.0 - 4.0);
        a.min(b).store(&mut o);
        assert_eq!(o, [1.0, 2.0, -2.0, 2.0]);
        let six = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        <F4 as Lanes>::load_padded((), &six, 4, 9.0).store(&mut o);
        assert_eq!(o, [5.0, 6.0, 9.0, 9.0]);
    }
}
