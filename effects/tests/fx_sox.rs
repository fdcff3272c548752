//! Comparisons with sox where sox defines the same effect (`echo`, `flanger`, `tremolo`). sox works on
//! 32-bit integers internally and tabulates its LFOs in `f32`, measured agreement is −123 to −135 dB (asserted ≤ −110 dB);
//! each test prints the measured residual. sox's `chorus` (whole-sample delays) and `phaser` (a modulated
//! feedback delay, not all-pass stages) define different effects and are not compared.

mod fxa_util;

use fxa_util::{build, programme, render, residual_db, sox};

const FS: u32 = 48_000;

fn compare(name: &str, ours: &[Vec<f32>], theirs: &[Vec<f32>], limit_db: f64) {
    for (c, (y, s)) in ours.iter().zip(theirs).enumerate() {
        let n = y.len();
        assert!(s.len() >= n, "sox output shorter than ours");
        let model: Vec<f64> = s[..n].iter().map(|&v| f64::from(v)).collect();
        let r = residual_db(y, &model);
        println!("{name} vs sox, channel {c}: residual {r:.1} dB");
        assert!(
            r <= limit_db,
            "{name} channel {c}: residual {r:.1} dB > {limit_db} dB"
        );
    }
}

#[test]
fn echo_matches_sox_echo() {
    let n = FS as usize * 2;
    let x = vec![programme(11, n, FS).iter().map(|v| v * 0.5).collect::<Vec<f32>>()];
    // sox: echo gain-in gain-out delay decay delay decay → dry = in·out, gₖ = decayₖ·out.
    let theirs = sox("echo", FS, &x, &["echo", "0.8", "0.9", "125", "0.6", "40", "0.3"]);
    let mut p = build(
        "echo",
        &[
            ("delay", "125"),
            ("gain", "54"),
            ("feedback", "0"),
            ("dry", "72"),
            ("tap2", "40"),
            ("gain2", "27"),
        ],
    );
    let ours = render(p.as_mut(), FS, 480, &x);
    compare("echo", &ours, &theirs, -110.0);
}

#[test]
fn flanger_matches_sox_flanger() {
    let n = FS as usize * 3;
    let x = vec![
        programme(12, n, FS).iter().map(|v| v * 0.5).collect::<Vec<f32>>(),
        programme(13, n, FS).iter().map(|v| v * 0.5).collect::<Vec<f32>>(),
    ];
    for (args, ours_args) in [
        (
            vec!["flanger", "0", "2", "0", "71", "0.5", "sine", "25", "linear"],
            vec![
                ("delay", "0"),
                ("depth", "2"),
                ("regen", "0"),
                ("width", "71"),
                ("speed", "0.5"),
            ],
        ),
        (
            vec![
                "flanger",
                "1",
                "3",
                "50",
                "60",
                "2",
                "triangle",
                "50",
                "quadratic",
            ],
            vec![
                ("delay", "1"),
                ("depth", "3"),
                ("regen", "50"),
                ("width", "60"),
                ("speed", "2"),
                ("shape", "triangle"),
                ("phase", "50"),
                ("interp", "quadratic"),
            ],
        ),
    ] {
        let theirs = sox("flanger", FS, &x, &args);
        let mut p = build("flanger", &ours_args);
        let ours = render(p.as_mut(), FS, 480, &x);
        compare(&args.join(" "), &ours, &theirs, -110.0);
    }
}

#[test]
fn tremolo_matches_sox_tremolo() {
    let n = FS as usize * 2;
    let x = vec![programme(14, n, FS).iter().map(|v| v * 0.5).collect::<Vec<f32>>()];
    let theirs = sox("tremolo", FS, &x, &["tremolo", "6", "70"]);
    let mut p = build("tremolo", &[("rate", "6"), ("depth", "70")]);
    let ours = render(p.as_mut(), FS, 480, &x);
    compare("tremolo 6 70", &ours, &theirs, -110.0);
}
