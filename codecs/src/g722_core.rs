//! The G.722 sub-band ADPCM core and QMF filters.
//!
//! # What
//! [`G722Adpcm`] holds the two ADPCM coders (lower band 6 bits, higher band 2 bits) of ITU-T G.722 and
//! [`QmfAnalysis`] / [`QmfSynthesis`] the 24-tap quadrature mirror filters that split 16 kHz audio into the
//! two 8 kHz sub-bands and join them again. Used directly, `G722Adpcm` is the "test mode" of G.722
//! Appendix II that bypasses the QMF.
//!
//! # How
//! ITU-T G.722 (09/2012) §3–§4 blocks SUBTRA, QUANTL/QUANTH, INVQAL/INVQBL/INVQAH, LOGSCL/LOGSCH,
//! SCALEL/SCALEH, UPZERO, UPPOL1/UPPOL2, FILTEZ, FILTEP, PREDIC, LIMIT, in the order and with the 16-bit
//! saturating arithmetic of the G.191 STL reference (`funcg722.c`), so results are bit-exact. The
//! quantiser decision counts, in one SSE2 pass, the monotonic thresholds `q6[i]·DET >> 12` above |e|; the
//! QMF keeps its delay line as a doubled ring and evaluates both tap sums with `pmaddwd`; the inverse
//! quantisers and the ILA scale-factor table are precomputed at compile time.
//!
//! # Real-time safety
//! Plain integer arithmetic on fixed-size state; nothing allocates.

/// 16-bit saturation.
#[inline(always)]
fn sat(x: i32) -> i16 {
    x.clamp(-32768, 32767) as i16
}

/// STL `add` (saturating).
#[inline(always)]
fn add(a: i16, b: i16) -> i16 {
    a.saturating_add(b)
}

/// STL `mult`: `(a·b) >> 15`, saturated. The saturation can only act for `a = b = −32 768`; at every
/// call site one operand is a constant, `DET` (positive), a doubled difference (|2d| ≤ 20 456) or a pole
/// coefficient (|a1| ≤ 15 360, |a2| ≤ 12 288), so it is a provable no-op and is left out.
#[inline(always)]
fn mult(a: i16, b: i16) -> i16 {
    debug_assert!(a != i16::MIN || b != i16::MIN);
    ((i32::from(a) * i32::from(b)) >> 15) as i16
}

/// STL `limit`: clamp to the 15-bit range of the sub-band signals.
#[inline(always)]
fn limit(x: i16) -> i16 {
    x.clamp(-16384, 16383)
}

