//! Benchmarks of the effect nodes without one elsewhere (fx_time has reverb, pan3d, pitch and time):
//! time per 10 ms block (480 frames at 48 kHz), reported per channel-sample (`Throughput::Elements`
//! = frames × channels, so criterion's "elem/s" is channel-samples per second).
//!
//! Run: `cargo bench -p tutti-benches --bench fx` (add `-- --quick` for a short run).
//!
//! * `fx/<node>/{1,2,8}ch`: echo, reverse_echo, flanger, chorus, phaser, tremolo, ringmod, overdrive,
//!   resonator, compressor, limiter at their default parameters (echo with four taps), with parameters
//!   held, so the smoothing is settled. The biquad-based nodes (phaser, resonator in band-pass mode; the plain `resonator` rows are its comb mode) run
//!   8 channels per SIMD bank (`fx/<node>/8ch`: the goal ≤ 1.5 ns per channel-sample).
//! * `fx/eq/{1,8}ch`: `eq` with 4 bands (mono: `f64` filters; 8 channels: the 8-lane bank).
//! * `fx/biquad8x4/{scalar_f64,soa_f32}`: 8 channels through 4 biquad sections, the scalar cascade
//!   against `BiquadBank8` (8 lanes, AVX2/FMA where available).
//!
//! Under load the wall-clock times criterion reports grow with the other processes on the machine, so each
//! row is followed by a line `cpu: <row> <x> ns per channel-sample` measured in this thread's CPU time
//! (Linux `/proc/thread-self/schedstat`), the figure the README quotes.
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tutti_benches::{selected, thread_cpu_ns};
use tutti_engine::{Inputs, Outputs, Processor, StreamConfig};

/// Prints the thread CPU time per element of `f` (which handles `elems` elements per call).
fn cpu_row(label: &str, elems: usize, mut f: impl FnMut()) {
    if !selected(label) {
        return;
    }
    let Some(t0) = thread_cpu_ns() else { return };
    for _ in 0..100 {
        f();
    }
    let t1 = thread_cpu_ns().unwrap_or(t0);
    let mut calls = 0u64;
    let mut now = t1;
    while now - t1 < 300_000_000 {
        for _ in 0..50 {
            f();
        }
        calls += 50;
        now = thread_cpu_ns().unwrap_or(now + 1);
    }
    let ns = (now - t1) as f64 / (calls as f64 * elems as f64);
    println!("cpu: {label} {ns:.2} ns per channel-sample");
}

fn build(name: &str, kv: &[(&str, &str)]) -> Box<dyn Processor> {
    let ty = tutti_effects::node_types()
        .into_iter()
        .find(|t| t.name == name)
        .expect("node registered");
    let pairs: Vec<(String, String)> = kv.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    ty.build(&pairs).expect("node builds")
}

fn bench_node(c: &mut Criterion, name: &str, kv: &[(&str, &str)], channels: usize) {
    let mut p = build(name, kv);
    // A struct literal: the engine's graphs run 1–2 channels, a directly prepared node takes more.
    let cfg = StreamConfig {
        sample_rate: 48_000,
        channels,
        block_frames: 480,
    };
    p.prepare(&cfg).expect("prepare");
    let b = cfg.block_frames;
    // One input port per declared input (a side-chain port gets the same signal).
    let n_in = p.num_inputs().max(1);
    let pool: Vec<Vec<f32>> = (0..n_in)
        .map(|i| {
            (0..p.input_channels(i, &cfg) * b)
                .map(|i| (i as f32 * 0.013).sin() * 0.5)
                .collect()
        })
        .collect();
    let idx: Vec<usize> = (0..n_in).collect();
    let mut outs: Vec<Vec<f32>> = (0..p.num_outputs().max(1))
        .map(|o| vec![0.0f32; p.output_channels(o, &cfg) * b])
        .collect();
    let mut g = c.benchmark_group("fx");
    g.throughput(Throughput::Elements((b * channels) as u64));
    let label = format!("{name}/{channels}ch");
    g.bench_function(&label, |bch| {
        bch.iter(|| {
            let ins = Inputs::new(&pool, &idx, b);
            let mut o = Outputs::new(&mut outs, b);
            p.process(&ins, &mut o);
            black_box(&outs);
        })
    });
    g.finish();
    let tag = kv.first().map_or(String::new(), |(k, v)| format!(" ({k}={v})"));
    cpu_row(&format!("fx/{label}{tag}"), b * channels, || {
        let ins = Inputs::new(&pool, &idx, b);
        let mut o = Outputs::new(&mut outs, b);
        p.process(&ins, &mut o);
        black_box(&outs);
    });
}

