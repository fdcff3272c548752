//! Real-time safety of the translator: zero allocations (and frees) per datagram in `receive_upstream`,
//! `receive_downstream`, `handle_timeout` and `poll_transmit` — with loss, a long pause (a new talkspurt),
//! sender reports, far-end receiver reports with TMMBR (rate adaptation of an Opus output, TMMBN answers),
//! our own reports falling due, a chain, and `finish`.

mod common;

use std::time::Duration;

use common::rtp_packet;
use tutti::codecs::{CodecSpec, Encoder};
use tutti::engine::{count_allocations, counting_is_active, CountingAllocator};
use tutti::rtp::{ReportBlock, RtcpWriter, SenderInfo, TmmbItem};
use tutti::translate::{Translator, TranslatorConfig};

#[global_allocator]
static A: CountingAllocator = CountingAllocator;

const SSRC: u32 = 0x0102_0304;

/// The datagrams of a 12 s call: (time, from the sender?, bytes).
fn call(codec: CodecSpec, ptime: u32) -> Vec<(Duration, bool, Vec<u8>)> {
    let info = codec.info();
    let mut enc: Box<dyn Encoder> = codec.encoder().expect("encoder");
    let n = (info.audio_rate * ptime / 1000) as usize;
    let mut v = Vec::new();
    let mut ts = 1000u32;
    for k in 0..(12_000 / ptime) {
        let pcm: Vec<i16> = (0..n)
            .map(|i| (8000.0 * ((k as usize * n + i) as f32 * 0.07).sin()) as i16)
            .collect();
        let mut pay = vec![0u8; 1500];
        let len = enc.encode(&pcm, &mut pay).expect("encode");
        if k == 300 / ptime * 10 {
            ts = ts.wrapping_add(info.clock_rate * 2); // 2 s jump: a new talkspurt
        }
        let at = Duration::from_millis(u64::from(k * ptime));
        if k % 37 != 5 {
            let pt = info.static_payload_type.unwrap_or(96);
            v.push((at, true, rtp_packet(false, pt, k as u16, ts, SSRC, &pay[..len])));
        }
        if k % (2000 / ptime) == 1 {
            let mut d = vec![0u8; 200];
            let mut w = RtcpWriter::new(&mut d);
            let ntp = (u64::from(k) << 32) | 0x1234;
            let info = SenderInfo {
                ntp,
                rtp_timestamp: ts,
                packet_count: k,
                octet_count: k * 160,
            };
            w.sender_report(SSRC, &info, &[]).expect("SR");
            let l = w.finish();
            d.truncate(l);
            v.push((at, true, d));
            let mut d = vec![0u8; 200];
            let mut w = RtcpWriter::new(&mut d);
            let b = ReportBlock {
                ssrc: SSRC,
                last_sr: (ntp >> 16) as u32,
                delay_since_last_sr: 100,
                ..ReportBlock::default()
            };
            w.receiver_report(77, &[b]).expect("RR");
            // A TMMBR in the same compound: rate adaptation of an Opus output (and its TMMBN answer).
            let req = TmmbItem {
                ssrc: SSRC,
                bitrate_bps: 30_000 + 1_000 * u64::from(k % 7),
                overhead: 40,
            };
            w.tmmbr(77, &[req]).expect("TMMBR");
            let l = w.finish();
            d.truncate(l);
            v.push((at + Duration::from_millis(15), false, d));
        }
        ts = ts.wrapping_add(info.clock_rate * ptime / 1000);
    }
    v
}

fn run(input: &str, output: &str, ptime: u32, chain: Option<&str>) {
    assert!(counting_is_active(), "the counting allocator is installed");
    let input = CodecSpec::parse(input).expect("codec");
    let mut cfg = TranslatorConfig::new(input, CodecSpec::parse(output).expect("codec"));
    cfg.ptime_ms = ptime;
    cfg.chain = chain.map(str::to_string);
    let mut t = Translator::new(cfg, Duration::ZERO).expect("translator");
    let dgrams = call(input, 20);
    let mut out = vec![0u8; 1500];
    // Warm-up outside the count (first calls of the codec libraries).
    for (at, up, d) in &dgrams[..20] {
        let _ = if *up {
            t.receive_upstream(*at, d)
        } else {
            t.receive_downstream(*at, d)
        };
        while t.poll_transmit(&mut out).is_some() {}
    }
    let (sent, counts) = count_allocations(|| {
        let mut sent = 0usize;
        for (at, up, d) in &dgrams[20..] {
            let _ = if *up {
                t.receive_upstream(*at, d)
            } else {
                t.receive_downstream(*at, d)
            };
            t.handle_timeout(*at);
            while t.poll_transmit(&mut out).is_some() {
                sent += 1;
            }
        }
        t.finish(Duration::from_secs(13));
        while t.poll_transmit(&mut out).is_some() {
            sent += 1;
        }
        sent
    });
    assert_eq!(
        counts.allocs, 0,
        "{input:?}->{output}: allocations on the translate path"
    );
    assert_eq!(
        counts.frees, 0,
        "{input:?}->{output}: frees on the translate path"
    );
    let st = t.stats();
    assert!(sent > 250, "sent {sent}");
    if output.starts_with("opus") {
        // The counted region took TMMBRs, changed the encoder's rate and answered with TMMBNs.
        assert!(
            st.counters.tx_tmmbn >= 5 && st.counters.rate_changes >= 2,
            "{:?}",
            st.counters
        );
    }
    assert_eq!(st.counters.talkspurts, 2, "{:?}", st.counters);
    assert!(st.counters.tx_rtcp_upstream >= 2, "our receiver reports went out");
    assert!(st.outgoing.quality.rtt_ms.is_some(), "far-end reports were taken");
}

#[test]
fn pcmu_to_opus_with_a_chain_allocates_nothing() {
    run("pcmu", "opus", 20, Some("hpf(hz=100),agc"));
}

#[test]
fn g722_to_pcma_at_40_ms_allocates_nothing() {
    run("g722", "pcma", 40, None);
}

#[test]
fn opus_to_g722_at_10_ms_allocates_nothing() {
    run("opus", "g722", 10, None);
}
