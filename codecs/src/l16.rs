//! L16: uncompressed 16-bit linear PCM in network byte order (RFC 3551 §4.5.11).
//!
//! # What
//! [`L16Encoder`] / [`L16Decoder`] for any rate and channel count (static payload types 10 =
//! `L16/44100/2`, 11 = `L16/44100/1`; other rates use dynamic types).
//!
//! # How
//! Samples are big-endian two's complement, interleaved by channel. A lost packet is concealed by a
//! linear fade of the last decoded frame to zero over the gap (no pitch model: L16 is used on LANs).
//!
//! # Real-time safety
//! Byte swaps into caller buffers; no allocation.

use crate::{CodecError, CodecInfo, Decoder, Encoder};

fn info(rate: u32, channels: usize) -> CodecInfo {
    CodecInfo {
        name: "l16",
        rtp_name: "L16",
        static_payload_type: match (rate, channels) {
            (44100, 2) => Some(10),
            (44100, 1) => Some(11),
            _ => None,
        },
        clock_rate: rate,
        audio_rate: rate,
        channels,
    }
}

fn check(rate: u32, channels: usize) -> Result<(), CodecError> {
    if !(1000..=192_000).contains(&rate) {
        return Err(CodecError::Unsupported {
            what: "L16 sample rate",
            actual: i64::from(rate),
        });
    }
    if !(1..=8).contains(&channels) {
        return Err(CodecError::Unsupported {
            what: "L16 channels",
            actual: channels as i64,
        });
    }
    Ok(())
}

/// L16 encoder.
#[derive(Debug, Clone)]
pub struct L16Encoder {
    rate: u32,
    channels: usize,
}

impl L16Encoder {
    /// An encoder for `channels` at `rate` Hz.
    pub fn new(rate: u32, channels: usize) -> Result<Self, CodecError> {
        check(rate, channels)?;
        Ok(Self { rate, channels })
    }
}

impl Encoder for L16Encoder {
    fn info(&self) -> CodecInfo {
        info(self.rate, self.channels)
    }
    fn frame_samples(&self) -> usize {
        self.rate as usize / 50
    }
    fn max_payload_len(&self, samples: usize) -> usize {
        samples * self.channels * 2
    }
    fn encode(&mut self, pcm: &[i16], out: &mut [u8]) -> Result<usize, CodecError> {
        if pcm.len() % self.channels != 0 {
            return Err(CodecError::BadLength {
                expected: "whole interleaved frames",
                actual: pcm.len(),
            });
        }
        let n = pcm.len() * 2;
        if out.len() < n {
            return Err(CodecError::BufferTooSmall {
                expected: n,
                actual: out.len(),
            });
        }
        for (o, &s) in out.chunks_exact_mut(2).zip(pcm) {
            o.copy_from_slice(&s.to_be_bytes());
        }
        Ok(n)
    }
    fn reset(&mut self) {}
}

/// L16 decoder.
#[derive(Debug, Clone)]
pub struct L16Decoder {
    rate: u32,
    channels: usize,
    last: [i16; 8],
}

impl L16Decoder {
    /// A decoder for `channels` at `rate` Hz.
    pub fn new(rate: u32, channels: usize) -> Result<Self, CodecError> {
        check(rate, channels)?;
        Ok(Self {
            rate,
            channels,
            last: [0; 8],
        })
    }
}

impl Decoder for L16Decoder {
    fn info(&self) -> CodecInfo {
        info(self.rate, self.channels)
    }
    fn decode(&mut self, payload: &[u8], out: &mut [i16]) -> Result<usize, CodecError> {
        let frame_bytes = 2 * self.channels;
        if payload.len() % frame_bytes != 0 {
            return Err(CodecError::Malformed {
                detail: "L16 payload is not a whole number of frames",
            });
        }
        let n = payload.len() / 2;
        if out.len() < n {
            return Err(CodecError::BufferTooSmall {
                expected: n,
                actual: out.len(),
            });
        }
        for (o, b) in out.iter_mut().zip(payload.chunks_exact(2)) {
            *o = i16::from_be_bytes([b[0], b[1]]);
        }
        if n >= self.channels {
            self.last[..self.channels].copy_from_slice(&out[n - self.channels..n]);
        }
        Ok(n / self.channels)
    }
    fn conceal(&mut self, out: &mut [i16]) -> Result<usize, CodecError> {
        let ch = self.channels;
        let frames = out.len() / ch;
        for (i, f) in out.chunks_exact_mut(ch).enumerate() {
            let g = 1.0 - (i + 1) as f32 / frames.max(1) as f32;
            for (o, &l) in f.iter_mut().zip(&self.last) {
                *o = (f32::from(l) * g) as i16;
            }
        }
        self.last = [0; 8];
        Ok(frames)
    }
    fn payload_samples(&self, payload: &[u8]) -> Result<usize, CodecError> {
        Ok(payload.len() / (2 * self.channels))
    }
    fn reset(&mut self) {
        self.last = [0; 8];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_byte_order_round_trip() {
        let mut e = L16Encoder::new(16000, 2).unwrap();
        let mut d = L16Decoder::new(16000, 2).unwrap();
        let pcm = [1i16, -2, 300, -32768];
        let mut b = [0u8; 8];
        assert_eq!(e.encode(&pcm, &mut b).unwrap(), 8);
        assert_eq!(&b[..4], &[0, 1, 0xFF, 0xFE]);
        let mut out = [0i16; 4];
        assert_eq!(d.decode(&b, &mut out).unwrap(), 2);
        assert_eq!(out, pcm);
        assert!(d.decode(&b[..3], &mut out).is_err());
        assert_eq!(info(44100, 1).static_payload_type, Some(11));
    }
}