/// Quantiser decision levels `q6` (G.722 Table 9/G.722), indices 1..=30 used.
const Q6: [i16; 31] = [
    0, 35, 72, 110, 150, 190, 233, 276, 323, 370, 422, 473, 530, 587, 650, 714, 786, 858, 940, 1023, 1121,
    1219, 1339, 1458, 1612, 1765, 1980, 2195, 2557, 2919, 3200,
];
/// Lower-band code for a negative / positive error by decision interval.
const MISIL: [[u8; 32]; 2] = [
    [
        0x00, 0x3F, 0x3E, 0x1F, 0x1E, 0x1D, 0x1C, 0x1B, 0x1A, 0x19, 0x18, 0x17, 0x16, 0x15, 0x14, 0x13, 0x12,
        0x11, 0x10, 0x0F, 0x0E, 0x0D, 0x0C, 0x0B, 0x0A, 0x09, 0x08, 0x07, 0x06, 0x05, 0x04, 0x00,
    ],
    [
        0x00, 0x3D, 0x3C, 0x3B, 0x3A, 0x39, 0x38, 0x37, 0x36, 0x35, 0x34, 0x33, 0x32, 0x31, 0x30, 0x2F, 0x2E,
        0x2D, 0x2C, 0x2B, 0x2A, 0x29, 0x28, 0x27, 0x26, 0x25, 0x24, 0x23, 0x22, 0x21, 0x20, 0x00,
    ],
];
const RIL4: [usize; 16] = [0, 7, 6, 5, 4, 3, 2, 1, 7, 6, 5, 4, 3, 2, 1, 0];
const OQ4: [i16; 8] = [0, 150, 323, 530, 786, 1121, 1612, 2557];
const WL: [i16; 8] = [-60, -30, 58, 172, 334, 538, 1198, 3042];
const RIL5: [usize; 32] = [
    1, 1, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1,
    1,
];
const OQ5: [i16; 16] = [
    0, 35, 110, 190, 276, 370, 473, 587, 714, 858, 1023, 1219, 1458, 1765, 2195, 2919,
];
const RIL6: [usize; 64] = [
    1, 1, 1, 1, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7,
    6, 5, 4, 3, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7,
    6, 5, 4, 3, 2, 1, 2, 1,
];
const OQ6: [i16; 31] = [
    0, 17, 54, 91, 130, 170, 211, 254, 300, 347, 396, 447, 501, 558, 618, 682, 750, 822, 899, 982, 1072,
    1170, 1279, 1399, 1535, 1689, 1873, 2088, 2376, 2738, 3101,
];
/// Scale factors: mantissas of ILA (G.722 Table 11/G.722) for the 32 fractional steps.
const ILB: [i32; 32] = [
    2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383, 2435, 2489, 2543, 2599, 2656, 2714, 2774, 2834, 2896,
    2960, 3025, 3091, 3158, 3228, 3298, 3371, 3444, 3520, 3597, 3676, 3756, 3838, 3922, 4008,
];

/// `(ILA[k] + 1) << 2` for k in 0..=352 (SCALEL/SCALEH output).
static DET: [i16; 353] = {
    let mut t = [0i16; 353];
    let mut k = 0;
    while k < 353 {
        let e = k >> 5;
        let m = ILB[k & 31];
        let v = if e <= 10 { m >> (10 - e) } else { m << (e - 10) };
        t[k] = (v << 2) as i16;
        k += 1;
    }
    t
};

/// Signed inverse-quantiser outputs (before scaling by DET) for the 4, 5 and 6-bit lower-band codes.
static QM4: [i16; 16] = {
    let mut t = [0i16; 16];
    let mut i = 0;
    while i < 16 {
        let v = OQ4[RIL4[i]] << 3;
        t[i] = if i < 8 { -v } else { v };
        i += 1;
    }
    t
};
static QM5: [i16; 32] = {
    let mut t = [0i16; 32];
    let mut i = 0;
    while i < 32 {
        let v = OQ5[RIL5[i]] << 3;
        t[i] = if i < 16 || i == 31 { -v } else { v };
        i += 1;
    }
    t
};
static QM6: [i16; 64] = {
    let mut t = [0i16; 64];
    let mut i = 0;
    while i < 64 {
        let v = OQ6[RIL6[i]] << 3;
        t[i] = if i < 32 || i >= 62 { -v } else { v };
        i += 1;
    }
    t
};
const QM2: [i16; 4] = [-7408, -1616, 7408, 1616];
const WH: [i16; 4] = [798, -214, 798, -214];

/// G.722 lower-band decoder mode (bit rate of the received stream).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum G722Mode {
    /// Mode 1: 64 kbit/s, 6-bit lower band.
    #[default]
    Kbps64,
    /// Mode 2: 56 kbit/s, 5-bit lower band (one auxiliary-data bit per octet).
    Kbps56,
    /// Mode 3: 48 kbit/s, 4-bit lower band (two auxiliary-data bits per octet).
    Kbps48,
}

impl G722Mode {
    /// The bit rate in bit/s.
    pub fn bitrate(self) -> u32 {
        match self {
            Self::Kbps64 => 64_000,
            Self::Kbps56 => 56_000,
            Self::Kbps48 => 48_000,
        }
    }

