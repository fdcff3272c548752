//! RTCP feedback for rate adaptation: TMMBR/TMMBN (RFC 5104) and REMB (draft-alvestrand-rmcat-remb).
//!
//! # What
//! [`Feedback::parse`] interprets an [`RtcpPacket::Other`] of type RTPFB (205, RFC 4585 §6.2) or PSFB
//! (206, §6.3) as [`Feedback::Tmmbr`], [`Feedback::Tmmbn`] or [`Feedback::Remb`]; every other feedback
//! message (NACK, PLI, FIR, unknown AFB…) is [`Feedback::Other`] and stays tolerated. The builders are
//! [`RtcpWriter::tmmbr`](crate::RtcpWriter::tmmbr), [`RtcpWriter::tmmbn`](crate::RtcpWriter::tmmbn) and
//! [`RtcpWriter::remb`](crate::RtcpWriter::remb).
//!
//! # How
//! RFC 4585 §6.1 common format: header with FMT in the count field, `SSRC of packet sender`, `SSRC of
//! media source`, then the FCI. RFC 5104 §4.2.1.1/§4.2.2.1: TMMBR (RTPFB FMT 3) and TMMBN (FMT 4) carry
//! 8-byte FCI entries `SSRC | MxTBR Exp (6) | MxTBR Mantissa (17) | Measured Overhead (9)` with
//! `MxTBR = mantissa · 2^exp` bit/s; the media-source SSRC is 0 (§4.2.1.2, §4.2.2.2). REMB (PSFB FMT 15
//! "application layer feedback", media SSRC 0): `'R' 'E' 'M' 'B' | Num SSRC (8) | BR Exp (6) | BR
//! Mantissa (18)` followed by `Num SSRC` SSRCs; bitrate = `mantissa · 2^exp` bit/s. Encoding picks
//! the smallest exponent whose mantissa fits and rounds the mantissa down, so a request never grows.
//!
//! # Real-time safety
//! Parsing and building allocate nothing.

use crate::error::RtpError;
use crate::rtcp_packet::RtcpPacket;

/// Transport-layer feedback packet type (RFC 4585 §6.1).
pub const RTCP_RTPFB: u8 = 205;
/// Payload-specific feedback packet type (RFC 4585 §6.1).
pub const RTCP_PSFB: u8 = 206;
/// RTPFB FMT of TMMBR (RFC 5104 §4.2.1).
pub const FMT_TMMBR: u8 = 3;
/// RTPFB FMT of TMMBN (RFC 5104 §4.2.2).
pub const FMT_TMMBN: u8 = 4;
/// PSFB FMT of application layer feedback, which REMB uses (RFC 4585 §6.4).
pub const FMT_AFB: u8 = 15;
/// Bytes of one TMMBR/TMMBN FCI entry.
pub const TMMB_ITEM_LEN: usize = 8;
/// The REMB unique identifier.
pub const REMB_ID: [u8; 4] = *b"REMB";

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// `mantissa · 2^exp`, saturating at `u64::MAX`.
fn expand(mantissa: u32, exp: u8) -> u64 {
    let m = u64::from(mantissa);
    if m == 0 {
        return 0;
    }
    if u32::from(exp) >= m.leading_zeros() {
        u64::MAX
    } else {
        m << exp
    }
}

/// The smallest exponent with `bitrate >> exp < 2^bits`, and that mantissa (rounded down).
fn compress(bitrate: u64, bits: u32) -> (u8, u32) {
    let used = 64 - bitrate.leading_zeros();
    let exp = used.saturating_sub(bits);
    (exp as u8, (bitrate >> exp) as u32)
}

/// One TMMBR/TMMBN FCI entry (RFC 5104 §4.2.1.1): a maximum total media bitrate and the per-packet
/// overhead the requester measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TmmbItem {
    /// The media sender the request is for (TMMBR) or the owner of a bounding-set tuple (TMMBN).
    pub ssrc: u32,
    /// Maximum total media bitrate, bit/s (including the overhead below at the sender's packet rate).
    pub bitrate_bps: u64,
    /// Measured per-packet overhead in bytes (9 bits: 0–511), e.g. IP/UDP/RTP headers.
    pub overhead: u16,
}

impl TmmbItem {
    /// Decodes 8 bytes.
    pub fn parse(b: &[u8; TMMB_ITEM_LEN]) -> Self {
        let w = be32(b, 4);
        Self {
            ssrc: be32(b, 0),
            bitrate_bps: expand((w >> 9) & 0x1_ffff, (w >> 26) as u8),
            overhead: (w & 0x1ff) as u16,
        }
    }

    /// Encodes into 8 bytes; the bitrate is rounded down to 17 significant bits and the overhead clamped
    /// to 511.
    pub fn write(&self, out: &mut [u8; TMMB_ITEM_LEN]) {
        let (exp, mantissa) = compress(self.bitrate_bps, 17);
        let w = (u32::from(exp) << 26) | (mantissa << 9) | u32::from(self.overhead.min(511));
        out[0..4].copy_from_slice(&self.ssrc.to_be_bytes());
        out[4..8].copy_from_slice(&w.to_be_bytes());
    }

