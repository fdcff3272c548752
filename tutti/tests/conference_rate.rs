//! Rate adaptation of conference legs (issue 9): RTCP TMMBR (RFC 5104) and REMB from a receiver steer that
//! leg's Opus encoder bitrate, measured on the packets it receives; TMMBR is answered with TMMBN; loss the
//! receiver reports switches in-band FEC on; a raised request ramps up slowly instead of jumping.

mod common;

use std::time::Duration;

use common::ToneSender;
use tutti::codecs::CodecSpec;
use tutti::conference::{Conference, ConferenceConfig, LegConfig, LegId, MTU};
use tutti::engine::{count_allocations, CountingAllocator};
use tutti::rtp::{
    classify, rtcp_packets, Feedback, FeedbackMessage, PacketKind, RtcpSession, RtcpSessionConfig, RtpPacket,
    TmmbItem,
};

#[global_allocator]
static A: CountingAllocator = CountingAllocator;

/// One participant: sends Opus, receives the conference's packets through its own RTCP session.
struct Client {
    id: LegId,
    ssrc: u32,
    tone: ToneSender,
    amp: f32,
    rtcp: RtcpSession,
    /// (time, payload bytes) of every RTP packet received.
    got: Vec<(Duration, usize)>,
    tmmbn: usize,
    /// Every k-th received packet is treated as lost (0: none).
    lose_every: u64,
    received: u64,
}

const OPUS: &str = "opus:32000";

impl Client {
    fn new(conf: &mut Conference, k: u32, amp: f32) -> Self {
        let spec = CodecSpec::parse(OPUS).expect("codec");
        let mut lc = LegConfig::new(format!("c{k}"), spec);
        lc.payload_type = 96;
        let id = conf.add_leg(lc, Duration::ZERO).expect("leg");
        let ssrc = 0x100 + k;
        let enc_spec = tutti::conference::leg_codec(spec, conf.config().mix_rate);
        Self {
            id,
            ssrc,
            tone: ToneSender::new(enc_spec),
            amp,
            rtcp: RtcpSession::new(RtcpSessionConfig::new(ssrc, "client", 48000, 64_000), 0, 0),
            got: Vec::new(),
            tmmbn: 0,
            lose_every: 0,
            received: 0,
        }
    }

    fn send(&mut self, conf: &mut Conference, now: Duration) {
        let rate = self.tone.pcm.len() as f32 * 50.0;
        let (f, amp) = (180.0 + self.ssrc as f32, self.amp);
        let pkt = self.tone.packet(rate, 96, self.ssrc, 960, |t| {
            // A tone with a slow tremolo (speech-like level changes keep Opus busy).
            let env = 0.6 + 0.4 * (2.0 * std::f32::consts::PI * 3.0 * t).sin();
            (amp * env * 32767.0 * (2.0 * std::f32::consts::PI * f * t).sin()) as i16
        });
        conf.receive(self.id, now, pkt).expect("receive");
    }

    fn take(&mut self, conf: &mut Conference, now: Duration) {
        let now_us = now.as_micros() as u64;
        let mut out = vec![0u8; MTU];
        while let Some(n) = conf.poll_transmit(self.id, &mut out) {
            let d = &out[..n];
            if classify(d) == PacketKind::Rtp {
                let p = RtpPacket::parse(d).expect("the conference sends valid RTP");
                self.received += 1;
                if self.lose_every > 0 && self.received % self.lose_every == 0 {
                    continue;
                }
                self.got.push((now, p.payload().len()));
                self.rtcp.on_rtp_received(now_us, &p);
            } else {
                let _ = self.rtcp.on_rtcp_received(now_us, d);
                for p in rtcp_packets(d).flatten() {
                    if let Some(Ok(Feedback::Tmmbn(_))) = p.feedback() {
                        self.tmmbn += 1;
                    }
                }
            }
        }
        // The client's regular receiver reports (they carry the loss it saw).
        if now_us >= self.rtcp.poll_timeout() {
            if let Ok(Some(n)) = self.rtcp.handle_timeout(now_us, &mut out) {
                conf.receive(self.id, now, &out[..n]).expect("RTCP");
            }
        }
    }

    fn feedback(&mut self, conf: &mut Conference, now: Duration, msg: FeedbackMessage<'_>) {
        let mut out = vec![0u8; MTU];
        let n = self
            .rtcp
            .write_feedback(now.as_micros() as u64, &[msg], &mut out)
            .expect("feedback");
        // Taking the feedback (and queueing the TMMBN answer) is on the real-time path: no allocation.
        let (r, c) = count_allocations(|| conf.receive(self.id, now, &out[..n]));
        r.expect("RTCP feedback");
        assert!(c.is_zero(), "receiving feedback allocated: {c:?}");
    }

    /// Payload bit rate received in `[from, to)`.
    fn bitrate(&self, from: Duration, to: Duration) -> f64 {
        let bytes: usize = self
            .got
            .iter()
            .filter(|(t, _)| *t >= from && *t < to)
            .map(|(_, b)| b)
            .sum();
        8.0 * bytes as f64 / (to - from).as_secs_f64()
    }
}

fn run(conf: &mut Conference, cs: &mut [Client], ticks: std::ops::Range<u64>) {
    for t in ticks {
        let now = Duration::from_millis(20 * t);
        for c in cs.iter_mut() {
            c.send(conf, now);
        }
        let ((), a) = count_allocations(|| conf.tick(now));
        assert!(a.is_zero(), "the tick allocated at {now:?}: {a:?}");
        for c in cs.iter_mut() {
            c.take(conf, now);
        }
    }
}

