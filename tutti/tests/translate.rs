//! The sans-IO translator at library level: every codec direction (G.711 µ/A, G.722, Opus) with packet
//! time and sample-rate changes, checked against analytic signals and the RTP rules (SSRC kept, own
//! consecutive sequence numbers, timestamps = input timestamps mapped to the output clock, stepping by
//! ptime × clock); loss, reordering, pauses; RTCP rewriting (RFC 3550 §7.2); malformed input.

mod common;

use std::time::Duration;

use common::{mono_codec as spec, rtp_packet};
use tutti::codecs::{CodecSpec, Decoder, Encoder};
use tutti::rtp::{
    rtcp_packets, Channel, Feedback, FeedbackMessage, ReportBlock, RtcpPacket, RtcpWriter, RtpPacket,
    SdesChunkSpec, SdesType, SenderInfo, TmmbItem,
};
use tutti::translate::{Side, Translator, TranslatorConfig};

const SSRC: u32 = 0x5eed_cafe;
const TS0: u32 = 0xfff0_1234; // near the wrap: input and output timestamps wrap during the tests
const SEQ0: u16 = 65_500; // wraps

/// The analytic test signal (three tones inside the telephone band, one slowly modulated).
fn signal(t: f64) -> f64 {
    use std::f64::consts::PI;
    0.25 * (2.0 * PI * 440.0 * t).sin()
        + 0.15 * (2.0 * PI * 1230.0 * t).sin()
        + 0.10 * (1.0 + 0.5 * (2.0 * PI * 3.0 * t).sin()) * (2.0 * PI * 2900.0 * t).sin()
}

/// A sender: the signal encoded with `codec` in packets of `ptime_ms`.
struct Sender {
    enc: Box<dyn Encoder>,
    codec: CodecSpec,
    ptime_ms: u32,
    k: u32,
}

impl Sender {
    fn new(codec: &str, ptime_ms: u32) -> Self {
        let codec = spec(codec);
        Self {
            enc: codec.encoder().expect("encoder"),
            codec,
            ptime_ms,
            k: 0,
        }
    }

    fn pt(&self) -> u8 {
        self.codec.info().static_payload_type.unwrap_or(96)
    }

    /// Packet `k` (sequence and timestamp from the packet index), and its send time.
    fn packet(&mut self) -> (Vec<u8>, Duration, u32) {
        let info = self.codec.info();
        let n = (info.audio_rate * self.ptime_ms / 1000) as usize;
        let start = self.k as usize * n;
        let pcm: Vec<i16> = (0..n)
            .map(|i| (signal((start + i) as f64 / f64::from(info.audio_rate)) * 32767.0) as i16)
            .collect();
        let mut payload = vec![0u8; 1500];
        let len = self.enc.encode(&pcm, &mut payload).expect("encode");
        let ts = TS0.wrapping_add(self.k * info.clock_rate * self.ptime_ms / 1000);
        let seq = SEQ0.wrapping_add(self.k as u16);
        let out = rtp_packet(self.k == 0, self.pt(), seq, ts, SSRC, &payload[..len]);
        let at = Duration::from_millis(u64::from(self.k * self.ptime_ms) + 7);
        self.k += 1;
        (out, at, ts)
    }
}

fn translator(input: &str, output: &str, ptime: u32) -> Translator {
    let mut c = TranslatorConfig::new(spec(input), spec(output));
    c.ptime_ms = ptime;
    Translator::new(c, Duration::ZERO).expect("translator")
}

/// Drains everything the translator wants to send: (side, channel, bytes).
fn drain(t: &mut Translator) -> Vec<(Side, Channel, Vec<u8>)> {
    let mut buf = vec![0u8; 1500];
    let mut v = Vec::new();
    while let Some(tx) = t.poll_transmit(&mut buf) {
        v.push((tx.side, tx.channel, buf[..tx.len].to_vec()));
    }
    v
}

/// Output RTP packets: (seq, ts, marker, ssrc, pt, payload).
type Out = (u16, u32, bool, u32, u8, Vec<u8>);

