//! The seeded scenes of each `tutti eval` suite.
//!
//! # What
//! - `aec`: far-end single talk (espeak-ng talker through the loudspeaker) in an image-method office,
//!   a 450 ms delay in a decaying-noise room, a loudspeaker non-linearity (Wang et al.), an echo-path
//!   change halfway, +200 ppm clock drift; and double talk (recorded near-end talker from 40 % of the
//!   scene on, signal-to-echo ratio −2 dB).
//! - `ns`: recorded speech in white, pink, babble (six other talkers) and mains-hum noise at 0–10 dB SNR.
//! - `agc`: recorded speech at −40, −30, −20 and −12 dBFS, and one scene that jumps between those levels.
//!
//! # How
//! Built on `tutti_effects::voice::scene` (rooms, delay, non-linearity, path change, drift, noise); the
//! seed picks the prompts and every random draw.
//!
//! # Real-time safety
//! Offline only.

use std::path::Path;

use tutti_effects::voice::scene::{
    generate, generate_with_noise, NoiseConfig, NoiseKind, Nonlinearity, PathChange, Room, Scene, SceneConfig,
};

use super::speech::{espeak, set_level, Prompts, RATE};
use super::{EvalError, Suite};

/// What a scene measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Far-end single talk: ERLE and time to 20 dB.
    FarSingleTalk,
    /// Double talk: quality of the near-end talker in the output.
    DoubleTalk,
    /// Noisy speech: quality of the clean speech in the output.
    Noisy,
    /// Speech at given levels: the output's level per segment and clipping.
    Levels,
}

impl Kind {
    /// Short label for the report.
    pub fn label(self) -> &'static str {
        match self {
            Kind::FarSingleTalk => "far_single_talk",
            Kind::DoubleTalk => "double_talk",
            Kind::Noisy => "noisy",
            Kind::Levels => "levels",
        }
    }
}

/// One scene of a suite with what its metrics need.
#[derive(Debug, Clone)]
pub struct EvalScene {
    /// Short name (also used in plot file names).
    pub name: String,
    /// What the scene contains.
    pub description: String,
    /// What it measures.
    pub kind: Kind,
    /// The signals.
    pub scene: Scene,
    /// First sample of the measured segment (double talk: where the near-end talker starts).
    pub measure_from: usize,
    /// Sample of the echo-path change, if any.
    pub change_at: Option<usize>,
    /// Level segments `(start, end)` in samples, for [`Kind::Levels`].
    pub segments: Vec<(usize, usize)>,
}

fn n_samples(seconds: f64) -> usize {
    (seconds * f64::from(RATE)) as usize
}

fn base(seed: u64, room: Room, delay_ms: f64) -> SceneConfig {
    let mut c = SceneConfig::linear(RATE, seed, 0.3, delay_ms);
    c.room = room;
    c
}

/// Builds the scenes of `suite`, `seconds` long each.
pub fn build(
    suite: Suite,
    seconds: f64,
    seed: u64,
    prompts: &Prompts,
    scratch: &Path,
) -> Result<Vec<EvalScene>, EvalError> {
    match suite {
        Suite::Aec => aec(seconds, seed, prompts, scratch),
        Suite::Ns => ns(seconds, seed, prompts, scratch),
        Suite::Agc => agc(seconds, seed, prompts),
    }
}

fn aec(seconds: f64, seed: u64, prompts: &Prompts, scratch: &Path) -> Result<Vec<EvalScene>, EvalError> {
    let n = n_samples(seconds);
    let far = espeak(seconds, seed, -20.0, scratch)?;
    let mut out = Vec::new();
    let fe = |name: &str, desc: String, cfg: SceneConfig, change_at: Option<usize>| EvalScene {
        name: name.into(),
        description: desc,
        kind: Kind::FarSingleTalk,
        scene: generate(&cfg, &far, &[]),
        measure_from: 0,
        change_at,
        segments: Vec::new(),
    };
    out.push(fe(
        "linear",
        "office RT60 0.3 s, delay 60 ms, ERL 6 dB".into(),
        base(seed, Room::office(0.3), 60.0),
        None,
    ));
    let mut c = base(
        seed + 1,
        Room::DecayingNoise {
            rt60_s: 0.5,
            direct_to_reverb_db: 3.0,
        },
        450.0,
    );
    c.rir_s = 0.4;
    out.push(fe(
        "delay_450ms",
        "decaying-noise room RT60 0.5 s, delay 450 ms, ERL 6 dB".into(),
        c,
        None,
    ));
    let mut c = base(seed + 2, Room::office(0.3), 100.0);
    c.nonlinearity = Some(Nonlinearity::Wang { clip: 0.8 });
    out.push(fe(
        "nonlinear",
        "office RT60 0.3 s, delay 100 ms, Wang loudspeaker non-linearity (clip 0.8)".into(),
        c,
        None,
    ));
    let mut c = base(seed + 3, Room::office(0.4), 80.0);
    c.path_change = Some(PathChange {
        at_s: seconds / 2.0,
        room: Room::office_moved(0.4),
        delay_ms: 120.0,
    });
    out.push(fe(
        "path_change",
        format!(
            "office RT60 0.4 s, delay 80 ms, path and delay (120 ms) change at {:.1} s",
            seconds / 2.0
        ),
        c,
        Some(n / 2),
    ));
    let mut c = base(seed + 4, Room::office(0.4), 40.0);
    c.drift_ppm = 200.0;
    out.push(fe(
        "drift",
        "office RT60 0.4 s, delay 40 ms, capture clock +200 ppm".into(),
        c,
        None,
    ));
    // Double talk: the near-end talker starts at 40 % of the scene.
    let start = n * 2 / 5;
    let talk = prompts.talker(
        seed as usize * 7,
        3,
        seconds - start as f64 / f64::from(RATE),
        -26.0,
    )?;
    let mut near = vec![0f32; start];
    near.extend(talk);
    let mut c = base(seed + 5, Room::office(0.3), 60.0);
    c.ser_db = Some(-2.0);
    c.noise = Some(NoiseConfig {
        kind: NoiseKind::Pink,
        snr_db: 40.0,
    });
    out.push(EvalScene {
        name: "double_talk".into(),
        description: format!(
            "office RT60 0.3 s, delay 60 ms; near-end talker from {:.1} s at SER −2 dB; pink noise 40 dB \
             below",
            start as f64 / f64::from(RATE)
        ),
        kind: Kind::DoubleTalk,
        scene: generate(&c, &far, &near),
        measure_from: start,
        change_at: None,
        segments: Vec::new(),
    });
    Ok(out)
}

