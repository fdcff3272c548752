//! Voice activity detection: [`Vad`] (a library type for the AGC, CNG, DTX and the mixer's talker
//! selection) and the `vad` node.
//!
//! # What
//! [`Vad::process`] takes blocks of any length and decides, every 10 ms, whether speech is present. The
//! `vad` node passes its audio through unchanged and publishes the decision through its meters
//! (`speech` = 0/1, `probability`, `level_dbfs`, `noise_dbfs`, `snr_db`, `harmonicity`, `flatness`).
//!
//! # How
//! Three features per 10 ms frame, computed from one FFT of the last 20 ms (Hann window, zero-padded ×2):
//! - band energy (100 Hz – 4 kHz) against a noise floor tracked by minimum following with slow rise
//!   (Martin 2001's minimum statistics in its simplest form, in the dB domain);
//! - harmonicity: the largest normalised autocorrelation (inverse FFT of the power spectrum, corrected for
//!   the window's own autocorrelation, Boersma 1993) at pitch lags 2.5–16 ms (60–400 Hz);
//! - spectral flatness (Wiener entropy, Johnston 1988) over 300 Hz – 4 kHz.
//!
//! A frame is speech when its level is above −75 dBFS and its band SNR exceeds 9 dB, or 4 dB together with
//! voicing (harmonicity ≥ 0.5 or flatness ≤ 0.25); a 200 ms hangover bridges the gaps between words (as in
//! G.729 Annex B's smoothing). At 8 kHz the band stops at 3.8 kHz.
//!
//! Frames below the −75 dBFS floor cannot be speech whatever their spectrum, so they skip the spectral
//! analysis (the energy gate of WebRTC's and G.729B's detectors): the noise floor follows their full-band
//! level, harmonicity reads 0 and flatness 1. Idle telephone legs after noise suppression sit there most of
//! the time, so a conference's detectors cost little more than a level measurement per leg.
//!
//! # Real-time safety
//! [`Vad::new`] allocates the FFT plans and buffers; [`Vad::process`] does not allocate.

use std::sync::Arc;

use realfft::num_complex::Complex32;
use realfft::{ComplexToReal, RealToComplex};

use super::lanes::{Lanes, F4};
use crate::reduce::dot;
use tutti_engine::{
    EngineError, Inputs, Meters, NodeArgs, NodeType, Outputs, ParamInfo, Processor, StreamConfig,
};

/// A voice activity detector (see the module docs).
pub struct Vad {
    rate: u32,
    frame_len: usize,
    hist: Vec<f32>,
    fill: usize,
    window: Arc<[f32]>,
    win_acf_inv: Arc<[f32]>,
    /// Σw² of `window` (its power, for the band level).
    w_pow: f32,
    fwd: Arc<dyn RealToComplex<f32>>,
    inv: Arc<dyn ComplexToReal<f32>>,
    time: Vec<f32>,
    spec: Vec<Complex32>,
    /// Scratch of both transforms.
    scratch: Vec<Complex32>,
    band: (usize, usize),
    flat_band: (usize, usize),
    lags: (usize, usize),
    noise_db: f32,
    frames: u64,
    hang: u32,
    hang_frames: u32,
    speech: bool,
    features: VadFeatures,
    /// Compute the harmonicity only when the decision depends on it (see [`Vad::decision_only`]).
    decision_only: bool,
}

/// The features of the last analysed 10 ms frame.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct VadFeatures {
    /// Mean-square level of the frame in dBFS (full-scale square wave = 0 dB).
    pub level_dbfs: f32,
    /// Band energy above the tracked noise floor, dB.
    pub snr_db: f32,
    /// Tracked noise floor of the band energy, in dBFS.
    pub noise_dbfs: f32,
    /// Largest normalised autocorrelation at pitch lags (0–1).
    pub harmonicity: f32,
    /// Spectral flatness over 300 Hz – 4 kHz (0 = tonal, ~0.56 = white noise periodogram).
    pub flatness: f32,
    /// Speech presence probability (a logistic map of SNR and harmonicity).
    pub probability: f32,
}

