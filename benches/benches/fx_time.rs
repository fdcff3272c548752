//! Benchmarks of the reverb, binaural, pitch and time nodes: time per 10 ms block (480 frames at 48 kHz).
//!
//! Run: `cargo bench -p tutti-benches --bench fx_time` (add `-- --quick` for a short run). Peer timings
//! (rubberband, soundstretch on the same material) come from `scripts/fx_time_peers.sh`.
//!
//! * `fx_time/reverb_fdn/2ch`: 8-line FDN, stereo.
//! * `fx_time/reverb_conv_1s/1ch`: convolution with a 1 s IR (100 partitions of 480).
//! * `fx_time/pan3d_sofa`, `fx_time/pan3d_model`: binaural panning of a mono block (SOFA: 512-tap HRIR
//!   pair at 44.1 kHz resampled to 48 kHz, direct FIR), static and moving.
//! * `fx_time/pitch_shift/{1,2}ch`: +3 semitones (`mode=music`, the phase vocoder);
//!   `fx_time/pitch_shift_speech/{1,2}ch`: +3 semitones in `mode=speech` (time-domain WSOLA grains).
//! * `fx_time/time_stretch_{music,speech}`: the live processor at factor 1.1.
//! * `fx_time/resample_48k_44k1`: `StreamResampler`, 480 frames in.
//!
//! Under load the wall-clock times criterion reports grow with the other processes on the machine, so
//! each node row is followed by a line `cpu: <row> <x> ns per sample = <y> % of a core per channel`
//! measured in this thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`, at 48 kHz: 1 % of a core is
//! 208 ns per sample).
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tutti_benches::selected;
use tutti_engine::{Inputs, Outputs, Processor, StreamConfig};

const SOFA: &str = "/usr/share/libmysofa/MIT_KEMAR_normal_pinna.sofa";

fn build(name: &str, kv: &[(&str, String)]) -> Box<dyn Processor> {
    let ty = tutti_effects::node_types()
        .into_iter()
        .find(|t| t.name == name)
        .expect("node registered");
    let pairs: Vec<(String, String)> = kv.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    ty.build(&pairs).expect("node builds")
}

/// Prints the thread CPU time of `f` (one block of `frames` frames × `channels` per call) per
/// channel-sample and as a share of one core per channel at 48 kHz.
fn cpu_row(label: &str, frames: usize, channels: usize, mut f: impl FnMut()) {
    let now = || tutti_engine::thread_cpu_time().map(|d| d.as_nanos() as u64);
    let Some(t0) = now() else { return };
    for _ in 0..50 {
        f();
    }
    let t1 = now().unwrap_or(t0);
    let (mut calls, mut t) = (0u64, t1);
    while t - t1 < 300_000_000 {
        for _ in 0..20 {
            f();
        }
        calls += 20;
        t = now().unwrap_or(t + 1);
    }
    let ns = (t - t1) as f64 / (calls as f64 * (frames * channels) as f64);
    println!(
        "cpu: fx_time/{label} {ns:.2} ns per sample = {:.3} % of a core per channel",
        ns * 48_000.0 / 1e7
    );
}

fn bench_node(c: &mut Criterion, label: &str, mut p: Box<dyn Processor>, channels: usize, moving: bool) {
    let cfg = StreamConfig::new(48_000, channels, 10.0).expect("valid config");
    p.prepare(&cfg).expect("prepare");
    let b = cfg.block_frames;
    let pool = vec![(0..channels * b)
        .map(|i| (i as f32 * 0.013).sin() * 0.3)
        .collect::<Vec<f32>>()];
    let idx = [0usize];
    let mut outs = vec![vec![0.0f32; p.output_channels(0, &cfg) * b]];
    let mut g = c.benchmark_group("fx_time");
    g.throughput(Throughput::Elements(b as u64));
    let mut k = 0u32;
    let mut step = || {
        if moving {
            k = k.wrapping_add(1);
            p.set_param(0, (k % 72) as f32 * 5.0 - 180.0);
        }
        let ins = Inputs::new(&pool, &idx, b);
        let mut o = Outputs::new(&mut outs, b);
        p.process(&ins, &mut o);
        black_box(&outs);
    };
    g.bench_function(label, |bch| bch.iter(&mut step));
    g.finish();
    if selected(&format!("fx_time/{label}")) {
        cpu_row(label, b, channels, step);
    }
}

