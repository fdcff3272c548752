//! G.722 wideband codec (RTP `G722/8000`, 16 kHz audio, 64/56/48 kbit/s).
//!
//! # What
//! [`G722Encoder`] and [`G722Decoder`]: the full ITU-T G.722 codec (QMF + sub-band ADPCM), bit-exact
//! with the G.191 STL reference and therefore with ffmpeg's and spandsp's G.722. One octet carries two
//! 16 kHz samples (RFC 3551 §4.5.2: the RTP clock is 8000 Hz although audio is 16 kHz). The decoder
//! conceals lost packets ([`crate::G722Plc`]).
//!
//! # How
//! See [`crate::G722Adpcm`] for the ADPCM core. At 56 and 48 kbit/s the encoder still runs the 64 kbit/s
//! ADPCM (G.722 §1.4) and sets the one or two auxiliary-data bits (low-band LSBs) to zero; the decoder
//! ignores them (mode 2/3 inverse quantiser), as `ffmpeg -f g722` and RTP use full octets.
//!
//! # Real-time safety
//! Encode, decode and conceal work on fixed state and caller buffers: no allocation, locks or syscalls.

use crate::g722_core::{G722Adpcm, G722Mode};
use crate::g722_plc::G722Plc;
use crate::g722_qmf::{QmfAnalysis, QmfSynthesis, BLOCK};
use crate::{CodecError, CodecInfo, Decoder, Encoder};

fn info(mode: G722Mode) -> CodecInfo {
    CodecInfo {
        name: match mode {
            G722Mode::Kbps64 => "g722",
            G722Mode::Kbps56 => "g722-56",
            G722Mode::Kbps48 => "g722-48",
        },
        rtp_name: "G722",
        static_payload_type: Some(9),
        clock_rate: 8000,
        audio_rate: 16000,
        channels: 1,
    }
}

/// G.722 encoder: 16 kHz mono PCM (an even number of samples) to one octet per two samples.
#[derive(Debug, Clone)]
pub struct G722Encoder {
    mode: G722Mode,
    adpcm: G722Adpcm,
    qmf: QmfAnalysis,
    frame_samples: usize,
}

impl G722Encoder {
    /// An encoder at `mode`, nominal frame 20 ms (320 samples).
    pub fn new(mode: G722Mode) -> Self {
        Self {
            mode,
            adpcm: G722Adpcm::new(),
            qmf: QmfAnalysis::new(),
            frame_samples: 320,
        }
    }

    /// The bit-rate mode.
    pub fn mode(&self) -> G722Mode {
        self.mode
    }

    /// Encodes without the trait's length checks: `out.len() >= pcm.len() / 2`, `pcm.len()` even.
    #[inline]
    fn encode_pairs(&mut self, pcm: &[i16], out: &mut [u8]) {
        cpu::encode(self, pcm, out)
    }

    /// The body of [`Self::encode_pairs`], inlined into each CPU-feature variant: the ADPCM loop runs
    /// the AVX2 kernel when `simd` (the caller checked the CPU), else the portable code.
    #[inline(always)]
    pub(super) fn encode_pairs_body(&mut self, pcm: &[i16], out: &mut [u8], simd: bool) {
        let mask = self.mode.code_mask();
        let (mut xl, mut xh) = ([0i16; BLOCK], [0i16; BLOCK]);
        for (block, o) in pcm.chunks(2 * BLOCK).zip(out.chunks_mut(BLOCK)) {
            #[cfg(target_arch = "x86_64")]
            if simd {
                // SAFETY: `simd` is only set by `cpu::encode` after `avx2::available()`.
                #[allow(unsafe_code)]
                unsafe {
                    crate::g722_qmf::avx2::split(&mut self.qmf, block, &mut xl, &mut xh);
                    crate::g722_core::avx2::encode_block(&mut self.adpcm, &xl, &xh, mask, o)
                };
                continue;
            }
            let _ = simd;
            self.qmf.split(block, &mut xl, &mut xh);
            self.adpcm.encode_block(&xl, &xh, mask, o);
        }
    }
}

impl Encoder for G722Encoder {
    fn info(&self) -> CodecInfo {
        info(self.mode)
    }

    fn frame_samples(&self) -> usize {
        self.frame_samples
    }

    fn max_payload_len(&self, samples: usize) -> usize {
        samples.div_ceil(2)
    }

