//! RFC 3389 comfort noise (RTP payload `CN`, static payload type 13).
//!
//! # What
//! [`CnPayload`] parses and builds the payload (noise level + optional reflection coefficients),
//! [`CnAnalyser`] derives one from background PCM, [`CnGenerator`] synthesises noise matching a payload.
//!
//! # How
//! RFC 3389 §3.1: byte 0 = noise level in −dBov (0–127), 0 dBov being a full-scale square wave (±32767
//! for 16-bit linear PCM), so `level = −10·log10(mean(x²) / 32767²)`. §3.2: each following byte is a
//! reflection coefficient `k` of an all-pole model, quantised uniformly as `b = round(k·128) + 127`
//! (decoded `k = (b − 127) / 128`, as in G.711 Appendix II and WebRTC's CNG). The analyser computes the
//! autocorrelation of a Hann-windowed block, applies a small lag window and white-noise correction,
//! and runs Levinson–Durbin. The generator drives the all-pole lattice filter with seeded uniform white
//! noise of variance `P·Π(1 − kᵢ²)` so the output power is `P` (the model's prediction-gain relation),
//! and glides level changes over one block.
//!
//! # Real-time safety
//! Fixed arrays (order ≤ [`CN_MAX_ORDER`]); analyse/generate/parse/build never allocate.

use crate::CodecError;

/// Largest model order handled (RFC 3389 leaves it open; G.711 App. II and WebRTC use ≤ 12).
pub const CN_MAX_ORDER: usize = 12;

/// A comfort-noise payload.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CnPayload {
    /// Noise level in −dBov (0 = full scale, 127 = silence).
    pub level_dbov: u8,
    /// Reflection coefficients in (−1, 1); only the first `order` are meaningful.
    pub reflection: [f32; CN_MAX_ORDER],
    /// Model order (0 = level only).
    pub order: usize,
}

impl CnPayload {
    /// A level-only payload.
    pub fn level_only(level_dbov: u8) -> Self {
        Self {
            level_dbov: level_dbov.min(127),
            reflection: [0.0; CN_MAX_ORDER],
            order: 0,
        }
    }

    /// Parses a payload; coefficients beyond [`CN_MAX_ORDER`] are ignored (RFC 3389 allows a decoder
    /// to reduce the order).
    pub fn parse(payload: &[u8]) -> Result<Self, CodecError> {
        let (&level, coefs) = payload.split_first().ok_or(CodecError::Malformed {
            detail: "empty comfort-noise payload",
        })?;
        if level & 0x80 != 0 {
            return Err(CodecError::Malformed {
                detail: "comfort-noise level byte has its MSB set",
            });
        }
        let order = coefs.len().min(CN_MAX_ORDER);
        let mut reflection = [0.0; CN_MAX_ORDER];
        for (k, &b) in reflection.iter_mut().zip(&coefs[..order]) {
            *k = (f32::from(b) - 127.0) / 128.0;
        }
        Ok(Self {
            level_dbov: level,
            reflection,
            order,
        })
    }

    /// Writes the payload into `out`, returning its length (1 + order).
    pub fn write(&self, out: &mut [u8]) -> Result<usize, CodecError> {
        let n = 1 + self.order.min(CN_MAX_ORDER);
        if out.len() < n {
            return Err(CodecError::BufferTooSmall {
                expected: n,
                actual: out.len(),
            });
        }
        out[0] = self.level_dbov.min(127);
        for (o, &k) in out[1..n].iter_mut().zip(&self.reflection) {
            *o = ((k * 128.0).round().clamp(-127.0, 128.0) + 127.0) as u8;
        }
        Ok(n)
    }

    /// Mean power `mean(x²)` of 16-bit PCM at this level.
    pub fn power(&self) -> f32 {
        if self.level_dbov >= 127 {
            return 0.0;
        }
        32767.0f32 * 32767.0 * 10f32.powf(-f32::from(self.level_dbov) / 10.0)
    }
}

