//! Rate adaptation end to end: a libopus sender with an [`RtcpSession`] and a [`RateController`], a
//! simulated receiver that asks for lower and higher bitrates with TMMBR and REMB over a 40 ms link
//! with loss. The *encoded* Opus bitrate (payload bytes per second from libopus) must follow each
//! request within a stated time, TMMBRs are answered with TMMBNs naming the requester, and the
//! reported loss switches in-band FEC on with the expected loss tracking the injected loss.

use std::collections::VecDeque;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tutti_codecs::{Encoder, OpusEncoder, OpusEncoderConfig};
use tutti_rtp::{
    FeedbackMessage, RateConfig, RateController, RateDecision, RtcpEvent, RtcpSession, RtcpSessionConfig,
    RtpBuilder, RtpPacket, TmmbItem,
};

const S: u64 = 1_000_000;
const TICK: u64 = 20_000;
const DELAY_US: u64 = 40_000;
const A: u32 = 0xa11c_e000;
const B: u32 = 0xb0b0_0000;
/// Overhead the receiver declares in its TMMBRs: with 50 packets/s, 40 bytes cost 16 kbit/s.
const OVERHEAD: u16 = 40;

/// Payload kbit/s that libopus produced in `[from, to)` µs.
fn kbps(sent: &[(u64, usize)], from: u64, to: u64) -> f64 {
    let bytes: usize = sent
        .iter()
        .filter(|(t, _)| (from..to).contains(t))
        .map(|(_, n)| n)
        .sum();
    bytes as f64 * 8.0 / ((to - from) as f64 / 1e6) / 1000.0
}

