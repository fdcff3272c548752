//! Null tests: each deterministic effect against a straightforward f64 model of its stated definition.
//! The residual must be at most −100 dB relative to the model's output.

mod fxa_util;

use std::f64::consts::PI;

use fxa_util::{build, programme, render, residual_db};

const FS: u32 = 48_000;

fn stereo_input(n: usize) -> Vec<Vec<f32>> {
    vec![programme(1, n, FS), programme(2, n, FS)]
}

fn check(name: &str, out: &[Vec<f32>], model: &[Vec<f64>]) {
    for (c, (y, m)) in out.iter().zip(model).enumerate() {
        let r = residual_db(y, m);
        println!("{name} channel {c}: residual {r:.1} dB");
        assert!(r <= -100.0, "{name} channel {c}: residual {r:.1} dB > −100 dB");
    }
}

/// x[n − d], zero before the start.
fn past(x: &[f64], n: usize, d: usize) -> f64 {
    if d <= n {
        x[n - d]
    } else {
        0.0
    }
}

#[test]
fn echo_matches_model() {
    let n = FS as usize * 3;
    let input = stereo_input(n);
    let mut p = build(
        "echo",
        &[
            ("delay", "125"),
            ("gain", "60"),
            ("feedback", "55"),
            ("damping", "3000"),
            ("dry", "80"),
            ("tap2", "40.5"),
            ("gain2", "30"),
            ("tap3", "333"),
            ("gain3", "20"),
        ],
    );
    let out = render(p.as_mut(), FS, 480, &input);
    let fs = f64::from(FS);
    let d = |ms: f64| (ms * fs / 1000.0).round() as usize;
    let taps = [(d(125.0), 0.6), (d(40.5), 0.3), (d(333.0), 0.2)];
    let a = (-2.0 * PI * 3000.0 / fs).exp();
    let model: Vec<Vec<f64>> = input
        .iter()
        .map(|xc| {
            let x: Vec<f64> = xc.iter().map(|&v| f64::from(v)).collect();
            let mut w = vec![0.0; n];
            let mut y = vec![0.0; n];
            let mut l = 0.0;
            for i in 0..n {
                l = (1.0 - a) * past(&w, i, taps[0].0) + a * l;
                w[i] = x[i] + 0.55 * l;
                y[i] = 0.8 * x[i] + taps.iter().map(|&(dk, g)| g * past(&w, i, dk)).sum::<f64>();
            }
            y
        })
        .collect();
    check("echo", &out, &model);
}

/// The flanger with its LFO starting at phase ¾ (minimum delay), sine and triangle, both interpolators.
#[test]
fn flanger_matches_model() {
    let n = FS as usize * 3;
    let input = stereo_input(n);
    for (shape, interp) in [("sine", "linear"), ("triangle", "quadratic")] {
        let mut p = build(
            "flanger",
            &[
                ("delay", "1.5"),
                ("depth", "3.2"),
                ("regen", "-60"),
                ("width", "80"),
                ("speed", "0.7"),
                ("shape", shape),
                ("phase", "30"),
                ("interp", interp),
            ],
        );
        let out = render(p.as_mut(), FS, 256, &input);
        let fs = f64::from(FS);
        let (dmin, dmax) = (1.5 * fs / 1000.0, 4.7 * fs / 1000.0);
        let lfo = |ph: f64| {
            let p = ph - ph.floor();
            if shape == "sine" {
                ((2.0 * PI * p).sin() + 1.0) / 2.0
            } else if p < 0.25 {
                2.0 * p + 0.5
            } else if p < 0.75 {
                1.5 - 2.0 * p
            } else {
                2.0 * p - 1.5
            }
        };
        let (regen, width) = (-0.6, 0.8);
        let model: Vec<Vec<f64>> = input
            .iter()
            .enumerate()
            .map(|(c, xc)| {
                let x: Vec<f64> = xc.iter().map(|&v| f64::from(v)).collect();
                let mut w = vec![0.0; n];
                let mut y = vec![0.0; n];
                let mut last = 0.0;
                for i in 0..n {
                    // Parameters travel as f32 (the speed 0.7 is 0.699999988…).
                    let ph = 0.75 + i as f64 * f64::from(0.7f32) / fs + c as f64 * 0.3;
                    let dly = dmin + (dmax - dmin) * lfo(ph);
                    w[i] = x[i] + regen * last;
                    let k = dly.floor() as usize;
                    let f = dly - k as f64;
                    let (w0, w1, w2) = (past(&w, i, k), past(&w, i, k + 1), past(&w, i, k + 2));
                    let dl = if interp == "linear" {
                        w0 + (w1 - w0) * f
                    } else {
                        // Lagrange parabola through (0, w0), (1, w1), (2, w2) at f.
                        w0 * (f - 1.0) * (f - 2.0) / 2.0 - w1 * f * (f - 2.0) + w2 * f * (f - 1.0) / 2.0
                    };
                    last = dl;
                    y[i] = x[i] / (1.0 + width) + dl * width / (1.0 + width) * (1.0 - regen.abs());
                }
                y
            })
            .collect();
        check(&format!("flanger {shape}/{interp}"), &out, &model);
    }
}

