//! Classic libpcap files: reader and writer.
//!
//! # What
//! [`PcapReader`] reads frames ([`CapturedFrame`]) from a classic pcap stream in either byte order, with
//! microsecond or nanosecond timestamps. [`PcapWriter`] records UDP datagrams as raw-IP frames with
//! nanosecond timestamps (readable by tshark, tcpdump and our reader).
//!
//! # How
//! Format per draft-ietf-opsawg-pcap: 24-byte file header (magic `A1B2C3D4` µs / `A1B23C4D` ns, version,
//! snaplen, link type), then 16-byte record headers (seconds, sub-seconds, captured length, original
//! length) each followed by the frame. Lengths above [`MAX_FRAME_LEN`] are rejected as malformed
//! instead of being allocated.
//!
//! # Real-time safety
//! File drivers, not for RT threads. The reader reuses one frame buffer; the writer one scratch buffer.

use std::io::{Read, Write};
use std::net::SocketAddr;

use crate::capture_link::{encode_udp_raw_ip, raw_ip_frame_len, LINKTYPE_RAW};
use crate::error::RtpError;

/// Largest captured frame accepted (256 KiB, the largest snaplen tcpdump uses).
pub const MAX_FRAME_LEN: usize = 262_144;

/// One frame read from a capture file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapturedFrame<'a> {
    /// Capture time in nanoseconds since the Unix epoch.
    pub time_ns: u64,
    /// LINKTYPE_* of the frame's interface.
    pub linktype: u32,
    /// Captured bytes (may be shorter than `orig_len` when snaplen truncated it).
    pub data: &'a [u8],
    /// Length on the wire.
    pub orig_len: u32,
}

/// Reads `buf.len()` bytes; `Ok(false)` on a clean EOF before the first byte.
pub(crate) fn read_full<R: Read>(r: &mut R, buf: &mut [u8], what: &'static str) -> Result<bool, RtpError> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) if got == 0 => return Ok(false),
            Ok(0) => return Err(RtpError::truncated(what, buf.len(), got)),
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(RtpError::io("reading a capture file", &e)),
        }
    }
    Ok(true)
}

/// Reader of classic pcap streams.
#[derive(Debug)]
pub struct PcapReader<R> {
    inner: R,
    big_endian: bool,
    nanos: bool,
    linktype: u32,
    buf: Vec<u8>,
    last: (u64, u32),
}

impl<R: Read> PcapReader<R> {
    /// Reads the file header.
    ///
    /// # Errors
    /// [`RtpError::BadVersion`] for an unknown magic, [`RtpError::Truncated`]/[`RtpError::Io`].
    pub fn new(mut inner: R) -> Result<Self, RtpError> {
        let mut h = [0u8; 24];
        if !read_full(&mut inner, &mut h, "pcap file header")? {
            return Err(RtpError::truncated("pcap file header", 24, 0));
        }
        Self::from_header(inner, h)
    }

    /// Builds the reader from an already-read 24-byte file header.
    pub(crate) fn from_header(inner: R, h: [u8; 24]) -> Result<Self, RtpError> {
        let magic = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
        let (big_endian, nanos) = match magic {
            0xa1b2_c3d4 => (false, false),
            0xa1b2_3c4d => (false, true),
            0xd4c3_b2a1 => (true, false),
            0x4d3c_b2a1 => (true, true),
            m => {
                return Err(RtpError::BadVersion {
                    what: "pcap magic",
                    actual: m,
                })
            }
        };
        let rd = |at: usize| {
            let b = [h[at], h[at + 1], h[at + 2], h[at + 3]];
            if big_endian {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            }
        };
        // The link type is the low 16 bits (upper bits hold FCS information).
        let linktype = rd(20) & 0xffff;
        Ok(Self {
            inner,
            big_endian,
            nanos,
            linktype,
            buf: Vec::new(),
            last: (0, 0),
        })
    }

    /// The file's link type.
    pub fn linktype(&self) -> u32 {
        self.linktype
    }

    fn u32_at(&self, b: &[u8], at: usize) -> u32 {
        let a = [b[at], b[at + 1], b[at + 2], b[at + 3]];
        if self.big_endian {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        }
    }

    /// The next frame, or `None` at the end of the file.
    ///
    /// # Errors
    /// [`RtpError::Truncated`] for a file cut inside a record, [`RtpError::Malformed`] for an absurd
    /// record length, [`RtpError::Io`].
    pub fn next_frame(&mut self) -> Result<Option<CapturedFrame<'_>>, RtpError> {
        Ok(if self.advance()? {
            Some(self.last_frame())
        } else {
            None
        })
    }

    /// The frame read by the last successful [`PcapReader::next_frame`] (empty before the first).
    pub fn last_frame(&self) -> CapturedFrame<'_> {
        CapturedFrame {
            time_ns: self.last.0,
            linktype: self.linktype,
            data: &self.buf,
            orig_len: self.last.1,
        }
    }

    /// Reads the next record into the buffer; `false` at the end of the file.
    pub(crate) fn advance(&mut self) -> Result<bool, RtpError> {
        let mut rh = [0u8; 16];
        if !read_full(&mut self.inner, &mut rh, "pcap record header")? {
            return Ok(false);
        }
        let sec = u64::from(self.u32_at(&rh, 0));
        let sub = u64::from(self.u32_at(&rh, 4));
        let incl = self.u32_at(&rh, 8) as usize;
        let orig_len = self.u32_at(&rh, 12);
        if incl > MAX_FRAME_LEN {
            return Err(RtpError::malformed(
                "pcap record",
                "captured length above 256 KiB",
            ));
        }
        self.buf.resize(incl, 0);
        if !read_full(&mut self.inner, &mut self.buf, "pcap record data")? && incl > 0 {
            return Err(RtpError::truncated("pcap record data", incl, 0));
        }
        let time_ns = sec * 1_000_000_000 + if self.nanos { sub } else { sub * 1000 };
        self.last = (time_ns, orig_len);
        Ok(true)
    }
}