    /// The bitrate as it survives encoding (17-bit mantissa, rounded down).
    pub fn quantised(bitrate_bps: u64) -> u64 {
        let (e, m) = compress(bitrate_bps, 17);
        expand(m, e)
    }
}

/// Iterator over TMMBR/TMMBN FCI entries.
#[derive(Debug, Clone)]
pub struct TmmbItems<'a> {
    data: &'a [u8],
}

impl Iterator for TmmbItems<'_> {
    type Item = TmmbItem;

    fn next(&mut self) -> Option<TmmbItem> {
        let (b, rest) = self.data.split_first_chunk::<TMMB_ITEM_LEN>()?;
        self.data = rest;
        Some(TmmbItem::parse(b))
    }
}

/// A TMMBR or TMMBN message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tmmb<'a> {
    /// SSRC of the packet sender (the requester for TMMBR, the media sender for TMMBN).
    pub sender_ssrc: u32,
    /// SSRC of the media source field (0 per RFC 5104).
    pub media_ssrc: u32,
    fci: &'a [u8],
}

impl<'a> Tmmb<'a> {
    /// The FCI entries.
    pub fn items(&self) -> TmmbItems<'a> {
        TmmbItems { data: self.fci }
    }

    /// Number of FCI entries.
    pub fn len(&self) -> usize {
        self.fci.len() / TMMB_ITEM_LEN
    }

    /// True without entries (an empty TMMBN: no bounding set).
    pub fn is_empty(&self) -> bool {
        self.fci.is_empty()
    }
}

/// A REMB message (receiver estimated maximum bitrate).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Remb<'a> {
    /// SSRC of the packet sender (the estimating receiver).
    pub sender_ssrc: u32,
    /// Estimated maximum total bitrate for the listed streams, bit/s.
    pub bitrate_bps: u64,
    ssrcs: &'a [u8],
}

impl<'a> Remb<'a> {
    /// The media sources the estimate applies to.
    pub fn ssrcs(&self) -> impl Iterator<Item = u32> + 'a {
        self.ssrcs.chunks_exact(4).map(|c| be32(c, 0))
    }

    /// True when `ssrc` is listed.
    pub fn applies_to(&self, ssrc: u32) -> bool {
        self.ssrcs().any(|s| s == ssrc)
    }
}

