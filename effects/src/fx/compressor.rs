//! `compressor`: feed-forward dynamic range compressor after Giannoulis, Massberg & Reiss (2012).
//!
//! # What
//! D. Giannoulis, M. Massberg, J. D. Reiss, "Digital Dynamic Range Compressor Design — A Tutorial and
//! Analysis", JAES 60(6):399–408, 2012. With `x_G = 20·log10|s|` the level of the detector signal `s`
//! (the input, or the `sidechain` port; stereo channels are linked by taking the larger magnitude), the
//! soft-knee gain computer (their eq. 4), threshold `T`, ratio `R`, knee width `W`:
//!
//! ```text
//! y_G = x_G                                   if 2(x_G − T) < −W
//! y_G = x_G + (1/R − 1)(x_G − T + W/2)²/(2W)  if 2|x_G − T| ≤ W
//! y_G = T + (x_G − T)/R                       if 2(x_G − T) > W
//! ```
//!
//! the gain reduction `x_L = x_G − y_G` is smoothed in the log domain by their "smooth branching" peak
//! detector (eq. 17),
//!
//! ```text
//! y_L[n] = α_A·y_L[n−1] + (1 − α_A)·x_L[n]    if x_L[n] > y_L[n−1]
//! y_L[n] = α_R·y_L[n−1] + (1 − α_R)·x_L[n]    otherwise
//! ```
//!
//! with `α = exp(−1/(τ·fs))` for the attack and release times `τ` (the time the detector takes to reach
//! `1 − 1/e` ≈ 63 % of a step, their eq. 7), and the output is `y = x·10^((M − y_L)/20)` with make-up gain
//! `M`. The static curve (steady input level → output level) is exactly `y_G + M`.
//!
//! # How
//! Per-frame arithmetic in `f64`. Threshold, ratio and knee changes act through the detector (so they are
//! smoothed by the attack/release times); the make-up gain follows a 20 ms linear ramp. The current gain
//! reduction is published as the meter `gain_reduction_db`.
//!
//! # Real-time safety
//! Arithmetic only; the meter is an atomic store per block.

use std::sync::Arc;

use tutti_engine::{
    EngineError, Inputs, Meters, NodeArgs, NodeType, Outputs, ParamInfo, Processor, Smoothed, StreamConfig,
};

use super::common::{db_to_lin, split_io, SMOOTH_MS};

const PARAMS: &[ParamInfo] = &[
    ParamInfo::new("threshold", "dB", -60.0, 0.0, -18.0, "threshold T (dBFS)"),
    ParamInfo::new(
        "ratio",
        "ratio",
        1.0,
        50.0,
        4.0,
        "compression ratio R (input dB per output dB above T)",
    ),
    ParamInfo::new(
        "knee",
        "dB",
        0.0,
        24.0,
        6.0,
        "knee width W, centred on the threshold",
    ),
    ParamInfo::new(
        "attack",
        "ms",
        0.05,
        500.0,
        10.0,
        "attack time constant (63 % of a step)",
    ),
    ParamInfo::new(
        "release",
        "ms",
        1.0,
        5000.0,
        100.0,
        "release time constant (63 % of a step)",
    ),
    ParamInfo::new("makeup", "dB", -24.0, 40.0, 0.0, "make-up gain M"),
    ParamInfo::choice(
        "detector",
        &["input", "sidechain"],
        0,
        "signal that drives the gain: the input or port 2",
    ),
];

/// The `compressor` node type.
pub(crate) const TYPE: NodeType = NodeType {
    name: "compressor",
    description: "soft-knee compressor (Giannoulis-Massberg-Reiss 2012) with optional side-chain input",
    inputs: &["in", "sidechain"],
    outputs: &["out"],
    params: PARAMS,
    options: &[],
    create: |a: &NodeArgs| Ok(Box::new(Compressor::new(a.values()))),
    stage: None,
};

/// The static curve of the gain computer: output level in dB for input level `x` dB.
pub fn gain_computer(x: f64, t: f64, r: f64, w: f64) -> f64 {
    let d = x - t;
    if 2.0 * d < -w {
        x
    } else if 2.0 * d.abs() <= w && w > 0.0 {
        x + (1.0 / r - 1.0) * (d + w / 2.0).powi(2) / (2.0 * w)
    } else {
        t + d / r
    }
}

