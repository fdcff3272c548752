//! `ns`: single-channel noise suppression.
//!
//! # What
//! Attenuates stationary and slowly varying background noise in speech, at most by a configurable maximum
//! attenuation, with little musical noise. Parameters: `level` (`low|moderate|high|veryhigh` = at most
//! 6, 12, 18 or 24 dB of attenuation) and `max_db` (0–40 dB; when non-zero it overrides `level`, so a
//! live `set ns.max_db 15` gives any floor in between). Meters: `noise_dbfs` (estimated noise level),
//! `gain_db` (mean applied gain), `speech_prob` (mean speech-presence probability).
//!
//! # How
//! - STFT with √Hann analysis/synthesis windows, 50 % overlap, frames of two blocks (20 ms for 10 ms
//!   blocks, [`super::stft`]); the node's latency is one block (10 ms).
//! - Noise PSD: the unbiased MMSE estimator with a posteriori speech-presence probability of Gerkmann &
//!   Hendriks, "Unbiased MMSE-based noise power estimation with low complexity and low tracking delay",
//!   IEEE TASLP 20(4), 2012: fixed prior SNR ξ_H1 = 15 dB, P(H1) = 0.5, stagnation guard on the smoothed
//!   SPP, recursive smoothing α = 0.8 per 16 ms.
//! - A priori SNR: decision-directed estimate (Ephraim & Malah 1984) with α = 0.98 and a floor ξ_min
//!   tied to the maximum attenuation, which keeps the residual noise smooth (Cappé 1994).
//! - Gain: MMSE log-spectral amplitude estimator (Ephraim & Malah, IEEE TASSP 33(2), 1985),
//!   `G = ξ/(1+ξ) · exp(½ E1(v))`, combined as in OM-LSA (Cohen & Berdugo 2001) with the conditional
//!   speech-presence probability `p`: `G = G_LSA^p · G_min^(1−p)`, then smoothed across neighbouring bins
//!   where speech is absent (musical-noise control).
//!
//! # Real-time safety
//! All buffers are sized in `prepare`; `process` is arithmetic on them.

use std::sync::Arc;

use realfft::num_complex::Complex32;
use tutti_engine::{
    EngineError, Inputs, Meters, NodeArgs, NodeType, Outputs, ParamInfo, Processor, StreamConfig,
};

use super::stft::{layout_for, Stft};

/// Attenuation of the `level` presets, in dB.
pub const NS_LEVEL_DB: [f32; 4] = [6.0, 12.0, 18.0, 24.0];

const PARAMS: &[ParamInfo] = &[
    ParamInfo::choice(
        "level",
        &["low", "moderate", "high", "veryhigh"],
        1,
        "suppression strength: at most 6, 12, 18 or 24 dB of attenuation",
    ),
    ParamInfo::new(
        "max_db",
        "dB",
        0.0,
        40.0,
        0.0,
        "maximum attenuation; 0 = use level",
    ),
];

const METERS: &[&str] = &["noise_dbfs", "gain_db", "speech_prob"];

/// The `ns` node type.
pub(crate) const TYPE: NodeType = NodeType {
    name: "ns",
    description: "noise suppression: MMSE-LSA gain with SPP-based unbiased MMSE noise tracking",
    inputs: &["in"],
    outputs: &["out"],
    params: PARAMS,
    options: &[],
    create: |a: &NodeArgs| {
        let mut ns = NoiseSuppressor::new();
        ns.set_param(0, a.get("level"));
        ns.set_param(1, a.get("max_db"));
        Ok(Box::new(ns))
    },
    stage: None,
};

/// Exponential integral E1(x) for x > 0 (Abramowitz & Stegun 5.1.53 and 5.1.56; error < 5e-5 relative).
pub fn expint_e1(x: f32) -> f32 {
    let x = x.max(1e-10);
    if x <= 1.0 {
        let p = -0.577_215_66
            + x * (0.999_991_93
                + x * (-0.249_910_55 + x * (0.055_199_68 + x * (-0.009_760_04 + x * 0.001_078_57))));
        p - x.ln()
    } else {
        let num = x * x + 2.334_733 * x + 0.250_621;
        let den = x * x + 3.330_657 * x + 1.681_534;
        num / den * (-x).exp() / x
    }
}

/// Per-channel spectral state.
#[derive(Debug)]
struct Channel {
    stft: Stft,
    noise: Vec<f32>,
    spp_bar: Vec<f32>,
    prev_snr: Vec<f32>,
    gain: Vec<f32>,
    frames: u32,
}

/// The noise suppressor (see the module docs).
#[derive(Debug)]
pub struct NoiseSuppressor {
    level: usize,
    max_db: f32,
    /// Current floor (linear amplitude), approaching `floor_target` frame by frame.
    floor: f32,
    floor_target: f32,
    alpha_noise: f32,
    alpha_spp: f32,
    init_frames: u32,
    channels: Vec<Channel>,
    meters: Arc<Meters>,
    latency: usize,
}

