//! Seeded acoustic echo scenes for testing and evaluating echo cancellers and other voice processing.
//!
//! # What
//! [`generate`] turns a far-end (loudspeaker) signal and a near-end (talker) signal into what a hands-free
//! device's microphone would pick up: the far-end played through a loudspeaker (optionally non-linear),
//! through a room ([`Room`]: image-method shoebox or exponentially decaying noise with a stated RT60),
//! delayed by the device's playout/capture latency, captured with a clock that drifts against the
//! playout clock, possibly with an abrupt echo-path change, plus the near-end talker and background
//! noise at a given SNR. Every component is returned separately ([`Scene`]) so that metrics can use the
//! clean near-end and the echo alone. Everything is deterministic for a given [`SceneConfig::seed`].
//!
//! # How
//! - Image method: J. B. Allen, D. A. Berkley, "Image method for efficiently simulating small-room
//!   acoustics", JASA 65(4), 1979, with fractional-delay images as in P. M. Peterson, JASA 80(5), 1986
//!   (Hann-windowed sinc, 32 taps). Wall reflection coefficient from Sabine's formula
//!   `RT60 = 0.161·V / (S·α)`, `β = √(1 − α)`.
//! - Decaying noise: Gaussian noise under an `exp(−6.91·t/RT60)` envelope (60 dB in RT60) after a direct
//!   path impulse, with a stated direct-to-reverberant ratio.
//! - Clock drift: the echo (in the loudspeaker's clock) is resampled by `1 + ppm·10⁻⁶` with a 32-tap
//!   Hann-windowed sinc interpolator.
//! - Levels: the echo is scaled so that the echo return loss (far power over echo power) equals
//!   [`SceneConfig::erl_db`]; the noise so that the active near-end speech level (or, without near-end
//!   speech, the echo level) is [`NoiseConfig::snr_db`] above it. Active level: mean power over the 10 ms
//!   frames within 40 dB of the loudest frame (a simplification of ITU-T P.56).
//!
//! # Real-time safety
//! Offline only: everything here allocates.

use std::f64::consts::PI;

/// Speed of sound used by the image method, m/s.
pub const SPEED_OF_SOUND: f64 = 343.0;

/// A small deterministic PRNG (SplitMix64) so that scenes need no external crate.
#[derive(Debug, Clone)]
pub struct SceneRng(u64);

impl SceneRng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller).
    pub fn gaussian(&mut self) -> f64 {
        let u1 = self.uniform().max(1e-300);
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * PI * u2).cos()
    }
}

/// The acoustic path from loudspeaker to microphone.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Room {
    /// Shoebox room simulated by the image method.
    ImageMethod {
        /// Room size (x, y, z) in metres.
        dims: [f64; 3],
        /// Loudspeaker position in metres.
        source: [f64; 3],
        /// Microphone position in metres.
        mic: [f64; 3],
        /// Reverberation time (60 dB decay) in seconds.
        rt60_s: f64,
    },
    /// A direct-path impulse followed by exponentially decaying Gaussian noise.
    DecayingNoise {
        /// Reverberation time (60 dB decay) in seconds.
        rt60_s: f64,
        /// Energy of the direct impulse over the energy of the reverberant tail, in dB.
        direct_to_reverb_db: f64,
    },
}

impl Room {
    /// A 5 × 4 × 3 m office with the loudspeaker 0.5 m from the microphone.
    pub fn office(rt60_s: f64) -> Self {
        Room::ImageMethod {
            dims: [5.0, 4.0, 3.0],
            source: [2.0, 1.5, 1.2],
            mic: [2.4, 1.8, 1.25],
            rt60_s,
        }
    }

    /// The same office with the loudspeaker and microphone moved (for echo-path changes).
    pub fn office_moved(rt60_s: f64) -> Self {
        Room::ImageMethod {
            dims: [5.0, 4.0, 3.0],
            source: [3.1, 2.6, 1.0],
            mic: [2.7, 2.1, 1.4],
            rt60_s,
        }
    }

    /// Impulse response of `len` samples at `rate` Hz (the seed matters only for decaying noise).
    pub fn impulse_response(&self, rate: u32, len: usize, seed: u64) -> Vec<f32> {
        match *self {
            Room::ImageMethod {
                dims,
                source,
                mic,
                rt60_s,
            } => image_method(dims, source, mic, rt60_s, rate, len),
            Room::DecayingNoise {
                rt60_s,
                direct_to_reverb_db,
            } => decaying_noise(rt60_s, direct_to_reverb_db, rate, len, seed),
        }
    }
}

