//! The G.722 quadrature mirror filters (transmit and receive QMF).
//!
//! # What
//! [`QmfAnalysis`] splits 16 kHz audio into the 8 kHz lower and higher sub-bands of G.722, and
//! [`QmfSynthesis`] joins them again, bit-exact with the G.191 STL (`qmf_tx`/`qmf_rx` in `funcg722.c`).
//! Both work on whole blocks (the codec's hot path) or on one sample pair (API, concealment).
//!
//! # How
//! ITU-T G.722 §3.1 / §4.4: a 24-tap FIR whose even taps give the sum `A` and odd taps the sum `B`;
//! transmit `xL = (A + B) >> 15`, `xH = (A − B) >> 15` (with the STL's ×2 coefficients and `>> 16`), receive
//! `xout1 = A >> 12`, `xout2 = B >> 12` of the interleaved `rL + rH`, `rL − rH`. The filters are FIR, so a
//! block is filtered in one pass over a linear buffer `[22 history samples | block]` in time order: the
//! window of pair `j` is `buf[2j .. 2j + 24]`, contiguous, and because the coefficients are symmetric
//! (`h[i] = h[23 − i]`) the time-ordered window needs no reversal — its odd taps give `A`, its even taps
//! `B`. The two dot products per pair are three `pmaddwd` pairs (SSE2, x86-64 baseline) or portable scalar
//! code elsewhere; sums are exact in `i32` (|sum| ≤ 32 768 · 25 928 < 2³¹), so the order of accumulation
//! does not matter. Filtering a block after the ADPCM loop (instead of pair by pair) also avoids the
//! store-to-load forwarding stall of reading a vector just written as scalars.
//!
//! # Real-time safety
//! Fixed-size state and stack buffers; nothing allocates.

/// Samples of history the 24-tap filters keep between blocks.
pub(crate) const HIST: usize = 22;
/// Largest block (in sample pairs) filtered in one pass; longer inputs are processed in chunks.
pub(crate) const BLOCK: usize = 160;

/// QMF coefficients ×2 as in the STL (`coef_qmf`). Symmetric: `COEF_QMF[i] == COEF_QMF[23 - i]`.
const COEF_QMF: [i16; 24] = [
    6, -22, -22, 106, 24, -312, 64, 724, -420, -1610, 1902, 7752, 7752, 1902, -1610, -420, 724, 64, -312, 24,
    106, -22, -22, 6,
];

/// `COEF_QMF` with the odd taps zeroed and with the even taps zeroed.
const COEF_EVEN: [i16; 24] = taps(0);
const COEF_ODD: [i16; 24] = taps(1);

const fn taps(first: usize) -> [i16; 24] {
    let mut t = [0i16; 24];
    let mut i = first;
    while i < 24 {
        t[i] = COEF_QMF[i];
        i += 2;
    }
    t
}

/// 16-bit saturation of the sub-band signals (STL `limit`).
#[inline(always)]
fn limit(x: i32) -> i16 {
    x.clamp(-16384, 16383) as i16
}

/// `(A, B)` of the time-ordered window `w` (oldest first): the odd taps give `A`, the even taps `B`.
#[inline(always)]
fn sums(w: &[i16; 24]) -> (i32, i32) {
    let (even, odd) = kernel::dot2(w);
    (odd, even)
}

/// Fixed-size dot products: SSE2 on x86-64, portable scalar code elsewhere; identical integers.
#[allow(unsafe_code)]
mod kernel {
    use super::{COEF_EVEN, COEF_ODD};