    /// Mask of the octet bits the mode carries (the others are auxiliary data).
    pub fn code_mask(self) -> u8 {
        match self {
            Self::Kbps64 => 0xFF,
            Self::Kbps56 => 0xFE,
            Self::Kbps48 => 0xFC,
        }
    }
}

/// One ADPCM band's adaptive predictor and scale-factor state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Band {
    a: [i16; 3],
    b: [i16; 7],
    d: [i16; 7],
    p: [i16; 3],
    r: [i16; 3],
    det: i16,
    nb: i16,
    s: i16,
    sp: i16,
    sz: i16,
}

impl Band {
    const fn new(det: i16) -> Self {
        Self {
            a: [0; 3],
            b: [0; 7],
            d: [0; 7],
            p: [0; 3],
            r: [0; 3],
            det,
            nb: 0,
            s: 0,
            sp: 0,
            sz: 0,
        }
    }

    /// Blocks PARREC, RECONS, UPZERO, UPPOL2, UPPOL1, FILTEZ, FILTEP, PREDIC for quantised difference `d0`.
    #[inline(always)]
    fn adapt(&mut self, d0: i16) {
        self.d[0] = d0;
        self.p[0] = add(d0, self.sz);
        self.r[0] = add(self.s, d0);
        // UPZERO
        let wd1: i16 = if d0 == 0 { 0 } else { 128 };
        let sg0 = d0 >> 15;
        for i in (1..7).rev() {
            let sgi = self.d[i] >> 15;
            let wd2 = if sg0 == sgi { wd1 } else { -wd1 };
            let wd3 = mult(self.b[i], 32640);
            self.b[i] = add(wd2, wd3);
            self.d[i] = self.d[i - 1];
        }
        // UPPOL2
        let sg0 = self.p[0] >> 15;
        let sg1 = self.p[1] >> 15;
        let sg2 = self.p[2] >> 15;
        let wd1 = sat(i32::from(self.a[1]) << 2);
        let wd2 = if sg0 == sg1 { wd1.saturating_neg() } else { wd1 } >> 7;
        let wd3: i16 = if sg0 == sg2 { 128 } else { -128 };
        let apl2 = add(add(wd2, wd3), mult(self.a[2], 32512)).clamp(-12288, 12288);
        self.a[2] = apl2;
        // UPPOL1
        let wd1: i16 = if sg0 == sg1 { 192 } else { -192 };
        let mut apl1 = add(wd1, mult(self.a[1], 32640));
        let wd3 = 15360 - apl2;
        if apl1 > wd3 {
            apl1 = wd3;
        } else if apl1 < -wd3 {
            apl1 = -wd3;
        }
        self.p[2] = self.p[1];
        self.p[1] = self.p[0];
        self.a[1] = apl1;
        // FILTEZ
        let mut sz: i16 = 0;
        for i in (1..7).rev() {
            sz = add(sz, mult(add(self.d[i], self.d[i]), self.b[i]));
        }
        self.sz = sz;
        // FILTEP
        self.r[2] = self.r[1];
        self.r[1] = self.r[0];
        let wd1 = mult(self.a[1], add(self.r[1], self.r[1]));
        let wd2 = mult(self.a[2], add(self.r[2], self.r[2]));
        self.sp = add(wd1, wd2);
        // PREDIC
        self.s = add(self.sp, self.sz);
    }

    /// LOGSCL + SCALEL for lower-band code `il`.
    #[inline(always)]
    fn scale_low(&mut self, il: u8) {
        let nb = add(mult(self.nb, 32512), WL[RIL4[(il >> 2) as usize]]).clamp(0, 18432);
        self.nb = nb;
        self.det = DET[(((nb >> 6) & 511) + 64) as usize];
    }

    /// LOGSCH + SCALEH for higher-band code `ih`.
    #[inline(always)]
    fn scale_high(&mut self, ih: u8) {
        let nb = add(mult(self.nb, 32512), WH[ih as usize]).clamp(0, 22528);
        self.nb = nb;
        self.det = DET[((nb >> 6) & 511) as usize];
    }

