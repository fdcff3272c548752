//! Opus (RFC 6716) through the system libopus, behind a safe wrapper.
//!
//! # What
//! [`OpusEncoder`] (bitrate, complexity, VOIP/audio application, in-band FEC, DTX, expected packet loss,
//! mono/stereo, 8/12/16/24/48 kHz) and [`OpusDecoder`] (decode, packet-loss concealment, FEC recovery of
//! a lost packet from the next one). RTP: RFC 7587 — the clock is always 48 kHz and the SDP name is
//! always `opus/48000/2`, whatever the audio rate and channel count.
//!
//! # How
//! Thin calls into libopus 1.3 (`opus_encode`, `opus_decode`, `*_ctl`) through `opus_ffi`, the only
//! module with `unsafe`. Lengths are checked here so libopus never sees an inconsistent buffer.
//! PLC: `opus_decode(NULL, frame_size = missing duration)`; FEC: if packet *n* is lost and *n+1* arrived,
//! `opus_decode(n+1, decode_fec = 1, frame_size = duration of n)` and then *n+1* normally (RFC 7587 §3.3,
//! works for SILK and hybrid packets when the encoder had FEC on and expected loss > 0).
//!
//! # Real-time safety
//! Construction allocates the libopus state; encode, decode, conceal, FEC, setters and reset do not
//! allocate (libopus uses its state and the stack), lock or make system calls.

use crate::opus_ffi::{self as ffi, RawDecoder, RawEncoder};
use crate::{CodecError, CodecInfo, Decoder, Encoder};

/// Sample rates libopus accepts for PCM.
pub const OPUS_RATES: [u32; 5] = [8000, 12000, 16000, 24000, 48000];

/// The libopus version in use (e.g. `libopus 1.3.1`).
pub fn opus_version() -> &'static str {
    ffi::version()
}

/// Encoder tuning (`OPUS_APPLICATION_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum OpusApplication {
    /// Speech: favours intelligibility, enables SILK at low rates (`OPUS_APPLICATION_VOIP`).
    #[default]
    Voip,
    /// Music / general audio (`OPUS_APPLICATION_AUDIO`).
    Audio,
    /// Lowest delay, CELT only (`OPUS_APPLICATION_RESTRICTED_LOWDELAY`).
    LowDelay,
}

/// Settings of an [`OpusEncoder`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OpusEncoderConfig {
    /// PCM rate: 8000, 12000, 16000, 24000 or 48000 Hz.
    pub sample_rate: u32,
    /// 1 or 2.
    pub channels: usize,
    /// Tuning.
    pub application: OpusApplication,
    /// Target bit rate in bit/s (500–512 000), `None` = libopus default for the configuration.
    pub bitrate: Option<u32>,
    /// 0 (fastest) to 10 (best).
    pub complexity: u8,
    /// In-band forward error correction (LBRR, SILK/hybrid modes).
    pub fec: bool,
    /// Discontinuous transmission: 1–2 byte packets during silence, which need not be sent.
    pub dtx: bool,
    /// Expected packet loss in percent (0–100); FEC is only produced when > 0.
    pub packet_loss_percent: u8,
    /// Variable bit rate (default on).
    pub vbr: bool,
    /// Frame duration in samples per channel at `sample_rate` (2.5, 5, 10, 20, 40 or 60 ms).
    pub frame_samples: usize,
}

impl OpusEncoderConfig {
    /// VOIP defaults: 20 ms frames, complexity 10 (libopus default), VBR, no FEC/DTX.
    pub fn voip(sample_rate: u32, channels: usize) -> Self {
        Self {
            sample_rate,
            channels,
            application: OpusApplication::Voip,
            bitrate: None,
            complexity: 10,
            fec: false,
            dtx: false,
            packet_loss_percent: 0,
            vbr: true,
            frame_samples: sample_rate as usize / 50,
        }
    }

    /// Sets the bit rate.
    pub fn with_bitrate(mut self, bps: u32) -> Self {
        self.bitrate = Some(bps);
        self
    }

    /// Turns FEC on with an expected loss percentage.
    pub fn with_fec(mut self, loss_percent: u8) -> Self {
        self.fec = true;
        self.packet_loss_percent = loss_percent;
        self
    }
}

