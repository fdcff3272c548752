//! Comfort noise: RFC 3389 parameters, their analysis and synthesis, and the `cng` node.
//!
//! # What
//! - [`CngParams`]: a noise level in −dBov and reflection coefficients of an all-pole spectral model, with
//!   the RFC 3389 payload ([`CngParams::to_payload`] / [`CngParams::from_payload`]: one level octet, then
//!   one octet per coefficient).
//! - [`CngAnalyzer`]: estimates the parameters from background noise (autocorrelation averaged over the
//!   frames it is given, Levinson–Durbin recursion).
//! - [`CngSynth`]: generates noise with those parameters (white Gaussian excitation through the all-pole
//!   lattice-equivalent direct-form filter, scaled so that the output power equals the level).
//! - The `cng` node: passes speech through and, while the [`Vad`] hears none, replaces the input by
//!   comfort noise synthesised from the model of the background (what a DTX receiver plays), cross-fading
//!   over 10 ms. Meters: `level_dbov`, `speech`.
//!
//! # How
//! RFC 3389 §3: level byte = −dBov (0–127), dBov relative to the overload point, taken as in ITU-T G.711
//! Appendix II and FFmpeg's implementation: 0 dBov = a mean square of 1081109975 in 16-bit units; the
//! encoder stores `min(127, ⌈−dBov⌉)`, the decoder here reads the centre of that 1 dB interval. The
//! coefficients are quantised as FFmpeg does (`byte = ⌊127·k + 127⌋`, `k = (byte − 127)/128`), with the
//! sign convention `A(z) = 1 + Σ aᵢ z⁻ⁱ` built by the step-up recursion `aᵢ ← aᵢ + kₘ·aₘ₋ᵢ`. Model order
//! 10 by default (as FFmpeg), up to [`CNG_MAX_ORDER`]. Analysis windows 20 ms frames with a Hann window and
//! lag-windows nothing; synthesis: for an all-pole model driven by white noise of power σ², the output
//! power is σ² / Π(1 − kᵢ²), so σ² = P·Π(1 − kᵢ²).
//!
//! # Real-time safety
//! Analyzer and synthesiser use fixed arrays; [`CngAnalyzer::new`] allocates its frame buffer once. The
//! node allocates only in `prepare`.

use std::sync::Arc;

use tutti_engine::{
    EngineError, Inputs, Meters, NodeArgs, NodeType, Outputs, ParamInfo, Processor, StreamConfig,
};

use super::vad::Vad;

/// Largest model order supported.
pub const CNG_MAX_ORDER: usize = 16;

/// Mean square (full scale = 1.0) of 0 dBov: 1081109975 / 32768², as in G.711 Appendix II / FFmpeg.
pub const CNG_DBOV_REF: f64 = 1_081_109_975.0 / (32_768.0 * 32_768.0);

/// Comfort-noise parameters (RFC 3389 §3).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CngParams {
    /// Noise level in dBov (≤ 0).
    pub level_dbov: f32,
    /// Model order (number of reflection coefficients in use).
    pub order: usize,
    /// Reflection coefficients k₁…k_order (|k| < 1), convention of the module docs.
    pub reflection: [f32; CNG_MAX_ORDER],
}

impl CngParams {
    /// Silence: −127 dBov, no spectral information.
    pub const SILENCE: Self = Self {
        level_dbov: -127.0,
        order: 0,
        reflection: [0.0; CNG_MAX_ORDER],
    };

    /// The RFC 3389 payload: level octet, then one octet per coefficient (`buf` must hold `1 + order`).
    /// Returns the payload length.
    pub fn to_payload(&self, buf: &mut [u8]) -> usize {
        let n = (1 + self.order).min(buf.len());
        buf[0] = (-self.level_dbov).ceil().clamp(0.0, 127.0) as u8;
        for i in 0..n - 1 {
            buf[1 + i] = (self.reflection[i] * 127.0 + 127.0).clamp(0.0, 255.0) as u8;
        }
        n
    }

