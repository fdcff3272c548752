//! `phaser`: cascaded first-order all-pass stages swept by an LFO, with feedback.
//!
//! # What
//! Each stage is `A(z) = (a + z⁻¹)/(1 + a z⁻¹)` with `a = (t − 1)/(t + 1)`, `t = tan(π f/fs)`, whose phase
//! passes −90° at `f`. The break frequency sweeps exponentially between `min_freq` and `max_freq`:
//! `f[n] = min_freq·(max_freq/min_freq)^L(φₙ + c·phase)` (`L` the unipolar LFO of [`super::common`],
//! `φₙ = n·rate/fs`). With `u[n] = x[n] + feedback·s[n − 1]` and `s = Aₙ(…A₁(u))`:
//!
//! ```text
//! y[n] = (1 − mix)·x[n] + mix·s[n]
//! ```
//!
//! At `mix = 50 %` the output has a notch wherever the cascade's phase reaches −180° (mod 360°): `stages/2`
//! notches that move with the LFO (J. O. Smith, *Physical Audio Signal Processing*, "Phasing with
//! first-order allpass filters"). sox's `phaser` is a different effect (a modulated feedback delay), so it is
//! not a reference here.
//!
//! # How
//! Transposed direct form per stage in `f64`, coefficient recomputed every sample from the LFO; parameters
//! follow 20 ms linear ramps.
//!
//! # Real-time safety
//! Arithmetic only; state is fixed-size.

use tutti_engine::{
    EngineError, Inputs, NodeArgs, NodeType, Outputs, ParamInfo, Processor, Smoothed, StreamConfig,
};

use super::common::{flush, split_io, Lfo, LfoShape, LFO_SHAPES, SMOOTH_MS};

const MAX_STAGES: usize = 12;

const PARAMS: &[ParamInfo] = &[
    ParamInfo::new(
        "stages",
        "",
        1.0,
        12.0,
        4.0,
        "number of all-pass stages (2 per notch)",
    ),
    ParamInfo::new(
        "min_freq",
        "Hz",
        20.0,
        10000.0,
        300.0,
        "lowest break frequency of the sweep",
    ),
    ParamInfo::new(
        "max_freq",
        "Hz",
        20.0,
        20000.0,
        3000.0,
        "highest break frequency of the sweep",
    ),
    ParamInfo::new("rate", "Hz", 0.01, 10.0, 0.5, "sweep frequency"),
    ParamInfo::new(
        "feedback",
        "%",
        -95.0,
        95.0,
        40.0,
        "output of the cascade fed back to its input",
    ),
    ParamInfo::new(
        "mix",
        "%",
        0.0,
        100.0,
        50.0,
        "share of the all-pass path (50 = deepest notches)",
    ),
    ParamInfo::choice("shape", LFO_SHAPES, 0, "sweep shape"),
    ParamInfo::new(
        "phase",
        "%",
        0.0,
        100.0,
        25.0,
        "sweep phase shift of the right channel, in % of a cycle",
    ),
];

/// The `phaser` node type.
pub(crate) const TYPE: NodeType = NodeType {
    name: "phaser",
    description: "phaser: swept cascade of first-order all-pass stages with feedback",
    inputs: &["in"],
    outputs: &["out"],
    params: PARAMS,
    options: &[],
    create: |a: &NodeArgs| Ok(Box::new(Phaser::new(a.values()))),
    stage: None,
};

const SMOOTHED: [usize; 6] = [1, 2, 3, 4, 5, 7];

/// The phaser processor.
#[derive(Debug)]
pub struct Phaser {
    values: [f32; 8],
    rate: f64,
    state: [[f64; MAX_STAGES]; 2],
    last: [f64; 2],
    lfo: Lfo,
    sm: [Smoothed; 6],
}

impl Phaser {
    /// A phaser with parameter values in the order of the node type's `params`.
    pub fn new(values: &[f32]) -> Self {
        let mut v = [0.0; 8];
        for (d, s) in v.iter_mut().zip(values) {
            *d = *s;
        }
        Self {
            values: v,
            rate: 48_000.0,
            state: [[0.0; MAX_STAGES]; 2],
            last: [0.0; 2],
            lfo: Lfo::new(0.0),
            sm: SMOOTHED.map(|i| Smoothed::new(v[i], 1)),
        }
    }
}

impl Processor for Phaser {
    fn name(&self) -> &'static str {
        "phaser"
    }

    fn prepare(&mut self, cfg: &StreamConfig) -> Result<(), EngineError> {
        self.rate = f64::from(cfg.sample_rate);
        self.sm = SMOOTHED.map(|i| Smoothed::with_time(self.values[i], SMOOTH_MS, cfg.sample_rate));
        self.reset();
        Ok(())
    }

    fn process(&mut self, inputs: &Inputs<'_>, outputs: &mut Outputs<'_>) {
        let mut out = outputs.port(0);
        let io = split_io(inputs.port(0), &mut out);
        let shape = LfoShape::from_index(self.values[6]);
        let stages = (self.values[0].round() as usize).clamp(1, MAX_STAGES);
        let nyq = 0.49 * self.rate;
        for n in 0..io.frames {
            let [fmin, fmax, rate, fb, mix, phase] = self.sm.each_mut().map(|s| f64::from(s.next()));
            let (fb, mix, phase) = (fb / 100.0, mix / 100.0, phase / 100.0);
            let (fmin, fmax) = (fmin.min(nyq), fmax.min(nyq));
            for c in 0..io.channels.min(2) {
                let x = f64::from(io.ins[c][n]);
                let f = fmin * (fmax / fmin).powf(shape.eval(self.lfo.phase + c as f64 * phase));
                let t = (std::f64::consts::PI * f / self.rate).tan();
                let a = (t - 1.0) / (t + 1.0);
                let mut u = x + fb * self.last[c];
                for z in self.state[c].iter_mut().take(stages) {
                    let y = a * u + *z;
                    *z = flush(u - a * y);
                    u = y;
                }
                self.last[c] = u;
                io.outs[c][n] = ((1.0 - mix) * x + mix * u) as f32;
            }
            self.lfo.advance(rate / self.rate);
        }
    }

    fn reset(&mut self) {
        self.state = [[0.0; MAX_STAGES]; 2];
        self.last = [0.0; 2];
        self.lfo = Lfo::new(0.0);
        for (s, &i) in self.sm.iter_mut().zip(&SMOOTHED) {
            s.set_immediate(self.values[i]);
        }
    }

    fn params(&self) -> &'static [ParamInfo] {
        PARAMS
    }

    fn set_param(&mut self, index: usize, value: f32) {
        if index < self.values.len() {
            self.values[index] = value;
        }
        if let Some(k) = SMOOTHED.iter().position(|&i| i == index) {
            self.sm[k].set_target(value);
        }
    }
}