/// A memoryless loudspeaker non-linearity applied to the far-end before the room.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Nonlinearity {
    /// `y = t·tanh(x/t)`: a soft clipper that saturates at `±threshold`.
    SoftClip {
        /// Saturation level (full scale = 1).
        threshold: f64,
    },
    /// The loudspeaker model of Wang et al. used in AEC papers: hard clip at ±`clip`, then
    /// `b = 1.5x − 0.3x²`, then `4·(2/(1+e^{−a·b}) − 1)` with `a = 4` for `b > 0` and `0.5` otherwise,
    /// rescaled by 1/4 to stay within full scale.
    Wang {
        /// Hard-clip level relative to the far-end's peak (e.g. 0.8).
        clip: f64,
    },
}

impl Nonlinearity {
    fn apply(&self, x: &[f32]) -> Vec<f32> {
        match *self {
            Nonlinearity::SoftClip { threshold } => {
                let t = threshold.max(1e-6);
                x.iter()
                    .map(|&v| (t * (f64::from(v) / t).tanh()) as f32)
                    .collect()
            }
            Nonlinearity::Wang { clip } => {
                let peak = x.iter().fold(0f64, |m, &v| m.max(f64::from(v).abs())).max(1e-9);
                let c = clip * peak;
                x.iter()
                    .map(|&v| {
                        let xc = f64::from(v).clamp(-c, c) / peak;
                        let b = 1.5 * xc - 0.3 * xc * xc;
                        let a = if b > 0.0 { 4.0 } else { 0.5 };
                        ((2.0 / (1.0 + (-a * b).exp()) - 1.0) * peak) as f32
                    })
                    .collect()
            }
        }
    }
}

/// Kind of background noise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoiseKind {
    /// White Gaussian noise.
    White,
    /// Pink (−3 dB/octave) noise, P. Kellet's filter on white Gaussian noise.
    Pink,
    /// 50 Hz mains hum: the fundamental and its harmonics up to 1 kHz with 1/k amplitudes and random
    /// phases, plus white noise 30 dB below.
    Hum,
}

/// Background noise at the microphone.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NoiseConfig {
    /// Spectrum.
    pub kind: NoiseKind,
    /// Active speech level (near-end, or echo when there is no near-end) over noise power, in dB.
    pub snr_db: f64,
}

/// An abrupt change of the echo path at a given time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PathChange {
    /// When the path changes, in seconds from the start.
    pub at_s: f64,
    /// The room after the change.
    pub room: Room,
    /// The bulk delay after the change, in milliseconds.
    pub delay_ms: f64,
}

/// Everything that defines a scene besides the two speech signals.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SceneConfig {
    /// Sample rate of all signals, Hz.
    pub sample_rate: u32,
    /// Seed of every random choice (noise, decaying-noise rooms).
    pub seed: u64,
    /// Loudspeaker-to-microphone room.
    pub room: Room,
    /// Length of the room impulse responses, in seconds.
    pub rir_s: f64,
    /// Bulk delay between the far-end reference and its echo (playout + capture buffering), in ms.
    pub delay_ms: f64,
    /// Echo return loss: far-end power over echo power, in dB (e.g. 6, 0 or −10).
    pub erl_db: f64,
    /// Loudspeaker non-linearity, if any.
    pub nonlinearity: Option<Nonlinearity>,
    /// Echo-path change, if any.
    pub path_change: Option<PathChange>,
    /// Capture clock drift against the playout clock, in parts per million (e.g. ±200).
    pub drift_ppm: f64,
    /// Background noise, if any.
    pub noise: Option<NoiseConfig>,
    /// Scale of the near-end talker: active near-end level over active echo level (signal-to-echo ratio,
    /// dB); `None` leaves the near-end signal as given.
    pub ser_db: Option<f64>,
}

impl SceneConfig {
    /// A linear, drift-free, noise-free scene: office room with the given RT60, `delay_ms` bulk delay,
    /// ERL 6 dB, 0.5 s impulse responses.
    pub fn linear(sample_rate: u32, seed: u64, rt60_s: f64, delay_ms: f64) -> Self {
        Self {
            sample_rate,
            seed,
            room: Room::office(rt60_s),
            rir_s: 0.5,
            delay_ms,
            erl_db: 6.0,
            nonlinearity: None,
            path_change: None,
            drift_ppm: 0.0,
            noise: None,
            ser_db: None,
        }
    }
}

