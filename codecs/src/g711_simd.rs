//! SSE2 kernels for whole-slice G.711 coding (16 samples per step), bit-exact with the G.191 tables.
//!
//! # What
//! `encode_{alaw,ulaw}` and `decode_{alaw,ulaw}` over slices; the caller ([`crate::g711`]) handles the
//! tail shorter than 16 with its tables and uses these only on x86-64 (SSE2 is part of its baseline ABI).
//!
//! # How
//! Segment (exponent) and mantissa of G.711 are those of a binary float, so the conversions run through
//! `cvtdq2ps` / float bit patterns instead of per-sample table look-ups:
//! - µ-law encode: `a = min((|x| >> 2) + 33, 8191)`, `L = ⌊log₂ a⌋` (5..=12); the STL code
//!   `((12 − L) << 4) | (15 − next four bits)` is `2239 − (bits(a as f32) >> 19)`.
//! - A-law encode: `m = |x| >> 4`; for m ≥ 16 the STL code `16·e + (m >> (e − 1)) − 16` is
//!   `(bits(m as f32) >> 19) − 2080`; below 32 the code is `m`, and `min(m, formula(max(m, 16)))` picks
//!   the right one in every case (the formula is ≥ m below 32 and ≤ m from 32 on).
//! - Decode (both laws): the magnitude `(2m + 33) << (e + 2)` is the float `2^(e+7)·(1 + m/16 + 1/32)`,
//!   built from its bits `(e·16 + m) << 19 + (134 << 23) + (1 << 18)` and read back as an integer by adding
//!   2²³ (exact: the values are integers below 2²²); µ-law subtracts the bias 132, A-law segment 0 is
//!   `16·m + 8`.
//!
//! Exhaustive tests in `g711` compare all 65 536 inputs and 256 codes with the STL reference.
//!
//! # Real-time safety
//! Register arithmetic on caller slices; no allocation.
#![allow(unsafe_code)]

use std::arch::x86_64::*;

/// Loads 8 i16 from `p[k * 8 ..]`.
///
/// # Safety
/// `p` must point to at least `(k + 1) * 8` readable i16.
#[inline(always)]
unsafe fn load8(p: *const i16, k: usize) -> __m128i {
    // SAFETY: guaranteed by the caller; unaligned loads have no alignment requirement.
    unsafe { _mm_loadu_si128(p.add(k * 8) as *const __m128i) }
}

/// Widens 8 non-negative i16 (< 2²³) to two f32 vectors and returns `bits >> 19` of each packed back to
/// i16 (the float's exponent·16 + top four mantissa bits).
#[inline(always)]
fn exp_mant(v: __m128i) -> __m128i {
    // SAFETY: SSE2 register operations only (x86-64 baseline).
    unsafe {
        let zero = _mm_setzero_si128();
        let lo = _mm_castps_si128(_mm_cvtepi32_ps(_mm_unpacklo_epi16(v, zero)));
        let hi = _mm_castps_si128(_mm_cvtepi32_ps(_mm_unpackhi_epi16(v, zero)));
        _mm_packs_epi32(_mm_srli_epi32(lo, 19), _mm_srli_epi32(hi, 19))
    }
}

/// µ-law codes (as i16 lanes) of 8 samples.
#[inline(always)]
fn ulaw8(x: __m128i) -> __m128i {
    // SAFETY: SSE2 register operations only.
    unsafe {
        let sign = _mm_srai_epi16(x, 15);
        let a = _mm_add_epi16(_mm_srai_epi16(_mm_xor_si128(x, sign), 2), _mm_set1_epi16(33));
        let a = _mm_min_epi16(a, _mm_set1_epi16(0x1FFF));
        let code = _mm_sub_epi16(_mm_set1_epi16(2239), exp_mant(a));
        _mm_or_si128(code, _mm_andnot_si128(sign, _mm_set1_epi16(0x80)))
    }
}

/// A-law codes (as i16 lanes) of 8 samples.
#[inline(always)]
fn alaw8(x: __m128i) -> __m128i {
    // SAFETY: SSE2 register operations only.
    unsafe {
        let sign = _mm_srai_epi16(x, 15);
        let m = _mm_srai_epi16(_mm_xor_si128(x, sign), 4);
        let f = exp_mant(_mm_max_epi16(m, _mm_set1_epi16(16)));
        let code = _mm_min_epi16(_mm_sub_epi16(f, _mm_set1_epi16(2080)), m);
        let code = _mm_or_si128(code, _mm_andnot_si128(sign, _mm_set1_epi16(0x80)));
        _mm_xor_si128(code, _mm_set1_epi16(0x55))
    }
}

