//! pcapng files: reader.
//!
//! # What
//! [`PcapngReader`] yields [`CapturedFrame`]s from Enhanced Packet Blocks (and the obsolete Packet
//! Block) of a pcapng stream, with per-interface link types and timestamp resolutions, across multiple
//! sections of either byte order.
//!
//! # How
//! Per draft-ietf-opsawg-pcapng: every block is `type, total length, body, total length`. The Section
//! Header Block (`0x0A0D0D0A`) fixes the byte order via its magic `0x1A2B3C4D` and resets interfaces;
//! Interface Description Blocks (type 1) give link type and the `if_tsresol` (option 9: 10^-n, or 2^-n
//! with the MSB set; default µs) and `if_tsoffset` (option 14, seconds) options; Enhanced Packet Blocks
//! (type 6) carry interface id, 64-bit timestamp and data. Simple Packet Blocks (type 3) have no
//! timestamp and are counted in [`PcapngReader::skipped_blocks`] with other unknown blocks.
//!
//! # Real-time safety
//! File driver, not for RT threads; one reused block buffer.

use std::io::Read;

use crate::error::RtpError;
use crate::pcap_file::{read_full, CapturedFrame, MAX_FRAME_LEN};

const SHB: u32 = 0x0a0d_0d0a;
const BYTE_ORDER_MAGIC: u32 = 0x1a2b_3c4d;
const MAX_BLOCK_LEN: usize = MAX_FRAME_LEN + 65_536;

#[derive(Debug, Clone, Copy)]
struct Interface {
    linktype: u32,
    /// Timestamp units: (numerator ns, denominator) per tick.
    tick_num: u128,
    tick_den: u128,
    offset_s: i64,
}

/// Reader of pcapng streams.
#[derive(Debug)]
pub struct PcapngReader<R> {
    inner: R,
    big_endian: bool,
    interfaces: Vec<Interface>,
    buf: Vec<u8>,
    skipped: u64,
    /// time, linktype, data range, orig_len of the last packet.
    last: (u64, u32, usize, usize, u32),
}

impl<R: Read> PcapngReader<R> {
    /// Reads the first Section Header Block.
    ///
    /// # Errors
    /// [`RtpError::BadVersion`] when the stream does not start with a pcapng SHB, or a read error.
    pub fn new(mut inner: R) -> Result<Self, RtpError> {
        let mut t = [0u8; 4];
        if !read_full(&mut inner, &mut t, "pcapng block")? {
            return Err(RtpError::truncated("pcapng section header", 12, 0));
        }
        Self::after_type(inner, t)
    }

    /// Continues after the 4 type bytes of the first block were read (for format auto-detection).
    pub(crate) fn after_type(inner: R, t: [u8; 4]) -> Result<Self, RtpError> {
        let ty = u32::from_le_bytes(t);
        if ty != SHB {
            return Err(RtpError::BadVersion {
                what: "pcapng magic",
                actual: ty,
            });
        }
        let mut r = Self {
            inner,
            big_endian: false,
            interfaces: Vec::new(),
            buf: Vec::new(),
            skipped: 0,
            last: (0, 0, 0, 0, 0),
        };
        r.read_shb_rest()?;
        Ok(r)
    }

    /// Blocks skipped so far (simple packet blocks, unknown block types, packets of unknown interfaces).
    pub fn skipped_blocks(&self) -> u64 {
        self.skipped
    }

    fn u32_at(&self, b: &[u8], at: usize) -> u32 {
        let a = [b[at], b[at + 1], b[at + 2], b[at + 3]];
        if self.big_endian {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        }
    }

    fn u16_at(&self, b: &[u8], at: usize) -> u16 {
        let a = [b[at], b[at + 1]];
        if self.big_endian {
            u16::from_be_bytes(a)
        } else {
            u16::from_le_bytes(a)
        }
    }

    /// Reads the rest of an SHB whose type word was consumed; sets the byte order.
    fn read_shb_rest(&mut self) -> Result<(), RtpError> {
        let mut h = [0u8; 8];
        if !read_full(&mut self.inner, &mut h, "pcapng section header")? {
            return Err(RtpError::truncated("pcapng section header", 8, 0));
        }
        let magic_le = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
        self.big_endian = match magic_le {
            BYTE_ORDER_MAGIC => false,
            0x4d3c_2b1a => true,
            m => {
                return Err(RtpError::BadVersion {
                    what: "pcapng byte-order magic",
                    actual: m,
                })
            }
        };
        let total = self.u32_at(&h, 0) as usize;
        if total < 28 || total % 4 != 0 || total > MAX_BLOCK_LEN {
            return Err(RtpError::malformed("pcapng section header", "bad block length"));
        }
        self.buf.resize(total - 12, 0);
        if !read_full(&mut self.inner, &mut self.buf, "pcapng section header")? {
            return Err(RtpError::truncated("pcapng section header", total, 12));
        }
        self.interfaces.clear();
        Ok(())
    }

