//! G.711 µ-law and A-law (PCMU / PCMA).
//!
//! # What
//! [`G711Encoder`] and [`G711Decoder`] for ITU-T G.711 log-PCM at 8 kHz, one octet per sample, bit-exact
//! with the ITU-T G.191 software tool library (STL `g711.c`) on all 65 536 linear inputs and all 256 codes.
//! The decoder conceals lost packets with the G.711 Appendix I algorithm ([`crate::G711Plc`]).
//!
//! # How
//! G.711 §3 / STL rules: A-law *truncates* the 16-bit input to 13 bits (`x >> 3`, magnitude by one's
//! complement) and toggles the even bits (`^ 0x55`); µ-law truncates to 14 bits (`x >> 2`), adds the bias 33
//! and inverts all bits. Because the A-law code depends only on `x >> 4` and the µ-law code only on
//! `x >> 2`, the encoders are 4 096- and 16 384-entry tables built at compile time (`const fn` copies of the
//! STL arithmetic); the decoders are 256-entry tables. Whole slices ([`encode_slice`], [`decode_slice`],
//! the codec objects) run 16 samples per step through SSE2 float-exponent kernels on x86-64
//! (`g711_simd`), the tables finishing the tail; other targets use the tables throughout.
//!
//! # Real-time safety
//! Encoding and decoding are table look-ups or register arithmetic on caller buffers: no allocation,
//! locks or system calls.

use crate::g711_plc::G711Plc;
use crate::{CodecError, CodecInfo, Decoder, Encoder};

/// Which G.711 companding law.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum G711Law {
    /// µ-law (PCMU, RTP static payload type 0).
    MuLaw,
    /// A-law (PCMA, RTP static payload type 8).
    ALaw,
}

impl G711Law {
    /// The codec facts for this law.
    pub fn info(self) -> CodecInfo {
        match self {
            Self::MuLaw => CodecInfo {
                name: "pcmu",
                rtp_name: "PCMU",
                static_payload_type: Some(0),
                clock_rate: 8000,
                audio_rate: 8000,
                channels: 1,
            },
            Self::ALaw => CodecInfo {
                name: "pcma",
                rtp_name: "PCMA",
                static_payload_type: Some(8),
                clock_rate: 8000,
                audio_rate: 8000,
                channels: 1,
            },
        }
    }
}

/// STL `alaw_compress` for one 16-bit sample.
const fn alaw_compress_ref(x: i16) -> u8 {
    let mut ix: i32 = if x < 0 { (!x as i32) >> 4 } else { (x as i32) >> 4 };
    if ix > 15 {
        let mut iexp = 1;
        while ix > 16 + 15 {
            ix >>= 1;
            iexp += 1;
        }
        ix -= 16;
        ix += iexp << 4;
    }
    if x >= 0 {
        ix |= 0x80;
    }
    (ix ^ 0x55) as u8
}

/// STL `ulaw_compress` for one 16-bit sample.
const fn ulaw_compress_ref(x: i16) -> u8 {
    let mut absno: i32 = if x < 0 {
        ((!x as i32) >> 2) + 33
    } else {
        ((x as i32) >> 2) + 33
    };
    if absno > 0x1FFF {
        absno = 0x1FFF;
    }
    let mut i = absno >> 6;
    let mut segno = 1;
    while i != 0 {
        segno += 1;
        i >>= 1;
    }
    let high = 8 - segno;
    let low = 0x0F - ((absno >> segno) & 0x0F);
    let mut code = (high << 4) | low;
    if x >= 0 {
        code |= 0x80;
    }
    code as u8
}

/// STL `alaw_expand` for one code.
const fn alaw_expand_ref(code: u8) -> i16 {
    let ix = ((code ^ 0x55) & 0x7F) as i32;
    let iexp = ix >> 4;
    let mut mant = ix & 0x0F;
    if iexp > 0 {
        mant += 16;
    }
    mant = (mant << 4) + 8;
    if iexp > 1 {
        mant <<= iexp - 1;
    }
    (if code > 127 { mant } else { -mant }) as i16
}

/// STL `ulaw_expand` for one code.
const fn ulaw_expand_ref(code: u8) -> i16 {
    let sign = if code < 0x80 { -1 } else { 1 };
    let mantissa = !(code as i32);
    let exponent = (mantissa >> 4) & 0x07;
    let segment = exponent + 1;
    let mantissa = mantissa & 0x0F;
    let step = 4 << segment;
    (sign * ((0x80 << exponent) + step * mantissa + step / 2 - 4 * 33)) as i16
}

/// A-law codes indexed by `(x >> 4) & 0xFFF`.
static ALAW_ENC: [u8; 4096] = {
    let mut t = [0u8; 4096];
    let mut i = 0;
    while i < 4096 {
        // Sign-extend the 12-bit index back to the top bits of a 16-bit sample.
        let x = (((i as i32) << 20) >> 16) as i16;
        t[i] = alaw_compress_ref(x);
        i += 1;
    }
    t
};