/// Babble: six talkers (five prompt sequences and the synthetic voice) at equal levels, summed.
fn babble(seconds: f64, seed: u64, prompts: &Prompts, scratch: &Path) -> Result<Vec<f32>, EvalError> {
    let mut sum = vec![0f32; n_samples(seconds)];
    for k in 0..5 {
        let t = prompts.talker(seed as usize * 13 + 50 + k * 31, 5, seconds, -26.0)?;
        sum.iter_mut().zip(&t).for_each(|(s, v)| *s += v);
    }
    let e = espeak(seconds, seed + 100, -26.0, scratch)?;
    sum.iter_mut().zip(&e).for_each(|(s, v)| *s += v);
    Ok(sum)
}

fn quiet_cfg(seed: u64, noise: Option<NoiseConfig>) -> SceneConfig {
    let mut c = base(
        seed,
        Room::DecayingNoise {
            rt60_s: 0.05,
            direct_to_reverb_db: 20.0,
        },
        0.0,
    );
    c.rir_s = 0.01;
    c.noise = noise;
    c
}

fn ns(seconds: f64, seed: u64, prompts: &Prompts, scratch: &Path) -> Result<Vec<EvalScene>, EvalError> {
    let n = n_samples(seconds);
    let silent = vec![0f32; n];
    let bab = babble(seconds, seed, prompts, scratch)?;
    let cases: [(&str, NoiseKind, f64, bool); 5] = [
        ("white_5db", NoiseKind::White, 5.0, false),
        ("pink_0db", NoiseKind::Pink, 0.0, false),
        ("pink_10db", NoiseKind::Pink, 10.0, false),
        ("babble_5db", NoiseKind::White, 5.0, true),
        ("hum_10db", NoiseKind::Hum, 10.0, false),
    ];
    let mut out = Vec::new();
    for (k, (name, kind, snr, is_babble)) in cases.into_iter().enumerate() {
        let speech = prompts.talker(seed as usize * 11 + k * 17, 2, seconds, -26.0)?;
        let cfg = quiet_cfg(seed + 10 + k as u64, Some(NoiseConfig { kind, snr_db: snr }));
        let scene = generate_with_noise(&cfg, &silent, &speech, is_babble.then_some(&bab[..]));
        let what = if is_babble {
            "babble (6 talkers)".to_string()
        } else {
            format!("{kind:?} noise").to_lowercase()
        };
        out.push(EvalScene {
            name: name.into(),
            description: format!("recorded speech in {what} at {snr} dB SNR"),
            kind: Kind::Noisy,
            scene,
            measure_from: 0,
            change_at: None,
            segments: Vec::new(),
        });
    }
    Ok(out)
}