/// The signals of a scene, all of the far-end's length.
#[derive(Debug, Clone, PartialEq)]
pub struct Scene {
    /// Far-end reference (what is sent to the loudspeaker; the canceller's second input).
    pub far: Vec<f32>,
    /// Microphone signal: `echo + near + noise`.
    pub mic: Vec<f32>,
    /// The echo component of the microphone signal.
    pub echo: Vec<f32>,
    /// The near-end talker component (after scaling to the requested SER).
    pub near: Vec<f32>,
    /// The background noise component.
    pub noise: Vec<f32>,
    /// The first room impulse response (before the change), unscaled, for reference.
    pub rir: Vec<f32>,
}

/// Builds a scene from a far-end and a near-end signal (the near-end is cut or zero-padded to the
/// far-end's length; pass an empty slice for far-end single talk).
pub fn generate(cfg: &SceneConfig, far: &[f32], near: &[f32]) -> Scene {
    generate_with_noise(cfg, far, near, None)
}

/// [`generate`] with a given noise signal (e.g. babble made of other talkers) instead of the synthetic
/// [`NoiseConfig::kind`]; it is cut or zero-padded to the far-end's length and scaled to
/// [`NoiseConfig::snr_db`] (without a [`SceneConfig::noise`], `noise` is ignored).
pub fn generate_with_noise(
    cfg: &SceneConfig,
    far: &[f32],
    near: &[f32],
    noise_source: Option<&[f32]>,
) -> Scene {
    let rate = cfg.sample_rate;
    let n = far.len();
    let rir_len = ((cfg.rir_s * f64::from(rate)) as usize).max(1);
    let played = match &cfg.nonlinearity {
        Some(nl) => nl.apply(far),
        None => far.to_vec(),
    };
    let rir = cfg.room.impulse_response(rate, rir_len, cfg.seed);
    let mut echo = render_path(&played, &rir, cfg.delay_ms, rate, n);
    if let Some(pc) = &cfg.path_change {
        let rir2 = pc.room.impulse_response(rate, rir_len, cfg.seed.wrapping_add(1));
        let mut echo2 = render_path(&played, &rir2, pc.delay_ms, rate, n);
        // Keep the echo level across the change.
        let g = (power(&echo) / power(&echo2).max(1e-30)).sqrt() as f32;
        echo2.iter_mut().for_each(|v| *v *= g);
        let at = ((pc.at_s * f64::from(rate)) as usize).min(n);
        echo[at..].copy_from_slice(&echo2[at..]);
    }
    if cfg.drift_ppm != 0.0 {
        echo = resample_drift(&echo, cfg.drift_ppm);
    }
    let pf = power(far);
    let pe = power(&echo);
    if pe > 0.0 && pf > 0.0 {
        let g = ((pf / pe) * 10f64.powf(-cfg.erl_db / 10.0)).sqrt() as f32;
        echo.iter_mut().for_each(|v| *v *= g);
    }
    let mut near_v = vec![0f32; n];
    let m = near.len().min(n);
    near_v[..m].copy_from_slice(&near[..m]);
    if let Some(ser) = cfg.ser_db {
        let ln = active_level(&near_v, rate);
        let le = active_level(&echo, rate);
        if ln > 0.0 && le > 0.0 {
            let g = ((le / ln) * 10f64.powf(ser / 10.0)).sqrt() as f32;
            near_v.iter_mut().for_each(|v| *v *= g);
        }
    }
    let mut noise = vec![0f32; n];
    if let Some(nc) = &cfg.noise {
        let mut rng = SceneRng::new(cfg.seed.wrapping_mul(31).wrapping_add(7));
        let mut pink = [0f64; 7];
        let hum_phases: Vec<f64> = (0..20).map(|_| 2.0 * PI * rng.uniform()).collect();
        let custom = noise_source.is_some();
        if let Some(src) = noise_source {
            let m = src.len().min(n);
            noise[..m].copy_from_slice(&src[..m]);
        }
        for (i, v) in noise.iter_mut().enumerate() {
            if custom {
                break;
            }
            let w = rng.gaussian();
            *v = match nc.kind {
                NoiseKind::White => w as f32,
                NoiseKind::Pink => {
                    pink[0] = 0.99886 * pink[0] + w * 0.0555179;
                    pink[1] = 0.99332 * pink[1] + w * 0.0750759;
                    pink[2] = 0.96900 * pink[2] + w * 0.1538520;
                    pink[3] = 0.86650 * pink[3] + w * 0.3104856;
                    pink[4] = 0.55000 * pink[4] + w * 0.5329522;
                    pink[5] = -0.7616 * pink[5] - w * 0.0168980;
                    let out = pink[..6].iter().sum::<f64>() + pink[6] + w * 0.5362;
                    pink[6] = w * 0.115926;
                    out as f32
                }
                NoiseKind::Hum => {
                    let t = i as f64 / f64::from(rate);
                    let hum: f64 = hum_phases
                        .iter()
                        .enumerate()
                        .map(|(k, ph)| (2.0 * PI * 50.0 * (k + 1) as f64 * t + ph).sin() / (k + 1) as f64)
                        .sum();
                    (hum + w * 0.03) as f32
                }
            };
        }
        let reference = if active_level(&near_v, rate) > 0.0 {
            &near_v
        } else {
            &echo
        };
        let ls = active_level(reference, rate);
        let pn = power(&noise);
        if pn > 0.0 {
            let g = ((ls.max(1e-12) / pn) * 10f64.powf(-nc.snr_db / 10.0)).sqrt() as f32;
            noise.iter_mut().for_each(|v| *v *= g);
        }
    }
    let mic = (0..n).map(|i| echo[i] + near_v[i] + noise[i]).collect();
    Scene {
        far: far.to_vec(),
        mic,
        echo,
        near: near_v,
        noise,
        rir,
    }
}