/// Encodes `pcm[..16k]` into `out[..16k]` for the largest such `k`; returns `16k`.
#[inline(always)]
fn encode16(pcm: &[i16], out: &mut [u8], law8: impl Fn(__m128i) -> __m128i) -> usize {
    let mut done = 0;
    for (x, o) in pcm.chunks_exact(16).zip(out.chunks_exact_mut(16)) {
        // SAFETY: `x` holds exactly 16 i16 (two 8-lane loads) and `o` exactly 16 bytes (one store).
        unsafe {
            let c = _mm_packus_epi16(law8(load8(x.as_ptr(), 0)), law8(load8(x.as_ptr(), 1)));
            _mm_storeu_si128(o.as_mut_ptr() as *mut __m128i, c);
        }
        done += 16;
    }
    done
}

/// A-law encode of the leading multiple of 16 samples; returns how many were encoded.
pub(crate) fn encode_alaw(pcm: &[i16], out: &mut [u8]) -> usize {
    encode16(pcm, out, alaw8)
}

/// µ-law encode of the leading multiple of 16 samples; returns how many were encoded.
pub(crate) fn encode_ulaw(pcm: &[i16], out: &mut [u8]) -> usize {
    encode16(pcm, out, ulaw8)
}

/// `(2m + 33) << (e + 2)` for 8 lanes of `t = e·16 + m` (0..=127).
#[inline(always)]
fn magnitude8(t: __m128i) -> __m128i {
    // SAFETY: SSE2 register operations only.
    unsafe {
        let zero = _mm_setzero_si128();
        let k = _mm_set1_epi32((134 << 23) + (1 << 18));
        let magic = _mm_set1_ps(8_388_608.0);
        let base = _mm_set1_epi32(0x4B00_0000);
        let half = |v: __m128i| {
            let f = _mm_castsi128_ps(_mm_add_epi32(_mm_slli_epi32(v, 19), k));
            _mm_sub_epi32(_mm_castps_si128(_mm_add_ps(f, magic)), base)
        };
        _mm_packs_epi32(
            half(_mm_unpacklo_epi16(t, zero)),
            half(_mm_unpackhi_epi16(t, zero)),
        )
    }
}

/// Applies the sign of the codes (`c < 0x80` is negative) to the magnitudes.
#[inline(always)]
fn signed(mag: __m128i, c: __m128i) -> __m128i {
    // SAFETY: SSE2 register operations only.
    unsafe {
        let neg = _mm_cmplt_epi16(c, _mm_set1_epi16(0x80));
        _mm_sub_epi16(_mm_xor_si128(mag, neg), neg)
    }
}

/// µ-law samples of 8 codes (zero-extended into i16 lanes).
#[inline(always)]
fn ulaw_dec8(c: __m128i) -> __m128i {
    // SAFETY: SSE2 register operations only.
    unsafe {
        let t = _mm_andnot_si128(c, _mm_set1_epi16(0x7F));
        signed(_mm_sub_epi16(magnitude8(t), _mm_set1_epi16(132)), c)
    }
}

/// A-law samples of 8 codes (zero-extended into i16 lanes).
#[inline(always)]
fn alaw_dec8(c: __m128i) -> __m128i {
    // SAFETY: SSE2 register operations only.
    unsafe {
        let ix = _mm_and_si128(_mm_xor_si128(c, _mm_set1_epi16(0x55)), _mm_set1_epi16(0x7F));
        let big = magnitude8(ix);
        let small = _mm_add_epi16(_mm_slli_epi16(ix, 4), _mm_set1_epi16(8));
        let seg0 = _mm_cmplt_epi16(ix, _mm_set1_epi16(16));
        let mag = _mm_or_si128(_mm_and_si128(seg0, small), _mm_andnot_si128(seg0, big));
        signed(mag, c)
    }
}

/// Decodes `codes[..16k]` into `out[..16k]` for the largest such `k`; returns `16k`.
#[inline(always)]
fn decode16(codes: &[u8], out: &mut [i16], dec8: impl Fn(__m128i) -> __m128i) -> usize {
    let mut done = 0;
    for (c, o) in codes.chunks_exact(16).zip(out.chunks_exact_mut(16)) {
        // SAFETY: `c` holds exactly 16 bytes (one load) and `o` exactly 16 i16 (two 8-lane stores).
        unsafe {
            let v = _mm_loadu_si128(c.as_ptr() as *const __m128i);
            let zero = _mm_setzero_si128();
            let p = o.as_mut_ptr() as *mut __m128i;
            _mm_storeu_si128(p, dec8(_mm_unpacklo_epi8(v, zero)));
            _mm_storeu_si128(p.add(1), dec8(_mm_unpackhi_epi8(v, zero)));
        }
        done += 16;
    }
    done
}

/// A-law decode of the leading multiple of 16 codes; returns how many were decoded.
pub(crate) fn decode_alaw(codes: &[u8], out: &mut [i16]) -> usize {
    decode16(codes, out, alaw_dec8)
}

/// µ-law decode of the leading multiple of 16 codes; returns how many were decoded.
pub(crate) fn decode_ulaw(codes: &[u8], out: &mut [i16]) -> usize {
    decode16(codes, out, ulaw_dec8)
}
