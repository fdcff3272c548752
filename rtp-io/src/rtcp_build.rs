//! Building RTCP packets into a caller buffer.
//!
//! # What
//! [`RtcpWriter`] appends SR, RR, SDES, BYE and APP packets (RFC 3550 §6.4–6.7), and the rate feedback
//! messages TMMBR/TMMBN (RFC 5104 §4.2) and REMB, to a compound datagram in a caller-provided buffer; [`RtcpWriter::finish`] returns its length.
//!
//! # How
//! Each method writes the common header with the length in 32-bit words minus one and pads item text
//! as §6.5/§6.6 require. Report blocks beyond 31 per packet are an error (the caller splits them, as
//! §6.4.2 allows).
//!
//! # Real-time safety
//! Allocation-free.

use crate::error::RtpError;
use crate::rtcp_feedback::{
    remb_fields, TmmbItem, FMT_AFB, FMT_TMMBN, FMT_TMMBR, REMB_ID, RTCP_PSFB, RTCP_RTPFB, TMMB_ITEM_LEN,
};
use crate::rtcp_packet::{
    ReportBlock, SdesType, SenderInfo, REPORT_BLOCK_LEN, RTCP_APP, RTCP_BYE, RTCP_RR, RTCP_SDES, RTCP_SR,
};

/// One SDES chunk to write: a source and its `(type, text)` items.
#[derive(Debug, Clone, Copy)]
pub struct SdesChunkSpec<'a> {
    /// The source described.
    pub ssrc: u32,
    /// Items; texts of at most 255 bytes.
    pub items: &'a [(SdesType, &'a [u8])],
}

/// Appends RTCP packets to a buffer.
///
/// ```
/// use tutti_rtp::{rtcp_packets, RtcpPacket, RtcpWriter, SdesChunkSpec, SdesType};
/// let mut buf = [0u8; 128];
/// let mut w = RtcpWriter::new(&mut buf);
/// w.receiver_report(0x1111, &[]).unwrap();
/// w.sdes(&[SdesChunkSpec { ssrc: 0x1111, items: &[(SdesType::Cname, b"me@host")] }]).unwrap();
/// let n = w.finish();
/// let kinds: Vec<u8> = rtcp_packets(&buf[..n]).map(|p| p.unwrap().packet_type()).collect();
/// assert_eq!(kinds, [201, 202]);
/// ```
#[derive(Debug)]
pub struct RtcpWriter<'b> {
    buf: &'b mut [u8],
    pos: usize,
}

impl<'b> RtcpWriter<'b> {
    /// Starts an empty compound packet in `buf`.
    pub fn new(buf: &'b mut [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.pos
    }

    /// True before anything was written.
    pub fn is_empty(&self) -> bool {
        self.pos == 0
    }

    /// Ends the compound packet; returns its length.
    pub fn finish(self) -> usize {
        self.pos
    }

    fn reserve(&mut self, len: usize) -> Result<&mut [u8], RtpError> {
        let end = self.pos + len;
        if end > self.buf.len() {
            return Err(RtpError::BufferTooSmall {
                needed: end,
                actual: self.buf.len(),
            });
        }
        let s = &mut self.buf[self.pos..end];
        s.fill(0);
        self.pos = end;
        Ok(s)
    }

    fn header(out: &mut [u8], count: u8, pt: u8, len: usize) {
        out[0] = 0x80 | (count & 0x1f);
        out[1] = pt;
        out[2..4].copy_from_slice(&((len / 4 - 1) as u16).to_be_bytes());
    }

    fn check_blocks(blocks: &[ReportBlock]) -> Result<(), RtpError> {
        if blocks.len() > 31 {
            return Err(RtpError::malformed("RTCP report", "more than 31 report blocks"));
        }
        Ok(())
    }

    fn write_blocks(out: &mut [u8], blocks: &[ReportBlock]) {
        for (chunk, b) in out.chunks_exact_mut(REPORT_BLOCK_LEN).zip(blocks) {
            let arr: &mut [u8; REPORT_BLOCK_LEN] = chunk
                .try_into()
                .expect("chunks_exact_mut yields REPORT_BLOCK_LEN-byte chunks");
            b.write(arr);
        }
    }

