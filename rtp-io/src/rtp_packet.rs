//! RTP packets: a zero-copy parsed view and a builder into a caller buffer.
//!
//! # What
//! [`RtpPacket`] borrows a received datagram and exposes the RFC 3550 §5.1 fixed header, the CSRC list,
//! the header extension (§5.3.1, with RFC 8285 elements via [`HeaderExtension`]) and the payload without
//! padding. [`RtpBuilder`] writes a packet into a caller-provided buffer.
//!
//! # How
//! [`RtpPacket::parse`] validates once (version 2, lengths of CSRC list, extension and padding against the
//! buffer) and stores offsets; the accessors then only read bytes. Any inconsistency is an
//! [`RtpError`], never a panic.
//!
//! # Real-time safety
//! Parsing and building allocate nothing and make no syscalls.

use crate::error::RtpError;
use crate::header_ext::{ExtensionElement, ExtensionForm, HeaderExtension};

/// Size of the RTP fixed header (RFC 3550 §5.1).
pub const RTP_FIXED_HEADER_LEN: usize = 12;
/// Largest CSRC count (4-bit CC field).
pub const RTP_MAX_CSRCS: usize = 15;

/// A parsed, borrowed RTP packet (RFC 3550 §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    buf: &'a [u8],
    /// Offset of the extension header (profile word), if X is set.
    ext_start: usize,
    /// Offset of the payload.
    payload_start: usize,
    /// Offset one past the payload (start of padding).
    payload_end: usize,
}

/// The fixed-header fields of an RTP packet as an owned, `Copy` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct RtpHeader {
    /// M bit.
    pub marker: bool,
    /// 7-bit payload type.
    pub payload_type: u8,
    /// 16-bit sequence number.
    pub sequence_number: u16,
    /// 32-bit media timestamp.
    pub timestamp: u32,
    /// Synchronisation source.
    pub ssrc: u32,
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Length of the RTP header (fixed part, CSRCs, extension) at the start of `buf`, without looking at
/// padding (which SRTP encrypts).
///
/// # Errors
/// [`RtpError::Truncated`] or [`RtpError::BadVersion`] as for [`RtpPacket::parse`].
pub fn rtp_header_len(buf: &[u8]) -> Result<usize, RtpError> {
    if buf.len() < RTP_FIXED_HEADER_LEN {
        return Err(RtpError::truncated(
            "RTP fixed header",
            RTP_FIXED_HEADER_LEN,
            buf.len(),
        ));
    }
    if buf[0] >> 6 != 2 {
        return Err(RtpError::BadVersion {
            what: "RTP",
            actual: u32::from(buf[0] >> 6),
        });
    }
    let mut off = RTP_FIXED_HEADER_LEN + 4 * usize::from(buf[0] & 0x0f);
    if buf.len() < off {
        return Err(RtpError::truncated("RTP CSRC list", off, buf.len()));
    }
    if buf[0] & 0x10 != 0 {
        if buf.len() < off + 4 {
            return Err(RtpError::truncated("RTP header extension", off + 4, buf.len()));
        }
        off += 4 + 4 * usize::from(be16(buf, off + 2));
        if buf.len() < off {
            return Err(RtpError::truncated("RTP header extension", off, buf.len()));
        }
    }
    Ok(off)
}

impl<'a> RtpPacket<'a> {
    /// Parses and validates `buf` as one RTP packet.
    ///
    /// # Errors
    /// [`RtpError::Truncated`] when the fixed header, CSRC list or extension run past the end,
    /// [`RtpError::BadVersion`] when V ≠ 2, [`RtpError::Malformed`] for an impossible padding count.
    pub fn parse(buf: &'a [u8]) -> Result<Self, RtpError> {
        if buf.len() < RTP_FIXED_HEADER_LEN {
            return Err(RtpError::truncated(
                "RTP fixed header",
                RTP_FIXED_HEADER_LEN,
                buf.len(),
            ));
        }
        let version = buf[0] >> 6;
        if version != 2 {
            return Err(RtpError::BadVersion {
                what: "RTP",
                actual: u32::from(version),
            });
        }
        let cc = usize::from(buf[0] & 0x0f);
        let mut off = RTP_FIXED_HEADER_LEN + 4 * cc;
        if buf.len() < off {
            return Err(RtpError::truncated("RTP CSRC list", off, buf.len()));
        }
        let ext_start = off;
        if buf[0] & 0x10 != 0 {
            if buf.len() < off + 4 {
                return Err(RtpError::truncated("RTP header extension", off + 4, buf.len()));
            }
            let words = usize::from(be16(buf, off + 2));
            off += 4 + 4 * words;
            if buf.len() < off {
                return Err(RtpError::truncated("RTP header extension", off, buf.len()));
            }
        }
        let mut end = buf.len();
        if buf[0] & 0x20 != 0 {
            let pad = usize::from(buf[buf.len() - 1]);
            if pad == 0 {
                return Err(RtpError::malformed("RTP padding", "padding count is zero"));
            }
            if pad > buf.len() - off {
                return Err(RtpError::malformed(
                    "RTP padding",
                    "padding longer than the payload area",
                ));
            }
            end -= pad;
        }
        Ok(Self {
            buf,
            ext_start,
            payload_start: off,
            payload_end: end,
        })
    }

