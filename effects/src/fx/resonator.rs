//! `resonator`: resonances at given frequencies, as a feedback comb or a bank of band-pass filters.
//!
//! # What
//! - `mode=comb`: `v[n] = x[n] + g·v[n − D]` with `D = fs/freq` (fractional, linearly interpolated) and
//!   `g = 10^(−3D/(fs·decay))`, so every harmonic of `freq` rings and decays by 60 dB in `decay` ms;
//!   the output `(1 − g)·v` has 0 dB gain at the resonances.
//! - `mode=bandpass`: RBJ band-pass sections (0 dB at their centre) at `k·freq` for `k = 1 … harmonics`, or
//!   at the frequencies listed in the option `freqs` (e.g. `freqs=220,347,512`), summed. Each section's
//!   pole radius is `ρ = 10^(−3/(fs·decay))`, which makes its impulse response decay by 60 dB in `decay`
//!   ms: from the RBJ form `a₂ = (1 − α)/(1 + α) = ρ²` follows `α = (1 − ρ²)/(1 + ρ²)` and
//!   `Q = sin(ω₀)/(2α)`.
//!
//! `y = (1 − mix)·x + mix·resonator(x)`.
//!
//! # How
//! The comb uses an `f64` delay line of 1/20 Hz; the band-pass bank reuses [`crate::basic::Biquad`].
//! Frequency and decay follow 20 ms ramps: the comb's delay glides, the band-pass coefficients are
//! recomputed every 16 samples along the ramp.
//!
//! # Real-time safety
//! `prepare` sizes the delay lines and filter bank; `process` is arithmetic only.

use tutti_engine::{
    EngineError, Inputs, NodeArgs, NodeType, Outputs, ParamInfo, Processor, Smoothed, StreamConfig,
};

use super::common::{flush, parse_list, split_io, DelayLine, SMOOTH_MS};
use crate::basic::{Biquad, BiquadCoeffs};

const MAX_BANDS: usize = 16;

const PARAMS: &[ParamInfo] = &[
    ParamInfo::new(
        "freq",
        "Hz",
        20.0,
        8000.0,
        220.0,
        "fundamental resonance frequency",
    ),
    ParamInfo::new(
        "decay",
        "ms",
        10.0,
        20000.0,
        1000.0,
        "time for a resonance to decay by 60 dB",
    ),
    ParamInfo::choice(
        "mode",
        &["comb", "bandpass"],
        0,
        "comb (all harmonics) or band-pass bank",
    ),
    ParamInfo::new(
        "harmonics",
        "",
        1.0,
        16.0,
        4.0,
        "band-pass mode: resonances at 1..=harmonics × freq",
    ),
    ParamInfo::new(
        "mix",
        "%",
        0.0,
        100.0,
        100.0,
        "share of the resonator in the output",
    ),
];

/// The `resonator` node type.
pub(crate) const TYPE: NodeType = NodeType {
    name: "resonator",
    description: "resonances at given frequencies: feedback comb or band-pass bank, with a T60 decay",
    inputs: &["in"],
    outputs: &["out"],
    params: PARAMS,
    options: &[(
        "freqs",
        "band-pass mode: comma-separated resonance frequencies in Hz (overrides freq/harmonics)",
    )],
    create: |a: &NodeArgs| {
        let freqs = match a.option("freqs") {
            None => Vec::new(),
            Some(s) => {
                let v = parse_list(s).map_err(|e| a.error("freqs", e))?;
                if v.is_empty() || v.len() > MAX_BANDS || v.iter().any(|f| !(20.0..=20000.0).contains(f)) {
                    return Err(a.error(
                        "freqs",
                        format!("expected 1..={MAX_BANDS} frequencies in 20..=20000 Hz"),
                    ));
                }
                v
            }
        };
        Ok(Box::new(Resonator::new(a.values(), freqs)))
    },
    stage: None,
};

/// The resonator processor.
#[derive(Debug)]
pub struct Resonator {
    values: [f32; 5],
    freqs: Vec<f64>,
    rate: f64,
    lines: Vec<DelayLine>,
    bank: Vec<[Biquad; MAX_BANDS]>,
    bands: usize,
    freq: Smoothed,
    decay: Smoothed,
    mix: Smoothed,
    countdown: usize,
}

impl Resonator {
    /// A resonator with parameter values in the order of the node type's `params` and optional explicit
    /// band-pass frequencies.
    pub fn new(values: &[f32], freqs: Vec<f64>) -> Self {
        let mut v = [0.0; 5];
        for (d, s) in v.iter_mut().zip(values) {
            *d = *s;
        }
        Self {
            values: v,
            freqs,
            rate: 48_000.0,
            lines: Vec::new(),
            bank: Vec::new(),
            bands: 0,
            freq: Smoothed::new(v[0], 1),
            decay: Smoothed::new(v[1], 1),
            mix: Smoothed::new(v[4] / 100.0, 1),
            countdown: 0,
        }
    }