/// Mean power of `x` (0 for an empty slice).
pub fn power(x: &[f32]) -> f64 {
    if x.is_empty() {
        return 0.0;
    }
    x.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() / x.len() as f64
}

/// Active level of `x` at `rate`: mean power of the 10 ms frames within 40 dB of the loudest frame
/// (0 for silence).
pub fn active_level(x: &[f32], rate: u32) -> f64 {
    let frame = (rate as usize / 100).max(1);
    let powers: Vec<f64> = x.chunks(frame).map(power).collect();
    let max = powers.iter().cloned().fold(0f64, f64::max);
    if max <= 0.0 {
        return 0.0;
    }
    let active: Vec<f64> = powers.into_iter().filter(|&p| p >= max * 1e-4).collect();
    active.iter().sum::<f64>() / active.len() as f64
}

/// Convolves `x` with `rir` after a bulk delay (fractional delays are rounded to whole samples).
fn render_path(x: &[f32], rir: &[f32], delay_ms: f64, rate: u32, n: usize) -> Vec<f32> {
    let d = (delay_ms * f64::from(rate) / 1000.0).round().max(0.0) as usize;
    let conv = convolve(x, rir, n);
    let mut out = vec![0f32; n];
    if d < n {
        out[d..].copy_from_slice(&conv[..n - d]);
    }
    out
}

/// Linear convolution truncated to `n` samples, by FFT overlap-add.
fn convolve(x: &[f32], h: &[f32], n: usize) -> Vec<f32> {
    use realfft::RealFftPlanner;
    let mut out = vec![0f64; n + h.len()];
    if x.is_empty() || h.is_empty() {
        out.truncate(n);
        return out.into_iter().map(|v| v as f32).collect();
    }
    let block = h.len().next_power_of_two().max(1024);
    let size = 2 * block.max(h.len().next_power_of_two());
    let mut planner = RealFftPlanner::<f64>::new();
    let fwd = planner.plan_fft_forward(size);
    let inv = planner.plan_fft_inverse(size);
    let mut hb = vec![0f64; size];
    for (d, s) in hb.iter_mut().zip(h) {
        *d = f64::from(*s);
    }
    let mut hs = fwd.make_output_vec();
    fwd.process(&mut hb, &mut hs)
        .expect("buffer sizes come from the same plan");
    let mut xb = vec![0f64; size];
    let mut xs = fwd.make_output_vec();
    let mut yb = vec![0f64; size];
    let step = size - h.len() + 1;
    let mut pos = 0;
    while pos < x.len().min(n) {
        let take = step.min(x.len() - pos);
        xb.iter_mut().for_each(|v| *v = 0.0);
        for (d, s) in xb.iter_mut().zip(&x[pos..pos + take]) {
            *d = f64::from(*s);
        }
        fwd.process(&mut xb, &mut xs)
            .expect("buffer sizes come from the same plan");
        for (a, b) in xs.iter_mut().zip(&hs) {
            *a *= *b;
        }
        inv.process(&mut xs, &mut yb)
            .expect("buffer sizes come from the same plan");
        for (i, v) in yb.iter().enumerate().take(take + h.len() - 1) {
            if pos + i < out.len() {
                out[pos + i] += v / size as f64;
            }
        }
        pos += take;
    }
    out.truncate(n);
    out.into_iter().map(|v| v as f32).collect()
}

