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
//! Every channel of the port is processed (any count, in groups of 8); channel `c` sweeps with the LFO
//! phase offset `c·phase`.
//!
//! # How
//! Eight channels at a time run through [`super::common::lanes8::allpass_planar`]: one `f32` lane per
//! channel, 8-wide AVX2/FMA vector operations with in-register transposes where the CPU has them (a
//! portable lane-loop path otherwise). Control rate: the stage coefficient `a` is computed exactly
//! (`tan(πf/fs − π/4)` by a Padé approximant exact to `f32` precision, `exp` by a polynomial in `f32`)
//! every 128 frames from the LFO and interpolated linearly in between, and `a`, feedback and mix are held
//! over control segments of 16 frames (0.33 ms at 48 kHz) at the interpolated value of the segment's
//! middle; feedback, mix and the other parameters follow 20 ms ramps sampled at the 128-frame points.
//! Within a segment the chain is a fixed linear system, which the kernel runs in a form whose feedback
//! loop is short (all-pass stages in groups of four with a repeated pole, see that module); the stage
//! states carry over between segments exactly as in the cascade above.
//!
//! # Real-time safety
//! `prepare` sizes the per-group state; `process` is arithmetic on it and on stack blocks.

use tutti_engine::{EngineError, Inputs, NodeArgs, NodeType, Outputs, ParamInfo, Processor, StreamConfig};

use super::common::lanes8::{allpass_planar, AllpassRamp, AllpassState, MAX_STAGES};
use super::common::{Lfo, LfoShape, ParamSet, LFO_SHAPES};
use crate::basic::simd8::{LANES, V8};

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
    description:
        "phaser: swept cascade of first-order all-pass stages with feedback (sweep held per 16 frames)",
    inputs: &["in"],
    outputs: &["out"],
    params: PARAMS,
    options: &[],
    create: |a: &NodeArgs| Ok(Box::new(Phaser::new(a.values()))),
    stage: None,
};

/// Frames between exact coefficient computations (linear ramps in between): 2.7 ms at 48 kHz, where a
/// 10 Hz sweep moves 3 % of a cycle.
const CHUNK: usize = 128;

/// State of 8 channels.
#[derive(Debug, Clone, Copy)]
struct Group {
    st: AllpassState,
    a: V8,
}

/// The phaser processor.
#[derive(Debug)]
pub struct Phaser {
    /// Smoothed min_freq, max_freq, rate, feedback, mix, phase.
    p: ParamSet<8, 6>,
    groups: Vec<Group>,
    lfo: Lfo,
    /// Feedback and mix (fractions) at the end of the previous chunk.
    fb_mix: [f32; 2],
    cache: CoeffCache,
}

/// Values of [`Phaser::coeffs`] that only change with their parameters.
#[derive(Debug, Clone, Copy, Default)]
struct CoeffCache {
    /// `(min_freq, max_freq)` of `ln_ratio`.
    ln_key: (f64, f64),
    /// `ln(max_freq/min_freq)`.
    ln_ratio: f64,
    /// `phase` of `rot`.
    rot_key: f64,
    /// `(sin, cos)` of lane `l`'s phase offset within its group, `2π·l·phase`.
    rot: [(f64, f64); LANES],
}

impl Phaser {
    /// A phaser with parameter values in the order of the node type's `params`.
    pub fn new(values: &[f32]) -> Self {
        Self {
            p: ParamSet::new(values, [1, 2, 3, 4, 5, 7]),
            groups: Vec::new(),
            lfo: Lfo::new(0.0),
            fb_mix: [0.0; 2],
            cache: CoeffCache {
                ln_key: (f64::NAN, f64::NAN),
                rot_key: f64::NAN,
                ..CoeffCache::default()
            },
        }
    }

