//! `echo`: multi-tap echo with feedback and damping.
//!
//! # What
//! With `D₁ … D₄` the tap delays in samples (`round(ms · fs / 1000)`; taps 2–4 are off at 0 ms), `g₁ … g₄`
//! their levels, `b` the feedback and `a = exp(−2π·damping/fs)` the damping pole (`a = 0` when
//! `damping = 0`):
//!
//! ```text
//! l[n] = (1 − a)·w[n − D₁] + a·l[n − 1]          (one-pole low-pass on the feedback path)
//! w[n] = x[n] + b·l[n]                           (the recirculating delay line)
//! y[n] = dry·x[n] + Σₖ gₖ·w[n − Dₖ]
//! ```
//!
//! With `feedback = 0` this is sox's `echo gain-in gain-out delay decay …` (`dry = gain-in·gain-out`,
//! `gₖ = decayₖ·gain-out`); the feedback repeats the loop of tap 1 with each repeat darker.
//!
//! # How
//! One `f64` delay line per channel. Levels and feedback follow 20 ms linear ramps; a changed tap delay
//! cross-fades (20 ms) from the old read position to the new one, so moving a tap neither clicks nor
//! sweeps the pitch.
//!
//! # Real-time safety
//! `prepare` sizes the delay lines for 2 s; `process` is arithmetic only.

use tutti_engine::{
    EngineError, Inputs, NodeArgs, NodeType, Outputs, ParamInfo, Processor, Smoothed, StreamConfig,
};

use super::common::{flush, split_io, DelayLine, SMOOTH_MS};

const MAX_MS: f32 = 2000.0;
const TAPS: usize = 4;

const PARAMS: &[ParamInfo] = &[
    ParamInfo::new(
        "delay",
        "ms",
        1.0,
        MAX_MS,
        250.0,
        "delay of tap 1 and of the feedback loop",
    ),
    ParamInfo::new("gain", "%", 0.0, 100.0, 50.0, "level of tap 1"),
    ParamInfo::new(
        "feedback",
        "%",
        -95.0,
        95.0,
        30.0,
        "part of tap 1 fed back into the delay line",
    ),
    ParamInfo::new(
        "damping",
        "Hz",
        0.0,
        20000.0,
        0.0,
        "cut-off of the low-pass in the feedback loop (0 = off)",
    ),
    ParamInfo::new("dry", "%", 0.0, 100.0, 100.0, "level of the direct signal"),
    ParamInfo::new("tap2", "ms", 0.0, MAX_MS, 0.0, "delay of tap 2 (0 = off)"),
    ParamInfo::new("gain2", "%", 0.0, 100.0, 35.0, "level of tap 2"),
    ParamInfo::new("tap3", "ms", 0.0, MAX_MS, 0.0, "delay of tap 3 (0 = off)"),
    ParamInfo::new("gain3", "%", 0.0, 100.0, 25.0, "level of tap 3"),
    ParamInfo::new("tap4", "ms", 0.0, MAX_MS, 0.0, "delay of tap 4 (0 = off)"),
    ParamInfo::new("gain4", "%", 0.0, 100.0, 18.0, "level of tap 4"),
];

/// The `echo` node type.
pub(crate) const TYPE: NodeType = NodeType {
    name: "echo",
    description: "multi-tap echo (up to 4 taps) with feedback and damping",
    inputs: &["in"],
    outputs: &["out"],
    params: PARAMS,
    options: &[],
    create: |a: &NodeArgs| Ok(Box::new(Echo::new(a.values()))),
    stage: None,
};

/// A tap whose delay cross-fades to a new value.
#[derive(Debug, Clone, Copy)]
struct Tap {
    cur: usize,
    next: usize,
    pending: Option<usize>,
    /// Cross-fade position 0..=len (0 = reading `cur` only).
    pos: u32,
    len: u32,
}

impl Tap {
    fn new(d: usize, len: u32) -> Self {
        Self {
            cur: d,
            next: d,
            pending: None,
            pos: 0,
            len: len.max(1),
        }
    }

    fn set(&mut self, d: usize) {
        if self.pos > 0 {
            self.pending = Some(d);
        } else if d != self.cur {
            self.next = d;
            self.pos = 1;
        }
    }

    /// Weights (old, new) for this sample, then advances.
    #[inline]
    fn step(&mut self) -> (usize, usize, f64) {
        if self.pos == 0 {
            return (self.cur, self.cur, 0.0);
        }
        let t = f64::from(self.pos) / f64::from(self.len);
        let r = (self.cur, self.next, t);
        self.pos += 1;
        if self.pos > self.len {
            self.cur = self.next;
            self.pos = 0;
            if let Some(p) = self.pending.take() {
                self.set(p);
            }
        }
        r
    }
}

/// The multi-tap echo processor.
#[derive(Debug)]
pub struct Echo {
    values: [f32; 11],
    rate: f64,
    lines: Vec<DelayLine>,
    lp: [f64; 2],
    taps: [Tap; TAPS],
    fade: u32,
    tap_on: [bool; TAPS],
    gains: [Smoothed; TAPS],
    feedback: Smoothed,
    damp: Smoothed,
    dry: Smoothed,
}

