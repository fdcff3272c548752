//! `ringmod`: ring modulation by an internal carrier.
//!
//! # What
//! `y[n] = x[n]·((1 − mix) + mix·m(φₙ))` with the bipolar carrier `m(φ) = 2L(φ) − 1` (`L` the unipolar
//! LFO shape of [`super::common`]; for the sine, `m(φ) = sin 2πφ`) and `φₙ = n·freq/fs`. At `mix = 100 %`
//! this is the classic ring modulator: a tone at `f₀` becomes the pair `f₀ ± freq`.
//!
//! # How
//! An `f64` phase accumulator; the carrier frequency and the mix follow 20 ms linear ramps (the phase stays
//! continuous through frequency changes).
//!
//! # Real-time safety
//! Arithmetic only.

use tutti_engine::{
    EngineError, Inputs, NodeArgs, NodeType, Outputs, ParamInfo, Processor, Smoothed, StreamConfig,
};

use super::common::{split_io, Lfo, LfoShape, LFO_SHAPES, SMOOTH_MS};

const PARAMS: &[ParamInfo] = &[
    ParamInfo::new("freq", "Hz", 0.1, 20000.0, 440.0, "carrier frequency"),
    ParamInfo::new(
        "mix",
        "%",
        0.0,
        100.0,
        100.0,
        "modulated share (0 = dry, 100 = pure ring modulation)",
    ),
    ParamInfo::choice("shape", LFO_SHAPES, 0, "carrier shape"),
];

/// The `ringmod` node type.
pub(crate) const TYPE: NodeType = NodeType {
    name: "ringmod",
    description: "ring modulation by a sine or triangle carrier",
    inputs: &["in"],
    outputs: &["out"],
    params: PARAMS,
    options: &[],
    create: |a: &NodeArgs| Ok(Box::new(RingMod::new(a.values()))),
    stage: None,
};

/// The ring modulator.
#[derive(Debug)]
pub struct RingMod {
    values: [f32; 3],
    rate: f64,
    lfo: Lfo,
    freq: Smoothed,
    mix: Smoothed,
}

impl RingMod {
    /// A ring modulator with parameter values in the order of the node type's `params`.
    pub fn new(values: &[f32]) -> Self {
        let mut v = [0.0; 3];
        for (d, s) in v.iter_mut().zip(values) {
            *d = *s;
        }
        Self {
            values: v,
            rate: 48_000.0,
            lfo: Lfo::new(0.0),
            freq: Smoothed::new(v[0], 1),
            mix: Smoothed::new(v[1] / 100.0, 1),
        }
    }
}

impl Processor for RingMod {
    fn name(&self) -> &'static str {
        "ringmod"
    }

    fn prepare(&mut self, cfg: &StreamConfig) -> Result<(), EngineError> {
        self.rate = f64::from(cfg.sample_rate);
        self.freq = Smoothed::with_time(self.values[0], SMOOTH_MS, cfg.sample_rate);
        self.mix = Smoothed::with_time(self.values[1] / 100.0, SMOOTH_MS, cfg.sample_rate);
        self.reset();
        Ok(())
    }

    fn process(&mut self, inputs: &Inputs<'_>, outputs: &mut Outputs<'_>) {
        let mut out = outputs.port(0);
        let io = split_io(inputs.port(0), &mut out);
        let shape = LfoShape::from_index(self.values[2]);
        let nyq = self.rate * 0.5;
        for n in 0..io.frames {
            let mix = f64::from(self.mix.next());
            let g = (1.0 - mix) + mix * (2.0 * shape.eval(self.lfo.phase) - 1.0);
            for c in 0..io.channels {
                io.outs[c][n] = (f64::from(io.ins[c][n]) * g) as f32;
            }
            self.lfo.advance(f64::from(self.freq.next()).min(nyq) / self.rate);
        }
    }

    fn reset(&mut self) {
        self.lfo = Lfo::new(0.0);
        self.freq.set_immediate(self.values[0]);
        self.mix.set_immediate(self.values[1] / 100.0);
    }

    fn params(&self) -> &'static [ParamInfo] {
        PARAMS
    }

    fn set_param(&mut self, index: usize, value: f32) {
        match index {
            0 => self.freq.set_target(value),
            1 => self.mix.set_target(value / 100.0),
            _ => {}
        }
        if index < self.values.len() {
            self.values[index] = value;
        }
    }
}
