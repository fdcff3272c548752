//! `reverse_echo`: the input played backwards in overlapping segments, for "reverse swell" effects.
//!
//! # What
//! Segments ("grains") of `L = 2·round(segment·fs/2000)` samples start every `H = L/2` samples. The grain
//! starting at `t₀` plays the `L` samples *before* `t₀` backwards, under a `sin²` window:
//!
//! ```text
//! gₜ₀[n] = sin²(π(n − t₀)/L) · x[t₀ − 1 − (n − t₀)]        for t₀ ≤ n < t₀ + L
//! y[n]   = dry·x[n] + wet·Σₜ₀ gₜ₀[n]
//! ```
//!
//! so sample `k` of a grain is the input delayed by `2k + 1` samples. Two grains overlap at any time and
//! their windows sum to exactly 1 (`sin² + cos²`), so a steady input comes back at a steady level; every
//! note is heard reversed, swelling up to the moment it was played, one segment later.
//!
//! # How
//! One `f64` delay line of `2L` samples per channel and three grain slots. A new segment length takes
//! effect at the next grain start (windows start and end at zero, so the change does not click); levels
//! follow 20 ms linear ramps.
//!
//! # Real-time safety
//! `prepare` sizes the delay lines for the longest segment; `process` is arithmetic only.

use tutti_engine::{
    EngineError, Inputs, NodeArgs, NodeType, Outputs, ParamInfo, Processor, Smoothed, StreamConfig,
};

use super::common::{split_io, DelayLine, SMOOTH_MS};

const MAX_MS: f32 = 2000.0;
const SLOTS: usize = 3;

const PARAMS: &[ParamInfo] = &[
    ParamInfo::new(
        "segment",
        "ms",
        20.0,
        MAX_MS,
        400.0,
        "length of the reversed segments",
    ),
    ParamInfo::new("wet", "%", 0.0, 100.0, 70.0, "level of the reversed signal"),
    ParamInfo::new("dry", "%", 0.0, 100.0, 100.0, "level of the direct signal"),
];

/// The `reverse_echo` node type.
pub(crate) const TYPE: NodeType = NodeType {
    name: "reverse_echo",
    description: "reverse echo: overlapping windowed segments of the input played backwards (swell effect)",
    inputs: &["in"],
    outputs: &["out"],
    params: PARAMS,
    options: &[],
    create: |a: &NodeArgs| Ok(Box::new(ReverseEcho::new(a.values()))),
    stage: None,
};

#[derive(Debug, Clone, Copy, Default)]
struct Grain {
    k: usize,
    len: usize,
    /// `π / len`, cached.
    w: f64,
}

/// The reverse-echo processor.
#[derive(Debug)]
pub struct ReverseEcho {
    values: [f32; 3],
    rate: f64,
    lines: Vec<DelayLine>,
    grains: [Grain; SLOTS],
    /// Samples until the next grain starts.
    until_next: usize,
    wet: Smoothed,
    dry: Smoothed,
}

impl ReverseEcho {
    /// A reverse echo with parameter values in the order of the node type's `params`.
    pub fn new(values: &[f32]) -> Self {
        let mut v = [0.0; 3];
        for (d, s) in v.iter_mut().zip(values) {
            *d = *s;
        }
        Self {
            values: v,
            rate: 48_000.0,
            lines: Vec::new(),
            grains: [Grain::default(); SLOTS],
            until_next: 0,
            wet: Smoothed::new(v[1] / 100.0, 1),
            dry: Smoothed::new(v[2] / 100.0, 1),
        }
    }

    fn segment_len(&self) -> usize {
        (2.0 * (f64::from(self.values[0]) * self.rate / 2000.0).round()).max(2.0) as usize
    }

    fn start_grain(&mut self) {
        let len = self.segment_len();
        // A free slot, or else the grain closest to its end.
        let slot = (0..SLOTS)
            .find(|&s| self.grains[s].k >= self.grains[s].len)
            .unwrap_or_else(|| {
                (0..SLOTS)
                    .max_by_key(|&s| self.grains[s].k * 1_000_000 / self.grains[s].len.max(1))
                    .unwrap_or(0)
            });
        self.grains[slot] = Grain {
            k: 0,
            len,
            w: std::f64::consts::PI / len as f64,
        };
        self.until_next = len / 2;
    }
}

impl Processor for ReverseEcho {
    fn name(&self) -> &'static str {
        "reverse_echo"
    }

    fn prepare(&mut self, cfg: &StreamConfig) -> Result<(), EngineError> {
        self.rate = f64::from(cfg.sample_rate);
        let max = 2 * (f64::from(MAX_MS) * self.rate / 1000.0).ceil() as usize + 4;
        self.lines = (0..cfg.channels.min(2)).map(|_| DelayLine::new(max)).collect();
        self.wet = Smoothed::with_time(self.values[1] / 100.0, SMOOTH_MS, cfg.sample_rate);
        self.dry = Smoothed::with_time(self.values[2] / 100.0, SMOOTH_MS, cfg.sample_rate);
        self.reset();
        Ok(())
    }

    fn process(&mut self, inputs: &Inputs<'_>, outputs: &mut Outputs<'_>) {
        let mut out = outputs.port(0);
        let io = split_io(inputs.port(0), &mut out);
        let ch = io.channels.min(self.lines.len());
        for n in 0..io.frames {
            if self.until_next == 0 {
                self.start_grain();
            }
            self.until_next -= 1;
            let wet = f64::from(self.wet.next());
            let dry = f64::from(self.dry.next());
            for c in 0..ch {
                let x = f64::from(io.ins[c][n]);
                let line = &mut self.lines[c];
                let mut r = 0.0;
                for g in &self.grains {
                    if g.k < g.len {
                        let s = (g.w * g.k as f64).sin();
                        // Before pushing x[n], `at(2k)` is x[n − 2k − 1].
                        r += s * s * line.at(2 * g.k);
                    }
                }
                line.push(x);
                io.outs[c][n] = (dry * x + wet * r) as f32;
            }
            for g in &mut self.grains {
                if g.k < g.len {
                    g.k += 1;
                }
            }
        }
    }

    fn reset(&mut self) {
        for l in &mut self.lines {
            l.clear();
        }
        self.grains = [Grain::default(); SLOTS];
        self.until_next = 0;
        self.wet.set_immediate(self.values[1] / 100.0);
        self.dry.set_immediate(self.values[2] / 100.0);
    }

    fn params(&self) -> &'static [ParamInfo] {
        PARAMS
    }

    fn set_param(&mut self, index: usize, value: f32) {
        if index < self.values.len() {
            self.values[index] = value;
        }
        match index {
            1 => self.wet.set_target(value / 100.0),
            2 => self.dry.set_target(value / 100.0),
            _ => {}
        }
    }
}