impl std::fmt::Debug for Vad {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vad")
            .field("rate", &self.rate)
            .field("speech", &self.speech)
            .finish_non_exhaustive()
    }
}

impl Vad {
    /// A detector for `sample_rate` Hz (any rate from 8 to 48 kHz).
    pub fn new(sample_rate: u32) -> Self {
        let rate = sample_rate.clamp(8000, 192_000);
        let frame_len = (rate / 100) as usize;
        let win_len = 2 * frame_len;
        // Zero-padded to twice the window: the circular autocorrelation then equals the linear one at every
        // lag up to the window length (the pitch lags need at most 16 ms < 20 ms).
        let fft_n = 2 * win_len;
        // Plans and tables are shared by every detector at this rate (see `crate::plans`).
        let (fwd, inv) = crate::plans::real_fft(fft_n);
        let window = crate::plans::table("vad-hann", [win_len, 0], || {
            (0..win_len)
                .map(|i| {
                    (0.5 - 0.5 * (2.0 * std::f64::consts::PI * (i as f64 + 0.5) / win_len as f64).cos())
                        as f32
                })
                .collect()
        });
        let min_lag = (rate as f32 / 400.0).round() as usize;
        let max_lag = ((rate as f32 / 60.0).round() as usize).min(win_len - 1);
        // Reciprocal of the window's own normalised autocorrelation (floored at 10⁻³).
        let win_acf_inv = crate::plans::table("vad-window-acf-inverse", [win_len, max_lag], || {
            let w0: f32 = window.iter().map(|w| w * w).sum();
            (0..=max_lag)
                .map(|l| {
                    let acf = window.iter().zip(&window[l..]).map(|(a, b)| a * b).sum::<f32>() / w0;
                    1.0 / acf.max(1e-3)
                })
                .collect()
        });
        let hz = |f: f32| ((f * fft_n as f32 / rate as f32).round() as usize).min(fft_n / 2);
        let top = 4000f32.min(rate as f32 * 0.475);
        Self {
            rate,
            frame_len,
            hist: vec![0.0; win_len],
            fill: 0,
            w_pow: window.iter().map(|w| w * w).sum(),
            window,
            win_acf_inv,
            time: fwd.make_input_vec(),
            spec: fwd.make_output_vec(),
            scratch: vec![Complex32::new(0.0, 0.0); fwd.get_scratch_len().max(inv.get_scratch_len())],
            fwd,
            inv,
            band: (hz(100.0), hz(top)),
            flat_band: (hz(300.0), hz(top)),
            lags: (min_lag, max_lag),
            noise_db: 0.0,
            frames: 0,
            hang: 0,
            hang_frames: 20,
            speech: false,
            features: VadFeatures {
                level_dbfs: -120.0,
                ..VadFeatures::default()
            },
            decision_only: false,
        }
    }

    /// A detector for `sample_rate` Hz that computes the harmonicity (an inverse FFT per frame) only
    /// in the frames whose decision depends on it — band SNR between 4 and 9 dB and a flatness above
    /// 0.25 — and reports 0 for it (and the probability that follows) in the others. The decisions and
    /// the other features are those of [`Vad::new`]. For users of the decision and the SNR only (the
    /// AGC, comfort noise).
    pub fn decision_only(sample_rate: u32) -> Self {
        Self {
            decision_only: true,
            ..Self::new(sample_rate)
        }
    }

    /// The sample rate this detector was built for.
    pub fn sample_rate(&self) -> u32 {
        self.rate
    }

    /// Analysis frame length (10 ms) in samples.
    pub fn frame_len(&self) -> usize {
        self.frame_len
    }

    /// Feeds `block` (any length) and returns the decision after its last complete 10 ms frame.
    pub fn process(&mut self, block: &[f32]) -> bool {
        let n = self.frame_len;
        let mut i = 0;
        while i < block.len() {
            let take = (n - self.fill).min(block.len() - i);
            let start = n + self.fill;
            self.hist[start..start + take].copy_from_slice(&block[i..i + take]);
            self.fill += take;
            i += take;
            if self.fill == n {
                self.fill = 0;
                self.analyse();
                self.hist.copy_within(n.., 0);
            }
        }
        self.speech
    }

