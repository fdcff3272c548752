//! Two sans-IO RTCP sessions exchanging RTP and RTCP over a simulated 40 ms link with loss.

use std::collections::VecDeque;

use tutti_rtp::{
    rtcp_packets, RtcpPacket, RtcpSession, RtcpSessionConfig, RtpBuilder, RtpPacket, COMPENSATION,
};

const DELAY_US: u64 = 40_000;
const NTP_1900_TO_2024: u64 = 3_913_056_000;

struct Peer {
    s: RtcpSession,
    seq: u16,
    ts: u32,
    report_times: Vec<u64>,
}

#[test]
fn reports_loss_rtt_intervals_and_bye() {
    let t0 = 1_000_000u64;
    let mk = |ssrc: u32, name: &str, seed: u64| {
        let mut c = RtcpSessionConfig::new(ssrc, name, 8000, 80_000);
        c.seed = seed;
        Peer {
            s: RtcpSession::new(c, t0, NTP_1900_TO_2024 << 32),
            seq: 100,
            ts: 0,
            report_times: vec![],
        }
    };
    let mut peers = [mk(0xaaaa, "a@test", 1), mk(0xbbbb, "b@test", 2)];
    // In flight: (deliver at, to peer, is_rtcp, bytes).
    let mut link: VecDeque<(u64, usize, bool, Vec<u8>)> = VecDeque::new();
    let mut buf = [0u8; 1500];
    let mut dropped_a_to_b = 0i32;
    let end = t0 + 300_000_000;
    let mut now = t0;
    while now < end {
        // Media every 20 ms; A's packets to B lose every 25th.
        if (now - t0) % 20_000 == 0 {
            for i in 0..2 {
                let p = &mut peers[i];
                let b = RtpBuilder {
                    payload_type: 0,
                    sequence_number: p.seq,
                    timestamp: p.ts,
                    ssrc: p.s.local_ssrc(),
                    ..Default::default()
                };
                let n = b.write(&[0xff; 160], &mut buf).unwrap();
                p.s.on_rtp_sent(now, p.ts, 160);
                let lose = i == 0 && p.seq % 25 == 0;
                if lose {
                    dropped_a_to_b += 1;
                } else {
                    link.push_back((now + DELAY_US, 1 - i, false, buf[..n].to_vec()));
                }
                p.seq = p.seq.wrapping_add(1);
                p.ts = p.ts.wrapping_add(160);
            }
        }
        for i in 0..2 {
            if peers[i].s.poll_timeout() <= now {
                if let Some(n) = peers[i].s.handle_timeout(now, &mut buf).unwrap() {
                    peers[i].report_times.push(now);
                    link.push_back((now + DELAY_US, 1 - i, true, buf[..n].to_vec()));
                }
            }
        }
        while link.front().is_some_and(|(t, ..)| *t <= now) {
            let (_, to, rtcp, bytes) = link.pop_front().unwrap();
            if rtcp {
                peers[to].s.on_rtcp_received(now, &bytes).unwrap();
            } else {
                let p = RtpPacket::parse(&bytes).unwrap();
                peers[to].s.on_rtp_received(now, &p);
            }
        }
        now += 1000;
    }
    let (a, b) = (&peers[0], &peers[1]);
    // RTT: 2 x 40 ms, within NTP short-format resolution (1/65536 s) and our 1 ms simulation step.
    let rtt = a.s.rtt_us(0xbbbb).expect("A has an RTT to B");
    assert!(rtt.abs_diff(80_000) <= 1_100, "rtt {rtt}");
    assert!(b.s.rtt_us(0xaaaa).unwrap().abs_diff(80_000) <= 1_100);
    // B's reports on A carry the loss we injected (packets still in flight at the last report excluded).
    let (reporter, rb) = a.s.last_report_about_us().expect("B reported on A");
    assert_eq!(reporter, 0xbbbb);
    // A's sequence numbers start at 100 and do not wrap in 300 s; every multiple of 25 was dropped, but
    // the very first packet (100) precedes the first one B saw, so B cannot know it is missing.
    let dropped_until_report = (101..=rb.extended_highest_seq).filter(|s| s % 25 == 0).count() as i32;
    assert_eq!(rb.cumulative_lost, dropped_until_report);
    assert!(
        rb.fraction_lost > 0 && rb.fraction_lost < 20,
        "fraction {}",
        rb.fraction_lost
    ); // 1/25 = 10/256
    let src = b.s.sources().get(0xaaaa).unwrap();
    assert_eq!(src.lost(), i64::from(dropped_a_to_b - 1)); // all but the unknowable first one
                                                           // Intervals: first within 2.5 s x [0.5, 1.5] / (e - 3/2); later ones average near 5 s and are never
                                                           // below the randomised minimum.
    for p in [a, b] {
        let first = (p.report_times[0] - t0) as f64 / 1e6;
        assert!(
            first >= 1.25 / COMPENSATION - 0.002 && first <= 3.75 / COMPENSATION + 0.002,
            "first {first}"
        );
        let gaps: Vec<f64> = p
            .report_times
            .windows(2)
            .map(|w| (w[1] - w[0]) as f64 / 1e6)
            .collect();
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        assert!((3.9..6.2).contains(&mean), "mean interval {mean}");
        assert!(gaps.iter().all(|&g| g >= 2.5 / COMPENSATION - 0.002), "{gaps:?}");
        assert_eq!(p.s.stats().rtcp_malformed, 0);
        assert_eq!(p.s.members(), 2);
    }
    // B leaves: its BYE removes it from A's membership.
    let n = peers[1].s.write_bye(end, b"bye", &mut buf).unwrap();
    let kinds: Vec<u8> = rtcp_packets(&buf[..n])
        .map(|p| p.unwrap().packet_type())
        .collect();
    assert_eq!(kinds, [200, 202, 203]);
    assert!(
        matches!(rtcp_packets(&buf[..n]).last(), Some(Ok(RtcpPacket::Bye(b))) if b.reason == Some(b"bye"))
    );
    peers[0].s.on_rtcp_received(end + DELAY_US, &buf[..n]).unwrap();
    assert_eq!(peers[0].s.members(), 1);
    assert_eq!(peers[0].s.stats().byes_received, 1);
}

#[test]
fn garbage_rtcp_is_counted_not_fatal() {
    let mut s = RtcpSession::new(RtcpSessionConfig::new(1, "x", 8000, 64_000), 0, 0);
    assert!(s.on_rtcp_received(0, &[0x80, 201, 0, 9, 1, 2]).is_err());
    assert!(s.on_rtcp_received(0, &[]).is_err());
    assert_eq!(s.stats().rtcp_malformed, 2);
}
