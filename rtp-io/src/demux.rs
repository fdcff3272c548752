//! Demultiplexing RTP, RTCP and other protocols on one port.
//!
//! # What
//! [`classify`] tells RTP from RTCP on an rtcp-mux port (RFC 5761 §4) and recognises the other
//! protocols RFC 7983 §7 puts on the same 5-tuple (STUN, DTLS, ZRTP, TURN channels).
//!
//! # How
//! RFC 7983: the first byte selects the protocol family (0–3 STUN, 16–19 ZRTP, 20–63 DTLS, 64–79 TURN
//! channel, 128–191 RTP/RTCP). RFC 5761 §4: among RTP/RTCP, a second byte in 192–223 (RTCP packet types
//! FIR…, SR=200, RR=201, …) is RTCP, because RTP payload types 64–95 must not be used with rtcp-mux.
//!
//! # Real-time safety
//! Pure function on the first two bytes.

/// What a datagram on a multiplexed port is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketKind {
    /// An RTP packet.
    Rtp,
    /// An RTCP (compound or reduced-size) packet.
    Rtcp,
    /// STUN (RFC 5389), first byte 0–3.
    Stun,
    /// DTLS record, first byte 20–63.
    Dtls,
    /// ZRTP, first byte 16–19.
    Zrtp,
    /// TURN ChannelData, first byte 64–79.
    TurnChannel,
    /// Anything else (including datagrams shorter than 2 bytes or version ≠ 2).
    Unknown,
}

/// Classifies one datagram (RFC 7983 first byte, then RFC 5761 second byte).
pub fn classify(datagram: &[u8]) -> PacketKind {
    let Some(&b0) = datagram.first() else {
        return PacketKind::Unknown;
    };
    match b0 {
        0..=3 => PacketKind::Stun,
        16..=19 => PacketKind::Zrtp,
        20..=63 => PacketKind::Dtls,
        64..=79 => PacketKind::TurnChannel,
        128..=191 => match datagram.get(1) {
            Some(192..=223) => PacketKind::Rtcp,
            Some(_) => PacketKind::Rtp,
            None => PacketKind::Unknown,
        },
        _ => PacketKind::Unknown,
    }
}

/// True when `pt` may be used as an RTP payload type together with rtcp-mux (RFC 5761 §4: not 64–95).
pub fn payload_type_is_mux_safe(pt: u8) -> bool {
    pt < 64 || (96..=127).contains(&pt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies() {
        assert_eq!(classify(&[0x80, 0]), PacketKind::Rtp);
        assert_eq!(classify(&[0x80, 0x80 | 96]), PacketKind::Rtp); // marker + PT 96 = 224
        assert_eq!(classify(&[0x80, 200]), PacketKind::Rtcp);
        assert_eq!(classify(&[0x81, 201]), PacketKind::Rtcp);
        assert_eq!(classify(&[0x80, 0x80 | 72]), PacketKind::Rtcp); // why PT 72 is forbidden
        assert_eq!(classify(&[0, 1]), PacketKind::Stun);
        assert_eq!(classify(&[22, 0xfe]), PacketKind::Dtls);
        assert_eq!(classify(&[0x80]), PacketKind::Unknown);
        assert_eq!(classify(&[]), PacketKind::Unknown);
        assert!(
            payload_type_is_mux_safe(0) && payload_type_is_mux_safe(111) && !payload_type_is_mux_safe(72)
        );
    }
}