    /// `(Σ COEF_EVEN[i]·w[i], Σ COEF_ODD[i]·w[i])`.
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    pub(super) fn dot2(w: &[i16; 24]) -> (i32, i32) {
        use std::arch::x86_64::*;
        // SAFETY: SSE2 is part of the x86-64 baseline; every load reads 8 i16 inside a 24-element array
        // (offsets 0, 8, 16) and the unaligned load intrinsics have no alignment requirement.
        unsafe {
            let p = w.as_ptr() as *const __m128i;
            let e = COEF_EVEN.as_ptr() as *const __m128i;
            let o = COEF_ODD.as_ptr() as *const __m128i;
            let x0 = _mm_loadu_si128(p);
            let x1 = _mm_loadu_si128(p.add(1));
            let x2 = _mm_loadu_si128(p.add(2));
            let a = _mm_add_epi32(
                _mm_add_epi32(
                    _mm_madd_epi16(x0, _mm_loadu_si128(e)),
                    _mm_madd_epi16(x1, _mm_loadu_si128(e.add(1))),
                ),
                _mm_madd_epi16(x2, _mm_loadu_si128(e.add(2))),
            );
            let b = _mm_add_epi32(
                _mm_add_epi32(
                    _mm_madd_epi16(x0, _mm_loadu_si128(o)),
                    _mm_madd_epi16(x1, _mm_loadu_si128(o.add(1))),
                ),
                _mm_madd_epi16(x2, _mm_loadu_si128(o.add(2))),
            );
            // Horizontal sums: interleave so that one pass of adds reduces both vectors.
            let lo = _mm_unpacklo_epi32(a, b); // a0 b0 a1 b1
            let hi = _mm_unpackhi_epi32(a, b); // a2 b2 a3 b3
            let s = _mm_add_epi32(lo, hi); // a0+a2 b0+b2 a1+a3 b1+b3
            let s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
            (_mm_cvtsi128_si32(s), _mm_cvtsi128_si32(_mm_srli_si128(s, 4)))
        }
    }

    /// Portable version of the dot products.
    #[cfg(not(target_arch = "x86_64"))]
    #[inline(always)]
    pub(super) fn dot2(w: &[i16; 24]) -> (i32, i32) {
        let mut a = 0i32;
        let mut b = 0i32;
        for i in 0..24 {
            a += i32::from(COEF_EVEN[i]) * i32::from(w[i]);
            b += i32::from(COEF_ODD[i]) * i32::from(w[i]);
        }
        (a, b)
    }
}

/// The window of the pair ending at `buf[end]` (exclusive), i.e. `buf[end - 24 .. end]`.
#[inline(always)]
fn window(buf: &[i16], end: usize) -> &[i16; 24] {
    buf[end - 24..end]
        .try_into()
        .expect("a range of length 24 converts to [i16; 24]")
}

/// The transmit QMF: two 16 kHz samples in, one lower- and one higher-band sample out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QmfAnalysis {
    /// The last 22 input samples, oldest first.
    hist: [i16; HIST],
}

impl Default for QmfAnalysis {
    fn default() -> Self {
        Self::new()
    }
}

impl QmfAnalysis {
    /// Zero state.
    pub const fn new() -> Self {
        Self { hist: [0; HIST] }
    }

    #[inline(always)]
    fn bands(a: i32, b: i32) -> (i16, i16) {
        (limit(((a + b) * 2) >> 16), limit(((a - b) * 2) >> 16))
    }

    /// Filters the pair (`first`, `second`) in time order; returns `(xl, xh)`.
    #[inline]
    pub fn process(&mut self, first: i16, second: i16) -> (i16, i16) {
        let mut w = [0i16; 24];
        w[..HIST].copy_from_slice(&self.hist);
        w[HIST] = first;
        w[HIST + 1] = second;
        self.hist.copy_from_slice(&w[2..]);
        let (a, b) = sums(&w);
        Self::bands(a, b)
    }

