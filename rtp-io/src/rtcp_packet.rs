//! RTCP packets (RFC 3550 §6.4–6.7): zero-copy parsing of compound and reduced-size packets.
//!
//! # What
//! [`RtcpIter`] walks the packets of a compound RTCP datagram and yields typed views: [`SenderReport`],
//! [`ReceiverReport`] (both with [`ReportBlock`]s), [`Sdes`] (chunks of [`SdesItem`]s such as CNAME),
//! [`Bye`], [`App`], and [`RtcpPacket::Other`] for the remaining types (RTPFB/PSFB feedback, which
//! [`RtcpPacket::feedback`] interprets further, XR…). [`validate_compound`] applies the RFC 3550 A.2 header validity checks, relaxed for
//! RFC 5506 reduced-size RTCP when allowed.
//!
//! # How
//! Common header: `V=2 | P | count(5) | PT(8) | length(16)`, length in 32-bit words minus one. Report
//! block (§6.4.1): SSRC, fraction lost (8), cumulative lost (signed 24), extended highest sequence,
//! jitter, LSR, DLSR. SDES (§6.5): per chunk an SSRC and items `type, length, text`, ended by a zero
//! byte and padded to 32 bits. BYE (§6.6): SSRCs and an optional length-prefixed reason. APP (§6.7):
//! subtype, SSRC, 4-character name, data.
//!
//! # Real-time safety
//! Parsing allocates nothing.

use crate::error::RtpError;

/// SR packet type.
pub const RTCP_SR: u8 = 200;
/// RR packet type.
pub const RTCP_RR: u8 = 201;
/// SDES packet type.
pub const RTCP_SDES: u8 = 202;
/// BYE packet type.
pub const RTCP_BYE: u8 = 203;
/// APP packet type.
pub const RTCP_APP: u8 = 204;

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// One reception report block (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportBlock {
    /// Source this block reports on.
    pub ssrc: u32,
    /// Fraction lost since the previous report, in 1/256.
    pub fraction_lost: u8,
    /// Cumulative packets lost (signed 24-bit).
    pub cumulative_lost: i32,
    /// Extended highest sequence number received.
    pub extended_highest_seq: u32,
    /// Interarrival jitter in timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the NTP timestamp of the last SR from the source (0 if none).
    pub last_sr: u32,
    /// Delay since that SR, in 1/65536 s.
    pub delay_since_last_sr: u32,
}

/// Encoded size of a report block.
pub const REPORT_BLOCK_LEN: usize = 24;

impl ReportBlock {
    /// Decodes 24 bytes.
    pub fn parse(b: &[u8; REPORT_BLOCK_LEN]) -> Self {
        let lost = (u32::from(b[5]) << 16) | (u32::from(b[6]) << 8) | u32::from(b[7]);
        // Sign-extend the 24-bit field.
        let cumulative_lost = ((lost << 8) as i32) >> 8;
        Self {
            ssrc: be32(b, 0),
            fraction_lost: b[4],
            cumulative_lost,
            extended_highest_seq: be32(b, 8),
            jitter: be32(b, 12),
            last_sr: be32(b, 16),
            delay_since_last_sr: be32(b, 20),
        }
    }

    /// Encodes into 24 bytes (cumulative lost clamped to the 24-bit range).
    pub fn write(&self, out: &mut [u8; REPORT_BLOCK_LEN]) {
        out[0..4].copy_from_slice(&self.ssrc.to_be_bytes());
        out[4] = self.fraction_lost;
        let l = self.cumulative_lost.clamp(-0x80_0000, 0x7f_ffff) as u32;
        out[5..8].copy_from_slice(&l.to_be_bytes()[1..]);
        out[8..12].copy_from_slice(&self.extended_highest_seq.to_be_bytes());
        out[12..16].copy_from_slice(&self.jitter.to_be_bytes());
        out[16..20].copy_from_slice(&self.last_sr.to_be_bytes());
        out[20..24].copy_from_slice(&self.delay_since_last_sr.to_be_bytes());
    }

    /// Round-trip time per RFC 3550 §6.4.1 (`A − LSR − DLSR`), with `arrival_ntp_mid` the middle 32 bits
    /// of the NTP time when this block arrived; `None` without an LSR. Result in 1/65536 s.
    pub fn rtt(&self, arrival_ntp_mid: u32) -> Option<u32> {
        if self.last_sr == 0 {
            return None;
        }
        let rtt = arrival_ntp_mid
            .wrapping_sub(self.last_sr)
            .wrapping_sub(self.delay_since_last_sr);
        // A negative result (clock trouble) wraps to a huge value; reject it.
        (rtt < 0x8000_0000).then_some(rtt)
    }
}