fn rtp_of(v: &[(Side, Channel, Vec<u8>)]) -> Vec<Out> {
    v.iter()
        .filter(|(s, c, _)| *s == Side::Downstream && *c == Channel::Rtp)
        .map(|(_, _, d)| {
            let p = RtpPacket::parse(d).expect("the translator sends valid RTP");
            (
                p.sequence_number(),
                p.timestamp(),
                p.marker(),
                p.ssrc(),
                p.payload_type(),
                p.payload().to_vec(),
            )
        })
        .collect()
}

/// Decodes the output packets onto a timeline by timestamp (silence where nothing was sent).
fn decode(out: &[Out], codec: &str) -> Vec<f32> {
    let c = spec(codec);
    let info = c.info();
    let mut dec: Box<dyn Decoder> = c.decoder().expect("decoder");
    let ts0 = out[0].1;
    let mut y = Vec::new();
    let mut pcm = vec![0i16; 6000];
    for p in out {
        let pos =
            (p.1.wrapping_sub(ts0) as u64 * u64::from(info.audio_rate) / u64::from(info.clock_rate)) as usize;
        let n = dec.decode(&p.5, &mut pcm).expect("decodable payload");
        if y.len() < pos + n {
            y.resize(pos + n, 0.0);
        }
        for i in 0..n {
            y[pos + i] = f32::from(pcm[i]) / 32768.0;
        }
    }
    y
}

/// SNR (dB) of `y` against the analytic signal at `rate`, at the best lag in 0..=max_lag samples, over
/// `y[skip..len-skip]`. Returns (snr, lag).
fn snr(y: &[f32], rate: u32, max_lag: usize, skip: usize) -> (f64, usize) {
    let x: Vec<f64> = (0..y.len()).map(|i| signal(i as f64 / f64::from(rate))).collect();
    let mut best = (f64::MIN, 0);
    for lag in 0..=max_lag {
        let (mut e, mut s) = (0.0, 0.0);
        for i in skip + lag..y.len().saturating_sub(skip) {
            let x = x[i - lag];
            s += x * x;
            e += (f64::from(y[i]) - x).powi(2);
        }
        let r = 10.0 * (s / e.max(1e-12)).log10();
        if r > best.0 {
            best = (r, lag);
        }
    }
    best
}

/// Amplitude of the `f` Hz component of `y` (Goertzel over the whole slice).
fn tone_amplitude(y: &[f32], rate: u32, f: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * f / f64::from(rate);
    let (mut re, mut im) = (0.0, 0.0);
    for (i, &v) in y.iter().enumerate() {
        re += f64::from(v) * (w * i as f64).cos();
        im -= f64::from(v) * (w * i as f64).sin();
    }
    2.0 * (re * re + im * im).sqrt() / y.len() as f64
}

/// Checks the RTP rules of an output stream; returns its packets.
fn check_stream(out: &[Out], out_codec: &str, ptime: u32, in_clock: u32, pt: u8) {
    let info = spec(out_codec).info();
    let step = info.clock_rate * ptime / 1000;
    let first = (u64::from(TS0) * u64::from(info.clock_rate) / u64::from(in_clock)) as u32;
    assert_eq!(
        out[0].1, first,
        "first timestamp = the input's mapped to {} Hz",
        info.clock_rate
    );
    assert!(out[0].2, "marker on the first packet");
    for w in out.windows(2) {
        assert_eq!(w[1].0, w[0].0.wrapping_add(1), "consecutive sequence numbers");
        assert_eq!(
            w[1].1.wrapping_sub(w[0].1),
            step,
            "timestamp step = ptime × clock"
        );
        assert!(!w[1].2, "marker only at the start");
    }
    assert!(out.iter().all(|p| p.3 == SSRC), "SSRC kept");
    assert!(out.iter().all(|p| p.4 == pt), "output payload type");
}