    /// The whole packet as received.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }

    /// Version field (always 2 for a parsed packet).
    pub fn version(&self) -> u8 {
        self.buf[0] >> 6
    }

    /// P bit: the packet ends with padding.
    pub fn has_padding(&self) -> bool {
        self.buf[0] & 0x20 != 0
    }

    /// Number of padding bytes (including the count byte), 0 without P.
    pub fn padding_len(&self) -> usize {
        self.buf.len() - self.payload_end
    }

    /// X bit: a header extension follows the CSRC list.
    pub fn has_extension(&self) -> bool {
        self.buf[0] & 0x10 != 0
    }

    /// M bit.
    pub fn marker(&self) -> bool {
        self.buf[1] & 0x80 != 0
    }

    /// 7-bit payload type.
    pub fn payload_type(&self) -> u8 {
        self.buf[1] & 0x7f
    }

    /// 16-bit sequence number.
    pub fn sequence_number(&self) -> u16 {
        be16(self.buf, 2)
    }

    /// 32-bit media timestamp.
    pub fn timestamp(&self) -> u32 {
        be32(self.buf, 4)
    }

    /// Synchronisation source identifier.
    pub fn ssrc(&self) -> u32 {
        be32(self.buf, 8)
    }

    /// Number of CSRCs (CC field).
    pub fn csrc_count(&self) -> usize {
        usize::from(self.buf[0] & 0x0f)
    }

    /// The `i`-th contributing source, if `i < csrc_count()`.
    pub fn csrc(&self, i: usize) -> Option<u32> {
        (i < self.csrc_count()).then(|| be32(self.buf, RTP_FIXED_HEADER_LEN + 4 * i))
    }

    /// Iterator over the CSRC list in packet order.
    pub fn csrcs(&self) -> impl Iterator<Item = u32> + 'a {
        let buf = self.buf;
        (0..usize::from(buf[0] & 0x0f)).map(move |i| be32(buf, RTP_FIXED_HEADER_LEN + 4 * i))
    }

    /// The header extension, if the X bit is set.
    pub fn extension(&self) -> Option<HeaderExtension<'a>> {
        if !self.has_extension() {
            return None;
        }
        let profile = be16(self.buf, self.ext_start);
        Some(HeaderExtension::new(
            profile,
            &self.buf[self.ext_start + 4..self.payload_start],
        ))
    }

    /// Finds RFC 8285 extension element `id` (one- or two-byte form); `None` if absent or not RFC 8285.
    pub fn extension_element(&self, id: u8) -> Option<&'a [u8]> {
        self.extension()?.find(id)
    }

    /// Header length in bytes (fixed header + CSRCs + extension).
    pub fn header_len(&self) -> usize {
        self.payload_start
    }

    /// The payload, without header and padding.
    pub fn payload(&self) -> &'a [u8] {
        &self.buf[self.payload_start..self.payload_end]
    }

    /// The fixed-header fields as an owned value.
    pub fn header(&self) -> RtpHeader {
        RtpHeader {
            marker: self.marker(),
            payload_type: self.payload_type(),
            sequence_number: self.sequence_number(),
            timestamp: self.timestamp(),
            ssrc: self.ssrc(),
        }
    }
}