    /// Parses an RFC 3389 payload. Errors on an empty payload, a level byte with its top bit set, or more
    /// coefficients than [`CNG_MAX_ORDER`].
    pub fn from_payload(p: &[u8]) -> Result<Self, String> {
        let (&level, coefs) = p.split_first().ok_or("empty comfort-noise payload")?;
        if level > 127 {
            return Err(format!("noise level byte {level} has its reserved top bit set"));
        }
        if coefs.len() > CNG_MAX_ORDER {
            return Err(format!("model order {} exceeds {CNG_MAX_ORDER}", coefs.len()));
        }
        let mut reflection = [0.0; CNG_MAX_ORDER];
        for (r, &b) in reflection.iter_mut().zip(coefs) {
            *r = (f32::from(b) - 127.0) / 128.0;
        }
        // The encoder rounds −dBov up; the centre of that interval is 0.5 dB louder.
        let level_dbov = if level == 127 {
            -127.0
        } else {
            (-f32::from(level) + 0.5).min(0.0)
        };
        Ok(Self {
            level_dbov,
            order: coefs.len(),
            reflection,
        })
    }

    /// Mean square (full scale = 1.0) of the level.
    pub fn power(&self) -> f64 {
        CNG_DBOV_REF * 10f64.powf(f64::from(self.level_dbov) / 10.0)
    }

    /// Direct-form predictor coefficients `a₁…a_order` of `A(z) = 1 + Σ aᵢ z⁻ⁱ` (step-up recursion).
    pub fn lpc(&self) -> [f64; CNG_MAX_ORDER] {
        let mut a = [0.0f64; CNG_MAX_ORDER];
        let mut tmp = [0.0f64; CNG_MAX_ORDER];
        for m in 0..self.order {
            let k = f64::from(self.reflection[m]);
            tmp[..m].copy_from_slice(&a[..m]);
            for i in 0..m {
                a[i] = tmp[i] + k * tmp[m - 1 - i];
            }
            a[m] = k;
        }
        a
    }

    /// Log magnitude (dB) of the all-pole envelope `σ/|A(e^{jω})|` at normalised frequency `f/fs`, with
    /// the excitation power that gives this level.
    pub fn envelope_db(&self, f_norm: f64) -> f64 {
        let a = self.lpc();
        let w = 2.0 * std::f64::consts::PI * f_norm;
        let (mut re, mut im) = (1.0, 0.0);
        for (i, &ai) in a.iter().enumerate().take(self.order) {
            let ph = w * (i + 1) as f64;
            re += ai * ph.cos();
            im -= ai * ph.sin();
        }
        let gain: f64 = self.reflection[..self.order]
            .iter()
            .map(|&k| 1.0 - f64::from(k).powi(2))
            .product();
        10.0 * (self.power() * gain / (re * re + im * im)).log10()
    }
}

/// Levinson–Durbin recursion: reflection coefficients of order `order` from autocorrelation `r[0..=order]`
/// (returns the prediction error power; coefficients beyond a numerically singular step are zero).
pub fn levinson_reflection(r: &[f64], order: usize, k_out: &mut [f32]) -> f64 {
    let mut a = [0.0f64; CNG_MAX_ORDER + 1];
    let mut tmp = [0.0f64; CNG_MAX_ORDER + 1];
    a[0] = 1.0;
    let mut err = r[0];
    for m in 1..=order.min(CNG_MAX_ORDER).min(r.len() - 1) {
        if err <= r[0] * 1e-9 {
            break;
        }
        let acc: f64 = (0..m).map(|i| a[i] * r[m - i]).sum();
        let k = (-acc / err).clamp(-0.9999, 0.9999);
        tmp[..=m].copy_from_slice(&a[..=m]);
        for i in 1..m {
            a[i] = tmp[i] + k * tmp[m - i];
        }
        a[m] = k;
        k_out[m - 1] = k as f32;
        err *= 1.0 - k * k;
    }
    err
}

/// Estimates [`CngParams`] from background noise.
#[derive(Debug, Clone)]
pub struct CngAnalyzer {
    order: usize,
    frame: Vec<f32>,
    window: Vec<f32>,
    fill: usize,
    acf: [f64; CNG_MAX_ORDER + 1],
    power: f64,
    frames: u64,
    /// Averaging weight of a new frame (0 = plain mean over all frames).
    smoothing: f64,
}

