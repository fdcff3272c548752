//! Compressor and limiter against their definitions: the Giannoulis–Massberg–Reiss static curve and time
//! constants, and the BS.1770 true-peak ceiling.

mod fxa_util;

use fxa_util::{build, db, noise, render, render2, sine, true_peak};

const FS: u32 = 48_000;

/// Giannoulis et al. 2012, eq. 4 (written here from the paper).
fn gmr(x: f64, t: f64, r: f64, w: f64) -> f64 {
    if 2.0 * (x - t) < -w {
        x
    } else if 2.0 * (x - t).abs() <= w {
        x + (1.0 / r - 1.0) * (x - t + w / 2.0).powi(2) / (2.0 * w)
    } else {
        t + (x - t) / r
    }
}

/// A steady level (a ±A square wave has |x| = A at every sample) settles at the static curve + make-up.
#[test]
fn compressor_static_curve_matches_gmr() {
    let (t, r, w, m) = (-18.0, 4.0, 9.0, 3.0);
    let mut worst = 0.0f64;
    let mut lvl = -40.0;
    while lvl <= 0.0 {
        let a = 10f64.powf(lvl / 20.0) as f32;
        let x: Vec<f32> = (0..24_000)
            .map(|i| if (i / 37) % 2 == 0 { a } else { -a })
            .collect();
        let mut p = build(
            "compressor",
            &[
                ("threshold", "-18"),
                ("ratio", "4"),
                ("knee", "9"),
                ("attack", "1"),
                ("release", "20"),
                ("makeup", "3"),
            ],
        );
        let y = render(p.as_mut(), FS, 480, &[x.clone()]);
        let out_db = db(f64::from(y[0][23_999].abs()));
        let err = (out_db - (gmr(lvl, t, r, w) + m)).abs();
        worst = worst.max(err);
        assert!(
            err <= 0.1,
            "input {lvl} dB: output {out_db:.3} dB, curve {:.3} dB",
            gmr(lvl, t, r, w) + m
        );
        lvl += 0.5;
    }
    println!("compressor static curve: worst deviation {worst:.2e} dB");
}

/// Attack and release: on a level step the gain reduction (dB) moves 63 % of the way in τ.
#[test]
fn compressor_time_constants_match_definition() {
    let (lo, hi) = (10f64.powf(-30.0 / 20.0) as f32, 10f64.powf(-6.0 / 20.0) as f32);
    let n1 = 24_000;
    let n2 = 48_000;
    let x: Vec<f32> = (0..n2 + 24_000)
        .map(|i| {
            let a = if (n1..n2).contains(&i) { hi } else { lo };
            if i % 2 == 0 {
                a
            } else {
                -a
            }
        })
        .collect();
    let (attack_ms, release_ms) = (5.0, 80.0);
    let mut p = build(
        "compressor",
        &[
            ("threshold", "-20"),
            ("ratio", "8"),
            ("knee", "0"),
            ("attack", "5"),
            ("release", "80"),
        ],
    );
    let y = render(p.as_mut(), FS, 480, &[x.clone()]);
    let gr: Vec<f64> = y[0]
        .iter()
        .zip(&x)
        .map(|(o, i)| db(f64::from(i.abs())) - db(f64::from(o.abs())))
        .collect();
    let final_gr = 14.0 * (1.0 - 1.0 / 8.0); // −6 dB is 14 dB over −20 dB
    let t63 = |from: usize, target: f64, rising: bool| {
        (from..gr.len())
            .find(|&i| if rising { gr[i] >= target } else { gr[i] <= target })
            .map(|i| (i - from) as f64 * 1000.0 / f64::from(FS))
            .expect("step response reaches 63 %")
    };
    let ta = t63(n1, final_gr * (1.0 - (-1.0f64).exp()), true);
    let tr = t63(n2, final_gr * (-1.0f64).exp(), false);
    println!("attack 63 %: {ta:.3} ms (set {attack_ms}), release 37 %: {tr:.3} ms (set {release_ms})");
    // One sample of quantisation (0.021 ms) plus the f32 output.
    assert!((ta - attack_ms).abs() <= 0.05, "attack {ta} ms");
    assert!((tr - release_ms).abs() <= 0.05, "release {tr} ms");
}

/// The side-chain input, not the main input, drives the gain when `detector=sidechain`.
#[test]
fn compressor_side_chain_drives_gain() {
    let n = 24_000;
    let main = sine(1000.0, FS, n, 0.05, 0.0);
    let key: Vec<f32> = (0..n).map(|i| if i % 2 == 0 { 0.5 } else { -0.5 }).collect();
    let mut p = build(
        "compressor",
        &[
            ("threshold", "-20"),
            ("ratio", "4"),
            ("knee", "0"),
            ("detector", "sidechain"),
        ],
    );
    let y = render2(p.as_mut(), FS, 480, &[main.clone()], &[key]);
    // Key at −6 dB → y_G = −20 + 14/4 = −16.5 dB → 10.5 dB of gain reduction on the quiet main signal.
    let g = db(f64::from(y[0][n - 12].abs()) / f64::from(main[n - 12].abs()));
    assert!((g + 10.5).abs() < 0.05, "side-chained gain {g} dB");
    // Without the side chain the quiet signal is untouched.
    let mut q = build(
        "compressor",
        &[("threshold", "-20"), ("ratio", "4"), ("knee", "0")],
    );
    let z = render2(q.as_mut(), FS, 480, &[main.clone()], &[vec![0.9; n]]);
    assert!((z[0][n - 12] - main[n - 12]).abs() < 1e-6);
}

