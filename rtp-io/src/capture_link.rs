//! Link-layer, IP and UDP decoding/encoding of captured frames.
//!
//! # What
//! [`decode_frame`] turns one captured frame of a given pcap link type into a UDP datagram view
//! ([`UdpDatagram`]) or says why it is not one ([`FrameKind`]). [`encode_udp_raw_ip`] builds the raw-IP
//! frame the pcap writer records.
//!
//! # How
//! Link types from the tcpdump.org LINKTYPE registry: NULL (0, host-order AF), ETHERNET (1, with
//! 802.1Q/802.1ad tags), RAW (101, also 12/14), LOOP (108, network-order AF), LINUX_SLL (113),
//! LINUX_SLL2 (276), IPV4 (228), IPV6 (229). IPv4 per RFC 791 (IHL, total length, fragments: MF or
//! offset ≠ 0 are reported as [`FrameKind::Fragment`], not reassembled); IPv6 per RFC 8200 (hop-by-hop,
//! routing and destination-options headers skipped, fragment header reported as a fragment); UDP per
//! RFC 768 (length field bounds the payload). Checksums are not verified (captures often hold
//! offloaded, not-yet-computed checksums); the writer computes them (RFC 1071).
//!
//! # Real-time safety
//! Decoding is allocation-free; it is used on the capture-reading path, not on an RT thread.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::error::RtpError;

/// LINKTYPE_NULL (BSD loopback, host byte order family).
pub const LINKTYPE_NULL: u32 = 0;
/// LINKTYPE_ETHERNET.
pub const LINKTYPE_ETHERNET: u32 = 1;
/// LINKTYPE_RAW (raw IPv4/IPv6).
pub const LINKTYPE_RAW: u32 = 101;
/// LINKTYPE_LOOP (OpenBSD loopback, network byte order family).
pub const LINKTYPE_LOOP: u32 = 108;
/// LINKTYPE_LINUX_SLL (Linux cooked capture v1).
pub const LINKTYPE_LINUX_SLL: u32 = 113;
/// LINKTYPE_IPV4.
pub const LINKTYPE_IPV4: u32 = 228;
/// LINKTYPE_IPV6.
pub const LINKTYPE_IPV6: u32 = 229;
/// LINKTYPE_LINUX_SLL2 (Linux cooked capture v2).
pub const LINKTYPE_LINUX_SLL2: u32 = 276;

/// One UDP datagram found in a capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpDatagram<'a> {
    /// Capture time in nanoseconds since the Unix epoch (the arrival time of the packet).
    pub time_ns: u64,
    /// Source address and port.
    pub src: SocketAddr,
    /// Destination address and port.
    pub dst: SocketAddr,
    /// The UDP payload.
    pub payload: &'a [u8],
}

impl UdpDatagram<'_> {
    /// Capture time in microseconds since the Unix epoch.
    pub fn time_us(&self) -> u64 {
        self.time_ns / 1000
    }
}

