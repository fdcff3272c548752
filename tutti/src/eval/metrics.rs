//! Objective metrics of `tutti eval`, computed in Rust.
//!
//! # What
//! - ERLE (echo return loss enhancement) in far-end single talk: `10·log10(Σy² / Σŷ²)` over the frames
//!   where the echo is active, `y` the microphone signal and `ŷ` the canceller's output (the definition of
//!   the Microsoft AEC challenge papers), as one number and as a curve over time.
//! - Time to 20 dB ERLE: when the ERLE over a sliding window first reaches 20 dB.
//! - SI-SDR (scale-invariant signal-to-distortion ratio, J. Le Roux et al., "SDR — half-baked or well
//!   done?", ICASSP 2019) after aligning the output to the reference by the lag of the cross-correlation
//!   peak, which is also the measured latency.
//! - Segmental SNR (frames of 10 ms whose reference is active, each clamped to [−10, 35] dB, as in
//!   Hansen & Pellom 1998).
//! - Loudness (ITU-R BS.1770-4: K-weighting, 400 ms blocks with 75 % overlap, −70 LUFS absolute and −10 LU
//!   relative gates), used as the active speech level, and clipped samples.
//!
//! # How
//! Plain sums in f64; the cross-correlation uses an FFT (realfft) so that long signals stay cheap.
//!
//! # Real-time safety
//! Offline only: everything here allocates.

use realfft::RealFftPlanner;

/// Length of the analysis frames, in seconds.
pub const FRAME_S: f64 = 0.010;

fn energy(x: &[f32]) -> f64 {
    x.iter().map(|&v| f64::from(v) * f64::from(v)).sum()
}

fn db(ratio: f64) -> f64 {
    10.0 * ratio.max(1e-30).log10()
}

/// Per-frame activity of `x`: frames of `frame` samples within 40 dB of the loudest frame.
pub fn active_frames(x: &[f32], frame: usize) -> Vec<bool> {
    let p: Vec<f64> = x.chunks(frame.max(1)).map(energy).collect();
    let max = p.iter().cloned().fold(0.0, f64::max);
    p.iter().map(|&e| max > 0.0 && e >= max * 1e-4).collect()
}

/// ERLE in dB of `out` against `mic` over the frames (of `frame` samples, from sample `from` on) where
/// `active` is true. `None` when no active frame is left.
pub fn erle_db(mic: &[f32], out: &[f32], active: &[bool], frame: usize, from: usize) -> Option<f64> {
    let (mut num, mut den) = (0.0, 0.0);
    let mut any = false;
    for (k, &a) in active.iter().enumerate() {
        let s = k * frame;
        if !a || s < from || s >= mic.len() {
            continue;
        }
        let e = (s + frame).min(mic.len()).min(out.len());
        if e <= s {
            continue;
        }
        num += energy(&mic[s..e]);
        den += energy(&out[s..e]);
        any = true;
    }
    any.then(|| db(num / den.max(1e-20)))
}

/// ERLE over time: one value per `window` samples (hop `window / 2`), `None` where the echo is inactive
/// in more than half of the window. Returns `(centre time in s, ERLE dB)` pairs.
pub fn erle_curve(
    mic: &[f32],
    out: &[f32],
    active: &[bool],
    frame: usize,
    window: usize,
    rate: u32,
) -> Vec<(f64, Option<f64>)> {
    let per = (window / frame).max(1);
    let hop = (per / 2).max(1);
    let mut curve = Vec::new();
    let mut k = 0;
    while k + per <= active.len() {
        let n_active = active[k..k + per].iter().filter(|&&a| a).count();
        let t = ((k + per / 2) * frame) as f64 / f64::from(rate);
        let v = if 2 * n_active > per {
            let lo = k * frame;
            let sub: Vec<bool> = active[k..k + per].to_vec();
            let hi = ((k + per) * frame).min(mic.len()).min(out.len());
            erle_db(&mic[lo..hi], &out[lo..hi], &sub, frame, 0)
        } else {
            None
        };
        curve.push((t, v));
        k += hop;
    }
    curve
}