impl CngAnalyzer {
    /// An analyzer of model order `order` (≤ [`CNG_MAX_ORDER`]) over 20 ms frames at `rate`; `smoothing`
    /// is the exponential-average weight of each new frame (0 = mean over everything seen).
    pub fn new(rate: u32, order: usize, smoothing: f64) -> Self {
        let n = (rate / 50) as usize;
        let window = (0..n)
            .map(|i| (0.5 - 0.5 * (2.0 * std::f64::consts::PI * (i as f64 + 0.5) / n as f64).cos()) as f32)
            .collect();
        Self {
            order: order.min(CNG_MAX_ORDER),
            frame: vec![0.0; n],
            window,
            fill: 0,
            acf: [0.0; CNG_MAX_ORDER + 1],
            power: 0.0,
            frames: 0,
            smoothing,
        }
    }

    /// Feeds background-noise samples.
    pub fn push(&mut self, x: &[f32]) {
        let n = self.frame.len();
        let mut i = 0;
        while i < x.len() {
            let take = (n - self.fill).min(x.len() - i);
            self.frame[self.fill..self.fill + take].copy_from_slice(&x[i..i + take]);
            self.fill += take;
            i += take;
            if self.fill == n {
                self.fill = 0;
                self.analyse_frame();
            }
        }
    }

    fn analyse_frame(&mut self) {
        let n = self.frame.len();
        let ms = self.frame.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / n as f64;
        let mut r = [0.0f64; CNG_MAX_ORDER + 1];
        for (lag, rv) in r.iter_mut().enumerate().take(self.order + 1) {
            let mut s = 0.0;
            for i in lag..n {
                s += f64::from(self.frame[i] * self.window[i])
                    * f64::from(self.frame[i - lag] * self.window[i - lag]);
            }
            *rv = s;
        }
        self.frames += 1;
        let w = if self.smoothing > 0.0 && self.frames > 1 {
            self.smoothing
        } else {
            1.0 / self.frames as f64
        };
        for (a, v) in self.acf.iter_mut().zip(r) {
            *a += w * (v - *a);
        }
        self.power += w * (ms - self.power);
    }

    /// Number of complete frames analysed.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// The current parameters ([`CngParams::SILENCE`] before the first frame).
    pub fn params(&self) -> CngParams {
        if self.frames == 0 || self.power <= 0.0 {
            return CngParams::SILENCE;
        }
        let mut reflection = [0.0f32; CNG_MAX_ORDER];
        // A tiny white-noise floor (−40 dB) keeps the recursion well conditioned.
        let mut r = self.acf;
        r[0] *= 1.0 + 1e-4;
        levinson_reflection(&r[..=self.order], self.order, &mut reflection);
        let level_dbov = (10.0 * (self.power / CNG_DBOV_REF).log10()).clamp(-127.0, 0.0) as f32;
        CngParams {
            level_dbov,
            order: self.order,
            reflection,
        }
    }

    /// Forgets everything.
    pub fn reset(&mut self) {
        self.fill = 0;
        self.acf = [0.0; CNG_MAX_ORDER + 1];
        self.power = 0.0;
        self.frames = 0;
    }
}

/// Synthesises comfort noise from [`CngParams`].
#[derive(Debug, Clone)]
pub struct CngSynth {
    a: [f64; CNG_MAX_ORDER],
    order: usize,
    sigma: f64,
    hist: [f64; CNG_MAX_ORDER],
    rng: u64,
}

impl CngSynth {
    /// A generator for `params`, with a seeded noise source.
    pub fn new(params: &CngParams, seed: u64) -> Self {
        let mut s = Self {
            a: [0.0; CNG_MAX_ORDER],
            order: 0,
            sigma: 0.0,
            hist: [0.0; CNG_MAX_ORDER],
            rng: seed | 1,
        };
        s.set_params(params);
        s
    }

