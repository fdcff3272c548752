//! `tutti process` and `tutti nodes` end to end through the binary: the contract's acceptance example
//! against an analytic model, graph files, and error handling.

use std::f64::consts::PI;
use std::path::Path;
use std::process::Command;

fn tutti() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tutti"))
}

fn write_f32(path: &Path, rate: u32, channels: &[Vec<f32>]) {
    let spec = hound::WavSpec {
        channels: channels.len() as u16,
        sample_rate: rate,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..channels[0].len() {
        for c in channels {
            w.write_sample(c[i]).unwrap();
        }
    }
    w.finalize().unwrap();
}

fn read_f32(path: &Path) -> (u32, Vec<Vec<f32>>) {
    let mut r = hound::WavReader::open(path).unwrap();
    let spec = r.spec();
    let n = spec.channels as usize;
    let v: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => r.samples::<f32>().map(Result::unwrap).collect(),
        hound::SampleFormat::Int => r.samples::<i32>().map(|s| s.unwrap() as f32 / 32768.0).collect(),
    };
    let mut ch = vec![Vec::new(); n];
    for (i, s) in v.into_iter().enumerate() {
        ch[i % n].push(s);
    }
    (spec.sample_rate, ch)
}

/// Seeded noise (xorshift) scaled to ±0.5.
fn noise(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f64 / (1u64 << 24) as f64 - 0.5) as f32
        })
        .collect()
}

/// The analytic model: RBJ/bilinear Butterworth high-pass at 100 Hz (computed here independently, in
/// f64), then ×10^(-6/20), then a delay of exactly 25 ms.
fn model(x: &[f32], rate: u32) -> Vec<f64> {
    let w0 = 2.0 * PI * 100.0 / f64::from(rate);
    let alpha = w0.sin() / (2.0 * std::f64::consts::FRAC_1_SQRT_2);
    let c = w0.cos();
    let a0 = 1.0 + alpha;
    let (b0, b1, b2) = ((1.0 + c) / 2.0 / a0, -(1.0 + c) / a0, (1.0 + c) / 2.0 / a0);
    let (a1, a2) = (-2.0 * c / a0, (1.0 - alpha) / a0);
    let (mut x1, mut x2, mut y1, mut y2) = (0.0, 0.0, 0.0, 0.0);
    let g = 10f64.powf(-6.0 / 20.0);
    let d = (f64::from(rate) * 0.025) as usize;
    let mut y = vec![0.0; x.len()];
    for (i, &xi) in x.iter().enumerate() {
        let xi = f64::from(xi);
        let yi = b0 * xi + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2;
        (x2, x1, y2, y1) = (x1, xi, y1, yi);
        if i + d < y.len() {
            y[i + d] = g * yi;
        }
    }
    y
}