/// 8 channels × 4 sections (peaking, peaking, low-pass, band-pass) per 480-frame block: the scalar f64
/// cascade (`Biquad`, channel after channel) against the structure-of-arrays bank (`BiquadBank8`).
fn bench_biquad8(c: &mut Criterion) {
    use tutti_effects::{Biquad, BiquadBank8, BiquadCoeffs};
    let fs = 48_000.0;
    let design = |lane: usize| {
        let f = 150.0 * (lane + 1) as f64;
        [
            BiquadCoeffs::peaking(f, 1.0, 4.0, fs),
            BiquadCoeffs::peaking(3.0 * f, 2.0, -3.0, fs),
            BiquadCoeffs::lowpass(8000.0, 0.707, fs),
            BiquadCoeffs::bandpass(2.0 * f, 1.5, fs),
        ]
    };
    let mut chans: Vec<Vec<f32>> = (0..8)
        .map(|c| {
            (0..480)
                .map(|i| ((i * (c + 3)) as f32 * 0.011).sin() * 0.3)
                .collect()
        })
        .collect();
    let mut g = c.benchmark_group("fx");
    g.throughput(Throughput::Elements(480 * 8));
    let mut scalar: Vec<Vec<Biquad>> = (0..8)
        .map(|l| design(l).iter().map(|c| Biquad::new(*c)).collect())
        .collect();
    let mut run_scalar = |chans: &mut Vec<Vec<f32>>| {
        for (ch, cascade) in chans.iter_mut().zip(&mut scalar) {
            for bq in cascade.iter_mut() {
                bq.process_in_place(ch);
            }
        }
        black_box(&chans);
    };
    g.bench_function("biquad8x4/scalar_f64", |b| b.iter(|| run_scalar(&mut chans)));
    cpu_row("fx/biquad8x4/scalar_f64", 480 * 8, || run_scalar(&mut chans));
    let mut bank = BiquadBank8::new(4);
    for l in 0..8 {
        for (s, c) in design(l).iter().enumerate() {
            bank.set(s, l, c);
        }
    }
    let mut run_bank = |chans: &mut Vec<Vec<f32>>| {
        let [a, b, c, d, e, f, g, h] = &mut chans[..] else {
            unreachable!("8 channels")
        };
        bank.process(&mut [a, b, c, d, e, f, g, h]);
        black_box(&chans);
    };
    g.bench_function("biquad8x4/soa_f32", |b| b.iter(|| run_bank(&mut chans)));
    g.finish();
    cpu_row("fx/biquad8x4/soa_f32", 480 * 8, || run_bank(&mut chans));
}

fn benches(c: &mut Criterion) {
    bench_biquad8(c);
    let echo4 = [("tap2", "180"), ("tap3", "260"), ("tap4", "410")];
    for ch in [1, 2] {
        bench_node(c, "echo", &echo4, ch);
        bench_node(c, "reverse_echo", &[], ch);
        bench_node(c, "flanger", &[], ch);
        bench_node(c, "chorus", &[], ch);
        bench_node(c, "tremolo", &[], ch);
        bench_node(c, "ringmod", &[], ch);
        bench_node(c, "overdrive", &[], ch);
        bench_node(c, "compressor", &[], ch);
        bench_node(c, "limiter", &[], ch);
        bench_node(c, "resonator", &[], ch);
    }
    for ch in [1, 2, 8] {
        bench_node(c, "phaser", &[], ch);
        bench_node(c, "resonator", &[("mode", "bandpass")], ch);
    }
    // eq with 4 bands: mono on the f64 filters, 8 channels on the 8-lane bank (8 sections, 4 identity).
    let eq4 = [
        ("b1", "peak:200:1.0:6"),
        ("b2", "lowshelf:120:0.7:-4"),
        ("b3", "highshelf:6000:0.7:3"),
        ("b4", "notch:3000:4"),
    ];
    for ch in [1, 8] {
        bench_node(c, "eq", &eq4, ch);
    }
}

criterion_group!(fx, benches);
criterion_main!(fx);
