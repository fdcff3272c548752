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

use tutti_engine::{EngineError, Inputs, NodeArgs, NodeType, Outputs, ParamInfo, Processor, StreamConfig};

use super::common::{split_io, Lfo, LfoShape, ParamSet, LFO_SHAPES};

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
    /// Smoothed carrier frequency and mix.
    p: ParamSet<3, 2>,
    lfo: Lfo,
}

impl RingMod {
    /// A ring modulator with parameter values in the order of the node type's `params`.
    pub fn new(values: &[f32]) -> Self {
        Self {
            p: ParamSet::new(values, [0, 1]),
            lfo: Lfo::new(0.0),
        }
    }
}

impl Processor for RingMod {
    fn name(&self) -> &'static str {
        "ringmod"
    }

    fn prepare(&mut self, cfg: &StreamConfig) -> Result<(), EngineError> {
        self.p.prepare(cfg.sample_rate);
        self.reset();
        Ok(())
    }

    fn process(&mut self, inputs: &Inputs<'_>, outputs: &mut Outputs<'_>) {
        let mut out = outputs.port(0);
        let io = split_io(inputs.port(0), &mut out);
        let shape = LfoShape::from_index(self.p.value(2));
        let rate = self.p.rate();
        let nyq = rate * 0.5;
        for n in 0..io.frames {
            let [freq, mix] = self.p.next();
            let mix = mix / 100.0;
            let g = (1.0 - mix) + mix * (2.0 * shape.eval(self.lfo.phase) - 1.0);
            for c in 0..io.channels {
                io.outs[c][n] = (f64::from(io.ins[c][n]) * g) as f32;
            }
            self.lfo.advance(freq.min(nyq) / rate);
        }
    }

    fn reset(&mut self) {
        self.lfo = Lfo::new(0.0);
        self.p.reset();
    }

    fn params(&self) -> &'static [ParamInfo] {
        PARAMS
    }

    fn set_param(&mut self, index: usize, value: f32) {
        self.p.set(index, value);
    }
}