/// µ-law codes indexed by `(x >> 2) & 0x3FFF`.
static ULAW_ENC: [u8; 16384] = {
    let mut t = [0u8; 16384];
    let mut i = 0;
    while i < 16384 {
        let x = (((i as i32) << 18) >> 16) as i16;
        t[i] = ulaw_compress_ref(x);
        i += 1;
    }
    t
};

static ALAW_DEC: [i16; 256] = {
    let mut t = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = alaw_expand_ref(i as u8);
        i += 1;
    }
    t
};

static ULAW_DEC: [i16; 256] = {
    let mut t = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = ulaw_expand_ref(i as u8);
        i += 1;
    }
    t
};

/// Encodes one sample to A-law (bit-exact with G.191).
#[inline]
pub fn alaw_encode(x: i16) -> u8 {
    ALAW_ENC[((x >> 4) as usize) & 0xFFF]
}

/// Encodes one sample to µ-law (bit-exact with G.191).
#[inline]
pub fn ulaw_encode(x: i16) -> u8 {
    ULAW_ENC[((x >> 2) as usize) & 0x3FFF]
}

/// Decodes one A-law code.
#[inline]
pub fn alaw_decode(code: u8) -> i16 {
    ALAW_DEC[code as usize]
}

/// Decodes one µ-law code.
#[inline]
pub fn ulaw_decode(code: u8) -> i16 {
    ULAW_DEC[code as usize]
}

/// Encodes `pcm` into `out` (one code per sample) with `law`; `out` must be at least as long as `pcm`.
#[inline]
pub fn encode_slice(law: G711Law, pcm: &[i16], out: &mut [u8]) {
    match law {
        G711Law::ALaw => {
            #[cfg(target_arch = "x86_64")]
            let done = crate::g711_simd::encode_alaw(pcm, out);
            #[cfg(not(target_arch = "x86_64"))]
            let done = 0;
            for (o, &x) in out.iter_mut().zip(pcm).skip(done) {
                *o = alaw_encode(x);
            }
        }
        G711Law::MuLaw => {
            #[cfg(target_arch = "x86_64")]
            let done = crate::g711_simd::encode_ulaw(pcm, out);
            #[cfg(not(target_arch = "x86_64"))]
            let done = 0;
            for (o, &x) in out.iter_mut().zip(pcm).skip(done) {
                *o = ulaw_encode(x);
            }
        }
    }
}

/// Decodes `codes` into `out` (one sample per code) with `law`; `out` must be at least as long as `codes`.
#[inline]
pub fn decode_slice(law: G711Law, codes: &[u8], out: &mut [i16]) {
    #[cfg(target_arch = "x86_64")]
    let done = match law {
        G711Law::ALaw => crate::g711_simd::decode_alaw(codes, out),
        G711Law::MuLaw => crate::g711_simd::decode_ulaw(codes, out),
    };
    #[cfg(not(target_arch = "x86_64"))]
    let done = 0;
    let table = match law {
        G711Law::ALaw => &ALAW_DEC,
        G711Law::MuLaw => &ULAW_DEC,
    };
    for (o, &c) in out.iter_mut().zip(codes).skip(done) {
        *o = table[c as usize];
    }
}

/// A G.711 encoder (mono, 8 kHz). Accepts any number of samples; one octet per sample.
#[derive(Debug, Clone)]
pub struct G711Encoder {
    law: G711Law,
    frame_samples: usize,
}

impl G711Encoder {
    /// An encoder for `law` with the usual 20 ms frame (160 samples).
    pub fn new(law: G711Law) -> Self {
        Self {
            law,
            frame_samples: 160,
        }
    }

    /// An encoder whose nominal frame is `ptime_ms` milliseconds (any length is still accepted).
    pub fn with_ptime(law: G711Law, ptime_ms: u32) -> Result<Self, CodecError> {
        if ptime_ms == 0 || ptime_ms > 1000 {
            return Err(CodecError::Unsupported {
                what: "G.711 ptime (ms)",
                actual: i64::from(ptime_ms),
            });
        }
        Ok(Self {
            law,
            frame_samples: ptime_ms as usize * 8,
        })
    }

    /// The companding law.
    pub fn law(&self) -> G711Law {
        self.law
    }
}

impl Encoder for G711Encoder {
    fn info(&self) -> CodecInfo {
        self.law.info()
    }

    fn frame_samples(&self) -> usize {
        self.frame_samples
    }

    fn max_payload_len(&self, samples: usize) -> usize {
        samples
    }

    fn encode(&mut self, pcm: &[i16], out: &mut [u8]) -> Result<usize, CodecError> {
        if out.len() < pcm.len() {
            return Err(CodecError::BufferTooSmall {
                expected: pcm.len(),
                actual: out.len(),
            });
        }
        encode_slice(self.law, pcm, out);
        Ok(pcm.len())
    }

    fn reset(&mut self) {}
}

/// A G.711 decoder (mono, 8 kHz) with optional G.711 Appendix I packet-loss concealment.
///
/// With concealment on (the default, [`G711Decoder::new`]) every output sample is delayed by
/// [`G711Plc::DELAY`] (30 samples, 3.75 ms) — the Appendix I overlap-add needs that look-back — and
/// [`Decoder::conceal`] synthesises pitch-repeated speech fading out over 60 ms. Without it
/// ([`G711Decoder::without_plc`]) there is no delay and concealment is silence.
#[derive(Debug, Clone)]
pub struct G711Decoder {
    law: G711Law,
    plc: Option<Box<G711Plc>>,
}