/// Hann-windowed sinc of half-width `half` taps evaluated at `t` (samples).
fn windowed_sinc(t: f64, half: f64) -> f64 {
    if t.abs() >= half {
        return 0.0;
    }
    let s = if t.abs() < 1e-12 {
        1.0
    } else {
        (PI * t).sin() / (PI * t)
    };
    s * 0.5 * (1.0 + (PI * t / half).cos())
}

/// Allen–Berkley image method with Peterson's fractional-delay images.
fn image_method(dims: [f64; 3], src: [f64; 3], mic: [f64; 3], rt60: f64, rate: u32, len: usize) -> Vec<f32> {
    let fs = f64::from(rate);
    let [lx, ly, lz] = dims;
    let volume = lx * ly * lz;
    let surface = 2.0 * (lx * ly + lx * lz + ly * lz);
    let alpha = (0.161 * volume / (surface * rt60.max(1e-3))).clamp(1e-6, 1.0);
    let beta = (1.0 - alpha).sqrt();
    let max_dist = len as f64 / fs * SPEED_OF_SOUND;
    let mut h = vec![0f64; len];
    let half = 16.0;
    let orders = [
        (max_dist / (2.0 * lx)).ceil() as i64 + 1,
        (max_dist / (2.0 * ly)).ceil() as i64 + 1,
        (max_dist / (2.0 * lz)).ceil() as i64 + 1,
    ];
    for px in 0..2i64 {
        for py in 0..2i64 {
            for pz in 0..2i64 {
                for mx in -orders[0]..=orders[0] {
                    let dx = (1 - 2 * px) as f64 * src[0] + 2.0 * mx as f64 * lx - mic[0];
                    let rx = (mx - px).abs() + mx.abs();
                    if dx.abs() > max_dist {
                        continue;
                    }
                    for my in -orders[1]..=orders[1] {
                        let dy = (1 - 2 * py) as f64 * src[1] + 2.0 * my as f64 * ly - mic[1];
                        let ry = (my - py).abs() + my.abs();
                        if (dx * dx + dy * dy).sqrt() > max_dist {
                            continue;
                        }
                        for mz in -orders[2]..=orders[2] {
                            let dz = (1 - 2 * pz) as f64 * src[2] + 2.0 * mz as f64 * lz - mic[2];
                            let rz = (mz - pz).abs() + mz.abs();
                            let d = (dx * dx + dy * dy + dz * dz).sqrt().max(0.05);
                            let t = d / SPEED_OF_SOUND * fs;
                            if t >= len as f64 + half {
                                continue;
                            }
                            let gain = beta.powi((rx + ry + rz) as i32) / (4.0 * PI * d);
                            let lo = (t - half).ceil().max(0.0) as usize;
                            let hi = ((t + half).floor() as usize).min(len.saturating_sub(1));
                            for (k, hk) in h.iter_mut().enumerate().take(hi + 1).skip(lo) {
                                *hk += gain * windowed_sinc(k as f64 - t, half);
                            }
                        }
                    }
                }
            }
        }
    }
    h.into_iter().map(|v| v as f32).collect()
}

