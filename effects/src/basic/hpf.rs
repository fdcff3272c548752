//! `hpf`: second-order Butterworth high-pass filter.
//!
//! # What
//! Removes rumble and DC below the cutoff `hz` with a 12 dB/octave Butterworth response.
//!
//! # How
//! The RBJ cookbook high-pass with `Q = 1/√2` (bilinear transform of the analog Butterworth prototype with
//! the cutoff pre-warped), f64 coefficients and state ([`Biquad`]). Cutoff changes glide over 20 ms in
//! the log-frequency domain, with coefficients recomputed every 16 samples while gliding.
//!
//! # Real-time safety
//! `process` is arithmetic only; coefficient updates are computed in place.

use std::f64::consts::FRAC_1_SQRT_2;

use tutti_engine::{
    EngineError, Inputs, NodeArgs, NodeType, Outputs, ParamInfo, Processor, Smoothed, StreamConfig,
};

use super::{Biquad, BiquadCoeffs};

const PARAMS: &[ParamInfo] = &[ParamInfo::new(
    "hz",
    "Hz",
    10.0,
    20000.0,
    100.0,
    "cutoff frequency (-3 dB)",
)];

/// Samples between coefficient updates while the cutoff glides.
const UPDATE: usize = 16;

/// The `hpf` node type.
pub(crate) const TYPE: NodeType = NodeType {
    name: "hpf",
    description: "2nd-order Butterworth high-pass filter",
    inputs: &["in"],
    outputs: &["out"],
    params: PARAMS,
    options: &[],
    create: |a: &NodeArgs| Ok(Box::new(HighPass::new(a.get("hz")))),
    stage: None,
};

/// A 2nd-order Butterworth high-pass filter, one section per channel.
#[derive(Debug, Clone)]
pub struct HighPass {
    hz: f32,
    rate: f64,
    /// log2 of the cutoff, smoothed.
    log_hz: Smoothed,
    sections: [Biquad; 2],
}

impl HighPass {
    /// A high-pass at `hz`.
    pub fn new(hz: f32) -> Self {
        Self {
            hz,
            rate: 48_000.0,
            log_hz: Smoothed::new(hz.log2(), 1),
            sections: [Biquad::default(); 2],
        }
    }

    /// The coefficients for cutoff `hz` at `rate` (the cutoff is limited to 0.45·rate).
    pub fn coeffs(hz: f64, rate: f64) -> BiquadCoeffs {
        BiquadCoeffs::highpass(hz.min(0.45 * rate), FRAC_1_SQRT_2, rate)
    }

    fn set_coeffs(&mut self, log_hz: f32) {
        let c = Self::coeffs(f64::from(log_hz).exp2(), self.rate);
        for s in &mut self.sections {
            s.coeffs = c;
        }
    }
}

impl Processor for HighPass {
    fn name(&self) -> &'static str {
        "hpf"
    }

    fn prepare(&mut self, cfg: &StreamConfig) -> Result<(), EngineError> {
        self.rate = f64::from(cfg.sample_rate);
        self.log_hz = Smoothed::with_time(self.hz.log2(), 20.0, cfg.sample_rate);
        self.set_coeffs(self.hz.log2());
        self.reset();
        Ok(())
    }

    fn process(&mut self, inputs: &Inputs<'_>, outputs: &mut Outputs<'_>) {
        let input = inputs.port(0);
        let mut out = outputs.port(0);
        let channels = input.channels().min(2);
        if !self.log_hz.is_ramping() {
            for c in 0..channels {
                self.sections[c].process(input.channel(c), out.channel_mut(c));
            }
            return;
        }
        let frames = input.frames();
        let mut start = 0;
        while start < frames {
            let end = (start + UPDATE).min(frames);
            let lh = self.log_hz.advance((end - start) as u32);
            self.set_coeffs(lh);
            for c in 0..channels {
                self.sections[c].process(&input.channel(c)[start..end], &mut out.channel_mut(c)[start..end]);
            }
            start = end;
        }
    }

    fn reset(&mut self) {
        for s in &mut self.sections {
            s.reset();
        }
    }

    fn params(&self) -> &'static [ParamInfo] {
        PARAMS
    }

    fn set_param(&mut self, index: usize, value: f32) {
        if index == 0 {
            self.hz = value;
            self.log_hz.set_target(value.log2());
        }
    }
}