/// A parsed RTCP feedback message (RFC 4585).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feedback<'a> {
    /// Temporary maximum media stream bitrate request (RTPFB FMT 3).
    Tmmbr(Tmmb<'a>),
    /// Temporary maximum media stream bitrate notification (RTPFB FMT 4).
    Tmmbn(Tmmb<'a>),
    /// Receiver estimated maximum bitrate (PSFB FMT 15 with the "REMB" identifier).
    Remb(Remb<'a>),
    /// Any other feedback message (NACK, PLI, FIR, other AFB…), not interpreted.
    Other {
        /// 205 or 206.
        packet_type: u8,
        /// The FMT field.
        fmt: u8,
        /// SSRC of the packet sender.
        sender_ssrc: u32,
        /// SSRC of the media source.
        media_ssrc: u32,
        /// Feedback control information.
        fci: &'a [u8],
    },
}

impl<'a> Feedback<'a> {
    /// Interprets `packet` as feedback: `None` if it is not RTPFB/PSFB, else the message or the reason
    /// it is malformed.
    ///
    /// # Errors
    /// [`RtpError::Truncated`] for a body shorter than the two SSRCs or a REMB shorter than its SSRC
    /// count says; [`RtpError::Malformed`] for a TMMBR/TMMBN FCI that is not a whole number of entries.
    pub fn parse(packet: &RtcpPacket<'a>) -> Option<Result<Self, RtpError>> {
        let RtcpPacket::Other {
            packet_type,
            count: fmt,
            body,
        } = *packet
        else {
            return None;
        };
        if packet_type != RTCP_RTPFB && packet_type != RTCP_PSFB {
            return None;
        }
        Some(Self::parse_body(packet_type, fmt, body))
    }

    fn parse_body(packet_type: u8, fmt: u8, body: &'a [u8]) -> Result<Self, RtpError> {
        if body.len() < 8 {
            return Err(RtpError::truncated("RTCP feedback", 12, body.len() + 4));
        }
        let sender_ssrc = be32(body, 0);
        let media_ssrc = be32(body, 4);
        let fci = &body[8..];
        match (packet_type, fmt) {
            (RTCP_RTPFB, FMT_TMMBR | FMT_TMMBN) => {
                if fci.len() % TMMB_ITEM_LEN != 0 {
                    return Err(RtpError::malformed(
                        "RTCP TMMBR/TMMBN",
                        "FCI is not a whole number of 8-byte entries",
                    ));
                }
                if fmt == FMT_TMMBR && fci.is_empty() {
                    return Err(RtpError::malformed("RTCP TMMBR", "no FCI entry"));
                }
                let t = Tmmb {
                    sender_ssrc,
                    media_ssrc,
                    fci,
                };
                Ok(if fmt == FMT_TMMBR {
                    Self::Tmmbr(t)
                } else {
                    Self::Tmmbn(t)
                })
            }
            (RTCP_PSFB, FMT_AFB) if fci.len() >= 8 && fci[..4] == REMB_ID => {
                let n = usize::from(fci[4]);
                let need = 8 + 4 * n;
                if fci.len() < need {
                    return Err(RtpError::truncated("RTCP REMB", need + 12, fci.len() + 12));
                }
                let exp = fci[5] >> 2;
                let mantissa = (u32::from(fci[5] & 3) << 16) | (u32::from(fci[6]) << 8) | u32::from(fci[7]);
                Ok(Self::Remb(Remb {
                    sender_ssrc,
                    bitrate_bps: expand(mantissa, exp),
                    ssrcs: &fci[8..need],
                }))
            }
            _ => Ok(Self::Other {
                packet_type,
                fmt,
                sender_ssrc,
                media_ssrc,
                fci,
            }),
        }
    }
}

/// Encodes a REMB bitrate: (exponent, 18-bit mantissa), rounded down.
pub(crate) fn remb_fields(bitrate_bps: u64) -> (u8, u32) {
    compress(bitrate_bps, 18)
}

/// The REMB bitrate as it survives encoding (18-bit mantissa, rounded down).
pub fn remb_quantised(bitrate_bps: u64) -> u64 {
    let (e, m) = compress(bitrate_bps, 18);
    expand(m, e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mantissa_exponent_layout() {
        // 64 kbit/s = 64000 · 2^0 (fits 17 bits); overhead 40.
        let mut b = [0u8; 8];
        TmmbItem {
            ssrc: 0x0102_0304,
            bitrate_bps: 64_000,
            overhead: 40,
        }
        .write(&mut b);
        assert_eq!(&b[..4], &[1, 2, 3, 4]);
        let w = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
        assert_eq!((w >> 26, (w >> 9) & 0x1_ffff, w & 0x1ff), (0, 64_000, 40));
        // 1 Mbit/s needs exponent 3: 1_000_000 >> 3 = 125_000 < 2^17.
        let (e, m) = compress(1_000_000, 17);
        assert_eq!((e, m), (3, 125_000));
        assert_eq!(TmmbItem::quantised(1_000_001), 1_000_000);
        assert_eq!(expand(0x3_ffff, 63), u64::MAX);
        assert_eq!(expand(0, 63), 0);
        assert_eq!(compress(0, 17), (0, 0));
        assert_eq!(compress(u64::MAX, 18), (46, 0x3_ffff));
    }

    #[test]
    fn unknown_feedback_is_other_and_short_is_error() {
        // Generic NACK (RTPFB FMT 1).
        let body = [0, 0, 0, 1, 0, 0, 0, 2, 0, 5, 0, 0];
        let p = RtcpPacket::Other {
            packet_type: RTCP_RTPFB,
            count: 1,
            body: &body,
        };
        assert!(matches!(
            Feedback::parse(&p),
            Some(Ok(Feedback::Other {
                fmt: 1,
                sender_ssrc: 1,
                media_ssrc: 2,
                ..
            }))
        ));
        // AFB without the REMB identifier.
        let body = [0, 0, 0, 1, 0, 0, 0, 0, b'X', b'Y', b'Z', b'W', 0, 0, 0, 0];
        let p = RtcpPacket::Other {
            packet_type: RTCP_PSFB,
            count: 15,
            body: &body,
        };
        assert!(matches!(
            Feedback::parse(&p),
            Some(Ok(Feedback::Other { fmt: 15, .. }))
        ));
        let p = RtcpPacket::Other {
            packet_type: RTCP_RTPFB,
            count: 3,
            body: &body[..4],
        };
        assert!(matches!(
            Feedback::parse(&p),
            Some(Err(RtpError::Truncated { .. }))
        ));
        // TMMBR with a partial entry.
        let p = RtcpPacket::Other {
            packet_type: RTCP_RTPFB,
            count: 3,
            body: &body[..12],
        };
        assert!(matches!(
            Feedback::parse(&p),
            Some(Err(RtpError::Malformed { .. }))
        ));
        // REMB claiming two SSRCs with none present.
        let body = [0, 0, 0, 1, 0, 0, 0, 0, b'R', b'E', b'M', b'B', 2, 0, 1, 0];
        let p = RtcpPacket::Other {
            packet_type: RTCP_PSFB,
            count: 15,
            body: &body,
        };
        assert!(matches!(
            Feedback::parse(&p),
            Some(Err(RtpError::Truncated { .. }))
        ));
        let xr = RtcpPacket::Other {
            packet_type: 207,
            count: 0,
            body: &body,
        };
        assert!(Feedback::parse(&xr).is_none());
    }
}
