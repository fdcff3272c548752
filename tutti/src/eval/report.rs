//! The report of `tutti eval`: JSON document, text table and plot files.
//!
//! # Real-time safety
//! Offline only.

use std::path::Path;

use serde::Serialize;

use super::metrics::FRAME_S;
use super::scenes::{EvalScene, Kind};
use super::score::{summarise, SceneResult, Summary};
use super::speech::RATE;
use super::{plot, EvalError, Suite};

/// A system in the report.
#[derive(Debug, Clone, Serialize)]
pub struct SystemInfo {
    /// Name (row label).
    pub name: String,
    /// Colour of its curves in the plots, `#rrggbb`.
    pub colour: String,
}

/// A scene in the report.
#[derive(Debug, Clone, Serialize)]
pub struct SceneInfo {
    /// Short name.
    pub name: String,
    /// What it measures (`far_single_talk`, `double_talk`, `noisy`, `levels`).
    pub kind: &'static str,
    /// Its contents.
    pub description: String,
    /// Power ratio of the clean near-end speech to everything else in the microphone signal over the
    /// measured segment, dB (`None` without near-end speech).
    pub input_snr_db: Option<f64>,
}

/// One suite's results.
#[derive(Debug, Clone, Serialize)]
pub struct SuiteReport {
    /// The suite.
    pub suite: Suite,
    /// The Tutti chain spec that ran.
    pub chain: String,
    /// Its scenes.
    pub scenes: Vec<SceneInfo>,
    /// Every (system, scene) result.
    pub results: Vec<SceneResult>,
    /// One summary per system.
    pub summary: Vec<Summary>,
}

/// A written plot.
#[derive(Debug, Clone, Serialize)]
pub struct PlotInfo {
    /// File path.
    pub file: String,
    /// `erle`, `level` or `spectrogram`.
    pub kind: &'static str,
    /// Suite.
    pub suite: Suite,
    /// Scene.
    pub scene: String,
    /// For spectrograms: the system whose output is shown, or `clean` for the reference.
    pub system: Option<String>,
}

/// Everything `tutti eval` measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Sample rate of every scene, Hz.
    pub sample_rate: u32,
    /// Length of each scene, s.
    pub seconds_per_scene: f64,
    /// Seed of the scenes.
    pub seed: u64,
    /// Whether PESQ-WB was computed (Python `pesq` importable).
    pub pesq_available: bool,
    /// Whether STOI was computed (Python `pystoi` importable).
    pub stoi_available: bool,
    /// The systems, in row order.
    pub systems: Vec<SystemInfo>,
    /// Per-suite results.
    pub suites: Vec<SuiteReport>,
    /// The plots written.
    pub plots: Vec<PlotInfo>,
}

type PerSystem = Vec<(String, Vec<(SceneResult, Vec<f32>)>)>;

fn energy(x: &[f32]) -> f64 {
    x.iter().map(|&v| f64::from(v) * f64::from(v)).sum()
}

/// Builds one suite's report (summaries included).
pub(super) fn suite_report(
    suite: Suite,
    chain: &str,
    scenes: &[EvalScene],
    per_system: PerSystem,
) -> SuiteReport {
    let infos = scenes
        .iter()
        .map(|sc| {
            let s = &sc.scene;
            let from = sc.measure_from;
            let near = &s.near[from..];
            let rest: Vec<f32> = s.mic[from..].iter().zip(near).map(|(m, n)| m - n).collect();
            let en = energy(near);
            SceneInfo {
                name: sc.name.clone(),
                kind: sc.kind.label(),
                description: sc.description.clone(),
                input_snr_db: (en > 0.0).then(|| 10.0 * (en / energy(&rest).max(1e-30)).log10()),
            }
        })
        .collect();
    let mut results = Vec::new();
    let mut summary = Vec::new();
    for (name, rs) in per_system {
        let rs: Vec<SceneResult> = rs.into_iter().map(|(r, _)| r).collect();
        summary.push(summarise(&name, scenes, &rs));
        results.extend(rs);
    }
    SuiteReport {
        suite,
        chain: chain.to_string(),
        scenes: infos,
        results,
        summary,
    }
}

/// Short-term level (100 ms RMS, dBFS) over time.
fn level_curve(x: &[f32]) -> Vec<(f64, Option<f64>)> {
    let w = (f64::from(RATE) * 10.0 * FRAME_S) as usize;
    x.chunks(w)
        .enumerate()
        .map(|(k, c)| {
            let p = energy(c) / c.len() as f64;
            ((k as f64 + 0.5) * 0.1, (p > 1e-12).then(|| 10.0 * p.log10()))
        })
        .collect()
}

