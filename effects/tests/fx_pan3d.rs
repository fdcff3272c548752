//! pan3d against the SOFA file's own data (read independently with `h5dump`, Debian hdf5-tools), the
//! Woodworth ITD formula, and a click detector for moving sources.

mod fxb_util;

use std::path::PathBuf;

use fxb_util::*;
use tutti_engine::{Inputs, NodeType, Outputs, Processor, StreamConfig};

const SOFA: &str = "/usr/share/libmysofa/MIT_KEMAR_normal_pinna.sofa";

fn sofa_path() -> &'static str {
    assert!(
        std::path::Path::new(SOFA).is_file(),
        "{SOFA} is missing: install Debian libmysofa1/libmysofa-dev (scripts/setup.sh)"
    );
    SOFA
}

fn node() -> NodeType {
    tutti_effects::node_types()
        .into_iter()
        .find(|t| t.name == "pan3d")
        .expect("pan3d registered")
}

fn build(kv: &[(&str, String)]) -> Box<dyn Processor> {
    let pairs: Vec<(String, String)> = kv.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    node().build(&pairs).expect("pan3d builds")
}

/// Runs `p` over mono `x` block by block, calling `each_block(block_index, p)` before each block.
fn render(
    p: &mut dyn Processor,
    cfg: &StreamConfig,
    x: &[f32],
    mut each_block: impl FnMut(usize, &mut dyn Processor),
) -> [Vec<f32>; 2] {
    p.prepare(cfg).expect("prepare");
    assert_eq!(p.output_channels(0, cfg), 2);
    let b = cfg.block_frames;
    let pool = vec![vec![0.0f32; b]];
    let mut pool = pool;
    let idx = [0usize];
    let mut outs = vec![vec![0.0f32; 2 * b]];
    let mut res = [Vec::new(), Vec::new()];
    for (k, chunk) in x.chunks(b).enumerate() {
        each_block(k, p);
        pool[0].fill(0.0);
        pool[0][..chunk.len()].copy_from_slice(chunk);
        let ins = Inputs::new(&pool, &idx, b);
        let mut o = Outputs::new(&mut outs, b);
        p.process(&ins, &mut o);
        res[0].extend_from_slice(&outs[0][..chunk.len()]);
        res[1].extend_from_slice(&outs[0][b..b + chunk.len()]);
    }
    res
}

