//! `eq` behaviour: the node's measured magnitude response equals the analytic RBJ response and the
//! responses of ffmpeg's and sox's biquad filters (measured from their impulse responses) to < 0.0001 dB;
//! the SVF topology gives the same response; run-time changes are click-free.
mod voice_support;

use std::process::Command;

use realfft::RealFftPlanner;
use tutti_effects::{eq_response_db, BandSpec};
use voice_support::*;

const N: usize = 1 << 16;
const FS: u32 = 48_000;

/// Magnitude response (dB) per FFT bin of an impulse response.
fn response(h: &[f64]) -> Vec<f64> {
    let mut planner = RealFftPlanner::<f64>::new();
    let fft = planner.plan_fft_forward(N);
    let mut x = h.to_vec();
    x.resize(N, 0.0);
    let mut spec = fft.make_output_vec();
    fft.process(&mut x, &mut spec).unwrap();
    spec.iter()
        .map(|c| 10.0 * c.norm_sqr().max(1e-300).log10())
        .collect()
}

fn impulse(amp: f64) -> Vec<f64> {
    let mut x = vec![0.0; N];
    x[0] = amp;
    x
}

/// ffmpeg's filter on an f64 impulse at double precision.
fn ffmpeg_ir(filter: &str, amp: f64) -> Vec<f64> {
    let dir = std::env::temp_dir().join(format!("tutti-eq-ff-{}-{}", std::process::id(), filter.len()));
    std::fs::create_dir_all(&dir).unwrap();
    let inp = dir.join("in.f64");
    std::fs::write(
        &inp,
        impulse(amp)
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect::<Vec<u8>>(),
    )
    .unwrap();
    let out = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-f",
            "f64le",
            "-ar",
            &FS.to_string(),
            "-ac",
            "1",
            "-i",
        ])
        .arg(&inp)
        .args(["-af", &format!("{filter}:precision=f64"), "-f", "f64le", "-"])
        .output()
        .unwrap_or_else(|e| panic!("ffmpeg is needed for the EQ oracle (scripts/setup.sh): {e}"));
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "ffmpeg {filter}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
        .chunks_exact(8)
        .map(|b| f64::from_le_bytes(b.try_into().unwrap()) / amp)
        .collect()
}

/// A periodic multisine with equal magnitude in every FFT bin and seeded random phases, peak 0.3.
fn multisine() -> Vec<f64> {
    let mut planner = RealFftPlanner::<f64>::new();
    let ifft = planner.plan_fft_inverse(N);
    let mut spec = ifft.make_input_vec();
    let ph = white(spec.len(), 78);
    for (k, c) in spec.iter_mut().enumerate() {
        let a = f64::from(ph[k]) * 3.0;
        *c = realfft::num_complex::Complex::new(a.cos(), if k == 0 || k == N / 2 { 0.0 } else { a.sin() });
    }
    spec[0].re = 0.0;
    let mut x = ifft.make_output_vec();
    ifft.process(&mut spec, &mut x).unwrap();
    let peak = x.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    x.iter().map(|v| v * 0.3 / peak).collect()
}

