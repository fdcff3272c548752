//! RFC 3389 comfort noise (and RFC 4733 events) through the jitter buffer and the receiver: CN packets share
//! the stream's sequence numbers, so a DTX period announced by them is neither loss nor concealment, and the
//! pause is filled with noise at the level the packet carries (RFC 3389 §3.1: level in −dBov, 0 dBov =
//! full-scale square wave). Telephone-event packets likewise take sequence numbers without being loss.

mod jb_common;

use std::time::Duration;

use jb_common::*;
use tutti_codecs::CodecSpec;
use tutti_rtp::{JitterBuffer, JitterConfig, PlayoutKind, Receiver, RtpBuilder, RtpPacket};

const RATE: u32 = 8000;

/// Level 40 −dBov, reflection coefficients 0.5 and −0.25 (RFC 3389 §3.2 quantisation: round(k·128) + 127).
const CN: [u8; 3] = [40, 191, 95];

fn rms_db_ov(x: &[i16]) -> f64 {
    let p = x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / x.len() as f64;
    10.0 * (p / (32767.0f64 * 32767.0)).log10()
}

#[test]
fn comfort_noise_packets_are_not_loss_and_fill_the_pauses_at_their_level() {
    let audio = sine(RATE, 250.0, 8000.0, 30 * RATE as usize);
    // 1 s talk, 0.6 s pause.
    let talk = |i: usize| i % 80 < 50;
    for (model, seed) in [(NetModel::clean(), 1u64), (NetModel::clean().gamma(2.0, 4.0), 2)] {
        let trace = simulate_full(&audio, RATE, 20, &model, seed, &talk, &|_| 1.0, Some(&CN));
        assert!(trace.cn_sent > 30 && trace.cn_lost == 0);
        let mut jb = JitterBuffer::new(JitterConfig::new(RATE, RATE, 1));
        let mut dec = TraceDecoder::new(RATE);
        let p = run(&mut jb, &mut dec, &trace, 31_000);
        let s = jb.stats();
        assert_eq!(s.lost_packets, p.late.len() as u64, "CN packets are not loss");
        assert_eq!(
            dec.log.len() + p.late.len(),
            trace.sent,
            "every audio packet played"
        );
        assert_eq!(s.comfort_noise_packets, trace.cn_sent as u64);
        let pauses = 30.0 / 1.6 * 0.6 * f64::from(RATE);
        assert!(
            s.comfort_noise_samples as f64 > 0.9 * pauses,
            "pauses filled with comfort noise: {} samples",
            s.comfort_noise_samples
        );
        assert!(s.comfort_noise_samples <= s.dtx_samples);
        if model.gamma_shape == 0.0 {
            assert_eq!(s.concealed_samples, 0, "a CN pause is not concealment");
            assert_eq!(s.concealment_events, 0);
        }
        // The noise of whole comfort-noise frames has the packet's level (the generator glides over one
        // block and a pause's first and last frames may share audio with a talkspurt: take inner frames).
        let frame = jb.frame_samples();
        let mut noise = Vec::new();
        for (f, w) in p.kinds.windows(3).enumerate() {
            if w.iter().all(|&k| k == PlayoutKind::ComfortNoise) {
                noise.extend_from_slice(&p.audio[(f + 1) * frame..(f + 2) * frame]);
            }
        }
        assert!(noise.len() > 100 * frame);
        let level = rms_db_ov(&noise);
        assert!(
            (level + 40.0).abs() < 1.0,
            "comfort noise at {level:.2} dBov, want −40"
        );
        // And talk is played after each pause (the talkspurt restarts).
        let talk_frames = p
            .kinds
            .iter()
            .filter(|&&k| {
                matches!(
                    k,
                    PlayoutKind::Normal | PlayoutKind::Accelerated | PlayoutKind::Expanded
                )
            })
            .count();
        assert!(
            talk_frames as f64 > 0.9 * 1500.0 * 50.0 / 80.0,
            "{talk_frames} talk frames"
        );
    }
}