    /// The current decision.
    pub fn is_speech(&self) -> bool {
        self.speech
    }

    /// The features of the last analysed frame.
    pub fn features(&self) -> VadFeatures {
        self.features
    }

    /// Number of complete 10 ms frames analysed since creation or reset.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Clears all state.
    pub fn reset(&mut self) {
        self.hist.fill(0.0);
        self.fill = 0;
        self.noise_db = 0.0;
        self.frames = 0;
        self.hang = 0;
        self.speech = false;
        self.features = VadFeatures {
            level_dbfs: -120.0,
            ..VadFeatures::default()
        };
    }

    fn analyse(&mut self) {
        let n = self.frame_len;
        let newest = &self.hist[n..];
        let ms = dot(newest, newest) / n as f32;
        let level_dbfs = 10.0 * (ms + 1e-12).log10();
        if level_dbfs <= SPEECH_FLOOR_DBFS {
            // Below the floor no frame is speech: the band level is the full-band level, no spectrum.
            self.decide(level_dbfs, level_dbfs, 0.0, 1.0);
            return;
        }
        self.time.fill(0.0);
        for ((t, &x), &w) in self.time.iter_mut().zip(&self.hist).zip(self.window.iter()) {
            *t = x * w;
        }
        // Plan lengths match the buffers, so the transform cannot fail.
        let _ = self
            .fwd
            .process_with_scratch(&mut self.time, &mut self.spec, &mut self.scratch);
        let fft_n = self.time.len() as f32;
        let w_pow = self.w_pow;
        // Band energy as a mean-square level (Parseval: Σ|X|² over positive bins ≈ N·Σx²w² / 2).
        let (b0, b1) = self.band;
        let band: f32 = self.spec[b0..=b1].iter().map(Complex32::norm_sqr).sum();
        let band_db = 10.0 * (2.0 * band / (fft_n * w_pow) + 1e-12).log10();
        let (f0, f1) = self.flat_band;
        // Powers (through `time`, free until the inverse transform below) and their logarithms, four bins
        // at a time.
        let cnt = f1 - f0 + 1;
        let pw = &mut self.time[..cnt];
        for (p, s) in pw.iter_mut().zip(&self.spec[f0..=f1]) {
            *p = s.re * s.re + s.im * s.im + 1e-20;
        }
        let (mut lin4, mut log4) = (F4::splat(0.0), F4::splat(0.0));
        for k in (0..cnt).step_by(4) {
            // Padding with 1: adds 1 per missing lane to the linear sum (removed below) and 0 to the log sum.
            let p = F4::load_padded((), pw, k, 1.0);
            lin4 = lin4 + p;
            log4 = log4 + p.ln();
        }
        let lin_sum = lin4.sum() - (cnt.next_multiple_of(4) - cnt) as f32;
        let log_sum = log4.sum();
        let cnt = cnt as f32;
        let flatness = ((log_sum / cnt).exp() / (lin_sum / cnt)).clamp(0.0, 1.0);
        if self.decision_only {
            let snr = band_db - self.next_noise_db(band_db);
            let needs_voicing = snr > 4.0 && snr <= 9.0 && flatness > 0.25;
            if !needs_voicing {
                self.decide(level_dbfs, band_db, 0.0, flatness);
                return;
            }
        }
        // Autocorrelation = inverse FFT of the power spectrum.
        for s in self.spec.iter_mut() {
            *s = Complex32::new(s.norm_sqr(), 0.0);
        }
        let _ = self
            .inv
            .process_with_scratch(&mut self.spec, &mut self.time, &mut self.scratch);
        let r0 = self.time[0].max(1e-20);
        let (l0, l1) = self.lags;
        let harm = self.time[l0..=l1]
            .iter()
            .zip(&self.win_acf_inv[l0..=l1])
            .fold(0.0f32, |m, (&r, &inv)| m.max(r * inv))
            / r0;
        let harmonicity = harm.clamp(0.0, 1.0);
        self.decide(level_dbfs, band_db, harmonicity, flatness);
    }