/// Iterator over report blocks.
#[derive(Debug, Clone)]
pub struct ReportBlocks<'a> {
    data: &'a [u8],
}

impl Iterator for ReportBlocks<'_> {
    type Item = ReportBlock;

    fn next(&mut self) -> Option<ReportBlock> {
        let (b, rest) = self.data.split_first_chunk::<REPORT_BLOCK_LEN>()?;
        self.data = rest;
        Some(ReportBlock::parse(b))
    }
}

/// The sender-info part of an SR (§6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SenderInfo {
    /// 64-bit NTP timestamp (seconds since 1900 in the upper 32 bits).
    pub ntp: u64,
    /// RTP timestamp corresponding to `ntp`.
    pub rtp_timestamp: u32,
    /// Packets sent.
    pub packet_count: u32,
    /// Payload octets sent.
    pub octet_count: u32,
}

/// A sender report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderReport<'a> {
    /// Sender SSRC.
    pub ssrc: u32,
    /// Sender info.
    pub info: SenderInfo,
    blocks: &'a [u8],
    /// Profile-specific extension bytes.
    pub extension: &'a [u8],
}

impl<'a> SenderReport<'a> {
    /// The report blocks.
    pub fn blocks(&self) -> ReportBlocks<'a> {
        ReportBlocks { data: self.blocks }
    }
}

/// A receiver report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiverReport<'a> {
    /// Reporter SSRC.
    pub ssrc: u32,
    blocks: &'a [u8],
    /// Profile-specific extension bytes.
    pub extension: &'a [u8],
}

impl<'a> ReceiverReport<'a> {
    /// The report blocks.
    pub fn blocks(&self) -> ReportBlocks<'a> {
        ReportBlocks { data: self.blocks }
    }
}

/// SDES item types (§6.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SdesType {
    /// Canonical end-point identifier.
    Cname,
    /// User name.
    Name,
    /// E-mail address.
    Email,
    /// Phone number.
    Phone,
    /// Geographic location.
    Loc,
    /// Application or tool name.
    Tool,
    /// Notice/status.
    Note,
    /// Private extension (prefix length + prefix + value in the text).
    Priv,
    /// Another item type.
    Other(u8),
}

impl SdesType {
    /// From the item type byte (1–8 known).
    pub fn from_u8(v: u8) -> Self {
        match v {
            1 => Self::Cname,
            2 => Self::Name,
            3 => Self::Email,
            4 => Self::Phone,
            5 => Self::Loc,
            6 => Self::Tool,
            7 => Self::Note,
            8 => Self::Priv,
            o => Self::Other(o),
        }
    }

    /// The item type byte.
    pub fn to_u8(self) -> u8 {
        match self {
            Self::Cname => 1,
            Self::Name => 2,
            Self::Email => 3,
            Self::Phone => 4,
            Self::Loc => 5,
            Self::Tool => 6,
            Self::Note => 7,
            Self::Priv => 8,
            Self::Other(o) => o,
        }
    }
}

/// One SDES item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdesItem<'a> {
    /// Item type.
    pub kind: SdesType,
    /// Item text (UTF-8 per RFC 3550, not checked).
    pub text: &'a [u8],
}

/// One SDES chunk: a source and its items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdesChunk<'a> {
    /// The source described.
    pub ssrc: u32,
    items: &'a [u8],
}

impl<'a> SdesChunk<'a> {
    /// The items (validated when the packet was parsed).
    pub fn items(&self) -> impl Iterator<Item = SdesItem<'a>> + 'a {
        let mut d = self.items;
        std::iter::from_fn(move || {
            let (&t, rest) = d.split_first()?;
            if t == 0 || rest.is_empty() {
                return None;
            }
            let len = usize::from(rest[0]);
            let text = rest.get(1..1 + len)?;
            d = &rest[1 + len..];
            Some(SdesItem {
                kind: SdesType::from_u8(t),
                text,
            })
        })
    }

    /// The CNAME item's text, if present.
    pub fn cname(&self) -> Option<&'a [u8]> {
        self.items().find(|i| i.kind == SdesType::Cname).map(|i| i.text)
    }
}

/// A source description packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sdes<'a> {
    count: u8,
    body: &'a [u8],
}

impl<'a> Sdes<'a> {
    /// Number of chunks.
    pub fn len(&self) -> usize {
        usize::from(self.count)
    }

    /// True without chunks.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The chunks (validated at parse time).
    pub fn chunks(&self) -> impl Iterator<Item = SdesChunk<'a>> + 'a {
        let mut d = self.body;
        let mut left = self.count;
        std::iter::from_fn(move || {
            if left == 0 {
                return None;
            }
            left -= 1;
            let (len, items) = sdes_chunk_len(d).ok()?;
            let c = SdesChunk {
                ssrc: be32(d, 0),
                items: &d[4..4 + items],
            };
            d = &d[len..];
            Some(c)
        })
    }
}

