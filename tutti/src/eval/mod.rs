//! `tutti eval`: seeded voice-processing scenes, Tutti and the installed peers on them, one report.
//!
//! # What
//! [`run`] generates the scenes of the asked suites ([`scenes`]: echo cancellation, noise suppression,
//! gain control), runs every system on every scene ([`systems`]: Tutti's chain, the unprocessed input,
//! and with the `peers` feature SpeexDSP, WebRTC APM 0.3 and RNNoise through [`peers`]), scores the
//! outputs ([`metrics`] in Rust; PESQ-WB and STOI through [`quality`] when the Python packages are
//! installed), and writes PNG plots ([`plot`]). [`Report`] prints as one table or one JSON document.
//!
//! # How
//! All scenes are 16 kHz, 10 ms frames, deterministic for a seed (speech: Debian's Asterisk G.722 prompts
//! decoded by Tutti's G.722 decoder, and espeak-ng). The metric definitions are in [`metrics`]; scene
//! contents in [`scenes`].
//!
//! Diagnostics: with `TUTTI_EVAL_DUMP=DIR` set, every scene's far-end, microphone, echo and near-end
//! signals and every system's output are written to `DIR` as raw little-endian f32 files
//! (`{suite}-{seed}-{scene}-{signal}.f32`, outputs `…-out-{system}.f32`), for offline analysis; the
//! results do not change.
//!
//! # Real-time safety
//! Offline tool; the Tutti graph it drives is the real-time code.

pub mod metrics;
pub mod peers;
pub mod plot;
pub mod quality;
mod report;
pub mod scenes;
pub mod score;
pub mod speech;
pub mod systems;

use std::fmt;
use std::path::{Path, PathBuf};

pub use report::{PlotInfo, Report, SceneInfo, SuiteReport, SystemInfo};

/// A group of scenes and the metrics for one processing task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Suite {
    /// Acoustic echo cancellation.
    Aec = 0,
    /// Noise suppression.
    Ns = 1,
    /// Automatic gain control.
    Agc = 2,
}

impl Suite {
    /// Every suite, in report order.
    pub const ALL: [Suite; 3] = [Suite::Aec, Suite::Ns, Suite::Agc];

    /// The suite's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Suite::Aec => "aec",
            Suite::Ns => "ns",
            Suite::Agc => "agc",
        }
    }
}

/// Why an evaluation failed.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum EvalError {
    /// A command-line value is invalid.
    Flag {
        /// The flag, e.g. `--peers`.
        flag: String,
        /// What is wrong.
        detail: String,
    },
    /// Speech material or a tool that makes it is missing.
    Material {
        /// The file, directory or program.
        what: String,
        /// What went wrong, and the Debian package to install.
        detail: String,
    },
    /// A file could not be read or written.
    Io {
        /// The file.
        path: String,
        /// The OS error.
        detail: String,
    },
    /// The Tutti chain could not be built or run.
    Chain {
        /// The chain spec.
        spec: String,
        /// The parser's or builder's message.
        detail: String,
    },
    /// A peer failed.
    Peer {
        /// The peer's name.
        peer: String,
        /// What went wrong.
        detail: String,
    },
    /// An external metric failed.
    Metric {
        /// The metric tool.
        what: String,
        /// What went wrong.
        detail: String,
    },
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EvalError::Flag { flag, detail } => write!(f, "{flag}: {detail}"),
            EvalError::Material { what, detail } => write!(f, "{what}: {detail}"),
            EvalError::Io { path, detail } => write!(f, "{path}: {detail}"),
            EvalError::Chain { spec, detail } => write!(f, "--chain '{spec}': {detail}"),
            EvalError::Peer { peer, detail } => write!(f, "peer {peer}: {detail}"),
            EvalError::Metric { what, detail } => write!(f, "{what}: {detail}"),
        }
    }
}

impl std::error::Error for EvalError {}

/// What to evaluate.
#[derive(Debug, Clone)]
pub struct EvalOptions {
    /// Suites to run, in order.
    pub suites: Vec<Suite>,
    /// Tutti chain spec for every suite (default: `aec`, `ns`, `agc` per suite).
    pub chain: Option<String>,
    /// Peers to run (`None` = every peer in this build).
    pub peers: Option<Vec<String>>,
    /// Directory for the plots.
    pub out_dir: PathBuf,
    /// Length of each scene, s.
    pub seconds: f64,
    /// Seed of every scene.
    pub seed: u64,
}

/// Removes the scratch directory when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn io_err(path: &Path, e: std::io::Error) -> EvalError {
    EvalError::Io {
        path: path.display().to_string(),
        detail: e.to_string(),
    }
}