fn agc(seconds: f64, seed: u64, prompts: &Prompts) -> Result<Vec<EvalScene>, EvalError> {
    let n = n_samples(seconds);
    let silent = vec![0f32; n];
    let noise = Some(NoiseConfig {
        kind: NoiseKind::Pink,
        snr_db: 35.0,
    });
    let mut out = Vec::new();
    for (k, level) in [-40.0, -30.0, -20.0, -12.0].into_iter().enumerate() {
        let speech = prompts.talker(seed as usize * 5 + k * 23, 2, seconds, level)?;
        let scene = generate(&quiet_cfg(seed + 20 + k as u64, noise), &silent, &speech);
        out.push(EvalScene {
            name: format!("level_{}dbfs", -level as i32),
            description: format!("recorded speech at {level} dBFS, pink noise 35 dB below"),
            kind: Kind::Levels,
            scene,
            // The AGC converges in the first half; the second half is measured.
            measure_from: n / 2,
            change_at: None,
            segments: vec![(n / 2, n)],
        });
    }
    // Level jumps: four segments of a quarter each.
    let speech = prompts.talker(seed as usize * 5 + 99, 2, seconds, -26.0)?;
    let q = n / 4;
    let levels = [-40.0, -12.0, -30.0, -20.0];
    let mut jumpy = Vec::with_capacity(n);
    for (k, l) in levels.iter().enumerate() {
        let end = if k == 3 { n } else { (k + 1) * q };
        jumpy.extend(set_level(speech[k * q..end].to_vec(), *l));
    }
    let faint = Some(NoiseConfig {
        kind: NoiseKind::Pink,
        snr_db: 45.0,
    });
    let scene = generate(&quiet_cfg(seed + 30, faint), &silent, &jumpy);
    // Each segment is measured over its last 60 %.
    let segments = (0..4)
        .map(|k| {
            let end = if k == 3 { n } else { (k + 1) * q };
            (k * q + q * 2 / 5, end)
        })
        .collect();
    out.push(EvalScene {
        name: "level_jumps".into(),
        description: "recorded speech jumping −40 → −12 → −30 → −20 dBFS every quarter, pink noise 45 dB \
                      below the overall active level"
            .into(),
        kind: Kind::Levels,
        scene,
        measure_from: 0,
        change_at: None,
        segments,
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tutti_effects::voice::scene::active_level;

    fn db(p: f64) -> f64 {
        10.0 * p.log10()
    }

    #[test]
    fn agc_scenes_have_the_stated_levels_and_are_deterministic() {
        let prompts = Prompts::open().expect("asterisk-core-sounds-en-g722 is installed (scripts/setup.sh)");
        let dir = tempfile::tempdir().expect("temp dir");
        let a = build(Suite::Agc, 4.0, 3, &prompts, dir.path()).expect("scenes");
        let b = build(Suite::Agc, 4.0, 3, &prompts, dir.path()).expect("scenes");
        assert_eq!(a.len(), 5);
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x.scene, y.scene, "{} is not deterministic", x.name);
        }
        for (sc, level) in a.iter().zip([-40.0, -30.0, -20.0, -12.0]) {
            let l = db(active_level(&sc.scene.near, RATE));
            assert!((l - level).abs() < 0.01, "{}: {l}", sc.name);
            // Pink noise 35 dB below the speech's active level.
            let snr =
                db(active_level(&sc.scene.near, RATE) / tutti_effects::voice::scene::power(&sc.scene.noise));
            assert!((snr - 35.0).abs() < 0.01, "{}: snr {snr}", sc.name);
        }
        let jumps = &a[4];
        let q = jumps.scene.near.len() / 4;
        for (k, level) in [-40.0, -12.0, -30.0, -20.0].into_iter().enumerate() {
            let l = db(active_level(&jumps.scene.near[k * q..(k + 1) * q], RATE));
            assert!((l - level).abs() < 0.01, "segment {k}: {l}");
        }
    }

    #[test]
    fn aec_scenes_follow_their_descriptions() {
        let prompts = Prompts::open().expect("asterisk-core-sounds-en-g722 is installed (scripts/setup.sh)");
        let dir = tempfile::tempdir().expect("temp dir");
        let sc = build(Suite::Aec, 4.0, 1, &prompts, dir.path()).expect("scenes (espeak-ng installed)");
        let names: Vec<&str> = sc.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "linear",
                "delay_450ms",
                "nonlinear",
                "path_change",
                "drift",
                "double_talk"
            ]
        );
        for s in &sc[..5] {
            assert_eq!(s.kind, Kind::FarSingleTalk);
            assert!(
                s.scene.near.iter().all(|&v| v == 0.0),
                "{}: near-end in single talk",
                s.name
            );
            // ERL 6 dB.
            let erl = db(tutti_effects::voice::scene::power(&s.scene.far)
                / tutti_effects::voice::scene::power(&s.scene.echo));
            assert!((erl - 6.0).abs() < 0.01, "{}: ERL {erl}", s.name);
        }
        // 450 ms: the echo starts 450 ms (+ the direct path) after the far-end does.
        let far_on = sc[1]
            .scene
            .far
            .iter()
            .position(|v| v.abs() > 1e-4)
            .expect("far-end speech");
        let echo_on = sc[1]
            .scene
            .echo
            .iter()
            .position(|v| v.abs() > 1e-6)
            .expect("echo");
        assert!(
            (echo_on as i64 - far_on as i64 - 7200).abs() < 40,
            "echo onset {echo_on} far {far_on}"
        );
        assert_eq!(sc[3].change_at, Some(sc[3].scene.mic.len() / 2));
        let dt = &sc[5];
        assert!(dt.scene.near[..dt.measure_from].iter().all(|&v| v == 0.0));
        let ser = db(active_level(&dt.scene.near, RATE) / active_level(&dt.scene.echo, RATE));
        assert!((ser + 2.0).abs() < 0.01, "SER {ser}");
    }
}