fn check_rate_channels(rate: u32, channels: usize) -> Result<(), CodecError> {
    if !OPUS_RATES.contains(&rate) {
        return Err(CodecError::Unsupported {
            what: "Opus sample rate",
            actual: i64::from(rate),
        });
    }
    if channels != 1 && channels != 2 {
        return Err(CodecError::Unsupported {
            what: "Opus channels",
            actual: channels as i64,
        });
    }
    Ok(())
}

/// True when `samples` per channel is an Opus frame duration (2.5/5/10/20/40/60 ms) at `rate`.
fn valid_frame(samples: usize, rate: u32) -> bool {
    let unit = rate as usize / 400; // 2.5 ms
    [1, 2, 4, 8, 16, 24].iter().any(|&k| samples == k * unit)
}

fn info(rate: u32, channels: usize) -> CodecInfo {
    CodecInfo {
        name: "opus",
        rtp_name: "opus",
        static_payload_type: None,
        clock_rate: 48000,
        audio_rate: rate,
        channels,
    }
}

/// An Opus encoder.
pub struct OpusEncoder {
    raw: RawEncoder,
    config: OpusEncoderConfig,
}

impl std::fmt::Debug for OpusEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusEncoder")
            .field("config", &self.config)
            .finish()
    }
}

impl OpusEncoder {
    /// Creates an encoder (allocates the libopus state).
    pub fn new(config: OpusEncoderConfig) -> Result<Self, CodecError> {
        check_rate_channels(config.sample_rate, config.channels)?;
        if !valid_frame(config.frame_samples, config.sample_rate) {
            return Err(CodecError::Unsupported {
                what: "Opus frame size (samples; 2.5–60 ms)",
                actual: config.frame_samples as i64,
            });
        }
        let app = match config.application {
            OpusApplication::Voip => ffi::OPUS_APPLICATION_VOIP,
            OpusApplication::Audio => ffi::OPUS_APPLICATION_AUDIO,
            OpusApplication::LowDelay => ffi::OPUS_APPLICATION_RESTRICTED_LOWDELAY,
        };
        let raw = RawEncoder::new(config.sample_rate, config.channels, app)?;
        let mut e = Self { raw, config };
        e.apply()?;
        Ok(e)
    }

    fn apply(&mut self) -> Result<(), CodecError> {
        let c = self.config;
        self.set_bitrate(c.bitrate)?;
        self.set_complexity(c.complexity)?;
        self.set_fec(c.fec)?;
        self.set_packet_loss_percent(c.packet_loss_percent)?;
        self.set_dtx(c.dtx)?;
        self.raw.set(ffi::OPUS_SET_VBR_REQUEST, i32::from(c.vbr))?;
        if c.application == OpusApplication::Voip {
            self.raw.set(ffi::OPUS_SET_SIGNAL_REQUEST, ffi::OPUS_AUTO)?;
        }
        Ok(())
    }

    /// The current configuration.
    pub fn config(&self) -> &OpusEncoderConfig {
        &self.config
    }

    /// Sets the target bit rate (`None` = automatic). Real-time safe.
    pub fn set_bitrate(&mut self, bps: Option<u32>) -> Result<(), CodecError> {
        let v = match bps {
            None => ffi::OPUS_AUTO,
            Some(b) if (500..=512_000).contains(&b) => b as i32,
            Some(b) => {
                return Err(CodecError::Unsupported {
                    what: "Opus bitrate (500–512000)",
                    actual: i64::from(b),
                })
            }
        };
        self.raw.set(ffi::OPUS_SET_BITRATE_REQUEST, v)?;
        self.config.bitrate = bps;
        Ok(())
    }

    /// The bit rate libopus is using (resolves "automatic").
    pub fn bitrate(&mut self) -> Result<u32, CodecError> {
        Ok(self.raw.get(ffi::OPUS_GET_BITRATE_REQUEST)?.max(0) as u32)
    }

    /// Sets complexity 0–10. Real-time safe.
    pub fn set_complexity(&mut self, c: u8) -> Result<(), CodecError> {
        if c > 10 {
            return Err(CodecError::Unsupported {
                what: "Opus complexity (0–10)",
                actual: i64::from(c),
            });
        }
        self.raw.set(ffi::OPUS_SET_COMPLEXITY_REQUEST, i32::from(c))?;
        self.config.complexity = c;
        Ok(())
    }