    /// Lower-band encoder (STL `lsbcod`).
    #[inline(always)]
    fn encode_low(&mut self, xl: i16) -> u8 {
        let el = xl.saturating_sub(self.s);
        let wd = if el >= 0 { el } else { 32767 - (el & 0x7FFF) };
        // Smallest interval m in 1..30 whose upper threshold exceeds |el| (30 if none).
        let det = self.det;
        let il = MISIL[usize::from(el >= 0)][simd::quant_interval(det, wd) & 31];
        let dlt = mult(det, QM4[(il >> 2) as usize]);
        self.scale_low(il);
        self.adapt(dlt);
        il
    }

    /// Higher-band encoder (STL `hsbcod`).
    #[inline(always)]
    fn encode_high(&mut self, xh: i16) -> u8 {
        let eh = xh.saturating_sub(self.s);
        let wd = if eh >= 0 { eh } else { 32767 - (eh & 0x7FFF) };
        let mih = if wd >= mult(564 << 3, self.det) { 2 } else { 1 };
        let ih: u8 = if eh >= 0 { [0, 3, 2][mih] } else { [0, 1, 0][mih] };
        let dh = mult(QM2[ih as usize], self.det);
        self.scale_high(ih);
        self.adapt(dh);
        ih
    }

    /// Lower-band decoder (STL `lsbdec`).
    #[inline(always)]
    fn decode_low(&mut self, il: u8, mode: G722Mode) -> i16 {
        let il = il & 0x3F;
        let q = match mode {
            G722Mode::Kbps64 => QM6[il as usize],
            G722Mode::Kbps56 => QM5[(il >> 1) as usize],
            G722Mode::Kbps48 => QM4[(il >> 2) as usize],
        };
        let yl = limit(add(self.s, mult(self.det, q)));
        let dlt = mult(self.det, QM4[(il >> 2) as usize]);
        self.scale_low(il);
        self.adapt(dlt);
        yl
    }

    /// Higher-band decoder (STL `hsbdec`).
    #[inline(always)]
    fn decode_high(&mut self, ih: u8) -> i16 {
        let ih = ih & 3;
        let dh = mult(QM2[ih as usize], self.det);
        self.scale_high(ih);
        self.adapt(dh);
        limit(self.r[0])
    }
}

/// The two G.722 ADPCM coders without the QMF (the G.722 Appendix II "test mode").
///
/// The same state serves encoding and decoding: both adapt identically for a given code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct G722Adpcm {
    low: Band,
    high: Band,
}

impl Default for G722Adpcm {
    fn default() -> Self {
        Self::new()
    }
}

impl G722Adpcm {
    /// Reset state (DETL = 32, DETH = 8, everything else 0).
    pub const fn new() -> Self {
        Self {
            low: Band::new(32),
            high: Band::new(8),
        }
    }

    /// Resets both bands.
    pub fn reset(&mut self) {
        *self = Self::new();
    }

    /// Encodes one lower-band and one higher-band sample (15-bit range) into an octet
    /// (`IH` in bits 7–6, `IL` in bits 5–0).
    #[inline]
    pub fn encode(&mut self, xl: i16, xh: i16) -> u8 {
        let il = self.low.encode_low(xl);
        let ih = self.high.encode_high(xh);
        (ih << 6) | il
    }

    /// Decodes an octet into the reconstructed lower- and higher-band samples, with the lower band
    /// decoded at `mode` (56/48 kbit/s ignore one/two low-band LSBs).
    #[inline]
    pub fn decode(&mut self, code: u8, mode: G722Mode) -> (i16, i16) {
        let rl = self.low.decode_low(code & 0x3F, mode);
        let rh = self.high.decode_high(code >> 6);
        (rl, rh)
    }
}