/// What a captured frame turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind<'a> {
    /// A complete UDP datagram (time is 0 here; readers fill it in).
    Udp(UdpDatagram<'a>),
    /// An IPv4 or IPv6 fragment (not reassembled).
    Fragment,
    /// IP but not UDP, or a non-IP link-layer protocol (ARP, …).
    NotUdp,
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn need(b: &[u8], n: usize, what: &'static str) -> Result<(), RtpError> {
    if b.len() < n {
        Err(RtpError::truncated(what, n, b.len()))
    } else {
        Ok(())
    }
}

/// Decodes one captured frame of link type `linktype`.
///
/// # Errors
/// [`RtpError::Truncated`]/[`RtpError::Malformed`] for broken headers, [`RtpError::Unsupported`] for
/// an unknown link type.
pub fn decode_frame(linktype: u32, frame: &[u8]) -> Result<FrameKind<'_>, RtpError> {
    match linktype {
        LINKTYPE_NULL | LINKTYPE_LOOP => {
            need(frame, 4, "loopback header")?;
            let raw = [frame[0], frame[1], frame[2], frame[3]];
            // Family is host order for NULL and network order for LOOP; accept either (values are small).
            let fam = if linktype == LINKTYPE_LOOP {
                u32::from_be_bytes(raw)
            } else {
                let le = u32::from_le_bytes(raw);
                if le < 0x1_0000 {
                    le
                } else {
                    u32::from_be_bytes(raw)
                }
            };
            match fam {
                2 => decode_ipv4(&frame[4..]),
                10 | 24 | 28 | 30 => decode_ipv6(&frame[4..]),
                _ => Ok(FrameKind::NotUdp),
            }
        }
        LINKTYPE_ETHERNET => {
            need(frame, 14, "Ethernet header")?;
            let mut off = 12;
            let mut ethertype = be16(frame, off);
            while ethertype == 0x8100 || ethertype == 0x88a8 || ethertype == 0x9100 {
                off += 4;
                need(frame, off + 2, "802.1Q tag")?;
                ethertype = be16(frame, off);
            }
            decode_ethertype(ethertype, &frame[off + 2..])
        }
        LINKTYPE_RAW | 12 | 14 => decode_ip(frame),
        LINKTYPE_IPV4 => decode_ipv4(frame),
        LINKTYPE_IPV6 => decode_ipv6(frame),
        LINKTYPE_LINUX_SLL => {
            need(frame, 16, "Linux cooked header")?;
            decode_ethertype(be16(frame, 14), &frame[16..])
        }
        LINKTYPE_LINUX_SLL2 => {
            need(frame, 20, "Linux cooked v2 header")?;
            decode_ethertype(be16(frame, 0), &frame[20..])
        }
        other => Err(RtpError::Unsupported {
            what: "pcap link type",
            value: u64::from(other),
        }),
    }
}

fn decode_ethertype(ethertype: u16, rest: &[u8]) -> Result<FrameKind<'_>, RtpError> {
    match ethertype {
        0x0800 => decode_ipv4(rest),
        0x86dd => decode_ipv6(rest),
        _ => Ok(FrameKind::NotUdp),
    }
}

fn decode_ip(p: &[u8]) -> Result<FrameKind<'_>, RtpError> {
    need(p, 1, "IP header")?;
    match p[0] >> 4 {
        4 => decode_ipv4(p),
        6 => decode_ipv6(p),
        v => Err(RtpError::BadVersion {
            what: "IP",
            actual: u32::from(v),
        }),
    }
}

fn decode_ipv4(p: &[u8]) -> Result<FrameKind<'_>, RtpError> {
    need(p, 20, "IPv4 header")?;
    if p[0] >> 4 != 4 {
        return Err(RtpError::BadVersion {
            what: "IPv4",
            actual: u32::from(p[0] >> 4),
        });
    }
    let ihl = usize::from(p[0] & 0x0f) * 4;
    if ihl < 20 {
        return Err(RtpError::malformed("IPv4 header", "IHL below 5"));
    }
    let total = usize::from(be16(p, 2));
    if total < ihl {
        return Err(RtpError::malformed(
            "IPv4 header",
            "total length below header length",
        ));
    }
    need(p, total, "IPv4 packet")?;
    let frag = be16(p, 6);
    if frag & 0x2000 != 0 || frag & 0x1fff != 0 {
        return Ok(FrameKind::Fragment);
    }
    if p[9] != 17 {
        return Ok(FrameKind::NotUdp);
    }
    let src = IpAddr::V4(Ipv4Addr::new(p[12], p[13], p[14], p[15]));
    let dst = IpAddr::V4(Ipv4Addr::new(p[16], p[17], p[18], p[19]));
    decode_udp(src, dst, &p[ihl..total])
}