    fn parse_idb(&mut self, body: std::ops::Range<usize>) -> Result<(), RtpError> {
        let b = &self.buf[body];
        if b.len() < 8 {
            return Err(RtpError::truncated("pcapng interface block", 8, b.len()));
        }
        let mut itf = Interface {
            linktype: u32::from(self.u16_at(b, 0)),
            tick_num: 1000,
            tick_den: 1,
            offset_s: 0,
        };
        let mut off = 8;
        while off + 4 <= b.len() {
            let code = self.u16_at(b, off);
            let len = usize::from(self.u16_at(b, off + 2));
            let v = off + 4;
            if v + len > b.len() {
                return Err(RtpError::truncated("pcapng option", v + len, b.len()));
            }
            match code {
                0 => break,
                9 if len >= 1 => {
                    let r = b[v];
                    let e = u32::from(r & 0x7f);
                    if r & 0x80 == 0 {
                        if e > 38 {
                            return Err(RtpError::malformed("pcapng if_tsresol", "exponent above 38"));
                        }
                        // 10^-e seconds per tick = 10^9 / 10^e ns.
                        itf.tick_num = 1_000_000_000;
                        itf.tick_den = 10u128.pow(e);
                    } else {
                        if e > 120 {
                            return Err(RtpError::malformed("pcapng if_tsresol", "exponent above 120"));
                        }
                        itf.tick_num = 1_000_000_000;
                        itf.tick_den = 1u128 << e.min(127);
                    }
                }
                14 if len >= 8 => {
                    let mut a = [0u8; 8];
                    a.copy_from_slice(&b[v..v + 8]);
                    itf.offset_s = if self.big_endian {
                        i64::from_be_bytes(a)
                    } else {
                        i64::from_le_bytes(a)
                    };
                }
                _ => {}
            }
            off = v + len.div_ceil(4) * 4;
        }
        self.interfaces.push(itf);
        Ok(())
    }

    /// The next packet frame, or `None` at the end of the stream.
    ///
    /// # Errors
    /// [`RtpError::Truncated`]/[`RtpError::Malformed`] for broken blocks, [`RtpError::Io`].
    pub fn next_frame(&mut self) -> Result<Option<CapturedFrame<'_>>, RtpError> {
        Ok(if self.advance()? {
            Some(self.last_frame())
        } else {
            None
        })
    }

    /// The frame read by the last successful [`PcapngReader::next_frame`] (empty before the first).
    pub fn last_frame(&self) -> CapturedFrame<'_> {
        let (time_ns, linktype, a, b, orig_len) = self.last;
        CapturedFrame {
            time_ns,
            linktype,
            data: &self.buf[a..b],
            orig_len,
        }
    }

    /// Reads up to the next packet block; `false` at the end of the stream.
    pub(crate) fn advance(&mut self) -> Result<bool, RtpError> {
        loop {
            let mut h = [0u8; 8];
            if !read_full(&mut self.inner, &mut h, "pcapng block header")? {
                return Ok(false);
            }
            let ty_le = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
            if ty_le == SHB {
                // Re-read from the length word: a new section (possibly another byte order).
                let mut rest = [0u8; 4];
                if !read_full(&mut self.inner, &mut rest, "pcapng section header")? {
                    return Err(RtpError::truncated("pcapng section header", 12, 8));
                }
                let magic_le = u32::from_le_bytes(rest);
                self.big_endian = match magic_le {
                    BYTE_ORDER_MAGIC => false,
                    0x4d3c_2b1a => true,
                    m => {
                        return Err(RtpError::BadVersion {
                            what: "pcapng byte-order magic",
                            actual: m,
                        })
                    }
                };
                let total = self.u32_at(&h, 4) as usize;
                if total < 28 || total % 4 != 0 || total > MAX_BLOCK_LEN {
                    return Err(RtpError::malformed("pcapng section header", "bad block length"));
                }
                self.last = (0, 0, 0, 0, 0);
                self.buf.resize(total - 12, 0);
                if !read_full(&mut self.inner, &mut self.buf, "pcapng section header")? {
                    return Err(RtpError::truncated("pcapng section header", total, 12));
                }
                self.interfaces.clear();
                continue;
            }
            let ty = self.u32_at(&h, 0);
            let total = self.u32_at(&h, 4) as usize;
            if total < 12 || total % 4 != 0 || total > MAX_BLOCK_LEN {
                return Err(RtpError::malformed("pcapng block", "bad block length"));
            }
            self.last = (0, 0, 0, 0, 0);
            self.buf.resize(total - 8, 0);
            if !read_full(&mut self.inner, &mut self.buf, "pcapng block")? {
                return Err(RtpError::truncated("pcapng block", total, 8));
            }
            let body_len = total - 12;
            if self.u32_at(&self.buf, body_len) as usize != total {
                return Err(RtpError::malformed("pcapng block", "trailing length differs"));
            }
            match ty {
                1 => self.parse_idb(0..body_len)?,
                6 | 2 => {
                    let b = &self.buf[..body_len];
                    if b.len() < 20 {
                        return Err(RtpError::truncated("pcapng packet block", 20, b.len()));
                    }
                    let iface = if ty == 6 {
                        self.u32_at(b, 0) as usize
                    } else {
                        usize::from(self.u16_at(b, 0))
                    };
                    let ts = (u64::from(self.u32_at(b, 4)) << 32) | u64::from(self.u32_at(b, 8));
                    let cap = self.u32_at(b, 12) as usize;
                    let orig_len = self.u32_at(b, 16);
                    if 20 + cap > b.len() {
                        return Err(RtpError::truncated("pcapng packet data", 20 + cap, b.len()));
                    }
                    let Some(itf) = self.interfaces.get(iface).copied() else {
                        self.skipped += 1;
                        continue;
                    };
                    let ns = u128::from(ts) * itf.tick_num / itf.tick_den;
                    let ns = ns as i128 + i128::from(itf.offset_s) * 1_000_000_000;
                    let time_ns = ns.clamp(0, i128::from(u64::MAX)) as u64;
                    self.last = (time_ns, itf.linktype, 20, 20 + cap, orig_len);
                    return Ok(true);
                }
                _ => self.skipped += 1,
            }
        }
    }
}