    /// Turns in-band FEC on or off. Real-time safe.
    pub fn set_fec(&mut self, on: bool) -> Result<(), CodecError> {
        self.raw.set(ffi::OPUS_SET_INBAND_FEC_REQUEST, i32::from(on))?;
        self.config.fec = on;
        Ok(())
    }

    /// Sets the expected packet loss (0–100 %). Real-time safe.
    pub fn set_packet_loss_percent(&mut self, p: u8) -> Result<(), CodecError> {
        if p > 100 {
            return Err(CodecError::Unsupported {
                what: "Opus packet loss percent (0–100)",
                actual: i64::from(p),
            });
        }
        self.raw
            .set(ffi::OPUS_SET_PACKET_LOSS_PERC_REQUEST, i32::from(p))?;
        self.config.packet_loss_percent = p;
        Ok(())
    }

    /// Turns DTX on or off. Real-time safe.
    pub fn set_dtx(&mut self, on: bool) -> Result<(), CodecError> {
        self.raw.set(ffi::OPUS_SET_DTX_REQUEST, i32::from(on))?;
        self.config.dtx = on;
        Ok(())
    }

    /// True when the last encoded frame was a DTX (silence) frame.
    pub fn in_dtx(&mut self) -> bool {
        self.raw
            .get(ffi::OPUS_GET_IN_DTX_REQUEST)
            .map(|v| v != 0)
            .unwrap_or(false)
    }

    /// Encoder look-ahead in samples per channel at the encoder rate (the Ogg Opus pre-skip source).
    pub fn lookahead(&mut self) -> usize {
        self.raw
            .get(ffi::OPUS_GET_LOOKAHEAD_REQUEST)
            .map(|v| v.max(0) as usize)
            .unwrap_or(0)
    }
}

impl Encoder for OpusEncoder {
    fn info(&self) -> CodecInfo {
        info(self.config.sample_rate, self.config.channels)
    }

    fn frame_samples(&self) -> usize {
        self.config.frame_samples
    }

    fn max_payload_len(&self, samples: usize) -> usize {
        // RFC 6716 §3.2.1: at most 1275 bytes per 20 ms frame, plus TOC / framing bytes.
        let per20 = self.config.sample_rate as usize / 50;
        1275 * samples.div_ceil(per20).max(1) + 7
    }

    /// Encodes one frame: `pcm.len() / channels` must be 2.5, 5, 10, 20, 40 or 60 ms. With DTX on, packets
    /// of 1–2 bytes are silence frames the caller may skip sending.
    fn encode(&mut self, pcm: &[i16], out: &mut [u8]) -> Result<usize, CodecError> {
        let ch = self.config.channels;
        if pcm.len() % ch != 0 || !valid_frame(pcm.len() / ch, self.config.sample_rate) {
            return Err(CodecError::BadLength {
                expected: "one Opus frame (2.5–60 ms) of interleaved PCM",
                actual: pcm.len(),
            });
        }
        if out.is_empty() {
            return Err(CodecError::BufferTooSmall {
                expected: 1275,
                actual: 0,
            });
        }
        self.raw.encode(pcm, out)
    }

    fn reset(&mut self) {
        self.raw.reset();
    }

    /// Sets `OPUS_SET_BITRATE`, `OPUS_SET_INBAND_FEC` and `OPUS_SET_PACKET_LOSS_PERC` (encoder CTLs: no
    /// allocation).
    fn adapt(&mut self, bitrate_bps: u32, fec: bool, expected_loss_pct: u8) -> Result<bool, CodecError> {
        self.set_bitrate(Some(bitrate_bps.clamp(500, 512_000)))?;
        self.set_fec(fec)?;
        self.set_packet_loss_percent(expected_loss_pct.min(100))?;
        Ok(true)
    }
}

/// An Opus decoder with PLC and FEC.
pub struct OpusDecoder {
    raw: RawDecoder,
    rate: u32,
    channels: usize,
}

impl std::fmt::Debug for OpusDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusDecoder")
            .field("rate", &self.rate)
            .field("channels", &self.channels)
            .finish()
    }
}

impl OpusDecoder {
    /// A decoder producing `channels` (1 or 2) at `sample_rate` (8/12/16/24/48 kHz), whatever the
    /// packets were encoded with.
    pub fn new(sample_rate: u32, channels: usize) -> Result<Self, CodecError> {
        check_rate_channels(sample_rate, channels)?;
        Ok(Self {
            raw: RawDecoder::new(sample_rate, channels)?,
            rate: sample_rate,
            channels,
        })
    }