/// Noise level in −dBov of 16-bit PCM (RFC 3389 §3.1), 0–127.
pub fn level_dbov(pcm: &[i16]) -> u8 {
    if pcm.is_empty() {
        return 127;
    }
    let p = pcm.iter().map(|&s| f64::from(s) * f64::from(s)).sum::<f64>() / pcm.len() as f64;
    if p <= 0.0 {
        return 127;
    }
    (-10.0 * (p / (32767.0 * 32767.0)).log10())
        .round()
        .clamp(0.0, 127.0) as u8
}

/// Estimates CN payloads from background-noise PCM.
#[derive(Debug, Clone)]
pub struct CnAnalyser {
    order: usize,
}

impl CnAnalyser {
    /// An analyser of model order `order` (0–12).
    pub fn new(order: usize) -> Result<Self, CodecError> {
        if order > CN_MAX_ORDER {
            return Err(CodecError::Unsupported {
                what: "comfort-noise model order (0–12)",
                actual: order as i64,
            });
        }
        Ok(Self { order })
    }

    /// Analyses one block (typically 20 ms or more) of PCM.
    pub fn analyse(&self, pcm: &[i16]) -> CnPayload {
        let mut out = CnPayload::level_only(level_dbov(pcm));
        let p = self.order;
        if p == 0 || pcm.len() <= p {
            return out;
        }
        // Autocorrelation of the Hann-windowed block.
        let n = pcm.len();
        let mut r = [0.0f64; CN_MAX_ORDER + 1];
        let w = |i: usize| 0.5 - 0.5 * (std::f64::consts::TAU * (i as f64 + 0.5) / n as f64).cos();
        for lag in 0..=p {
            let mut acc = 0.0;
            for i in lag..n {
                acc += f64::from(pcm[i]) * w(i) * f64::from(pcm[i - lag]) * w(i - lag);
            }
            r[lag] = acc;
        }
        if r[0] <= 0.0 {
            return out;
        }
        // White-noise correction (−40 dB) and a 60 Hz-ish Gaussian lag window for stability.
        r[0] *= 1.0001;
        for (lag, v) in r.iter_mut().enumerate().skip(1) {
            *v *= (-0.5 * (0.02 * lag as f64).powi(2)).exp();
        }
        // Levinson–Durbin: reflection coefficients with the sign convention of the lattice synthesis
        // filter below (x[n] = e[n] − Σ a_j x[n−j], k_i = a_i^(i)).
        let mut a = [0.0f64; CN_MAX_ORDER + 1];
        let mut err = r[0];
        for i in 1..=p {
            let mut acc = r[i];
            for j in 1..i {
                acc += a[j] * r[i - j];
            }
            let k = (-acc / err).clamp(-0.99, 0.99);
            let prev = a;
            a[i] = k;
            for j in 1..i {
                a[j] = prev[j] + k * prev[i - j];
            }
            err *= 1.0 - k * k;
            out.reflection[i - 1] = k as f32;
        }
        out.order = p;
        out
    }
}

/// Synthesises comfort noise from CN payloads.
#[derive(Debug, Clone)]
pub struct CnGenerator {
    seed: u64,
    params: CnPayload,
    gain: f32,
    target_gain: f32,
    /// Lattice backward-error state.
    state: [f32; CN_MAX_ORDER + 1],
}

impl CnGenerator {
    /// A silent generator with a noise seed.
    pub fn new(seed: u64) -> Self {
        Self {
            seed: seed | 1,
            params: CnPayload::level_only(127),
            gain: 0.0,
            target_gain: 0.0,
            state: [0.0; CN_MAX_ORDER + 1],
        }
    }

    /// Sets new parameters (from a received CN packet); the level glides over the next block.
    pub fn update(&mut self, p: &CnPayload) {
        self.params = *p;
        let mut prod = 1.0f32;
        for &k in &p.reflection[..p.order] {
            prod *= 1.0 - k * k;
        }
        // Uniform noise in [−1, 1) has variance 1/3.
        self.target_gain = (p.power() * prod * 3.0).sqrt();
    }