    /// Appends a sender report.
    ///
    /// # Errors
    /// [`RtpError::BufferTooSmall`]; [`RtpError::Malformed`] for more than 31 blocks.
    pub fn sender_report(
        &mut self,
        ssrc: u32,
        info: &SenderInfo,
        blocks: &[ReportBlock],
    ) -> Result<(), RtpError> {
        Self::check_blocks(blocks)?;
        let len = 28 + REPORT_BLOCK_LEN * blocks.len();
        let out = self.reserve(len)?;
        Self::header(out, blocks.len() as u8, RTCP_SR, len);
        out[4..8].copy_from_slice(&ssrc.to_be_bytes());
        out[8..16].copy_from_slice(&info.ntp.to_be_bytes());
        out[16..20].copy_from_slice(&info.rtp_timestamp.to_be_bytes());
        out[20..24].copy_from_slice(&info.packet_count.to_be_bytes());
        out[24..28].copy_from_slice(&info.octet_count.to_be_bytes());
        Self::write_blocks(&mut out[28..], blocks);
        Ok(())
    }

    /// Appends a receiver report.
    ///
    /// # Errors
    /// As for [`RtcpWriter::sender_report`].
    pub fn receiver_report(&mut self, ssrc: u32, blocks: &[ReportBlock]) -> Result<(), RtpError> {
        Self::check_blocks(blocks)?;
        let len = 8 + REPORT_BLOCK_LEN * blocks.len();
        let out = self.reserve(len)?;
        Self::header(out, blocks.len() as u8, RTCP_RR, len);
        out[4..8].copy_from_slice(&ssrc.to_be_bytes());
        Self::write_blocks(&mut out[8..], blocks);
        Ok(())
    }

    /// Appends a source description packet.
    ///
    /// # Errors
    /// [`RtpError::BufferTooSmall`]; [`RtpError::Malformed`] for more than 31 chunks, item text longer
    /// than 255 bytes or an item type of 0.
    pub fn sdes(&mut self, chunks: &[SdesChunkSpec<'_>]) -> Result<(), RtpError> {
        if chunks.len() > 31 {
            return Err(RtpError::malformed("RTCP SDES", "more than 31 chunks"));
        }
        let mut len = 4;
        for c in chunks {
            let mut l = 4;
            for (t, text) in c.items {
                if text.len() > 255 {
                    return Err(RtpError::malformed("RTCP SDES", "item longer than 255 bytes"));
                }
                if t.to_u8() == 0 {
                    return Err(RtpError::malformed("RTCP SDES", "item type 0 is the terminator"));
                }
                l += 2 + text.len();
            }
            len += (l + 1).div_ceil(4) * 4;
        }
        let out = self.reserve(len)?;
        Self::header(out, chunks.len() as u8, RTCP_SDES, len);
        let mut off = 4;
        for c in chunks {
            let start = off;
            out[off..off + 4].copy_from_slice(&c.ssrc.to_be_bytes());
            off += 4;
            for (t, text) in c.items {
                out[off] = t.to_u8();
                out[off + 1] = text.len() as u8;
                out[off + 2..off + 2 + text.len()].copy_from_slice(text);
                off += 2 + text.len();
            }
            // Null terminator (already zero) and padding to a 32-bit boundary.
            off = start + (off - start + 1).div_ceil(4) * 4;
        }
        Ok(())
    }

    /// Appends a goodbye packet.
    ///
    /// # Errors
    /// [`RtpError::BufferTooSmall`]; [`RtpError::Malformed`] for more than 31 SSRCs or a reason longer
    /// than 255 bytes.
    pub fn bye(&mut self, ssrcs: &[u32], reason: Option<&[u8]>) -> Result<(), RtpError> {
        if ssrcs.len() > 31 {
            return Err(RtpError::malformed("RTCP BYE", "more than 31 sources"));
        }
        let rl = reason.map_or(0, |r| (1 + r.len()).div_ceil(4) * 4);
        if reason.is_some_and(|r| r.len() > 255) {
            return Err(RtpError::malformed("RTCP BYE", "reason longer than 255 bytes"));
        }
        let len = 4 + 4 * ssrcs.len() + rl;
        let out = self.reserve(len)?;
        Self::header(out, ssrcs.len() as u8, RTCP_BYE, len);
        for (i, s) in ssrcs.iter().enumerate() {
            out[4 + 4 * i..8 + 4 * i].copy_from_slice(&s.to_be_bytes());
        }
        if let Some(r) = reason {
            let o = 4 + 4 * ssrcs.len();
            out[o] = r.len() as u8;
            out[o + 1..o + 1 + r.len()].copy_from_slice(r);
        }
        Ok(())
    }

    /// Appends an application-defined packet.
    ///
    /// # Errors
    /// [`RtpError::BufferTooSmall`]; [`RtpError::Malformed`] for a subtype above 31 or data that is not
    /// a multiple of 4 bytes.
    pub fn app(&mut self, subtype: u8, ssrc: u32, name: [u8; 4], data: &[u8]) -> Result<(), RtpError> {
        if subtype > 31 {
            return Err(RtpError::malformed("RTCP APP", "subtype above 31"));
        }
        if data.len() % 4 != 0 {
            return Err(RtpError::malformed(
                "RTCP APP",
                "data is not a multiple of 32 bits",
            ));
        }
        let len = 12 + data.len();
        let out = self.reserve(len)?;
        Self::header(out, subtype, RTCP_APP, len);
        out[4..8].copy_from_slice(&ssrc.to_be_bytes());
        out[8..12].copy_from_slice(&name);
        out[12..].copy_from_slice(data);
        Ok(())
    }
}

impl RtcpWriter<'_> {
    fn tmmb(&mut self, fmt: u8, sender_ssrc: u32, items: &[TmmbItem]) -> Result<(), RtpError> {
        let len = 12 + TMMB_ITEM_LEN * items.len();
        if len > 4 * 65_536 {
            return Err(RtpError::malformed("RTCP TMMBR/TMMBN", "too many entries"));
        }
        let out = self.reserve(len)?;
        Self::header(out, fmt, RTCP_RTPFB, len);
        out[4..8].copy_from_slice(&sender_ssrc.to_be_bytes());
        // The media-source SSRC stays 0 (RFC 5104 §4.2.1.2, §4.2.2.2).
        for (chunk, it) in out[12..].chunks_exact_mut(TMMB_ITEM_LEN).zip(items) {
            let arr: &mut [u8; TMMB_ITEM_LEN] = chunk
                .try_into()
                .expect("chunks_exact_mut yields TMMB_ITEM_LEN-byte chunks");
            it.write(arr);
        }
        Ok(())
    }

