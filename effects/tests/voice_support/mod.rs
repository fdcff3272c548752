//! Shared helpers of the voice-node behaviour tests (ns, agc, eq, vad, cng): real speech from Debian's
//! Asterisk prompts decoded by ffmpeg, seeded noise, labels, SI-SDR, and running a node offline.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tutti_engine::{render_offline, Meters, Processor, StreamConfig};

const G722_DIR: &str = "/usr/share/asterisk/sounds/en";

fn prompts() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(G722_DIR)
        .unwrap_or_else(|e| {
            panic!("{G722_DIR} missing ({e}): install Debian package asterisk-core-sounds-en-g722 (scripts/setup.sh)")
        })
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "g722"))
        .collect();
    files.sort();
    assert!(
        files.len() > 100,
        "too few G.722 prompts in {G722_DIR}: install asterisk-core-sounds-en-g722"
    );
    files
}

/// Decodes one G.722 prompt with ffmpeg to mono f32 at `rate`.
pub fn decode_g722(path: &std::path::Path, rate: u32) -> Vec<f32> {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-f", "g722", "-i"])
        .arg(path)
        .args(["-f", "f32le", "-ac", "1", "-ar", &rate.to_string(), "-"])
        .output()
        .unwrap_or_else(|e| {
            panic!("ffmpeg is needed to decode test speech (scripts/setup.sh installs it): {e}")
        });
    assert!(
        out.status.success(),
        "ffmpeg failed on {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// Seeded speech with pauses: prompts chosen by `seed`, separated by 0.3–1.2 s of silence, `lead_s` of
/// silence first, scaled to an active level of `level_dbfs`. Returns the signal and per-10 ms labels
/// (true where the clean frame is within 35 dB of the loudest frame).
pub fn speech(rate: u32, seed: u64, seconds: f64, lead_s: f64, level_dbfs: f64) -> (Vec<f32>, Vec<bool>) {
    let files = prompts();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let target = (seconds * f64::from(rate)) as usize;
    let mut out = vec![0.0f32; (lead_s * f64::from(rate)) as usize];
    while out.len() < target {
        let f = &files[rng.gen_range(0..files.len())];
        out.extend(decode_g722(f, rate));
        let pause = (rng.gen_range(0.3..1.2) * f64::from(rate)) as usize;
        out.extend(std::iter::repeat(0.0).take(pause));
    }
    out.truncate(target);
    let frame = (rate / 100) as usize;
    let powers: Vec<f64> = out.chunks(frame).map(power).collect();
    let max = powers.iter().cloned().fold(0.0, f64::max);
    let labels: Vec<bool> = powers.iter().map(|&p| p > max * 10f64.powf(-3.5)).collect();
    let act = active_level(&out, rate);
    let g = (10f64.powf(level_dbfs / 10.0) / act).sqrt() as f32;
    out.iter_mut().for_each(|v| *v *= g);
    (out, labels)
}

/// Mean square.
pub fn power(x: &[f32]) -> f64 {
    x.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() / x.len().max(1) as f64
}

/// Active level (mean power of 10 ms frames within 35 dB of the loudest), as a mean square.
pub fn active_level(x: &[f32], rate: u32) -> f64 {
    let frame = (rate / 100) as usize;
    let powers: Vec<f64> = x.chunks(frame).map(power).collect();
    let max = powers.iter().cloned().fold(0.0, f64::max);
    let act: Vec<f64> = powers
        .into_iter()
        .filter(|&p| p > max * 10f64.powf(-3.5))
        .collect();
    act.iter().sum::<f64>() / act.len().max(1) as f64
}

/// Mean square over the frames flagged in `labels` (10 ms frames).
pub fn labelled_level(x: &[f32], labels: &[bool], rate: u32) -> f64 {
    let frame = (rate / 100) as usize;
    let (mut s, mut n) = (0.0, 0usize);
    for (chunk, &l) in x.chunks(frame).zip(labels) {
        if l {
            s += power(chunk);
            n += 1;
        }
    }
    s / n.max(1) as f64
}

pub fn db(p: f64) -> f64 {
    10.0 * p.max(1e-20).log10()
}

/// Seeded white Gaussian noise of unit variance.
pub fn white(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let (u1, u2): (f64, f64) = (rng.gen_range(1e-12..1.0), rng.gen());
            ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
        })
        .collect()
}