fn h5_f64(dataset: &str, dir: &PathBuf) -> Vec<f64> {
    let out = dir.join(format!("{}.bin", dataset.trim_start_matches('/')));
    run_tool(
        "h5dump",
        &[
            "-d",
            dataset,
            "-b",
            "LE",
            "-o",
            out.to_str().unwrap(),
            sofa_path(),
        ],
    );
    let bytes = std::fs::read(&out).expect("h5dump output");
    bytes
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

/// At measured directions (elevation 0 and 10°, MIT KEMAR measures every 5° there) the rendered impulse
/// response equals the file's HRIR (Data.IR read with h5dump) to f32 precision.
#[test]
fn sofa_impulse_equals_file_hrir() {
    let dir = scratch("pan3d");
    let pos = h5_f64("/SourcePosition", &dir);
    let ir = h5_f64("/Data.IR", &dir);
    let (m, taps) = (pos.len() / 3, 512);
    assert_eq!(ir.len(), m * 2 * taps, "Data.IR shape 710×2×512");
    let cfg = StreamConfig::with_frames(44_100, 1, 441).unwrap();
    for (az, el) in [(30.0f64, 0.0f64), (-45.0, 10.0), (90.0, 0.0), (180.0, 20.0)] {
        let az_file = az.rem_euclid(360.0);
        let i = (0..m)
            .find(|&i| (pos[3 * i] - az_file).abs() < 1e-6 && (pos[3 * i + 1] - el).abs() < 1e-6)
            .unwrap_or_else(|| panic!("no measurement at az {az_file} el {el}"));
        let mut p = build(&[
            ("sofa", sofa_path().into()),
            ("azimuth", az.to_string()),
            ("elevation", el.to_string()),
        ]);
        let mut x = vec![0.0f32; 1323];
        x[0] = 1.0;
        let y = render(p.as_mut(), &cfg, &x, |_, _| {});
        for ear in 0..2 {
            let want = &ir[(i * 2 + ear) * taps..(i * 2 + ear + 1) * taps];
            let e: f64 = want.iter().map(|v| v * v).sum();
            let d: f64 = want
                .iter()
                .zip(&y[ear])
                .map(|(w, g)| (w - f64::from(*g)).powi(2))
                .sum();
            let tail: f64 = y[ear][taps..].iter().map(|v| f64::from(*v).powi(2)).sum();
            let db = 10.0 * ((d + tail) / e).log10();
            println!("pan3d SOFA az {az} el {el} ear {ear}: residual {db:.1} dB");
            assert!(db < -100.0, "rendered HRIR differs from the file: {db} dB");
        }
    }
}

fn group_delay(h: &[f32], f: f64, rate: f64) -> f64 {
    let phase = |f: f64| {
        let w = 2.0 * std::f64::consts::PI * f / rate;
        let (mut re, mut im) = (0.0, 0.0);
        for (n, v) in h.iter().enumerate() {
            re += f64::from(*v) * (w * n as f64).cos();
            im -= f64::from(*v) * (w * n as f64).sin();
        }
        im.atan2(re)
    };
    let df = 1.0;
    -(phase(f + df) - phase(f - df)) / (2.0 * 2.0 * std::f64::consts::PI * df) * rate
}

/// Model mode at ±90°: the low-frequency interaural delay equals Woodworth's ITD (sign and size, within
/// 2 µs); the near ear is louder.
#[test]
fn model_itd_matches_woodworth() {
    let rate = 48_000.0;
    let cfg = StreamConfig::new(48_000, 1, 10.0).unwrap();
    for az in [90.0f32, -90.0, 30.0] {
        let mut p = build(&[("azimuth", az.to_string())]);
        let mut x = vec![0.0f32; 4800];
        x[0] = 1.0;
        let y = render(p.as_mut(), &cfg, &x, |_, _| {});
        let (tl, tr) = (group_delay(&y[0], 20.0, rate), group_delay(&y[1], 20.0, rate));
        let itd = (tr - tl) / rate; // positive when the right ear lags (source on the left)
        let want = tutti_effects::woodworth_itd(az, 0.0);
        let ild = 10.0 * (rms(&y[0]).powi(2) / rms(&y[1]).powi(2)).log10();
        println!(
            "pan3d model az {az}: ITD {:.1} µs (Woodworth {:.1} µs), ILD {ild:+.1} dB",
            itd * 1e6,
            want * 1e6
        );
        assert!((itd - want).abs() < 2e-6, "ITD {itd} vs {want}");
        assert!(
            ild * f64::from(az.signum()) > 3.0,
            "near ear must be louder (ILD {ild} dB)"
        );
        assert_eq!(p.latency(), 8);
        let near = if az > 0.0 { tl } else { tr };
        assert!(
            (near - 8.0).abs() < 0.05,
            "near-ear delay {near} samples = reported latency"
        );
    }
}

/// High-pass (4th-order Butterworth at 4 kHz) energy in 2.5 ms windows relative to the whole output:
/// the loudest window, in dB. A 300 Hz sine has none; a click shows up.
fn click_score(y: &[f32], rate: f64) -> f64 {
    let c = tutti_effects::BiquadCoeffs::highpass(4000.0, 0.5412, rate);
    let d = tutti_effects::BiquadCoeffs::highpass(4000.0, 1.3066, rate);
    let (mut b1, mut b2) = (tutti_effects::Biquad::new(c), tutti_effects::Biquad::new(d));
    let mut h = y.to_vec();
    b1.process_in_place(&mut h);
    b2.process_in_place(&mut h);
    let skip = (rate * 0.1) as usize;
    let total = rms(&y[skip..]);
    let w = (rate * 0.0025) as usize;
    h[skip..]
        .chunks(w)
        .map(|c| 20.0 * (rms(c) / total).log10())
        .fold(f64::NEG_INFINITY, f64::max)
}

/// A source jumping by 25° every 20 ms (both modes) stays click-free, while an abrupt switch between the
/// same directions is detected.
#[test]
fn moving_source_is_click_free() {
    let rate = 48_000;
    let cfg = StreamConfig::new(rate, 1, 10.0).unwrap();
    let x = sine(300.0, 0.5, rate, rate as usize * 2);
    for sofa in [true, false] {
        let mut kv = vec![("azimuth", "0".to_string())];
        if sofa {
            kv.push(("sofa", sofa_path().into()));
        }
        let mut p = build(&kv);
        let y = render(p.as_mut(), &cfg, &x, |k, p| {
            if k % 2 == 0 {
                p.set_param(0, ((k / 2) as f32 * 25.0 + 180.0).rem_euclid(360.0) - 180.0);
            }
        });
        let moving = click_score(&y[0], f64::from(rate)).max(click_score(&y[1], f64::from(rate)));
        // Reference: splice two static renderings (0° and 90°) abruptly at 1 s.
        let mut a = build(&kv);
        let ya = render(a.as_mut(), &cfg, &x, |_, _| {});
        let mut kv90 = kv.clone();
        kv90[0].1 = "90".into();
        let mut b = build(&kv90);
        let yb = render(b.as_mut(), &cfg, &x, |_, _| {});
        let mut spliced = ya[0].clone();
        spliced[rate as usize..].copy_from_slice(&yb[0][rate as usize..]);
        let abrupt = click_score(&spliced, f64::from(rate));
        println!(
            "pan3d {} moving: HF peak {moving:.1} dB; abrupt switch {abrupt:.1} dB",
            if sofa { "SOFA" } else { "model" }
        );
        assert!(
            abrupt > -45.0,
            "the detector must see an abrupt switch ({abrupt} dB)"
        );
        assert!(moving < -70.0, "moving source clicks: {moving} dB");
    }
}

/// A missing SOFA file is a clear construction error.
#[test]
fn missing_sofa_file_fails_clearly() {
    let e = node()
        .build(&[("sofa".into(), "/nonexistent/x.sofa".into())])
        .err()
        .expect("must fail");
    assert!(e.to_string().contains("not found"), "{e}");
}