impl Default for NoiseSuppressor {
    fn default() -> Self {
        Self::new()
    }
}

impl NoiseSuppressor {
    /// A suppressor at `level = moderate`; call [`Processor::prepare`] before use.
    pub fn new() -> Self {
        let floor = 10f32.powf(-NS_LEVEL_DB[1] / 20.0);
        Self {
            level: 1,
            max_db: 0.0,
            floor,
            floor_target: floor,
            alpha_noise: 0.8,
            alpha_spp: 0.9,
            init_frames: 6,
            channels: Vec::new(),
            meters: Meters::new(METERS),
            latency: 0,
        }
    }

    fn attenuation_db(&self) -> f32 {
        if self.max_db > 0.0 {
            self.max_db
        } else {
            NS_LEVEL_DB[self.level]
        }
    }

    fn update_floor_target(&mut self) {
        self.floor_target = 10f32.powf(-self.attenuation_db() / 20.0);
    }
}

/// Processes one frame's spectrum of one channel. Returns (mean noise power, mean gain, mean SPP).
#[allow(clippy::too_many_arguments)]
fn suppress_frame(
    spec: &mut [Complex32],
    ch_noise: &mut [f32],
    spp_bar: &mut [f32],
    prev_snr: &mut [f32],
    gain: &mut [f32],
    frames: &mut u32,
    floor: f32,
    alpha_noise: f32,
    alpha_spp: f32,
    init_frames: u32,
) -> (f32, f32, f32) {
    const XI_H1: f32 = 31.622_776; // 15 dB
    const ALPHA_DD: f32 = 0.98;
    let bins = spec.len();
    let xi_min = (floor * floor).max(1e-4);
    let g_min = floor;
    let ln_g_min = g_min.max(1e-6).ln();
    *frames += 1;
    let init = *frames <= init_frames;
    let mut sum_noise = 0.0;
    let mut sum_p = 0.0;
    for k in 0..bins {
        let p_y = spec[k].norm_sqr() + 1e-20;
        if init {
            // Initial noise estimate: mean periodogram of the first frames.
            let f = *frames as f32;
            ch_noise[k] = if *frames == 1 {
                p_y
            } else {
                ch_noise[k] + (p_y - ch_noise[k]) / f
            };
        } else {
            // Gerkmann & Hendriks 2012, eqs. (8), (11)–(13), (15).
            let post = p_y / ch_noise[k].max(1e-20);
            let mut p1 = 1.0 / (1.0 + (1.0 + XI_H1) * (-post * XI_H1 / (1.0 + XI_H1)).min(80.0).exp());
            spp_bar[k] = alpha_spp * spp_bar[k] + (1.0 - alpha_spp) * p1;
            if spp_bar[k] > 0.99 {
                p1 = p1.min(0.99);
            }
            let e_n = (1.0 - p1) * p_y + p1 * ch_noise[k];
            ch_noise[k] = alpha_noise * ch_noise[k] + (1.0 - alpha_noise) * e_n;
        }
        sum_noise += ch_noise[k];
        let gamma = (p_y / ch_noise[k].max(1e-20)).min(1e4);
        let xi = if init {
            (gamma - 1.0).max(xi_min)
        } else {
            (ALPHA_DD * prev_snr[k] + (1.0 - ALPHA_DD) * (gamma - 1.0).max(0.0)).max(xi_min)
        };
        let r = xi / (1.0 + xi);
        let v = (r * gamma).max(1e-6);
        let g_lsa = if v > 20.0 {
            r
        } else {
            (r * (0.5 * expint_e1(v)).exp()).min(1.0)
        };
        prev_snr[k] = g_lsa * g_lsa * gamma;
        // Conditional speech presence probability (Cohen & Berdugo 2001, eq. 16) with q = 0.5.
        let p = 1.0 / (1.0 + (1.0 + xi) * (-v).max(-80.0).exp());
        sum_p += p;
        // OM-LSA gain G_lsa^p · G_min^(1−p), as one exponential (ln G_min is the same for every bin).
        let g = if p >= 1.0 {
            g_lsa
        } else {
            (p * g_lsa.max(1e-6).ln() + (1.0 - p) * ln_g_min).exp()
        };
        gain[k] = g.clamp(g_min, 1.0);
    }
    // Musical-noise control: where a bin stands alone above the floor (isolated peaks), replace its gain by
    // the median of it and its two neighbours.
    let mut prev = gain[0];
    for k in 1..bins.saturating_sub(1) {
        let (a, b, c) = (prev, gain[k], gain[k + 1]);
        prev = b;
        let med = a.max(b.min(c)).min(b.max(c));
        gain[k] = med.max(g_min);
    }
    let mut sum_g = 0.0;
    for (s, &g) in spec.iter_mut().zip(gain.iter()) {
        *s *= g;
        sum_g += g;
    }
    let n = bins as f32;
    (sum_noise / n, sum_g / n, sum_p / n)
}