/// Seeded pink (1/f) noise, unit variance (P. Kellet's filter on white noise).
pub fn pink(n: usize, seed: u64) -> Vec<f32> {
    let w = white(n, seed);
    let mut b = [0.0f64; 7];
    let mut out: Vec<f32> = w
        .iter()
        .map(|&x| {
            let x = f64::from(x);
            b[0] = 0.99886 * b[0] + x * 0.0555179;
            b[1] = 0.99332 * b[1] + x * 0.0750759;
            b[2] = 0.96900 * b[2] + x * 0.1538520;
            b[3] = 0.86650 * b[3] + x * 0.3104856;
            b[4] = 0.55000 * b[4] + x * 0.5329522;
            b[5] = -0.7616 * b[5] - x * 0.0168980;
            let y = b[..6].iter().sum::<f64>() + b[6] + x * 0.5362;
            b[6] = x * 0.115926;
            y as f32
        })
        .collect();
    let g = (1.0 / power(&out)).sqrt() as f32;
    out.iter_mut().for_each(|v| *v *= g);
    out
}

/// `clean + noise` with the noise scaled to `snr_db` below the clean signal's active level.
pub fn mix_snr(clean: &[f32], noise: &[f32], snr_db: f64, rate: u32) -> Vec<f32> {
    let g = (active_level(clean, rate) / power(noise) * 10f64.powf(-snr_db / 10.0)).sqrt() as f32;
    clean.iter().zip(noise).map(|(c, n)| c + g * n).collect()
}

/// Scale-invariant SDR (Le Roux et al. 2019) of `est` against `reference`, in dB.
pub fn si_sdr(reference: &[f32], est: &[f32]) -> f64 {
    let n = reference.len().min(est.len());
    let (r, e) = (&reference[..n], &est[..n]);
    let dot: f64 = r.iter().zip(e).map(|(&a, &b)| f64::from(a) * f64::from(b)).sum();
    let rr: f64 = r.iter().map(|&a| f64::from(a).powi(2)).sum();
    let alpha = dot / rr.max(1e-20);
    let (mut ts, mut es) = (0.0, 0.0);
    for (&a, &b) in r.iter().zip(e) {
        let t = alpha * f64::from(a);
        ts += t * t;
        es += (f64::from(b) - t).powi(2);
    }
    10.0 * (ts / es.max(1e-20)).log10()
}

/// Runs a node built from `spec` pairs over a mono signal at `rate` with 10 ms blocks. Returns the output
/// with the reported latency removed (zero-padded at the end), the latency and the node's meters.
pub fn run_node(
    name: &str,
    pairs: &[(&str, &str)],
    input: &[f32],
    rate: u32,
) -> (Vec<f32>, usize, Option<std::sync::Arc<Meters>>) {
    let ty = tutti_effects::node_types()
        .into_iter()
        .find(|t| t.name == name)
        .expect("node type is registered");
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut node = ty.build(&pairs).expect("valid arguments");
    let cfg = StreamConfig::new(rate, 1, 10.0).expect("supported rate");
    let out = render_offline(node.as_mut(), &cfg, &[vec![input.to_vec()]]).expect("prepare succeeds");
    let lat = node.latency();
    let mut y = out[0][0][lat.min(input.len())..].to_vec();
    y.resize(input.len(), 0.0);
    (y, lat, node.meters())
}

/// Builds a node by name with arguments (for processors that tests drive block by block).
pub fn build(name: &str, pairs: &[(&str, &str)]) -> Box<dyn Processor> {
    let ty = tutti_effects::node_types()
        .into_iter()
        .find(|t| t.name == name)
        .expect("node type is registered");
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    ty.build(&pairs).expect("valid arguments")
}
