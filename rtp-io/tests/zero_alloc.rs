//! The per-packet paths allocate nothing: RTP/RTCP parse and build, per-source statistics, the RTCP
//! session's per-packet and timer work, and SRTP/SRTCP protect/unprotect.

use tutti_engine::{count_allocations, counting_is_active, CountingAllocator};
use tutti_rtp::{
    rtcp_packets, RtcpPacket, RtcpSession, RtcpSessionConfig, RtcpWriter, RtpBuilder, RtpPacket,
    SdesChunkSpec, SdesType, SourceConfig, SourceTable, SrtpConfig, SrtpContext, SrtpProfile,
};

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator;

#[test]
fn per_packet_paths_do_not_allocate() {
    assert!(counting_is_active(), "the counting allocator must be installed");
    let mut buf = [0u8; 1500];
    let mut rtcp_buf = [0u8; 1500];
    let mut contexts: Vec<(SrtpContext, SrtpContext)> = [
        SrtpProfile::Aes128CmHmacSha1_80,
        SrtpProfile::Aes128CmHmacSha1_32,
        SrtpProfile::AeadAes128Gcm,
    ]
    .into_iter()
    .map(|p| {
        let salt = vec![9u8; p.master_salt_len()];
        (
            SrtpContext::new(p, &[7; 16], &salt, SrtpConfig::default()).unwrap(),
            SrtpContext::new(p, &[7; 16], &salt, SrtpConfig::default()).unwrap(),
        )
    })
    .collect();
    let mut table = SourceTable::new(SourceConfig::new(8000), 8);
    let mut session = RtcpSession::new(RtcpSessionConfig::new(0x1234, "me@example", 8000, 80_000), 0, 0);
    let payload = [0xd5u8; 160];
    let csrcs = [1u32, 2, 3];

    let ((), counts) = count_allocations(|| {
        for i in 0..500u32 {
            let seq = i as u16;
            let now = u64::from(i) * 20_000;
            let b = RtpBuilder {
                payload_type: 8,
                sequence_number: seq,
                timestamp: i * 160,
                ssrc: 0xabc,
                csrcs: &csrcs,
                ..Default::default()
            };
            let n = b.write(&payload, &mut buf).unwrap();
            let p = RtpPacket::parse(&buf[..n]).unwrap();
            assert_eq!(p.payload().len(), 160);
            table.on_packet(p.ssrc(), p.sequence_number(), p.timestamp(), now);
            session.on_rtp_received(now, &p);
            session.on_rtp_sent(now, i * 160, 160);
            if session.poll_timeout() <= now {
                if let Some(len) = session.handle_timeout(now, &mut rtcp_buf).unwrap() {
                    let mut count = 0;
                    for pkt in rtcp_packets(&rtcp_buf[..len]) {
                        if let Ok(RtcpPacket::ReceiverReport(_) | RtcpPacket::SenderReport(_)) = pkt {
                            count += 1;
                        }
                    }
                    assert_eq!(count, 1);
                    session.on_rtcp_received(now, &rtcp_buf[..len]).unwrap();
                }
            }
            for (tx, rx) in contexts.iter_mut() {
                let n = b.write(&payload, &mut buf).unwrap();
                let m = tx.protect_rtp(&mut buf, n).unwrap();
                assert_eq!(rx.unprotect_rtp(&mut buf, m).unwrap(), n);
                let mut w = RtcpWriter::new(&mut rtcp_buf);
                w.receiver_report(0xabc, &[]).unwrap();
                w.sdes(&[SdesChunkSpec {
                    ssrc: 0xabc,
                    items: &[(SdesType::Cname, b"x@y")],
                }])
                .unwrap();
                let n = w.finish();
                let m = tx.protect_rtcp(&mut rtcp_buf, n).unwrap();
                assert_eq!(rx.unprotect_rtcp(&mut rtcp_buf, m).unwrap(), n);
                // A rejected (tampered) packet does not allocate either.
                let n = b.write(&payload, &mut buf).unwrap();
                let m = tx.protect_rtp(&mut buf, n).unwrap();
                buf[20] ^= 1;
                assert!(rx.unprotect_rtp(&mut buf, m).is_err());
            }
        }
    });
    assert!(session.stats().reports_sent > 0, "the timer path was exercised");
    assert_eq!(table.get(0xabc).unwrap().received(), 500);
    assert!(counts.is_zero(), "per-packet paths allocated: {counts:?}");
}
