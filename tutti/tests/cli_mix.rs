//! `tutti mix` on captures of recorded speech: the N−1 property (each participant hears everyone but
//! itself) and active-talker selection (K loudest, with hysteresis).
//!
//! The streams carry G.722 encoded by someone else: Debian's `asterisk-core-sounds-en-g722` prompts as
//! shipped (raw G.722 at 64 kbit/s), or prompts re-encoded by ffmpeg at other levels. The reference audio
//! each output is compared with is ffmpeg's decode of the same files.

mod common;
use common::{asterisk_prompt as prompt, tmp_dir, tool};

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use tutti::rtp::{PcapWriter, RtpBuilder};

const PROMPTS: [&str; 6] = [
    "demo-instruct",
    "demo-congrats",
    "priv-callee-options",
    "basic-pbx-ivr-main",
    "demo-echotest",
    "conf-adminmenu-18",
];
const SECONDS: usize = 8;

/// ffmpeg: G.722 file → 16 kHz mono f32 samples.
fn ffmpeg_decode(g722: &Path) -> Vec<f32> {
    let out = tool("ffmpeg")
        .args(["-v", "error", "-f", "g722", "-i"])
        .arg(g722)
        .args(["-f", "f32le", "-ac", "1", "-ar", "16000", "-"])
        .output()
        .expect("ffmpeg runs");
    assert!(
        out.status.success(),
        "ffmpeg: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// ffmpeg: G.722 file → gain → G.722 file (ffmpeg's encoder).
fn ffmpeg_regain(g722: &Path, db: f32, out: &Path) {
    let st = tool("ffmpeg")
        .args(["-v", "error", "-y", "-f", "g722", "-i"])
        .arg(g722)
        .args(["-af", &format!("volume={db}dB"), "-c:a", "g722", "-f", "g722"])
        .arg(out)
        .status()
        .expect("ffmpeg runs");
    assert!(st.success());
}

/// Writes a capture with one G.722 RTP stream per file (20 ms packets, a little seeded jitter).
fn write_capture(path: &Path, files: &[PathBuf]) -> Vec<u32> {
    let f = std::fs::File::create(path).expect("create pcap");
    let mut w = PcapWriter::new(std::io::BufWriter::new(f)).expect("pcap header");
    let dst: SocketAddr = "10.0.0.1:4000".parse().expect("addr");
    let streams: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(f).expect("read g722"))
        .collect();
    let ssrcs: Vec<u32> = (0..files.len() as u32).map(|i| 0x5eed_0000 + 17 * i).collect();
    let mut rng = 0x1234_5678u64;
    for k in 0..SECONDS * 50 {
        for (i, s) in streams.iter().enumerate() {
            let Some(payload) = s.get(k * 160..(k + 1) * 160) else {
                continue;
            };
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let jitter_us = rng % 8000;
            let b = RtpBuilder {
                marker: k == 0,
                payload_type: 9,
                sequence_number: (1000 * i + k) as u16,
                timestamp: (k * 160) as u32 + 7 * i as u32,
                ssrc: ssrcs[i],
                ..Default::default()
            };
            let mut pkt = vec![0u8; 1500];
            let n = b.write(payload, &mut pkt).expect("rtp");
            let src: SocketAddr = format!("10.0.0.{}:{}", 10 + i, 5000 + 2 * i)
                .parse()
                .expect("addr");
            let t = 1_700_000_000_000_000_000u64 + (k as u64 * 20_000 + jitter_us) * 1000;
            w.write_udp(t, src, dst, &pkt[..n]).expect("write");
        }
    }
    w.flush().expect("flush");
    ssrcs
}

fn read_wav(path: &Path) -> Vec<f32> {
    tutti::wav::read_wav(path).expect("wav").channels.remove(0)
}

/// Largest normalised cross-correlation of `y` with `x` delayed by 0–150 ms (16 kHz), over `SECONDS`.
fn corr(y: &[f32], x: &[f32]) -> f32 {
    let n = (SECONDS * 16000 - 2400)
        .min(x.len())
        .min(y.len().saturating_sub(2400));
    let x = &x[..n];
    let ex: f32 = x.iter().map(|v| v * v).sum();
    let mut best = 0f32;
    for lag in (0..2400).step_by(2) {
        let yy = &y[lag..lag + n];
        let ey: f32 = yy.iter().map(|v| v * v).sum();
        let c: f32 = x.iter().zip(yy).map(|(a, b)| a * b).sum();
        best = best.max(c / (ex * ey).sqrt().max(1e-12));
    }
    // Refine around the best even lag is unnecessary at 16 kHz for speech (|ρ| changes by < 2 %).
    best
}

fn run_mix(cap: &Path, out: &Path, extra: &[&str]) -> Value {
    let o = Command::new(env!("CARGO_BIN_EXE_tutti"))
        .args(["mix", "--pcap"])
        .arg(cap)
        .arg("--out-dir")
        .arg(out)
        .arg("--json")
        .args(extra)
        .output()
        .expect("tutti runs");
    assert!(
        o.status.success(),
        "tutti mix: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).expect("one JSON document")
}

#[test]
fn four_speakers_each_hear_the_others_and_not_themselves() {
    let dir = tmp_dir("n1");
    let files: Vec<PathBuf> = PROMPTS[..4].iter().map(|p| prompt(p)).collect();
    let refs: Vec<Vec<f32>> = files.iter().map(|f| ffmpeg_decode(f)).collect();
    let cap = dir.join("four.pcap");
    let ssrcs = write_capture(&cap, &files);
    let out = dir.join("out");
    let doc = run_mix(&cap, &out, &["--talkers", "4"]);
    assert_eq!(doc["participants"].as_array().expect("participants").len(), 4);
    assert_eq!(doc["mix_rate"], 16000);
    for (i, ssrc) in ssrcs.iter().enumerate() {
        let heard = read_wav(&out.join(format!("{ssrc:08x}.wav")));
        for (j, r) in refs.iter().enumerate() {
            let c = corr(&heard, r);
            eprintln!("n-1: participant {i} vs source {j}: rho = {c:.3}");
            if i == j {
                assert!(c < 0.08, "participant {i} hears itself (ρ = {c:.3})");
            } else {
                assert!(c > 0.35, "participant {i} hears {j} only at ρ = {c:.3}");
            }
        }
    }
    let mix = read_wav(&out.join("mix.wav"));
    for r in &refs {
        assert!(corr(&mix, r) > 0.3);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn six_talkers_three_loudest_heard_without_flapping() {
    let dir = tmp_dir("k3");
    let gains = [0.0f32, -16.0, -2.0, -18.0, -4.0, -14.0];
    let files: Vec<PathBuf> = PROMPTS
        .iter()
        .zip(gains)
        .enumerate()
        .map(|(i, (p, g))| {
            let o = dir.join(format!("p{i}.g722"));
            ffmpeg_regain(&prompt(p), g, &o);
            o
        })
        .collect();
    let refs: Vec<Vec<f32>> = files.iter().map(|f| ffmpeg_decode(f)).collect();
    let cap = dir.join("six.pcap");
    let ssrcs = write_capture(&cap, &files);
    let out = dir.join("out");
    let doc = run_mix(&cap, &out, &[]);
    let parts = doc["participants"].as_array().expect("participants");
    let ticks = doc["ticks"].as_f64().expect("ticks");
    let loud = [0usize, 2, 4];
    for (i, ssrc) in ssrcs.iter().enumerate() {
        let p = parts
            .iter()
            .find(|p| p["ssrc"] == format!("{ssrc:08x}"))
            .expect("every stream is a participant");
        let share = p["talking_ticks"].as_f64().expect("talking_ticks") / ticks;
        eprintln!(
            "k=3: participant {i} ({} dB) talks {share:.2} of the ticks",
            gains[i]
        );
        if loud.contains(&i) {
            assert!(
                share > 0.6,
                "loud participant {i} talks only {share:.2} of the time"
            );
        } else {
            assert!(
                share < 0.15,
                "quiet participant {i} is mixed {share:.2} of the time"
            );
        }
    }
    // Hysteresis: in 8 s, entries and exits of the talker set stay few.
    let changes = doc["talker_changes"].as_u64().expect("talker_changes");
    eprintln!("k=3: {changes} talker-set changes");
    assert!(
        changes <= 24,
        "talker set flaps: {changes} changes in {SECONDS} s"
    );
    // A quiet participant hears the three loudest, and the other quiet ones hardly at all.
    let heard = read_wav(&out.join(format!("{:08x}.wav", ssrcs[1])));
    for (j, r) in refs.iter().enumerate() {
        let c = corr(&heard, r);
        eprintln!("k=3: quiet participant 1 vs source {j}: rho = {c:.3}");
        if loud.contains(&j) {
            assert!(c > 0.3, "loud talker {j} at ρ = {c:.3}");
        } else {
            assert!(c < 0.12, "quiet talker {j} leaks at ρ = {c:.3}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_inputs_give_one_line_errors() {
    let dir = tmp_dir("bad");
    let run = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_tutti"))
            .args(args)
            .output()
            .expect("runs");
        assert!(!o.status.success());
        let e = String::from_utf8_lossy(&o.stderr).to_string();
        assert_eq!(e.trim().lines().count(), 1, "one line: {e}");
        e
    };
    let out = dir.join("o");
    let o = out.to_str().expect("utf-8");
    let e = run(&["mix", "--pcap", "/nonexistent.pcap", "--out-dir", o]);
    assert!(e.contains("/nonexistent.pcap"), "{e}");
    let junk = dir.join("junk.pcap");
    std::fs::write(&junk, b"not a capture at all").expect("write");
    let e = run(&["mix", "--pcap", junk.to_str().expect("utf-8"), "--out-dir", o]);
    assert!(e.contains("junk.pcap"), "{e}");
    let e = run(&[
        "mix",
        "--pcap",
        junk.to_str().expect("utf-8"),
        "--out-dir",
        o,
        "--chain",
        "nope(x=1)",
    ]);
    assert!(e.contains("--chain"), "{e}");
    let e = run(&[
        "mix",
        "--pcap",
        junk.to_str().expect("utf-8"),
        "--out-dir",
        o,
        "--mix-rate",
        "11025",
    ]);
    assert!(e.contains("--mix-rate"), "{e}");
    assert!(!out.exists(), "no output written on error");
    let _ = std::fs::remove_dir_all(&dir);
}
