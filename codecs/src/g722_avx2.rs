//! The G.722 ADPCM block loops on AVX2: both sub-bands in one 256-bit register.
//!
//! # What
//! [`encode_block`] and [`decode_block`] compute exactly what [`G722Adpcm::encode_block`] /
//! [`G722Adpcm::decode_block`] compute with the portable per-band code, faster. They are selected at run
//! time (`g722::cpu`) on CPUs with AVX2; the portable code stays the reference and the fallback (tests
//! compare the two on random input and on the ITU vectors).
//!
//! # How
//! Every quantity of a band lives in one 128-bit half of a `__m256i` (lower band in lanes 0–7, higher
//! band in lanes 8–15), so one instruction updates both bands: the six-tap zero predictor (UPZERO,
//! FILTEZ) uses lanes 0–5 of each half exactly as `g722_core::simd::zero_section` does, and the scalar
//! state (pole coefficients, signs, reconstructed signals, predictor outputs, scale factors) is kept
//! broadcast across its half, where the STL's 16-bit saturating `add`/`sub` are `vpaddsw`/`vpsubsw` and
//! its clamps `vpminsw`/`vpmaxsw`. The STL's multiplications are formed exactly:
//! `mult(a, b) = (a·b) >> 15` from the high and low product halves, `mult(x, 32512) = x + ⌊−512x / 2¹⁶⌋`
//! and `mult(x, 32640) = x + ⌊−256x / 2¹⁶⌋`.
//!
//! The encoder's quantiser feedback (QUANTL's 4-bit level and QUANTH) is branch-free: one compare of the
//! error magnitude against the level thresholds `mult(q6·8, DET)` of both bands selects, in a
//! telescoping horizontal sum, the quantised difference `mult(DET, QM4[level])` and the log-scale step
//! `WL[level]` (`WH` in the higher band). The 6-bit code itself is searched off that dependency chain.
//! In the decoder the quantised differences do not depend on the predictor, so a scalar pre-pass over
//! the block computes them with the scale factors, and the vector loop runs only the predictors.
//!
//! # Real-time safety
//! Fixed-size stack buffers and registers; no allocation, locks or syscalls.
#![allow(unsafe_code)]

use super::{G722Adpcm, DET, LEVEL_BOUNDS, Q4_BY_LEVEL, Q4_IL, Q6, QM2, WH, WL, WL_IL};
use crate::g722_qmf::BLOCK;
use std::arch::x86_64::*;

/// Whether this CPU runs the AVX2 kernels (`is_x86_feature_detected!` reads a cache filled once by
/// `cpuid`: no allocation, no syscall).
#[inline]
pub(crate) fn available() -> bool {
    std::is_x86_feature_detected!("avx2")
        && std::is_x86_feature_detected!("bmi1")
        && std::is_x86_feature_detected!("bmi2")
        && std::is_x86_feature_detected!("popcnt")
}

/// `[lower; 8]` then `[higher; 8]`.
#[inline]
#[target_feature(enable = "avx2")]
fn pair(lower: i16, higher: i16) -> __m256i {
    _mm256_setr_m128i(_mm_set1_epi16(lower), _mm_set1_epi16(higher))
}

/// Sixteen lanes from a constant table.
#[inline]
#[target_feature(enable = "avx2")]
fn lanes(t: &[i16; 16]) -> __m256i {
    // SAFETY: reads 32 bytes of a 32-byte array; the unaligned load has no alignment requirement.
    unsafe { _mm256_loadu_si256(t.as_ptr() as *const __m256i) }
}

/// `mult(a, b) = (a·b) >> 15` per lane (the saturation of the STL's `mult` acts only for
/// `a = b = −32 768`, which no call site reaches).
#[inline]
#[target_feature(enable = "avx2")]
fn mult(a: __m256i, b: __m256i) -> __m256i {
    let hi = opaque(_mm256_mulhi_epi16(a, b));
    let lo = _mm256_mullo_epi16(a, b);
    _mm256_or_si256(_mm256_slli_epi16::<1>(hi), _mm256_srli_epi16::<15>(lo))
}