    /// Switches to new parameters (keeps the filter memory).
    pub fn set_params(&mut self, p: &CngParams) {
        self.a = p.lpc();
        self.order = p.order.min(CNG_MAX_ORDER);
        let gain: f64 = p.reflection[..self.order]
            .iter()
            .map(|&k| 1.0 - f64::from(k).powi(2))
            .product();
        self.sigma = if p.level_dbov <= -127.0 {
            0.0
        } else {
            (p.power() * gain).sqrt()
        };
    }

    fn gaussian(&mut self) -> f64 {
        // xorshift64* and a sum of 4 uniforms (variance 4/12), rescaled to unit variance.
        let mut s = 0.0;
        for _ in 0..4 {
            self.rng ^= self.rng >> 12;
            self.rng ^= self.rng << 25;
            self.rng ^= self.rng >> 27;
            let u = (self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64;
            s += u - 0.5;
        }
        s * 3f64.sqrt()
    }

    /// Fills `out` with comfort noise.
    pub fn generate(&mut self, out: &mut [f32]) {
        for o in out.iter_mut() {
            let e = self.sigma * self.gaussian();
            let mut y = e;
            for i in 0..self.order {
                y -= self.a[i] * self.hist[i];
            }
            self.hist.copy_within(0..CNG_MAX_ORDER - 1, 1);
            self.hist[0] = y;
            *o = y as f32;
        }
    }
}

const PARAMS: &[ParamInfo] = &[
    ParamInfo::new(
        "order",
        "",
        0.0,
        16.0,
        10.0,
        "spectral model order (reflection coefficients)",
    ),
    ParamInfo::new(
        "level_offset_db",
        "dB",
        -30.0,
        10.0,
        0.0,
        "comfort noise level relative to the background",
    ),
];

const METERS: &[&str] = &["level_dbov", "speech"];

/// The `cng` node type.
pub(crate) const TYPE: NodeType = NodeType {
    name: "cng",
    description: "comfort noise: replaces non-speech by noise matched to the background (RFC 3389 model)",
    inputs: &["in"],
    outputs: &["out"],
    params: PARAMS,
    options: &[],
    create: |a: &NodeArgs| {
        Ok(Box::new(CngNode::new(
            a.get("order").round() as usize,
            a.get("level_offset_db"),
        )))
    },
    stage: None,
};

/// The `cng` node (see the module docs); mono analysis on channel 0, every channel replaced alike.
#[derive(Debug)]
pub struct CngNode {
    order: usize,
    offset_db: f32,
    vad: Option<Vad>,
    analyzer: Option<CngAnalyzer>,
    synth: CngSynth,
    noise: Vec<f32>,
    mix: f32,
    step: f32,
    meters: Arc<Meters>,
}

impl CngNode {
    /// A node with model `order` and a level offset in dB.
    pub fn new(order: usize, offset_db: f32) -> Self {
        Self {
            order: order.min(CNG_MAX_ORDER),
            offset_db,
            vad: None,
            analyzer: None,
            synth: CngSynth::new(&CngParams::SILENCE, 0x5eed),
            noise: Vec::new(),
            mix: 0.0,
            step: 0.01,
            meters: Meters::new(METERS),
        }
    }
}

impl Processor for CngNode {
    fn name(&self) -> &'static str {
        "cng"
    }

    fn prepare(&mut self, cfg: &StreamConfig) -> Result<(), EngineError> {
        self.vad = Some(Vad::decision_only(cfg.sample_rate));
        // Exponential average with a ~0.4 s memory (20 ms frames).
        self.analyzer = Some(CngAnalyzer::new(cfg.sample_rate, self.order, 0.05));
        self.noise = vec![0.0; cfg.block_frames];
        self.step = 1.0 / cfg.frames_for_ms(10.0).max(1) as f32;
        self.reset();
        Ok(())
    }