    /// Stage coefficients of the first `n` channels of group `g` at LFO phase `lfo` (the other lanes 0).
    fn coeffs(&mut self, g: usize, n: usize, lfo: f64, fmin: f64, fmax: f64, phase: f64) -> V8 {
        let shape = LfoShape::from_index(self.p.value(6));
        let rate = self.p.rate();
        let nyq = 0.49 * rate;
        let (fmin, fmax) = (fmin.min(nyq), fmax.min(nyq));
        // a = (t − 1)/(t + 1) = tan(π f/fs − π/4) with f = fmin·e^(L·ln(fmax/fmin)); the exponential and
        // tangent in f32 (the coefficient is stored in f32). ln(fmax/fmin) and the lane rotation below
        // are recomputed only when their parameters move.
        if self.cache.ln_key != (fmin, fmax) {
            self.cache.ln_key = (fmin, fmax);
            self.cache.ln_ratio = (fmax / fmin).ln();
        }
        if self.cache.rot_key != phase {
            self.cache.rot_key = phase;
            self.cache.rot =
                std::array::from_fn(|l| (std::f64::consts::TAU * l as f64 * phase / 100.0).sin_cos());
        }
        let ln_ratio = self.cache.ln_ratio;
        let w = (std::f64::consts::PI * fmin / rate) as f32;
        let first = lfo + (g * LANES) as f64 * phase / 100.0;
        let e: V8 = match shape {
            LfoShape::Sine => {
                // The sine shape `(sin 2πφ + 1)/2` of the lanes' phases `φ + c·phase`: one `sin_cos` per
                // group, each lane rotated by its cached offset (independent lanes, no serial chain).
                let (sn, cs) = (std::f64::consts::TAU * first).sin_cos();
                let rot = &self.cache.rot;
                std::array::from_fn(|l| (((sn * rot[l].1 + cs * rot[l].0) + 1.0) * 0.5 * ln_ratio) as f32)
            }
            LfoShape::Triangle => std::array::from_fn(|l| {
                (shape.eval(lfo + (g * LANES + l) as f64 * phase / 100.0) * ln_ratio) as f32
            }),
        };
        let mut a = [0.0f32; LANES];
        for l in 0..LANES {
            a[l] = tan_pade(w * exp_f32(e[l]) - std::f32::consts::FRAC_PI_4);
        }
        for v in a.iter_mut().skip(n) {
            *v = 0.0;
        }
        a
    }
}