/// Runs the evaluation.
pub fn run(opts: &EvalOptions) -> Result<Report, EvalError> {
    if !(opts.seconds.is_finite() && (2.0..=600.0).contains(&opts.seconds)) {
        return Err(EvalError::Flag {
            flag: "--seconds".into(),
            detail: format!("expected 2 to 600 seconds, got {}", opts.seconds),
        });
    }
    let tutti = systems::TuttiChain::new(opts.chain.as_deref())?;
    let mut list: Vec<Box<dyn systems::System>> = vec![Box::new(tutti.clone())];
    let peer_names: Vec<String> = match &opts.peers {
        Some(p) => p.clone(),
        None => peers::AVAILABLE.iter().map(|s| s.to_string()).collect(),
    };
    for p in &peer_names {
        list.push(peers::create(p)?);
    }
    list.push(Box::new(systems::Identity));

    std::fs::create_dir_all(&opts.out_dir).map_err(|e| io_err(&opts.out_dir, e))?;
    let scratch = Scratch(opts.out_dir.join(format!(".eval-scratch-{}", std::process::id())));
    std::fs::create_dir_all(&scratch.0).map_err(|e| io_err(&scratch.0, e))?;
    let prompts = speech::Prompts::open()?;
    let quality = quality::Quality::probe(&scratch.0);

    let mut suites = Vec::new();
    let mut plots = Vec::new();
    for &suite in &opts.suites {
        let scenes = scenes::build(suite, opts.seconds, opts.seed, &prompts, &scratch.0)?;
        let dump = std::env::var_os("TUTTI_EVAL_DUMP").map(PathBuf::from);
        let dump_f32 = |name: String, x: &[f32]| {
            if let Some(d) = &dump {
                let bytes: Vec<u8> = x.iter().flat_map(|v| v.to_le_bytes()).collect();
                let _ = std::fs::write(d.join(name), bytes);
            }
        };
        for sc in &scenes {
            let tag = format!("{}-{}-{}", suite.name(), opts.seed, sc.name);
            dump_f32(format!("{tag}-far.f32"), &sc.scene.far);
            dump_f32(format!("{tag}-mic.f32"), &sc.scene.mic);
            dump_f32(format!("{tag}-echo.f32"), &sc.scene.echo);
            dump_f32(format!("{tag}-near.f32"), &sc.scene.near);
        }
        let mut per_system = Vec::new();
        for sys in list.iter().filter(|s| s.supports(suite)) {
            let mut results = Vec::new();
            for sc in &scenes {
                let run = sys.run(suite, &sc.scene.mic, &sc.scene.far)?;
                let r = score::score(sys.name(), sc, &run);
                dump_f32(
                    format!(
                        "{}-{}-{}-out-{}.f32",
                        suite.name(),
                        opts.seed,
                        sc.name,
                        sys.name()
                    ),
                    &run.out,
                );
                results.push((r, run.out));
            }
            per_system.push((sys.name().to_string(), results));
        }
        // PESQ/STOI in one batch per suite.
        let mut pairs: Vec<(&[f32], &[f32])> = Vec::new();
        let mut idx = Vec::new();
        for (si, (_, results)) in per_system.iter().enumerate() {
            for (ri, (r, _)) in results.iter().enumerate() {
                if !r.aligned.is_empty() {
                    let sc = &scenes[ri];
                    pairs.push((&sc.scene.near[sc.measure_from..], &r.aligned));
                    idx.push((si, ri));
                }
            }
        }
        let scores = quality.score(&pairs, speech::RATE)?;
        for ((si, ri), q) in idx.into_iter().zip(scores) {
            let r = &mut per_system[si].1[ri].0;
            r.pesq_wb = q.pesq_wb;
            r.stoi = q.stoi;
        }
        plots.extend(report::plots(suite, &opts.out_dir, &scenes, &per_system)?);
        suites.push(report::suite_report(
            suite,
            tutti.spec(suite),
            &scenes,
            per_system,
        ));
    }
    Ok(Report {
        sample_rate: speech::RATE,
        seconds_per_scene: opts.seconds,
        seed: opts.seed,
        pesq_available: quality.available(),
        stoi_available: quality.available(),
        systems: list
            .iter()
            .map(|s| {
                let (r, g, b) = plot::colour(s.name());
                SystemInfo {
                    name: s.name().to_string(),
                    colour: format!("#{r:02x}{g:02x}{b:02x}"),
                }
            })
            .collect(),
        suites,
        plots,
    })
}