fn decode_ipv6(p: &[u8]) -> Result<FrameKind<'_>, RtpError> {
    need(p, 40, "IPv6 header")?;
    if p[0] >> 4 != 6 {
        return Err(RtpError::BadVersion {
            what: "IPv6",
            actual: u32::from(p[0] >> 4),
        });
    }
    let plen = usize::from(be16(p, 4));
    need(p, 40 + plen, "IPv6 packet")?;
    let mut a = [0u8; 16];
    a.copy_from_slice(&p[8..24]);
    let src = IpAddr::V6(Ipv6Addr::from(a));
    a.copy_from_slice(&p[24..40]);
    let dst = IpAddr::V6(Ipv6Addr::from(a));
    let body = &p[40..40 + plen];
    let mut next = p[6];
    let mut off = 0;
    loop {
        match next {
            17 => return decode_udp(src, dst, &body[off..]),
            44 => return Ok(FrameKind::Fragment),
            0 | 43 | 60 => {
                need(&body[off..], 2, "IPv6 extension header")?;
                let len = 8 + 8 * usize::from(body[off + 1]);
                need(&body[off..], len, "IPv6 extension header")?;
                next = body[off];
                off += len;
            }
            _ => return Ok(FrameKind::NotUdp),
        }
    }
}

fn decode_udp(src: IpAddr, dst: IpAddr, u: &[u8]) -> Result<FrameKind<'_>, RtpError> {
    need(u, 8, "UDP header")?;
    let len = usize::from(be16(u, 4));
    if len < 8 {
        return Err(RtpError::malformed("UDP header", "length below 8"));
    }
    need(u, len, "UDP datagram")?;
    Ok(FrameKind::Udp(UdpDatagram {
        time_ns: 0,
        src: SocketAddr::new(src, be16(u, 0)),
        dst: SocketAddr::new(dst, be16(u, 2)),
        payload: &u[8..len],
    }))
}

/// RFC 1071 one's-complement sum (not yet folded/inverted).
fn sum16(mut acc: u32, data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        acc += u32::from(*last) << 8;
    }
    acc
}

fn fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// Length of the raw-IP frame [`encode_udp_raw_ip`] writes for a payload of `payload_len` bytes.
pub fn raw_ip_frame_len(src: &SocketAddr, payload_len: usize) -> usize {
    (if src.is_ipv4() { 20 } else { 40 }) + 8 + payload_len
}