#[test]
fn opus_bitrate_follows_tmmbr_and_remb_and_loss_turns_fec_on() {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let mut cfg_a = RtcpSessionConfig::new(A, "a@test", 48_000, 80_000);
    cfg_a.seed = 1;
    let mut cfg_b = RtcpSessionConfig::new(B, "b@test", 48_000, 80_000);
    cfg_b.seed = 2;
    let mut sa = RtcpSession::new(cfg_a, 0, 0);
    let mut sb = RtcpSession::new(cfg_b, 0, 0);
    let rate_cfg = RateConfig::opus(Some("useinbandfec=1; maxaveragebitrate=64000"), 32_000, 20);
    assert_eq!(rate_cfg.max_bps, 64_000);
    let mut rc = RateController::new(rate_cfg, 0);
    let mut enc = OpusEncoder::new(OpusEncoderConfig::voip(48_000, 1).with_bitrate(64_000))
        .expect("libopus encoder at 48 kHz mono");
    let mut applied: Option<RateDecision> = None;

    // In flight: (deliver at, to B?, is RTCP, bytes).
    let mut link: VecDeque<(u64, bool, bool, Vec<u8>)> = VecDeque::new();
    let mut sent: Vec<(u64, usize)> = Vec::new();
    let mut decisions: Vec<(u64, RateDecision)> = Vec::new();
    let mut tmmbn_seen: Vec<(u64, TmmbItem)> = Vec::new();
    let mut rtcp_buf = [0u8; 1500];
    let mut pkt = [0u8; 1500];
    let mut payload = [0u8; 1275];
    let mut pcm = [0i16; 960];
    let mut phase = 0.0f64;
    let (mut seq, mut ts) = (1u16, 0u32);

    // The receiver's requests: (at, TMMBR total bitrate or REMB).
    let tmmbr_at = [(10 * S, 40_000u64), (20 * S, 24_000), (30 * S, 80_000)];
    let remb_at = 45 * S;
    let (loss_from, loss_to) = (50 * S, 90 * S);
    let end = 90 * S;

    let mut now = 0;
    while now < end {
        // Receiver B: feedback at the scheduled times.
        for &(at, bps) in &tmmbr_at {
            if now == at {
                let req = [TmmbItem {
                    ssrc: A,
                    bitrate_bps: bps,
                    overhead: OVERHEAD,
                }];
                let n = sb
                    .write_feedback(now, &[FeedbackMessage::Tmmbr(&req)], &mut rtcp_buf)
                    .unwrap();
                link.push_back((now + DELAY_US, false, true, rtcp_buf[..n].to_vec()));
            }
        }
        if now == remb_at {
            let n = sb
                .write_feedback(
                    now,
                    &[FeedbackMessage::Remb {
                        bitrate_bps: 48_000,
                        ssrcs: &[A],
                    }],
                    &mut rtcp_buf,
                )
                .unwrap();
            link.push_back((now + DELAY_US, false, true, rtcp_buf[..n].to_vec()));
        }

        // Sender A: apply the decision, encode 20 ms of a noisy two-tone signal, send.
        let d = rc.poll(now);
        if applied != Some(d) {
            enc.set_bitrate(Some(d.bitrate_bps)).unwrap();
            enc.set_fec(d.fec).unwrap();
            enc.set_packet_loss_percent(d.expected_loss_pct).unwrap();
            applied = Some(d);
            decisions.push((now, d));
        }
        for s in pcm.iter_mut() {
            phase += 1.0 / 48_000.0;
            let tone = 6000.0 * (2.0 * std::f64::consts::PI * 220.0 * phase).sin()
                + 3000.0 * (2.0 * std::f64::consts::PI * 1770.0 * phase).sin();
            *s = (tone + rng.gen_range(-4000.0..4000.0)) as i16;
        }
        let n = enc.encode(&pcm, &mut payload).unwrap();
        sent.push((now, n));
        let b = RtpBuilder {
            payload_type: 111,
            sequence_number: seq,
            timestamp: ts,
            ssrc: A,
            ..Default::default()
        };
        let len = b.write(&payload[..n], &mut pkt).unwrap();
        sa.on_rtp_sent(now, ts, n);
        let lost = (loss_from..loss_to).contains(&now) && rng.gen_bool(0.08);
        if !lost {
            link.push_back((now + DELAY_US, true, false, pkt[..len].to_vec()));
        }
        seq = seq.wrapping_add(1);
        ts = ts.wrapping_add(960);

        // Regular reports both ways.
        if let Some(n) = sa.handle_timeout(now, &mut rtcp_buf).unwrap() {
            link.push_back((now + DELAY_US, true, true, rtcp_buf[..n].to_vec()));
        }
        if let Some(n) = sb.handle_timeout(now, &mut rtcp_buf).unwrap() {
            link.push_back((now + DELAY_US, false, true, rtcp_buf[..n].to_vec()));
        }

        // Deliveries due by the next tick.
        now += TICK;
        while link.front().is_some_and(|(t, ..)| *t <= now) {
            let (t, to_b, rtcp, bytes) = link.pop_front().unwrap();
            match (to_b, rtcp) {
                (true, false) => {
                    sb.on_rtp_received(t, &RtpPacket::parse(&bytes).unwrap());
                }
                (true, true) => {
                    sb.on_rtcp_received(t, &bytes).unwrap();
                    while let Some(e) = sb.poll_event() {
                        if let RtcpEvent::Tmmbn {
                            sender_ssrc: A,
                            ours: Some(item),
                            ..
                        } = e
                        {
                            tmmbn_seen.push((t, item));
                        }
                    }
                }
                (false, _) => {
                    sa.on_rtcp_received(t, &bytes).unwrap();
                    while let Some(e) = sa.poll_event() {
                        rc.on_event(t, &e);
                    }
                    if let Some(set) = rc.tmmbn() {
                        let set = set.to_vec();
                        let n = sa
                            .write_feedback(t, &[FeedbackMessage::Tmmbn(&set)], &mut rtcp_buf)
                            .unwrap();
                        link.push_back((t + DELAY_US, true, true, rtcp_buf[..n].to_vec()));
                    }
                }
            }
        }
    }

    // Unconstrained: close to the 64 kbit/s maximum from the fmtp.
    let before = kbps(&sent, 2 * S, 10 * S);
    assert!(
        (55.0..=70.0).contains(&before),
        "{before} kbit/s before any request"
    );
    // Stated time: within 100 ms of the request's send time (40 ms link + one 20 ms frame) the
    // encoder runs at the new limit; over the following second it produces at most 10 % above it.
    let limit_of = |total: u64| (total as f64 - 16_000.0).max(6_000.0) / 1000.0;
    for &(at, total) in &tmmbr_at[..2] {
        let d = decisions
            .iter()
            .find(|(t, _)| *t > at)
            .expect("a decision after the request");
        assert!(d.0 <= at + 100_000, "decision {:?} too late after {at}", d);
        assert_eq!(f64::from(d.1.bitrate_bps) / 1000.0, limit_of(total));
        let k = kbps(&sent, at + 100_000, at + S + 100_000);
        let lim = limit_of(total);
        assert!(
            k <= lim * 1.1 && k >= lim * 0.6,
            "{k} kbit/s after requesting {lim}"
        );
    }
    // Each TMMBR was answered with a TMMBN naming B's tuple.
    assert_eq!(tmmbn_seen.len(), 3, "{tmmbn_seen:?}");
    for ((t, item), &(at, total)) in tmmbn_seen.iter().zip(&tmmbr_at) {
        assert!(
            *t <= at + 2 * DELAY_US + TICK,
            "TMMBN at {t} for the TMMBR at {at}"
        );
        assert_eq!((item.ssrc, item.bitrate_bps, item.overhead), (B, total, OVERHEAD));
    }
    // The raise at 30 s (to 64 kbit/s) is slow: held until 22 s, then +8 %/s from 8 kbit/s.
    let at35 = kbps(&sent, 34 * S, 36 * S);
    assert!(at35 < 8.0 * 1.08f64.powf(14.0) * 1.1, "{at35} kbit/s at 35 s");
    let mut last = 0;
    for &(t, d) in decisions.iter().filter(|(t, _)| (30 * S..45 * S).contains(t)) {
        assert!(d.bitrate_bps >= last, "monotone ramp at {t}");
        last = d.bitrate_bps;
    }
    // REMB 48 kbit/s at 45 s → 32 kbit/s payload at once.
    let k = kbps(&sent, remb_at + 100_000, remb_at + S + 100_000);
    assert!((19.0..=35.2).contains(&k), "{k} kbit/s after REMB");
    // 8 % loss from 50 s: FEC on within two report intervals (≤ 15 s), expected loss near 8 %.
    let fec_on = decisions
        .iter()
        .find(|(t, d)| *t >= loss_from && d.fec)
        .expect("FEC switched on");
    assert!(fec_on.0 <= loss_from + 15 * S, "FEC on at {} µs", fec_on.0);
    let last = rc.poll(end);
    eprintln!(
        "encoded kbit/s: before {before:.1}, after TMMBR 40k {:.1}, after 24k {:.1}, at 35 s {at35:.1}, \
         after REMB {k:.1}; FEC on at {:.1} s; final {last:?}",
        kbps(&sent, 10 * S + 100_000, 11 * S + 100_000),
        kbps(&sent, 20 * S + 100_000, 21 * S + 100_000),
        fec_on.0 as f64 / 1e6
    );
    assert!(last.fec);
    assert!((5..=12).contains(&last.expected_loss_pct), "{last:?}");
    assert!(decisions
        .iter()
        .all(|(_, d)| (6_000..=64_000).contains(&d.bitrate_bps)));
}
