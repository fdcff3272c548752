//! RTCP parsing and the RTCP session's receive path on arbitrary bytes: errors, never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tutti_rtp::{rtcp_packets, validate_compound, RtcpPacket, RtcpSession, RtcpSessionConfig};

fuzz_target!(|data: &[u8]| {
    let _ = validate_compound(data, false);
    let _ = validate_compound(data, true);
    for p in rtcp_packets(data) {
        match p {
            Ok(RtcpPacket::SenderReport(s)) => {
                let _ = s.blocks().map(|b| b.rtt(0x1234_5678)).count();
            }
            Ok(RtcpPacket::ReceiverReport(r)) => {
                let _ = r.blocks().count();
            }
            Ok(RtcpPacket::Sdes(s)) => {
                for c in s.chunks() {
                    let _ = (c.cname(), c.items().count());
                }
            }
            Ok(RtcpPacket::Bye(b)) => {
                let _ = (b.ssrcs().count(), b.reason);
            }
            _ => {}
        }
    }
    let mut s = RtcpSession::new(RtcpSessionConfig::new(1, "fuzz", 8000, 64_000), 0, 0);
    let _ = s.on_rtcp_received(1_000, data);
    let mut out = [0u8; 1500];
    let _ = s.handle_timeout(100_000_000, &mut out);
});
