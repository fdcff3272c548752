//! `gain`: a smoothed gain in dB.
//!
//! # What
//! Multiplies every channel by `10^(db/20)`.
//!
//! # How
//! The linear gain follows parameter changes with a 20 ms linear ramp ([`Smoothed`]), so changes make no
//! zipper noise.
//!
//! # Real-time safety
//! `process` is arithmetic only.

use tutti_engine::{
    EngineError, Inputs, NodeArgs, NodeType, Outputs, ParamInfo, Processor, Smoothed, StreamConfig,
};

const PARAMS: &[ParamInfo] = &[ParamInfo::new("db", "dB", -120.0, 48.0, 0.0, "gain in decibels")];

/// The `gain` node type.
pub(crate) const TYPE: NodeType = NodeType {
    name: "gain",
    description: "gain in dB, smoothed",
    inputs: &["in"],
    outputs: &["out"],
    params: PARAMS,
    options: &[],
    create: |a: &NodeArgs| Ok(Box::new(Gain::new(a.get("db")))),
    stage: None,
};

fn db_to_lin(db: f32) -> f32 {
    if db <= -120.0 {
        0.0
    } else {
        10f32.powf(db / 20.0)
    }
}

/// A smoothed gain stage.
#[derive(Debug, Clone)]
pub struct Gain {
    db: f32,
    gain: Smoothed,
}

impl Gain {
    /// A gain of `db` decibels.
    pub fn new(db: f32) -> Self {
        Self {
            db,
            gain: Smoothed::new(db_to_lin(db), 1),
        }
    }
}

impl Processor for Gain {
    fn name(&self) -> &'static str {
        "gain"
    }

    fn prepare(&mut self, cfg: &StreamConfig) -> Result<(), EngineError> {
        self.gain = Smoothed::with_time(db_to_lin(self.db), 20.0, cfg.sample_rate);
        Ok(())
    }

    fn process(&mut self, inputs: &Inputs<'_>, outputs: &mut Outputs<'_>) {
        let input = inputs.port(0);
        let mut out = outputs.port(0);
        let channels = input.channels();
        if !self.gain.is_ramping() {
            let g = self.gain.current();
            for c in 0..channels {
                for (o, &x) in out.channel_mut(c).iter_mut().zip(input.channel(c)) {
                    *o = x * g;
                }
            }
            return;
        }
        // Ramp: every channel follows the same gain trajectory.
        let start = self.gain;
        for c in 0..channels {
            let mut g = start;
            for (o, &x) in out.channel_mut(c).iter_mut().zip(input.channel(c)) {
                *o = x * g.next();
            }
            if c + 1 == channels {
                self.gain = g;
            }
        }
    }

    fn reset(&mut self) {
        let target = self.gain.target();
        self.gain.set_immediate(target);
    }

    fn params(&self) -> &'static [ParamInfo] {
        PARAMS
    }

    fn set_param(&mut self, index: usize, value: f32) {
        if index == 0 {
            self.db = value;
            self.gain.set_target(db_to_lin(value));
        }
    }
}