    /// Appends a TMMBR (RFC 5104 §4.2.1): requests from `sender_ssrc` to the media senders named in
    /// `items`. Bitrates are rounded down to 17 significant bits.
    ///
    /// # Errors
    /// [`RtpError::BufferTooSmall`]; [`RtpError::Malformed`] without items.
    pub fn tmmbr(&mut self, sender_ssrc: u32, items: &[TmmbItem]) -> Result<(), RtpError> {
        if items.is_empty() {
            return Err(RtpError::malformed("RTCP TMMBR", "no FCI entry"));
        }
        self.tmmb(FMT_TMMBR, sender_ssrc, items)
    }

    /// Appends a TMMBN (RFC 5104 §4.2.2) from the media sender `sender_ssrc` listing the current
    /// bounding set (empty when no restriction is in force).
    ///
    /// # Errors
    /// [`RtpError::BufferTooSmall`].
    pub fn tmmbn(&mut self, sender_ssrc: u32, bounding_set: &[TmmbItem]) -> Result<(), RtpError> {
        self.tmmb(FMT_TMMBN, sender_ssrc, bounding_set)
    }

    /// Appends a REMB (PSFB FMT 15, draft-alvestrand-rmcat-remb): `bitrate_bps` (rounded down to 18
    /// significant bits) estimated by `sender_ssrc` for the streams `ssrcs`.
    ///
    /// # Errors
    /// [`RtpError::BufferTooSmall`]; [`RtpError::Malformed`] for more than 255 SSRCs.
    pub fn remb(&mut self, sender_ssrc: u32, bitrate_bps: u64, ssrcs: &[u32]) -> Result<(), RtpError> {
        if ssrcs.len() > 255 {
            return Err(RtpError::malformed("RTCP REMB", "more than 255 SSRCs"));
        }
        let len = 20 + 4 * ssrcs.len();
        let out = self.reserve(len)?;
        Self::header(out, FMT_AFB, RTCP_PSFB, len);
        out[4..8].copy_from_slice(&sender_ssrc.to_be_bytes());
        out[12..16].copy_from_slice(&REMB_ID);
        let (exp, mantissa) = remb_fields(bitrate_bps);
        out[16] = ssrcs.len() as u8;
        out[17] = (exp << 2) | (mantissa >> 16) as u8;
        out[18..20].copy_from_slice(&(mantissa as u16).to_be_bytes());
        for (i, s) in ssrcs.iter().enumerate() {
            out[20 + 4 * i..24 + 4 * i].copy_from_slice(&s.to_be_bytes());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtcp_packet::{rtcp_packets, validate_compound, RtcpPacket};

    #[test]
    fn compound_round_trip() {
        let rb = ReportBlock {
            ssrc: 2,
            fraction_lost: 12,
            cumulative_lost: -3,
            extended_highest_seq: 70_000,
            jitter: 44,
            last_sr: 0xdead_beef,
            delay_since_last_sr: 65_536,
        };
        let info = SenderInfo {
            ntp: 0x1122_3344_5566_7788,
            rtp_timestamp: 9,
            packet_count: 10,
            octet_count: 1600,
        };
        let mut buf = [0u8; 256];
        let mut w = RtcpWriter::new(&mut buf);
        w.sender_report(1, &info, &[rb]).unwrap();
        w.sdes(&[
            SdesChunkSpec {
                ssrc: 1,
                items: &[(SdesType::Cname, b"abc"), (SdesType::Tool, b"tutti")],
            },
            SdesChunkSpec {
                ssrc: 5,
                items: &[(SdesType::Cname, b"four")],
            },
        ])
        .unwrap();
        w.bye(&[1, 5], Some(b"done")).unwrap();
        w.app(3, 1, *b"TUTI", &[1, 2, 3, 4]).unwrap();
        let n = w.finish();
        validate_compound(&buf[..n], false).unwrap();
        let ps: Vec<_> = rtcp_packets(&buf[..n]).collect::<Result<_, _>>().unwrap();
        assert_eq!(ps.len(), 4);
        let RtcpPacket::SenderReport(sr) = ps[0] else {
            panic!("SR expected")
        };
        assert_eq!((sr.ssrc, sr.info), (1, info));
        assert_eq!(sr.blocks().collect::<Vec<_>>(), vec![rb]);
        let RtcpPacket::Sdes(sd) = ps[1] else {
            panic!("SDES expected")
        };
        let chunks: Vec<_> = sd.chunks().collect();
        assert_eq!(chunks.len(), 2);
        assert_eq!(chunks[0].cname(), Some(&b"abc"[..]));
        assert_eq!(chunks[0].items().nth(1).unwrap().text, b"tutti");
        assert_eq!(chunks[1].cname(), Some(&b"four"[..]));
        let RtcpPacket::Bye(bye) = ps[2] else {
            panic!("BYE expected")
        };
        assert_eq!(bye.ssrcs().collect::<Vec<_>>(), vec![1, 5]);
        assert_eq!(bye.reason, Some(&b"done"[..]));
        let RtcpPacket::App(app) = ps[3] else {
            panic!("APP expected")
        };
        assert_eq!(
            (app.subtype, app.ssrc, &app.name, app.data),
            (3, 1, b"TUTI", &[1u8, 2, 3, 4][..])
        );
    }

    #[test]
    fn reduced_size_and_validation() {
        let mut buf = [0u8; 64];
        let mut w = RtcpWriter::new(&mut buf);
        w.bye(&[9], None).unwrap();
        let n = w.finish();
        assert!(validate_compound(&buf[..n], false).is_err());
        validate_compound(&buf[..n], true).unwrap();
        // Length field overrunning the datagram.
        let mut bad = buf;
        bad[3] = 9;
        assert!(validate_compound(&bad[..n], true).is_err());
    }

    #[test]
    fn rtt_from_lsr_dlsr() {
        // RFC 3550 §6.4.1 example: A = 0xb710_8000 (46864.500 s), LSR = 0xb705_2000 (46853.125 s),
        // DLSR = 0x0005_4000 (5.250 s) -> RTT 6.125 s.
        let rb = ReportBlock {
            last_sr: 0xb705_2000,
            delay_since_last_sr: 0x0005_4000,
            ..Default::default()
        };
        assert_eq!(rb.rtt(0xb710_8000), Some(0x0006_2000));
        assert_eq!(ReportBlock::default().rtt(5), None);
    }

    #[test]
    fn cumulative_lost_sign_extends() {
        let mut b = [0u8; 24];
        ReportBlock {
            cumulative_lost: -1,
            ..Default::default()
        }
        .write(&mut b);
        assert_eq!(&b[5..8], &[0xff, 0xff, 0xff]);
        assert_eq!(ReportBlock::parse(&b).cumulative_lost, -1);
        ReportBlock {
            cumulative_lost: 10_000_000,
            ..Default::default()
        }
        .write(&mut b);
        assert_eq!(ReportBlock::parse(&b).cumulative_lost, 0x7f_ffff);
    }
}
