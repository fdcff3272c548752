//! `agc` behaviour: active-speech level spread across input levels, the limiter's hard ceiling, LUFS mode
//! checked with ffmpeg's EBU R128 meter, parameter parsing.
mod voice_support;

use std::process::Command;

use voice_support::*;

#[test]
fn output_level_spread_is_within_3_db_and_nothing_clips() {
    let rate = 16_000;
    let (clean, labels) = speech(rate, 31, 16.0, 0.5, -26.0);
    let noise = pink(clean.len(), 8);
    let mut levels = Vec::new();
    for in_db in [-40.0, -33.0, -26.0, -19.0, -12.0] {
        let g = 10f32.powf((in_db + 26.0) / 20.0);
        let x: Vec<f32> = mix_snr(&clean, &noise, 30.0, rate)
            .iter()
            .map(|v| v * g)
            .collect();
        let (y, _, _) = run_node("agc", &[("target_dbfs", "-23")], &x, rate);
        assert!(
            y.iter().all(|v| v.abs() <= 10f32.powf(-1.0 / 20.0)),
            "a sample passed the -1 dBFS ceiling"
        );
        // Active speech level after the first 6 s (landing time).
        let skip = 6 * 100;
        let lvl = db(labelled_level(&y[skip * 160..], &labels[skip..], rate));
        levels.push(lvl);
    }
    let spread =
        levels.iter().cloned().fold(f64::MIN, f64::max) - levels.iter().cloned().fold(f64::MAX, f64::min);
    eprintln!("output levels {levels:.2?}, spread {spread:.2} dB");
    assert!(
        spread <= 3.0,
        "active-speech level spread {spread:.2} dB over inputs -40..-12 dBFS: {levels:?}"
    );
    for l in &levels {
        assert!(
            (l + 23.0).abs() < 3.0,
            "level {l:.2} dBFS far from the -23 dBFS target"
        );
    }
}

/// Level jumps −40 → −12 → −30 → −20 dBFS every 4 s: the active-speech level of each segment's last 60 %
/// (after 1.6 s of landing) stays within 3 dB across the segments, and nothing clips.
#[test]
fn level_jumps_land_within_3_db() {
    let rate = 16_000;
    let seg_s = 4.0;
    let (clean, labels) = speech(rate, 77, 4.0 * seg_s, 0.3, -26.0);
    let noise = pink(clean.len(), 9);
    let x = mix_snr(&clean, &noise, 40.0, rate);
    let seg = (seg_s * f64::from(rate)) as usize;
    let jumps = [-40.0f32, -12.0, -30.0, -20.0];
    let x: Vec<f32> = x
        .iter()
        .enumerate()
        .map(|(i, v)| v * 10f32.powf((jumps[(i / seg).min(3)] + 26.0) / 20.0))
        .collect();
    let (y, _, _) = run_node("agc", &[("target_dbfs", "-23")], &x, rate);
    assert!(
        y.iter().all(|v| v.abs() <= 10f32.powf(-1.0 / 20.0)),
        "a sample passed the ceiling"
    );
    let frame = (rate / 100) as usize;
    let mut levels = Vec::new();
    for k in 0..4 {
        // 10 ms frames of the segment's last 60 % (`run_node` removed the latency).
        let (f0, f1) = ((k * seg + seg * 2 / 5) / frame, ((k + 1) * seg) / frame);
        let out = &y[f0 * frame..f1 * frame];
        levels.push(db(labelled_level(out, &labels[f0..f1], rate)));
    }
    let spread =
        levels.iter().cloned().fold(f64::MIN, f64::max) - levels.iter().cloned().fold(f64::MAX, f64::min);
    eprintln!("segment levels {levels:.2?}, spread {spread:.2} dB");
    assert!(spread <= 3.0, "level-jump spread {spread:.2} dB: {levels:?}");
}

#[test]
fn limiter_never_exceeds_the_ceiling() {
    let rate = 48_000;
    let (clean, _) = speech(rate, 33, 4.0, 0.0, -3.0);
    // Speech at −3 dBFS active level with +20 dB of make-up gain forced, plus full-scale square bursts.
    let mut x: Vec<f32> = clean.iter().map(|v| (v * 4.0).clamp(-1.0, 1.0)).collect();
    for (i, v) in x
        .iter_mut()
        .enumerate()
        .skip(rate as usize)
        .take(rate as usize / 2)
    {
        *v = if (i / 20) % 2 == 0 { 1.0 } else { -1.0 };
    }
    for ceiling in ["-1", "-6", "-0.1"] {
        let (y, lat, _) = run_node(
            "agc",
            &[
                ("ceiling_dbfs", ceiling),
                ("target_dbfs", "-3"),
                ("max_gain_db", "20"),
            ],
            &x,
            rate,
        );
        let c: f32 = 10f32.powf(ceiling.parse::<f32>().unwrap() / 20.0);
        let peak = y.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(peak <= c, "ceiling {ceiling} dBFS: peak {peak}");
        assert!(peak > 0.9 * c, "limiter should reach the ceiling, peak {peak}");
        assert_eq!(lat, 240, "5 ms look-ahead at 48 kHz");
    }
}

/// Integrated loudness by ffmpeg's `ebur128` filter (ITU-R BS.1770-4 / EBU R128).
fn ffmpeg_lufs(x: &[f32], rate: u32) -> f64 {
    let dir = std::env::temp_dir().join(format!("tutti-agc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let raw = dir.join("y.f32");
    let bytes: Vec<u8> = x.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(&raw, bytes).unwrap();
    let out = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-nostats",
            "-f",
            "f32le",
            "-ar",
            &rate.to_string(),
            "-ac",
            "1",
            "-i",
        ])
        .arg(&raw)
        .args(["-af", "ebur128", "-f", "null", "-"])
        .output()
        .unwrap_or_else(|e| panic!("ffmpeg is needed for the loudness check (scripts/setup.sh): {e}"));
    let _ = std::fs::remove_dir_all(&dir);
    let text = String::from_utf8_lossy(&out.stderr);
    let summary = text
        .rsplit("Integrated loudness:")
        .next()
        .expect("ebur128 summary");
    let line = summary
        .lines()
        .find(|l| l.trim_start().starts_with("I:"))
        .expect("I: line");
    line.split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("loudness value")
}

#[test]
fn lufs_mode_lands_on_the_target_loudness_per_ffmpeg_ebur128() {
    let rate = 48_000;
    let (clean, _) = speech(rate, 35, 20.0, 0.5, -38.0);
    let x = mix_snr(&clean, &white(clean.len(), 2), 35.0, rate);
    let (y, _, _) = run_node("agc", &[("mode", "lufs"), ("target_dbfs", "-23")], &x, rate);
    let tail = &y[8 * rate as usize..];
    let lufs = ffmpeg_lufs(tail, rate);
    eprintln!(
        "ffmpeg ebur128 integrated loudness {lufs} LUFS (input {})",
        ffmpeg_lufs(&x, rate)
    );
    assert!(
        (lufs + 23.0).abs() <= 2.0,
        "integrated loudness {lufs} LUFS, target -23"
    );
}
