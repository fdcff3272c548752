//! The systems `tutti eval` compares: Tutti's chain, the unprocessed input, and the peers.
//!
//! # What
//! A [`System`] turns a scene's microphone signal (and the far-end reference, for echo cancellers) into
//! an output signal, fresh state per scene, and says how long its processing took per 10 ms frame.
//! [`TuttiChain`] renders a chain spec through the same graph code as `tutti process`; [`Identity`] is
//! the "do nothing" baseline (ERLE 0 dB, the input's quality).
//!
//! # How
//! Outputs keep each system's own latency; the metrics align them to the reference afterwards.
//!
//! # Real-time safety
//! Offline driver; the Tutti graph it runs is the real-time code.

use std::time::Instant;

use super::{EvalError, Suite};
use crate::offline::{self, Pipeline};
use crate::wav::Audio;

/// Samples per 10 ms frame at the eval rate.
pub const FRAME: usize = 160;

/// One system's output for one scene.
#[derive(Debug, Clone)]
pub struct Run {
    /// Output signal (as long as the input, latency not removed).
    pub out: Vec<f32>,
    /// Processing time per 10 ms frame, microseconds (setup excluded).
    pub us_per_frame: f64,
}

/// Something `tutti eval` can run on a scene.
pub trait System {
    /// Row label in the report.
    fn name(&self) -> &str;
    /// Whether the system takes part in `suite` (peers implement only some tasks).
    fn supports(&self, suite: Suite) -> bool;
    /// Runs over one scene at 16 kHz with fresh state.
    fn run(&self, suite: Suite, mic: &[f32], far: &[f32]) -> Result<Run, EvalError>;
}

/// The unprocessed microphone signal.
#[derive(Debug, Clone, Copy)]
pub struct Identity;

impl System for Identity {
    fn name(&self) -> &str {
        "input"
    }
    fn supports(&self, _: Suite) -> bool {
        true
    }
    fn run(&self, _: Suite, mic: &[f32], _: &[f32]) -> Result<Run, EvalError> {
        Ok(Run {
            out: mic.to_vec(),
            us_per_frame: 0.0,
        })
    }
}

/// A Tutti chain (a chain spec per suite).
#[derive(Debug, Clone)]
pub struct TuttiChain {
    /// Chain spec text per suite (aec, ns, agc).
    pub specs: [String; 3],
    pipelines: Vec<(Pipeline, bool)>,
}

/// The chain each suite runs when `--chain` is not given.
pub fn default_chain(suite: Suite) -> &'static str {
    match suite {
        Suite::Aec => "aec",
        Suite::Ns => "ns",
        Suite::Agc => "agc",
    }
}

impl TuttiChain {
    /// Parses `chain` (the same for every suite) or the per-suite defaults. The error names `--chain`.
    pub fn new(chain: Option<&str>) -> Result<Self, EvalError> {
        let types = crate::registry::node_types();
        let specs =
            [Suite::Aec, Suite::Ns, Suite::Agc].map(|s| chain.unwrap_or(default_chain(s)).to_string());
        let mut pipelines = Vec::new();
        for spec in &specs {
            let p = offline::parse_chain(spec).map_err(|detail| EvalError::Chain {
                spec: spec.clone(),
                detail,
            })?;
            let Pipeline::Chain(nodes) = &p else {
                unreachable!("parse_chain returns a chain");
            };
            let mut needs_far = false;
            for n in nodes {
                let ty = types
                    .iter()
                    .find(|t| t.name == n.name)
                    .ok_or_else(|| EvalError::Chain {
                        spec: spec.clone(),
                        detail: format!("unknown node type '{}' (see `tutti nodes`)", n.name),
                    })?;
                needs_far |= ty.inputs.contains(&"far");
            }
            pipelines.push((p, needs_far));
        }
        Ok(Self { specs, pipelines })
    }

    /// The chain spec used for `suite`.
    pub fn spec(&self, suite: Suite) -> &str {
        &self.specs[suite as usize]
    }
}

impl System for TuttiChain {
    fn name(&self) -> &str {
        "tutti"
    }
    fn supports(&self, _: Suite) -> bool {
        true
    }
    fn run(&self, suite: Suite, mic: &[f32], far: &[f32]) -> Result<Run, EvalError> {
        let (pipeline, needs_far) = &self.pipelines[suite as usize];
        let types = crate::registry::node_types();
        let input = Audio {
            sample_rate: super::speech::RATE,
            channels: vec![mic.to_vec()],
        };
        let far_audio = needs_far.then(|| Audio {
            sample_rate: super::speech::RATE,
            channels: vec![far.to_vec()],
        });
        let r = offline::render(pipeline, &types, &input, far_audio.as_ref(), 10.0).map_err(|detail| {
            EvalError::Chain {
                spec: self.specs[suite as usize].clone(),
                detail,
            }
        })?;
        let frames = mic.len().div_ceil(FRAME).max(1) as f64;
        let wall = if r.realtime_factor.is_finite() && r.realtime_factor > 0.0 {
            r.seconds / r.realtime_factor
        } else {
            0.0
        };
        let mut out = r.audio.channels.into_iter().next().unwrap_or_default();
        out.resize(mic.len(), 0.0);
        Ok(Run {
            out,
            us_per_frame: wall * 1e6 / frames,
        })
    }
}

/// Runs a frame-by-frame processor over a whole scene in 10 ms frames (the last one zero-padded) and
/// times the loop. `f(mic_frame, far_frame, out_frame)`.
pub fn run_frames(
    mic: &[f32],
    far: &[f32],
    mut f: impl FnMut(&[f32], &[f32], &mut [f32]) -> Result<(), EvalError>,
) -> Result<Run, EvalError> {
    let frames = mic.len().div_ceil(FRAME);
    let mut m = vec![0f32; FRAME];
    let mut r = vec![0f32; FRAME];
    let mut o = vec![0f32; FRAME];
    let mut out = Vec::with_capacity(frames * FRAME);
    let t0 = Instant::now();
    for k in 0..frames {
        let s = k * FRAME;
        for i in 0..FRAME {
            m[i] = mic.get(s + i).copied().unwrap_or(0.0);
            r[i] = far.get(s + i).copied().unwrap_or(0.0);
        }
        f(&m, &r, &mut o)?;
        out.extend_from_slice(&o);
    }
    let wall = t0.elapsed().as_secs_f64();
    out.truncate(mic.len());
    Ok(Run {
        out,
        us_per_frame: wall * 1e6 / frames.max(1) as f64,
    })
}