/// `eˣ` for `0 ≤ x ≤ 10` in `f32` within 10⁻⁶ relative (a few `f32` roundings) (a lane loop the compiler vectorises):
/// `eˣ = 2ᵏ·2ʳ` with `k = round(x·log₂e)`, `|r| ≤ 1/2`, `2ʳ` by its degree-6 Taylor polynomial
/// (remainder < (ln 2/2)⁷/7! < 10⁻⁷ relative).
#[inline]
fn exp_f32(x: f32) -> f32 {
    let t = x * std::f32::consts::LOG2_E;
    // Round to nearest by the 1.5·2²³ trick (plain adds, so the lane loop vectorises on baseline x86-64,
    // where `round` is a libm call); exact for |t| < 2²².
    const MAGIC: f32 = 12_582_912.0;
    let shifted = t + MAGIC;
    let k = shifted - MAGIC;
    let r = (t - k) * std::f32::consts::LN_2;
    let p = 1.0
        + r * (1.0 + r * (0.5 + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    // 2ᵏ from its exponent bits (0 ≤ k ≤ 15 here): `shifted`'s low mantissa bits hold `k` (integer
    // arithmetic only, no saturating float → int conversion).
    let k_bits = shifted.to_bits().wrapping_sub(MAGIC.to_bits());
    p * f32::from_bits(k_bits.wrapping_add(127) << 23)
}

/// `tan θ` for `|θ| ≤ π/4` by the [5/4] Padé approximant (Lambert's continued fraction cut after 9):
/// `θ(945 − 105θ² + θ⁴)/(945 − 420θ² + 15θ⁴)`, within 2·10⁻⁸ of `tan` there (below `f32` resolution).
/// The phaser's `θ = πf/fs − π/4` stays in `(−π/4, 0.24π)`.
#[inline]
fn tan_pade(t: f32) -> f32 {
    let t2 = t * t;
    t * (945.0 + t2 * (t2 - 105.0)) / (945.0 + t2 * (15.0 * t2 - 420.0))
}

impl Processor for Phaser {
    fn name(&self) -> &'static str {
        "phaser"
    }

    fn prepare(&mut self, cfg: &StreamConfig) -> Result<(), EngineError> {
        self.p.prepare(cfg.sample_rate);
        let zero = Group {
            st: AllpassState::default(),
            a: [0.0; LANES],
        };
        self.groups = vec![zero; cfg.channels.div_ceil(LANES)];
        self.reset();
        Ok(())
    }

    fn process(&mut self, inputs: &Inputs<'_>, outputs: &mut Outputs<'_>) {
        let inp = inputs.port(0);
        let mut out = outputs.port(0);
        let frames = out.frames();
        let channels = inp.channels().min(out.channels());
        let stages = (self.p.value(0).round() as usize).clamp(1, MAX_STAGES);
        let rate = self.p.rate();
        // Every group replays the same parameter ramps and LFO; the state after the last one is kept.
        let (p0, lfo0, fb_mix0) = (self.p.clone(), self.lfo, self.fb_mix);
        let data = out.as_mut_slice();
        for (g, chans) in data.chunks_mut(frames * LANES).enumerate() {
            if g * LANES >= channels || g >= self.groups.len() {
                break;
            }
            self.p = p0.clone();
            self.lfo = lfo0;
            self.fb_mix = fb_mix0;
            let n = (channels - g * LANES).min(LANES);
            let ins: [&[f32]; LANES] =
                std::array::from_fn(|l| if l < n { inp.channel(g * LANES + l) } else { &[] });
            let mut outs: [&mut [f32]; LANES] = Default::default();
            for (d, s) in outs.iter_mut().zip(chans.chunks_mut(frames)).take(n) {
                *d = s;
            }
            let mut off = 0;
            while off < frames {
                let len = (frames - off).min(CHUNK);
                let v = if self.p.ramping() {
                    let mut v = [0.0; 6];
                    for _ in 0..len {
                        v = self.p.next();
                        self.lfo.advance(v[2] / rate);
                    }
                    v
                } else {
                    // Settled parameters: one LFO step for the whole chunk (< 0.03 cycle).
                    let v: [f64; 6] = std::array::from_fn(|k| self.p.current(k));
                    self.lfo.advance(v[2] * len as f64 / rate);
                    v
                };
                let [fmin, fmax, _, fb, mix, phase] = v;
                let target = self.coeffs(g, n, self.lfo.phase, fmin, fmax, phase);
                let grp = &mut self.groups[g];
                let [fb0, mix0] = self.fb_mix;
                let (fb, mix) = ((fb / 100.0) as f32, (mix / 100.0) as f32);
                let inv = 1.0 / len as f32;
                let ramp = AllpassRamp {
                    a: grp.a,
                    da: std::array::from_fn(|l| (target[l] - grp.a[l]) * inv),
                    fb: fb0,
                    dfb: (fb - fb0) * inv,
                    mix: mix0,
                    dmix: (mix - mix0) * inv,
                };
                self.fb_mix = [fb, mix];
                let chunk_in: [&[f32]; LANES] =
                    std::array::from_fn(|l| if l < n { &ins[l][off..off + len] } else { &[] });
                let mut chunk_out: [&mut [f32]; LANES] = Default::default();
                for (d, s) in chunk_out.iter_mut().zip(outs.iter_mut()).take(n) {
                    *d = &mut s[off..off + len];
                }
                allpass_planar(
                    &mut grp.st,
                    stages,
                    &ramp,
                    &chunk_in[..n],
                    &mut chunk_out[..n],
                    len,
                );
                grp.a = target;
                off += len;
            }
        }
    }

    fn reset(&mut self) {
        self.lfo = Lfo::new(0.0);
        self.p.reset();
        let (fmin, fmax, phase) = (self.p.current(0), self.p.current(1), self.p.current(5));
        self.fb_mix = [
            (self.p.current(3) / 100.0) as f32,
            (self.p.current(4) / 100.0) as f32,
        ];
        for g in 0..self.groups.len() {
            let a = self.coeffs(g, LANES, 0.0, fmin, fmax, phase);
            let grp = &mut self.groups[g];
            grp.st = AllpassState::default();
            grp.a = a;
        }
    }

    fn params(&self) -> &'static [ParamInfo] {
        PARAMS
    }

    fn set_param(&mut self, index: usize, value: f32) {
        self.p.set(index, value);
    }
}

#[cfg(test)]
mod tests {
    use super::{exp_f32, tan_pade};

    #[test]
    fn polynomial_exp_matches_exp() {
        let mut worst = 0.0f64;
        for i in 0..=100_000 {
            let x = i as f64 * 1e-4;
            let rel = (f64::from(exp_f32(x as f32)) - (x as f32 as f64).exp()).abs() / x.exp();
            worst = worst.max(rel);
        }
        assert!(worst < 1e-6, "max relative error {worst}");
    }

    #[test]
    fn pade_tangent_matches_tan_on_the_phaser_range() {
        let mut worst = 0.0f64;
        for i in 0..=10_000 {
            let t = -std::f64::consts::FRAC_PI_4 + i as f64 * (0.49 * std::f64::consts::PI) / 10_000.0;
            worst = worst.max((f64::from(tan_pade(t as f32)) - t.tan()).abs());
        }
        assert!(worst < 1e-6, "max |error| {worst}");
    }
}
