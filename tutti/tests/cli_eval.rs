//! `tutti eval`: the JSON document's shape, analytic anchors (the unprocessed input has 0 dB ERLE and an
//! SI-SDR equal to its SNR; an identity chain scores like the input), PNG plots that ffprobe decodes, and
//! one-line errors for bad flags.
//!
//! Needs Debian's asterisk-core-sounds-en-g722, espeak-ng and ffmpeg (scripts/setup.sh) and the Python
//! packages pesq and pystoi (scripts/setup.sh tries `pip install pesq pystoi`).

use std::path::Path;
use std::process::Command;

use serde_json::Value;

fn tutti(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tutti"))
        .args(args)
        .output()
        .expect("the tutti binary runs")
}

fn eval_json(args: &[&str]) -> Value {
    let out = tutti(args);
    assert!(
        out.status.success(),
        "tutti {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is one JSON document")
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("expected a number, got {v}"))
}

fn suite<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["suites"]
        .as_array()
        .expect("suites array")
        .iter()
        .find(|s| s["suite"] == name)
        .unwrap_or_else(|| panic!("suite {name} missing"))
}

fn results<'a>(s: &'a Value, system: &str) -> Vec<&'a Value> {
    s["results"]
        .as_array()
        .expect("results array")
        .iter()
        .filter(|r| r["system"] == system)
        .collect()
}

fn summary<'a>(s: &'a Value, system: &str) -> &'a Value {
    s["summary"]
        .as_array()
        .expect("summary array")
        .iter()
        .find(|r| r["system"] == system)
        .unwrap_or_else(|| panic!("no summary for {system}"))
}

/// Width and height of an image as ffprobe decodes it (an outside PNG decoder).
fn ffprobe_png(path: &Path) -> (u32, u32) {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name,width,height",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .expect("ffprobe is needed to check the plots (Debian package ffmpeg, scripts/setup.sh)");
    assert!(out.status.success(), "ffprobe rejects {}", path.display());
    let text = String::from_utf8_lossy(&out.stdout);
    let parts: Vec<&str> = text.trim().split(',').collect();
    assert_eq!(parts[0], "png", "{}: {text}", path.display());
    (
        parts[1].parse().expect("width"),
        parts[2].parse().expect("height"),
    )
}

