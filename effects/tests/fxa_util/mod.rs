//! Helpers shared by fx-a's effect tests: building nodes by name, offline rendering, residuals, seeded
//! signals, float WAV I/O and running sox.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tutti_engine::{render_offline, Processor, StreamConfig};

/// Builds node `name` with `key=value` arguments.
pub fn build(name: &str, args: &[(&str, &str)]) -> Box<dyn Processor> {
    let ty = tutti_effects::node_types()
        .into_iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("node type '{name}' is not registered"));
    let pairs: Vec<(String, String)> = args.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    ty.build(&pairs)
        .unwrap_or_else(|e| panic!("building {name}: {e}"))
}

/// Renders `input` (one signal per channel) through `p` at `rate` in blocks of `block` frames.
pub fn render(p: &mut dyn Processor, rate: u32, block: usize, input: &[Vec<f32>]) -> Vec<Vec<f32>> {
    let cfg = StreamConfig::with_frames(rate, input.len(), block).expect("valid test configuration");
    let mut out = render_offline(p, &cfg, &[input.to_vec()]).expect("render");
    out.swap_remove(0)
}

/// Renders with a second input port (side chain).
pub fn render2(
    p: &mut dyn Processor,
    rate: u32,
    block: usize,
    a: &[Vec<f32>],
    b: &[Vec<f32>],
) -> Vec<Vec<f32>> {
    let cfg = StreamConfig::with_frames(rate, a.len(), block).expect("valid test configuration");
    let mut out = render_offline(p, &cfg, &[a.to_vec(), b.to_vec()]).expect("render");
    out.swap_remove(0)
}

/// Residual energy of `y` against `model`, relative to the model's energy, in dB.
pub fn residual_db(y: &[f32], model: &[f64]) -> f64 {
    assert_eq!(y.len(), model.len());
    let e: f64 = y
        .iter()
        .zip(model)
        .map(|(a, b)| (f64::from(*a) - b).powi(2))
        .sum();
    let s: f64 = model.iter().map(|b| b * b).sum();
    assert!(s > 0.0, "model is silent");
    10.0 * (e.max(1e-300) / s).log10()
}

/// Seeded white noise, uniform in ±`amp`.
pub fn noise(seed: u64, n: usize, amp: f32) -> Vec<f32> {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| r.gen_range(-amp..amp)).collect()
}

/// A test programme: noise bursts, a sine and a sweep, seeded.
pub fn programme(seed: u64, n: usize, rate: u32) -> Vec<f32> {
    let nz = noise(seed, n, 0.5);
    let fs = f64::from(rate);
    (0..n)
        .map(|i| {
            let t = i as f64 / fs;
            let burst = if (t * 3.0).fract() < 0.4 { 1.0 } else { 0.1 };
            let sweep = (2.0 * std::f64::consts::PI * (100.0 * t + 400.0 * t * t)).sin();
            (0.3 * sweep + 0.2 * (2.0 * std::f64::consts::PI * 440.0 * t).sin()) as f32
                + nz[i] * burst as f32 * 0.5
        })
        .collect()
}

pub fn sine(freq: f64, rate: u32, n: usize, amp: f64, phase: f64) -> Vec<f32> {
    (0..n)
        .map(|i| {
            (amp * (2.0 * std::f64::consts::PI * freq * i as f64 / f64::from(rate) + phase).sin()) as f32
        })
        .collect()
}

/// Writes planar channels as a 32-bit float WAV.
pub fn write_wav(path: &Path, rate: u32, chans: &[Vec<f32>]) {
    let nch = chans.len();
    let n = chans[0].len();
    let data_len = (n * nch * 4) as u32;
    let mut b = Vec::with_capacity(44 + data_len as usize);
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + data_len).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&3u16.to_le_bytes());
    b.extend_from_slice(&(nch as u16).to_le_bytes());
    b.extend_from_slice(&rate.to_le_bytes());
    b.extend_from_slice(&(rate * 4 * nch as u32).to_le_bytes());
    b.extend_from_slice(&((4 * nch) as u16).to_le_bytes());
    b.extend_from_slice(&32u16.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&data_len.to_le_bytes());
    for i in 0..n {
        for c in chans {
            b.extend_from_slice(&c[i].to_le_bytes());
        }
    }
    std::fs::write(path, b).expect("write wav");
}