/// QMF coefficients ×2 as in the STL (`coef_qmf`).
const COEF_QMF: [i16; 24] = [
    6, -22, -22, 106, 24, -312, 64, 724, -420, -1610, 1902, 7752, 7752, 1902, -1610, -420, 724, 64, -312, 24,
    106, -22, -22, 6,
];

/// `COEF_QMF` with the odd taps zeroed (the `A` sum of the STL) and with the even taps zeroed (`B`).
const COEF_EVEN: [i16; 24] = {
    let mut t = [0i16; 24];
    let mut i = 0;
    while i < 24 {
        t[i] = COEF_QMF[i];
        i += 2;
    }
    t
};
const COEF_ODD: [i16; 24] = {
    let mut t = [0i16; 24];
    let mut i = 1;
    while i < 24 {
        t[i] = COEF_QMF[i];
        i += 2;
    }
    t
};

/// The 24-sample QMF delay line as a doubled ring: every sample is stored at `j` and `j + 24`, so the
/// window `buf[pos..pos + 24]` (newest first) is always contiguous and nothing is shifted per sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DelayLine {
    buf: [i16; 48],
    pos: usize,
}

impl DelayLine {
    const fn new() -> Self {
        Self { buf: [0; 48], pos: 0 }
    }

    /// Pushes `older` then `newer`; returns the sums `(A, B)` of the even and odd taps over the window
    /// (`x[0]` = `newer`). The products and sums are exact in `i32` (|sum| ≤ 32 768 · 25 928 < 2³¹),
    /// so the order of accumulation does not matter.
    #[inline(always)]
    fn push_and_filter(&mut self, older: i16, newer: i16) -> (i32, i32) {
        let p = if self.pos == 0 { 22 } else { self.pos - 2 };
        self.pos = p;
        self.buf[p] = newer;
        self.buf[p + 24] = newer;
        self.buf[p + 1] = older;
        self.buf[p + 25] = older;
        let w: &[i16; 24] = self.buf[p..p + 24]
            .try_into()
            .expect("p <= 22, so p + 24 <= 46 < 48");
        simd::dot2(w)
    }
}

/// Fixed-size kernels of the QMF and the lower-band quantiser: SSE2 on x86-64 (part of the baseline ABI),
/// portable scalar code elsewhere. Both compute exactly the same integers.
#[allow(unsafe_code)]
mod simd {
    use super::{COEF_EVEN, COEF_ODD, Q6};

    /// `16 · q6[i]` for i in 1..=29, padded with zeros to 32 lanes (a zero threshold never exceeds |e|).
    const Q16: [u16; 32] = {
        let mut t = [0u16; 32];
        let mut i = 1;
        while i < 30 {
            t[i - 1] = (Q6[i] as u16) * 16;
            i += 1;
        }
        t
    };

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

    /// The lower-band quantiser interval: the smallest `m` in 1..=30 with `mult(q6[m] << 3, det) > wd`
    /// (30 if none), for `det` in 0..=16 384 and `wd` in 0..=32 767. The thresholds are monotonic in
    /// `m`, so `m = 30 − #{i in 1..=29 : threshold_i > wd}`; `(16·q6·det) >> 16` equals the STL's
    /// `(8·q6·det) >> 15` (never saturates: at most 12 800).
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    pub(super) fn quant_interval(det: i16, wd: i16) -> usize {
        use std::arch::x86_64::*;
        // SAFETY: SSE2 is part of the x86-64 baseline; the four loads read 8 u16 each inside the
        // 32-element `Q16` with no alignment requirement.
        unsafe {
            let q = Q16.as_ptr() as *const __m128i;
            let d = _mm_set1_epi16(det);
            let e = _mm_set1_epi16(wd);
            let g0 = _mm_cmpgt_epi16(_mm_mulhi_epu16(_mm_loadu_si128(q), d), e);
            let g1 = _mm_cmpgt_epi16(_mm_mulhi_epu16(_mm_loadu_si128(q.add(1)), d), e);
            let g2 = _mm_cmpgt_epi16(_mm_mulhi_epu16(_mm_loadu_si128(q.add(2)), d), e);
            let g3 = _mm_cmpgt_epi16(_mm_mulhi_epu16(_mm_loadu_si128(q.add(3)), d), e);
            let m = (_mm_movemask_epi8(_mm_packs_epi16(g0, g1)) as u32)
                | ((_mm_movemask_epi8(_mm_packs_epi16(g2, g3)) as u32) << 16);
            30 - m.count_ones() as usize
        }
    }