#[test]
fn eval_all_json_has_the_schema_anchors_and_plots() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out_dir = dir.path().join("plots");
    let doc = eval_json(&[
        "eval",
        "--suite",
        "all",
        "--json",
        "--seconds",
        "4",
        "--out-dir",
        out_dir.to_str().expect("utf-8 path"),
    ]);
    assert_eq!(doc["sample_rate"], 16000);
    assert!(
        doc["pesq_available"] == true && doc["stoi_available"] == true,
        "python3 cannot import pesq/pystoi: install them with `python3 -m pip install pesq pystoi` \
         (scripts/setup.sh tries)"
    );
    let systems: Vec<&str> = doc["systems"]
        .as_array()
        .expect("systems")
        .iter()
        .map(|s| s["name"].as_str().expect("name"))
        .collect();
    assert_eq!(systems.first(), Some(&"tutti"));
    assert_eq!(systems.last(), Some(&"input"));
    #[cfg(feature = "peers")]
    for p in ["speex", "webrtc", "rnnoise", "sonora"] {
        assert!(systems.contains(&p), "peer {p} missing from {systems:?}");
    }
    let names: Vec<&str> = doc["suites"]
        .as_array()
        .expect("suites")
        .iter()
        .map(|s| s["suite"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["aec", "ns", "agc"]);

    // AEC: the unprocessed input has ERLE 0 dB exactly; Tutti's canceller removes echo.
    let aec = suite(&doc, "aec");
    assert_eq!(aec["chain"], "aec");
    for r in results(aec, "input") {
        assert!(f(&r["erle_db"]).abs() < 1e-9, "input ERLE {r}");
        if r["scene"] != "double_talk" {
            assert!(f(&r["erle_late_db"]).abs() < 1e-9, "input late ERLE {r}");
        }
        assert!(r["time_to_20db_s"].is_null());
    }
    let t = summary(aec, "tutti");
    assert!(f(&t["erle_db"]) > 10.0, "tutti ERLE {t}");
    for s in aec["summary"].as_array().unwrap() {
        let p = f(&s["pesq_wb"]);
        assert!((1.0..=4.65).contains(&p), "double-talk PESQ-WB {s}");
        let st = f(&s["stoi"]);
        assert!((0.0..=1.0).contains(&st), "STOI {s}");
    }

    // NS: the input's SI-SDR is its SNR (clean speech over everything else), its lag 0, PESQ/STOI scored.
    let ns = suite(&doc, "ns");
    let scenes = ns["scenes"].as_array().expect("scenes");
    assert_eq!(scenes.len(), 5);
    for (sc, r) in scenes.iter().zip(results(ns, "input")) {
        assert_eq!(sc["name"], r["scene"]);
        let snr = f(&sc["input_snr_db"]);
        let si = f(&r["si_sdr_db"]);
        assert!((si - snr).abs() < 0.5, "{}: SI-SDR {si} vs SNR {snr}", sc["name"]);
        assert_eq!(f(&r["lag_ms"]), 0.0);
        assert!(
            f(&r["stoi"]) < 1.0 && f(&r["pesq_wb"]) < 4.0,
            "noisy input scores {r}"
        );
    }
    for r in results(ns, "tutti") {
        assert!(f(&r["lag_ms"]) >= 0.0 && f(&r["us_per_frame"]) > 0.0, "{r}");
    }

    // AGC: levels are measured and Tutti never clips.
    let agc = suite(&doc, "agc");
    let t = summary(agc, "tutti");
    assert_eq!(t["clipped_samples"], 0, "tutti agc clipped: {t}");
    assert!(f(&t["level_spread_db"]) >= 0.0);
    // The input spans −40 to −12 dBFS: its spreads are about 28 dB (BS.1770 loudness vs active level).
    for key in ["level_spread_db", "jump_spread_db"] {
        let spread_in = f(&summary(agc, "input")[key]);
        assert!((spread_in - 28.0).abs() < 3.0, "input {key} {spread_in}");
    }

    // The peers act on the scenes (a broken binding would pass the input through).
    #[cfg(feature = "peers")]
    {
        for p in ["speex", "webrtc", "sonora"] {
            assert!(
                f(&summary(aec, p)["erle_db"]) > 3.0,
                "{p} aec {}",
                summary(aec, p)
            );
            let spread = f(&summary(agc, p)["level_spread_db"]);
            assert!(
                spread < f(&summary(agc, "input")["level_spread_db"]) - 5.0,
                "{p} agc spread {spread}"
            );
        }
        let noisy = f(&summary(ns, "input")["si_sdr_db"]);
        for p in ["speex", "webrtc", "rnnoise"] {
            assert!(
                f(&summary(ns, p)["si_sdr_db"]) > noisy,
                "{p} ns {}",
                summary(ns, p)
            );
        }
        // sonora's APM forces its high-pass filter on with noise suppression: the phase shift near the
        // talkers' fundamentals costs it SI-SDR, so its check is on PESQ-WB.
        let noisy_pesq = f(&summary(ns, "input")["pesq_wb"]);
        assert!(
            f(&summary(ns, "sonora")["pesq_wb"]) > noisy_pesq + 0.05,
            "sonora ns {}",
            summary(ns, "sonora")
        );
    }

    // Plots: every listed file is a PNG that ffprobe decodes, with the expected size.
    let plots = doc["plots"].as_array().expect("plots");
    assert!(plots.len() >= 10, "{} plots", plots.len());
    for p in plots {
        let path = Path::new(p["file"].as_str().expect("file"));
        let (w, h) = ffprobe_png(path);
        match p["kind"].as_str().expect("kind") {
            "erle" | "level" => assert_eq!((w, h), (900, 400), "{}", path.display()),
            "spectrogram" => assert_eq!(h, 256, "{}", path.display()),
            k => panic!("unknown plot kind {k}"),
        }
    }
    assert!(plots.iter().any(|p| p["kind"] == "erle"));
    assert!(plots
        .iter()
        .any(|p| p["kind"] == "spectrogram" && p["system"] == "clean"));
    // No scratch files are left behind.
    for e in std::fs::read_dir(&out_dir).expect("out dir") {
        let name = e.expect("entry").file_name();
        assert!(name.to_string_lossy().ends_with(".png"), "stray file {name:?}");
    }
}

#[test]
fn an_identity_chain_scores_like_the_input() {
    let dir = tempfile::tempdir().expect("temp dir");
    let doc = eval_json(&[
        "eval",
        "--suite",
        "aec",
        "--chain",
        "gain(db=0)",
        "--peers",
        "none",
        "--seconds",
        "3",
        "--json",
        "--out-dir",
        dir.path().to_str().expect("utf-8 path"),
    ]);
    let aec = suite(&doc, "aec");
    assert_eq!(aec["chain"], "gain(db=0)");
    let tutti = results(aec, "tutti");
    let input = results(aec, "input");
    assert_eq!(tutti.len(), 6);
    for (t, i) in tutti.iter().zip(&input) {
        assert!(f(&t["erle_db"]).abs() < 0.05, "identity ERLE {t}");
        if !i["si_sdr_db"].is_null() {
            assert!(
                (f(&t["si_sdr_db"]) - f(&i["si_sdr_db"])).abs() < 0.01,
                "{t} vs {i}"
            );
        }
    }
}

#[test]
fn bad_flags_give_one_line_errors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out_dir = dir.path().join("never");
    let od = out_dir.to_str().expect("utf-8 path");
    let cases: [(&[&str], &str); 4] = [
        (&["eval", "--peers", "bogus", "--out-dir", od], "--peers"),
        (&["eval", "--chain", "nosuchnode", "--out-dir", od], "--chain"),
        (&["eval", "--seconds", "0.5", "--out-dir", od], "--seconds"),
        (&["eval", "--peers", "speex,,webrtc", "--out-dir", od], "--peers"),
    ];
    for (args, flag) in cases {
        let out = tutti(args);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(out.stdout.is_empty(), "{args:?} printed on stdout");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(flag), "{args:?}: {err}");
        assert!(!out_dir.exists(), "{args:?} left {od} behind");
    }
    #[cfg(not(feature = "peers"))]
    {
        let out = tutti(&["eval", "--peers", "speex", "--out-dir", od]);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("--peers") && err.contains("--features peers"),
            "{err}"
        );
    }
    let out = tutti(&["eval", "--suite", "nope"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--suite"));
}