#[test]
fn lost_comfort_noise_is_loss_and_pauses_without_it_stay_silent() {
    let audio = sine(RATE, 250.0, 8000.0, 30 * RATE as usize);
    let talk = |i: usize| i % 80 < 50;
    let model = NetModel::clean().bursty_loss(0.1, 2.0);
    // The first seed whose trace loses some CN packets (deterministic).
    let trace = (1..)
        .map(|seed| simulate_full(&audio, RATE, 20, &model, seed, &talk, &|_| 1.0, Some(&CN)))
        .find(|t| t.cn_lost > 1)
        .expect("10 % loss hits a CN packet for some seed");
    let mut jb = JitterBuffer::new(JitterConfig::new(RATE, RATE, 1));
    let mut dec = TraceDecoder::new(RATE);
    let _ = run(&mut jb, &mut dec, &trace, 31_000);
    let s = jb.stats();
    assert_eq!(s.comfort_noise_packets, (trace.cn_sent - trace.cn_lost) as u64);
    // Every missing sequence number (audio or CN) between two received packets counts as lost, except a
    // trailing run at the very end of the stream, which no later packet reveals.
    let lost = (trace.lost.len() + trace.cn_lost) as u64;
    assert!(
        s.lost_packets <= lost && s.lost_packets + 12 >= lost,
        "{} of {lost}",
        s.lost_packets
    );

    // Without CN packets, the same pauses are silence (and still not loss).
    let trace = simulate_full(&audio, RATE, 20, &NetModel::clean(), 9, &talk, &|_| 1.0, None);
    let mut jb = JitterBuffer::new(JitterConfig::new(RATE, RATE, 1));
    let p = run(&mut jb, &mut TraceDecoder::new(RATE), &trace, 31_000);
    assert_eq!(jb.stats().comfort_noise_samples, 0);
    assert_eq!(jb.stats().lost_packets, 0);
    assert!(!p.kinds.contains(&PlayoutKind::ComfortNoise));
}

/// Builds an RTP packet.
fn rtp(pt: u8, seq: u16, ts: u32, marker: bool, payload: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; 12 + payload.len()];
    let b = RtpBuilder {
        marker,
        payload_type: pt,
        sequence_number: seq,
        timestamp: ts,
        ssrc: 0xC0FF_EE00,
        ..Default::default()
    };
    let n = b.write(payload, &mut buf).expect("buffer sized for the packet");
    buf.truncate(n);
    buf
}

#[test]
fn receiver_routes_payload_type_13_as_comfort_noise() {
    // PCMU talkspurts of 0.5 s, then a CN packet and 0.5 s of DTX (no packets), repeated.
    let mut stream = Vec::new();
    let (mut seq, mut ts) = (65_500u16, 1000u32);
    let pcmu = [0xFFu8; 160];
    for spurt in 0..6u64 {
        for k in 0..25u64 {
            let at = (spurt * 50 + k) * 20_000;
            stream.push((at, rtp(0, seq, ts, k == 0, &pcmu)));
            seq = seq.wrapping_add(1);
            ts = ts.wrapping_add(160);
        }
        let at = (spurt * 50 + 25) * 20_000;
        stream.push((at, rtp(13, seq, ts, false, &CN)));
        seq = seq.wrapping_add(1);
        ts = ts.wrapping_add(25 * 160);
    }
    let run = |cn: Option<u8>| {
        let dec = CodecSpec::Pcmu.decoder().expect("G.711 decoder");
        let mut rx = Receiver::with_decoder(dec, Some(0));
        rx.set_comfort_noise_payload_type(cn);
        let mut out = vec![0i16; rx.frame_len()];
        let mut kinds = Vec::new();
        let mut next = 0;
        for f in 0..400u64 {
            let now = f * 20_000;
            while next < stream.len() && stream[next].0 <= now {
                let p = RtpPacket::parse(&stream[next].1).expect("valid RTP");
                rx.push(Duration::from_micros(stream[next].0), &p);
                next += 1;
            }
            kinds.push(rx.pop(Duration::from_micros(now), &mut out));
        }
        (rx.stats(), kinds)
    };
    let (st, kinds) = run(Some(13));
    assert_eq!(rx_default_cn(), Some(13), "PT 13 is CN/8000 by default");
    assert_eq!(st.lost, 0, "RFC 3550 loss");
    assert_eq!(st.jitter_buffer.lost_packets, 0);
    assert_eq!(st.jitter_buffer.comfort_noise_packets, 6);
    assert_eq!(st.ignored_packets, 0);
    assert_eq!(st.jitter_buffer.concealment_events, 0);
    assert!(kinds.contains(&PlayoutKind::ComfortNoise));
    // Ignoring CN instead leaves holes in the sequence numbers: RFC 3550 counts them as loss (all but the
    // last, after which no packet came).
    let (st, kinds) = run(None);
    assert_eq!(st.ignored_packets, 6);
    assert_eq!(st.lost, 5);
    assert!(!kinds.contains(&PlayoutKind::ComfortNoise));
}

