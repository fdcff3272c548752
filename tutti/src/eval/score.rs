//! Scoring one system's output on one scene, and a system's summary over a suite.
//!
//! # What
//! [`score`] applies the metrics a scene's [`Kind`] calls for ([`super::metrics`]), [`summarise`] averages
//! them over a suite. PESQ/STOI are filled in afterwards in one batch ([`super::quality`]).
//!
//! # Real-time safety
//! Offline only.

use serde::Serialize;

use super::metrics::{
    active_frames, align, clipped_samples, erle_curve, erle_db, lag, loudness_lufs, seg_snr_db, si_sdr_db,
    time_to,
};
use super::scenes::{EvalScene, Kind};
use super::speech::RATE;
use super::systems::{Run, FRAME};

/// Longest lag searched when aligning an output to its reference, samples (200 ms).
pub const MAX_LAG: usize = 3200;
/// Window of the ERLE curve, samples (200 ms).
pub const ERLE_WINDOW: usize = 3200;

/// Metrics of one system on one scene (`None` = not applicable or not measurable).
#[derive(Debug, Clone, Serialize)]
pub struct SceneResult {
    /// System name.
    pub system: String,
    /// Scene name.
    pub scene: String,
    /// ERLE over the far-end single talk, dB.
    pub erle_db: Option<f64>,
    /// ERLE over the second half of the scene (after the initial convergence), dB.
    pub erle_late_db: Option<f64>,
    /// Time from the start until the ERLE first reaches 20 dB, s.
    pub time_to_20db_s: Option<f64>,
    /// Time from an echo-path change until the ERLE reaches 20 dB again, s.
    pub reconverge_s: Option<f64>,
    /// PESQ-WB of the output against the clean near-end speech.
    pub pesq_wb: Option<f64>,
    /// STOI of the (aligned) output against the clean near-end speech.
    pub stoi: Option<f64>,
    /// SI-SDR of the aligned output, dB.
    pub si_sdr_db: Option<f64>,
    /// Segmental SNR of the aligned output, dB.
    pub seg_snr_db: Option<f64>,
    /// Measured lag of the output behind the input (cross-correlation peak), ms.
    pub lag_ms: Option<f64>,
    /// Loudness of each level segment of the output, LUFS (BS.1770).
    pub levels_lufs: Vec<f64>,
    /// Output samples at full scale.
    pub clipped_samples: usize,
    /// Processing time per 10 ms frame, µs.
    pub us_per_frame: f64,
    /// ERLE over time (`[t_s, dB]`, 200 ms windows), far-end single talk only; not serialised.
    #[serde(skip)]
    pub erle_curve: Vec<(f64, Option<f64>)>,
    /// The aligned output segment that PESQ/STOI score; not serialised.
    #[serde(skip)]
    pub aligned: Vec<f32>,
}

/// Scores `run` of `system` on `sc`.
pub fn score(system: &str, sc: &EvalScene, run: &Run) -> SceneResult {
    let s = &sc.scene;
    let mut r = SceneResult {
        system: system.into(),
        scene: sc.name.clone(),
        erle_db: None,
        erle_late_db: None,
        time_to_20db_s: None,
        reconverge_s: None,
        pesq_wb: None,
        stoi: None,
        si_sdr_db: None,
        seg_snr_db: None,
        lag_ms: None,
        levels_lufs: Vec::new(),
        clipped_samples: clipped_samples(&run.out),
        us_per_frame: run.us_per_frame,
        erle_curve: Vec::new(),
        aligned: Vec::new(),
    };
    match sc.kind {
        Kind::FarSingleTalk => {
            let act = active_frames(&s.echo, FRAME);
            r.erle_db = erle_db(&s.mic, &run.out, &act, FRAME, 0);
            r.erle_late_db = erle_db(&s.mic, &run.out, &act, FRAME, s.mic.len() / 2);
            let curve = erle_curve(&s.mic, &run.out, &act, FRAME, ERLE_WINDOW, RATE);
            let onset = act.iter().position(|&a| a).unwrap_or(0) as f64 * FRAME as f64 / f64::from(RATE);
            r.time_to_20db_s = time_to(&curve, 20.0, onset);
            if let Some(c) = sc.change_at {
                r.reconverge_s = time_to(&curve, 20.0, c as f64 / f64::from(RATE));
            }
            r.erle_curve = curve;
        }
        Kind::DoubleTalk | Kind::Noisy => {
            let from = sc.measure_from;
            let reference = &s.near[from..];
            let out = &run.out[from.min(run.out.len())..];
            let l = lag(reference, out, MAX_LAG);
            let a = align(out, l, reference.len());
            r.lag_ms = Some(l as f64 * 1000.0 / f64::from(RATE));
            r.si_sdr_db = si_sdr_db(reference, &a);
            r.seg_snr_db = seg_snr_db(reference, &a, RATE);
            r.aligned = a;
            if sc.kind == Kind::DoubleTalk {
                // ERLE over the far-end-only part before the near-end talker.
                let act = active_frames(&s.echo[..from], FRAME);
                r.erle_db = erle_db(&s.mic[..from], &run.out[..from], &act, FRAME, 0);
            }
        }
        Kind::Levels => {
            let l = lag(&s.near, &run.out, MAX_LAG);
            r.lag_ms = Some(l as f64 * 1000.0 / f64::from(RATE));
            let a = align(&run.out, l, s.near.len());
            r.levels_lufs = sc
                .segments
                .iter()
                .filter_map(|&(b, e)| loudness_lufs(&a[b..e.min(a.len())], RATE))
                .collect();
        }
    }
    r
}

