//! `flanger`: a short, swept, interpolated delay with regeneration, defined as sox's `flanger`.
//!
//! # What
//! For channel `c`, with `Dmin = delay·fs/1000`, `Dmax = (delay + depth)·fs/1000` (samples), the unipolar
//! LFO `L` (sine or sox's triangle, see [`super::common`]) and `φₙ = ¾ + n·speed/fs` (the sweep starts
//! at the minimum delay):
//!
//! ```text
//! Dₙ = Dmin + (Dmax − Dmin)·L(φₙ + c·phase)
//! w[n] = x[n] + regen·d[n − 1]
//! d[n] = w delayed by Dₙ samples (linear or quadratic interpolation; Dₙ = 0 is w[n] itself)
//! y[n] = x[n]/(1 + width) + d[n]·width/(1 + width)·(1 − |regen|)
//! ```
//!
//! This is the signal flow and gain staging of sox's `flanger delay depth regen width speed shape phase
//! interp` (sox 14.4 `flanger.c`); sox rounds `Dmin`, `Dmax` to whole samples and tabulates the LFO over
//! `⌊fs/speed⌋` samples in `f32`, so the two agree to table precision when those are whole numbers.
//!
//! # How
//! One `f64` delay line per channel (40 ms + 3 samples). All continuous parameters follow 20 ms linear
//! ramps, so sweeping them while running does not click.
//!
//! # Real-time safety
//! `prepare` sizes the delay lines; `process` is arithmetic only.

use tutti_engine::{EngineError, Inputs, NodeArgs, NodeType, Outputs, ParamInfo, Processor, StreamConfig};

use super::common::{flush, split_io, DelayLine, Lfo, LfoShape, ParamSet, LFO_SHAPES};

const PARAMS: &[ParamInfo] = &[
    ParamInfo::new("delay", "ms", 0.0, 30.0, 0.0, "base (minimum) delay"),
    ParamInfo::new(
        "depth",
        "ms",
        0.0,
        10.0,
        2.0,
        "swept delay added to the base delay",
    ),
    ParamInfo::new(
        "regen",
        "%",
        -95.0,
        95.0,
        0.0,
        "regeneration: delayed signal fed back",
    ),
    ParamInfo::new(
        "width",
        "%",
        0.0,
        100.0,
        71.0,
        "level of the delayed signal mixed with the input",
    ),
    ParamInfo::new("speed", "Hz", 0.1, 10.0, 0.5, "sweeps per second"),
    ParamInfo::choice("shape", LFO_SHAPES, 0, "sweep shape"),
    ParamInfo::new(
        "phase",
        "%",
        0.0,
        100.0,
        25.0,
        "sweep phase shift between channels, in % of a cycle",
    ),
    ParamInfo::choice("interp", &["linear", "quadratic"], 0, "delay-line interpolation"),
];

/// The `flanger` node type.
pub(crate) const TYPE: NodeType = NodeType {
    name: "flanger",
    description: "flanger: swept short delay with regeneration (sox's definition)",
    inputs: &["in"],
    outputs: &["out"],
    params: PARAMS,
    options: &[],
    create: |a: &NodeArgs| Ok(Box::new(Flanger::new(a.values()))),
    stage: None,
};

/// The flanger processor.
#[derive(Debug)]
pub struct Flanger {
    /// Smoothed delay, depth, regen, width, speed, phase.
    p: ParamSet<8, 6>,
    lines: Vec<DelayLine>,
    last: [f64; 2],
    lfo: Lfo,
}

impl Flanger {
    /// A flanger with parameter values in the order of the node type's `params`.
    pub fn new(values: &[f32]) -> Self {
        Self {
            p: ParamSet::new(values, [0, 1, 2, 3, 4, 6]),
            lines: Vec::new(),
            last: [0.0; 2],
            lfo: Lfo::new(0.75),
        }
    }
}

impl Processor for Flanger {
    fn name(&self) -> &'static str {
        "flanger"
    }

    fn prepare(&mut self, cfg: &StreamConfig) -> Result<(), EngineError> {
        self.p.prepare(cfg.sample_rate);
        let max = (40.0 * self.p.rate() / 1000.0).ceil() as usize + 3;
        self.lines = (0..cfg.channels.min(2)).map(|_| DelayLine::new(max)).collect();
        self.reset();
        Ok(())
    }

    fn process(&mut self, inputs: &Inputs<'_>, outputs: &mut Outputs<'_>) {
        let mut out = outputs.port(0);
        let io = split_io(inputs.port(0), &mut out);
        let ch = io.channels.min(self.lines.len());
        let shape = LfoShape::from_index(self.p.value(5));
        let quadratic = self.p.value(7) >= 0.5;
        let rate = self.p.rate();
        let ms = rate / 1000.0;
        for n in 0..io.frames {
            let [delay, depth, regen, width, speed, phase] = self.p.next();
            let (regen, width, phase) = (regen / 100.0, width / 100.0, phase / 100.0);
            let dmin = delay * ms;
            let span = depth * ms;
            let in_gain = 1.0 / (1.0 + width);
            let delay_gain = width / (1.0 + width) * (1.0 - regen.abs());
            for c in 0..ch {
                let x = f64::from(io.ins[c][n]);
                let d = dmin + span * shape.eval(self.lfo.phase + c as f64 * phase);
                let line = &mut self.lines[c];
                line.push(flush(x + self.last[c] * regen));
                let delayed = if quadratic {
                    line.quadratic(d)
                } else {
                    line.linear(d)
                };
                self.last[c] = delayed;
                io.outs[c][n] = (x * in_gain + delayed * delay_gain) as f32;
            }
            self.lfo.advance(speed / rate);
        }
    }

    fn reset(&mut self) {
        for l in &mut self.lines {
            l.clear();
        }
        self.last = [0.0; 2];
        self.lfo = Lfo::new(0.75);
        self.p.reset();
    }

    fn params(&self) -> &'static [ParamInfo] {
        PARAMS
    }

    fn set_param(&mut self, index: usize, value: f32) {
        self.p.set(index, value);
    }
}