#[test]
fn contract_example_matches_the_analytic_model() {
    let dir = tempfile::tempdir().unwrap();
    for rate in [8000u32, 16000, 48000] {
        let x = noise(rate as usize * 2, u64::from(rate));
        let (inp, out) = (
            dir.path().join(format!("x{rate}.wav")),
            dir.path().join(format!("y{rate}.wav")),
        );
        write_f32(&inp, rate, &[x.clone()]);
        let o = tutti()
            .args([
                "process",
                "--chain",
                "hpf(hz=100),gain(db=-6),delay(ms=25)",
                "--in",
            ])
            .arg(&inp)
            .arg("--out")
            .arg(&out)
            .args(["--out-format", "f32", "--json"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("stdout is one JSON document");
        assert_eq!(doc["frames"], x.len());
        assert!((doc["seconds"].as_f64().unwrap() - 2.0).abs() < 1e-9);
        assert!(doc["realtime_factor"].as_f64().unwrap() > 0.0);
        assert!(doc["latency_samples"].is_u64());
        let nodes = doc["nodes"].as_array().unwrap();
        let names: Vec<&str> = nodes.iter().map(|n| n["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["hpf", "gain", "delay"]);
        assert!(nodes.iter().all(|n| n["ns_per_block"].as_f64().unwrap() > 0.0));

        let (r, y) = read_f32(&out);
        assert_eq!(r, rate);
        assert_eq!(y[0].len(), x.len());
        let want = model(&x, rate);
        let err: f64 = y[0]
            .iter()
            .zip(&want)
            .map(|(a, b)| (f64::from(*a) - b).powi(2))
            .sum();
        let sig: f64 = want.iter().map(|b| b * b).sum();
        let resid_db = 10.0 * (err / sig).log10();
        assert!(resid_db < -100.0, "rate {rate}: residual {resid_db:.1} dB");
    }
}

#[test]
fn graph_file_and_16_bit_output() {
    let dir = tempfile::tempdir().unwrap();
    let x = noise(16000, 9);
    let inp = dir.path().join("x.wav");
    write_f32(&inp, 16000, &[x.clone(), x.clone()]);
    let g = dir.path().join("g.toml");
    std::fs::write(
        &g,
        r#"edges = ["in -> a", "a -> b", "b -> out"]
[nodes.a]
type = "gain"
db = -6
[nodes.b]
type = "delay"
ms = 10
"#,
    )
    .unwrap();
    let out = dir.path().join("y.wav");
    let o = tutti()
        .args(["process", "--graph"])
        .arg(&g)
        .arg("--in")
        .arg(&inp)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let spec = hound::WavReader::open(&out).unwrap().spec();
    assert_eq!(
        (spec.bits_per_sample, spec.channels, spec.sample_format),
        (16, 2, hound::SampleFormat::Int)
    );
    let (_, y) = read_f32(&out);
    let g = 10f32.powf(-6.0 / 20.0);
    for c in 0..2 {
        for i in 160..16000 {
            assert!(
                (y[c][i] - x[i - 160] * g).abs() <= 1.0 / 32768.0 + 1e-6,
                "ch {c} sample {i}"
            );
        }
    }
}

/// Samples pushed beyond 16-bit full scale are counted and reported (JSON and a stderr warning); in f32
/// they are kept and not counted.
#[test]
fn clipping_in_16_bit_output_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let x = noise(16000, 3);
    let inp = dir.path().join("x.wav");
    write_f32(&inp, 16000, &[x.clone()]);
    let g = 10f32.powf(12.0 / 20.0);
    // The count the 16-bit writer must clamp, from the input and the analytic gain.
    let expected = x
        .iter()
        .filter(|&&s| ((s * g) * 32768.0).round().abs() > 32767.0)
        .count();
    assert!(expected > 100, "the test signal must clip at +12 dB ({expected})");
    for (fmt, want) in [("i16", expected), ("f32", 0)] {
        let out = dir.path().join(format!("y_{fmt}.wav"));
        let o = tutti()
            .args([
                "process",
                "--chain",
                "gain(db=12)",
                "--json",
                "--out-format",
                fmt,
                "--in",
            ])
            .arg(&inp)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON document");
        let n = doc["clipped_samples"].as_u64().expect("clipped_samples") as usize;
        // The gain is smoothed from its start value over the first few ms: allow those samples.
        assert!(
            n <= want && n + 40 >= want,
            "{fmt}: {n} clipped, expected about {want}"
        );
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(err.contains("clipped"), want > 0, "{fmt}: stderr {err}");
    }
}

fn expect_error(args: &[&str], dir: &Path, needles: &[&str]) {
    let o = tutti().current_dir(dir).args(args).output().unwrap();
    assert!(!o.status.success(), "{args:?} succeeded");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{args:?}: not one line: {err}");
    for n in needles {
        assert!(err.contains(n), "{args:?}: '{n}' not in: {err}");
    }
    assert!(o.stdout.is_empty());
    assert!(!dir.join("out.wav").exists(), "{args:?} left an output");
}

#[test]
fn errors_are_one_line_and_leave_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_f32(&d.join("a16.wav"), 16000, &[noise(1600, 1)]);
    write_f32(&d.join("a8.wav"), 8000, &[noise(800, 2)]);
    std::fs::write(d.join("bad.wav"), b"RIFFnonsense").unwrap();
    std::fs::write(
        d.join("g.toml"),
        "edges = [\"in -> x\", \"x -> out\"]\n[nodes.x]\ntype = \"nosuch\"\n",
    )
    .unwrap();
    expect_error(
        &[
            "process",
            "--chain",
            "hpf,bogus(x=1)",
            "--in",
            "a16.wav",
            "--out",
            "out.wav",
        ],
        d,
        &["bogus"],
    );
    expect_error(
        &[
            "process", "--chain", "hpf(hz=1", "--in", "a16.wav", "--out", "out.wav",
        ],
        d,
        &["hpf(hz=1"],
    );
    expect_error(
        &[
            "process",
            "--chain",
            "hpf(hz=5)",
            "--in",
            "a16.wav",
            "--out",
            "out.wav",
        ],
        d,
        &["hz", "5"],
    );
    expect_error(
        &[
            "process",
            "--chain",
            "gain",
            "--in",
            "missing.wav",
            "--out",
            "out.wav",
        ],
        d,
        &["missing.wav"],
    );
    expect_error(
        &[
            "process", "--chain", "gain", "--in", "bad.wav", "--out", "out.wav",
        ],
        d,
        &["bad.wav"],
    );
    expect_error(
        &[
            "process", "--chain", "gain", "--in", "a16.wav", "--far", "a8.wav", "--out", "out.wav",
        ],
        d,
        &["--far", "8000"],
    );
    expect_error(
        &[
            "process", "--graph", "g.toml", "--in", "a16.wav", "--out", "out.wav",
        ],
        d,
        &["nodes.x", "nosuch"],
    );
    expect_error(
        &[
            "process",
            "--chain",
            "gain",
            "--in",
            "a16.wav",
            "--out",
            "nodir/out.wav",
        ],
        d,
        &["nodir"],
    );
    expect_error(
        &[
            "process",
            "--chain",
            "gain",
            "--in",
            "a16.wav",
            "--out",
            "out.wav",
            "--block-ms",
            "0.01",
        ],
        d,
        &["block"],
    );
    assert_eq!(
        std::fs::read_dir(d).unwrap().count(),
        4,
        "temporary files left behind"
    );
}

#[test]
fn nodes_json_lists_the_contract_fields() {
    let o = tutti().args(["nodes", "--json"]).output().unwrap();
    assert!(o.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let nodes = doc["nodes"].as_array().unwrap();
    for want in ["gain", "hpf", "delay"] {
        let n = nodes
            .iter()
            .find(|n| n["name"] == want)
            .unwrap_or_else(|| panic!("{want} missing"));
        for k in ["description", "inputs", "outputs", "params", "latency_samples"] {
            assert!(!n[k].is_null(), "{want}.{k}");
        }
        for p in n["params"].as_array().unwrap() {
            for k in ["name", "unit", "min", "max", "default"] {
                assert!(!p[k].is_null(), "{want}.params.{k}");
            }
        }
    }
    let names: Vec<&str> = nodes.iter().map(|n| n["name"].as_str().unwrap()).collect();
    let mut dedup = names.clone();
    dedup.sort_unstable();
    dedup.dedup();
    assert_eq!(dedup.len(), names.len(), "duplicate node names: {names:?}");
}
