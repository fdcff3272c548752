//! Branch-free `exp` and `ln` for f32 that the compiler can vectorise.
//!
//! # What
//! [`exp`] and [`ln`] with a relative error below 3·10⁻⁷ over the ranges the spectral voice nodes use
//! (about 2 ulp of f32), written without branches or calls so that a loop over spectrum bins compiles to
//! SIMD code. The standard library's `f32::exp`/`f32::ln` call libm once per value, which dominated the
//! noise suppressor's per-bin cost.
//!
//! # How
//! - `exp(x) = 2ⁿ · e^r` with `n = round(x / ln 2)` found by adding the 1.5·2²³ "magic" constant (the
//!   rounding happens in the FPU's own round-to-nearest; the integer sits in the low mantissa bits),
//!   `r = x − n·ln 2` in two parts (Cody & Waite 1980), `|r| ≤ ln 2 / 2`, and `e^r` by its Taylor series to
//!   degree 7 (truncation error `|r|⁸/8! < 6·10⁻⁹`); `2ⁿ` is built in the exponent field. Inputs are clamped
//!   to [−87, 88], the normal range of f32.
//! - `ln(x) = e·ln 2 + ln m` with `x = m·2ᵉ`, `m ∈ [√½, √2)` from the bit pattern, and
//!   `ln m = 2·atanh(s) = 2(s + s³/3 + s⁵/5 + s⁷/7 + s⁹/9)`, `s = (m − 1)/(m + 1)`, `|s| ≤ 0.172` (truncation
//!   error `< 10⁻⁹`). Defined for positive normal inputs; callers floor their arguments (e.g. at 10⁻³⁰).
//!
//! # Real-time safety
//! Pure arithmetic.

pub(crate) const LN2_HI: f32 = 0.693_145_75;
pub(crate) const LN2_LO: f32 = 1.428_606_8e-6;
#[cfg_attr(target_arch = "x86_64", allow(dead_code))] // x86-64 uses the SSE form in `lanes`
const LOG2E: f32 = std::f32::consts::LOG2_E;
/// 1.5·2²³: adding it rounds a float of magnitude < 2²² to an integer held in the low mantissa bits.
pub(crate) const MAGIC: f32 = 12_582_912.0;

/// e^x for f32 (see the module docs); inputs outside [−87, 88] are clamped to that range.
#[inline(always)]
#[cfg_attr(target_arch = "x86_64", allow(dead_code))] // x86-64 uses the SSE form in `lanes`
pub(crate) fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    let t = x * LOG2E + MAGIC;
    let n = t - MAGIC;
    let ni = t.to_bits() as i32 - MAGIC.to_bits() as i32;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0
                    + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r * (1.0 / 5040.0)))))));
    let scale = f32::from_bits(((ni + 127) as u32) << 23);
    p * scale
}

/// Natural logarithm of a positive normal f32 (see the module docs).
#[inline(always)]
pub(crate) fn ln(x: f32) -> f32 {
    let bits = x.to_bits();
    let mut e = ((bits >> 23) & 0xff) as i32 - 127;
    let mut m = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000);
    // Move m from [1, 2) to [√½, √2).
    let big = m > std::f32::consts::SQRT_2;
    m = if big { m * 0.5 } else { m };
    e += i32::from(big);
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let series = 2.0 * s * (1.0 + s2 * (1.0 / 3.0 + s2 * (1.0 / 5.0 + s2 * (1.0 / 7.0 + s2 * (1.0 / 9.0)))));
    e as f32 * std::f32::consts::LN_2 + series
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_matches_f64_reference() {
        let mut worst = 0.0f64;
        let mut x = -87.0f32;
        while x < 88.0 {
            let got = f64::from(exp(x));
            let want = f64::from(x).exp();
            worst = worst.max(((got - want) / want).abs());
            x += 0.001_37;
        }
        assert!(worst < 3e-7, "worst relative error {worst}");
        assert_eq!(exp(0.0), 1.0);
        assert!(exp(-200.0).is_normal() && exp(-200.0) < 1e-37);
        assert!(exp(200.0).is_finite());
    }

    #[test]
    fn ln_matches_f64_reference() {
        let mut worst = 0.0f64;
        let mut x = 1e-30f32;
        while x < 1e30 {
            let got = f64::from(ln(x));
            let want = f64::from(x).ln();
            // Absolute error near 1 (where ln → 0), relative elsewhere.
            let err = (got - want).abs() / want.abs().max(1.0);
            worst = worst.max(err);
            x *= 1.000_93;
        }
        assert!(worst < 3e-7, "worst error {worst}");
        assert_eq!(ln(1.0), 0.0);
    }
}