/// Writes an IPv4 or IPv6 + UDP frame (LINKTYPE_RAW) carrying `payload` into `out`; returns its length.
///
/// # Errors
/// [`RtpError::Malformed`] for mixed address families or a payload too long for one datagram,
/// [`RtpError::BufferTooSmall`] when `out` is short.
pub fn encode_udp_raw_ip(
    src: SocketAddr,
    dst: SocketAddr,
    payload: &[u8],
    out: &mut [u8],
) -> Result<usize, RtpError> {
    let udp_len = 8 + payload.len();
    if udp_len > 0xffff - 20 {
        return Err(RtpError::malformed(
            "UDP datagram",
            "payload longer than 65507 bytes",
        ));
    }
    let total = raw_ip_frame_len(&src, payload.len());
    if out.len() < total {
        return Err(RtpError::BufferTooSmall {
            needed: total,
            actual: out.len(),
        });
    }
    let (ip_len, pseudo) = match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let h = &mut out[..20];
            h.fill(0);
            h[0] = 0x45;
            h[2..4].copy_from_slice(&((20 + udp_len) as u16).to_be_bytes());
            h[6] = 0x40; // DF
            h[8] = 64;
            h[9] = 17;
            h[12..16].copy_from_slice(&s.octets());
            h[16..20].copy_from_slice(&d.octets());
            let c = fold(sum16(0, h));
            h[10..12].copy_from_slice(&c.to_be_bytes());
            let mut ps = sum16(0, &s.octets());
            ps = sum16(ps, &d.octets());
            (20, ps + 17 + udp_len as u32)
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let h = &mut out[..40];
            h.fill(0);
            h[0] = 0x60;
            h[4..6].copy_from_slice(&(udp_len as u16).to_be_bytes());
            h[6] = 17;
            h[7] = 64;
            h[8..24].copy_from_slice(&s.octets());
            h[24..40].copy_from_slice(&d.octets());
            let mut ps = sum16(0, &s.octets());
            ps = sum16(ps, &d.octets());
            (40, ps + 17 + udp_len as u32)
        }
        _ => {
            return Err(RtpError::malformed(
                "UDP datagram",
                "source and destination address families differ",
            ))
        }
    };
    let u = &mut out[ip_len..total];
    u[0..2].copy_from_slice(&src.port().to_be_bytes());
    u[2..4].copy_from_slice(&dst.port().to_be_bytes());
    u[4..6].copy_from_slice(&(udp_len as u16).to_be_bytes());
    u[6..8].fill(0);
    u[8..].copy_from_slice(payload);
    let mut c = fold(sum16(pseudo, u));
    if c == 0 {
        c = 0xffff; // RFC 768: a computed zero is sent as all ones
    }
    u[6..8].copy_from_slice(&c.to_be_bytes());
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_ip_round_trip_v4_v6() {
        for (s, d) in [
            ("10.0.0.1:4000", "10.0.0.2:5004"),
            ("[2001:db8::1]:4000", "[2001:db8::2]:5004"),
        ] {
            let (s, d): (SocketAddr, SocketAddr) = (s.parse().unwrap(), d.parse().unwrap());
            let mut buf = [0u8; 100];
            let n = encode_udp_raw_ip(s, d, b"abc", &mut buf).unwrap();
            let FrameKind::Udp(u) = decode_frame(LINKTYPE_RAW, &buf[..n]).unwrap() else {
                panic!("not UDP")
            };
            assert_eq!((u.src, u.dst, u.payload), (s, d, &b"abc"[..]));
            // The UDP checksum verifies: summing the datagram with the pseudo-header gives 0.
            let ip_len = if s.is_ipv4() { 20 } else { 40 };
            let addrs = if s.is_ipv4() { &buf[12..20] } else { &buf[8..40] };
            let sum = sum16(sum16(0, addrs) + 17 + (n - ip_len) as u32, &buf[ip_len..n]);
            assert_eq!(fold(sum), 0);
        }
    }

    #[test]
    fn ethernet_vlan_sll_null_and_fragments() {
        let s: SocketAddr = "192.168.1.1:1".parse().unwrap();
        let d: SocketAddr = "192.168.1.2:2".parse().unwrap();
        let mut ip = [0u8; 64];
        let n = encode_udp_raw_ip(s, d, b"xy", &mut ip).unwrap();
        let ip = &ip[..n];
        let mut eth = vec![0u8; 12];
        eth.extend_from_slice(&[0x81, 0x00, 0, 5, 0x08, 0x00]);
        eth.extend_from_slice(ip);
        assert!(
            matches!(decode_frame(LINKTYPE_ETHERNET, &eth).unwrap(), FrameKind::Udp(u) if u.payload == b"xy")
        );
        let mut sll = vec![0u8; 14];
        sll.extend_from_slice(&[0x08, 0x00]);
        sll.extend_from_slice(ip);
        assert!(matches!(
            decode_frame(LINKTYPE_LINUX_SLL, &sll).unwrap(),
            FrameKind::Udp(_)
        ));
        let mut sll2 = vec![0x08, 0x00];
        sll2.extend_from_slice(&[0u8; 18]);
        sll2.extend_from_slice(ip);
        assert!(matches!(
            decode_frame(LINKTYPE_LINUX_SLL2, &sll2).unwrap(),
            FrameKind::Udp(_)
        ));
        let mut null = 2u32.to_le_bytes().to_vec();
        null.extend_from_slice(ip);
        assert!(matches!(
            decode_frame(LINKTYPE_NULL, &null).unwrap(),
            FrameKind::Udp(_)
        ));
        let mut frag = ip.to_vec();
        frag[6] = 0x20; // MF
        assert_eq!(decode_frame(LINKTYPE_RAW, &frag).unwrap(), FrameKind::Fragment);
        let mut tcp = ip.to_vec();
        tcp[9] = 6;
        assert_eq!(decode_frame(LINKTYPE_RAW, &tcp).unwrap(), FrameKind::NotUdp);
        assert!(decode_frame(LINKTYPE_RAW, &ip[..n - 1]).is_err());
        assert!(decode_frame(999, ip).is_err());
    }
}
