//! RNNoise through `nnnoiseless` (pure Rust) for the `ns` suite.

use nnnoiseless::DenoiseState;

use crate::eval::speech::resample;
use crate::eval::systems::{Run, System};
use crate::eval::{EvalError, Suite};

/// The RNNoise peer.
pub struct RnNoise;

impl System for RnNoise {
    fn name(&self) -> &str {
        "rnnoise"
    }
    fn supports(&self, suite: Suite) -> bool {
        suite == Suite::Ns
    }
    fn run(&self, _: Suite, mic: &[f32], _: &[f32]) -> Result<Run, EvalError> {
        // RNNoise works at 48 kHz on 16-bit-scaled floats.
        let up: Vec<f32> = resample(mic, 16000, 48000).iter().map(|v| v * 32768.0).collect();
        let mut st = DenoiseState::new();
        let n = DenoiseState::FRAME_SIZE;
        let mut out48 = Vec::with_capacity(up.len() + n);
        let mut inb = vec![0f32; n];
        let mut outb = vec![0f32; n];
        let t0 = std::time::Instant::now();
        for chunk in up.chunks(n) {
            inb.fill(0.0);
            inb[..chunk.len()].copy_from_slice(chunk);
            st.process_frame(&mut outb, &inb);
            out48.extend_from_slice(&outb);
        }
        let wall = t0.elapsed().as_secs_f64();
        let scaled: Vec<f32> = out48.iter().map(|v| v / 32768.0).collect();
        let mut out = resample(&scaled, 48000, 16000);
        out.resize(mic.len(), 0.0);
        let frames = mic.len().div_ceil(160).max(1) as f64;
        // The time is RNNoise's own (48 kHz), without the resampling around it.
        Ok(Run {
            out,
            us_per_frame: wall * 1e6 / frames,
        })
    }
}