/// The compressor processor.
#[derive(Debug)]
pub struct Compressor {
    values: [f32; 7],
    rate: f64,
    alpha_a: f64,
    alpha_r: f64,
    y_l: f64,
    makeup: Smoothed,
    meters: Arc<Meters>,
}

impl Compressor {
    /// A compressor with parameter values in the order of the node type's `params`.
    pub fn new(values: &[f32]) -> Self {
        let mut v = [0.0; 7];
        for (d, s) in v.iter_mut().zip(values) {
            *d = *s;
        }
        let mut c = Self {
            values: v,
            rate: 48_000.0,
            alpha_a: 0.0,
            alpha_r: 0.0,
            y_l: 0.0,
            makeup: Smoothed::new(v[5], 1),
            meters: Meters::new(&["gain_reduction_db"]),
        };
        c.times();
        c
    }

    fn times(&mut self) {
        let a = |ms: f32| (-1.0 / (f64::from(ms) / 1000.0 * self.rate)).exp();
        self.alpha_a = a(self.values[3]);
        self.alpha_r = a(self.values[4]);
    }
}

impl Processor for Compressor {
    fn name(&self) -> &'static str {
        "compressor"
    }

    fn num_inputs(&self) -> usize {
        2
    }

    fn prepare(&mut self, cfg: &StreamConfig) -> Result<(), EngineError> {
        self.rate = f64::from(cfg.sample_rate);
        self.makeup = Smoothed::with_time(self.values[5], SMOOTH_MS, cfg.sample_rate);
        self.times();
        self.reset();
        Ok(())
    }

    fn process(&mut self, inputs: &Inputs<'_>, outputs: &mut Outputs<'_>) {
        let side = inputs.port(1);
        let use_side = self.values[6] >= 0.5;
        let mut out = outputs.port(0);
        let io = split_io(inputs.port(0), &mut out);
        let (t, r, w) = (
            f64::from(self.values[0]),
            f64::from(self.values[1]),
            f64::from(self.values[2]),
        );
        let [i0, i1] = io.ins;
        let [o0, o1] = io.outs;
        let side_ch = side.channels().min(2);
        for n in 0..io.frames {
            let level = if use_side {
                (0..side_ch).fold(0.0f32, |m, c| m.max(side.channel(c)[n].abs()))
            } else if io.channels > 1 {
                i0[n].abs().max(i1[n].abs())
            } else {
                i0[n].abs()
            };
            let x_g = 20.0 * f64::from(level).max(1e-10).log10();
            let x_l = x_g - gain_computer(x_g, t, r, w);
            let a = if x_l > self.y_l {
                self.alpha_a
            } else {
                self.alpha_r
            };
            self.y_l = a * self.y_l + (1.0 - a) * x_l;
            if self.y_l < 1e-12 {
                self.y_l = 0.0;
            }
            let g = db_to_lin(f64::from(self.makeup.next()) - self.y_l);
            o0[n] = (f64::from(i0[n]) * g) as f32;
            if io.channels > 1 {
                o1[n] = (f64::from(i1[n]) * g) as f32;
            }
        }
        self.meters.set(0, self.y_l);
    }

    fn reset(&mut self) {
        self.y_l = 0.0;
        self.makeup.set_immediate(self.values[5]);
    }

    fn params(&self) -> &'static [ParamInfo] {
        PARAMS
    }

    fn set_param(&mut self, index: usize, value: f32) {
        if index < self.values.len() {
            self.values[index] = value;
        }
        match index {
            3 | 4 => self.times(),
            5 => self.makeup.set_target(value),
            _ => {}
        }
    }

    fn meters(&self) -> Option<Arc<Meters>> {
        Some(self.meters.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::gain_computer;

    #[test]
    fn curve_is_continuous_at_knee_edges() {
        let (t, r, w) = (-20.0, 4.0, 10.0);
        for x in [-25.0, -15.0] {
            let a = gain_computer(x - 1e-9, t, r, w);
            let b = gain_computer(x + 1e-9, t, r, w);
            assert!((a - b).abs() < 1e-6, "jump at {x}: {a} vs {b}");
        }
        assert_eq!(gain_computer(-40.0, t, r, w), -40.0);
        assert_eq!(gain_computer(0.0, t, r, w), -15.0);
        // Hard knee.
        assert_eq!(gain_computer(-10.0, t, r, 0.0), -17.5);
    }
}