/// Length of the chunk at the start of `d` (padded) and of its item list; errors if malformed.
fn sdes_chunk_len(d: &[u8]) -> Result<(usize, usize), RtpError> {
    if d.len() < 4 {
        return Err(RtpError::truncated("SDES chunk", 4, d.len()));
    }
    let mut off = 4;
    loop {
        let Some(&t) = d.get(off) else {
            return Err(RtpError::malformed("SDES chunk", "item list not terminated"));
        };
        if t == 0 {
            let items = off - 4;
            // The terminating null plus padding to the next 32-bit boundary.
            let end = (off + 1).div_ceil(4) * 4;
            if end > d.len() {
                return Err(RtpError::truncated("SDES chunk padding", end, d.len()));
            }
            return Ok((end, items));
        }
        let Some(&len) = d.get(off + 1) else {
            return Err(RtpError::truncated("SDES item", off + 2, d.len()));
        };
        off += 2 + usize::from(len);
        if off > d.len() {
            return Err(RtpError::truncated("SDES item", off, d.len()));
        }
    }
}

/// A goodbye packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bye<'a> {
    ssrcs: &'a [u8],
    /// Reason for leaving, if given.
    pub reason: Option<&'a [u8]>,
}

impl<'a> Bye<'a> {
    /// The sources leaving.
    pub fn ssrcs(&self) -> impl Iterator<Item = u32> + 'a {
        self.ssrcs.chunks_exact(4).map(|c| be32(c, 0))
    }
}

/// An application-defined packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct App<'a> {
    /// 5-bit subtype.
    pub subtype: u8,
    /// Source.
    pub ssrc: u32,
    /// Four ASCII characters.
    pub name: [u8; 4],
    /// Application data (a multiple of 4 bytes).
    pub data: &'a [u8],
}