#[test]
fn tremolo_matches_model() {
    let n = FS as usize * 2;
    let input = stereo_input(n);
    let mut p = build("tremolo", &[("rate", "6.5"), ("depth", "70"), ("phase", "50")]);
    let out = render(p.as_mut(), FS, 480, &input);
    let model: Vec<Vec<f64>> = input
        .iter()
        .enumerate()
        .map(|(c, xc)| {
            xc.iter()
                .enumerate()
                .map(|(i, &x)| {
                    let t = i as f64 / f64::from(FS);
                    let g = 1.0 - 0.7 * (1.0 - (2.0 * PI * (6.5 * t + 0.5 * c as f64)).cos()) / 2.0;
                    f64::from(x) * g
                })
                .collect()
        })
        .collect();
    check("tremolo", &out, &model);
}

#[test]
fn ringmod_matches_model() {
    let n = FS as usize * 2;
    let input = stereo_input(n);
    let mut p = build("ringmod", &[("freq", "1234.5"), ("mix", "80")]);
    let out = render(p.as_mut(), FS, 100, &input);
    let model: Vec<Vec<f64>> = input
        .iter()
        .map(|xc| {
            xc.iter()
                .enumerate()
                .map(|(i, &x)| {
                    let m = (2.0 * PI * 1234.5 * i as f64 / f64::from(FS)).sin();
                    f64::from(x) * (0.2 + 0.8 * m)
                })
                .collect()
        })
        .collect();
    check("ringmod", &out, &model);
}

#[test]
fn reverse_echo_matches_model() {
    let n = FS as usize * 3;
    let input = stereo_input(n);
    let mut p = build(
        "reverse_echo",
        &[("segment", "250"), ("wet", "90"), ("dry", "40")],
    );
    let out = render(p.as_mut(), FS, 480, &input);
    let l = 2 * (250.0 * f64::from(FS) / 2000.0_f64).round() as usize;
    let h = l / 2;
    let model: Vec<Vec<f64>> = input
        .iter()
        .map(|xc| {
            let x: Vec<f64> = xc.iter().map(|&v| f64::from(v)).collect();
            (0..n)
                .map(|i| {
                    let mut r = 0.0;
                    // Grains start at m·H and last L samples; grain t0 plays x[t0 − 1 − (i − t0)].
                    let m_hi = i / h;
                    for m in m_hi.saturating_sub(2)..=m_hi {
                        let t0 = m * h;
                        if i >= t0 && i < t0 + l {
                            let k = i - t0;
                            let w = (PI * k as f64 / l as f64).sin().powi(2);
                            let src = t0 as isize - 1 - k as isize;
                            if src >= 0 {
                                r += w * x[src as usize];
                            }
                        }
                    }
                    0.4 * x[i] + 0.9 * r
                })
                .collect()
        })
        .collect();
    check("reverse_echo", &out, &model);
}

/// The reversed segments really are reversed: a rising ramp comes back falling.
#[test]
fn reverse_echo_reverses_time() {
    let n = 48_000;
    let ramp: Vec<f32> = (0..n).map(|i| (i % 4800) as f32 / 4800.0).collect();
    let mut p = build(
        "reverse_echo",
        &[("segment", "100"), ("wet", "100"), ("dry", "0")],
    );
    let out = render(p.as_mut(), FS, 480, &[ramp.clone()]);
    // Grain starting at t0 = 9600 (a multiple of H = 2400) plays x[9599 − k], falling from the top of a
    // ramp cycle; its centre sample k = 2400 carries weight 1 from this grain alone... check slope sign.
    let seg = &out[0][9600 + 2300..9600 + 2500];
    let slope: f64 = seg.windows(2).map(|w| f64::from(w[1] - w[0])).sum();
    assert!(slope < 0.0, "expected a falling (reversed) ramp, slope {slope}");
}
