//! The multichannel (8-lane SIMD) biquad-based nodes against straightforward `f64` models, on 2, 8 and 11
//! channels (a partial group of 8 lanes, a full one, and one full plus a partial one), with zero
//! allocations in `process`. The engine's graphs run mono or stereo (`StreamConfig::with_frames` checks
//! that); a node prepared directly with a wider configuration (an embedding with more channels) processes
//! them all, so these tests build the configuration as a struct.

mod fxa_util;

use fxa_util::{build, noise, residual_db};
use tutti_engine::{count_allocations, counting_is_active, CountingAllocator, Inputs, Outputs, StreamConfig};

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator;

const FS: u32 = 48_000;

fn render(p: &mut dyn tutti_engine::Processor, block: usize, x: &[Vec<f32>]) -> Vec<Vec<f32>> {
    let cfg = StreamConfig {
        sample_rate: FS,
        channels: x.len(),
        block_frames: block,
    };
    tutti_engine::render_offline(p, &cfg, &[x.to_vec()])
        .expect("render")
        .swap_remove(0)
}

fn input(channels: usize, n: usize) -> Vec<Vec<f32>> {
    (0..channels).map(|c| noise(100 + c as u64, n, 0.5)).collect()
}

/// The phaser of the module docs evaluated per sample in `f64`: exact coefficient every sample from the
/// LFO (sine shape), channel `c` at phase offset `c·phase`.
#[allow(clippy::too_many_arguments)]
fn phaser_model(
    x: &[f32],
    c: usize,
    stages: usize,
    fmin: f64,
    fmax: f64,
    rate: f64,
    fb: f64,
    mix: f64,
    phase: f64,
) -> Vec<f64> {
    let fs = f64::from(FS);
    let mut z = vec![0.0f64; stages];
    let mut last = 0.0;
    let mut lfo = 0.0f64;
    x.iter()
        .map(|&xv| {
            let xv = f64::from(xv);
            let l = 0.5 + 0.5 * (2.0 * std::f64::consts::PI * (lfo + c as f64 * phase)).sin();
            let f = fmin * (fmax / fmin).powf(l);
            let t = (std::f64::consts::PI * f / fs).tan();
            let a = (t - 1.0) / (t + 1.0);
            let mut u = xv + fb * last;
            for zs in z.iter_mut() {
                let y = a * u + *zs;
                *zs = u - a * y;
                u = y;
            }
            last = u;
            lfo = (lfo + rate / fs).fract();
            (1.0 - mix) * xv + mix * u
        })
        .collect()
}

#[test]
fn phaser_channels_match_f64_model() {
    for channels in [2, 8, 11] {
        let x = input(channels, 24_000);
        let mut p = build(
            "phaser",
            &[
                ("stages", "6"),
                ("feedback", "60"),
                ("rate", "2"),
                ("phase", "10"),
            ],
        );
        let y = render(p.as_mut(), 480, &x);
        for c in 0..channels {
            let m = phaser_model(&x[c], c, 6, 300.0, 3000.0, 2.0, 0.6, 0.5, 0.1);
            let r = residual_db(&y[c], &m);
            println!("phaser {channels} ch, channel {c}: residual {r:.1} dB");
            // f32 lanes; `a` and the derived coefficients ramped linearly between exact values every 128
            // frames.
            assert!(r < -60.0, "channel {c}: residual {r:.1} dB");
        }
    }
}

#[test]
fn resonator_bandpass_channels_match_f64_biquads() {
    use tutti_effects::{Biquad, BiquadCoeffs};
    for channels in [2, 8, 11] {
        let x = input(channels, 12_000);
        let mut p = build(
            "resonator",
            &[
                ("mode", "bandpass"),
                ("freq", "330"),
                ("harmonics", "5"),
                ("decay", "300"),
                ("mix", "80"),
            ],
        );
        let y = render(p.as_mut(), 256, &x);
        let fs = f64::from(FS);
        let rho = 10f64.powf(-3.0 / (fs * 0.3));
        let alpha = (1.0 - rho * rho) / (1.0 + rho * rho);
        for c in 0..channels {
            let mut bank: Vec<Biquad> = (1..=5)
                .map(|k| {
                    let f = 330.0 * k as f64;
                    let w0 = 2.0 * std::f64::consts::PI * f / fs;
                    Biquad::new(BiquadCoeffs::bandpass(f, w0.sin() / (2.0 * alpha), fs))
                })
                .collect();
            let m: Vec<f64> = x[c]
                .iter()
                .map(|&v| {
                    let v = f64::from(v);
                    0.2 * v + 0.8 * bank.iter_mut().map(|b| b.tick(v)).sum::<f64>()
                })
                .collect();
            let r = residual_db(&y[c], &m);
            println!("resonator {channels} ch, channel {c}: residual {r:.1} dB");
            // f32 sections with poles 0.9998 from the unit circle: about 13 bits of the state survive.
            assert!(r < -70.0, "channel {c}: residual {r:.1} dB");
        }
    }
}

#[test]
fn eight_channel_nodes_do_not_allocate() {
    for (name, args) in [
        ("phaser", &[("feedback", "70")][..]),
        ("resonator", &[("mode", "bandpass")][..]),
        ("resonator", &[][..]),
    ] {
        let mut p = build(name, args);
        let cfg = StreamConfig {
            sample_rate: FS,
            channels: 8,
            block_frames: 480,
        };
        p.prepare(&cfg).expect("prepare");
        let pool = vec![noise(7, 8 * 480, 0.5)];
        let idx = [0usize];
        let mut outs = vec![vec![0.0f32; 8 * 480]];
        let mut allocs = 0;
        for b in 0..50 {
            if b == 20 {
                p.set_param(1, 900.0);
            }
            let ins = Inputs::new(&pool, &idx, 480);
            let mut o = Outputs::new(&mut outs, 480);
            allocs += count_allocations(|| p.process(&ins, &mut o)).1.allocs;
        }
        assert!(counting_is_active(), "the counting allocator must be installed");
        assert!(outs[0].iter().all(|v| v.is_finite()));
        assert_eq!(allocs, 0, "{name}: process allocated");
    }
}