/// sox's magnitude response per FFT bin: sox runs its filters on 32-bit integer samples, which truncates
/// an impulse response's tail, so the input is two periods of a flat-spectrum multisine and `H = Y/X` on
/// the second (steady-state, circular) period.
fn sox_response(effect: &[&str]) -> Vec<f64> {
    let dir = std::env::temp_dir().join(format!(
        "tutti-eq-sox-{}-{}",
        std::process::id(),
        effect.join("_")
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let (inp, outp) = (dir.join("in.f32"), dir.join("out.f32"));
    let period = multisine();
    let x: Vec<f32> = period.iter().chain(&period).map(|&v| v as f32).collect();
    std::fs::write(&inp, x.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>()).unwrap();
    let raw = |p: &std::path::Path| -> Vec<String> {
        [
            "-t",
            "raw",
            "-e",
            "floating-point",
            "-b",
            "32",
            "-c",
            "1",
            "-r",
            &FS.to_string(),
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([p.display().to_string()])
        .collect()
    };
    let st = Command::new("sox")
        .arg("-D") // no dither: it would add noise on the way out to 24-bit-mantissa floats
        .args(raw(&inp))
        .args(raw(&outp))
        .args(effect)
        .output()
        .unwrap_or_else(|e| panic!("sox is needed for the EQ oracle (scripts/setup.sh): {e}"));
    assert!(
        st.status.success(),
        "sox {effect:?}: {}",
        String::from_utf8_lossy(&st.stderr)
    );
    let bytes = std::fs::read(&outp).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let y: Vec<f64> = bytes
        .chunks_exact(4)
        .map(|b| f64::from(f32::from_le_bytes(b.try_into().unwrap())))
        .collect();
    assert_eq!(y.len(), 2 * N, "sox output length");
    let input: Vec<f64> = period.iter().map(|&v| f64::from(v as f32)).collect();
    let (ry, rx) = (response(&y[N..]), response(&input));
    ry.iter().zip(&rx).map(|(a, b)| a - b).collect()
}

/// The node's impulse response (f32 I/O, so the impulse is scaled to keep precision).
fn node_ir(pairs: &[(&str, &str)]) -> Vec<f64> {
    let x: Vec<f32> = impulse(1.0).iter().map(|&v| v as f32).collect();
    let (y, lat, _) = run_node("eq", pairs, &x, FS);
    assert_eq!(lat, 0);
    y.iter().map(|&v| f64::from(v)).collect()
}

fn compare(name: &str, got: &[f64], want: impl Fn(f64) -> f64, tol_db: f64) {
    compare_response(name, &response(got), want, tol_db, -40.0);
}

/// Compares where the wanted response is above `floor_db` (below it, the relative precision of 32-bit
/// float I/O, not the design, dominates).
fn compare_response(name: &str, r: &[f64], want: impl Fn(f64) -> f64, tol_db: f64, floor_db: f64) {
    let mut worst = 0.0f64;
    for (k, &g) in r.iter().enumerate() {
        let f = k as f64 * f64::from(FS) / N as f64;
        if !(20.0..=0.45 * f64::from(FS)).contains(&f) {
            continue;
        }
        let w = want(f);
        if w < floor_db {
            continue;
        }
        worst = worst.max((g - w).abs());
    }
    eprintln!("{name}: worst deviation {worst:.2e} dB");
    assert!(
        worst < tol_db,
        "{name}: magnitude response deviates by {worst:e} dB"
    );
}

/// (band string, ffmpeg filter, sox effect)
fn cases() -> Vec<(&'static str, String, Vec<&'static str>)> {
    vec![
        (
            "peak:1000:1.0:6",
            "equalizer=f=1000:t=q:w=1:g=6".into(),
            vec!["equalizer", "1000", "1q", "6"],
        ),
        (
            "peak:150:4.0:-9",
            "equalizer=f=150:t=q:w=4:g=-9".into(),
            vec!["equalizer", "150", "4q", "-9"],
        ),
        (
            "lowshelf:200:0.7:-3",
            "lowshelf=f=200:t=q:w=0.7:g=-3".into(),
            vec!["bass", "-3", "200", "0.7q"],
        ),
        (
            "highshelf:4000:0.9:5",
            "highshelf=f=4000:t=q:w=0.9:g=5".into(),
            vec!["treble", "5", "4000", "0.9q"],
        ),
        (
            "lowpass:3000:0.707",
            "lowpass=f=3000:t=q:w=0.707".into(),
            vec!["lowpass", "3000", "0.707q"],
        ),
        (
            "highpass:60:0.707",
            "highpass=f=60:t=q:w=0.707".into(),
            vec!["highpass", "60", "0.707q"],
        ),
    ]
}

#[test]
fn node_matches_analytic_rbj_response() {
    for (band, _, _) in cases() {
        let spec = BandSpec::parse(band).unwrap();
        let ir = node_ir(&[("b1", band)]);
        compare(
            &format!("node {band} vs analytic"),
            &ir,
            |f| eq_response_db(&[spec], f, f64::from(FS)),
            1e-4,
        );
        let ir = node_ir(&[("b1", band), ("topology", "svf")]);
        compare(
            &format!("svf {band} vs analytic"),
            &ir,
            |f| eq_response_db(&[spec], f, f64::from(FS)),
            1e-4,
        );
    }
    // Several bands multiply.
    let bands = ["peak:1000:1.0:6", "lowshelf:200:0.7:-3", "highpass:40:0.707"];
    let specs: Vec<BandSpec> = bands.iter().map(|b| BandSpec::parse(b).unwrap()).collect();
    let ir = node_ir(&[("b1", bands[0]), ("b2", bands[1]), ("b3", bands[2])]);
    compare(
        "three bands vs analytic",
        &ir,
        |f| eq_response_db(&specs, f, f64::from(FS)),
        1e-4,
    );
}

#[test]
fn ffmpeg_and_sox_match_the_analytic_response_and_the_node() {
    for (band, ff, sx) in cases() {
        let spec = BandSpec::parse(band).unwrap();
        let analytic = |f: f64| eq_response_db(&[spec], f, f64::from(FS));
        let ffir = ffmpeg_ir(&ff, 0.25);
        compare(&format!("ffmpeg {ff} vs analytic"), &ffir, analytic, 1e-4);
        let sox = sox_response(&sx);
        compare_response(&format!("sox {sx:?} vs analytic"), &sox, analytic, 1e-4, -20.0);
        let node = response(&node_ir(&[("b1", band)]));
        compare(
            &format!("node {band} vs ffmpeg"),
            &ffir,
            |f| node[(f * N as f64 / f64::from(FS)).round() as usize],
            1e-4,
        );
    }
}

#[test]
fn run_time_changes_are_click_free() {
    // A 200 Hz sine at −6 dBFS; band 1 jumps from 0 to +12 dB at 200 Hz and then to a different type.
    let rate = 48_000u32;
    let n = rate as usize;
    let x: Vec<f32> = (0..n)
        .map(|i| 0.5 * (2.0 * std::f32::consts::PI * 200.0 * i as f32 / rate as f32).sin())
        .collect();
    let mut node = build("eq", &[("b1", "peak:200:1.0:0")]);
    let cfg = tutti_engine::StreamConfig::new(rate, 1, 10.0).unwrap();
    node.prepare(&cfg).unwrap();
    let g1 = node.params().iter().position(|p| p.name == "g1").unwrap();
    let t1 = node.params().iter().position(|p| p.name == "t1").unwrap();
    let mut y = Vec::new();
    let mut out = vec![vec![0.0f32; 480]];
    for (b, chunk) in x.chunks_exact(480).enumerate() {
        if b == 20 {
            node.set_param(g1, 12.0);
        }
        if b == 60 {
            node.set_param(t1, 2.0); // lowshelf
        }
        let pool = vec![chunk.to_vec()];
        let ins = tutti_engine::Inputs::new(&pool, &[0], 480);
        let mut outs = tutti_engine::Outputs::new(&mut out, 480);
        node.process(&ins, &mut outs);
        y.extend_from_slice(&out[0]);
    }
    // The largest step between samples stays within what a smooth sine of the final amplitude allows.
    let max_amp = y.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let slope = 2.0 * std::f32::consts::PI * 200.0 / rate as f32 * max_amp;
    let worst = y.windows(2).map(|w| (w[1] - w[0]).abs()).fold(0.0f32, f32::max);
    assert!(worst <= 1.05 * slope, "step {worst} vs smooth slope {slope}");
    // And it got to +12 dB at 200 Hz before the type change.
    let seg = &y[50 * 480..60 * 480];
    let amp = seg.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    assert!((20.0 * (amp / 0.5).log10() - 12.0).abs() < 0.1, "reached {amp}");
}

/// The multichannel path (8-lane `f32` banks, handed over to the per-channel `f64` filters during type
/// cross-fades) equals the mono `f64` path of each channel within −80 dB (`f32` rounding of a cascade with
/// a 60 Hz high-pass and a 120 Hz shelf: about −85 dB; a wrong state hand-over would show as a click far
/// above that), through a gain glide and a type change, for 2, 8 and 11 channels.
#[test]
fn multichannel_bank_path_matches_mono_path() {
    let rate = 48_000u32;
    let blocks = 120;
    let spec = [
        ("b1", "peak:200:1.0:6"),
        ("b2", "lowshelf:120:0.7:-4"),
        ("b3", "highpass:60:0.707"),
        ("b4", "notch:3000:4"),
    ];
    let run = |channels: usize, x: &[Vec<f32>]| -> Vec<Vec<f32>> {
        let mut node = build("eq", &spec);
        let cfg = tutti_engine::StreamConfig {
            sample_rate: rate,
            channels,
            block_frames: 480,
        };
        node.prepare(&cfg).unwrap();
        let g1 = node.params().iter().position(|p| p.name == "g1").unwrap();
        let t2 = node.params().iter().position(|p| p.name == "t2").unwrap();
        let mut y = vec![Vec::new(); channels];
        let mut out = vec![vec![0.0f32; 480 * channels]];
        for b in 0..blocks {
            if b == 30 {
                node.set_param(g1, -9.0);
            }
            if b == 70 {
                node.set_param(t2, 3.0); // highshelf: a cross-fade on the f64 filters
            }
            let pool = vec![x
                .iter()
                .flat_map(|c| c[b * 480..(b + 1) * 480].to_vec())
                .collect::<Vec<f32>>()];
            let ins = tutti_engine::Inputs::new(&pool, &[0], 480);
            let mut outs = tutti_engine::Outputs::new(&mut out, 480);
            node.process(&ins, &mut outs);
            for (c, yc) in y.iter_mut().enumerate() {
                yc.extend_from_slice(&out[0][c * 480..(c + 1) * 480]);
            }
        }
        y
    };
    let mut seed = 99u32;
    for channels in [2usize, 8, 11] {
        let x: Vec<Vec<f32>> = (0..channels)
            .map(|_| {
                (0..blocks * 480)
                    .map(|_| {
                        seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                        ((seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5) * 0.5
                    })
                    .collect()
            })
            .collect();
        let multi = run(channels, &x);
        for c in 0..channels {
            let mono = run(1, &x[c..c + 1]).remove(0);
            let (mut e, mut p) = (0.0f64, 0.0f64);
            for (a, b) in multi[c].iter().zip(&mono) {
                e += f64::from(a - b).powi(2);
                p += f64::from(*b).powi(2);
            }
            let r = 10.0 * (e / p).log10();
            println!("eq {channels} ch, channel {c}: residual {r:.1} dB against the mono f64 path");
            assert!(r < -80.0, "{channels} ch, channel {c}: residual {r:.1} dB");
        }
    }
}