    fn comb(&self) -> bool {
        self.values[2] < 0.5
    }

    /// Recomputes the band-pass coefficients for the current (smoothed) frequency and decay.
    fn design(&mut self) {
        let f0 = f64::from(self.freq.current());
        let decay_s = f64::from(self.decay.current()) / 1000.0;
        let rho = 10f64.powf(-3.0 / (self.rate * decay_s));
        let alpha = (1.0 - rho * rho) / (1.0 + rho * rho);
        let nyq = 0.49 * self.rate;
        self.bands = if self.freqs.is_empty() {
            (self.values[3].round() as usize).clamp(1, MAX_BANDS)
        } else {
            self.freqs.len()
        };
        for k in 0..self.bands {
            let f = if self.freqs.is_empty() {
                f0 * (k + 1) as f64
            } else {
                self.freqs[k]
            };
            let coeffs = if f < nyq {
                let w0 = 2.0 * std::f64::consts::PI * f / self.rate;
                BiquadCoeffs::bandpass(f, w0.sin() / (2.0 * alpha), self.rate)
            } else {
                BiquadCoeffs {
                    b0: 0.0,
                    ..BiquadCoeffs::IDENTITY
                }
            };
            for ch in &mut self.bank {
                ch[k].coeffs = coeffs;
            }
        }
    }
}

impl Processor for Resonator {
    fn name(&self) -> &'static str {
        "resonator"
    }

    fn prepare(&mut self, cfg: &StreamConfig) -> Result<(), EngineError> {
        self.rate = f64::from(cfg.sample_rate);
        let ch = cfg.channels.min(2);
        self.lines = (0..ch)
            .map(|_| DelayLine::new((self.rate / 20.0).ceil() as usize + 2))
            .collect();
        self.bank = vec![[Biquad::default(); MAX_BANDS]; ch];
        self.freq = Smoothed::with_time(self.values[0], SMOOTH_MS, cfg.sample_rate);
        self.decay = Smoothed::with_time(self.values[1], SMOOTH_MS, cfg.sample_rate);
        self.mix = Smoothed::with_time(self.values[4] / 100.0, SMOOTH_MS, cfg.sample_rate);
        self.reset();
        Ok(())
    }

    fn process(&mut self, inputs: &Inputs<'_>, outputs: &mut Outputs<'_>) {
        let mut out = outputs.port(0);
        let io = split_io(inputs.port(0), &mut out);
        let ch = io.channels.min(self.lines.len());
        let comb = self.comb();
        for n in 0..io.frames {
            let f = f64::from(self.freq.next());
            let decay_s = f64::from(self.decay.next()) / 1000.0;
            let mix = f64::from(self.mix.next());
            if !comb {
                if self.countdown == 0 {
                    self.design();
                    self.countdown = 16;
                }
                self.countdown -= 1;
            }
            let d = self.rate / f;
            let g = 10f64.powf(-3.0 * d / (self.rate * decay_s));
            for c in 0..ch {
                let x = f64::from(io.ins[c][n]);
                let wet = if comb {
                    let line = &mut self.lines[c];
                    // Before pushing v[n], a delay of D − 1 reads v[n − D].
                    let v = flush(x + g * line.linear(d - 1.0));
                    line.push(v);
                    (1.0 - g) * v
                } else {
                    self.bank[c][..self.bands].iter_mut().map(|b| b.tick(x)).sum()
                };
                io.outs[c][n] = ((1.0 - mix) * x + mix * wet) as f32;
            }
        }
    }

    fn reset(&mut self) {
        for l in &mut self.lines {
            l.clear();
        }
        for ch in &mut self.bank {
            for b in ch.iter_mut() {
                b.reset();
            }
        }
        self.freq.set_immediate(self.values[0]);
        self.decay.set_immediate(self.values[1]);
        self.mix.set_immediate(self.values[4] / 100.0);
        self.design();
        self.countdown = 16;
    }

    fn params(&self) -> &'static [ParamInfo] {
        PARAMS
    }

    fn set_param(&mut self, index: usize, value: f32) {
        if index < self.values.len() {
            self.values[index] = value;
        }
        match index {
            0 => self.freq.set_target(value),
            1 => self.decay.set_target(value),
            3 => self.design(),
            4 => self.mix.set_target(value / 100.0),
            _ => {}
        }
    }
}