impl Echo {
    /// An echo with parameter values in the order of the node type's `params`.
    pub fn new(values: &[f32]) -> Self {
        let mut v = [0.0; 11];
        for (d, s) in v.iter_mut().zip(values) {
            *d = *s;
        }
        let s = |x: f32| Smoothed::new(x, 1);
        Self {
            values: v,
            rate: 48_000.0,
            lines: Vec::new(),
            lp: [0.0; 2],
            taps: [Tap::new(1, 1); TAPS],
            fade: 1,
            tap_on: [true, false, false, false],
            gains: [s(0.0); TAPS],
            feedback: s(0.0),
            damp: s(0.0),
            dry: s(1.0),
        }
    }

    fn samples(&self, ms: f32) -> usize {
        ((f64::from(ms) * self.rate / 1000.0).round() as usize).max(1)
    }

    fn damp_coeff(&self, hz: f32) -> f32 {
        if hz <= 0.0 {
            0.0
        } else {
            (-2.0 * std::f64::consts::PI * f64::from(hz) / self.rate).exp() as f32
        }
    }

    fn tap_index(k: usize) -> (usize, usize) {
        if k == 0 {
            (0, 1)
        } else {
            (3 + 2 * k, 4 + 2 * k)
        }
    }

    fn configure(&mut self, immediate: bool) {
        for k in 0..TAPS {
            let (ti, gi) = Self::tap_index(k);
            let ms = self.values[ti];
            let on = ms > 0.0;
            let g = if on { self.values[gi] / 100.0 } else { 0.0 };
            if immediate {
                self.taps[k] = Tap::new(self.samples(ms), self.fade);
                self.gains[k].set_immediate(g);
            } else {
                if on && self.tap_on[k] {
                    let d = self.samples(ms);
                    self.taps[k].set(d);
                } else if on {
                    // A tap switched on starts at its delay with its level ramping up from zero.
                    self.taps[k] = Tap::new(self.samples(ms), self.fade);
                }
                self.gains[k].set_target(g);
            }
            self.tap_on[k] = on;
        }
        let fb = self.values[2] / 100.0;
        let damp = self.damp_coeff(self.values[3]);
        let dry = self.values[4] / 100.0;
        if immediate {
            self.feedback.set_immediate(fb);
            self.damp.set_immediate(damp);
            self.dry.set_immediate(dry);
        } else {
            self.feedback.set_target(fb);
            self.damp.set_target(damp);
            self.dry.set_target(dry);
        }
    }
}

impl Processor for Echo {
    fn name(&self) -> &'static str {
        "echo"
    }

    fn prepare(&mut self, cfg: &StreamConfig) -> Result<(), EngineError> {
        self.rate = f64::from(cfg.sample_rate);
        let max = self.samples(MAX_MS) + 1;
        self.lines = (0..cfg.channels.min(2)).map(|_| DelayLine::new(max)).collect();
        let sm = |v: f32| Smoothed::with_time(v, SMOOTH_MS, cfg.sample_rate);
        self.gains = [sm(0.0); TAPS];
        self.feedback = sm(0.0);
        self.damp = sm(0.0);
        self.dry = sm(1.0);
        self.fade = cfg.frames_for_ms(f64::from(SMOOTH_MS)).max(1) as u32;
        self.reset();
        Ok(())
    }

    fn process(&mut self, inputs: &Inputs<'_>, outputs: &mut Outputs<'_>) {
        let mut out = outputs.port(0);
        let io = split_io(inputs.port(0), &mut out);
        let ch = io.channels.min(self.lines.len());
        let [i0, i1] = io.ins;
        let [o0, o1] = io.outs;
        for n in 0..io.frames {
            let fb = f64::from(self.feedback.next());
            let a = f64::from(self.damp.next());
            let dry = f64::from(self.dry.next());
            let mut g = [0.0f64; TAPS];
            let mut rd = [(0usize, 0usize, 0.0f64); TAPS];
            for k in 0..TAPS {
                g[k] = f64::from(self.gains[k].next());
                rd[k] = self.taps[k].step();
            }
            for c in 0..ch {
                let x = f64::from(if c == 0 { i0[n] } else { i1[n] });
                let line = &mut self.lines[c];
                let (d0, d1, t) = rd[0];
                let v = if t == 0.0 {
                    line.at(d0 - 1)
                } else {
                    (1.0 - t) * line.at(d0 - 1) + t * line.at(d1 - 1)
                };
                // `line.at(d − 1)` before pushing w[n] is w[n − d].
                let l = flush((1.0 - a) * v + a * self.lp[c]);
                self.lp[c] = l;
                let mut y = dry * x;
                for k in 0..TAPS {
                    if g[k] != 0.0 {
                        let (d0, d1, t) = rd[k];
                        let r = if t == 0.0 {
                            line.at(d0 - 1)
                        } else {
                            (1.0 - t) * line.at(d0 - 1) + t * line.at(d1 - 1)
                        };
                        y += g[k] * r;
                    }
                }
                line.push(flush(x + fb * l));
                if c == 0 {
                    o0[n] = y as f32;
                } else {
                    o1[n] = y as f32;
                }
            }
        }
    }

    fn reset(&mut self) {
        for l in &mut self.lines {
            l.clear();
        }
        self.lp = [0.0; 2];
        self.configure(true);
    }

    fn params(&self) -> &'static [ParamInfo] {
        PARAMS
    }

    fn set_param(&mut self, index: usize, value: f32) {
        if index < self.values.len() {
            self.values[index] = value;
            self.configure(false);
        }
    }
}