    /// Portable version of the quantiser decision.
    #[cfg(not(target_arch = "x86_64"))]
    #[inline(always)]
    pub(super) fn quant_interval(det: i16, wd: i16) -> usize {
        let mut gt = 0usize;
        for &q in &Q16 {
            gt += usize::from(((u32::from(q) * det as u32) >> 16) as i16 > wd);
        }
        30 - gt
    }
}

/// The transmit QMF: two 16 kHz samples in, one lower- and one higher-band sample out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QmfAnalysis {
    x: DelayLine,
}

impl Default for QmfAnalysis {
    fn default() -> Self {
        Self::new()
    }
}

impl QmfAnalysis {
    /// Zero state.
    pub const fn new() -> Self {
        Self { x: DelayLine::new() }
    }

    /// Filters the pair (`first`, `second`) in time order; returns `(xl, xh)`.
    #[inline]
    pub fn process(&mut self, first: i16, second: i16) -> (i16, i16) {
        let (a, b) = self.x.push_and_filter(first, second);
        let xl = limit((((a + b) * 2) >> 16) as i16);
        let xh = limit((((a - b) * 2) >> 16) as i16);
        (xl, xh)
    }
}

/// The receive QMF: one lower- and one higher-band sample in, two 16 kHz samples out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QmfSynthesis {
    x: DelayLine,
}

impl Default for QmfSynthesis {
    fn default() -> Self {
        Self::new()
    }
}

impl QmfSynthesis {
    /// Zero state.
    pub const fn new() -> Self {
        Self { x: DelayLine::new() }
    }

    /// Joins `rl`, `rh`; returns the two output samples in time order.
    #[inline]
    pub fn process(&mut self, rl: i16, rh: i16) -> (i16, i16) {
        let (a, b) = self.x.push_and_filter(add(rl, rh), rl.saturating_sub(rh));
        let out =
            |acc: i32| ((i64::from(acc) << 4).clamp(i64::from(i32::MIN), i64::from(i32::MAX)) >> 16) as i16;
        (out(a), out(b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiser_interval_equals_the_binary_search_of_the_stl() {
        for &det in &DET[64..] {
            for wd in (0..=32767i16).step_by(3).chain([32767]) {
                let (mut lo, mut hi) = (1usize, 30usize);
                while lo < hi {
                    let mid = (lo + hi) / 2;
                    if mult(Q6[mid] << 3, det) > wd {
                        hi = mid;
                    } else {
                        lo = mid + 1;
                    }
                }
                assert_eq!(simd::quant_interval(det, wd), lo, "det {det} wd {wd}");
            }
        }
    }

    #[test]
    fn inverse_quantiser_tables_match_the_standard() {
        // G.722 Table 13 / spandsp-style qm4, and spot checks of qm5 and qm6 (Tables 14, 15).
        assert_eq!(
            QM4,
            [
                0, -20456, -12896, -8968, -6288, -4240, -2584, -1200, 20456, 12896, 8968, 6288, 4240, 2584,
                1200, 0
            ]
        );
        assert_eq!(&QM5[..4], &[-280, -280, -23352, -17560]);
        assert_eq!(&QM5[28..], &[1520, 880, 280, -280]);
        assert_eq!(&QM6[..5], &[-136, -136, -136, -136, -24808]);
        assert_eq!(&QM6[60..], &[432, 136, -432, -136]);
        assert_eq!(DET[0], 8);
        assert_eq!(DET[352], 16384);
    }
}