/// Time (s, from `from_s`) at which the ERLE curve first reaches `target_db`: the centre of the first
/// window at or after `from_s` whose ERLE is at least the target. `None` if it never does.
pub fn time_to(curve: &[(f64, Option<f64>)], target_db: f64, from_s: f64) -> Option<f64> {
    curve
        .iter()
        .find(|(t, v)| *t >= from_s && v.is_some_and(|v| v >= target_db))
        .map(|(t, _)| t - from_s)
}

/// Lag (in samples, `0..=max_lag`) by which `out` trails `reference`: the peak of their cross-correlation.
pub fn lag(reference: &[f32], out: &[f32], max_lag: usize) -> usize {
    let n = reference.len().min(out.len());
    if n == 0 {
        return 0;
    }
    let size = (n + max_lag + 1).next_power_of_two() * 2;
    let mut planner = RealFftPlanner::<f64>::new();
    let fwd = planner.plan_fft_forward(size);
    let inv = planner.plan_fft_inverse(size);
    let mut a = vec![0.0; size];
    let mut b = vec![0.0; size];
    for i in 0..n {
        a[i] = f64::from(reference[i]);
        b[i] = f64::from(out[i]);
    }
    let mut fa = fwd.make_output_vec();
    let mut fb = fwd.make_output_vec();
    fwd.process(&mut a, &mut fa)
        .expect("buffers come from the same plan");
    fwd.process(&mut b, &mut fb)
        .expect("buffers come from the same plan");
    // corr[l] = Σ out[i + l] · ref[i]  =  IFFT(FB · conj(FA)).
    for (x, y) in fb.iter_mut().zip(&fa) {
        *x *= y.conj();
    }
    let mut corr = vec![0.0; size];
    inv.process(&mut fb, &mut corr)
        .expect("buffers come from the same plan");
    (0..=max_lag.min(size - 1))
        .max_by(|&i, &j| corr[i].total_cmp(&corr[j]))
        .unwrap_or(0)
}

/// `out` shifted earlier by `lag` samples, zero-padded to `len`.
pub fn align(out: &[f32], lag: usize, len: usize) -> Vec<f32> {
    let mut v: Vec<f32> = out.iter().skip(lag).take(len).copied().collect();
    v.resize(len, 0.0);
    v
}

/// SI-SDR in dB of `est` against `reference` (same length, already aligned).
pub fn si_sdr_db(reference: &[f32], est: &[f32]) -> Option<f64> {
    let n = reference.len().min(est.len());
    let rr: f64 = energy(&reference[..n]);
    if rr <= 0.0 {
        return None;
    }
    let dot: f64 = (0..n).map(|i| f64::from(reference[i]) * f64::from(est[i])).sum();
    let alpha = dot / rr;
    let (mut target, mut err) = (0.0, 0.0);
    for i in 0..n {
        let t = alpha * f64::from(reference[i]);
        let e = f64::from(est[i]) - t;
        target += t * t;
        err += e * e;
    }
    Some(db(target / err.max(1e-30)))
}

/// Segmental SNR in dB over the 10 ms frames where the reference is active (clamped to [−10, 35] dB).
pub fn seg_snr_db(reference: &[f32], est: &[f32], rate: u32) -> Option<f64> {
    let frame = (f64::from(rate) * FRAME_S) as usize;
    let n = reference.len().min(est.len());
    let active = active_frames(&reference[..n], frame);
    let vals: Vec<f64> = active
        .iter()
        .enumerate()
        .filter(|(_, &a)| a)
        .map(|(k, _)| {
            let s = k * frame;
            let e = (s + frame).min(n);
            let sig = energy(&reference[s..e]);
            let noise: f64 = (s..e)
                .map(|i| (f64::from(reference[i]) - f64::from(est[i])).powi(2))
                .sum();
            db(sig / noise.max(1e-30)).clamp(-10.0, 35.0)
        })
        .collect();
    (!vals.is_empty()).then(|| vals.iter().sum::<f64>() / vals.len() as f64)
}

/// A biquad in direct form I, f64.
struct Biquad {
    b: [f64; 3],
    a: [f64; 3],
}

