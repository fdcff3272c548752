//! `chorus`: several slowly modulated delayed copies of the input.
//!
//! # What
//! `voices` copies (`v = 0 … voices − 1`), each delayed by
//! `Dᵥ[n] = (delay + depth·L(φₙ + v/4 + c·stereo))·fs/1000` samples,
//! `L` the unipolar LFO (see [`super::common`]), `φₙ = n·speed/fs`:
//!
//! ```text
//! y[n] = (1 − mix)·x[n] + mix·(1/voices)·Σᵥ x[n − Dᵥ[n]]
//! ```
//!
//! The delays stay above `delay ≥ 5 ms`, so the copies are heard as separate voices, and the pitch of
//! each voice wobbles by at most `±π·speed·depth/1000` relative (±0.38 % ≈ ±6.5 cents with the
//! defaults 3 ms and 0.4 Hz), the "slight pitch modulation" of a chorus. The voices sit a quarter cycle
//! apart (fixed slots, so changing the count only fades voices in or out); the right channel is offset by
//! `stereo` of a cycle.
//!
//! sox's `chorus` reads whole-sample delays from integer tables; this node interpolates (three-point
//! Lagrange), so the two differ by the quantisation of sox's delays.
//!
//! # How
//! One `f64` delay line per channel (60 ms + 3 samples); parameters follow 20 ms linear ramps.
//!
//! # Real-time safety
//! `prepare` sizes the delay lines; `process` is arithmetic only.

use tutti_engine::{
    EngineError, Inputs, NodeArgs, NodeType, Outputs, ParamInfo, Processor, Smoothed, StreamConfig,
};

use super::common::{split_io, DelayLine, Lfo, LfoShape, ParamSet, LFO_SHAPES, SMOOTH_MS};

const PARAMS: &[ParamInfo] = &[
    ParamInfo::new("voices", "", 1.0, 4.0, 3.0, "number of delayed voices"),
    ParamInfo::new("delay", "ms", 5.0, 50.0, 20.0, "minimum delay of the voices"),
    ParamInfo::new("depth", "ms", 0.0, 10.0, 3.0, "swept delay added to the minimum"),
    ParamInfo::new("speed", "Hz", 0.05, 5.0, 0.4, "sweep frequency"),
    ParamInfo::new("mix", "%", 0.0, 100.0, 50.0, "share of the voices in the output"),
    ParamInfo::choice("shape", LFO_SHAPES, 0, "sweep shape"),
    ParamInfo::new(
        "stereo",
        "%",
        0.0,
        100.0,
        25.0,
        "sweep phase shift of the right channel, in % of a cycle",
    ),
];

/// The `chorus` node type.
pub(crate) const TYPE: NodeType = NodeType {
    name: "chorus",
    description: "chorus: up to 4 voices delayed by more than 5 ms with slow delay modulation",
    inputs: &["in"],
    outputs: &["out"],
    params: PARAMS,
    options: &[],
    create: |a: &NodeArgs| Ok(Box::new(Chorus::new(a.values()))),
    stage: None,
};

/// The chorus processor.
#[derive(Debug)]
pub struct Chorus {
    /// Smoothed delay, depth, speed, mix, stereo.
    p: ParamSet<7, 5>,
    lines: Vec<DelayLine>,
    lfo: Lfo,
    /// Per-voice level, ramped when the voice count changes.
    voice_gain: [Smoothed; 4],
}

impl Chorus {
    /// A chorus with parameter values in the order of the node type's `params`.
    pub fn new(values: &[f32]) -> Self {
        Self {
            p: ParamSet::new(values, [1, 2, 3, 4, 6]),
            lines: Vec::new(),
            lfo: Lfo::new(0.0),
            voice_gain: [Smoothed::new(0.0, 1); 4],
        }
    }

    fn voices(&self) -> usize {
        (self.p.value(0).round() as usize).clamp(1, 4)
    }

    fn voice_targets(&mut self, immediate: bool) {
        let nv = self.voices();
        for (v, g) in self.voice_gain.iter_mut().enumerate() {
            let t = if v < nv { 1.0 / nv as f32 } else { 0.0 };
            if immediate {
                g.set_immediate(t);
            } else {
                g.set_target(t);
            }
        }
    }
}

impl Processor for Chorus {
    fn name(&self) -> &'static str {
        "chorus"
    }

    fn prepare(&mut self, cfg: &StreamConfig) -> Result<(), EngineError> {
        self.p.prepare(cfg.sample_rate);
        let max = (60.0 * self.p.rate() / 1000.0).ceil() as usize + 3;
        self.lines = (0..cfg.channels.min(2)).map(|_| DelayLine::new(max)).collect();
        self.voice_gain = [Smoothed::with_time(0.0, SMOOTH_MS, cfg.sample_rate); 4];
        self.reset();
        Ok(())
    }

    fn process(&mut self, inputs: &Inputs<'_>, outputs: &mut Outputs<'_>) {
        let mut out = outputs.port(0);
        let io = split_io(inputs.port(0), &mut out);
        let ch = io.channels.min(self.lines.len());
        let shape = LfoShape::from_index(self.p.value(5));
        let rate = self.p.rate();
        let ms = rate / 1000.0;
        for n in 0..io.frames {
            let [delay, depth, speed, mix, stereo] = self.p.next();
            let (mix, stereo) = (mix / 100.0, stereo / 100.0);
            let g = self.voice_gain.each_mut().map(|s| f64::from(s.next()));
            for c in 0..ch {
                let x = f64::from(io.ins[c][n]);
                let line = &mut self.lines[c];
                line.push(x);
                let mut wet = 0.0;
                for (v, &gv) in g.iter().enumerate() {
                    if gv != 0.0 {
                        let ph = self.lfo.phase + v as f64 * 0.25 + c as f64 * stereo;
                        let d = (delay + depth * shape.eval(ph)) * ms;
                        wet += gv * line.quadratic(d);
                    }
                }
                io.outs[c][n] = ((1.0 - mix) * x + mix * wet) as f32;
            }
            self.lfo.advance(speed / rate);
        }
    }

    fn reset(&mut self) {
        for l in &mut self.lines {
            l.clear();
        }
        self.lfo = Lfo::new(0.0);
        self.p.reset();
        self.voice_targets(true);
    }

    fn params(&self) -> &'static [ParamInfo] {
        PARAMS
    }

    fn set_param(&mut self, index: usize, value: f32) {
        self.p.set(index, value);
        if index == 0 {
            self.voice_targets(false);
        }
    }
}
