//! Jitter-buffer benchmarks: the cost per 20 ms packet of `JitterBuffer::push` + `pop` with the real
//! decoders (G.711 µ-law, G.722, Opus 48 kHz mono), against the baseline of decoding the same payloads
//! directly (no buffer: what a receiver that ignores jitter would do). The difference is the buffer's own
//! work: reordering, the delay estimator, time-scale modification, concealment bookkeeping.
//!
//! The stream is 2 s of a speech-like two-tone signal, encoded once; arrival times carry a deterministic
//! jitter (LCG, 0–30 ms) so the buffer reorders, stretches and conceals as it would live.
//!
//! Run: `cargo bench -p tutti-benches --bench jitter -- --quick`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use tutti_codecs::{CodecSpec, Decoder};
use tutti_rtp::{JitterBuffer, JitterConfig, JitterPacket};

const PACKETS: usize = 100;

struct Stream {
    name: &'static str,
    spec: CodecSpec,
    payloads: Vec<Vec<u8>>,
    arrival_us: Vec<u64>,
    /// Packet indices in arrival order.
    order: Vec<usize>,
    ts_step: u32,
}

fn stream(name: &'static str, spec_text: &str) -> Stream {
    let spec = CodecSpec::parse(spec_text).expect("valid codec name");
    let mut enc = spec.encoder().expect("encoder");
    let info = spec.info();
    let spp = info.audio_rate as usize / 50;
    let ch = info.channels.max(1);
    let mut payloads = Vec::new();
    let mut buf = vec![0u8; enc.max_payload_len(spp).max(16)];
    let mut pcm = vec![0i16; spp * ch];
    for k in 0..PACKETS {
        for i in 0..spp {
            let t = (k * spp + i) as f64 / f64::from(info.audio_rate);
            let v = 6000.0 * (2.0 * std::f64::consts::PI * 180.0 * t).sin()
                + 3000.0 * (2.0 * std::f64::consts::PI * 1250.0 * t).sin();
            for c in 0..ch {
                pcm[i * ch + c] = v as i16;
            }
        }
        let n = enc.encode(&pcm, &mut buf).expect("encode");
        payloads.push(buf[..n].to_vec());
    }
    // Deterministic jitter: 30 ms base + 0–30 ms from a 64-bit LCG.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let arrival_us = (0..PACKETS as u64)
        .map(|k| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            k * 20_000 + 30_000 + (x >> 33) % 30_000
        })
        .collect::<Vec<u64>>();
    let mut order: Vec<usize> = (0..PACKETS).collect();
    order.sort_by_key(|&k| arrival_us[k]);
    Stream {
        order,
        name,
        spec,
        payloads,
        arrival_us,
        ts_step: info.clock_rate / 50,
    }
}

/// Plays the whole stream through a fresh buffer; returns a checksum so nothing is optimised away.
fn play(jb: &mut JitterBuffer, dec: &mut dyn Decoder, s: &Stream, out: &mut [i16]) -> i64 {
    let order = &s.order;
    let mut next = 0;
    let mut sum = 0i64;
    let mut t = 0u64;
    while t < PACKETS as u64 * 20_000 + 200_000 {
        while next < PACKETS && s.arrival_us[order[next]] <= t {
            let k = order[next];
            let p = JitterPacket {
                ssrc: 1,
                seq: k as u16,
                timestamp: k as u32 * s.ts_step,
                marker: k == 0,
                payload: &s.payloads[k],
            };
            jb.push(Duration::from_micros(s.arrival_us[k]), &p);
            next += 1;
        }
        jb.pop(Duration::from_micros(t), dec, out);
        sum += i64::from(out[0]);
        t += 20_000;
    }
    sum
}

fn bench(c: &mut Criterion) {
    let streams = [
        stream("pcmu", "pcmu"),
        stream("g722", "g722"),
        stream("opus", "opus"),
    ];
    let mut g = c.benchmark_group("jitter");
    g.throughput(Throughput::Elements(PACKETS as u64));
    for s in &streams {
        let info = s.spec.info();
        let frame = info.audio_rate as usize / 50 * info.channels.max(1);
        g.bench_function(format!("push_pop/{}", s.name), |b| {
            b.iter_batched_ref(
                || {
                    let dec = s.spec.decoder().expect("decoder");
                    let jb = JitterBuffer::new(JitterConfig::for_codec(&dec.info()));
                    (jb, dec, vec![0i16; frame])
                },
                |(jb, dec, out)| black_box(play(jb, dec.as_mut(), s, out)),
                BatchSize::SmallInput,
            )
        });
        g.bench_function(format!("decode_only/{}", s.name), |b| {
            b.iter_batched_ref(
                || (s.spec.decoder().expect("decoder"), vec![0i16; frame * 6]),
                |(dec, out)| {
                    let mut sum = 0i64;
                    for p in &s.payloads {
                        let n = dec.decode(p, out).expect("decode");
                        sum += i64::from(out[n / 2]);
                    }
                    black_box(sum)
                },
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
