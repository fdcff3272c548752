//! Ogg pages (RFC 3533): packet framing, granule positions and the page CRC.
//!
//! # What
//! [`OggPageWriter`] packs packets of one logical stream into pages; [`OggPacketReader`] checks pages
//! (capture pattern, version, CRC) and reassembles the packets of the first logical stream, each with
//! the granule position of the page on which it ends.
//!
//! # How
//! RFC 3533 §6: a 27-byte header (`OggS`, version 0, flags continued/BOS/EOS, 64-bit granule, serial,
//! sequence number, CRC-32, segment count) and a lacing table of up to 255 values; a packet is a run of
//! 255-valued lacings closed by one < 255. The CRC is the direct (non-reflected) CRC-32 with polynomial
//! 0x04C11DB7, initial value 0 and no final XOR, computed with the CRC field zeroed.
//!
//! # Real-time safety
//! File-side code (allocates); not for the real-time path.

use crate::CodecError;

const CRC_TABLE: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut r = (i as u32) << 24;
        let mut k = 0;
        while k < 8 {
            r = if r & 0x8000_0000 != 0 {
                (r << 1) ^ 0x04C1_1DB7
            } else {
                r << 1
            };
            k += 1;
        }
        t[i] = r;
        i += 1;
    }
    t
};

/// The Ogg page checksum of `data`.
pub fn ogg_crc(data: &[u8]) -> u32 {
    let mut crc = 0u32;
    for &b in data {
        crc = (crc << 8) ^ CRC_TABLE[((crc >> 24) as u8 ^ b) as usize];
    }
    crc
}

const FLAG_CONTINUED: u8 = 0x01;
const FLAG_BOS: u8 = 0x02;
const FLAG_EOS: u8 = 0x04;

/// Writes the pages of one logical Ogg stream into a byte vector.
#[derive(Debug, Clone)]
pub struct OggPageWriter {
    serial: u32,
    sequence: u32,
    out: Vec<u8>,
    lacing: Vec<u8>,
    body: Vec<u8>,
    granule: i64,
    first: bool,
}

impl OggPageWriter {
    /// A writer for stream `serial`.
    pub fn new(serial: u32) -> Self {
        Self {
            serial,
            sequence: 0,
            out: Vec::new(),
            lacing: Vec::new(),
            body: Vec::new(),
            granule: 0,
            first: true,
        }
    }

    /// Adds a packet ending at `granule`; with `flush` the page is closed after it. A page is also
    /// closed before a packet that would not fit in its 255 lacing values. Packets must be shorter than
    /// 65 025 bytes (one page; Opus packets are at most a few kB).
    pub fn add_packet(&mut self, packet: &[u8], granule: i64, flush: bool) -> Result<(), CodecError> {
        let segs = packet.len() / 255 + 1;
        if segs > 255 {
            return Err(CodecError::Ogg {
                detail: "packet too large for one Ogg page",
                offset: self.out.len(),
            });
        }
        if self.lacing.len() + segs > 255 {
            self.flush_page(false);
        }
        let full = self.lacing.len() + packet.len() / 255;
        self.lacing.resize(full, 255);
        self.lacing.push((packet.len() % 255) as u8);
        self.body.extend_from_slice(packet);
        self.granule = granule;
        if flush {
            self.flush_page(false);
        }
        Ok(())
    }

    fn flush_page(&mut self, eos: bool) {
        if self.lacing.is_empty() && !eos {
            return;
        }
        let start = self.out.len();
        let mut flags = 0u8;
        if self.first {
            flags |= FLAG_BOS;
            self.first = false;
        }
        if eos {
            flags |= FLAG_EOS;
        }
        self.out.extend_from_slice(b"OggS");
        self.out.push(0);
        self.out.push(flags);
        self.out.extend_from_slice(&self.granule.to_le_bytes());
        self.out.extend_from_slice(&self.serial.to_le_bytes());
        self.out.extend_from_slice(&self.sequence.to_le_bytes());
        self.out.extend_from_slice(&[0; 4]);
        self.out.push(self.lacing.len() as u8);
        self.out.extend_from_slice(&self.lacing);
        self.out.extend_from_slice(&self.body);
        let crc = ogg_crc(&self.out[start..]);
        self.out[start + 22..start + 26].copy_from_slice(&crc.to_le_bytes());
        self.sequence += 1;
        self.lacing.clear();
        self.body.clear();
    }

    /// Closes the stream (the last page carries the EOS flag) and returns the bytes.
    pub fn finish(mut self) -> Vec<u8> {
        self.flush_page(true);
        self.out
    }
}