/// Writes RTP packets into caller-provided buffers.
///
/// ```
/// use tutti_rtp::{RtpBuilder, RtpPacket};
/// let mut buf = [0u8; 64];
/// let b = RtpBuilder { payload_type: 8, sequence_number: 7, timestamp: 160, ssrc: 0x1234, ..Default::default() };
/// let n = b.write(&[0xd5; 10], &mut buf).unwrap();
/// let p = RtpPacket::parse(&buf[..n]).unwrap();
/// assert_eq!((p.payload_type(), p.sequence_number(), p.payload().len()), (8, 7, 10));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct RtpBuilder<'a> {
    /// M bit.
    pub marker: bool,
    /// 7-bit payload type (higher bits are an error).
    pub payload_type: u8,
    /// Sequence number.
    pub sequence_number: u16,
    /// Timestamp.
    pub timestamp: u32,
    /// SSRC.
    pub ssrc: u32,
    /// Up to 15 CSRCs.
    pub csrcs: &'a [u32],
    /// RFC 8285 extension elements (empty: no extension).
    pub extensions: &'a [ExtensionElement<'a>],
    /// Which RFC 8285 form to use for `extensions`.
    pub extension_form: ExtensionForm,
    /// Padding bytes to append (0 = no P bit; otherwise 1–255, the last byte holds the count).
    pub padding: u8,
}

impl RtpBuilder<'_> {
    /// Header length this builder writes (fixed header + CSRCs + extension).
    ///
    /// # Errors
    /// As for [`RtpBuilder::write`] when the CSRC list or extension elements are invalid.
    pub fn header_len(&self) -> Result<usize, RtpError> {
        if self.csrcs.len() > RTP_MAX_CSRCS {
            return Err(RtpError::malformed("RTP CSRC list", "more than 15 CSRCs"));
        }
        let ext = if self.extensions.is_empty() {
            0
        } else {
            4 + crate::header_ext::encoded_len(self.extensions, self.extension_form)?
        };
        Ok(RTP_FIXED_HEADER_LEN + 4 * self.csrcs.len() + ext)
    }

    /// Total packet length for a payload of `payload_len` bytes.
    ///
    /// # Errors
    /// As for [`RtpBuilder::header_len`].
    pub fn packet_len(&self, payload_len: usize) -> Result<usize, RtpError> {
        Ok(self.header_len()? + payload_len + usize::from(self.padding))
    }

    /// Writes the header only (for callers that place the payload themselves); returns its length.
    ///
    /// The P bit is set when `padding > 0`, but the padding itself is not written.
    ///
    /// # Errors
    /// [`RtpError::BufferTooSmall`], or [`RtpError::Malformed`] for a PT above 127, more than 15 CSRCs
    /// or extension elements that do not fit the chosen form.
    pub fn write_header(&self, out: &mut [u8]) -> Result<usize, RtpError> {
        if self.payload_type > 0x7f {
            return Err(RtpError::malformed("RTP payload type", "payload type above 127"));
        }
        let hl = self.header_len()?;
        if out.len() < hl {
            return Err(RtpError::BufferTooSmall {
                needed: hl,
                actual: out.len(),
            });
        }
        let x = if self.extensions.is_empty() { 0 } else { 0x10 };
        let p = if self.padding > 0 { 0x20 } else { 0 };
        out[0] = 0x80 | p | x | self.csrcs.len() as u8;
        out[1] = (u8::from(self.marker) << 7) | self.payload_type;
        out[2..4].copy_from_slice(&self.sequence_number.to_be_bytes());
        out[4..8].copy_from_slice(&self.timestamp.to_be_bytes());
        out[8..12].copy_from_slice(&self.ssrc.to_be_bytes());
        let mut off = RTP_FIXED_HEADER_LEN;
        for c in self.csrcs {
            out[off..off + 4].copy_from_slice(&c.to_be_bytes());
            off += 4;
        }
        if !self.extensions.is_empty() {
            off +=
                crate::header_ext::write_extension(self.extensions, self.extension_form, &mut out[off..hl])?;
        }
        debug_assert_eq!(off, hl);
        Ok(hl)
    }

    /// Writes header, `payload` and padding into `out`; returns the packet length.
    ///
    /// # Errors
    /// As for [`RtpBuilder::write_header`].
    pub fn write(&self, payload: &[u8], out: &mut [u8]) -> Result<usize, RtpError> {
        let total = self.packet_len(payload.len())?;
        if out.len() < total {
            return Err(RtpError::BufferTooSmall {
                needed: total,
                actual: out.len(),
            });
        }
        let hl = self.write_header(out)?;
        out[hl..hl + payload.len()].copy_from_slice(payload);
        let pad = usize::from(self.padding);
        if pad > 0 {
            let ps = hl + payload.len();
            out[ps..total - 1].fill(0);
            out[total - 1] = self.padding;
        }
        Ok(total)
    }
}

