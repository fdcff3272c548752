//! Overdrive aliasing and resonator resonances, measured on spectra and impulse responses.

mod fxa_util;

use std::f64::consts::PI;

use fxa_util::{build, render, sine};

const FS: u32 = 48_000;

/// Level in dB of the component at `f` Hz (Hann window, `f` on a bin of the 1 Hz grid).
fn level_db(x: &[f32], f: f64) -> f64 {
    let n = x.len();
    let (mut re, mut im, mut wsum) = (0.0, 0.0, 0.0);
    for (i, &v) in x.iter().enumerate() {
        let w = 0.5 - 0.5 * (2.0 * PI * i as f64 / n as f64).cos();
        let ph = 2.0 * PI * f * i as f64 / f64::from(FS);
        re += w * f64::from(v) * ph.cos();
        im += w * f64::from(v) * ph.sin();
        wsum += w;
    }
    20.0 * ((re * re + im * im).sqrt() * 2.0 / wsum).max(1e-15).log10()
}

/// Worst alias (any 1 kHz grid component that is not a harmonic of 5 kHz) relative to the fundamental.
fn worst_alias(oversample: &str, drive: &str) -> f64 {
    let x = sine(5000.0, FS, FS as usize * 2, 0.5, 0.0);
    let mut p = build("overdrive", &[("drive", drive), ("level", "0")]);
    if oversample != "4" {
        let ty = tutti_effects::node_types()
            .into_iter()
            .find(|t| t.name == "overdrive")
            .expect("overdrive");
        p = ty
            .build(&[
                ("drive".into(), drive.into()),
                ("level".into(), "0".into()),
                ("oversample".into(), oversample.into()),
            ])
            .expect("build");
    }
    let y = render(p.as_mut(), FS, 480, &[x]);
    let seg = &y[0][FS as usize..];
    let fund = level_db(seg, 5000.0);
    let worst = (1..24)
        .map(|k| f64::from(k) * 1000.0)
        .filter(|f| (f / 1000.0) as u32 % 5 != 0)
        .map(|f| level_db(seg, f) - fund)
        .fold(f64::NEG_INFINITY, f64::max);
    println!("overdrive {oversample}x drive {drive} dB: worst alias {worst:.1} dB re fundamental");
    worst
}

/// A 5 kHz sine at −6 dBFS through the default drive (18 dB): aliases below −100 dB with 4× oversampling
/// (measured −119 dB; the issue asks for −60 dB),
/// and oversampling is what achieves it (without it they are far higher).
#[test]
fn overdrive_aliasing_is_suppressed_by_oversampling() {
    let os4 = worst_alias("4", "18");
    let os8 = worst_alias("8", "18");
    let off = worst_alias("1", "18");
    assert!(os4 < -100.0, "4x: alias {os4:.1} dB");
    assert!(os8 < -100.0, "8x: alias {os8:.1} dB");
    assert!(
        off > os4 + 20.0,
        "oversampling should gain > 20 dB: off {off:.1}, 4x {os4:.1}"
    );
    // Heavy drive (30 dB): still bounded.
    let hard = worst_alias("8", "30");
    assert!(hard < -70.0, "8x at 30 dB drive: alias {hard:.1} dB");
    let hard4 = worst_alias("4", "30");
    // At 4× the harmonics above 3.5 fs fold back at 30 dB drive (measured −44 dB): use 8× for heavy drive.
    assert!(hard4 < -40.0, "4x at 30 dB drive: alias {hard4:.1} dB");
}

/// The wet path is `level·tanh(drive·x)` delayed by the reported latency (checked on a slow sine, where the
/// oversampling filters are transparent).
#[test]
fn overdrive_follows_tanh_curve() {
    let x = sine(100.0, FS, 9600, 0.8, 0.0);
    let mut p = build("overdrive", &[("drive", "12"), ("level", "-3")]);
    let y = render(p.as_mut(), FS, 480, &[x.clone()]);
    let lat = p.latency();
    assert!(lat > 0);
    let (g, l) = (10f64.powf(12.0 / 20.0), 10f64.powf(-3.0 / 20.0));
    let mut worst = 0.0f64;
    for i in 2000..9600 {
        let m = l * (g * f64::from(x[i - lat])).tanh();
        worst = worst.max((f64::from(y[0][i]) - m).abs());
    }
    println!("overdrive vs tanh model at 100 Hz: max error {worst:.2e}, latency {lat}");
    assert!(worst < 2e-3, "max error {worst}");
}

/// Envelope level (dB) of `h` in a 5 ms window starting at `t` seconds.
fn env_db(h: &[f32], t: f64) -> f64 {
    let s = (t * f64::from(FS)) as usize;
    let e: f64 = h[s..s + 240].iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / 240.0;
    10.0 * e.log10()
}

#[test]
fn resonator_bandpass_decays_by_60_db_in_decay_time() {
    let mut imp = vec![0.0f32; FS as usize];
    imp[0] = 1.0;
    let ty = tutti_effects::node_types()
        .into_iter()
        .find(|t| t.name == "resonator")
        .expect("resonator");
    let mut p = ty
        .build(&[
            ("mode".into(), "bandpass".into()),
            ("decay".into(), "200".into()),
            ("freqs".into(), "1000".into()),
        ])
        .expect("build");
    let h = render(p.as_mut(), FS, 480, &[imp.clone()]);
    let drop = env_db(&h[0], 0.05) - env_db(&h[0], 0.15);
    println!("band-pass resonator: {drop:.2} dB drop in 100 ms (expected 30)");
    assert!((drop - 30.0).abs() < 0.5, "drop {drop}");
    // Steady-state gain at the resonance is 0 dB, and well below it an octave away.
    let g = |f: f64| {
        let x = sine(f, FS, FS as usize, 0.5, 0.0);
        let mut q = ty
            .build(&[
                ("mode".into(), "bandpass".into()),
                ("decay".into(), "200".into()),
                ("freqs".into(), "1000".into()),
            ])
            .expect("build");
        let y = render(q.as_mut(), FS, 480, &[x.clone()]);
        let rms = |s: &[f32]| (s.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / s.len() as f64).sqrt();
        20.0 * (rms(&y[0][24_000..]) / rms(&x[24_000..])).log10()
    };
    let (at, off) = (g(1000.0), g(2000.0));
    assert!(at.abs() < 0.05, "gain at resonance {at} dB");
    assert!(off < -20.0, "gain an octave up {off} dB");
}

#[test]
fn resonator_comb_rings_at_harmonics_with_t60() {
    let mut imp = vec![0.0f32; FS as usize];
    imp[0] = 1.0;
    // 200 Hz → D = 240 samples; g = 10^(−3·240/(48000·0.5)).
    let mut p = build("resonator", &[("freq", "200"), ("decay", "500"), ("mix", "100")]);
    let h = render(p.as_mut(), FS, 480, &[imp]);
    let g = 10f64.powf(-3.0 * 240.0 / (48_000.0 * 0.5));
    for k in 0..10 {
        let expect = (1.0 - g) * g.powi(k);
        let got = f64::from(h[0][240 * k as usize]);
        assert!((got - expect).abs() < 1e-6, "echo {k}: {got} vs {expect}");
    }
    // Between the echoes the response is silent.
    assert!(h[0][1..240].iter().all(|v| *v == 0.0));
}
