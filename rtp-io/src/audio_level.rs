//! Audio-level header extensions: RFC 6464 (client-to-mixer) and RFC 6465 (mixer-to-client).
//!
//! # What
//! [`ClientAudioLevel`] is the RFC 6464 one-byte value (V flag + level in −dBov); [`MixerAudioLevels`]
//! iterates the RFC 6465 levels, one per CSRC in CSRC-list order. [`level_dbov`] computes the level of
//! a block of samples as both RFCs define it (RMS relative to full scale, RFC 6465 Appendix A).
//!
//! # How
//! RFC 6464 §3: byte `V(1) | level(7)`, level 0 = 0 dBov … 127 = −127 dBov or silence; in the one-byte
//! RFC 8285 form the element is 1 byte. RFC 6465 §3: N bytes `0 | level(7)`, the i-th byte belongs to
//! the i-th CSRC. The extension IDs come from `a=extmap` with the URIs [`CLIENT_AUDIO_LEVEL_URI`] and
//! [`MIXER_AUDIO_LEVEL_URI`].
//!
//! # Real-time safety
//! All functions are allocation-free.

use crate::error::RtpError;

/// `a=extmap` URI of RFC 6464.
pub const CLIENT_AUDIO_LEVEL_URI: &str = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";
/// `a=extmap` URI of RFC 6465.
pub const MIXER_AUDIO_LEVEL_URI: &str = "urn:ietf:params:rtp-hdrext:csrc-audio-level";

/// The RFC 6464 client-to-mixer audio level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClientAudioLevel {
    /// V flag: the sender's voice activity detector thinks the packet contains speech.
    pub voice: bool,
    /// Level in −dBov, 0 (loudest) to 127 (silence).
    pub level: u8,
}

impl ClientAudioLevel {
    /// Decodes the extension element data (at least 1 byte; extra bytes are padding per RFC 6464 §3).
    ///
    /// # Errors
    /// [`RtpError::Truncated`] for empty data.
    pub fn parse(data: &[u8]) -> Result<Self, RtpError> {
        let b = *data
            .first()
            .ok_or(RtpError::truncated("RFC 6464 audio level", 1, 0))?;
        Ok(Self {
            voice: b & 0x80 != 0,
            level: b & 0x7f,
        })
    }

    /// The encoded byte (level clamped to 127).
    pub fn to_byte(self) -> u8 {
        (u8::from(self.voice) << 7) | self.level.min(127)
    }
}

/// RFC 6465 levels of a mixed packet, one per CSRC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MixerAudioLevels<'a> {
    data: &'a [u8],
}

impl<'a> MixerAudioLevels<'a> {
    /// Wraps the extension element data.
    pub fn new(data: &'a [u8]) -> Self {
        Self { data }
    }

    /// Number of levels carried (may be fewer than the CSRC count; RFC 6465 §3 requires equal counts, a
    /// receiver should pair them positionally and ignore extras).
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// True when no levels are carried.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Level of the `i`-th CSRC in −dBov.
    pub fn get(&self, i: usize) -> Option<u8> {
        self.data.get(i).map(|b| b & 0x7f)
    }

    /// Levels in CSRC order.
    pub fn iter(&self) -> impl Iterator<Item = u8> + 'a {
        self.data.iter().map(|b| b & 0x7f)
    }

    /// Pairs each CSRC of `packet` with its level.
    pub fn with_csrcs(&self, packet: &crate::RtpPacket<'a>) -> impl Iterator<Item = (u32, u8)> + 'a {
        packet.csrcs().zip(self.iter())
    }

    /// Encodes `levels` (−dBov, clamped to 127) into `out`; returns the element length.
    ///
    /// # Errors
    /// [`RtpError::BufferTooSmall`] when `out` is shorter than `levels`, [`RtpError::Malformed`] for more
    /// than 15 levels (one per CSRC at most).
    pub fn write(levels: &[u8], out: &mut [u8]) -> Result<usize, RtpError> {
        if levels.len() > crate::rtp_packet::RTP_MAX_CSRCS {
            return Err(RtpError::malformed("RFC 6465 levels", "more than 15 levels"));
        }
        if out.len() < levels.len() {
            return Err(RtpError::BufferTooSmall {
                needed: levels.len(),
                actual: out.len(),
            });
        }
        for (o, l) in out.iter_mut().zip(levels) {
            *o = (*l).min(127);
        }
        Ok(levels.len())
    }
}

/// Audio level of `samples` (full scale ±1.0) in −dBov per RFC 6465 Appendix A: RMS relative to full
/// scale, rounded, clamped to 0…127 (127 also for digital silence).
pub fn level_dbov(samples: &[f32]) -> u8 {
    if samples.is_empty() {
        return 127;
    }
    let energy: f64 = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    let rms = (energy / samples.len() as f64).sqrt();
    if rms <= 0.0 {
        return 127;
    }
    let db = 20.0 * rms.log10();
    (-db).round().clamp(0.0, 127.0) as u8
}

/// [`level_dbov`] for 16-bit PCM.
pub fn level_dbov_i16(samples: &[i16]) -> u8 {
    if samples.is_empty() {
        return 127;
    }
    let energy: f64 = samples.iter().map(|&s| (f64::from(s) / 32768.0).powi(2)).sum();
    let rms = (energy / samples.len() as f64).sqrt();
    if rms <= 0.0 {
        return 127;
    }
    (-(20.0 * rms.log10())).round().clamp(0.0, 127.0) as u8
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ExtensionElement, RtpBuilder, RtpPacket};

    #[test]
    fn client_level_round_trip() {
        let l = ClientAudioLevel::parse(&[0x85]).unwrap();
        assert_eq!(
            l,
            ClientAudioLevel {
                voice: true,
                level: 5
            }
        );
        assert_eq!(l.to_byte(), 0x85);
        assert!(ClientAudioLevel::parse(&[]).is_err());
    }

    #[test]
    fn mixer_levels_pair_with_csrcs() {
        let mut lv = [0u8; 3];
        let n = MixerAudioLevels::write(&[10, 200, 0], &mut lv).unwrap();
        let els = [ExtensionElement {
            id: 2,
            data: &lv[..n],
        }];
        let csrcs = [7, 8, 9];
        let b = RtpBuilder {
            csrcs: &csrcs,
            extensions: &els,
            ..Default::default()
        };
        let mut buf = [0u8; 64];
        let len = b.write(&[1, 2], &mut buf).unwrap();
        let p = RtpPacket::parse(&buf[..len]).unwrap();
        let m = MixerAudioLevels::new(p.extension_element(2).unwrap());
        assert_eq!(
            m.with_csrcs(&p).collect::<Vec<_>>(),
            vec![(7, 10), (8, 127), (9, 0)]
        );
    }

    #[test]
    fn level_of_full_scale_sine_is_3_dbov() {
        // A full-scale sine has RMS 1/sqrt(2): -3.01 dBov.
        let s: Vec<f32> = (0..800).map(|i| (i as f32 * 0.1).sin()).collect();
        assert_eq!(level_dbov(&s), 3);
        assert_eq!(level_dbov(&[0.0; 160]), 127);
        let q: Vec<i16> = (0..160).map(|i| if i % 2 == 0 { 328 } else { -328 }).collect();
        assert_eq!(level_dbov_i16(&q), 40); // 328/32768 = -40.0 dB
    }
}
