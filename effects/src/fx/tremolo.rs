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

use tutti_engine::{
    EngineError, Inputs, NodeArgs, NodeType, Outputs, ParamInfo, Processor, Smoothed, StreamConfig,
};

use super::common::{split_io, Lfo, LfoShape, LFO_SHAPES, SMOOTH_MS};

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
    values: [f32; 4],
    rate: f64,
    lfo: Lfo,
    speed: Smoothed,
    depth: Smoothed,
    phase: Smoothed,
}

impl Tremolo {
    /// A tremolo with parameter values in the order of the node type's `params`.
    pub fn new(values: &[f32]) -> Self {
        let mut v = [0.0; 4];
        for (d, s) in v.iter_mut().zip(values) {
            *d = *s;
        }
        Self {
            values: v,
            rate: 48_000.0,
            lfo: Lfo::new(0.25),
            speed: Smoothed::new(v[0], 1),
            depth: Smoothed::new(v[1] / 100.0, 1),
            phase: Smoothed::new(v[3] / 100.0, 1),
        }
    }
}

impl Processor for Tremolo {
    fn name(&self) -> &'static str {
        "tremolo"
    }

    fn prepare(&mut self, cfg: &StreamConfig) -> Result<(), EngineError> {
        self.rate = f64::from(cfg.sample_rate);
        let sm = |v: f32| Smoothed::with_time(v, SMOOTH_MS, cfg.sample_rate);
        self.speed = sm(self.values[0]);
        self.depth = sm(self.values[1] / 100.0);
        self.phase = sm(self.values[3] / 100.0);
        self.reset();
        Ok(())
    }

    fn process(&mut self, inputs: &Inputs<'_>, outputs: &mut Outputs<'_>) {
        let mut out = outputs.port(0);
        let io = split_io(inputs.port(0), &mut out);
        let shape = LfoShape::from_index(self.values[2]);
        let [i0, i1] = io.ins;
        let [o0, o1] = io.outs;
        for n in 0..io.frames {
            let depth = f64::from(self.depth.next());
            let ph = f64::from(self.phase.next());
            let g0 = 1.0 - depth * (1.0 - shape.eval(self.lfo.phase));
            o0[n] = (f64::from(i0[n]) * g0) as f32;
            if io.channels > 1 {
                let g1 = 1.0 - depth * (1.0 - shape.eval(self.lfo.phase + ph));
                o1[n] = (f64::from(i1[n]) * g1) as f32;
            }
            self.lfo.advance(f64::from(self.speed.next()) / self.rate);
        }
    }

    fn reset(&mut self) {
        self.lfo = Lfo::new(0.25);
        self.speed.set_immediate(self.values[0]);
        self.depth.set_immediate(self.values[1] / 100.0);
        self.phase.set_immediate(self.values[3] / 100.0);
    }

    fn params(&self) -> &'static [ParamInfo] {
        PARAMS
    }

    fn set_param(&mut self, index: usize, value: f32) {
        match index {
            0 => self.speed.set_target(value),
            1 => self.depth.set_target(value / 100.0),
            3 => self.phase.set_target(value / 100.0),
            _ => {}
        }
        if index < self.values.len() {
            self.values[index] = value;
        }
    }
}