/// One RTCP packet of a compound datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RtcpPacket<'a> {
    /// SR (200).
    SenderReport(SenderReport<'a>),
    /// RR (201).
    ReceiverReport(ReceiverReport<'a>),
    /// SDES (202).
    Sdes(Sdes<'a>),
    /// BYE (203).
    Bye(Bye<'a>),
    /// APP (204).
    App(App<'a>),
    /// Any other packet type (feedback, XR…), with the count/format field and the body after the
    /// 4-byte header (padding removed).
    Other {
        /// Packet type.
        packet_type: u8,
        /// The 5-bit count/format field.
        count: u8,
        /// Body after the common header.
        body: &'a [u8],
    },
}

impl<'a> RtcpPacket<'a> {
    /// Parses one packet from the start of `buf`; returns it and its length in bytes.
    ///
    /// # Errors
    /// [`RtpError::Truncated`], [`RtpError::BadVersion`] or [`RtpError::Malformed`].
    pub fn parse(buf: &'a [u8]) -> Result<(Self, usize), RtpError> {
        if buf.len() < 4 {
            return Err(RtpError::truncated("RTCP header", 4, buf.len()));
        }
        if buf[0] >> 6 != 2 {
            return Err(RtpError::BadVersion {
                what: "RTCP",
                actual: u32::from(buf[0] >> 6),
            });
        }
        let count = buf[0] & 0x1f;
        let pt = buf[1];
        let len = (usize::from(u16::from_be_bytes([buf[2], buf[3]])) + 1) * 4;
        if buf.len() < len {
            return Err(RtpError::truncated("RTCP packet", len, buf.len()));
        }
        let mut body = &buf[4..len];
        if buf[0] & 0x20 != 0 {
            let pad = usize::from(buf[len - 1]);
            if pad == 0 || pad > body.len() {
                return Err(RtpError::malformed("RTCP padding", "bad padding count"));
            }
            body = &body[..body.len() - pad];
        }
        let n = usize::from(count);
        let p = match pt {
            RTCP_SR => {
                let need = 24 + n * REPORT_BLOCK_LEN;
                if body.len() < need {
                    return Err(RtpError::truncated("RTCP SR", need + 4, body.len() + 4));
                }
                RtcpPacket::SenderReport(SenderReport {
                    ssrc: be32(body, 0),
                    info: SenderInfo {
                        ntp: (u64::from(be32(body, 4)) << 32) | u64::from(be32(body, 8)),
                        rtp_timestamp: be32(body, 12),
                        packet_count: be32(body, 16),
                        octet_count: be32(body, 20),
                    },
                    blocks: &body[24..need],
                    extension: &body[need..],
                })
            }
            RTCP_RR => {
                let need = 4 + n * REPORT_BLOCK_LEN;
                if body.len() < need {
                    return Err(RtpError::truncated("RTCP RR", need + 4, body.len() + 4));
                }
                RtcpPacket::ReceiverReport(ReceiverReport {
                    ssrc: be32(body, 0),
                    blocks: &body[4..need],
                    extension: &body[need..],
                })
            }
            RTCP_SDES => {
                let mut off = 0;
                for _ in 0..n {
                    off += sdes_chunk_len(&body[off..])?.0;
                }
                RtcpPacket::Sdes(Sdes {
                    count,
                    body: &body[..off],
                })
            }
            RTCP_BYE => {
                let ids = 4 * n;
                if body.len() < ids {
                    return Err(RtpError::truncated("RTCP BYE", ids + 4, body.len() + 4));
                }
                let reason = match body.get(ids) {
                    Some(&rl) => {
                        let rl = usize::from(rl);
                        Some(body.get(ids + 1..ids + 1 + rl).ok_or(RtpError::truncated(
                            "RTCP BYE reason",
                            ids + 1 + rl,
                            body.len(),
                        ))?)
                    }
                    None => None,
                };
                RtcpPacket::Bye(Bye {
                    ssrcs: &body[..ids],
                    reason,
                })
            }
            RTCP_APP => {
                if body.len() < 8 {
                    return Err(RtpError::truncated("RTCP APP", 12, body.len() + 4));
                }
                RtcpPacket::App(App {
                    subtype: count,
                    ssrc: be32(body, 0),
                    name: [body[4], body[5], body[6], body[7]],
                    data: &body[8..],
                })
            }
            _ => RtcpPacket::Other {
                packet_type: pt,
                count,
                body,
            },
        };
        Ok((p, len))
    }

    /// This packet as an RTCP feedback message (RTPFB/PSFB, RFC 4585): `None` for other types.
    ///
    /// # Errors
    /// As for [`Feedback::parse`](crate::Feedback::parse).
    pub fn feedback(&self) -> Option<Result<crate::rtcp_feedback::Feedback<'a>, RtpError>> {
        crate::rtcp_feedback::Feedback::parse(self)
    }

    /// The packet type byte.
    pub fn packet_type(&self) -> u8 {
        match self {
            Self::SenderReport(_) => RTCP_SR,
            Self::ReceiverReport(_) => RTCP_RR,
            Self::Sdes(_) => RTCP_SDES,
            Self::Bye(_) => RTCP_BYE,
            Self::App(_) => RTCP_APP,
            Self::Other { packet_type, .. } => *packet_type,
        }
    }
}

/// Iterator over the packets of a compound RTCP datagram; stops after the first error.
#[derive(Debug, Clone)]
pub struct RtcpIter<'a> {
    buf: &'a [u8],
    failed: bool,
}

/// Iterates the packets of `datagram` (no compound rules are checked; see [`validate_compound`]).
pub fn rtcp_packets(datagram: &[u8]) -> RtcpIter<'_> {
    RtcpIter {
        buf: datagram,
        failed: false,
    }
}

impl<'a> Iterator for RtcpIter<'a> {
    type Item = Result<RtcpPacket<'a>, RtpError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.buf.is_empty() {
            return None;
        }
        match RtcpPacket::parse(self.buf) {
            Ok((p, len)) => {
                self.buf = &self.buf[len..];
                Some(Ok(p))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// RFC 3550 A.2 validity checks of a compound packet: every packet parses, lengths add up exactly,
/// only the last packet may be padded, and (unless `allow_reduced_size`, RFC 5506) the first packet is
/// an SR or RR.
///
/// # Errors
/// The first violation.
pub fn validate_compound(datagram: &[u8], allow_reduced_size: bool) -> Result<(), RtpError> {
    if datagram.is_empty() {
        return Err(RtpError::truncated("RTCP compound packet", 4, 0));
    }
    let mut rest = datagram;
    let mut first = true;
    while !rest.is_empty() {
        let (p, len) = RtcpPacket::parse(rest)?;
        if first
            && !allow_reduced_size
            && !matches!(p, RtcpPacket::SenderReport(_) | RtcpPacket::ReceiverReport(_))
        {
            return Err(RtpError::malformed(
                "RTCP compound packet",
                "first packet is not SR or RR",
            ));
        }
        if rest[0] & 0x20 != 0 && len != rest.len() {
            return Err(RtpError::malformed(
                "RTCP compound packet",
                "padding on a packet that is not last",
            ));
        }
        first = false;
        rest = &rest[len..];
    }
    Ok(())
}