    fn process(&mut self, inputs: &Inputs<'_>, outputs: &mut Outputs<'_>) {
        let input = inputs.port(0);
        let mut out = outputs.port(0);
        let (Some(vad), Some(an)) = (self.vad.as_mut(), self.analyzer.as_mut()) else {
            out.copy_from(&input);
            return;
        };
        let x0 = input.channel(0);
        let speech = vad.process(x0);
        let frames = x0.len().min(self.noise.len());
        if !speech {
            an.push(x0);
        }
        let mut p = an.params();
        p.level_dbov = (p.level_dbov + self.offset_db).min(0.0);
        if an.frames() == 0 {
            p = CngParams::SILENCE;
        }
        self.synth.set_params(&p);
        self.synth.generate(&mut self.noise[..frames]);
        let target = if speech || an.frames() == 0 { 0.0 } else { 1.0 };
        let start_mix = self.mix;
        for c in 0..input.channels() {
            let mut mix = start_mix;
            let x = input.channel(c);
            for (i, o) in out.channel_mut(c)[..frames].iter_mut().enumerate() {
                mix = if target > mix {
                    (mix + self.step).min(1.0)
                } else {
                    (mix - self.step).max(0.0)
                };
                *o = (1.0 - mix) * x[i] + mix * self.noise[i];
            }
            self.mix = mix;
        }
        self.meters.set(0, f64::from(p.level_dbov));
        self.meters.set(1, if speech { 1.0 } else { 0.0 });
    }

    fn reset(&mut self) {
        if let Some(v) = self.vad.as_mut() {
            v.reset();
        }
        if let Some(a) = self.analyzer.as_mut() {
            a.reset();
        }
        self.synth = CngSynth::new(&CngParams::SILENCE, 0x5eed);
        self.mix = 0.0;
    }

    fn params(&self) -> &'static [ParamInfo] {
        PARAMS
    }

    fn set_param(&mut self, index: usize, value: f32) {
        if index == 1 {
            self.offset_db = value;
        }
        // The model order is fixed at construction (its buffers are sized then).
    }

    fn meters(&self) -> Option<Arc<Meters>> {
        Some(self.meters.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_round_trip_and_errors() {
        let mut p = CngParams::SILENCE;
        p.level_dbov = -40.3;
        p.order = 3;
        p.reflection[..3].copy_from_slice(&[0.5, -0.25, 0.9]);
        let mut buf = [0u8; 17];
        let n = p.to_payload(&mut buf);
        assert_eq!(n, 4);
        assert_eq!(buf[0], 41);
        // FFmpeg's quantiser: ⌊127·k + 127⌋.
        assert_eq!(&buf[1..4], &[190, 95, 241]);
        let q = CngParams::from_payload(&buf[..n]).unwrap();
        assert_eq!(q.order, 3);
        assert!((q.level_dbov + 40.5).abs() < 1e-6);
        for i in 0..3 {
            assert!((q.reflection[i] - p.reflection[i]).abs() < 2.0 / 128.0);
        }
        assert!(CngParams::from_payload(&[]).is_err());
        assert!(CngParams::from_payload(&[200]).unwrap_err().contains("top bit"));
        assert!(CngParams::from_payload(&[10; 18]).unwrap_err().contains("order"));
    }

    #[test]
    fn levinson_recovers_known_ar2_reflections() {
        // AR(2) x[n] = 1.2 x[n-1] − 0.5 x[n-2] + e: A(z) = 1 − 1.2 z⁻¹ + 0.5 z⁻²; step-down gives
        // k2 = a2 = 0.5, k1 = a1 / (1 + k2) = −0.8. Its autocorrelation: ρ1 = 1.2/1.5 = 0.8,
        // ρ2 = 1.2·ρ1 − 0.5 = 0.46.
        let r = [1.0, 0.8, 0.46];
        let mut k = [0.0f32; CNG_MAX_ORDER];
        levinson_reflection(&r, 2, &mut k);
        assert!((k[0] + 0.8).abs() < 1e-6 && (k[1] - 0.5).abs() < 1e-6, "{k:?}");
        let p = CngParams {
            level_dbov: -30.0,
            order: 2,
            reflection: k,
        };
        let a = p.lpc();
        assert!((a[0] + 1.2).abs() < 1e-6 && (a[1] - 0.5).abs() < 1e-6, "{a:?}");
    }
}