impl Biquad {
    fn run(&self, x: &[f64]) -> Vec<f64> {
        let (mut x1, mut x2, mut y1, mut y2) = (0.0, 0.0, 0.0, 0.0);
        x.iter()
            .map(|&x0| {
                let y0 = self.b[0] * x0 + self.b[1] * x1 + self.b[2] * x2 - self.a[1] * y1 - self.a[2] * y2;
                x2 = x1;
                x1 = x0;
                y2 = y1;
                y1 = y0;
                y0
            })
            .collect()
    }
}

/// The two K-weighting stages of BS.1770 at `rate`, from their analog prototypes (the pre-filter shelf
/// and the RLB high-pass), as libebur128 derives them for rates other than 48 kHz.
fn k_weighting(rate: u32) -> [Biquad; 2] {
    let fs = f64::from(rate);
    let (f0, g, q) = (1681.974450955533, 3.999843853973347, 0.7071752369554196);
    let k = (std::f64::consts::PI * f0 / fs).tan();
    let vh = 10f64.powf(g / 20.0);
    let vb = vh.powf(0.4996667741545416);
    let a0 = 1.0 + k / q + k * k;
    let shelf = Biquad {
        b: [
            (vh + vb * k / q + k * k) / a0,
            2.0 * (k * k - vh) / a0,
            (vh - vb * k / q + k * k) / a0,
        ],
        a: [1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0],
    };
    let (f0, q) = (38.13547087602444, 0.5003270373238773);
    let k = (std::f64::consts::PI * f0 / fs).tan();
    let a0 = 1.0 + k / q + k * k;
    let hp = Biquad {
        b: [1.0, -2.0, 1.0],
        a: [1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0],
    };
    [shelf, hp]
}

/// Gated loudness of a mono signal in LUFS (ITU-R BS.1770-4); `None` when every block is gated out.
pub fn loudness_lufs(x: &[f32], rate: u32) -> Option<f64> {
    let [shelf, hp] = k_weighting(rate);
    let xf: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
    let y = hp.run(&shelf.run(&xf));
    let block = (0.4 * f64::from(rate)) as usize;
    let step = block / 4;
    if y.len() < block || step == 0 {
        return None;
    }
    let z: Vec<f64> = (0..=(y.len() - block) / step)
        .map(|j| y[j * step..j * step + block].iter().map(|v| v * v).sum::<f64>() / block as f64)
        .collect();
    let l = |p: f64| -0.691 + 10.0 * p.max(1e-30).log10();
    let abs: Vec<f64> = z.into_iter().filter(|&p| l(p) > -70.0).collect();
    if abs.is_empty() {
        return None;
    }
    let rel = l(abs.iter().sum::<f64>() / abs.len() as f64) - 10.0;
    let gated: Vec<f64> = abs.into_iter().filter(|&p| l(p) > rel).collect();
    (!gated.is_empty()).then(|| l(gated.iter().sum::<f64>() / gated.len() as f64))
}