#[test]
fn every_codec_direction_with_ptime_and_rate_changes_keeps_audio_and_timing() {
    let codecs = ["pcmu", "pcma", "g722", "opus"];
    let ptimes = [10u32, 20, 30, 40, 60];
    let mut k = 0;
    let mut table = String::new();
    for input in codecs {
        for output in codecs {
            let in_ptime = if input == "opus" {
                [20, 40, 60, 10][k % 4]
            } else {
                [20, 30, 10][k % 3]
            };
            let mut out_ptime = ptimes[k % 5];
            if output == "opus" && out_ptime == 30 {
                out_ptime = 60;
            }
            k += 1;
            // The sender's Opus at 64 kbit/s (a good-quality source); the translator's at the default.
            let mut s = Sender::new(if input == "opus" { "opus:64000" } else { input }, in_ptime);
            let mut t = translator(input, output, out_ptime);
            let mut all = Vec::new();
            let n = 3000 / in_ptime;
            for _ in 0..n {
                let (p, at, _) = s.packet();
                t.receive_upstream(at, &p).expect("accepted");
                all.extend(drain(&mut t));
            }
            t.finish(Duration::from_secs(4));
            all.extend(drain(&mut t));
            let out = rtp_of(&all);
            let oinfo = spec(output).info();
            check_stream(
                &out,
                output,
                out_ptime,
                spec(input).info().clock_rate,
                oinfo.static_payload_type.unwrap_or(96),
            );
            // 3 s of audio, the last frame padded.
            assert_eq!(
                out.len() as u32,
                3000_u32.div_ceil(out_ptime),
                "{input}->{output}"
            );
            let y = decode(&out, output);
            let rate = oinfo.audio_rate;
            // Codec delays only (the translator's resampler delay is compensated): at most 10 ms.
            let (db, lag) = snr(&y, rate, rate as usize * 15 / 1000, rate as usize / 5);
            // Bounds: waveform codecs in series ≥ 25 dB (measured 32.5–37.4 dB); with Opus on either side (a
            // perceptual codec, measured 13.8–16.1 dB) ≥ 11 dB; and every tone's level within 1 dB.
            let bound = if input == "opus" || output == "opus" {
                11.0
            } else {
                25.0
            };
            let body = &y[rate as usize / 5..y.len() - rate as usize / 5];
            for (f, a) in [(440.0, 0.25), (1230.0, 0.15), (2900.0, 0.10)] {
                let got = tone_amplitude(body, rate, f);
                let err = 20.0 * (got / a).log10();
                assert!(err.abs() < 1.0, "{input}->{output}: {f} Hz at {err:+.2} dB");
            }
            table.push_str(&format!(
                "{input:>5} {in_ptime:>2} ms -> {output:>5} {out_ptime:>2} ms: SNR {db:5.1} dB at lag {:.2} ms\n",
                lag as f64 * 1000.0 / f64::from(rate)
            ));
            assert!(
                db >= bound,
                "{input}->{output}: SNR {db:.1} dB < {bound} dB\n{table}"
            );
            let st = t.stats();
            assert_eq!(st.incoming.ssrc, Some(SSRC));
            assert_eq!(st.incoming.quality.packets, u64::from(n));
            assert_eq!(st.incoming.quality.lost, 0);
            assert_eq!(st.outgoing.quality.packets, out.len() as u64);
            assert_eq!(st.counters.talkspurts, 1);
            assert!(
                st.incoming.quality.mos > 3.5,
                "{input}: MOS {}",
                st.incoming.quality.mos
            );
        }
    }
    println!("{table}");
}

#[test]
fn loss_is_concealed_in_place_and_reordered_late_packets_are_discarded() {
    let mut s = Sender::new("pcmu", 20);
    let mut t = translator("pcmu", "opus", 20);
    let mut all = Vec::new();
    let mut dropped = 0;
    let mut held: Option<(Vec<u8>, Duration)> = None;
    for k in 0..150u32 {
        let (p, at, _) = s.packet();
        if k % 20 == 7 {
            dropped += 1;
            continue;
        }
        if k == 100 {
            held = Some((p, at));
            continue;
        }
        t.receive_upstream(at, &p).expect("accepted");
        if k == 101 {
            // Packet 100 arrives after 101: its time is past, it is discarded (not lost, not played twice).
            let (p, at) = held.take().expect("held");
            t.receive_upstream(at + Duration::from_millis(25), &p)
                .expect("accepted");
        }
        all.extend(drain(&mut t));
    }
    t.finish(Duration::from_secs(4));
    all.extend(drain(&mut t));
    let out = rtp_of(&all);
    check_stream(&out, "opus", 20, 8000, 96);
    assert_eq!(out.len(), 150, "one talkspurt, no hole in the timestamps");
    let st = t.stats();
    assert_eq!(st.incoming.quality.lost, dropped);
    assert_eq!(st.incoming.quality.discarded, 1);
    // 8 lost + 1 discarded packets of 160 samples concealed, out of 150.
    let expect = 9.0 / 150.0;
    assert!(
        (st.incoming.quality.concealment_ratio - expect).abs() < 1e-9,
        "concealment {} vs {expect}",
        st.incoming.quality.concealment_ratio
    );
    assert!(
        st.incoming.quality.mos < 4.2,
        "loss lowers the MOS: {}",
        st.incoming.quality.mos
    );
}

