//! Keyed, consistent anonymisation of RTP/RTCP captures (`tutti pcap anonymise`).
//!
//! # What
//! Rewrites a capture so that it can be shared for analysis without identifying the parties: IP
//! addresses, UDP ports, RTP SSRCs and CSRCs, every SSRC inside RTCP (SR/RR report blocks, SDES chunks,
//! BYE, APP, feedback, XR blocks) and the SDES items (CNAME, NAME, EMAIL, PHONE, …) are replaced by keyed
//! pseudonyms. The same value always maps to the same pseudonym under one key, so streams, RTCP
//! associations and RTP/RTCP port pairs stay linked inside the capture (and across captures anonymised with
//! the same key). With `--drop-payload` the media payload (and RTCP APP data) is overwritten with zeros:
//! sizes and timing are kept for analysis, the content is gone. Datagrams that are neither RTP nor RTCP
//! (SIP, STUN, …) carry identities in ways this tool does not parse, so they are dropped and counted, as
//! are non-UDP frames and IP fragments.
//!
//! # How
//! Pseudonyms come from HMAC-SHA-256 under the key with a domain byte per kind of field. IPv4 addresses
//! map into 10.0.0.0/8, IPv6 into fd00::/8 (private ranges, so a pseudonym is never someone's real public
//! address); ports map into 1024–65535 keeping their parity (RTP even, RTCP = RTP + 1); SDES text is
//! replaced by hex digits of the same length so packet layouts and lengths are unchanged. The output is a
//! raw-IP pcap (LINKTYPE_RAW) with fresh IP/UDP headers and checksums.
//!
//! # Real-time safety
//! None: an offline file tool.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tutti_rtp::{classify, PacketKind};

type HmacSha256 = Hmac<Sha256>;

/// What [`Anonymiser::datagram`] did with one datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// An RTP packet, rewritten.
    Rtp,
    /// An RTCP compound packet, rewritten.
    Rtcp,
    /// Not RTP/RTCP, or malformed: to be dropped.
    Dropped,
}

/// Counts of an anonymisation run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AnonStats {
    /// RTP packets written.
    pub rtp: u64,
    /// RTCP packets written.
    pub rtcp: u64,
    /// UDP datagrams dropped (not RTP/RTCP, or malformed).
    pub dropped_udp: u64,
    /// Frames dropped because they are not UDP or are IP fragments.
    pub dropped_other: u64,
}

/// Keyed pseudonymisation of addresses, ports, SSRCs and SDES text.
#[derive(Clone)]
pub struct Anonymiser {
    mac: HmacSha256,
    drop_payload: bool,
}

impl std::fmt::Debug for Anonymiser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Anonymiser")
            .field("drop_payload", &self.drop_payload)
            .finish_non_exhaustive()
    }
}

const D_IP: u8 = 1;
const D_PORT: u8 = 2;
const D_SSRC: u8 = 3;
const D_TEXT: u8 = 4;

impl Anonymiser {
    /// An anonymiser under `key`; `drop_payload` zeroes media payloads.
    pub fn new(key: &[u8; 32], drop_payload: bool) -> Self {
        Self {
            mac: HmacSha256::new_from_slice(key).expect("HMAC accepts any key length"),
            drop_payload,
        }
    }

    fn prf(&self, domain: u8, data: &[u8]) -> [u8; 32] {
        let mut m = self.mac.clone();
        m.update(&[domain]);
        m.update(data);
        m.finalize().into_bytes().into()
    }

    /// The pseudonym of an SSRC/CSRC.
    pub fn ssrc(&self, ssrc: u32) -> u32 {
        let h = self.prf(D_SSRC, &ssrc.to_be_bytes());
        u32::from_be_bytes([h[0], h[1], h[2], h[3]])
    }

    /// The pseudonym of an IP address (IPv4 → 10/8, IPv6 → fd00::/8).
    pub fn ip(&self, ip: IpAddr) -> IpAddr {
        match ip {
            IpAddr::V4(a) => {
                let h = self.prf(D_IP, &a.octets());
                IpAddr::V4(Ipv4Addr::new(10, h[0], h[1], h[2].max(1)))
            }
            IpAddr::V6(a) => {
                let h = self.prf(D_IP, &a.octets());
                let mut o = [0u8; 16];
                o[0] = 0xfd;
                o[1..].copy_from_slice(&h[..15]);
                IpAddr::V6(Ipv6Addr::from(o))
            }
        }
    }