impl G711Decoder {
    /// A decoder for `law` with Appendix I concealment.
    pub fn new(law: G711Law) -> Self {
        Self {
            law,
            plc: Some(Box::new(G711Plc::new())),
        }
    }

    /// A decoder for `law` without concealment (lost packets become silence, no added delay).
    pub fn without_plc(law: G711Law) -> Self {
        Self { law, plc: None }
    }

    /// The companding law.
    pub fn law(&self) -> G711Law {
        self.law
    }
}

impl Decoder for G711Decoder {
    fn info(&self) -> CodecInfo {
        self.law.info()
    }

    fn decode(&mut self, payload: &[u8], out: &mut [i16]) -> Result<usize, CodecError> {
        let n = payload.len();
        if out.len() < n {
            return Err(CodecError::BufferTooSmall {
                expected: n,
                actual: out.len(),
            });
        }
        decode_slice(self.law, payload, &mut out[..n]);
        if let Some(plc) = &mut self.plc {
            plc.good(&mut out[..n]);
        }
        Ok(n)
    }

    fn conceal(&mut self, out: &mut [i16]) -> Result<usize, CodecError> {
        match &mut self.plc {
            Some(plc) => plc.conceal(out),
            None => out.fill(0),
        }
        Ok(out.len())
    }

    fn payload_samples(&self, payload: &[u8]) -> Result<usize, CodecError> {
        Ok(payload.len())
    }

    fn delay_samples(&self) -> usize {
        if self.plc.is_some() {
            G711Plc::DELAY
        } else {
            0
        }
    }

    fn reset(&mut self) {
        if let Some(plc) = &mut self.plc {
            plc.reset();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_equal_reference_on_every_input() {
        for x in i16::MIN..=i16::MAX {
            assert_eq!(alaw_encode(x), alaw_compress_ref(x), "A-law {x}");
            assert_eq!(ulaw_encode(x), ulaw_compress_ref(x), "µ-law {x}");
        }
    }

    #[test]
    fn slice_coders_equal_reference_on_every_input() {
        let pcm: Vec<i16> = (i16::MIN..=i16::MAX).collect();
        let mut codes = vec![0u8; pcm.len()];
        for (law, reference) in [
            (G711Law::ALaw, alaw_compress_ref as fn(i16) -> u8),
            (G711Law::MuLaw, ulaw_compress_ref),
        ] {
            encode_slice(law, &pcm, &mut codes);
            for (&x, &c) in pcm.iter().zip(&codes) {
                assert_eq!(c, reference(x), "{law:?} encode {x}");
            }
        }
        // Lengths that are not multiples of the 16-sample vector step, at every alignment.
        for law in [G711Law::ALaw, G711Law::MuLaw] {
            for len in 0..40 {
                let x = &pcm[30_000 + 7 * len..30_000 + 8 * len];
                let mut c = [0u8; 40];
                encode_slice(law, x, &mut c);
                let mut y = [0i16; 40];
                decode_slice(law, &c[..len], &mut y);
                for k in 0..len {
                    let (want_c, want_y) = match law {
                        G711Law::ALaw => (alaw_encode(x[k]), alaw_decode(alaw_encode(x[k]))),
                        G711Law::MuLaw => (ulaw_encode(x[k]), ulaw_decode(ulaw_encode(x[k]))),
                    };
                    assert_eq!((c[k], y[k]), (want_c, want_y), "{law:?} len {len} at {k}");
                }
            }
        }
        let all: Vec<u8> = (0..=255).collect();
        let mut out = [0i16; 256];
        for (law, reference) in [
            (G711Law::ALaw, alaw_expand_ref as fn(u8) -> i16),
            (G711Law::MuLaw, ulaw_expand_ref),
        ] {
            decode_slice(law, &all, &mut out);
            for (&c, &y) in all.iter().zip(&out) {
                assert_eq!(y, reference(c), "{law:?} decode {c:#04x}");
            }
        }
    }

    #[test]
    fn stl_anchor_values() {
        // G.191 STL: 0 → 0xD5, −1 → 0x55 (A); 0 → 0xFF, −1 → 0x7F (µ).
        assert_eq!(alaw_encode(0), 0xD5);
        assert_eq!(alaw_encode(-1), 0x55);
        assert_eq!(ulaw_encode(0), 0xFF);
        assert_eq!(ulaw_encode(-1), 0x7F);
        assert_eq!(ulaw_decode(0xFF), 0);
        assert_eq!(alaw_decode(0xD5), 8);
    }

    #[test]
    fn decode_then_encode_is_identity_on_codes() {
        for c in 0..=255u8 {
            assert_eq!(alaw_encode(alaw_decode(c)), c);
            // µ-law has two zeros (0x7F and 0xFF); both decode to 0 which encodes to 0xFF.
            if c != 0x7F {
                assert_eq!(ulaw_encode(ulaw_decode(c)), c);
            }
        }
    }
}
