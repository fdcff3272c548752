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
            c128_zero_taps: lanes(&[
                128, 128, 128, 128, 128, 128, 0, 0, 128, 128, 128, 128, 128, 128, 0, 0,
            ]),
            bcast0: _mm256_setr_epi8(
                0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0,
                1,
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
            _mm_storeu_si128(
                b[1].as_mut_ptr() as *mut __m128i,
                _mm256_extracti128_si256::<1>(self.b),
            );
            _mm_storeu_si128(d[0].as_mut_ptr() as *mut __m128i, _mm256_castsi256_si128(self.d));
            _mm_storeu_si128(
                d[1].as_mut_ptr() as *mut __m128i,
                _mm256_extracti128_si256::<1>(self.d),
            );
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
            [
                band.a1, band.a2, band.p1, band.p2, band.rr1, band.rr2, band.s, band.sz, band.det, band.nb,
            ] = f;
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

/// The encoder's quantiser feedback for both bands (QUANTL's 4-bit level and QUANTH with the
/// inverse quantisers and the log-scale steps): constants and the vectors of the current DET.
#[derive(Clone, Copy)]
struct Quantiser {
    thr_q: __m256i,
    cand_q: __m256i,
    w_delta: __m256i,
    swap16: __m256i,
    /// Level thresholds `mult(q6·8, DET)` (see [`THR_Q`]).
    thr: __m256i,
    /// Telescoped candidate differences for a positive / negative error.
    dpos: __m256i,
    dneg: __m256i,
}

/// The outputs of [`Quantiser::feedback`].
struct Feedback {
    /// −1 where the error is negative.
    sg: __m256i,
    /// |e| as the STL forms it (`e` for e ≥ 0, else `32767 − (e & 0x7FFF)` = `!e`).
    wd: __m256i,
    /// −1 in the lanes whose level threshold exceeds `wd`.
    above: __m256i,
    /// The quantised difference (`mult(DETL, QM4[level])`, `mult(DETH, QM2[ih])`).
    d0: __m256i,
    /// The log-scale step (`WL[level]`, `WH[ih]`).
    w: __m256i,
}

impl Quantiser {
    #[inline]
    #[target_feature(enable = "avx2")]
    fn new(det: __m256i) -> Self {
        let mut q = Self {
            thr_q: lanes(&THR_Q),
            cand_q: lanes(&CAND_Q),
            w_delta: lanes(&W_DELTA),
            swap16: _mm256_setr_epi8(
                2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9,
                14, 15, 12, 13,
            ),
            thr: det,
            dpos: det,
            dneg: det,
        };
        q.set_det(det);
        q
    }

    /// Recomputes the DET-dependent vectors (`det` broadcast per half, 0 < DET ≤ 16 384).
    #[inline]
    #[target_feature(enable = "avx2")]
    fn set_det(&mut self, det: __m256i) {
        self.thr = _mm256_mulhi_epu16(self.thr_q, det);
        // mult(DET, ±8·o) with 16·o < 2¹⁶: the positive one is ⌊DET·16o / 2¹⁶⌋ (unsigned high half), the
        // negative one −⌈DET·16o / 2¹⁶⌉ = !pos + (remainder == 0).
        let pos = _mm256_mulhi_epu16(det, self.cand_q);
        let rem = _mm256_mullo_epi16(det, self.cand_q);
        let neg = _mm256_sub_epi16(
            _mm256_xor_si256(pos, _mm256_set1_epi16(-1)),
            _mm256_cmpeq_epi16(rem, _mm256_setzero_si256()),
        );
        self.dpos = telescope(pos);
        self.dneg = telescope(neg);
    }

    /// Quantises the errors `el` (per half): lanes whose threshold exceeds |e| drop out of the
    /// telescoping sums, which leaves the value of the error's level.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn feedback(&self, el: __m256i) -> Feedback {
        let sg = _mm256_srai_epi16::<15>(el);
        let wd = _mm256_xor_si256(el, sg);
        let above = _mm256_cmpgt_epi16(self.thr, wd);
        let delta = _mm256_blendv_epi8(self.dpos, self.dneg, sg);
        Feedback {
            d0: half_sum(_mm256_andnot_si256(above, delta), self.swap16),
            w: half_sum(_mm256_andnot_si256(above, self.w_delta), self.swap16),
            sg,
            wd,
            above,
        }
    }
}