    fn encode(&mut self, pcm: &[i16], out: &mut [u8]) -> Result<usize, CodecError> {
        if pcm.len() & 1 != 0 {
            return Err(CodecError::BadLength {
                expected: "an even number of 16 kHz samples",
                actual: pcm.len(),
            });
        }
        let n = pcm.len() / 2;
        if out.len() < n {
            return Err(CodecError::BufferTooSmall {
                expected: n,
                actual: out.len(),
            });
        }
        self.encode_pairs(pcm, &mut out[..n]);
        Ok(n)
    }

    fn reset(&mut self) {
        self.adpcm.reset();
        self.qmf = QmfAnalysis::new();
    }
}

/// G.722 decoder: octets to 16 kHz mono PCM, with packet-loss concealment.
#[derive(Debug, Clone)]
pub struct G722Decoder {
    mode: G722Mode,
    adpcm: G722Adpcm,
    qmf: QmfSynthesis,
    plc: G722Plc,
}

impl G722Decoder {
    /// A decoder for a stream at `mode`.
    pub fn new(mode: G722Mode) -> Self {
        Self {
            mode,
            adpcm: G722Adpcm::new(),
            qmf: QmfSynthesis::new(),
            plc: G722Plc::new(),
        }
    }

    /// The bit-rate mode.
    pub fn mode(&self) -> G722Mode {
        self.mode
    }

    /// Decodes octets without concealment bookkeeping (`out.len() >= 2 * codes.len()`).
    #[inline]
    fn decode_raw(&mut self, codes: &[u8], out: &mut [i16]) {
        cpu::decode(self, codes, out)
    }

    /// The body of [`Self::decode_raw`], inlined into each CPU-feature variant (`simd` as in
    /// [`G722Encoder::encode_pairs_body`]).
    #[inline(always)]
    pub(super) fn decode_raw_body(&mut self, codes: &[u8], out: &mut [i16], simd: bool) {
        let (mut rl, mut rh) = ([0i16; BLOCK], [0i16; BLOCK]);
        for (block, o) in codes.chunks(BLOCK).zip(out.chunks_mut(2 * BLOCK)) {
            #[cfg(target_arch = "x86_64")]
            if simd {
                // SAFETY: `simd` is only set by `cpu::decode` after `avx2::available()`.
                #[allow(unsafe_code)]
                unsafe {
                    crate::g722_core::avx2::decode_block(
                        &mut self.adpcm,
                        block,
                        self.mode.low_table(),
                        &mut rl,
                        &mut rh,
                    );
                    crate::g722_qmf::avx2::join(&mut self.qmf, &rl, &rh, block.len(), o);
                };
                continue;
            }
            let _ = simd;
            self.adpcm.decode_block(block, self.mode, &mut rl, &mut rh);
            self.qmf.join(&rl, &rh, block.len(), o);
        }
    }
}

impl Decoder for G722Decoder {
    fn info(&self) -> CodecInfo {
        info(self.mode)
    }

    fn decode(&mut self, payload: &[u8], out: &mut [i16]) -> Result<usize, CodecError> {
        let n = payload.len() * 2;
        if out.len() < n {
            return Err(CodecError::BufferTooSmall {
                expected: n,
                actual: out.len(),
            });
        }
        self.decode_raw(payload, &mut out[..n]);
        self.plc.good(&mut out[..n]);
        Ok(n)
    }

    fn conceal(&mut self, out: &mut [i16]) -> Result<usize, CodecError> {
        let n = out.len() & !1;
        let mut tx = self.plc.analysis();
        self.plc.conceal(&mut out[..n]);
        // State update: run the synthetic signal through the encoder analysis with the decoder's
        // ADPCM state, and decode the resulting codes so the predictors, scale factors and the
        // synthesis QMF follow the concealed signal (resynchronisation when packets resume).
        for pair in out[..n].chunks_exact(2) {
            let (xl, xh) = tx.process(pair[0], pair[1]);
            let mut probe = self.adpcm;
            let code = probe.encode(xl, xh);
            let (rl, rh) = self.adpcm.decode(code, G722Mode::Kbps64);
            self.qmf.process(rl, rh);
        }
        if n < out.len() {
            out[n] = out.get(n.wrapping_sub(1)).copied().unwrap_or(0);
        }
        Ok(out.len())
    }

    fn payload_samples(&self, payload: &[u8]) -> Result<usize, CodecError> {
        Ok(payload.len() * 2)
    }

    fn reset(&mut self) {
        self.adpcm.reset();
        self.qmf = QmfSynthesis::new();
        self.plc.reset();
    }
}