    /// The parameters in use.
    pub fn params(&self) -> &CnPayload {
        &self.params
    }

    #[inline]
    fn white(&mut self) -> f32 {
        // xorshift64*
        self.seed ^= self.seed >> 12;
        self.seed ^= self.seed << 25;
        self.seed ^= self.seed >> 27;
        let v = self.seed.wrapping_mul(0x2545_F491_4F6C_DD1D);
        ((v >> 40) as f32 / (1u64 << 23) as f32) - 1.0
    }

    /// Fills `out` with comfort noise.
    pub fn generate(&mut self, out: &mut [i16]) {
        let n = out.len().max(1) as f32;
        let step = (self.target_gain - self.gain) / n;
        let p = self.params.order;
        for o in out.iter_mut() {
            self.gain += step;
            // All-pole lattice synthesis: f_p = e; f_{i-1} = f_i − k_i·b_{i-1}; b_i = b_{i-1} + k_i·f_{i-1}.
            let mut f = self.white() * self.gain;
            for i in (1..=p).rev() {
                let k = self.params.reflection[i - 1];
                f -= k * self.state[i - 1];
                self.state[i] = self.state[i - 1] + k * f;
            }
            self.state[0] = f;
            *o = f.round().clamp(-32768.0, 32767.0) as i16;
        }
        self.gain = self.target_gain;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_round_trip_and_errors() {
        let mut p = CnPayload::level_only(40);
        p.order = 3;
        p.reflection[..3].copy_from_slice(&[0.5, -0.25, 0.0]);
        let mut b = [0u8; 8];
        let n = p.write(&mut b).unwrap();
        assert_eq!(&b[..n], &[40, 191, 95, 127]);
        let q = CnPayload::parse(&b[..n]).unwrap();
        assert_eq!(q.order, 3);
        assert!((q.reflection[0] - 0.5).abs() < 1e-6 && (q.reflection[1] + 0.25).abs() < 1e-6);
        assert!(CnPayload::parse(&[]).is_err());
        assert!(CnPayload::parse(&[0x80]).is_err());
        assert!(p.write(&mut b[..2]).is_err());
    }

    #[test]
    fn level_of_full_scale_square_wave_is_zero_dbov() {
        let sq: Vec<i16> = (0..160)
            .map(|i| if i % 2 == 0 { 32767 } else { -32767 })
            .collect();
        assert_eq!(level_dbov(&sq), 0);
        assert_eq!(level_dbov(&[0; 10]), 127);
        // A sine at amplitude A has power A²/2: −3 dBov at full scale.
        let s: Vec<i16> = (0..8000)
            .map(|i| ((i as f32 * 0.1).sin() * 32767.0) as i16)
            .collect();
        assert_eq!(level_dbov(&s), 3);
    }

    #[test]
    fn generator_reproduces_level_and_analyser_recovers_spectrum() {
        // Coloured noise: first-order model k1 = −0.8 (low-pass).
        let mut src = CnPayload::level_only(30);
        src.order = 1;
        src.reflection[0] = -0.8;
        let mut g = CnGenerator::new(7);
        g.update(&src);
        let mut noise = vec![0i16; 16000];
        g.generate(&mut noise[..160]);
        g.generate(&mut noise);
        let lvl = level_dbov(&noise);
        assert!((i32::from(lvl) - 30).abs() <= 1, "level {lvl}");
        let est = CnAnalyser::new(4).unwrap().analyse(&noise);
        assert!((i32::from(est.level_dbov) - 30).abs() <= 1);
        assert!((est.reflection[0] + 0.8).abs() < 0.05, "k1 {}", est.reflection[0]);
        assert!(est.reflection[1].abs() < 0.1, "k2 {}", est.reflection[1]);
    }
}