    /// The pseudonym of a UDP port: in 1024..=65535 with the same parity, so `p` and `p + 1` (for even `p`)
    /// stay neighbours.
    pub fn port(&self, port: u16) -> u16 {
        let h = self.prf(D_PORT, &(port >> 1).to_be_bytes());
        let pair = u16::from_be_bytes([h[0], h[1]]) % 32256;
        1024 + 2 * pair + (port & 1)
    }

    /// The pseudonym of a socket address.
    pub fn addr(&self, a: SocketAddr) -> SocketAddr {
        SocketAddr::new(self.ip(a.ip()), self.port(a.port()))
    }

    fn text(&self, data: &mut [u8]) {
        let h = self.prf(D_TEXT, data);
        const HEX: &[u8; 16] = b"0123456789abcdef";
        for (i, b) in data.iter_mut().enumerate() {
            let byte = h[(i / 2) % 32];
            *b = HEX[usize::from(if i % 2 == 0 { byte >> 4 } else { byte & 15 })];
        }
    }

    fn swap_ssrc(&self, buf: &mut [u8], at: usize) -> Option<()> {
        let f = buf.get_mut(at..at + 4)?;
        let v = u32::from_be_bytes([f[0], f[1], f[2], f[3]]);
        f.copy_from_slice(&self.ssrc(v).to_be_bytes());
        Some(())
    }

    /// Rewrites one UDP payload in place; returns what it was.
    pub fn datagram(&self, buf: &mut [u8]) -> Verdict {
        match classify(buf) {
            PacketKind::Rtp => match self.rtp(buf) {
                Some(()) => Verdict::Rtp,
                None => Verdict::Dropped,
            },
            PacketKind::Rtcp => match self.rtcp(buf) {
                Some(()) => Verdict::Rtcp,
                None => Verdict::Dropped,
            },
            _ => Verdict::Dropped,
        }
    }

    fn rtp(&self, buf: &mut [u8]) -> Option<()> {
        let header = tutti_rtp::rtp_header_len(buf).ok()?;
        let cc = usize::from(buf[0] & 0x0f);
        self.swap_ssrc(buf, 8)?;
        for i in 0..cc {
            self.swap_ssrc(buf, 12 + 4 * i)?;
        }
        if self.drop_payload {
            let pad = if buf[0] & 0x20 != 0 {
                usize::from(*buf.last()?)
            } else {
                0
            };
            let end = buf.len().checked_sub(pad)?;
            buf.get_mut(header..end)?.fill(0);
        }
        Some(())
    }

    fn rtcp(&self, buf: &mut [u8]) -> Option<()> {
        let mut off = 0;
        while off < buf.len() {
            let len = 4 * (usize::from(u16::from_be_bytes([*buf.get(off + 2)?, *buf.get(off + 3)?])) + 1);
            let pkt = buf.get_mut(off..off + len)?;
            if pkt[0] >> 6 != 2 {
                return None;
            }
            let count = usize::from(pkt[0] & 0x1f);
            let body_end = if pkt[0] & 0x20 != 0 {
                len.checked_sub(usize::from(pkt[len - 1]))?
            } else {
                len
            };
            match pkt[1] {
                200 | 201 => {
                    self.swap_ssrc(pkt, 4)?;
                    let first = if pkt[1] == 200 { 28 } else { 8 };
                    for i in 0..count {
                        self.swap_ssrc(pkt, first + 24 * i)?;
                    }
                }
                202 => self.sdes(&mut pkt[..body_end], count)?,
                203 => {
                    for i in 0..count {
                        self.swap_ssrc(pkt, 4 + 4 * i)?;
                    }
                    let r = 4 + 4 * count;
                    if r < body_end {
                        let n = usize::from(pkt[r]);
                        self.text(pkt.get_mut(r + 1..r + 1 + n)?);
                    }
                }
                204 => {
                    self.swap_ssrc(pkt, 4)?;
                    if self.drop_payload {
                        pkt.get_mut(12..body_end)?.fill(0);
                    }
                }
                205 | 206 => {
                    self.swap_ssrc(pkt, 4)?;
                    self.swap_ssrc(pkt, 8)?;
                }
                207 => {
                    self.swap_ssrc(pkt, 4)?;
                    let mut b = 8;
                    while b + 4 <= body_end {
                        let bt = pkt[b];
                        let blen = 4 * (usize::from(u16::from_be_bytes([pkt[b + 2], pkt[b + 3]])) + 1);
                        if (1..=7).contains(&bt) {
                            self.swap_ssrc(pkt, b + 4)?;
                        }
                        b += blen;
                    }
                }
                _ => return None,
            }
            off += len;
        }
        Some(())
    }