    /// The noise floor after a frame of band level `band_db`: follow minima at once, rise slowly
    /// (2 dB/s), faster while the frame looks like noise.
    fn next_noise_db(&self, band_db: f32) -> f32 {
        if self.frames == 0 || band_db < self.noise_db {
            band_db
        } else {
            let n = self.noise_db + 0.02;
            if band_db - n < 3.0 {
                n + 0.05 * (band_db - n)
            } else {
                n
            }
        }
    }

    /// Updates the noise floor, the decision and the features from one frame's measurements.
    fn decide(&mut self, level_dbfs: f32, band_db: f32, harmonicity: f32, flatness: f32) {
        self.noise_db = self.next_noise_db(band_db);
        self.frames += 1;
        let snr = band_db - self.noise_db;
        let voiced = harmonicity >= 0.5 || flatness <= 0.25;
        let frame_speech = level_dbfs > SPEECH_FLOOR_DBFS && (snr > 9.0 || (snr > 4.0 && voiced));
        if frame_speech {
            self.hang = self.hang_frames;
            self.speech = true;
        } else if self.hang > 0 {
            self.hang -= 1;
            self.speech = true;
        } else {
            self.speech = false;
        }
        let z = 0.5 * (snr - 6.0) + 6.0 * (harmonicity - 0.45);
        self.features = VadFeatures {
            level_dbfs,
            snr_db: snr,
            noise_dbfs: self.noise_db,
            harmonicity,
            flatness,
            probability: 1.0 / (1.0 + (-z).exp()),
        };
    }
}

/// Frames at or below this level (dBFS) are never speech.
const SPEECH_FLOOR_DBFS: f32 = -75.0;

const METERS: &[&str] = &[
    "speech",
    "probability",
    "level_dbfs",
    "noise_dbfs",
    "snr_db",
    "harmonicity",
    "flatness",
];

/// The `vad` node type.
pub(crate) const TYPE: NodeType = NodeType {
    name: "vad",
    description: "voice activity detection: passes audio through, publishes the decision as meters",
    inputs: &["in"],
    outputs: &["out"],
    params: &[],
    options: &[],
    create: |_a: &NodeArgs| Ok(Box::new(VadNode::new())),
    stage: None,
};

/// The `vad` node: audio passes through; the first channel drives the decision.
#[derive(Debug)]
pub struct VadNode {
    vad: Option<Vad>,
    meters: Arc<Meters>,
}

impl Default for VadNode {
    fn default() -> Self {
        Self::new()
    }
}

impl VadNode {
    /// A node; [`Processor::prepare`] builds the detector.
    pub fn new() -> Self {
        Self {
            vad: None,
            meters: Meters::new(METERS),
        }
    }
}

