//! RTCP parsing (with TMMBR/TMMBN/REMB feedback), the RTCP session's receive path and the rate controller
//! fed by its events, on arbitrary bytes: errors, never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tutti_rtp::{
    rtcp_packets, validate_compound, Feedback, RateConfig, RateController, RtcpPacket, RtcpSession,
    RtcpSessionConfig,
};

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
            Ok(p) => match p.feedback() {
                Some(Ok(Feedback::Tmmbr(t) | Feedback::Tmmbn(t))) => {
                    let _ = t
                        .items()
                        .map(|i| i.bitrate_bps)
                        .sum::<u64>()
                        .wrapping_add(t.len() as u64);
                }
                Some(Ok(Feedback::Remb(r))) => {
                    let _ = (r.bitrate_bps, r.ssrcs().count());
                }
                _ => {}
            },
            Err(_) => {}
        }
    }
    let mut s = RtcpSession::new(RtcpSessionConfig::new(1, "fuzz", 8000, 64_000), 0, 0);
    let _ = s.on_rtcp_received(1_000, data);
    // Feedback events drive a rate controller; TMMBN answers are written back.
    let mut rc = RateController::new(RateConfig::new(6_000, 64_000), 0);
    while let Some(e) = s.poll_event() {
        rc.on_event(1_000, &e);
    }
    let _ = rc.poll(2_000_000);
    let mut out = [0u8; 1500];
    if let Some(set) = rc.tmmbn() {
        let set = set.to_vec();
        let _ = s.write_feedback(2_000_000, &[tutti_rtp::FeedbackMessage::Tmmbn(&set)], &mut out);
    }
    let mut out = [0u8; 1500];
    let _ = s.handle_timeout(100_000_000, &mut out);
});
