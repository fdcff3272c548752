//! Call detail records of conference legs (issue 9): on a simulated leg with injected loss and network
//! delay, the record's loss, RTT, one-way delay and E-model figures match what was injected.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime};

use tutti::cdr::Cdr;
use tutti::codecs::CodecSpec;
use tutti::conference::{Conference, ConferenceConfig, LegConfig, MTU};
use tutti::rtp::{classify, EModel, PacketKind, RtcpSession, RtcpSessionConfig, RtpBuilder, RtpPacket};

#[test]
fn cdr_of_a_leg_matches_injected_loss_and_delay() {
    let mut conf = Conference::new(ConferenceConfig::default()).expect("config");
    let spec = CodecSpec::parse("pcmu").expect("codec");
    let mut lc = LegConfig::new("lossy".to_string(), spec);
    lc.payload_type = 0;
    let id = conf.add_leg(lc, Duration::ZERO).expect("leg");
    let mut enc = spec.encoder().expect("encoder");
    let ssrc = 0xabcd;
    let mut rtcp = RtcpSession::new(RtcpSessionConfig::new(ssrc, "client", 8000, 64_000), 0, 0);
    // One-way network delay 40 ms both ways (RTT 80 ms); every 20th packet lost (5 %).
    let one_way = Duration::from_millis(40);
    let mut to_conf: VecDeque<(Duration, Vec<u8>)> = VecDeque::new();
    let mut to_client: VecDeque<(Duration, Vec<u8>)> = VecDeque::new();
    let (mut pcm, mut payload, mut pkt, mut out) =
        (vec![0i16; 160], vec![0u8; MTU], vec![0u8; MTU], vec![0u8; MTU]);
    let (mut sent, mut dropped) = (0u64, 0u64);
    let ticks = 1500u64; // 30 s: several RTCP intervals for an RTT
    for t in 0..ticks {
        let now = Duration::from_millis(20 * t);
        let now_us = now.as_micros() as u64;
        for (i, s) in pcm.iter_mut().enumerate() {
            let x = (t * 160 + i as u64) as f32 / 8000.0;
            *s = (8000.0 * (2.0 * std::f32::consts::PI * 300.0 * x).sin()) as i16;
        }
        let n = enc.encode(&pcm, &mut payload).expect("encode");
        let b = RtpBuilder {
            payload_type: 0,
            sequence_number: t as u16,
            timestamp: (t * 160) as u32,
            ssrc,
            ..Default::default()
        };
        let len = b.write(&payload[..n], &mut pkt).expect("write");
        rtcp.on_rtp_sent(now_us, b.timestamp, len - 12);
        sent += 1;
        if t % 20 == 7 {
            dropped += 1;
        } else {
            to_conf.push_back((now + one_way, pkt[..len].to_vec()));
        }
        if now_us >= rtcp.poll_timeout() {
            if let Ok(Some(n)) = rtcp.handle_timeout(now_us, &mut out) {
                to_conf.push_back((now + one_way, out[..n].to_vec()));
            }
        }
        while to_conf.front().is_some_and(|(at, _)| *at <= now) {
            let (at, d) = to_conf.pop_front().expect("front exists");
            let _ = conf.receive(id, at, &d);
        }
        conf.tick(now);
        while let Some(n) = conf.poll_transmit(id, &mut out) {
            to_client.push_back((now + one_way, out[..n].to_vec()));
        }
        while to_client.front().is_some_and(|(at, _)| *at <= now) {
            let (at, d) = to_client.pop_front().expect("front exists");
            let at_us = at.as_micros() as u64;
            if classify(&d) == PacketKind::Rtp {
                let p = RtpPacket::parse(&d).expect("valid RTP");
                rtcp.on_rtp_received(at_us, &p);
            } else {
                let _ = rtcp.on_rtcp_received(at_us, &d);
            }
        }
    }
    let end = Duration::from_millis(20 * ticks);
    let s = conf.leg_stats(id).expect("stats");
    let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_764_086_400);
    let remote = "192.0.2.7:5004".parse().ok();
    let cdr = Cdr::from_leg_stats(&s, wall, end, remote, None);
    let q = cdr.quality;
    // Loss: exactly the dropped packets (the last few still in flight are not yet due, not lost).
    assert_eq!(q.lost as u64, dropped, "{q:?}");
    assert_eq!(
        q.packets + dropped + 2,
        sent,
        "{q:?} (2 packets in flight at the end)"
    );
    // RTT from the client's RR (LSR/DLSR) about our SRs: 2 × 40 ms.
    let rtt = q.rtt_ms.expect("an RTT from RTCP");
    assert!((rtt - 80.0).abs() < 1.0, "rtt {rtt}");
    assert!(
        (q.one_way_delay_ms() - (q.jitter_buffer_delay_ms + 40.0)).abs() < 0.5,
        "{q:?}"
    );
    // The E-model figures are G.107's for G.711 at that delay and loss.
    let loss_pct = 100.0 * dropped as f64 / (q.packets + dropped) as f64;
    let em = EModel::for_leg("pcmu", q.one_way_delay_ms(), loss_pct, 1.0);
    assert!(
        (q.r_factor - em.r()).abs() < 0.5,
        "R {} vs {}",
        q.r_factor,
        em.r()
    );
    assert!(
        q.r_factor < 80.0 && q.r_factor > 50.0,
        "5 % loss on G.711: R {}",
        q.r_factor
    );
    // Times: set up at 0, first media after the 40 ms network delay, ended at 30 s.
    let j = cdr.to_json();
    assert_eq!(j["event"], "cdr");
    assert_eq!(j["start"], "2025-11-25T16:00:00.000Z");
    assert_eq!(j["answer"], "2025-11-25T16:00:00.040Z");
    assert!((j["duration_s"].as_f64().expect("duration") - 29.96).abs() < 1e-9);
    assert_eq!(j["from"]["ssrc"], "0000abcd");
    assert_eq!(j["from"]["addr"], "192.0.2.7:5004");
}