impl From<RtpHeader> for RtpBuilder<'_> {
    fn from(h: RtpHeader) -> Self {
        RtpBuilder {
            marker: h.marker,
            payload_type: h.payload_type,
            sequence_number: h.sequence_number,
            timestamp: h.timestamp,
            ssrc: h.ssrc,
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc_layout_with_csrcs_ext_and_padding() {
        let csrcs = [1u32, 0xdead_beef];
        let els = [
            ExtensionElement { id: 1, data: &[0x85] },
            ExtensionElement {
                id: 3,
                data: &[1, 2, 3],
            },
        ];
        let b = RtpBuilder {
            marker: true,
            payload_type: 111,
            sequence_number: 0xfffe,
            timestamp: 0x0102_0304,
            ssrc: 0xcafe_babe,
            csrcs: &csrcs,
            extensions: &els,
            extension_form: ExtensionForm::OneByte,
            padding: 3,
        };
        let mut buf = [0u8; 100];
        let n = b.write(b"hello", &mut buf).unwrap();
        // 12 + 8 + (4 + 2 + 4 = 10 -> 12) + 5 + 3
        assert_eq!(n, 12 + 8 + 4 + 8 + 5 + 3);
        let p = RtpPacket::parse(&buf[..n]).unwrap();
        assert_eq!(p.version(), 2);
        assert!(p.marker() && p.has_padding() && p.has_extension());
        assert_eq!(p.payload_type(), 111);
        assert_eq!(p.sequence_number(), 0xfffe);
        assert_eq!(p.timestamp(), 0x0102_0304);
        assert_eq!(p.ssrc(), 0xcafe_babe);
        assert_eq!(p.csrcs().collect::<Vec<_>>(), csrcs);
        assert_eq!(p.csrc(2), None);
        assert_eq!(p.payload(), b"hello");
        assert_eq!(p.padding_len(), 3);
        assert_eq!(p.extension_element(1), Some(&[0x85u8][..]));
        assert_eq!(p.extension_element(3), Some(&[1u8, 2, 3][..]));
        assert_eq!(p.extension_element(2), None);
    }

    #[test]
    fn rejects_malformed() {
        assert!(matches!(
            RtpPacket::parse(&[0x80; 11]),
            Err(RtpError::Truncated { .. })
        ));
        let mut b = [0u8; 12];
        b[0] = 0x40;
        assert!(matches!(
            RtpPacket::parse(&b),
            Err(RtpError::BadVersion { actual: 1, .. })
        ));
        b[0] = 0x81; // one CSRC missing
        assert!(matches!(RtpPacket::parse(&b), Err(RtpError::Truncated { .. })));
        b[0] = 0xa0; // padding count 0
        assert!(matches!(RtpPacket::parse(&b), Err(RtpError::Malformed { .. })));
        let mut c = [0u8; 14];
        c[0] = 0xa0;
        c[13] = 3; // longer than the 2-byte payload area
        assert!(matches!(RtpPacket::parse(&c), Err(RtpError::Malformed { .. })));
        c[13] = 2;
        assert_eq!(RtpPacket::parse(&c).unwrap().payload(), &[] as &[u8]);
        let mut d = [0u8; 16];
        d[0] = 0x90;
        d[15] = 1; // extension claims one word but none follows
        assert!(matches!(RtpPacket::parse(&d), Err(RtpError::Truncated { .. })));
    }

    #[test]
    fn builder_errors() {
        let mut small = [0u8; 11];
        let b = RtpBuilder::default();
        assert!(matches!(
            b.write(&[], &mut small),
            Err(RtpError::BufferTooSmall { needed: 12, .. })
        ));
        let b = RtpBuilder {
            payload_type: 128,
            ..Default::default()
        };
        assert!(b.write(&[], &mut [0u8; 20]).is_err());
        let many = [0u32; 16];
        let b = RtpBuilder {
            csrcs: &many,
            ..Default::default()
        };
        assert!(b.write(&[], &mut [0u8; 200]).is_err());
    }
}