/// Writer of classic pcap files (nanosecond magic, LINKTYPE_RAW).
///
/// ```
/// use tutti_rtp::{CaptureReader, PcapWriter};
/// let mut w = PcapWriter::new(Vec::new()).unwrap();
/// w.write_udp(1_500_000_000, "10.0.0.1:5004".parse().unwrap(), "10.0.0.2:5006".parse().unwrap(), b"hi").unwrap();
/// let bytes = w.into_inner();
/// let mut r = CaptureReader::new(&bytes[..]).unwrap();
/// let d = r.next_udp().unwrap().unwrap();
/// assert_eq!((d.time_ns, d.payload), (1_500_000_000, &b"hi"[..]));
/// ```
#[derive(Debug)]
pub struct PcapWriter<W: Write> {
    inner: W,
    scratch: Vec<u8>,
    linktype: u32,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the file header.
    ///
    /// # Errors
    /// [`RtpError::Io`].
    pub fn new(inner: W) -> Result<Self, RtpError> {
        Self::with_linktype(inner, LINKTYPE_RAW)
    }

    /// Writes the file header for frames of `linktype` (use [`PcapWriter::write_frame`] for other link
    /// types than raw IP, e.g. to rewrite a capture).
    ///
    /// # Errors
    /// [`RtpError::Io`].
    pub fn with_linktype(mut inner: W, linktype: u32) -> Result<Self, RtpError> {
        let mut h = [0u8; 24];
        h[0..4].copy_from_slice(&0xa1b2_3c4du32.to_le_bytes());
        h[4..6].copy_from_slice(&2u16.to_le_bytes());
        h[6..8].copy_from_slice(&4u16.to_le_bytes());
        h[16..20].copy_from_slice(&(MAX_FRAME_LEN as u32).to_le_bytes());
        h[20..24].copy_from_slice(&linktype.to_le_bytes());
        inner
            .write_all(&h)
            .map_err(|e| RtpError::io("writing a pcap header", &e))?;
        Ok(Self {
            inner,
            scratch: Vec::with_capacity(1600),
            linktype,
        })
    }

    /// Records one UDP datagram captured at `time_ns` (nanoseconds since the Unix epoch).
    ///
    /// # Errors
    /// [`RtpError::Malformed`] for mixed address families or an oversize payload, [`RtpError::Io`].
    pub fn write_udp(
        &mut self,
        time_ns: u64,
        src: SocketAddr,
        dst: SocketAddr,
        payload: &[u8],
    ) -> Result<(), RtpError> {
        if self.linktype != LINKTYPE_RAW {
            return Err(RtpError::Unsupported {
                what: "write_udp on a non-raw-IP pcap",
                value: u64::from(self.linktype),
            });
        }
        let len = raw_ip_frame_len(&src, payload.len());
        self.scratch.resize(len, 0);
        encode_udp_raw_ip(src, dst, payload, &mut self.scratch)?;
        let frame = std::mem::take(&mut self.scratch);
        let r = self.write_frame(time_ns, &frame);
        self.scratch = frame;
        r
    }

    /// Records one frame of the file's link type captured at `time_ns`.
    ///
    /// # Errors
    /// [`RtpError::Malformed`] for frames above [`MAX_FRAME_LEN`], [`RtpError::Io`].
    pub fn write_frame(&mut self, time_ns: u64, frame: &[u8]) -> Result<(), RtpError> {
        if frame.len() > MAX_FRAME_LEN {
            return Err(RtpError::malformed("pcap record", "frame above 256 KiB"));
        }
        let len = frame.len();
        let mut rh = [0u8; 16];
        rh[0..4].copy_from_slice(&((time_ns / 1_000_000_000) as u32).to_le_bytes());
        rh[4..8].copy_from_slice(&((time_ns % 1_000_000_000) as u32).to_le_bytes());
        rh[8..12].copy_from_slice(&(len as u32).to_le_bytes());
        rh[12..16].copy_from_slice(&(len as u32).to_le_bytes());
        self.inner
            .write_all(&rh)
            .map_err(|e| RtpError::io("writing a pcap record", &e))?;
        self.inner
            .write_all(frame)
            .map_err(|e| RtpError::io("writing a pcap record", &e))
    }

    /// Flushes the underlying writer.
    ///
    /// # Errors
    /// [`RtpError::Io`].
    pub fn flush(&mut self) -> Result<(), RtpError> {
        self.inner
            .flush()
            .map_err(|e| RtpError::io("flushing a pcap file", &e))
    }

    /// Returns the underlying writer.
    pub fn into_inner(self) -> W {
        self.inner
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LINKTYPE_ETHERNET;

    /// The file header carries the link type the writer was created with, and a reader sees it again.
    #[test]
    fn header_records_the_link_type() {
        for lt in [LINKTYPE_RAW, LINKTYPE_ETHERNET] {
            let mut w = PcapWriter::with_linktype(Vec::new(), lt).unwrap();
            w.write_frame(1_000, &[0u8; 14]).unwrap();
            w.flush().unwrap();
            let bytes = w.into_inner();
            assert_eq!(
                u32::from_le_bytes([bytes[20], bytes[21], bytes[22], bytes[23]]),
                lt
            );
            let r = PcapReader::new(&bytes[..]).unwrap();
            assert_eq!(r.linktype(), lt);
        }
    }
}