/// Runtime CPU dispatch of the block loops: on x86-64 CPUs with AVX2/BMI/POPCNT the ADPCM loops run the
/// AVX2 kernels of `g722_core::avx2` (both sub-bands in one register) and of `g722_qmf::avx2` (eight
/// sample pairs per step); elsewhere the portable block loops run (SSE2 on x86-64). Both compute identical integers
/// (tests compare them on random, extreme and ITU input).
#[allow(unsafe_code)]
mod cpu {
    use super::{G722Decoder, G722Encoder};

    /// Whether this CPU runs the AVX2 variants.
    #[inline(always)]
    fn has_avx2() -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            crate::g722_core::avx2::available()
        }
        #[cfg(not(target_arch = "x86_64"))]
        false
    }

    /// [`G722Encoder::encode_pairs_body`] in the best variant for this CPU.
    #[inline]
    pub(super) fn encode(enc: &mut G722Encoder, pcm: &[i16], out: &mut [u8]) {
        #[cfg(target_arch = "x86_64")]
        if has_avx2() {
            // SAFETY: every feature `encode_avx2` is compiled with was detected on this CPU.
            return unsafe { encode_avx2(enc, pcm, out) };
        }
        enc.encode_pairs_body(pcm, out, false)
    }

    /// [`G722Decoder::decode_raw_body`] in the best variant for this CPU.
    #[inline]
    pub(super) fn decode(dec: &mut G722Decoder, codes: &[u8], out: &mut [i16]) {
        #[cfg(target_arch = "x86_64")]
        if has_avx2() {
            // SAFETY: every feature `decode_avx2` is compiled with was detected on this CPU.
            return unsafe { decode_avx2(dec, codes, out) };
        }
        dec.decode_raw_body(codes, out, false)
    }

    /// # Safety
    /// The CPU must support `avx2`, `bmi1`, `bmi2` and `popcnt`.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,bmi1,bmi2,popcnt")]
    unsafe fn encode_avx2(enc: &mut G722Encoder, pcm: &[i16], out: &mut [u8]) {
        enc.encode_pairs_body(pcm, out, true)
    }

    /// # Safety
    /// The CPU must support `avx2`, `bmi1`, `bmi2` and `popcnt`.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,bmi1,bmi2,popcnt")]
    unsafe fn decode_avx2(dec: &mut G722Decoder, codes: &[u8], out: &mut [i16]) {
        dec.decode_raw_body(codes, out, true)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn tone(n: usize, f: f32) -> Vec<i16> {
        (0..n)
            .map(|i| ((i as f32 * f * std::f32::consts::TAU / 16000.0).sin() * 8000.0) as i16)
            .collect()
    }

    fn rms(x: &[i16]) -> f32 {
        (x.iter().map(|&s| f32::from(s).powi(2)).sum::<f32>() / x.len().max(1) as f32).sqrt()
    }

    #[test]
    fn concealment_continues_a_tone_and_recovers_without_a_burst() {
        let pcm = tone(16000, 200.0);
        let mut enc = G722Encoder::new(G722Mode::Kbps64);
        let mut codes = vec![0u8; pcm.len() / 2];
        enc.encode(&pcm, &mut codes).unwrap();
        let mut dec = G722Decoder::new(G722Mode::Kbps64);
        let mut reference = G722Decoder::new(G722Mode::Kbps64);
        let mut out = vec![0i16; 320];
        let mut ref_out = vec![0i16; 320];
        let mut worst_after = 0.0f32;
        for (k, pkt) in codes.chunks(160).enumerate() {
            reference.decode(pkt, &mut ref_out).unwrap();
            if k == 20 || k == 21 {
                dec.conceal(&mut out).unwrap();
                // A 200 Hz tone has an 80-sample period: the concealment repeats it at full level.
                assert_eq!(dec.plc.pitch() % 80, 0, "pitch {}", dec.plc.pitch());
                assert!(
                    rms(&out) > 0.5 * rms(&ref_out),
                    "concealment too quiet: {}",
                    rms(&out)
                );
            } else {
                dec.decode(pkt, &mut out).unwrap();
                if k >= 24 {
                    let err: Vec<i16> = out
                        .iter()
                        .zip(&ref_out)
                        .map(|(a, b)| a.saturating_sub(*b))
                        .collect();
                    worst_after = worst_after.max(rms(&err) / rms(&ref_out));
                }
            }
        }
        // Thanks to the state update the decoder re-converges to the error-free decode.
        assert!(worst_after < 0.1, "relative error after recovery {worst_after}");
    }

    #[test]
    fn dispatched_and_baseline_builds_agree() {
        // The vector tests run the variant this CPU dispatches to; this one pins the baseline build to it.
        let mut seed = 0x1357_9bdfu32;
        let pcm: Vec<i16> = (0..16000)
            .map(|i| {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let loud = if (i / 800) % 3 == 0 { 1 } else { 8 };
                ((seed >> 16) as i16) / loud
            })
            .collect();
        for mode in [G722Mode::Kbps64, G722Mode::Kbps56, G722Mode::Kbps48] {
            let (mut a, mut b) = (G722Encoder::new(mode), G722Encoder::new(mode));
            let (mut ca, mut cb) = (vec![0u8; 8000], vec![0u8; 8000]);
            for (k, chunk) in pcm.chunks(2 * 331).enumerate() {
                let at = k * 331;
                a.encode(chunk, &mut ca[at..]).unwrap();
                b.encode_pairs_body(chunk, &mut cb[at..at + chunk.len() / 2], false);
            }
            assert_eq!(ca, cb, "encode {mode:?}");
            let (mut da, mut db) = (G722Decoder::new(mode), G722Decoder::new(mode));
            let (mut oa, mut ob) = (vec![0i16; 16000], vec![0i16; 16000]);
            for (k, chunk) in ca.chunks(207).enumerate() {
                let at = 2 * k * 207;
                da.decode_raw(chunk, &mut oa[at..]);
                db.decode_raw_body(chunk, &mut ob[at..], false);
            }
            assert_eq!(oa, ob, "decode {mode:?}");
        }
    }

    /// 16-bit little-endian words of a test vector under `$TUTTI_TESTVECTORS` (default
    /// `shared/testvectors` beside the workspace); a missing file fails the test.
    pub(crate) fn read_words(rel: &str) -> Vec<i16> {
        let root = match std::env::var_os("TUTTI_TESTVECTORS") {
            Some(p) => std::path::PathBuf::from(p),
            None => {
                std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/testvectors"))
            }
        };
        let p = root.join(rel);
        let b = std::fs::read(&p).unwrap_or_else(|e| {
            panic!(
                "test vector {} is missing ({e}); set TUTTI_TESTVECTORS",
                p.display()
            )
        });
        b.chunks_exact(2)
            .map(|c| i16::from_le_bytes([c[0], c[1]]))
            .collect()
    }

    #[test]
    fn portable_path_matches_the_itu_full_codec_vectors() {
        // `tests/g722_vectors.rs` checks the variant this CPU dispatches to; this pins the portable one.
        let pcm = read_words("itu-stl/g722/inpsp.bin");
        let want: Vec<u8> = read_words("itu-stl/g722/codspw.cod")
            .iter()
            .map(|&w| w as u8)
            .collect();
        let mut enc = G722Encoder::new(G722Mode::Kbps64);
        let mut codes = vec![0u8; pcm.len() / 2];
        enc.encode_pairs_body(&pcm, &mut codes, false);
        assert!(codes == want, "portable encoder differs from codspw.cod");
        for (mode, file) in [
            (G722Mode::Kbps64, "itu-stl/g722/outsp1.bin"),
            (G722Mode::Kbps56, "itu-stl/g722/outsp2.bin"),
            (G722Mode::Kbps48, "itu-stl/g722/outsp3.bin"),
        ] {
            let mut dec = G722Decoder::new(mode);
            let mut out = vec![0i16; codes.len() * 2];
            dec.decode_raw_body(&codes, &mut out, false);
            assert!(out == read_words(file), "portable decoder differs from {file}");
        }
    }

    #[test]
    fn odd_lengths_are_rejected_or_handled() {
        let mut enc = G722Encoder::new(G722Mode::Kbps64);
        let mut out = [0u8; 4];
        assert!(matches!(
            enc.encode(&[0; 3], &mut out),
            Err(CodecError::BadLength { .. })
        ));
        assert!(matches!(
            enc.encode(&[0; 10], &mut out),
            Err(CodecError::BufferTooSmall { .. })
        ));
        let mut dec = G722Decoder::new(G722Mode::Kbps48);
        let mut pcm = [0i16; 7];
        assert_eq!(dec.conceal(&mut pcm).unwrap(), 7);
        assert!(dec.decode(&[0u8; 4], &mut pcm).is_err());
    }
}