/// The transmitted octet (before the mode mask) for the feedback `f` of lower-band scale `detl`: the
/// 6-bit interval of the lower band among the 29 thresholds `mult(q6[m]·8, DETL)` (QUANTL), and QUANTH's
/// IH from the sign and the one threshold already compared.
#[inline]
#[target_feature(enable = "avx2,popcnt")]
fn code(f: &Feedback, detl: i16, q16: [__m256i; 2]) -> u8 {
    let detl_all = _mm256_set1_epi16(detl);
    let wdl_all = _mm256_permute4x64_epi64::<0>(f.wd);
    let g0 = _mm256_cmpgt_epi16(_mm256_mulhi_epu16(q16[0], detl_all), wdl_all);
    let g1 = _mm256_cmpgt_epi16(_mm256_mulhi_epu16(q16[1], detl_all), wdl_all);
    let gt = _mm256_movemask_epi8(_mm256_packs_epi16(g0, g1)) as u32;
    let interval = 30 - gt.count_ones() as usize;
    let signs = _mm256_movemask_epi8(f.sg) as u32;
    let small_h = (_mm256_movemask_epi8(f.above) as u32 >> 16) & 1;
    let positive_l = (!signs & 1) as usize;
    let il = super::IL_BY_INTERVAL[(positive_l << 5) | interval];
    // IH = 2·(eh ≥ 0) + (|eh| below the threshold): [1, 0, 3, 2] by 2·sign + (mih − 1).
    let ih = ((!signs >> 15) & 2) | small_h;
    (ih as u8) << 6 | il
}

/// Encodes `xl[i]`, `xh[i]` into `out[i] & mask` for `i < out.len()` (at most [`BLOCK`]).
///
/// # Safety
/// The CPU must support AVX2 ([`available`]).
#[target_feature(enable = "avx2,bmi1,bmi2,popcnt")]
pub(crate) unsafe fn encode_block(ad: &mut G722Adpcm, xl: &[i16], xh: &[i16], mask: u8, out: &mut [u8]) {
    let k = Consts::new();
    let mut st = State::load(ad);
    let mut quant = Quantiser::new(st.det);
    let q16 = [lanes(&Q16[0]), lanes(&Q16[1])];
    let zero = _mm256_setzero_si256();
    let nb_max = pair(18432, 22528);
    let mut detl = ad.low.det;
    for ((o, &l), &h) in out.iter_mut().zip(xl).zip(xh) {
        let x = _mm256_blend_epi32::<0xF0>(_mm256_set1_epi16(l), _mm256_set1_epi16(h));
        let f = quant.feedback(_mm256_subs_epi16(x, st.s));
        *o = code(&f, detl, q16) & mask;
        st.adapt(f.d0, &k);
        // LOGSCL/LOGSCH (`mult(nb, 32512) + W` never saturates) + SCALEL/SCALEH.
        let nb = _mm256_add_epi16(_mm256_add_epi16(st.nb, _mm256_mulhi_epi16(st.nb, k.m512)), f.w);
        st.nb = _mm256_min_epi16(_mm256_max_epi16(nb, zero), nb_max);
        let nbl = _mm256_extract_epi16::<0>(st.nb) as usize;
        let nbh = _mm256_extract_epi16::<8>(st.nb) as usize;
        detl = DET[(nbl >> 6) + 64];
        st.det = pair(detl, DET[nbh >> 6]);
        quant.set_det(st.det);
    }
    st.store(ad);
}