impl Processor for NoiseSuppressor {
    fn name(&self) -> &'static str {
        "ns"
    }

    fn prepare(&mut self, cfg: &StreamConfig) -> Result<(), EngineError> {
        let (hop, aligned) = layout_for(cfg.sample_rate, cfg.block_frames);
        let hop_s = hop as f32 / cfg.sample_rate as f32;
        // The paper's smoothing constants are per 16 ms hop; scale them to ours.
        self.alpha_noise = 0.8f32.powf(hop_s / 0.016);
        self.alpha_spp = 0.9f32.powf(hop_s / 0.016);
        self.init_frames = ((0.05 / hop_s).round() as u32).max(2);
        self.channels = (0..cfg.channels)
            .map(|_| {
                let stft = Stft::new(hop, aligned);
                let bins = stft.bins();
                Channel {
                    stft,
                    noise: vec![0.0; bins],
                    spp_bar: vec![0.0; bins],
                    prev_snr: vec![0.0; bins],
                    gain: vec![1.0; bins],
                    frames: 0,
                }
            })
            .collect();
        self.latency = self.channels.first().map_or(0, |c| c.stft.latency());
        self.update_floor_target();
        self.floor = self.floor_target;
        Ok(())
    }

    fn process(&mut self, inputs: &Inputs<'_>, outputs: &mut Outputs<'_>) {
        let input = inputs.port(0);
        let mut out = outputs.port(0);
        // Move the floor towards its target by at most ×1.06 (0.5 dB) per block: click-free changes.
        let ratio = self.floor_target / self.floor;
        self.floor *= ratio.clamp(1.0 / 1.06, 1.06);
        let (floor, an, asp, init) = (self.floor, self.alpha_noise, self.alpha_spp, self.init_frames);
        let mut stats = (0.0f32, 0.0f32, 0.0f32, 0u32);
        for (c, ch) in self.channels.iter_mut().enumerate().take(input.channels()) {
            let Channel {
                stft,
                noise,
                spp_bar,
                prev_snr,
                gain,
                frames,
            } = ch;
            stft.process(input.channel(c), out.channel_mut(c), |spec| {
                let (nz, g, p) =
                    suppress_frame(spec, noise, spp_bar, prev_snr, gain, frames, floor, an, asp, init);
                stats = (stats.0 + nz, stats.1 + g, stats.2 + p, stats.3 + 1);
            });
        }
        if stats.3 > 0 {
            let k = stats.3 as f32;
            // Noise power per bin of an n-point FFT of a √Hann-windowed frame: E|X|² = σ²·Σw² = σ²·n/2.
            let n = self.channels[0].stft.frame_len() as f32;
            let ms = stats.0 / k / (n / 2.0);
            self.meters.set(0, f64::from(10.0 * (ms.max(1e-12)).log10()));
            self.meters
                .set(1, f64::from(20.0 * (stats.1 / k).max(1e-6).log10()));
            self.meters.set(2, f64::from(stats.2 / k));
        }
    }

    fn reset(&mut self) {
        for ch in &mut self.channels {
            ch.stft.reset();
            ch.noise.fill(0.0);
            ch.spp_bar.fill(0.0);
            ch.prev_snr.fill(0.0);
            ch.gain.fill(1.0);
            ch.frames = 0;
        }
        self.floor = self.floor_target;
    }

    fn latency(&self) -> usize {
        self.latency
    }

    fn params(&self) -> &'static [ParamInfo] {
        PARAMS
    }

    fn set_param(&mut self, index: usize, value: f32) {
        match index {
            0 => self.level = (value.round().max(0.0) as usize).min(NS_LEVEL_DB.len() - 1),
            1 => self.max_db = value.clamp(0.0, 40.0),
            _ => return,
        }
        self.update_floor_target();
    }

    fn meters(&self) -> Option<Arc<Meters>> {
        Some(self.meters.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e1_matches_tabulated_values() {
        // Abramowitz & Stegun table 5.1: E1(0.5) = 0.5597736, E1(1) = 0.2193839, E1(2) = 0.04890051,
        // E1(5) = 0.001148296, E1(0.01) = 4.0379296.
        for (x, e) in [
            (0.5, 0.559_773_6),
            (1.0, 0.219_383_9),
            (2.0, 0.048_900_51),
            (5.0, 0.001_148_296),
            (0.01, 4.037_929_6),
        ] {
            let got = expint_e1(x);
            assert!(((got - e) / e).abs() < 2e-4, "E1({x}) = {got}, expected {e}");
        }
    }

    #[test]
    fn level_and_max_db_set_the_floor() {
        let mut ns = NoiseSuppressor::new();
        ns.set_param(0, 2.0);
        assert_eq!(ns.attenuation_db(), 18.0);
        ns.set_param(1, 9.0);
        assert_eq!(ns.attenuation_db(), 9.0);
        ns.set_param(1, 0.0);
        assert_eq!(ns.attenuation_db(), 18.0);
    }
}
