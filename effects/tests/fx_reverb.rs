//! Reverb: convolution mode against direct f64 convolution; FDN decay time against its stated RT60;
//! stability with no damping.

mod fxb_util;

use fxb_util::*;
use rand::{Rng, SeedableRng};
use tutti_engine::{render_offline, NodeType, StreamConfig};

fn node() -> NodeType {
    tutti_effects::node_types()
        .into_iter()
        .find(|t| t.name == "reverb")
        .expect("reverb registered")
}

fn pairs(kv: &[(&str, String)]) -> Vec<(String, String)> {
    kv.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

/// Convolution reverb (mix = 1) equals the direct time-domain f64 convolution with the IR to ≤ −100 dB,
/// for IR lengths from 1 sample to many partitions, mono and stereo IRs; latency 0.
#[test]
fn convolution_matches_direct_convolution() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let dir = scratch("reverb");
    let rate = 48_000;
    for (ir_len, stereo_ir, stream_ch) in [
        (1usize, false, 1usize),
        (480, false, 1),
        (481, false, 2),
        (5000, true, 2),
        (24_000, false, 1),
    ] {
        let n_ir = if stereo_ir { 2 } else { 1 };
        let ir: Vec<Vec<f32>> = (0..n_ir)
            .map(|_| {
                (0..ir_len)
                    .map(|i| rng.gen_range(-1.0f32..1.0) * (-(i as f32) / 4000.0).exp())
                    .collect()
            })
            .collect();
        let path = dir.join(format!("ir{ir_len}.wav"));
        write_wav(&path, rate, &ir);
        let mut p = node()
            .build(&pairs(&[
                ("ir", path.to_str().unwrap().into()),
                ("mix", "1".into()),
            ]))
            .expect("convolution reverb builds");
        let cfg = StreamConfig::new(rate, stream_ch, 10.0).unwrap();
        let len = 30_000;
        let x: Vec<Vec<f32>> = (0..stream_ch)
            .map(|_| (0..len).map(|_| rng.gen_range(-0.5f32..0.5)).collect())
            .collect();
        let y = render_offline(p.as_mut(), &cfg, &[x.clone()]).unwrap().remove(0);
        assert_eq!(p.latency(), 0);
        for c in 0..stream_ch {
            let h = &ir[c.min(n_ir - 1)];
            let (mut err, mut sig) = (0.0f64, 0.0f64);
            for i in 0..len {
                let mut acc = 0.0f64;
                for (k, hk) in h.iter().enumerate().take(i + 1) {
                    acc += f64::from(*hk) * f64::from(x[c][i - k]);
                }
                err += (acc - f64::from(y[c][i])).powi(2);
                sig += acc * acc;
            }
            let db = 10.0 * (err / sig).log10();
            println!("convolution IR {ir_len} (stereo IR {stereo_ir}) ch {c}: residual {db:.1} dB");
            assert!(db <= -100.0, "residual {db} dB");
        }
    }
}

/// RT60 from the Schroeder backward integral of the impulse response (T30: −5 to −35 dB, extrapolated)
/// matches `reverb_rt60(size)` within 5 % (damping 0).
#[test]
fn fdn_rt60_matches_size() {
    let rate = 48_000;
    let cfg = StreamConfig::new(rate, 2, 10.0).unwrap();
    for size in [0.2f32, 0.5, 0.7] {
        let rt = tutti_effects::reverb_rt60(size);
        let mut p = node()
            .build(&pairs(&[
                ("size", size.to_string()),
                ("damping", "0".into()),
                ("mix", "1".into()),
            ]))
            .unwrap();
        let len = (f64::from(rt) * 1.2 * f64::from(rate)) as usize;
        let mut x = vec![0.0f32; len];
        x[0] = 1.0;
        let y = render_offline(p.as_mut(), &cfg, &[vec![x.clone(), x]])
            .unwrap()
            .remove(0);
        let e: Vec<f64> = y[0]
            .iter()
            .zip(&y[1])
            .map(|(a, b)| f64::from(*a).powi(2) + f64::from(*b).powi(2))
            .collect();
        let mut edc = vec![0.0f64; len];
        let mut acc = 0.0;
        for i in (0..len).rev() {
            acc += e[i];
            edc[i] = acc;
        }
        let db: Vec<f64> = edc.iter().map(|v| 10.0 * (v / edc[0]).log10()).collect();
        // Least-squares line through the −5…−35 dB part.
        let pts: Vec<(f64, f64)> = db
            .iter()
            .enumerate()
            .filter(|(_, d)| (-35.0..=-5.0).contains(*d))
            .map(|(i, d)| (i as f64 / f64::from(rate), *d))
            .collect();
        let n = pts.len() as f64;
        let (sx, sy) = pts.iter().fold((0.0, 0.0), |a, p| (a.0 + p.0, a.1 + p.1));
        let (mx, my) = (sx / n, sy / n);
        let slope = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum::<f64>()
            / pts.iter().map(|p| (p.0 - mx).powi(2)).sum::<f64>();
        let measured = -60.0 / slope;
        let rel = measured / f64::from(rt) - 1.0;
        println!(
            "FDN size {size}: stated RT60 {rt:.3} s, measured {measured:.3} s ({:+.1} %)",
            rel * 100.0
        );
        assert!(rel.abs() < 0.05, "RT60 off by {:.1} %", rel * 100.0);
    }
}

/// With the longest decay and no damping the FDN stays bounded: after the input stops, the energy of
/// each 100 ms window never exceeds that of the window before (by more than rounding).
#[test]
fn fdn_is_stable_without_damping() {
    let rate = 48_000;
    let cfg = StreamConfig::new(rate, 1, 10.0).unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let mut p = node()
        .build(&pairs(&[
            ("size", "1".into()),
            ("damping", "0".into()),
            ("mix", "1".into()),
        ]))
        .unwrap();
    let mut x: Vec<f32> = (0..rate as usize).map(|_| rng.gen_range(-0.5f32..0.5)).collect();
    x.extend(std::iter::repeat(0.0).take(rate as usize * 8));
    let y = render_offline(p.as_mut(), &cfg, &[vec![x]])
        .unwrap()
        .remove(0)
        .remove(0);
    assert!(y.iter().all(|v| v.is_finite()));
    let w = rate as usize / 10;
    let energies: Vec<f64> = y[rate as usize + w..].chunks(w).map(|c| rms(c)).collect();
    for pair in energies.windows(2) {
        assert!(
            pair[1] <= pair[0] * 1.05,
            "energy grew: {} -> {}",
            pair[0],
            pair[1]
        );
    }
    // 8 s at RT60 = 10 s: about −48 dB.
    let drop = 20.0 * (energies[energies.len() - 1] / energies[0]).log10();
    println!(
        "FDN size 1 damping 0: {drop:.1} dB over {:.1} s",
        (energies.len() - 1) as f64 / 10.0
    );
    assert!(drop < -30.0 && drop > -70.0, "decay {drop} dB");
}