/// Reads a 32-bit float WAV into planar channels.
pub fn read_wav(path: &Path) -> Vec<Vec<f32>> {
    let b = std::fs::read(path).expect("read wav");
    assert_eq!(&b[0..4], b"RIFF");
    let mut pos = 12;
    let mut nch = 0usize;
    while pos + 8 <= b.len() {
        let id = &b[pos..pos + 4];
        let len = u32::from_le_bytes([b[pos + 4], b[pos + 5], b[pos + 6], b[pos + 7]]) as usize;
        let body = &b[pos + 8..(pos + 8 + len).min(b.len())];
        if id == b"fmt " {
            let fmt = u16::from_le_bytes([body[0], body[1]]);
            nch = u16::from_le_bytes([body[2], body[3]]) as usize;
            let bits = u16::from_le_bytes([body[14], body[15]]);
            assert!(fmt == 3 || (fmt == 0xFFFE && bits == 32), "expected float WAV");
        } else if id == b"data" {
            let frames = body.len() / 4 / nch;
            let mut out = vec![Vec::with_capacity(frames); nch];
            for i in 0..frames {
                for (c, o) in out.iter_mut().enumerate() {
                    let k = (i * nch + c) * 4;
                    o.push(f32::from_le_bytes([
                        body[k],
                        body[k + 1],
                        body[k + 2],
                        body[k + 3],
                    ]));
                }
            }
            return out;
        }
        pos += 8 + len + (len & 1);
    }
    panic!("no data chunk in {}", path.display());
}

/// A scratch directory for this test.
pub fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tutti-fxa-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("scratch dir");
    d
}

/// Runs `sox in.wav -e floating-point -b 32 out.wav <effect…>` and returns the output. Fails the test with
/// a clear message when sox is missing.
pub fn sox(name: &str, rate: u32, input: &[Vec<f32>], effect: &[&str]) -> Vec<Vec<f32>> {
    let d = scratch(name);
    let (i, o) = (d.join("in.wav"), d.join("out.wav"));
    write_wav(&i, rate, input);
    let st = Command::new("sox")
        .arg(&i)
        .args(["-e", "floating-point", "-b", "32"])
        .arg(&o)
        .args(effect)
        .output()
        .unwrap_or_else(|e| panic!("sox is required for this test (apt-get install sox): {e}"));
    assert!(
        st.status.success(),
        "sox failed: {}",
        String::from_utf8_lossy(&st.stderr)
    );
    let y = read_wav(&o);
    let _ = std::fs::remove_dir_all(&d);
    y
}

/// BS.1770-5 Annex 2 true peak: the largest magnitude among the samples and the 4× interpolated values
/// (the published 48-tap polyphase filter, written here independently of the crate).
pub fn true_peak(x: &[f32]) -> f64 {
    const H: [[f64; 12]; 2] = [
        [
            -0.0291748046875,
            0.0292968750000,
            -0.0517578125000,
            0.0891113281250,
            -0.1665039062500,
            0.4650878906250,
            0.7797851562500,
            -0.2003173828125,
            0.1015625000000,
            -0.0582275390625,
            0.0330810546875,
            -0.0189208984375,
        ],
        [
            0.0017089843750,
            0.0109863281250,
            -0.0196533203125,
            0.0332031250000,
            -0.0594482421875,
            0.1373291015625,
            0.9721679687500,
            -0.1022949218750,
            0.0476074218750,
            -0.0266113281250,
            0.0148925781250,
            -0.0083007812500,
        ],
    ];
    let mut peak = x.iter().fold(0.0f64, |m, v| m.max(f64::from(v.abs())));
    let at = |i: isize| {
        if i >= 0 && (i as usize) < x.len() {
            f64::from(x[i as usize])
        } else {
            0.0
        }
    };
    for n in 0..(x.len() as isize + 12) {
        for h in &H {
            // Phase p and its mirror 3 − p.
            let a: f64 = (0..12).map(|k| h[k] * at(n - k as isize)).sum();
            let b: f64 = (0..12).map(|k| h[11 - k] * at(n - k as isize)).sum();
            peak = peak.max(a.abs()).max(b.abs());
        }
    }
    peak
}

pub fn db(x: f64) -> f64 {
    20.0 * x.max(1e-12).log10()
}