/// `x`, hidden from the optimiser: without it LLVM rewrites [`mult`]'s two 16-bit multiplies as
/// sign extension, `vpmulld` on 32-bit lanes and repacking (twice the instructions and latency).
#[inline]
#[target_feature(enable = "avx2")]
fn opaque(mut x: __m256i) -> __m256i {
    // SAFETY: an empty assembly block that only names the register: it reads and writes nothing else.
    unsafe { std::arch::asm!("/* {0} */", inout(ymm_reg) x, options(pure, nomem, nostack, preserves_flags)) };
    x
}

/// The sum of the eight lanes of each half, in every lane of that half (wrapping; exact whenever the
/// true sum and every partial sum of a prefix of lanes fit, as for the telescoping sums here).
#[inline]
#[target_feature(enable = "avx2")]
fn half_sum(x: __m256i, swap16: __m256i) -> __m256i {
    let x = _mm256_add_epi16(x, _mm256_shuffle_epi32::<0x4E>(x));
    let x = _mm256_add_epi16(x, _mm256_shuffle_epi32::<0xB1>(x));
    _mm256_add_epi16(x, _mm256_shuffle_epi8(x, swap16))
}

/// The two bands' predictor state, each quantity broadcast across its band's half (except `b`, `d`,
/// whose lanes 0–5 hold `b1..b6` / `d1..d6` and lanes 6, 7 zero / don't-care).
#[derive(Clone, Copy)]
struct State {
    b: __m256i,
    d: __m256i,
    a1: __m256i,
    a2: __m256i,
    p1: __m256i,
    p2: __m256i,
    rr1: __m256i,
    rr2: __m256i,
    s: __m256i,
    sz: __m256i,
    det: __m256i,
    nb: __m256i,
}

/// Constant vectors of the predictor update.
#[derive(Clone, Copy)]
struct Consts {
    c128_zero_taps: __m256i,
    bcast0: __m256i,
    m256: __m256i,
    m512: __m256i,
    c128: __m256i,
    c192: __m256i,
    c255: __m256i,
    cm256: __m256i,
    c12288: __m256i,
    cm12288: __m256i,
    c15360: __m256i,
}

impl Consts {
    #[inline]
    #[target_feature(enable = "avx2")]
    fn new() -> Self {
        let c = _mm256_set1_epi16;
        Self {
            c128_zero_taps: lanes(&[128, 128, 128, 128, 128, 128, 0, 0, 128, 128, 128, 128, 128, 128, 0, 0]),
            bcast0: _mm256_setr_epi8(
                0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1,
            ),
            m256: c(-256),
            m512: c(-512),
            c128: c(128),
            c192: c(192),
            c255: c(255),
            cm256: c(-256),
            c12288: c(12288),
            cm12288: c(-12288),
            c15360: c(15360),
        }
    }
}

