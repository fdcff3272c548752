//! `tremolo`: periodic amplitude modulation.
//!
//! # What
//! `y[n] = x[n]·(1 − depth·(1 − L(φₙ + c·phase)))` where `L` is the unipolar LFO shape (see
//! [`super::common`]: sine `(sin 2πφ + 1)/2` or sox's triangle), `φₙ = ¼ + n·rate/fs` and `c` the channel
//! index. The gain swings between 1 and `1 − depth` and starts at 1; with the sine shape this is exactly
//! sox's `tremolo rate depth` (`1 − depth·(1 − cos 2πft)/2`).
//!
//! # How
//! An `f64` phase accumulator; rate, depth and stereo phase follow 20 ms linear ramps. [`AmpMod`] is
//! shared with `ringmod`.
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
    create: |a: &NodeArgs| Ok(Box::new(AmpMod::new(AmpKind::Tremolo, a.values()))),
    stage: None,
};

/// What an [`AmpMod`] computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AmpKind {
    /// `g = 1 − depth·(1 − L(φ + c·phase))` (this module).
    Tremolo,
    /// `g = (1 − mix) + mix·(2L(φ) − 1)` ([`super::ringmod`]).
    Ring,
}

/// LFO amplitude modulation shared by `tremolo` and `ringmod`: `y = x·g(φ)`, parameters
/// `[rate/freq, depth/mix (%), shape, phase (%)]` (ringmod has no phase: 0).
#[derive(Debug)]
pub(crate) struct AmpMod {
    kind: AmpKind,
    /// Smoothed rate, depth or mix, phase.
    p: ParamSet<4, 3>,
    lfo: Lfo,
}

impl AmpMod {
    /// A modulator of `kind` with parameter values in the order of the node type's `params`.
    pub(crate) fn new(kind: AmpKind, values: &[f32]) -> Self {
        Self {
            kind,
            p: ParamSet::new(values, [0, 1, 3]),
            lfo: Lfo::new(Self::start(kind)),
        }
    }

    fn start(kind: AmpKind) -> f64 {
        match kind {
            AmpKind::Tremolo => 0.25,
            AmpKind::Ring => 0.0,
        }
    }
}

impl Processor for AmpMod {
    fn name(&self) -> &'static str {
        match self.kind {
            AmpKind::Tremolo => "tremolo",
            AmpKind::Ring => "ringmod",
        }
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
            let [speed, amount, ph] = self.p.next();
            let (amount, ph) = (amount / 100.0, ph / 100.0);
            for c in 0..io.channels {
                let g = match self.kind {
                    AmpKind::Tremolo => 1.0 - amount * (1.0 - shape.eval(self.lfo.phase + c as f64 * ph)),
                    AmpKind::Ring => (1.0 - amount) + amount * (2.0 * shape.eval(self.lfo.phase) - 1.0),
                };
                io.outs[c][n] = (f64::from(io.ins[c][n]) * g) as f32;
            }
            self.lfo.advance(speed.min(nyq) / rate);
        }
    }

    fn reset(&mut self) {
        self.lfo = Lfo::new(Self::start(self.kind));
        self.p.reset();
    }

    fn params(&self) -> &'static [ParamInfo] {
        match self.kind {
            AmpKind::Tremolo => PARAMS,
            AmpKind::Ring => super::ringmod::PARAMS,
        }
    }

    fn set_param(&mut self, index: usize, value: f32) {
        if index < self.params().len() {
            self.p.set(index, value);
        }
    }
}
