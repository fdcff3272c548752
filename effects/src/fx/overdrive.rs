//! `overdrive`: a `tanh` waveshaper run at 4× (or 8×) the sample rate so that its harmonics do not alias.
//!
//! # What
//! `y = (1 − mix)·x + mix·level·tanh(drive·x)` (`drive`, `level` given in dB), the dry path delayed to line
//! up with the oversampled wet path.
//!
//! # How
//! The input is interpolated by the oversampling factor with a 100 dB Kaiser low-pass (pass band to
//! 0.40 fs, stop band from 0.5 fs; see [`super::common`]), shaped at the high rate, and decimated by
//! the same filter. Harmonics between 0.5 fs and `(factor − 0.5)·fs` are removed before decimation
//! instead of folding back into the audio band; the remaining aliases come only from harmonics above
//! `(factor − 0.5)·fs`, which `tanh` makes small. The latency is the filters' delay, the same number of
//! input samples at 4× and 8× ([`Processor::latency`], 65 samples). `oversample=1` turns oversampling off (for comparisons). Parameters follow 20 ms ramps.
//!
//! # Real-time safety
//! `prepare` builds the filters; `process` is arithmetic on preallocated histories.

use tutti_engine::{
    EngineError, Inputs, NodeArgs, NodeType, Outputs, ParamInfo, Processor, Smoothed, StreamConfig,
};

use super::common::{db_to_lin, split_io, DelayLine, Oversampler, SMOOTH_MS};

const PARAMS: &[ParamInfo] = &[
    ParamInfo::new("drive", "dB", 0.0, 48.0, 18.0, "gain in front of the tanh shaper"),
    ParamInfo::new(
        "level",
        "dB",
        -40.0,
        12.0,
        -6.0,
        "output level of the shaped signal",
    ),
    ParamInfo::new("mix", "%", 0.0, 100.0, 100.0, "share of the shaped signal"),
];

/// The `overdrive` node type.
pub(crate) const TYPE: NodeType = NodeType {
    name: "overdrive",
    description: "tanh overdrive, oversampled 4x (or 8x) against aliasing",
    inputs: &["in"],
    outputs: &["out"],
    params: PARAMS,
    options: &[("oversample", "oversampling factor: 4 (default), 8, or 1 = off")],
    create: |a: &NodeArgs| {
        let f = match a.option("oversample").map(str::trim) {
            None | Some("4") => 4,
            Some("8") => 8,
            Some("1") => 1,
            Some(s) => return Err(a.error("oversample", format!("expected 1, 4 or 8, got '{s}'"))),
        };
        Ok(Box::new(Overdrive::new(a.values(), f)))
    },
    stage: None,
};

/// The overdrive processor.
#[derive(Debug)]
pub struct Overdrive {
    values: [f32; 3],
    factor: usize,
    os: Vec<Oversampler>,
    dry: Vec<DelayLine>,
    drive: Smoothed,
    level: Smoothed,
    mix: Smoothed,
}

impl Overdrive {
    /// An overdrive with parameter values in the order of the node type's `params`, oversampled by
    /// `factor` (1, 4 or 8).
    pub fn new(values: &[f32], factor: usize) -> Self {
        let mut v = [0.0; 3];
        for (d, s) in v.iter_mut().zip(values) {
            *d = *s;
        }
        Self {
            values: v,
            factor: factor.clamp(1, 8),
            os: Vec::new(),
            dry: Vec::new(),
            drive: Smoothed::new(0.0, 1),
            level: Smoothed::new(0.0, 1),
            mix: Smoothed::new(0.0, 1),
        }
    }

    fn latency_frames(&self) -> usize {
        self.os.first().map_or(0, Oversampler::latency)
    }
}

impl Processor for Overdrive {
    fn name(&self) -> &'static str {
        "overdrive"
    }

    fn prepare(&mut self, cfg: &StreamConfig) -> Result<(), EngineError> {
        let ch = cfg.channels.min(2);
        self.os = if self.factor > 1 {
            (0..ch).map(|_| Oversampler::new(self.factor)).collect()
        } else {
            Vec::new()
        };
        let lat = self.latency_frames();
        self.dry = (0..ch).map(|_| DelayLine::new(lat + 1)).collect();
        let sm = |v: f32| Smoothed::with_time(v, SMOOTH_MS, cfg.sample_rate);
        self.drive = sm(db_to_lin(f64::from(self.values[0])) as f32);
        self.level = sm(db_to_lin(f64::from(self.values[1])) as f32);
        self.mix = sm(self.values[2] / 100.0);
        self.reset();
        Ok(())
    }

    fn process(&mut self, inputs: &Inputs<'_>, outputs: &mut Outputs<'_>) {
        let mut out = outputs.port(0);
        let io = split_io(inputs.port(0), &mut out);
        let ch = io.channels.min(self.dry.len());
        let lat = self.latency_frames();
        let mut fast = [0.0f64; 8];
        let fast = &mut fast[..self.factor];
        for n in 0..io.frames {
            let g = f64::from(self.drive.next());
            let lv = f64::from(self.level.next());
            let mix = f64::from(self.mix.next());
            for c in 0..ch {
                let x = f64::from(io.ins[c][n]);
                let wet = if let Some(os) = self.os.get_mut(c) {
                    os.upsample(x, fast);
                    for v in fast.iter_mut() {
                        *v = (g * *v).tanh();
                    }
                    os.downsample(fast)
                } else {
                    (g * x).tanh()
                };
                let d = &mut self.dry[c];
                d.push(x);
                io.outs[c][n] = ((1.0 - mix) * d.at(lat) + mix * lv * wet) as f32;
            }
        }
    }

    fn reset(&mut self) {
        for o in &mut self.os {
            o.reset();
        }
        for d in &mut self.dry {
            d.clear();
        }
        self.drive
            .set_immediate(db_to_lin(f64::from(self.values[0])) as f32);
        self.level
            .set_immediate(db_to_lin(f64::from(self.values[1])) as f32);
        self.mix.set_immediate(self.values[2] / 100.0);
    }

    fn latency(&self) -> usize {
        self.latency_frames()
    }

    fn params(&self) -> &'static [ParamInfo] {
        PARAMS
    }

    fn set_param(&mut self, index: usize, value: f32) {
        if index < self.values.len() {
            self.values[index] = value;
        }
        match index {
            0 => self.drive.set_target(db_to_lin(f64::from(value)) as f32),
            1 => self.level.set_target(db_to_lin(f64::from(value)) as f32),
            2 => self.mix.set_target(value / 100.0),
            _ => {}
        }
    }
}