impl State {
    #[inline]
    #[target_feature(enable = "avx2")]
    fn load(ad: &G722Adpcm) -> Self {
        let (l, h) = (&ad.low, &ad.high);
        // SAFETY: each load reads the 16 bytes of an [i16; 8]; unaligned loads have no alignment
        // requirement.
        let (b, d) = unsafe {
            (
                _mm256_setr_m128i(
                    _mm_loadu_si128(l.b.as_ptr() as *const __m128i),
                    _mm_loadu_si128(h.b.as_ptr() as *const __m128i),
                ),
                _mm256_setr_m128i(
                    _mm_loadu_si128(l.d.as_ptr() as *const __m128i),
                    _mm_loadu_si128(h.d.as_ptr() as *const __m128i),
                ),
            )
        };
        Self {
            b,
            d,
            a1: pair(l.a1, h.a1),
            a2: pair(l.a2, h.a2),
            p1: pair(l.p1, h.p1),
            p2: pair(l.p2, h.p2),
            rr1: pair(l.rr1, h.rr1),
            rr2: pair(l.rr2, h.rr2),
            s: pair(l.s, h.s),
            sz: pair(l.sz, h.sz),
            det: pair(l.det, h.det),
            nb: pair(l.nb, h.nb),
        }
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    fn store(&self, ad: &mut G722Adpcm) {
        let mut b = [[0i16; 8]; 2];
        let mut d = [[0i16; 8]; 2];
        // SAFETY: each store writes the 16 bytes of an [i16; 8].
        unsafe {
            _mm_storeu_si128(b[0].as_mut_ptr() as *mut __m128i, _mm256_castsi256_si128(self.b));
            _mm_storeu_si128(b[1].as_mut_ptr() as *mut __m128i, _mm256_extracti128_si256::<1>(self.b));
            _mm_storeu_si128(d[0].as_mut_ptr() as *mut __m128i, _mm256_castsi256_si128(self.d));
            _mm_storeu_si128(d[1].as_mut_ptr() as *mut __m128i, _mm256_extracti128_si256::<1>(self.d));
        }
        let scalars = [
            self.a1, self.a2, self.p1, self.p2, self.rr1, self.rr2, self.s, self.sz, self.det, self.nb,
        ];
        for (k, band) in [&mut ad.low, &mut ad.high].into_iter().enumerate() {
            let f: [i16; 10] = scalars.map(|v| {
                if k == 0 {
                    _mm256_extract_epi16::<0>(v) as i16
                } else {
                    _mm256_extract_epi16::<8>(v) as i16
                }
            });
            band.b = b[k];
            band.d = d[k];
            [band.a1, band.a2, band.p1, band.p2, band.rr1, band.rr2, band.s, band.sz, band.det, band.nb] = f;
        }
    }

    /// PARREC, RECONS, UPZERO, FILTEZ, UPPOL2, UPPOL1, FILTEP and PREDIC of both bands for the quantised
    /// differences `d0` (broadcast per half), as `Band::adapt` (with the STL's saturating `add` for
    /// FILTEP's sum).
    #[inline]
    #[target_feature(enable = "avx2")]
    fn adapt(&mut self, d0: __m256i, k: &Consts) {
        let zero = _mm256_setzero_si256();
        let p0 = _mm256_adds_epi16(d0, self.sz);
        let r0 = _mm256_adds_epi16(self.s, d0);
        // UPZERO: b_i ← ±128 (0 if d0 = 0; + when sg(d0) = sg(d_i)) + mult(b_i, 32640).
        let wd1 = _mm256_andnot_si256(_mm256_cmpeq_epi16(d0, zero), k.c128_zero_taps);
        let m = _mm256_srai_epi16::<15>(_mm256_xor_si256(self.d, d0));
        let wd2 = _mm256_sub_epi16(_mm256_xor_si256(wd1, m), m);
        let bm = _mm256_add_epi16(self.b, _mm256_mulhi_epi16(self.b, k.m256));
        let b = _mm256_add_epi16(wd2, bm);
        let d = _mm256_blend_epi16::<1>(_mm256_slli_si256::<2>(self.d), d0);
        // FILTEZ: the STL's sequential saturating sum of mult(2·d_i, b_i), i = 6 down to 1, as five
        // shift + saturating-add steps (lane k holds the partial sum from lane 5 down to k).
        let dd = _mm256_add_epi16(d, d);
        let prod = mult(dd, b);
        let mut acc = prod;
        for _ in 0..5 {
            acc = _mm256_adds_epi16(prod, _mm256_srli_si256::<2>(acc));
        }
        let sz = _mm256_shuffle_epi8(acc, k.bcast0);
        // UPPOL2. s1 = −1 where sg(p0) ≠ sg(p1); x = −a1 where the signs agree, else a1; the STL's
        // `(sat(±4·a1)) >> 7` equals clamp(x >> 5, −256, 255) for every a1.
        let s1 = _mm256_srai_epi16::<15>(_mm256_xor_si256(p0, self.p1));
        let x = _mm256_sub_epi16(s1, _mm256_xor_si256(self.a1, s1));
        let wd2 = _mm256_max_epi16(_mm256_min_epi16(_mm256_srai_epi16::<5>(x), k.c255), k.cm256);
        let s2 = _mm256_srai_epi16::<15>(_mm256_xor_si256(p0, self.p2));
        let wd3 = _mm256_sub_epi16(_mm256_xor_si256(k.c128, s2), s2);
        let a2m = _mm256_add_epi16(self.a2, _mm256_mulhi_epi16(self.a2, k.m512));
        let t = _mm256_add_epi16(_mm256_add_epi16(wd2, wd3), a2m);
        let apl2 = _mm256_max_epi16(_mm256_min_epi16(t, k.c12288), k.cm12288);
        // UPPOL1
        let base = _mm256_add_epi16(self.a1, _mm256_mulhi_epi16(self.a1, k.m256));
        let w = _mm256_sub_epi16(_mm256_xor_si256(k.c192, s1), s1);
        let lim = _mm256_sub_epi16(k.c15360, apl2);
        let apl1 = _mm256_max_epi16(
            _mm256_min_epi16(_mm256_add_epi16(base, w), lim),
            _mm256_sub_epi16(zero, lim),
        );
        // FILTEP + PREDIC
        let rr0 = _mm256_adds_epi16(r0, r0);
        let sp = _mm256_adds_epi16(mult(apl1, rr0), mult(apl2, self.rr1));
        self.s = _mm256_adds_epi16(sp, sz);
        self.sz = sz;
        self.b = b;
        self.d = d;
        self.a1 = apl1;
        self.a2 = apl2;
        self.p2 = self.p1;
        self.p1 = p0;
        self.rr2 = self.rr1;
        self.rr1 = rr0;
    }
}

/// Decodes `codes` (at most [`BLOCK`]) with the lower-band inverse quantiser `table` into `rl`, `rh`.
///
/// # Safety
/// The CPU must support AVX2 ([`available`]).
#[target_feature(enable = "avx2,bmi1,bmi2,popcnt")]
pub(crate) unsafe fn decode_block(
    ad: &mut G722Adpcm,
    codes: &[u8],
    table: &[i16; 64],
    rl: &mut [i16],
    rh: &mut [i16],
) {
    let n = codes.len().min(BLOCK).min(rl.len()).min(rh.len());
    // Pass 1 (scalar): the quantised differences and scale factors, which depend only on the codes.
    // Per sample: [dL, dH, mult(DETL, table[il]), dH].
    let mut pre = [[0i16; 4]; BLOCK];
    let (mut nbl, mut detl) = (i32::from(ad.low.nb), ad.low.det);
    let (mut nbh, mut deth) = (i32::from(ad.high.nb), ad.high.det);
    let m = |a: i16, b: i16| ((i32::from(a) * i32::from(b)) >> 15) as i16;
    for (p, &c) in pre[..n].iter_mut().zip(codes) {
        let il = usize::from(c & 0x3F);
        let ih = usize::from(c >> 6);
        let dl = m(detl, Q4_IL[il]);
        let ql = m(detl, table[il]);
        let dh = m(deth, QM2[ih]);
        nbl = (((nbl * 32512) >> 15) + i32::from(WL_IL[il])).clamp(0, 18432);
        detl = DET[(nbl >> 6) as usize + 64];
        nbh = (((nbh * 32512) >> 15) + i32::from(WH[ih])).clamp(0, 22528);
        deth = DET[(nbh >> 6) as usize];
        *p = [dl, dh, ql, dh];
    }
    // Pass 2 (vector): both predictors.
    let k = Consts::new();
    let mut st = State::load(ad);
    let ctl_d = _mm256_setr_epi8(
        0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3,
    );
    let ctl_x = _mm256_setr_epi8(
        4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7,
    );
    let (lo_lim, hi_lim) = (_mm256_set1_epi16(-16384), _mm256_set1_epi16(16383));
    for ((p, l), h) in pre[..n].iter().zip(rl.iter_mut()).zip(rh.iter_mut()) {
        // SAFETY: reads the 8 bytes of one [i16; 4].
        let v = _mm256_broadcastq_epi64(unsafe { _mm_loadl_epi64(p.as_ptr() as *const __m128i) });
        let d0 = _mm256_shuffle_epi8(v, ctl_d);
        // Lower band: yl = limit(s + mult(DETL, q)); higher band: rh = limit(s + dH) (= limit(r0)).
        let y = _mm256_adds_epi16(st.s, _mm256_shuffle_epi8(v, ctl_x));
        let y = _mm256_max_epi16(_mm256_min_epi16(y, hi_lim), lo_lim);
        *l = _mm256_extract_epi16::<0>(y) as i16;
        *h = _mm256_extract_epi16::<8>(y) as i16;
        st.adapt(d0, &k);
    }
    st.store(ad);
    ad.low.nb = nbl as i16;
    ad.low.det = detl;
    ad.high.nb = nbh as i16;
    ad.high.det = deth;
}

/// `16·q6[i]` for i in 1..=29, zero-padded to 32 lanes (the 6-bit interval search).
const Q16: [[i16; 16]; 2] = {
    let mut t = [[0i16; 16]; 2];
    let mut i = 1;
    while i < 30 {
        t[(i - 1) / 16][(i - 1) % 16] = (Q6[i] as u16 * 16) as i16;
        i += 1;
    }
    t
};

/// Level thresholds as `16·q6` (for `vpmulhuw` with DET): lower half the seven level boundaries and a
/// zero in lane 7 (the base lane, always selected); higher half QUANTH's `564·16` in lanes 8–14.
const THR_Q: [i16; 16] = {
    let mut t = [0i16; 16];
    let mut j = 0;
    while j < 7 {
        t[j] = (Q6[LEVEL_BOUNDS[j]] as u16 * 16) as i16;
        t[8 + j] = 564 * 16;
        j += 1;
    }
    t
};

/// Magnitudes `16·|QM4|` of the candidate differences by level, laid out as the telescoping sums
/// want them: lanes 0–6 levels 1–7, lane 7 level 0; higher half QUANTH's large step (lanes 8–14) and
/// small step (lane 15).
const CAND_Q: [i16; 16] = {
    let mut t = [0i16; 16];
    let mut j = 0;
    while j < 7 {
        t[j] = (Q4_BY_LEVEL[8 + j + 1] as u16 * 2) as i16;
        t[8 + j] = (QM2[2] as u16 * 2) as i16;
        j += 1;
    }
    t[7] = (Q4_BY_LEVEL[8] as u16 * 2) as i16;
    t[15] = (QM2[3] as u16 * 2) as i16;
    t
};

/// Log-scale steps as telescoping sums: lanes 0–6 `WL[j+1] − WL[j]`, lane 7 `WL[0]`; higher half
/// `WH(large) − WH(small)` in lane 8 and `WH(small)` in lane 15.
const W_DELTA: [i16; 16] = {
    let mut t = [0i16; 16];
    let mut j = 0;
    while j < 7 {
        t[j] = WL[j + 1] - WL[j];
        j += 1;
    }
    t[7] = WL[0];
    t[8] = WH[2] - WH[3];
    t[15] = WH[3];
    t
};

/// Telescoping form of candidate vector `c` (lanes 0–6 = levels 1–7, lane 7 = level 0 per half):
/// lanes 0–6 `c[level j+1] − c[level j]`, lane 7 the level-0 value.
#[inline]
#[target_feature(enable = "avx2")]
fn telescope(c: __m256i) -> __m256i {
    let rot = _mm256_alignr_epi8::<14>(c, c);
    _mm256_blend_epi16::<0x80>(_mm256_sub_epi16(c, rot), c)
}

/// Encodes `xl[i]`, `xh[i]` into `out[i] & mask` for `i < out.len()` (at most [`BLOCK`]).
///
/// # Safety
/// The CPU must support AVX2 ([`available`]).
#[target_feature(enable = "avx2,bmi1,bmi2,popcnt")]
pub(crate) unsafe fn encode_block(ad: &mut G722Adpcm, xl: &[i16], xh: &[i16], mask: u8, out: &mut [u8]) {
    let k = Consts::new();
    let mut st = State::load(ad);
    let thr_q = lanes(&THR_Q);
    let cand_q = lanes(&CAND_Q);
    let w_delta = lanes(&W_DELTA);
    let q16a = lanes(&Q16[0]);
    let q16b = lanes(&Q16[1]);
    let swap16 = _mm256_setr_epi8(
        2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12,
        13,
    );
    let ones = _mm256_set1_epi16(-1);
    let zero = _mm256_setzero_si256();
    let nb_max = pair(18432, 22528);
    let mut detl = ad.low.det;
    // Per-DET vectors: level thresholds and the candidate differences for both signs, telescoped.
    let per_det = |det: __m256i| {
        let thr = _mm256_mulhi_epu16(thr_q, det);
        // mult(DET, ±8·o) with 0 < DET ≤ 16 384 and 16·o < 2¹⁶: the positive one is ⌊DET·16o / 2¹⁶⌋,
        // the negative one −⌈…⌉ = !pos + (remainder == 0).
        let hi = _mm256_mulhi_epu16(det, cand_q);
        let lo = _mm256_mullo_epi16(det, cand_q);
        let neg = _mm256_sub_epi16(_mm256_xor_si256(hi, ones), _mm256_cmpeq_epi16(lo, zero));
        (thr, telescope(hi), telescope(neg))
    };
    let (mut thr, mut dpos, mut dneg) = per_det(st.det);
    for ((o, &l), &h) in out.iter_mut().zip(xl).zip(xh) {
        let x = _mm256_blend_epi32::<0xF0>(_mm256_set1_epi16(l), _mm256_set1_epi16(h));
        let el = _mm256_subs_epi16(x, st.s);
        let sg = _mm256_srai_epi16::<15>(el);
        let wd = _mm256_xor_si256(el, sg);
        // Lanes whose threshold exceeds |e| are dropped from the telescoping sums.
        let above = _mm256_cmpgt_epi16(thr, wd);
        let delta = _mm256_blendv_epi8(dpos, dneg, sg);
        let d0 = half_sum(_mm256_andnot_si256(above, delta), swap16);
        let w = half_sum(_mm256_andnot_si256(above, w_delta), swap16);
        // The transmitted code: 6-bit interval of the lower band (29 thresholds), QUANTH's IH.
        let detl_all = _mm256_set1_epi16(detl);
        let wdl_all = _mm256_permute4x64_epi64::<0>(wd);
        let g0 = _mm256_cmpgt_epi16(_mm256_mulhi_epu16(q16a, detl_all), wdl_all);
        let g1 = _mm256_cmpgt_epi16(_mm256_mulhi_epu16(q16b, detl_all), wdl_all);
        let gt = _mm256_movemask_epi8(_mm256_packs_epi16(g0, g1)) as u32;
        let interval = 30 - gt.count_ones() as usize;
        let signs = _mm256_movemask_epi8(sg) as u32;
        let small_h = (_mm256_movemask_epi8(above) as u32 >> 16) & 1;
        let positive_l = (!signs & 1) as usize;
        let il = super::IL_BY_INTERVAL[(positive_l << 5) | interval];
        let ih = ((!signs >> 15) & 2) | small_h;
        *o = ((ih as u8) << 6 | il) & mask;
        st.adapt(d0, &k);
        // LOGSCL/LOGSCH + SCALEL/SCALEH.
        let nb = _mm256_add_epi16(
            _mm256_add_epi16(st.nb, _mm256_mulhi_epi16(st.nb, k.m512)),
            w,
        );
        st.nb = _mm256_min_epi16(_mm256_max_epi16(nb, zero), nb_max);
        let nbl = _mm256_extract_epi16::<0>(st.nb) as usize;
        let nbh = _mm256_extract_epi16::<8>(st.nb) as usize;
        detl = DET[(nbl >> 6) + 64];
        st.det = pair(detl, DET[nbh >> 6]);
        (thr, dpos, dneg) = per_det(st.det);
    }
    st.store(ad);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_tables_follow_the_scalar_ones() {
        for level in 0..8 {
            // Positive and negative candidates have one magnitude per level.
            assert_eq!(Q4_BY_LEVEL[8 + level], -Q4_BY_LEVEL[level], "level {level}");
            assert!(Q4_BY_LEVEL[8 + level] >= 0 && Q4_BY_LEVEL[8 + level] % 8 == 0);
        }
        assert_eq!(QM2[2], -QM2[0]);
        assert_eq!(QM2[3], -QM2[1]);
    }
}