/// One packet read from an Ogg stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OggPacket {
    /// The packet bytes.
    pub data: Vec<u8>,
    /// Granule position of the page on which the packet ends (−1 when that page ends no packet).
    pub granule: i64,
    /// True when the packet ends on the stream's last (EOS) page.
    pub eos: bool,
}

/// Reads every packet of the first logical stream in `bytes`, checking each page's CRC.
#[derive(Debug, Clone, Copy)]
pub struct OggPacketReader;

impl OggPacketReader {
    /// Parses `bytes`; errors name the byte offset of the bad page.
    pub fn read(bytes: &[u8]) -> Result<Vec<OggPacket>, CodecError> {
        let err = |detail, offset| CodecError::Ogg { detail, offset };
        let mut packets = Vec::new();
        let mut partial: Vec<u8> = Vec::new();
        let mut have_partial = false;
        let mut serial: Option<u32> = None;
        let mut pos = 0;
        while pos < bytes.len() {
            let h = bytes
                .get(pos..pos + 27)
                .ok_or(err("truncated page header", pos))?;
            if &h[..4] != b"OggS" {
                return Err(err("missing OggS capture pattern", pos));
            }
            if h[4] != 0 {
                return Err(err("unsupported Ogg version", pos + 4));
            }
            let flags = h[5];
            let granule = i64::from_le_bytes(h[6..14].try_into().expect("slice of 8 bytes"));
            let page_serial = u32::from_le_bytes(h[14..18].try_into().expect("slice of 4 bytes"));
            let crc = u32::from_le_bytes(h[22..26].try_into().expect("slice of 4 bytes"));
            let nseg = h[26] as usize;
            let lacing = bytes
                .get(pos + 27..pos + 27 + nseg)
                .ok_or(err("truncated lacing table", pos + 27))?;
            let body_len: usize = lacing.iter().map(|&l| l as usize).sum();
            let page_end = pos + 27 + nseg + body_len;
            let page = bytes.get(pos..page_end).ok_or(err("truncated page body", pos))?;
            let mut check = page.to_vec();
            check[22..26].fill(0);
            if ogg_crc(&check) != crc {
                return Err(err("page CRC mismatch", pos));
            }
            let s = *serial.get_or_insert(page_serial);
            if s == page_serial {
                if flags & FLAG_CONTINUED == 0 && have_partial {
                    return Err(err("packet continues on a page not flagged as continued", pos));
                }
                if flags & FLAG_CONTINUED != 0 && !have_partial && packets.is_empty() {
                    return Err(err("first page continues a packet", pos));
                }
                let mut body = &page[27 + nseg..];
                let mut ended_here = Vec::new();
                for &l in lacing {
                    let (chunk, rest) = body.split_at(l as usize);
                    partial.extend_from_slice(chunk);
                    have_partial = true;
                    body = rest;
                    if l < 255 {
                        ended_here.push(std::mem::take(&mut partial));
                        have_partial = false;
                    }
                }
                let eos = flags & FLAG_EOS != 0;
                for data in ended_here {
                    packets.push(OggPacket { data, granule, eos });
                }
                if eos {
                    break;
                }
            }
            pos = page_end;
        }
        if have_partial {
            return Err(err("stream ends inside a packet", bytes.len()));
        }
        Ok(packets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_of_known_page() {
        // CRC-32/MPEG-2 without the final inversion and init 0 (the "Ogg" CRC) of "123456789".
        assert_eq!(ogg_crc(b"123456789"), 0x89A1_897F);
    }

    #[test]
    fn write_read_round_trip_with_large_and_exact_multiple_packets() {
        let mut w = OggPageWriter::new(7);
        let pkts: Vec<Vec<u8>> = vec![vec![1; 19], vec![2; 255], vec![3; 0], vec![4; 600], vec![5; 510]];
        for (i, p) in pkts.iter().enumerate() {
            w.add_packet(p, i as i64 * 960, i == 0).unwrap();
        }
        for i in 0..300 {
            w.add_packet(&[i as u8; 100], 10_000 + i, false).unwrap();
        }
        let bytes = w.finish();
        let got = OggPacketReader::read(&bytes).unwrap();
        assert_eq!(got.len(), pkts.len() + 300);
        for (g, p) in got.iter().zip(&pkts) {
            assert_eq!(&g.data, p);
        }
        assert!(got.last().unwrap().eos);
        assert_eq!(got.last().unwrap().granule, 10_299);
        // Corrupt one byte: CRC error naming a page offset.
        let mut bad = bytes.clone();
        bad[40] ^= 1;
        assert!(matches!(OggPacketReader::read(&bad), Err(CodecError::Ogg { .. })));
    }
}