impl Processor for VadNode {
    fn name(&self) -> &'static str {
        "vad"
    }

    fn prepare(&mut self, cfg: &StreamConfig) -> Result<(), EngineError> {
        self.vad = Some(Vad::new(cfg.sample_rate));
        Ok(())
    }

    fn process(&mut self, inputs: &Inputs<'_>, outputs: &mut Outputs<'_>) {
        let input = inputs.port(0);
        outputs.port(0).copy_from(&input);
        if let Some(vad) = self.vad.as_mut() {
            let speech = vad.process(input.channel(0));
            let f = vad.features();
            let m = &self.meters;
            m.set(0, if speech { 1.0 } else { 0.0 });
            m.set(1, f64::from(f.probability));
            m.set(2, f64::from(f.level_dbfs));
            m.set(3, f64::from(f.noise_dbfs));
            m.set(4, f64::from(f.snr_db));
            m.set(5, f64::from(f.harmonicity));
            m.set(6, f64::from(f.flatness));
        }
    }

    fn reset(&mut self) {
        if let Some(v) = self.vad.as_mut() {
            v.reset();
        }
    }

    fn params(&self) -> &'static [ParamInfo] {
        &[]
    }

    fn meters(&self) -> Option<Arc<Meters>> {
        Some(self.meters.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seeded uniform noise in [−½, ½) (a linear congruential generator).
    fn lcg_noise(mut seed: u32) -> impl FnMut() -> f32 {
        move || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        }
    }

    /// A voiced-like harmonic complex: `harmonics` partials of `f0` with 1/h amplitudes, at time `t`.
    fn harmonic(f0: f32, harmonics: usize, t: f32) -> f32 {
        (1..=harmonics)
            .map(|h| (2.0 * std::f32::consts::PI * f0 * h as f32 * t).sin() / h as f32)
            .sum()
    }

    #[test]
    fn tone_bursts_in_noise_are_detected_and_silence_is_not() {
        let rate = 16_000;
        let mut vad = Vad::new(rate);
        let mut noise = lcg_noise(1);
        let mut decisions = Vec::new();
        for blk in 0..300 {
            let on = (100..200).contains(&blk);
            let x: Vec<f32> = (0..160)
                .map(|i| {
                    let t = (blk * 160 + i) as f32 / rate as f32;
                    0.003 * noise() + if on { 0.1 * harmonic(150.0, 10, t) } else { 0.0 }
                })
                .collect();
            decisions.push(vad.process(&x));
        }
        assert!(decisions[110..200].iter().all(|&d| d), "speech-like burst missed");
        assert!(decisions[30..95].iter().all(|&d| !d), "noise flagged as speech");
        assert!(decisions[230..].iter().all(|&d| !d), "hangover never ends");
        assert!(vad.features().flatness > 0.3);
    }

    #[test]
    fn frames_below_the_floor_skip_the_spectrum_and_speech_after_them_is_found() {
        let rate = 8_000;
        let mut vad = Vad::new(rate);
        let mut noise = lcg_noise(7);
        let mut decisions = Vec::new();
        let mut quiet_features = Vec::new();
        for blk in 0..400 {
            let on = (200..300).contains(&blk);
            let x: Vec<f32> = (0..80)
                .map(|i| {
                    let t = (blk * 80 + i) as f32 / rate as f32;
                    // −90 dBFS-ish noise (rms of 1e-4·U(−½, ½) ≈ −91 dBFS re a full-scale square wave).
                    1e-4 * noise() + if on { 0.05 * harmonic(140.0, 8, t) } else { 0.0 }
                })
                .collect();
            decisions.push(vad.process(&x));
            if blk < 200 {
                quiet_features.push(vad.features());
            }
        }
        assert!(
            decisions[..200].iter().all(|&d| !d),
            "a frame below −75 dBFS was speech"
        );
        for f in &quiet_features[1..] {
            assert!(
                f.level_dbfs < -85.0 && f.level_dbfs > -100.0,
                "level {}",
                f.level_dbfs
            );
            assert_eq!(
                (f.harmonicity, f.flatness),
                (0.0, 1.0),
                "quiet frames skip the spectrum"
            );
        }
        // The floor followed the quiet level, so the burst stands far above it.
        assert!(
            quiet_features[199].noise_dbfs < -85.0,
            "{}",
            quiet_features[199].noise_dbfs
        );
        assert!(
            decisions[202..300].iter().all(|&d| d),
            "speech after a quiet stretch missed"
        );
        assert!(decisions[330..].iter().all(|&d| !d), "hangover never ends");
        // A frame just above the floor is analysed (harmonicity of a harmonic tone is high).
        let mut v2 = Vad::new(rate);
        let tone: Vec<f32> = (0..800)
            .map(|i| 3e-4 * (2.0 * std::f32::consts::PI * 200.0 * i as f32 / rate as f32).sin())
            .collect();
        v2.process(&tone);
        let f = v2.features();
        assert!(
            f.level_dbfs > -75.0 && f.level_dbfs < -65.0,
            "level {}",
            f.level_dbfs
        );
        assert!(f.harmonicity > 0.8, "harmonicity {}", f.harmonicity);
    }
}