fn benches(c: &mut Criterion) {
    bench_node(c, "reverb_fdn/2ch", build("reverb", &[]), 2, false);
    let dir = std::env::temp_dir().join("tutti-bench-fx-time");
    std::fs::create_dir_all(&dir).expect("temp dir");
    let ir_path = dir.join("ir1s.wav");
    {
        let spec = hound_spec();
        let mut w = hound::WavWriter::create(&ir_path, spec).expect("wav");
        for i in 0..48_000 {
            let v = ((i * 7919 % 1000) as f32 / 500.0 - 1.0) * (-(i as f32) / 8000.0).exp();
            w.write_sample(v).expect("write");
        }
        w.finalize().expect("finalize");
    }
    bench_node(
        c,
        "reverb_conv_1s/1ch",
        build("reverb", &[("ir", ir_path.to_string_lossy().into())]),
        1,
        false,
    );
    if std::path::Path::new(SOFA).is_file() {
        bench_node(
            c,
            "pan3d_sofa/static",
            build("pan3d", &[("sofa", SOFA.into()), ("azimuth", "30".into())]),
            1,
            false,
        );
        bench_node(
            c,
            "pan3d_sofa/moving",
            build("pan3d", &[("sofa", SOFA.into())]),
            1,
            true,
        );
    }
    bench_node(c, "pan3d_model/moving", build("pan3d", &[]), 1, true);
    bench_node(
        c,
        "pitch_shift/1ch",
        build("pitch_shift", &[("semitones", "3".into())]),
        1,
        false,
    );
    bench_node(
        c,
        "pitch_shift/2ch",
        build("pitch_shift", &[("semitones", "3".into())]),
        2,
        false,
    );
    for ch in [1, 2] {
        bench_node(
            c,
            &format!("pitch_shift_speech/{ch}ch"),
            build(
                "pitch_shift",
                &[("semitones", "3".into()), ("mode", "speech".into())],
            ),
            ch,
            false,
        );
    }
    bench_node(
        c,
        "pitch_shift_formant/1ch",
        build(
            "pitch_shift",
            &[("semitones", "3".into()), ("formant", "on".into())],
        ),
        1,
        false,
    );
    bench_node(
        c,
        "time_stretch_music/1ch",
        build("time_stretch", &[("factor", "1.1".into())]),
        1,
        false,
    );
    bench_node(
        c,
        "time_stretch_speech/1ch",
        build(
            "time_stretch",
            &[("factor", "1.1".into()), ("mode", "speech".into())],
        ),
        1,
        false,
    );

    let mut r = tutti_effects::StreamResampler::new(48_000, 44_100, 1).expect("resampler");
    let x: Vec<f32> = (0..480).map(|i| (i as f32 * 0.05).sin()).collect();
    let mut out = vec![Vec::with_capacity(1 << 16)];
    let mut g = c.benchmark_group("fx_time");
    g.throughput(Throughput::Elements(480));
    g.bench_function("resample_48k_44k1/1ch", |b| {
        b.iter(|| {
            if out[0].len() > 60_000 {
                out[0].clear();
            }
            r.push(&[&x], &mut out);
            black_box(&out);
        })
    });
    g.finish();
}

fn hound_spec() -> hound::WavSpec {
    hound::WavSpec {
        channels: 1,
        sample_rate: 48_000,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    }
}

criterion_group!(fx_time, benches);
criterion_main!(fx_time);
