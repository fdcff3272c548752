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
//! Every channel of the port is processed. The comb uses an `f64` delay line of 1/20 Hz per channel. The
//! band-pass bank runs 8 channels at a time through [`super::common::lanes8::resonator_planar`] (RBJ
//! sections in `f32` sharing their zeros `1 − z⁻²` and their gain `b0` — every section has the same `α`
//! —, the poles as a direct-form recursion, one lane per channel, 8-wide AVX2/FMA operations with
//! in-register transposes where the CPU has them) on the whole block (blocks of 16 frames while a
//! parameter ramps).
//! Frequency, decay and mix follow 20 ms ramps: the comb's delay glides per sample; while a ramp moves,
//! the band-pass coefficients are recomputed every 16 frames (the mix too).
//!
//! # Real-time safety
//! `prepare` sizes the delay lines and filter bank; `process` is arithmetic only.

use tutti_engine::{EngineError, Inputs, NodeArgs, NodeType, Outputs, ParamInfo, Processor, StreamConfig};

use super::common::lanes8::{resonator_planar, ResonatorBank, MAX_SECTIONS};
use super::common::{flush, parse_list, DelayLine, ParamSet};
use crate::basic::simd8::LANES;
use crate::basic::BiquadCoeffs;

/// Frames per block (and between coefficient updates) while a ramp moves.
const RAMP_CHUNK: usize = 16;

const MAX_BANDS: usize = MAX_SECTIONS;

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
    /// Smoothed freq, decay, mix.
    p: ParamSet<5, 3>,
    freqs: Vec<f64>,
    lines: Vec<DelayLine>,
    /// Resonator sections (band-pass poles) and state of each group of 8 channels.
    groups: Vec<ResonatorBank>,
    /// Sections below Nyquist (the first `bands` of each bank).
    bands: usize,
    /// The band-pass gain `b0` shared by every section (same `α`: same decay).
    b0: f32,
}

impl Resonator {
    /// A resonator with parameter values in the order of the node type's `params` and optional explicit
    /// band-pass frequencies.
    pub fn new(values: &[f32], freqs: Vec<f64>) -> Self {
        Self {
            p: ParamSet::new(values, [0, 1, 4]),
            freqs,
            lines: Vec::new(),
            groups: Vec::new(),
            bands: 0,
            b0: 0.0,
        }
    }

    fn comb(&self) -> bool {
        self.p.value(2) < 0.5
    }

    /// Recomputes the band-pass coefficients for the current (smoothed) frequency and decay. Sections at
    /// or above 0.49·fs are left out (the ones below keep their order, and their state).
    fn design(&mut self) {
        let rate = self.p.rate();
        let f0 = self.p.current(0);
        let decay_s = self.p.current(1) / 1000.0;
        let rho = 10f64.powf(-3.0 / (rate * decay_s));
        let alpha = (1.0 - rho * rho) / (1.0 + rho * rho);
        let nyq = 0.49 * rate;
        let count = if self.freqs.is_empty() {
            (self.p.value(3).round() as usize).clamp(1, MAX_BANDS)
        } else {
            self.freqs.len().min(MAX_BANDS)
        };
        let mut active = 0;
        for k in 0..count {
            let f = if self.freqs.is_empty() {
                f0 * (k + 1) as f64
            } else {
                self.freqs[k]
            };
            if f >= nyq {
                continue;
            }
            let w0 = 2.0 * std::f64::consts::PI * f / rate;
            // Every section has the same α, so the same b0 = α/(1 + α).
            let c = BiquadCoeffs::bandpass(f, w0.sin() / (2.0 * alpha), rate);
            self.b0 = c.b0 as f32;
            for g in &mut self.groups {
                g.na1[active] = [-c.a1 as f32; LANES];
                g.na2[active] = [-c.a2 as f32; LANES];
            }
            active += 1;
        }
        self.bands = active;
    }

    fn process_comb(&mut self, inp: &tutti_engine::AudioRef<'_>, out: &mut [f32], frames: usize, ch: usize) {
        let rate = self.p.rate();
        for n in 0..frames {
            let [f, decay, mix] = self.p.next();
            let mix = mix / 100.0;
            let d = rate / f;
            let g = 10f64.powf(-3.0 * d / (rate * decay / 1000.0));
            for (c, line) in self.lines.iter_mut().enumerate().take(ch) {
                let x = f64::from(inp.channel(c)[n]);
                // Before pushing v[n], a delay of D − 1 reads v[n − D].
                let v = flush(x + g * line.linear(d - 1.0));
                line.push(v);
                out[c * frames + n] = ((1.0 - mix) * x + mix * (1.0 - g) * v) as f32;
            }
        }
    }

    fn process_bank(&mut self, inp: &tutti_engine::AudioRef<'_>, out: &mut [f32], frames: usize, ch: usize) {
        let mut off = 0;
        while off < frames {
            let ramping = self.p.ramping();
            let len = if ramping {
                (frames - off).min(RAMP_CHUNK)
            } else {
                frames - off
            };
            let mix = if ramping {
                let mut mix = 0.0;
                for _ in 0..len {
                    mix = self.p.next()[2] / 100.0;
                }
                self.design();
                mix
            } else {
                self.p.current(2) / 100.0
            };
            let (dry, gain) = ((1.0 - mix) as f32, mix as f32 * self.b0);
            for (g, bank) in self.groups.iter_mut().enumerate() {
                let first = g * LANES;
                if first >= ch {
                    break;
                }
                let n = (ch - first).min(LANES);
                let ins: [&[f32]; LANES] = std::array::from_fn(|l| {
                    if l < n {
                        &inp.channel(first + l)[off..off + len]
                    } else {
                        &[]
                    }
                });
                let mut outs: [&mut [f32]; LANES] = Default::default();
                for (d, s) in outs
                    .iter_mut()
                    .zip(out[first * frames..].chunks_mut(frames))
                    .take(n)
                {
                    *d = &mut s[off..off + len];
                }
                resonator_planar(bank, self.bands, dry, gain, &ins[..n], &mut outs[..n], len);
            }
            off += len;
        }
    }
}

impl Processor for Resonator {
    fn name(&self) -> &'static str {
        "resonator"
    }

    fn prepare(&mut self, cfg: &StreamConfig) -> Result<(), EngineError> {
        self.p.prepare(cfg.sample_rate);
        let rate = self.p.rate();
        self.lines = (0..cfg.channels)
            .map(|_| DelayLine::new((rate / 20.0).ceil() as usize + 2))
            .collect();
        self.groups = vec![ResonatorBank::default(); cfg.channels.div_ceil(LANES)];
        self.reset();
        Ok(())
    }

    fn process(&mut self, inputs: &Inputs<'_>, outputs: &mut Outputs<'_>) {
        let inp = inputs.port(0);
        let mut out = outputs.port(0);
        let frames = out.frames();
        let ch = inp.channels().min(out.channels()).min(self.lines.len());
        let data = out.as_mut_slice();
        if self.comb() {
            self.process_comb(&inp, data, frames, ch);
        } else {
            self.process_bank(&inp, data, frames, ch);
        }
    }

    fn reset(&mut self) {
        for l in &mut self.lines {
            l.clear();
        }
        for g in &mut self.groups {
            g.clear();
        }
        self.p.reset();
        self.design();
    }

    fn params(&self) -> &'static [ParamInfo] {
        PARAMS
    }

    fn set_param(&mut self, index: usize, value: f32) {
        self.p.set(index, value);
        if index == 3 {
            self.design();
        }
    }
}