    fn check_loss_len(&self, out: &[i16]) -> Result<usize, CodecError> {
        let unit = self.rate as usize / 400;
        let ch = self.channels;
        if out.len() % ch != 0 || (out.len() / ch) % unit != 0 || out.is_empty() {
            return Err(CodecError::BadLength {
                expected: "a multiple of 2.5 ms of interleaved PCM for Opus PLC/FEC",
                actual: out.len(),
            });
        }
        Ok(out.len() / ch)
    }
}

impl Decoder for OpusDecoder {
    fn info(&self) -> CodecInfo {
        info(self.rate, self.channels)
    }

    fn decode(&mut self, payload: &[u8], out: &mut [i16]) -> Result<usize, CodecError> {
        let n = ffi::packet_samples(payload, self.rate)?;
        if n > 120 * self.rate as usize / 1000 {
            return Err(CodecError::Malformed {
                detail: "Opus packet longer than 120 ms",
            });
        }
        if out.len() < n * self.channels {
            return Err(CodecError::BufferTooSmall {
                expected: n * self.channels,
                actual: out.len(),
            });
        }
        self.raw
            .decode(Some(payload), &mut out[..n * self.channels], false)
    }

    /// Packet-loss concealment for `out.len() / channels` samples (a multiple of 2.5 ms).
    fn conceal(&mut self, out: &mut [i16]) -> Result<usize, CodecError> {
        self.check_loss_len(out)?;
        self.raw.decode(None, out, false)
    }

    /// Recovers the lost packet before `payload` from its in-band FEC (`out` = the lost duration, a
    /// multiple of 2.5 ms); without FEC data libopus conceals instead. Decode `payload` normally next.
    fn decode_fec(&mut self, payload: &[u8], out: &mut [i16]) -> Result<usize, CodecError> {
        self.check_loss_len(out)?;
        ffi::packet_samples(payload, self.rate)?;
        self.raw.decode(Some(payload), out, true)
    }

    fn payload_samples(&self, payload: &[u8]) -> Result<usize, CodecError> {
        ffi::packet_samples(payload, self.rate)
    }

    fn reset(&mut self) {
        self.raw.reset();
    }
}

/// Channels coded in an Opus packet (TOC stereo flag).
pub fn opus_packet_channels(packet: &[u8]) -> Result<usize, CodecError> {
    ffi::packet_channels(packet)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_configuration() {
        assert!(OpusEncoder::new(OpusEncoderConfig::voip(44100, 1)).is_err());
        assert!(OpusEncoder::new(OpusEncoderConfig::voip(48000, 3)).is_err());
        let mut c = OpusEncoderConfig::voip(16000, 1);
        c.frame_samples = 300;
        assert!(OpusEncoder::new(c).is_err());
        let mut e = OpusEncoder::new(OpusEncoderConfig::voip(16000, 1)).unwrap();
        assert!(e.set_bitrate(Some(10)).is_err());
        assert!(e.set_complexity(11).is_err());
        e.set_bitrate(Some(24000)).unwrap();
        assert_eq!(e.bitrate().unwrap(), 24000);
        assert!(opus_version().contains("libopus"));
    }

    #[test]
    fn round_trip_and_malformed_packets() {
        let mut e = OpusEncoder::new(OpusEncoderConfig::voip(48000, 2).with_bitrate(64000)).unwrap();
        let mut d = OpusDecoder::new(48000, 2).unwrap();
        let pcm: Vec<i16> = (0..1920)
            .map(|i| ((i / 2) as f32 * 0.05).sin().mul_add(8000.0, 0.0) as i16)
            .collect();
        let mut pkt = vec![0u8; e.max_payload_len(960)];
        let n = e.encode(&pcm, &mut pkt).unwrap();
        assert!(n > 2);
        assert_eq!(d.payload_samples(&pkt[..n]).unwrap(), 960);
        let mut out = vec![0i16; 1920];
        assert_eq!(d.decode(&pkt[..n], &mut out).unwrap(), 960);
        assert!(d.decode(&[], &mut out).is_err());
        assert!(d.decode(&[0xFF, 0xFF], &mut out).is_err());
        assert!(d.conceal(&mut out[..7]).is_err());
        assert_eq!(d.conceal(&mut out).unwrap(), 960);
        assert!(e.encode(&pcm[..100], &mut pkt).is_err());
    }
}