    fn sdes(&self, pkt: &mut [u8], count: usize) -> Option<()> {
        let mut p = 4;
        for _ in 0..count {
            self.swap_ssrc(pkt, p)?;
            p += 4;
            loop {
                let ty = *pkt.get(p)?;
                if ty == 0 {
                    p = (p + 4) & !3; // the null item and padding to the next 32-bit boundary
                    break;
                }
                let n = usize::from(*pkt.get(p + 1)?);
                self.text(pkt.get_mut(p + 2..p + 2 + n)?);
                p += 2 + n;
            }
        }
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mappings_are_consistent_keyed_and_in_private_ranges() {
        let a = Anonymiser::new(&[1; 32], false);
        let b = Anonymiser::new(&[2; 32], false);
        assert_eq!(a.ssrc(0x1234_5678), a.ssrc(0x1234_5678));
        assert_ne!(a.ssrc(0x1234_5678), b.ssrc(0x1234_5678));
        assert_ne!(a.ssrc(1), a.ssrc(2));
        let ip: IpAddr = "203.0.113.9".parse().unwrap();
        assert!(matches!(a.ip(ip), IpAddr::V4(v) if v.octets()[0] == 10));
        let ip6: IpAddr = "2001:db8::1".parse().unwrap();
        assert!(matches!(a.ip(ip6), IpAddr::V6(v) if v.octets()[0] == 0xfd));
        for p in [5004u16, 5005, 2006, 2007, 10000] {
            let q = a.port(p);
            assert!(q >= 1024 && q % 2 == p % 2);
        }
        assert_eq!(a.port(5005), a.port(5004) + 1);
    }

    #[test]
    fn rtp_and_rtcp_fields_are_rewritten() {
        let a = Anonymiser::new(&[7; 32], true);
        // RTP with one CSRC, payload "abcd".
        let mut rtp = vec![
            0x81, 0, 0, 1, 0, 0, 0, 160, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 9, b'a', b'b', b'c', b'd',
        ];
        assert_eq!(a.datagram(&mut rtp), Verdict::Rtp);
        assert_eq!(&rtp[8..12], &a.ssrc(0xdead_beef).to_be_bytes());
        assert_eq!(&rtp[12..16], &a.ssrc(9).to_be_bytes());
        assert_eq!(&rtp[16..], &[0, 0, 0, 0]);
        assert_eq!(&rtp[..8], &[0x81, 0, 0, 1, 0, 0, 0, 160]);
        // RR with one block + SDES with CNAME "alice@example.org".
        let mut c = vec![0x81, 201, 0, 7, 0, 0, 0, 1];
        c.extend_from_slice(&[0, 0, 0, 2]);
        c.extend_from_slice(&[0; 20]);
        let cname = b"alice@example.org";
        let mut sdes = vec![0x81, 202, 0, 0, 0, 0, 0, 1, 1, cname.len() as u8];
        sdes.extend_from_slice(cname);
        while sdes.len() % 4 != 0 || sdes.len() < 10 + cname.len() + 1 {
            sdes.push(0);
        }
        let words = (sdes.len() / 4 - 1) as u16;
        sdes[2..4].copy_from_slice(&words.to_be_bytes());
        c.extend_from_slice(&sdes);
        let before = c.clone();
        assert_eq!(a.datagram(&mut c), Verdict::Rtcp);
        assert_eq!(c.len(), before.len());
        assert_eq!(&c[4..8], &a.ssrc(1).to_be_bytes());
        assert_eq!(&c[8..12], &a.ssrc(2).to_be_bytes());
        assert_eq!(&c[36..40], &a.ssrc(1).to_be_bytes());
        let text = &c[42..42 + cname.len()];
        assert!(text.iter().all(u8::is_ascii_hexdigit));
        assert!(!c.windows(5).any(|w| w == b"alice"));
        // SIP and garbage are dropped.
        let mut sip = b"INVITE sip:bob@example.org SIP/2.0\r\n".to_vec();
        assert_eq!(a.datagram(&mut sip), Verdict::Dropped);
        let mut short = vec![0x80, 0];
        assert_eq!(a.datagram(&mut short), Verdict::Dropped);
    }
}