#[test]
fn pauses_fill_short_gaps_and_start_talkspurts_after_long_ones() {
    let mut s = Sender::new("g722", 20);
    let mut t = translator("g722", "pcma", 40);
    let mut all = Vec::new();
    for k in 0..100u32 {
        let (mut p, at, _) = s.packet();
        if k >= 30 {
            // Shift the timestamps of the rest by 100 ms (a pause, same sequence numbers), and from 60 on
            // by 1.1 s (longer than the bridged gap: a new talkspurt).
            let shift: u32 = if k >= 60 { 800 + 8800 } else { 800 };
            let ts = u32::from_be_bytes([p[4], p[5], p[6], p[7]]).wrapping_add(shift);
            p[4..8].copy_from_slice(&ts.to_be_bytes());
        }
        t.receive_upstream(at, &p).expect("accepted");
        all.extend(drain(&mut t));
    }
    t.finish(Duration::from_secs(4));
    all.extend(drain(&mut t));
    let out = rtp_of(&all);
    let st = t.stats();
    assert_eq!(st.counters.talkspurts, 2);
    assert_eq!(st.incoming.quality.lost, 0);
    assert_eq!(
        st.counters.silence_samples, 1600,
        "100 ms at 16 kHz filled with silence"
    );
    let starts: Vec<usize> = out
        .iter()
        .enumerate()
        .filter(|(_, p)| p.2)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(starts.len(), 2, "a marker per talkspurt");
    let second = &out[starts[1]..];
    let first = &out[..starts[1]];
    // First talkspurt: 60 packets of 20 ms + 100 ms pause = 1.3 s in 40 ms packets (last one padded).
    assert_eq!(first.len(), 33);
    // Second: starts at the input timestamp of packet 60 (shifted) mapped (same 8 kHz clock: equal).
    let ts60 = TS0.wrapping_add(60 * 160 + 800 + 8800);
    assert_eq!(second[0].1, ts60);
    for w in out.windows(2) {
        assert_eq!(
            w[1].0,
            w[0].0.wrapping_add(1),
            "one sequence space across talkspurts"
        );
    }
    for w in second.windows(2) {
        assert_eq!(w[1].1.wrapping_sub(w[0].1), 320);
    }
}

fn sr(ntp: u64, rtp: u32) -> Vec<u8> {
    let mut b = vec![0u8; 200];
    let mut w = RtcpWriter::new(&mut b);
    let info = SenderInfo {
        ntp,
        rtp_timestamp: rtp,
        packet_count: 999,
        octet_count: 99_999,
    };
    w.sender_report(SSRC, &info, &[]).expect("SR");
    w.sdes(&[SdesChunkSpec {
        ssrc: SSRC,
        items: &[(SdesType::Cname, b"alice@example.org")],
    }])
    .expect("SDES");
    let n = w.finish();
    b.truncate(n);
    b
}

