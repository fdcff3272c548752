//! µs per block of the voice nodes at 16 kHz — `hpf`, `ns`, `agc`, `vad` alone and the conference's per-leg
//! chain `hpf,ns,agc` — in 10 ms blocks (a live chain) and 20 ms blocks (a conference tick), on a seeded
//! speech-like signal (harmonic bursts with syllable-rate envelope over pink-ish noise), with denormals
//! flushed as on the engine's real-time threads.
//! Run: `cargo bench -p tutti-benches --bench voice -- --quick`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use tutti_engine::{Inputs, Outputs, Processor, StreamConfig};

const RATE: u32 = 16_000;
const SECONDS: usize = 4;

/// Voiced bursts (f0 140 Hz, 12 harmonics, 4 Hz syllable envelope, gaps) over low-passed noise.
fn signal() -> Vec<f32> {
    let mut rnd = tutti_benches::xorshift(0x9e37_79b9);
    let mut lp = 0.0f32;
    (0..RATE as usize * SECONDS)
        .map(|i| {
            let t = i as f32 / RATE as f32;
            let env = (std::f32::consts::PI * 4.0 * t).sin().max(0.0)
                * if (t as usize) % 3 == 2 { 0.0 } else { 1.0 };
            let voiced: f32 = (1..=12)
                .map(|h| (2.0 * std::f32::consts::PI * 140.0 * h as f32 * t).sin() / h as f32)
                .sum();
            lp += 0.3 * (rnd() - lp);
            0.08 * env * voiced + 0.02 * lp
        })
        .collect()
}

fn node(name: &str) -> Box<dyn Processor> {
    tutti_effects::node_types()
        .into_iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("{name} is registered"))
        .build(&[])
        .expect("default parameters are valid")
}

fn bench_voice(c: &mut Criterion) {
    // As on the engine's real-time threads: denormals flushed to zero.
    let _ftz = tutti_engine::DenormalGuard::new();
    let x = signal();
    for block_ms in [10usize, 20] {
        let n = RATE as usize * block_ms / 1000;
        let blocks = x.len() / n;
        let cfg = StreamConfig::with_frames(RATE, 1, n).expect("16 kHz mono");
        let mut group = c.benchmark_group(format!("voice_16k_{block_ms}ms"));
        for chain in [&["hpf"][..], &["ns"], &["agc"], &["vad"], &["hpf", "ns", "agc"]] {
            let mut procs: Vec<Box<dyn Processor>> = chain.iter().map(|n| node(n)).collect();
            for p in &mut procs {
                p.prepare(&cfg).expect("prepare");
            }
            let mut bufs = vec![vec![0.0f32; n], vec![0.0f32; n]];
            let index = [0usize];
            let mut b = 0;
            group.bench_function(chain.join("+"), |bch| {
                bch.iter(|| {
                    bufs[0].copy_from_slice(&x[b * n..(b + 1) * n]);
                    b = (b + 1) % blocks;
                    for p in &mut procs {
                        let (a, rest) = bufs.split_at_mut(1);
                        let ins = Inputs::new(a, &index, n);
                        let mut o = Outputs::new(&mut rest[..1], n);
                        p.process(&ins, &mut o);
                        a[0].copy_from_slice(&rest[0]);
                    }
                    black_box(&bufs);
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench_voice);
criterion_main!(benches);