fn rx_default_cn() -> Option<u8> {
    let dec = CodecSpec::Pcmu.decoder().expect("G.711 decoder");
    Receiver::with_decoder(dec, Some(0)).comfort_noise_payload_type()
}

#[test]
fn receiver_counts_telephone_events_in_the_sequence_not_as_loss() {
    // PCMU, then a 100 ms RFC 4733 event (5 packets, same timestamp, sequence numbers continue) in place of
    // audio, then PCMU again; all in one SSRC as RFC 4733 §2.1 has it.
    let mut stream = Vec::new();
    let (mut seq, mut ts) = (100u16, 0u32);
    let pcmu = [0xFFu8; 160];
    let mut at = 0u64;
    for k in 0..25 {
        stream.push((at, rtp(0, seq, ts, k == 0, &pcmu)));
        (seq, ts, at) = (seq + 1, ts + 160, at + 20_000);
    }
    for k in 0..5u16 {
        let dur = (k + 1) * 160;
        let payload = [5u8, if k == 4 { 0x8a } else { 0x0a }, (dur >> 8) as u8, dur as u8];
        stream.push((at, rtp(101, seq, ts, k == 0, &payload)));
        (seq, at) = (seq + 1, at + 20_000);
    }
    ts += 5 * 160;
    for k in 0..25 {
        stream.push((at, rtp(0, seq, ts, k == 0, &pcmu)));
        (seq, ts, at) = (seq + 1, ts + 160, at + 20_000);
    }
    let run = |event_pt: Option<u8>| {
        let dec = CodecSpec::Pcmu.decoder().expect("G.711 decoder");
        let mut rx = Receiver::with_decoder(dec, Some(0));
        rx.set_event_payload_type(event_pt);
        let mut out = vec![0i16; rx.frame_len()];
        let mut next = 0;
        let mut kinds = Vec::new();
        // Until everything sent has been played (the stream's end is not concealment).
        for f in 0..200u64 {
            let now = f * 20_000;
            while next < stream.len() && stream[next].0 <= now {
                let p = RtpPacket::parse(&stream[next].1).expect("valid RTP");
                rx.push(Duration::from_micros(stream[next].0), &p);
                next += 1;
            }
            if next == stream.len() && !rx.has_pending_audio() {
                break;
            }
            kinds.push(rx.pop(Duration::from_micros(now), &mut out));
        }
        (rx.stats(), kinds)
    };
    let (st, kinds) = run(Some(101));
    assert_eq!(st.lost, 0, "RFC 3550 loss");
    assert_eq!(st.packets, 55);
    assert_eq!(st.jitter_buffer.lost_packets, 0);
    assert_eq!(st.jitter_buffer.event_packets, 5);
    assert_eq!(
        st.jitter_buffer.concealment_events, 0,
        "the event is a pause, not loss"
    );
    assert_eq!(
        st.jitter_buffer.jitter_buffer_emitted_count,
        50 * 160,
        "all audio played"
    );
    assert!(kinds.contains(&PlayoutKind::Silence));
    // Ignored, the event's sequence numbers are loss and its time is concealment.
    let (st, _) = run(None);
    assert_eq!(st.ignored_packets, 5);
    assert_eq!(st.lost, 5);
    assert!(st.jitter_buffer.concealment_events > 0);
}