/// One predictor update of both bands (`Band::adapt` with `d_low`, `d_high`), for the tests against
/// the STL transcription. Panics without AVX2.
#[cfg(test)]
pub(super) fn adapt_pair(low: &mut super::Band, high: &mut super::Band, d_low: i16, d_high: i16) {
    assert!(available(), "adapt_pair needs AVX2");
    #[target_feature(enable = "avx2")]
    fn run(ad: &mut G722Adpcm, d_low: i16, d_high: i16) {
        let k = Consts::new();
        let mut st = State::load(ad);
        st.adapt(pair(d_low, d_high), &k);
        st.store(ad);
    }
    let mut ad = G722Adpcm {
        low: *low,
        high: *high,
    };
    // SAFETY: AVX2 was detected above.
    unsafe { run(&mut ad, d_low, d_high) };
    (*low, *high) = (ad.low, ad.high);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::g722::tests::read_words;
    use crate::G722Mode;

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

    #[test]
    fn quantiser_feedback_and_code_equal_the_scalar_encoder_for_every_scale() {
        if !available() {
            eprintln!("no AVX2 on this CPU: nothing to compare");
            return;
        }
        #[target_feature(enable = "avx2,popcnt")]
        fn check(detl: i16, deth: i16) {
            let q = Quantiser::new(pair(detl, deth));
            let q16 = [lanes(&Q16[0]), lanes(&Q16[1])];
            let ext = |v: __m256i| {
                (
                    _mm256_extract_epi16::<0>(v) as i16,
                    _mm256_extract_epi16::<8>(v) as i16,
                )
            };
            for el in (i16::MIN..=i16::MAX)
                .step_by(5)
                .chain([i16::MIN, -1, 0, i16::MAX])
            {
                let eh = el.wrapping_mul(7);
                let f = q.feedback(pair(el, eh));
                // The portable encoder's quantiser (`Band::encode_low` / `encode_high`) on the same errors.
                let (il, dl, wl) = {
                    let wd = if el >= 0 { el } else { 32767 - (el & 0x7FFF) };
                    let pos = usize::from(el >= 0);
                    let level = super::super::quant_level(detl, wd);
                    let d = ((i32::from(detl) * i32::from(Q4_BY_LEVEL[(pos << 3) | level])) >> 15) as i16;
                    let m = super::super::simd::quant_interval(detl, wd);
                    (super::super::IL_BY_INTERVAL[(pos << 5) | (m & 31)], d, WL[level])
                };
                let (ih, dh, wh) = {
                    let wd = if eh >= 0 { eh } else { 32767 - (eh & 0x7FFF) };
                    let big = wd >= ((4512 * i32::from(deth)) >> 15) as i16;
                    let ih = [1u8, 0, 3, 2][(usize::from(eh >= 0) << 1) | usize::from(big)];
                    let d = ((i32::from(deth) * i32::from(QM2[ih as usize])) >> 15) as i16;
                    (ih, d, WH[ih as usize])
                };
                assert_eq!(ext(f.d0), (dl, dh), "d0, det {detl}/{deth}, e {el}/{eh}");
                assert_eq!(ext(f.w), (wl, wh), "w, det {detl}/{deth}, e {el}/{eh}");
                assert_eq!(
                    code(&f, detl, q16),
                    (ih << 6) | il,
                    "code, det {detl}/{deth}, e {el}/{eh}"
                );
            }
        }
        // Every higher-band scale (DET[..]) with every lower-band one (DET[64..], cycled).
        for (i, &deth) in DET.iter().enumerate() {
            // SAFETY: AVX2 was detected above.
            unsafe { check(DET[64 + i % 289], deth) };
        }
    }

    /// Block sizes 1..=BLOCK in a fixed irregular pattern (block boundaries anywhere).
    fn chunk_sizes() -> impl Iterator<Item = usize> {
        [BLOCK, 1, 37, BLOCK, 2, 113, 160, 5].into_iter().cycle()
    }

    /// Encodes `x` (the same sample in both bands, as Appendix II) with the AVX2 kernel (`simd`) or the
    /// portable block loop, from reset state, in irregular blocks.
    fn encode_seq(xl: &[i16], xh: &[i16], mask: u8, simd: bool) -> (Vec<u8>, G722Adpcm) {
        let mut ad = G722Adpcm::new();
        let mut out = vec![0u8; xl.len()];
        let mut at = 0;
        for n in chunk_sizes() {
            let n = n.min(xl.len() - at);
            let (l, h, o) = (&xl[at..at + n], &xh[at..at + n], &mut out[at..at + n]);
            if simd {
                // SAFETY: the callers run this only after `available()`.
                unsafe { encode_block(&mut ad, l, h, mask, o) };
            } else {
                ad.encode_block(l, h, mask, o);
            }
            at += n;
            if at == xl.len() {
                break;
            }
        }
        (out, ad)
    }

    fn decode_seq(codes: &[u8], mode: G722Mode, simd: bool) -> (Vec<(i16, i16)>, G722Adpcm) {
        let mut ad = G722Adpcm::new();
        let mut out = Vec::with_capacity(codes.len());
        let (mut rl, mut rh) = ([0i16; BLOCK], [0i16; BLOCK]);
        let mut at = 0;
        for n in chunk_sizes() {
            let n = n.min(codes.len() - at);
            let c = &codes[at..at + n];
            if simd {
                // SAFETY: as in `encode_seq`.
                unsafe { decode_block(&mut ad, c, mode.low_table(), &mut rl, &mut rh) };
            } else {
                ad.decode_block(c, mode, &mut rl, &mut rh);
            }
            out.extend(rl[..n].iter().copied().zip(rh[..n].iter().copied()));
            at += n;
            if at == codes.len() {
                break;
            }
        }
        (out, ad)
    }

    /// The variants to test: the portable block loop always, the AVX2 kernels where the CPU has them.
    fn variants() -> Vec<bool> {
        if available() {
            vec![false, true]
        } else {
            eprintln!("no AVX2 on this CPU: only the portable block loop is tested");
            vec![false]
        }
    }

    /// Splits an Appendix II word stream at its reset words (bit 0 set).
    fn segments(words: &[i16]) -> Vec<std::ops::Range<usize>> {
        let mut out = Vec::new();
        let mut start = 0;
        for (i, &w) in words.iter().enumerate() {
            if w & 1 == 1 {
                if i > start {
                    out.push(start..i);
                }
                start = i + 1;
            }
        }
        if start < words.len() {
            out.push(start..words.len());
        }
        out
    }

    const APP2: &str = "itu-stl/g722-appendix2/tstvector/littleendian/";

    #[test]
    fn appendix2_sequences_through_both_block_kernels() {
        for (xmt, cod) in [("bt1c1.xmt", "bt2r1.cod"), ("bt1c2.xmt", "bt2r2.cod")] {
            let input = read_words(&format!("{APP2}{xmt}"));
            let want = read_words(&format!("{APP2}{cod}"));
            for seg in segments(&input) {
                let x: Vec<i16> = input[seg.clone()].iter().map(|&w| w >> 1).collect();
                let want: Vec<u8> = want[seg].iter().map(|&w| (w >> 8) as u8).collect();
                for simd in variants() {
                    let (got, _) = encode_seq(&x, &x, 0xFF, simd);
                    assert_eq!(got, want, "{xmt} simd={simd}");
                }
            }
        }
        for (cod, low, high) in [
            ("bt2r1.cod", ["bt3l1.rc1", "bt3l1.rc2", "bt3l1.rc3"], "bt3h1.rc0"),
            ("bt2r2.cod", ["bt3l2.rc1", "bt3l2.rc2", "bt3l2.rc3"], "bt3h2.rc0"),
            ("bt1d3.cod", ["bt3l3.rc1", "bt3l3.rc2", "bt3l3.rc3"], "bt3h3.rc0"),
        ] {
            let input = read_words(&format!("{APP2}{cod}"));
            let want_h = read_words(&format!("{APP2}{high}"));
            for (k, mode) in [G722Mode::Kbps64, G722Mode::Kbps56, G722Mode::Kbps48]
                .into_iter()
                .enumerate()
            {
                let want_l = read_words(&format!("{APP2}{}", low[k]));
                for seg in segments(&input) {
                    let codes: Vec<u8> = input[seg.clone()].iter().map(|&w| (w >> 8) as u8).collect();
                    let want: Vec<(i16, i16)> = want_l[seg.clone()]
                        .iter()
                        .copied()
                        .zip(want_h[seg].iter().copied())
                        .collect();
                    for simd in variants() {
                        let (got, _) = decode_seq(&codes, mode, simd);
                        let got: Vec<(i16, i16)> = got.iter().map(|&(l, h)| (l << 1, h << 1)).collect();
                        assert_eq!(got, want, "{cod} {mode:?} simd={simd}");
                    }
                }
            }
        }
    }

    /// Signals that drive the predictors and scale factors to their limits: full-scale square waves,
    /// DC, steps between the extremes, impulses, and seeded noise with long held values.
    fn extreme_signals() -> Vec<Vec<i16>> {
        let mut seed = 0x8badf00du32;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed
        };
        let mut out = Vec::new();
        for period in [2usize, 3, 7, 16, 61, 400] {
            out.push(
                (0..6000)
                    .map(|i| if (i / period) % 2 == 0 { 16383 } else { -16384 })
                    .collect(),
            );
        }
        out.push(vec![16383; 3000]);
        out.push(vec![-16384; 3000]);
        out.push((0..6000).map(|i| if i < 2500 { 16383 } else { -16384 }).collect());
        out.push((0..6000).map(|i| if i % 250 == 0 { 16383 } else { 0 }).collect());
        for _ in 0..6 {
            let mut held = 0i16;
            out.push(
                (0..8000)
                    .map(|_| {
                        if next() % 40 == 0 {
                            held = (next() >> 17) as i16 - 16384;
                        }
                        if next() % 3 == 0 {
                            (next() >> 17) as i16 - 16384
                        } else {
                            held
                        }
                    })
                    .collect(),
            );
        }
        out
    }

    #[test]
    fn kernels_agree_with_the_portable_block_loop_on_extreme_input() {
        if !available() {
            eprintln!("no AVX2 on this CPU: nothing to compare");
            return;
        }
        let sigs = extreme_signals();
        for (i, xl) in sigs.iter().enumerate() {
            // The higher band gets another signal (reversed and negated) so the bands differ.
            let xh: Vec<i16> = xl.iter().rev().map(|&v| (-v).max(-16384)).collect();
            for mask in [0xFF, 0xFE, 0xFC] {
                let (a, sa) = encode_seq(xl, &xh, mask, false);
                let (b, sb) = encode_seq(xl, &xh, mask, true);
                assert_eq!(a, b, "encode, signal {i}, mask {mask:#x}");
                assert_eq!(sa, sb, "encoder state, signal {i}");
            }
        }
        // Decoding arbitrary octets (including streams no encoder would produce) and real ones.
        let mut seed = 0x1234_5679u32;
        let mut streams: Vec<Vec<u8>> = (0..8)
            .map(|k| {
                (0..5000)
                    .map(|i| {
                        seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                        // Some streams hold one code for long runs (drives the scale factors to their
                        // limits), others are noise.
                        if k % 2 == 0 && (i / 300) % 2 == 0 {
                            [0x00u8, 0x3F, 0xC0, 0xFF, 0x04, 0x84][(i / 600) % 6]
                        } else {
                            (seed >> 24) as u8
                        }
                    })
                    .collect()
            })
            .collect();
        streams.extend(sigs.iter().map(|x| encode_seq(x, x, 0xFF, false).0));
        for (i, codes) in streams.iter().enumerate() {
            for mode in [G722Mode::Kbps64, G722Mode::Kbps56, G722Mode::Kbps48] {
                let (a, sa) = decode_seq(codes, mode, false);
                let (b, sb) = decode_seq(codes, mode, true);
                assert_eq!(a, b, "decode, stream {i}, {mode:?}");
                assert_eq!(sa, sb, "decoder state, stream {i}, {mode:?}");
            }
        }
    }
}