fn ms(t: u64) -> Duration {
    Duration::from_millis(t)
}

#[test]
fn tmmbr_remb_and_loss_steer_the_opus_bitrate_and_fec_of_one_leg() {
    let mut conf = Conference::new(ConferenceConfig::default()).expect("config");
    // Two talkers, two listeners (the listeners share one encode until they ask for less).
    let mut cs: Vec<Client> = [0.3, 0.3, 0.002, 0.002]
        .iter()
        .enumerate()
        .map(|(k, &a)| Client::new(&mut conf, k as u32, a))
        .collect();
    run(&mut conf, &mut cs, 0..150);
    let before = cs[2].bitrate(ms(1000), ms(3000));
    assert!(
        before > 26_000.0,
        "listener before any request: {before:.0} bit/s"
    );
    let encodes_before = conf.stats().encodes_last_tick;

    // Listener 2 asks for 30 kbit/s in total with 40 bytes of overhead per packet: 30000 − 8·40·50 =
    // 14 kbit/s of payload. TMMBR takes effect at once and is answered with a TMMBN.
    let local2 = conf.leg_stats(cs[2].id).expect("stats").local_ssrc;
    let req = TmmbItem {
        ssrc: local2,
        bitrate_bps: 30_000,
        overhead: 40,
    };
    cs[2].feedback(&mut conf, ms(3000), FeedbackMessage::Tmmbr(&[req]));
    run(&mut conf, &mut cs, 150..300);
    let s2 = conf.leg_stats(cs[2].id).expect("stats");
    let target = s2.rate.expect("an Opus leg has rate control").bitrate_bps;
    assert!((13_500..=14_000).contains(&target), "target {target}");
    assert_eq!(cs[2].tmmbn, 1, "one TMMBN answers the TMMBR");
    // Within 100 ms the stream is at the new rate (measured on what the listener receives).
    let after = cs[2].bitrate(ms(3100), ms(6000));
    assert!(
        after < 1.15 * f64::from(target),
        "after TMMBR: {after:.0} bit/s (target {target})"
    );
    assert!(
        after > 0.6 * f64::from(target),
        "after TMMBR: {after:.0} bit/s (target {target})"
    );
    // The other listener keeps the shared encode at the full rate; listener 2 got its own encode.
    let other = cs[3].bitrate(ms(3100), ms(6000));
    assert!(other > 26_000.0, "other listener: {other:.0} bit/s");
    assert_eq!(conf.stats().encodes_last_tick, encodes_before + 1);

    // Listener 3 sends a REMB of 36 kbit/s for our stream: 36000 − 16000 = 20 kbit/s of payload.
    let local3 = conf.leg_stats(cs[3].id).expect("stats").local_ssrc;
    cs[3].feedback(
        &mut conf,
        ms(6000),
        FeedbackMessage::Remb {
            bitrate_bps: 36_000,
            ssrcs: &[local3],
        },
    );
    run(&mut conf, &mut cs, 300..400);
    let t3 = conf
        .leg_stats(cs[3].id)
        .expect("stats")
        .rate
        .expect("rate")
        .bitrate_bps;
    assert!((19_000..=20_000).contains(&t3), "REMB target {t3}");
    let r3 = cs[3].bitrate(ms(6100), ms(8000));
    assert!(
        r3 < 1.15 * f64::from(t3) && r3 > 0.6 * f64::from(t3),
        "after REMB: {r3:.0}"
    );

    // Listener 2 raises its request to 80 kbit/s: no jump — the rate climbs at +8 %/s (the 2 s hold after
    // the last decrease is long over).
    let raise = TmmbItem {
        bitrate_bps: 80_000,
        ..req
    };
    cs[2].feedback(&mut conf, ms(8000), FeedbackMessage::Tmmbr(&[raise]));
    run(&mut conf, &mut cs, 400..450);
    let one = f64::from(
        conf.leg_stats(cs[2].id)
            .expect("stats")
            .rate
            .expect("rate")
            .bitrate_bps,
    );
    let t = f64::from(target);
    assert!(
        one > t && one <= t * 1.08 * 1.02,
        "{one} one second after the raise (from {t})"
    );
    run(&mut conf, &mut cs, 450..650);
    let five = f64::from(
        conf.leg_stats(cs[2].id)
            .expect("stats")
            .rate
            .expect("rate")
            .bitrate_bps,
    );
    assert!(
        five >= t * 1.08f64.powi(4) && five <= t * 1.08f64.powi(5) * 1.02,
        "{five} five seconds after the raise (from {t}, +8 %/s)"
    );

    // Listener 3 loses every 5th packet (20 %): its receiver reports (every few seconds) switch FEC on and set the expected
    // loss; the GCC loss rule caps the rate below the REMB's.
    cs[3].lose_every = 5;
    run(&mut conf, &mut cs, 650..1500);
    let r = conf.leg_stats(cs[3].id).expect("stats").rate.expect("rate");
    assert!(r.fec, "FEC on at 20 % loss: {r:?}");
    assert!(r.expected_loss_pct >= 10, "expected loss {r:?}");
    assert!(r.bitrate_bps < t3, "loss caps the rate: {r:?}");
    let c = conf.leg_stats(cs[3].id).expect("stats").counters;
    assert!(c.rate_changes >= 2, "{c:?}");
}