fn limiter_ok(name: &str, mut x: Vec<Vec<f32>>, ceiling_db: f64) -> f64 {
    // Trailing silence flushes the look-ahead, so the output holds the whole signal including its end
    // (a cut-off output would show the meter's own overshoot at the cut).
    for ch in &mut x {
        ch.extend(std::iter::repeat(0.0).take(4800));
    }
    let mut p = build("limiter", &[("ceiling", &ceiling_db.to_string())]);
    let y = render(p.as_mut(), FS, 480, &x);
    let c = 10f64.powf(ceiling_db / 20.0);
    let mut worst = f64::NEG_INFINITY;
    for ch in &y {
        let sample_peak = ch.iter().fold(0.0f64, |m, v| m.max(f64::from(v.abs())));
        assert!(
            sample_peak <= c,
            "{name}: sample peak {sample_peak} > ceiling {c}"
        );
        let tp = true_peak(ch);
        worst = worst.max(db(tp));
        assert!(
            tp <= c,
            "{name}: true peak {:.6} dBTP > ceiling {ceiling_db} dBTP",
            db(tp)
        );
    }
    println!("{name}: output true peak {worst:.3} dBTP (ceiling {ceiling_db})");
    worst
}

#[test]
fn limiter_true_peak_on_ebu_style_signals() {
    let n = FS as usize * 2;
    // fs/4 sine at 45° phase: samples at ±0.707 A, true peak A (EBU Tech 3341 style inter-sample test).
    let isp = sine(12_000.0, FS, n, 1.0, std::f64::consts::FRAC_PI_4);
    assert!(
        (db(true_peak(&isp))).abs() < 0.1,
        "test signal true peak {:.2}",
        db(true_peak(&isp))
    );
    limiter_ok("fs/4 sine 45°, 0 dBTP", vec![isp.clone()], -1.0);
    // Boosted so that its samples are near full scale and its true peak +3 dB over.
    let hot: Vec<f32> = isp.iter().map(|v| v * 1.41).collect();
    limiter_ok("fs/4 sine 45°, +3 dBTP", vec![hot], -0.5);
    // Logarithmic sweep 20 Hz – 20 kHz at +6 dBFS.
    let sweep: Vec<f32> = (0..n)
        .map(|i| {
            let t = i as f64 / f64::from(FS);
            let k = (1000.0f64).ln() / 2.0;
            (2.0 * (2.0 * std::f64::consts::PI * 20.0 * ((k * t).exp() - 1.0) / k).sin()) as f32
        })
        .collect();
    limiter_ok("sweep +6 dBFS", vec![sweep.clone(), sweep], -1.0);
    // Square bursts (1 kHz, 100 ms on / 100 ms off) at +10 dB.
    let sq: Vec<f32> = (0..n)
        .map(|i| {
            if (i / 4800) % 2 == 0 {
                if (i / 24) % 2 == 0 {
                    3.0
                } else {
                    -3.0
                }
            } else {
                0.0
            }
        })
        .collect();
    limiter_ok("square bursts +10 dB", vec![sq], -2.0);
    // Alternating fs/2 pattern and a near-Nyquist sine with inter-sample peaks.
    let nyq = sine(23_000.0, FS, n, 2.0, 0.3);
    limiter_ok("23 kHz sine +6 dB", vec![nyq], -1.0);
}

/// 10 s of seeded noise bursts at up to +20 dB: the ceiling is never exceeded.
#[test]
fn limiter_never_exceeds_ceiling_on_noise_bursts() {
    let n = FS as usize * 10;
    let mut x = vec![noise(7, n, 1.0), noise(8, n, 1.0)];
    for (c, ch) in x.iter_mut().enumerate() {
        for (i, v) in ch.iter_mut().enumerate() {
            // Bursts with changing levels (−20 … +20 dB) and lengths.
            let seg = (i / 1733 + c) % 11;
            *v *= 10f32.powf((seg as f32 * 4.0 - 20.0) / 20.0) * if (i / 911) % 3 == 0 { 0.0 } else { 1.0 };
        }
    }
    limiter_ok("noise bursts", x, -1.0);
}

/// Quiet signals pass unchanged (apart from the reported latency).
#[test]
fn limiter_is_transparent_below_ceiling() {
    let x = sine(440.0, FS, 48_000, 0.3, 0.0);
    let mut p = build("limiter", &[("ceiling", "-1")]);
    let y = render(p.as_mut(), FS, 480, &[x.clone()]);
    let lat = p.latency();
    assert_eq!(lat, 240 + 10);
    for i in lat..x.len() {
        assert!((y[0][i] - x[i - lat]).abs() < 1e-6, "sample {i}");
    }
}