/// Direct impulse plus exponentially decaying Gaussian noise.
fn decaying_noise(rt60: f64, drr_db: f64, rate: u32, len: usize, seed: u64) -> Vec<f32> {
    let fs = f64::from(rate);
    let mut rng = SceneRng::new(seed);
    let mut h = vec![0f64; len];
    let start = (0.002 * fs) as usize; // 2 ms: the tail starts after the direct sound
    let decay = 6.907_755 / (rt60.max(1e-3) * fs);
    for (i, v) in h.iter_mut().enumerate().skip(start) {
        *v = rng.gaussian() * (-decay * (i - start) as f64).exp();
    }
    let tail: f64 = h.iter().map(|v| v * v).sum();
    let direct = (tail.max(1e-30) * 10f64.powf(drr_db / 10.0)).sqrt();
    if let Some(first) = h.first_mut() {
        *first = direct;
    }
    h.into_iter().map(|v| v as f32).collect()
}

/// Resamples `x` so that output sample `i` reads input time `i·(1 + ppm·10⁻⁶)` (32-tap windowed sinc).
fn resample_drift(x: &[f32], ppm: f64) -> Vec<f32> {
    let ratio = 1.0 + ppm * 1e-6;
    let half = 16.0;
    (0..x.len())
        .map(|i| {
            let t = i as f64 * ratio;
            let c = t.floor() as i64;
            let mut acc = 0f64;
            for k in (c - 15)..=(c + 16) {
                if k >= 0 && (k as usize) < x.len() {
                    acc += f64::from(x[k as usize]) * windowed_sinc(t - k as f64, half);
                }
            }
            acc as f32
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(n: usize, f: f64, rate: f64) -> Vec<f32> {
        (0..n)
            .map(|i| (0.3 * (2.0 * PI * f * i as f64 / rate).sin()) as f32)
            .collect()
    }

    #[test]
    fn decaying_noise_has_the_stated_rt60() {
        let rate = 16000;
        let h = Room::DecayingNoise {
            rt60_s: 0.4,
            direct_to_reverb_db: -100.0,
        }
        .impulse_response(rate, 16000, 3);
        // Schroeder backward integration: the slope between −5 and −25 dB extrapolated to 60 dB.
        let mut edc: Vec<f64> = vec![0.0; h.len()];
        let mut acc = 0.0;
        for i in (0..h.len()).rev() {
            acc += f64::from(h[i]) * f64::from(h[i]);
            edc[i] = acc;
        }
        let db: Vec<f64> = edc.iter().map(|e| 10.0 * (e / edc[0]).log10()).collect();
        let t5 = db.iter().position(|&d| d < -5.0).unwrap();
        let t25 = db.iter().position(|&d| d < -25.0).unwrap();
        let rt60 = (t25 - t5) as f64 / f64::from(rate) * 3.0;
        assert!((rt60 - 0.4).abs() < 0.04, "rt60 {rt60}");
    }

    #[test]
    fn image_method_direct_path_delay_and_decay() {
        let rate = 16000;
        let room = Room::office(0.3);
        let h = room.impulse_response(rate, 8000, 0);
        let peak = h.iter().enumerate().fold(
            (0, 0f32),
            |m, (i, &v)| if v.abs() > m.1 { (i, v.abs()) } else { m },
        );
        // Direct distance sqrt(0.4² + 0.3² + 0.05²) = 0.5025 m → 23.4 samples at 16 kHz.
        assert!((peak.0 as i64 - 23).abs() <= 1, "direct path at {}", peak.0);
        let e_early: f64 = h[..1600].iter().map(|&v| f64::from(v).powi(2)).sum();
        let e_late: f64 = h[4000..].iter().map(|&v| f64::from(v).powi(2)).sum();
        assert!(e_late < e_early * 1e-3, "late energy {e_late} early {e_early}");
    }

    #[test]
    fn erl_ser_and_snr_are_as_asked() {
        let rate = 16000;
        let far = tone(32000, 440.0, 16000.0);
        let near = tone(32000, 900.0, 16000.0);
        let mut cfg = SceneConfig::linear(rate, 1, 0.2, 50.0);
        cfg.erl_db = 10.0;
        cfg.ser_db = Some(-3.0);
        cfg.noise = Some(NoiseConfig {
            kind: NoiseKind::Pink,
            snr_db: 20.0,
        });
        let s = generate(&cfg, &far, &near);
        let erl = 10.0 * (power(&s.far) / power(&s.echo)).log10();
        assert!((erl - 10.0).abs() < 0.01, "erl {erl}");
        let ser = 10.0 * (active_level(&s.near, rate) / active_level(&s.echo, rate)).log10();
        assert!((ser + 3.0).abs() < 0.01, "ser {ser}");
        let snr = 10.0 * (active_level(&s.near, rate) / power(&s.noise)).log10();
        assert!((snr - 20.0).abs() < 0.01, "snr {snr}");
        for i in 0..s.mic.len() {
            assert!((s.mic[i] - s.echo[i] - s.near[i] - s.noise[i]).abs() < 1e-6);
        }
    }

    #[test]
    fn delay_and_drift_shift_the_echo() {
        let rate = 8000;
        let mut rng = SceneRng::new(5);
        let far: Vec<f32> = (0..40000).map(|_| rng.gaussian() as f32 * 0.1).collect();
        let mut cfg = SceneConfig::linear(rate, 2, 0.1, 100.0);
        cfg.room = Room::DecayingNoise {
            rt60_s: 0.05,
            direct_to_reverb_db: 30.0,
        };
        cfg.drift_ppm = 1000.0;
        let s = generate(&cfg, &far, &[]);
        // Cross-correlation peak near the start is at 800 samples, near the end 800 + 0.1% · t later.
        let lag_at = |pos: usize| {
            (700..900)
                .max_by(|&a, &b| {
                    let c = |l: usize| (pos..pos + 4000).map(|i| s.echo[i + l] * s.far[i]).sum::<f32>();
                    c(a).partial_cmp(&c(b)).unwrap()
                })
                .unwrap()
        };
        // Echo index i reads the far-end at 1.001·i − 800, so the lag at far index i is (800 − 0.001·i)/1.001:
        // 798 around i = 2000 (window centre) and 763.2 around i = 36000.
        let early = lag_at(0);
        assert!((early as i64 - 798).abs() <= 1, "early lag {early}");
        let late = lag_at(34000);
        assert!((late as i64 - 763).abs() <= 1, "late lag {late}");
    }

    #[test]
    fn hum_and_custom_noise_are_scaled_to_the_snr() {
        let rate = 16000;
        let near = tone(32000, 700.0, 16000.0);
        let mut cfg = SceneConfig::linear(rate, 4, 0.2, 0.0);
        cfg.noise = Some(NoiseConfig {
            kind: NoiseKind::Hum,
            snr_db: 5.0,
        });
        let s = generate(&cfg, &[0.0; 32000], &near);
        let snr = 10.0 * (active_level(&s.near, rate) / power(&s.noise)).log10();
        assert!((snr - 5.0).abs() < 0.01, "snr {snr}");
        // Hum: the 50 Hz line carries (1/1²)/Σ1/k² ≈ 0.61 of the harmonic power; its DFT bin over 1 s.
        let x = &s.noise[..16000];
        let (re, im) = x.iter().enumerate().fold((0f64, 0f64), |(re, im), (i, &v)| {
            let ph = 2.0 * PI * 50.0 * i as f64 / 16000.0;
            (re + f64::from(v) * ph.cos(), im - f64::from(v) * ph.sin())
        });
        let p50 = 2.0 * (re * re + im * im) / (16000.0f64 * 16000.0);
        let share = p50 / power(x);
        let expect = 1.0 / (1..=20).map(|k| 1.0 / (k * k) as f64).sum::<f64>();
        assert!(
            (share - expect).abs() < 0.02,
            "50 Hz share {share}, expected {expect}"
        );
        let custom = tone(10000, 333.0, 16000.0);
        let s = generate_with_noise(&cfg, &[0.0; 32000], &near, Some(&custom));
        assert!(s.noise[10000..].iter().all(|&v| v == 0.0));
        let snr = 10.0 * (active_level(&s.near, rate) / power(&s.noise)).log10();
        assert!((snr - 5.0).abs() < 0.01, "custom snr {snr}");
    }

    #[test]
    fn nonlinearities_are_bounded_and_odd_enough() {
        let x: Vec<f32> = (-100..=100).map(|i| i as f32 / 100.0).collect();
        let y = Nonlinearity::SoftClip { threshold: 0.5 }.apply(&x);
        assert!(y.iter().all(|v| v.abs() <= 0.5));
        assert!((y[110] - 0.5 * 0.2f32.tanh()).abs() < 1e-6);
        let w = Nonlinearity::Wang { clip: 0.8 }.apply(&x);
        assert!(w.iter().all(|v| v.abs() <= 1.0));
        assert!(w[200] > 0.5 && w[0] < 0.0);
    }
}