/// A system's summary over one suite.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// System name.
    pub system: String,
    /// Mean ERLE over the far-end single-talk scenes, dB.
    pub erle_db: Option<f64>,
    /// Mean over the far-end single-talk scenes of the ERLE over each scene's second half, dB.
    pub erle_late_db: Option<f64>,
    /// Lowest per-scene ERLE over the far-end single-talk scenes, dB.
    pub erle_min_db: Option<f64>,
    /// Slowest time to 20 dB over the far-end single-talk scenes (`None` if a scene never got there).
    pub time_to_20db_s: Option<f64>,
    /// Mean PESQ-WB over the double-talk or noisy scenes.
    pub pesq_wb: Option<f64>,
    /// Mean STOI over the double-talk or noisy scenes.
    pub stoi: Option<f64>,
    /// Mean SI-SDR over the double-talk or noisy scenes, dB.
    pub si_sdr_db: Option<f64>,
    /// Mean segmental SNR over the double-talk or noisy scenes, dB.
    pub seg_snr_db: Option<f64>,
    /// Spread (max − min) of the output's loudness over the fixed-level scenes (−40 to −12 dBFS inputs,
    /// second halves), dB.
    pub level_spread_db: Option<f64>,
    /// Spread of the output's loudness over the segments of the level-jump scene (last 60 % of each), dB.
    pub jump_spread_db: Option<f64>,
    /// Clipped output samples over all scenes.
    pub clipped_samples: usize,
    /// Median measured lag, ms.
    pub latency_ms: Option<f64>,
    /// Mean processing time per 10 ms frame, µs.
    pub us_per_frame: f64,
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// Summarises `results` (one system's results over a suite's `scenes`, in the same order).
pub fn summarise(system: &str, scenes: &[EvalScene], results: &[SceneResult]) -> Summary {
    let fe: Vec<&SceneResult> = scenes
        .iter()
        .zip(results)
        .filter(|(s, _)| s.kind == Kind::FarSingleTalk)
        .map(|(_, r)| r)
        .collect();
    let erles: Vec<f64> = fe.iter().filter_map(|r| r.erle_db).collect();
    let t20 = if fe.is_empty() || fe.iter().any(|r| r.time_to_20db_s.is_none()) {
        None
    } else {
        fe.iter().filter_map(|r| r.time_to_20db_s).reduce(f64::max)
    };
    let pick = |f: fn(&SceneResult) -> Option<f64>| -> Vec<f64> { results.iter().filter_map(f).collect() };
    let spread = |multi: bool| {
        let v: Vec<f64> = results
            .iter()
            .filter(|r| !r.levels_lufs.is_empty() && (r.levels_lufs.len() > 1) == multi)
            .flat_map(|r| r.levels_lufs.iter().copied())
            .collect();
        (!v.is_empty())
            .then(|| v.iter().copied().fold(f64::MIN, f64::max) - v.iter().copied().fold(f64::MAX, f64::min))
    };
    let mut lags = pick(|r| r.lag_ms);
    lags.sort_by(f64::total_cmp);
    Summary {
        system: system.into(),
        erle_db: mean(&erles),
        erle_late_db: mean(&fe.iter().filter_map(|r| r.erle_late_db).collect::<Vec<_>>()),
        erle_min_db: erles.iter().copied().reduce(f64::min),
        time_to_20db_s: t20,
        pesq_wb: mean(&pick(|r| r.pesq_wb)),
        stoi: mean(&pick(|r| r.stoi)),
        si_sdr_db: mean(&pick(|r| r.si_sdr_db)),
        seg_snr_db: mean(&pick(|r| r.seg_snr_db)),
        level_spread_db: spread(false),
        jump_spread_db: spread(true),
        clipped_samples: results.iter().map(|r| r.clipped_samples).sum(),
        latency_ms: lags.get(lags.len() / 2).copied(),
        us_per_frame: mean(&results.iter().map(|r| r.us_per_frame).collect::<Vec<_>>()).unwrap_or(0.0),
    }
}