/// Samples at or beyond full scale (|x| ≥ 1 − 2⁻¹⁶, i.e. the 16-bit extremes).
pub fn clipped_samples(x: &[f32]) -> usize {
    x.iter().filter(|v| v.abs() >= 1.0 - 1.0 / 65536.0).count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tutti_effects::voice::scene::SceneRng;

    fn noise(n: usize, seed: u64, scale: f64) -> Vec<f32> {
        let mut r = SceneRng::new(seed);
        (0..n).map(|_| (r.gaussian() * scale) as f32).collect()
    }

    #[test]
    fn erle_of_a_known_attenuation() {
        let mic = noise(16000, 1, 0.1);
        let out: Vec<f32> = mic.iter().map(|v| v * 0.01).collect();
        let act = active_frames(&mic, 160);
        let e = erle_db(&mic, &out, &act, 160, 0).unwrap();
        assert!((e - 40.0).abs() < 1e-6, "{e}");
        assert!(erle_db(&mic, &mic, &act, 160, 0).unwrap().abs() < 1e-9);
    }

    #[test]
    fn time_to_20_db_finds_the_step() {
        let rate = 16000;
        let mic = noise(4 * 16000, 2, 0.1);
        // Identity for 1.5 s, then 30 dB below.
        let out: Vec<f32> = mic
            .iter()
            .enumerate()
            .map(|(i, v)| if i < 24000 { *v } else { v * 0.0316 })
            .collect();
        let act = active_frames(&mic, 160);
        let curve = erle_curve(&mic, &out, &act, 160, 3200, rate);
        let t = time_to(&curve, 20.0, 0.0).unwrap();
        // 200 ms windows, hop 100 ms: the window [1.4, 1.6] s is half identity (≈ 3 dB); [1.5, 1.7] s is
        // entirely 30 dB down, so its centre, 1.6 s, is the first at 20 dB.
        assert!((t - 1.6).abs() <= 0.1 + 1e-9, "{t}");
        assert!(time_to(&curve, 40.0, 0.0).is_none());
    }

    #[test]
    fn si_sdr_analytic_values() {
        let s = noise(48000, 3, 0.1);
        assert!(si_sdr_db(&s, &s).unwrap() > 100.0);
        let half: Vec<f32> = s.iter().map(|v| v * 0.5).collect();
        assert!(si_sdr_db(&s, &half).unwrap() > 100.0, "scale invariance");
        // An independent noise of equal power: SI-SDR ≈ 0 dB (the cross term is O(1/√n)).
        let n = noise(48000, 4, 0.1);
        let noisy: Vec<f32> = s.iter().zip(&n).map(|(a, b)| a + b).collect();
        let v = si_sdr_db(&s, &noisy).unwrap();
        assert!(v.abs() < 0.1, "{v}");
        // −10 dB noise: ≈ 10 dB.
        let noisy: Vec<f32> = s.iter().zip(&n).map(|(a, b)| a + b * 0.316_227_8).collect();
        let v = si_sdr_db(&s, &noisy).unwrap();
        assert!((v - 10.0).abs() < 0.1, "{v}");
    }

    #[test]
    fn lag_alignment_recovers_a_delay() {
        let s = noise(16000, 5, 0.1);
        let mut d = vec![0.0f32; 37];
        d.extend_from_slice(&s);
        assert_eq!(lag(&s, &d, 800), 37);
        let a = align(&d, 37, s.len());
        assert!(si_sdr_db(&s, &a).unwrap() > 100.0);
        assert_eq!(lag(&s, &s, 800), 0);
    }

    #[test]
    fn seg_snr_of_a_constant_ratio() {
        let s = noise(16000, 6, 0.1);
        let est: Vec<f32> = s.iter().map(|v| v * 0.9).collect();
        // Error = 0.1·s in every frame: 20 dB everywhere.
        let v = seg_snr_db(&s, &est, 16000).unwrap();
        assert!((v - 20.0).abs() < 1e-4, "{v}");
        assert!(
            (seg_snr_db(&s, &s, 16000).unwrap() - 35.0).abs() < 1e-9,
            "clamped at 35"
        );
    }

    #[test]
    fn loudness_of_a_full_scale_997_hz_sine_is_minus_3_01_lufs() {
        // BS.1770-4, §2.1 / Annex 1: a 0 dBFS 997 Hz sine in one channel reads −3.01 LKFS (at 48 kHz).
        let rate = 48000;
        let x: Vec<f32> = (0..rate * 5)
            .map(|i| (2.0 * std::f64::consts::PI * 997.0 * i as f64 / 48000.0).sin() as f32)
            .collect();
        let l = loudness_lufs(&x, rate).unwrap();
        assert!((l + 3.01).abs() < 0.02, "{l}");
        // 20 dB quieter is 20 LU lower; silence is gated out.
        let q: Vec<f32> = x.iter().map(|v| v * 0.1).collect();
        assert!((loudness_lufs(&q, rate).unwrap() - (l - 20.0)).abs() < 1e-6);
        assert!(loudness_lufs(&vec![0.0; 48000], rate).is_none());
    }

    #[test]
    fn clipped_counts_full_scale_samples() {
        assert_eq!(clipped_samples(&[0.0, 0.5, 1.0, -1.0, 0.99999, -0.2]), 3);
    }
}
