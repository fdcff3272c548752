//! Shared helpers of fx-b's behaviour tests: WAV files for peer tools, tone synthesis, frequency
//! estimation, running Debian peer tools (a missing tool fails the test with a clear message).
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

/// A scratch directory for this test binary.
pub fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tutti-fxb-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).expect("temp dir is writable");
    d
}

/// Writes planar `chans` as a 32-bit float WAV.
pub fn write_wav(path: &PathBuf, rate: u32, chans: &[Vec<f32>]) {
    write_wav_fmt(path, rate, chans, true)
}

/// Writes planar `chans` as 32-bit float (`float = true`) or 16-bit PCM WAV.
pub fn write_wav_fmt(path: &PathBuf, rate: u32, chans: &[Vec<f32>], float: bool) {
    let spec = hound::WavSpec {
        channels: chans.len() as u16,
        sample_rate: rate,
        bits_per_sample: if float { 32 } else { 16 },
        sample_format: if float {
            hound::SampleFormat::Float
        } else {
            hound::SampleFormat::Int
        },
    };
    let mut w = hound::WavWriter::create(path, spec).expect("wav create");
    for i in 0..chans[0].len() {
        for c in chans {
            if float {
                w.write_sample(c[i]).expect("wav write");
            } else {
                w.write_sample((c[i].clamp(-1.0, 1.0) * 32767.0).round() as i16)
                    .expect("wav write");
            }
        }
    }
    w.finalize().expect("wav finalize");
}

/// Reads a WAV file into planar f32 channels and its rate.
pub fn read_wav(path: &PathBuf) -> (u32, Vec<Vec<f32>>) {
    let mut r = hound::WavReader::open(path).unwrap_or_else(|e| panic!("cannot read {path:?}: {e}"));
    let spec = r.spec();
    let nch = spec.channels as usize;
    let inter: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => r.samples::<f32>().map(|s| s.expect("sample")).collect(),
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample - 1)) as f32;
            r.samples::<i32>()
                .map(|s| s.expect("sample") as f32 * scale)
                .collect()
        }
    };
    let frames = inter.len() / nch;
    (
        spec.sample_rate,
        (0..nch)
            .map(|c| (0..frames).map(|i| inter[i * nch + c]).collect())
            .collect(),
    )
}

/// Runs a peer tool; panics with a clear message when it is missing or fails.
pub fn run_tool(tool: &str, args: &[&str]) {
    let out = Command::new(tool).args(args).output().unwrap_or_else(|e| {
        panic!("peer tool '{tool}' is missing ({e}); run scripts/setup.sh (Debian package providing it)")
    });
    assert!(
        out.status.success(),
        "{tool} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A harmonic tone: `harmonics` partials of `f0` with amplitudes `0.5/k`, normalised to peak ≈ 0.5.
pub fn harmonic_tone(f0: f64, harmonics: usize, rate: u32, len: usize) -> Vec<f32> {
    let norm: f64 = (1..=harmonics).map(|k| 1.0 / k as f64).sum();
    (0..len)
        .map(|i| {
            let t = i as f64 / f64::from(rate);
            let mut s = 0.0;
            for k in 1..=harmonics {
                if f0 * k as f64 <= 0.45 * f64::from(rate) {
                    s += (2.0 * std::f64::consts::PI * f0 * k as f64 * t + 0.3 * k as f64).sin() / k as f64;
                }
            }
            (0.5 * s / norm) as f32
        })
        .collect()
}

/// A sine.
pub fn sine(f: f64, amp: f64, rate: u32, len: usize) -> Vec<f32> {
    (0..len)
        .map(|i| (amp * (2.0 * std::f64::consts::PI * f * i as f64 / f64::from(rate)).sin()) as f32)
        .collect()
}

/// |DTFT| at `f` of the Hann-windowed `x`.
pub fn dtft_mag(x: &[f32], f: f64, rate: u32) -> f64 {
    let n = x.len();
    let w = 2.0 * std::f64::consts::PI * f / f64::from(rate);
    let (mut re, mut im) = (0.0, 0.0);
    let (mut c, mut s) = (1.0f64, 0.0f64);
    let (cw, sw) = (w.cos(), w.sin());
    for (i, &v) in x.iter().enumerate() {
        let win = 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n as f64).cos();
        re += f64::from(v) * win * c;
        im -= f64::from(v) * win * s;
        let nc = c * cw - s * sw;
        s = s * cw + c * sw;
        c = nc;
        if i % 1024 == 1023 {
            let m = (c * c + s * s).sqrt();
            c /= m;
            s /= m;
        }
    }
    (re * re + im * im).sqrt()
}

/// Frequency of the strongest partial within ±`span` (relative) of `around`: a coarse scan then a
/// golden-section search of the Hann-windowed DTFT magnitude.
pub fn peak_freq(x: &[f32], around: f64, span: f64, rate: u32) -> f64 {
    let (lo, hi) = (around * (1.0 - span), around * (1.0 + span));
    let steps = 60;
    let mut best = lo;
    let mut bm = -1.0;
    for i in 0..=steps {
        let f = lo + (hi - lo) * i as f64 / steps as f64;
        let m = dtft_mag(x, f, rate);
        if m > bm {
            bm = m;
            best = f;
        }
    }
    let d = (hi - lo) / steps as f64;
    let (mut a, mut b) = (best - d, best + d);
    let g = (5f64.sqrt() - 1.0) / 2.0;
    for _ in 0..40 {
        let c = b - g * (b - a);
        let e = a + g * (b - a);
        if dtft_mag(x, c, rate) > dtft_mag(x, e, rate) {
            b = e;
        } else {
            a = c;
        }
    }
    (a + b) / 2.0
}

/// Cents from `b` to `a`.
pub fn cents(a: f64, b: f64) -> f64 {
    1200.0 * (a / b).log2()
}

/// RMS.
pub fn rms(x: &[f32]) -> f64 {
    (x.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() / x.len().max(1) as f64).sqrt()
}