    /// Filters `pcm` (an even number of samples, at most `2 * BLOCK`) into `xl[..n]` and `xh[..n]`,
    /// `n = pcm.len() / 2`.
    #[inline]
    pub(crate) fn split(&mut self, pcm: &[i16], xl: &mut [i16; BLOCK], xh: &mut [i16; BLOCK]) {
        let n = pcm.len() / 2;
        debug_assert!(pcm.len().is_multiple_of(2) && n <= BLOCK);
        let mut buf = [0i16; HIST + 2 * BLOCK];
        buf[..HIST].copy_from_slice(&self.hist);
        buf[HIST..HIST + 2 * n].copy_from_slice(pcm);
        for (j, (l, h)) in xl[..n].iter_mut().zip(xh[..n].iter_mut()).enumerate() {
            let (a, b) = sums(window(&buf, 2 * j + 24));
            (*l, *h) = Self::bands(a, b);
        }
        self.hist.copy_from_slice(&buf[2 * n..2 * n + HIST]);
    }
}

/// The receive QMF: one lower- and one higher-band sample in, two 16 kHz samples out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QmfSynthesis {
    /// The last 22 filter inputs (`rL + rH`, `rL − rH` per pair), oldest first.
    hist: [i16; HIST],
}

impl Default for QmfSynthesis {
    fn default() -> Self {
        Self::new()
    }
}

impl QmfSynthesis {
    /// Zero state.
    pub const fn new() -> Self {
        Self { hist: [0; HIST] }
    }

    /// `acc >> 12` of the STL, through its saturating `<< 4`.
    #[inline(always)]
    fn out(acc: i32) -> i16 {
        ((i64::from(acc) << 4).clamp(i64::from(i32::MIN), i64::from(i32::MAX)) >> 16) as i16
    }

    /// Joins `rl`, `rh`; returns the two output samples in time order.
    #[inline]
    pub fn process(&mut self, rl: i16, rh: i16) -> (i16, i16) {
        let mut w = [0i16; 24];
        w[..HIST].copy_from_slice(&self.hist);
        w[HIST] = rl.saturating_add(rh);
        w[HIST + 1] = rl.saturating_sub(rh);
        self.hist.copy_from_slice(&w[2..]);
        let (a, b) = sums(&w);
        (Self::out(a), Self::out(b))
    }

    /// Joins `rl[..n]`, `rh[..n]` (`n ≤ BLOCK`) into `out[..2n]`.
    #[inline]
    pub(crate) fn join(&mut self, rl: &[i16; BLOCK], rh: &[i16; BLOCK], n: usize, out: &mut [i16]) {
        debug_assert!(n <= BLOCK && out.len() >= 2 * n);
        let mut buf = [0i16; HIST + 2 * BLOCK];
        buf[..HIST].copy_from_slice(&self.hist);
        for ((x, &l), &h) in buf[HIST..].chunks_exact_mut(2).zip(&rl[..n]).zip(&rh[..n]) {
            x[0] = l.saturating_add(h);
            x[1] = l.saturating_sub(h);
        }
        for (j, o) in out[..2 * n].chunks_exact_mut(2).enumerate() {
            let (a, b) = sums(window(&buf, 2 * j + 24));
            o[0] = Self::out(a);
            o[1] = Self::out(b);
        }
        self.hist.copy_from_slice(&buf[2 * n..2 * n + HIST]);
    }
}

/// The block filters on AVX2, eight sample pairs per step (used by the AVX2 codec variants).
///
/// With `e_k = buf[2k]`, `o_k = buf[2k + 1]` the sums of pair `j` are `B_j = Σ_m h[2m]·e_{j+m}` and
/// `A_j = Σ_m h[2m+1]·o_{j+m}` (m = 0..11). `vpmaddwd` takes two taps at once from the 32-bit lanes
/// `(e_k, e_{k+1})` / `(o_k, o_{k+1})`, which two blends make from the interleaved buffer loaded at
/// element offsets `k` and `k + 1`; eight consecutive `j` fill the eight 32-bit lanes. The sums are
/// exact in `i32`; the output scaling is a shift and a saturating pack (`limit` / the STL's saturating
/// `<< 4` then `>> 16` equal `clamp(acc >> 15, …)` / `clamp(acc >> 12, −32 768, 32 767)`).
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
pub(crate) mod avx2 {
    use super::{QmfAnalysis, QmfSynthesis, BLOCK, COEF_QMF, HIST};
    use std::arch::x86_64::*;