/// Writes the suite's plots into `dir`.
pub(super) fn plots(
    suite: Suite,
    dir: &Path,
    scenes: &[EvalScene],
    per_system: &PerSystem,
) -> Result<Vec<PlotInfo>, EvalError> {
    let mut out = Vec::new();
    let t_max = scenes
        .first()
        .map_or(1.0, |s| s.scene.mic.len() as f64 / f64::from(RATE));
    let name = suite.name();
    let mut info = |file: std::path::PathBuf, kind, scene: &str, system: Option<&str>| {
        out.push(PlotInfo {
            file: file.display().to_string(),
            kind,
            suite,
            scene: scene.to_string(),
            system: system.map(str::to_string),
        });
    };
    let spectrograms =
        |sc: &EvalScene,
         k: usize,
         info: &mut dyn FnMut(std::path::PathBuf, &'static str, &str, Option<&str>)| {
            let from = sc.measure_from;
            let clean = dir.join(format!("{name}-{}-clean.png", sc.name));
            plot::spectrogram(&clean, &sc.scene.near[from..])?;
            info(clean, "spectrogram", &sc.name, Some("clean"));
            for (sys, rs) in per_system {
                let f = dir.join(format!("{name}-{}-{sys}.png", sc.name));
                let o = &rs[k].1;
                plot::spectrogram(&f, &o[from.min(o.len())..])?;
                info(f, "spectrogram", &sc.name, Some(sys));
            }
            Ok::<(), EvalError>(())
        };
    match suite {
        Suite::Aec => {
            for (k, sc) in scenes.iter().enumerate() {
                if sc.kind == Kind::FarSingleTalk {
                    let f = dir.join(format!("{name}-{}-erle.png", sc.name));
                    let series: Vec<(String, Vec<(f64, Option<f64>)>)> = per_system
                        .iter()
                        .filter(|(s, _)| s != "input")
                        .map(|(s, rs)| (s.clone(), rs[k].0.erle_curve.clone()))
                        .collect();
                    plot::lines(&f, &series, t_max, (-10.0, 70.0))?;
                    info(f, "erle", &sc.name, None);
                } else {
                    spectrograms(sc, k, &mut info)?;
                }
            }
        }
        Suite::Ns => {
            if let Some(sc) = scenes.first() {
                spectrograms(sc, 0, &mut info)?;
            }
        }
        Suite::Agc => {
            if let Some((k, sc)) = scenes.iter().enumerate().find(|(_, s)| s.segments.len() > 1) {
                let f = dir.join(format!("{name}-{}-level.png", sc.name));
                let series: Vec<(String, Vec<(f64, Option<f64>)>)> = per_system
                    .iter()
                    .map(|(s, rs)| (s.clone(), level_curve(&rs[k].1)))
                    .collect();
                plot::lines(&f, &series, t_max, (-70.0, 0.0))?;
                info(f, "level", &sc.name, None);
            }
        }
    }
    Ok(out)
}

fn num(v: Option<f64>, prec: usize, na: bool) -> String {
    match v {
        Some(v) => format!("{v:.prec$}"),
        None if na => "n/a".into(),
        None => "-".into(),
    }
}

impl Report {
    /// The JSON document of `--json`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("the report has only serialisable fields")
    }

    /// One table: a row per (suite, system) with the suite's summary metrics.
    pub fn table(&self) -> String {
        let mut s = format!(
            "{:<5} {:<8} {:>8} {:>8} {:>8} {:>6} {:>7} {:>6} {:>9} {:>9} {:>9} {:>8} {:>7} {:>7} {:>9}\n",
            "suite",
            "system",
            "ERLE dB",
            "late dB",
            "min dB",
            "T20 s",
            "PESQ-WB",
            "STOI",
            "SI-SDR dB",
            "segSNR dB",
            "spread dB",
            "jumps dB",
            "clipped",
            "lat ms",
            "µs/frame"
        );
        let na = !self.pesq_available;
        for suite in &self.suites {
            for m in &suite.summary {
                let applicable = matches!(suite.suite, Suite::Aec | Suite::Ns);
                s.push_str(&format!(
                    "{:<5} {:<8} {:>8} {:>8} {:>8} {:>6} {:>7} {:>6} {:>9} {:>9} {:>9} {:>8} {:>7} {:>7} {:>9.1}\n",
                    suite.suite.name(),
                    m.system,
                    num(m.erle_db, 1, false),
                    num(m.erle_late_db, 1, false),
                    num(m.erle_min_db, 1, false),
                    num(m.time_to_20db_s, 2, false),
                    num(m.pesq_wb, 2, na && applicable),
                    num(m.stoi, 3, na && applicable),
                    num(m.si_sdr_db, 1, false),
                    num(m.seg_snr_db, 1, false),
                    num(m.level_spread_db, 1, false),
                    num(m.jump_spread_db, 1, false),
                    m.clipped_samples,
                    num(m.latency_ms, 1, false),
                    m.us_per_frame
                ));
            }
        }
        s
    }
}