#[test]
fn rtcp_is_rewritten_for_each_leg() {
    let mut s = Sender::new("pcmu", 20);
    let mut t = translator("pcmu", "opus", 20);
    let mut down_rtcp = Vec::new();
    let mut up_rtcp = Vec::new();
    let mut sr_at = None;
    let ntp: u64 = (3_900_000_000u64 << 32) | 0x8000_0000;
    for k in 0..400u32 {
        let (p, at, ts) = s.packet();
        if k % 50 != 3 {
            t.receive_upstream(at, &p).expect("accepted");
        }
        if k == 200 {
            t.receive_upstream(at, &sr(ntp, ts)).expect("SR accepted");
            sr_at = Some((at, ts, t.stats().counters));
        }
        if k == 201 {
            // The far receiver reports on the outgoing stream 30 ms after we forwarded the SR, having held
            // it 10 ms: RTT 20 ms.
            let (at0, _, _) = sr_at.expect("SR sent");
            let block = ReportBlock {
                ssrc: SSRC,
                fraction_lost: 0,
                cumulative_lost: 3,
                extended_highest_seq: 1000,
                jitter: 480,
                last_sr: (ntp >> 16) as u32,
                delay_since_last_sr: 655, // 655/65536 s ≈ 9.99 ms
            };
            let mut b = vec![0u8; 200];
            let mut w = RtcpWriter::new(&mut b);
            w.receiver_report(0xbeef, &[block]).expect("RR");
            w.sdes(&[SdesChunkSpec {
                ssrc: 0xbeef,
                items: &[(SdesType::Cname, b"bob")],
            }])
            .expect("SDES");
            let n = w.finish();
            t.receive_downstream(at0 + Duration::from_millis(30), &b[..n])
                .expect("RR accepted");
        }
        t.handle_timeout(at);
        for (side, ch, d) in drain(&mut t) {
            match (side, ch) {
                (Side::Downstream, Channel::Rtcp) => down_rtcp.push(d),
                (Side::Upstream, Channel::Rtcp) => up_rtcp.push(d),
                _ => {}
            }
        }
    }
    // Downstream: the sender's SR with the translated stream's figures; SDES passed on.
    assert_eq!(down_rtcp.len(), 1);
    let (_, ts, c) = sr_at.expect("SR");
    let mut saw_sdes = false;
    for p in rtcp_packets(&down_rtcp[0]).map(|p| p.expect("valid RTCP")) {
        match p {
            RtcpPacket::SenderReport(r) => {
                assert_eq!(r.ssrc, SSRC);
                assert_eq!(r.info.ntp, ntp, "NTP kept");
                assert_eq!(r.info.rtp_timestamp, t.map_timestamp(ts).expect("mapped"));
                assert_eq!(
                    r.info.rtp_timestamp,
                    (u64::from(ts) * 6) as u32,
                    "8 kHz → 48 kHz clock"
                );
                assert_eq!(r.info.packet_count as u64, c.tx_rtp);
                assert_eq!(r.info.octet_count as u64, c.tx_payload_bytes);
                assert!(c.tx_rtp > 150);
            }
            RtcpPacket::Sdes(sd) => saw_sdes = sd.chunks().any(|c| c.ssrc == SSRC),
            _ => {}
        }
    }
    assert!(saw_sdes, "the sender's CNAME is forwarded");
    // Outgoing leg: the far receiver's figures.
    let st = t.stats();
    assert_eq!(st.outgoing.quality.lost, 3);
    assert!(
        (st.outgoing.quality.jitter_ms - 10.0).abs() < 1e-9,
        "480 ticks at 48 kHz"
    );
    let rtt = st.outgoing.quality.rtt_ms.expect("RTT from the forwarded SR");
    assert!((rtt - 20.0).abs() < 0.05, "rtt {rtt}");
    // Upstream: our own receiver reports about the incoming leg (8 packets lost so far).
    assert!(!up_rtcp.is_empty(), "receiver reports to the sender");
    let last = up_rtcp.last().expect("one");
    let mut block = None;
    for p in rtcp_packets(last).map(|p| p.expect("valid RTCP")) {
        if let RtcpPacket::ReceiverReport(r) = p {
            assert_eq!(r.ssrc, t.reporter_ssrc());
            assert_ne!(r.ssrc, SSRC);
            block = r.blocks().find(|b| b.ssrc == SSRC);
        }
    }
    let b = block.expect("a report block about the stream");
    assert!(
        b.cumulative_lost >= 6 && b.cumulative_lost <= 8,
        "lost {}",
        b.cumulative_lost
    );
    assert_eq!(b.last_sr, (ntp >> 16) as u32, "LSR of the sender's SR");
    // BYE both ways at the end.
    t.finish(Duration::from_secs(9));
    let end = drain(&mut t);
    let byes = |side: Side| {
        end.iter()
            .filter(|(s, c, _)| *s == side && *c == Channel::Rtcp)
            .flat_map(|(_, _, d)| rtcp_packets(d).map(|p| p.expect("valid")).collect::<Vec<_>>())
            .filter_map(|p| match p {
                RtcpPacket::Bye(b) => Some(b.ssrcs().collect::<Vec<_>>()),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(byes(Side::Downstream), vec![vec![SSRC]]);
    assert_eq!(byes(Side::Upstream), vec![vec![t.reporter_ssrc()]]);
}

#[test]
fn malformed_and_foreign_datagrams_are_counted_and_dropped() {
    let mut t = translator("pcma", "g722", 20);
    let mut s = Sender::new("pcma", 20);
    let (p, at, _) = s.packet();
    t.receive_upstream(at, &p).expect("accepted");
    let mut rng = 0x1234_5678_u64;
    let mut errors = 0;
    for n in 0..2000usize {
        let len = n % 300;
        let mut d = vec![0u8; len];
        for b in d.iter_mut() {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            *b = rng as u8;
        }
        if n % 3 == 0 && len >= 2 {
            d[0] = 0x80; // RTP version, random rest
        }
        if n % 3 == 1 && len >= 2 {
            d[0] = 0x81;
            d[1] = 200; // RTCP-looking
        }
        errors += usize::from(t.receive_upstream(at, &d).is_err());
        errors += usize::from(t.receive_downstream(at, &d).is_err());
    }
    let st = t.stats();
    assert!(st.counters.malformed > 1000, "{:?}", st.counters);
    // Random datagrams that happen to be valid RTP belong to other SSRCs: refused as foreign.
    assert_eq!(st.counters.foreign_ssrc + st.counters.malformed, errors as u64);
    // The stream continues unharmed.
    let (p, at, _) = s.packet();
    t.receive_upstream(at, &p).expect("accepted");
    assert_eq!(t.stats().incoming.quality.packets, 2);
    // Another SSRC is not this stream's.
    let mut q = p.clone();
    q[8..12].copy_from_slice(&1u32.to_be_bytes());
    assert!(t.receive_upstream(at, &q).is_err());
    assert_eq!(t.stats().counters.foreign_ssrc, st.counters.foreign_ssrc + 1);
}

#[test]
fn bad_configuration_is_refused_with_the_field() {
    let mut c = TranslatorConfig::new(spec("pcmu"), spec("opus"));
    c.ptime_ms = 30;
    let e = Translator::new(c.clone(), Duration::ZERO).expect_err("Opus has no 30 ms frame");
    assert!(e.to_string().contains("ptime"), "{e}");
    c.ptime_ms = 20;
    c.chain = Some("no_such_node".into());
    let e = Translator::new(c, Duration::ZERO).expect_err("unknown node");
    assert!(e.to_string().contains("chain"), "{e}");
}

#[test]
fn a_chain_runs_on_the_way_and_keeps_the_timing() {
    let mut c = TranslatorConfig::new(spec("pcmu"), spec("g722"));
    c.chain = Some("gain(db=-6)".into());
    let mut t = Translator::new(c, Duration::ZERO).expect("translator");
    let mut s = Sender::new("pcmu", 20);
    let mut all = Vec::new();
    for _ in 0..100 {
        let (p, at, _) = s.packet();
        t.receive_upstream(at, &p).expect("accepted");
        all.extend(drain(&mut t));
    }
    let out = rtp_of(&all);
    check_stream(&out, "g722", 20, 8000, 9);
    let y: Vec<f32> = decode(&out, "g722").iter().map(|v| v * 2.0).collect();
    let (db, _) = snr(&y, 16000, 160, 3200);
    assert!(db > 15.0, "−6 dB chain undone: SNR {db:.1} dB");
}

/// A far receiver's RTCP with a TMMBR for the stream (compound: RR + SDES + TMMBR, as RtcpSession writes it).
fn far_feedback(now: Duration, msg: tutti::rtp::FeedbackMessage<'_>) -> Vec<u8> {
    let cfg = tutti::rtp::RtcpSessionConfig::new(0xfa5e, "far", 48_000, 64_000);
    let mut far = tutti::rtp::RtcpSession::new(cfg, 0, 0);
    let mut out = vec![0u8; 1500];
    let n = far
        .write_feedback(now.as_micros() as u64, &[msg], &mut out)
        .expect("feedback");
    out.truncate(n);
    out
}

/// Payload bit rate of the downstream RTP packets in the drained output.
fn payload_bps(v: &[(Side, Channel, Vec<u8>)], seconds: f64) -> f64 {
    let bytes: usize = rtp_of(v).iter().map(|o| o.5.len()).sum();
    8.0 * bytes as f64 / seconds
}

#[test]
fn tmmbr_and_remb_from_the_far_receiver_steer_an_opus_output() {
    let mut t = translator("pcmu", "opus:48000", 20);
    let mut s = Sender::new("pcmu", 20);
    let run = |t: &mut Translator, s: &mut Sender, packets: u32| {
        let mut all = Vec::new();
        for _ in 0..packets {
            let (p, at, _) = s.packet();
            t.receive_upstream(at, &p).expect("RTP");
            all.extend(drain(t));
        }
        all
    };
    let before = payload_bps(&run(&mut t, &mut s, 100)[..], 2.0);
    assert!(before > 38_000.0, "before: {before:.0} bit/s");
    // TMMBR 40 kbit/s total with 40 bytes of overhead at 50 packets/s: 24 kbit/s of payload, answered
    // with a TMMBN from the stream's SSRC.
    let req = TmmbItem {
        ssrc: SSRC,
        bitrate_bps: 40_000,
        overhead: 40,
    };
    let now = Duration::from_millis(2007);
    t.receive_downstream(now, &far_feedback(now, FeedbackMessage::Tmmbr(&[req])))
        .expect("far RTCP");
    let answer = drain(&mut t);
    let tmmbn = answer
        .iter()
        .filter(|(side, ch, _)| *side == Side::Downstream && *ch == Channel::Rtcp)
        .flat_map(|(_, _, d)| tutti::rtp::rtcp_packets(d).flatten().collect::<Vec<_>>())
        .find_map(|p| match p.feedback() {
            Some(Ok(Feedback::Tmmbn(n))) => Some((n.sender_ssrc, n.items().collect::<Vec<_>>())),
            _ => None,
        })
        .expect("a TMMBN answers the TMMBR");
    assert_eq!(tmmbn.0, SSRC);
    assert_eq!(tmmbn.1.len(), 1);
    let target = t.stats().rate.expect("Opus output has rate control").bitrate_bps;
    assert!((23_500..=24_000).contains(&target), "target {target}");
    // From the next packet on, the output follows (measured on what is sent over the next 2 s).
    let after = payload_bps(&run(&mut t, &mut s, 100)[..], 2.0);
    assert!(
        after < 1.15 * f64::from(target) && after > 0.6 * f64::from(target),
        "after TMMBR: {after:.0} bit/s (target {target})"
    );
    assert_eq!(t.stats().counters.tx_tmmbn, 1);
    // A REMB below that (34 kbit/s → 18 kbit/s of payload) lowers it further.
    let now = Duration::from_millis(4007);
    let remb = FeedbackMessage::Remb {
        bitrate_bps: 34_000,
        ssrcs: &[SSRC],
    };
    t.receive_downstream(now, &far_feedback(now, remb))
        .expect("far RTCP");
    let after_remb = payload_bps(&run(&mut t, &mut s, 100)[..], 2.0);
    let t2 = t.stats().rate.expect("rate").bitrate_bps;
    assert!((17_500..=18_000).contains(&t2), "REMB target {t2}");
    assert!(
        after_remb < 1.15 * f64::from(t2),
        "after REMB: {after_remb:.0} (target {t2})"
    );
    assert!(t.stats().counters.rate_changes >= 2);
}
