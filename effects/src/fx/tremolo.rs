//! `tremolo`: periodic amplitude modulation.
//!
//! # What
//! `y[n] = x[n]·(1 − depth·(1 − L(φₙ + c·phase)))` where `L` is the unipolar LFO shape (see
//! [`super::common`]: sine `(sin 2πφ + 1)/2` or sox's triangle), `φₙ = ¼ + n·rate/fs` and `c` the channel
//! index. The gain swings between 1 and `1 − depth` and starts at 1; with the sine shape this is exactly
//! sox's `tremolo rate depth` (`1 − depth·(1 − cos 2πft)/2`).
//!
//! # How
//! An `f64` phase accumulator; rate, depth and stereo phase follow 20 ms linear ramps.
//!
//! # Real-time safety
//! Arithmetic only.

use tutti_engine::{EngineError, Inputs, NodeArgs, NodeType, Outputs, ParamInfo, Processor, StreamConfig};

use super::common::{split_io, Lfo, LfoShape, ParamSet, LFO_SHAPES};

const PARAMS: &[ParamInfo] = &[
    ParamInfo::new("rate", "Hz", 0.1, 50.0, 5.0, "modulation frequency"),
    ParamInfo::new(
        "depth",
        "%",
        0.0,
        100.0,
        50.0,
        "gain swing: the gain goes from 1 down to 1 − depth",
    ),
    ParamInfo::choice("shape", LFO_SHAPES, 0, "modulation shape"),
    ParamInfo::new(
        "phase",
        "%",
        0.0,
        100.0,
        0.0,
        "LFO phase offset of the right channel, in % of a cycle",
    ),
];

/// The `tremolo` node type.
pub(crate) const TYPE: NodeType = NodeType {
    name: "tremolo",
    description: "tremolo: amplitude modulation by a sine or triangle LFO",
    inputs: &["in"],
    outputs: &["out"],
    params: PARAMS,
    options: &[],
    create: |a: &NodeArgs| Ok(Box::new(Tremolo::new(a.values()))),
    stage: None,
};

/// The tremolo processor.
#[derive(Debug)]
pub struct Tremolo {
    /// Smoothed rate, depth, phase.
    p: ParamSet<4, 3>,
    lfo: Lfo,
}

impl Tremolo {
    /// A tremolo with parameter values in the order of the node type's `params`.
    pub fn new(values: &[f32]) -> Self {
        Self {
            p: ParamSet::new(values, [0, 1, 3]),
            lfo: Lfo::new(0.25),
        }
    }
}

impl Processor for Tremolo {
    fn name(&self) -> &'static str {
        "tremolo"
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
        let [i0, i1] = io.ins;
        let [o0, o1] = io.outs;
        for n in 0..io.frames {
            let [speed, depth, ph] = self.p.next();
            let (depth, ph) = (depth / 100.0, ph / 100.0);
            let g0 = 1.0 - depth * (1.0 - shape.eval(self.lfo.phase));
            o0[n] = (f64::from(i0[n]) * g0) as f32;
            if io.channels > 1 {
                let g1 = 1.0 - depth * (1.0 - shape.eval(self.lfo.phase + ph));
                o1[n] = (f64::from(i1[n]) * g1) as f32;
            }
            self.lfo.advance(speed / rate);
        }
    }

    fn reset(&mut self) {
        self.lfo = Lfo::new(0.25);
        self.p.reset();
    }

    fn params(&self) -> &'static [ParamInfo] {
        PARAMS
    }

    fn set_param(&mut self, index: usize, value: f32) {
        self.p.set(index, value);
    }
}