    /// Buffer length: history, a block, and slack for the last step's loads (pairs up to a multiple of
    /// eight, 13 elements of 32 bits past the first).
    const BUF: usize = HIST + 2 * BLOCK + 48;

    /// `(A_j, B_j)` for `j = j0..j0 + 8` from the interleaved buffer `buf`.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn sums8(buf: &[i16; BUF], j0: usize) -> (__m256i, __m256i) {
        debug_assert!(2 * (j0 + 11) + 16 <= BUF);
        let mut a = _mm256_setzero_si256();
        let mut b = _mm256_setzero_si256();
        for t in 0..6 {
            let k = j0 + 2 * t;
            // SAFETY: both loads read 16 i16 from `buf[2k..2k + 18]`, inside BUF for every j0 < BLOCK
            // (2·(BLOCK − 1 + 10) + 18 < BUF); unaligned loads have no alignment requirement.
            let (x, y) = unsafe {
                (
                    _mm256_loadu_si256(buf.as_ptr().add(2 * k) as *const __m256i),
                    _mm256_loadu_si256(buf.as_ptr().add(2 * k + 2) as *const __m256i),
                )
            };
            let pe = _mm256_blend_epi16::<0xAA>(x, _mm256_slli_epi32::<16>(y));
            let po = _mm256_blend_epi16::<0xAA>(_mm256_srli_epi32::<16>(x), y);
            let taps = |c0: i16, c1: i16| _mm256_set1_epi32(i32::from(c0 as u16) | (i32::from(c1) << 16));
            b = _mm256_add_epi32(
                b,
                _mm256_madd_epi16(pe, taps(COEF_QMF[4 * t], COEF_QMF[4 * t + 2])),
            );
            a = _mm256_add_epi32(
                a,
                _mm256_madd_epi16(po, taps(COEF_QMF[4 * t + 1], COEF_QMF[4 * t + 3])),
            );
        }
        (a, b)
    }

    /// [`QmfAnalysis::split`] (same contract).
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    pub(crate) unsafe fn split(
        q: &mut QmfAnalysis,
        pcm: &[i16],
        xl: &mut [i16; BLOCK],
        xh: &mut [i16; BLOCK],
    ) {
        let n = (pcm.len() / 2).min(BLOCK);
        let mut buf = [0i16; BUF];
        buf[..HIST].copy_from_slice(&q.hist);
        buf[HIST..HIST + 2 * n].copy_from_slice(&pcm[..2 * n]);
        let (lo, hi) = (_mm256_set1_epi16(-16384), _mm256_set1_epi16(16383));
        for j0 in (0..n).step_by(8) {
            let (a, b) = sums8(&buf, j0);
            // limit(((A ± B)·2) >> 16) = limit((A ± B) >> 15) (|A ± B| < 2³⁰).
            let l = _mm256_srai_epi32::<15>(_mm256_add_epi32(a, b));
            let h = _mm256_srai_epi32::<15>(_mm256_sub_epi32(a, b));
            // [l0..3 h0..3 | l4..7 h4..7] → [l0..7 | h0..7], then the 15-bit limit.
            let v = _mm256_permute4x64_epi64::<0xD8>(_mm256_packs_epi32(l, h));
            let v = _mm256_max_epi16(_mm256_min_epi16(v, hi), lo);
            // SAFETY: j0 is a multiple of 8 below n ≤ BLOCK (a multiple of 8), so both 8-lane stores
            // stay inside the BLOCK-element arrays.
            unsafe {
                _mm_storeu_si128(xl.as_mut_ptr().add(j0) as *mut __m128i, _mm256_castsi256_si128(v));
                _mm_storeu_si128(
                    xh.as_mut_ptr().add(j0) as *mut __m128i,
                    _mm256_extracti128_si256::<1>(v),
                );
            }
        }
        q.hist.copy_from_slice(&buf[2 * n..2 * n + HIST]);
    }

    /// [`QmfSynthesis::join`] (same contract).
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    pub(crate) unsafe fn join(
        q: &mut QmfSynthesis,
        rl: &[i16; BLOCK],
        rh: &[i16; BLOCK],
        n: usize,
        out: &mut [i16],
    ) {
        let n = n.min(BLOCK).min(out.len() / 2);
        let mut buf = [0i16; BUF];
        buf[..HIST].copy_from_slice(&q.hist);
        for ((x, &l), &h) in buf[HIST..HIST + 2 * n]
            .chunks_exact_mut(2)
            .zip(&rl[..n])
            .zip(&rh[..n])
        {
            x[0] = l.saturating_add(h);
            x[1] = l.saturating_sub(h);
        }
        let mut tmp = [0i16; 2 * BLOCK];
        for j0 in (0..n).step_by(8) {
            let (a, b) = sums8(&buf, j0);
            // The STL's saturating `acc << 4` then `>> 16` is clamp(acc >> 12) to 16 bits.
            let a = _mm256_packs_epi32(_mm256_srai_epi32::<12>(a), _mm256_srai_epi32::<12>(a));
            let b = _mm256_packs_epi32(_mm256_srai_epi32::<12>(b), _mm256_srai_epi32::<12>(b));
            // [a0 b0 a1 b1 a2 b2 a3 b3 | a4 b4 … a7 b7]: the output samples in time order.
            let v = _mm256_unpacklo_epi16(a, b);
            // SAFETY: j0 < n ≤ BLOCK with j0 a multiple of 8: the 16 lanes land in tmp[2j0..2j0 + 16].
            unsafe { _mm256_storeu_si256(tmp.as_mut_ptr().add(2 * j0) as *mut __m256i, v) };
        }
        out[..2 * n].copy_from_slice(&tmp[..2 * n]);
        q.hist.copy_from_slice(&buf[2 * n..2 * n + HIST]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Straight transcription of the STL `qmf_tx`/`qmf_rx` (shifting delay line, saturating ops).
    fn stl_tx(delay: &mut [i16; 24], x1: i16, x2: i16) -> (i16, i16) {
        delay.copy_within(0..22, 2);
        delay[1] = x1;
        delay[0] = x2;
        let mut a = 0i32;
        let mut b = 0i32;
        for i in (0..24).step_by(2) {
            a += i32::from(COEF_QMF[i]) * i32::from(delay[i]);
            b += i32::from(COEF_QMF[i + 1]) * i32::from(delay[i + 1]);
        }
        (limit(((a + b) * 2) >> 16), limit(((a - b) * 2) >> 16))
    }

    fn noise(n: usize) -> Vec<i16> {
        let mut seed = 0x9e37_79b9u32;
        (0..n)
            .map(|i| {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                // Full-scale bursts test the saturating paths.
                if (i / 97) % 5 == 0 {
                    if seed & 0x100 != 0 {
                        i16::MAX
                    } else {
                        i16::MIN
                    }
                } else {
                    (seed >> 16) as i16
                }
            })
            .collect()
    }

    #[test]
    fn block_and_pair_analysis_equal_the_shifting_reference() {
        let pcm = noise(2 * 1000);
        let mut delay = [0i16; 24];
        let want: Vec<(i16, i16)> = pcm
            .chunks_exact(2)
            .map(|p| stl_tx(&mut delay, p[0], p[1]))
            .collect();
        let mut q = QmfAnalysis::new();
        let got: Vec<(i16, i16)> = pcm.chunks_exact(2).map(|p| q.process(p[0], p[1])).collect();
        assert_eq!(got, want);
        // Blocks of uneven sizes, including 0 and BLOCK.
        let mut q = QmfAnalysis::new();
        let (mut xl, mut xh) = ([0i16; BLOCK], [0i16; BLOCK]);
        let mut got = Vec::new();
        let mut at = 0;
        for n in [1usize, 0, 7, BLOCK, 33, BLOCK, 11, 12].iter().cycle() {
            let n = (*n).min(1000 - at);
            q.split(&pcm[2 * at..2 * (at + n)], &mut xl, &mut xh);
            got.extend(xl[..n].iter().copied().zip(xh[..n].iter().copied()));
            at += n;
            if at == 1000 {
                break;
            }
        }
        assert_eq!(got, want);
    }

    #[cfg(target_arch = "x86_64")]
    #[allow(unsafe_code)]
    #[test]
    fn avx2_blocks_equal_the_portable_blocks() {
        if !std::is_x86_feature_detected!("avx2") {
            eprintln!("no AVX2 on this CPU: nothing to compare");
            return;
        }
        let pcm = noise(2 * 1500);
        let (mut q1, mut q2) = (QmfAnalysis::new(), QmfAnalysis::new());
        let (mut s1, mut s2) = (QmfSynthesis::new(), QmfSynthesis::new());
        let mut at = 0;
        for n in [1usize, 0, 7, BLOCK, 33, BLOCK, 11, 12, 8, 159].iter().cycle() {
            let n = (*n).min(1500 - at);
            let block = &pcm[2 * at..2 * (at + n)];
            let (mut l1, mut h1, mut l2, mut h2) =
                ([0i16; BLOCK], [0i16; BLOCK], [0i16; BLOCK], [0i16; BLOCK]);
            q1.split(block, &mut l1, &mut h1);
            // SAFETY: AVX2 was detected above.
            unsafe { avx2::split(&mut q2, block, &mut l2, &mut h2) };
            assert_eq!((&l1[..n], &h1[..n]), (&l2[..n], &h2[..n]), "split at {at}");
            assert_eq!(q1, q2);
            // Synthesis of full-scale noise as sub-bands (saturating inputs and outputs).
            let (mut o1, mut o2) = (vec![7i16; 2 * n + 3], vec![7i16; 2 * n + 3]);
            let (mut rl, mut rh) = ([0i16; BLOCK], [0i16; BLOCK]);
            for (k, p) in block.chunks_exact(2).enumerate() {
                (rl[k], rh[k]) = (p[0], p[1]);
            }
            s1.join(&rl, &rh, n, &mut o1);
            // SAFETY: as above.
            unsafe { avx2::join(&mut s2, &rl, &rh, n, &mut o2) };
            assert_eq!(o1, o2, "join at {at}");
            assert_eq!(s1, s2);
            at += n;
            if at == 1500 {
                break;
            }
        }
    }

    #[test]
    fn block_synthesis_equals_pair_synthesis() {
        let x = noise(2 * 700);
        let mut q = QmfSynthesis::new();
        let want: Vec<i16> = x
            .chunks_exact(2)
            .flat_map(|p| <[i16; 2]>::from(q.process(p[0], p[1])))
            .collect();
        let mut q = QmfSynthesis::new();
        let mut got = vec![0i16; want.len()];
        let mut at = 0;
        for n in [BLOCK, 5, 0, 60, BLOCK, 1].iter().cycle() {
            let n = (*n).min(700 - at);
            let (mut rl, mut rh) = ([0i16; BLOCK], [0i16; BLOCK]);
            for (k, p) in x[2 * at..2 * (at + n)].chunks_exact(2).enumerate() {
                rl[k] = p[0];
                rh[k] = p[1];
            }
            q.join(&rl, &rh, n, &mut got[2 * at..]);
            at += n;
            if at == 700 {
                break;
            }
        }
        assert_eq!(got, want);
    }
}
