//! The mixer's two small signal blocks: a frame resampler and an output limiter.
//!
//! # What
//! [`FrameResampler`] converts one fixed frame (e.g. 20 ms at 8 kHz) to one fixed frame at another rate
//! (20 ms at 16 kHz) per call; [`Limiter`] keeps a mix below a ceiling without wrap-around or clipping.
//!
//! # How
//! The resampler is rubato's synchronous FFT resampler (`FftFixedInOut`: band-limited, fixed input and
//! output chunk sizes, so every call turns exactly one codec frame into exactly one mix frame). Its delay
//! (`output_delay`) is part of the conference's latency. The limiter is a peak follower with instant attack
//! (the gain for a sample is computed from that sample, so no sample exceeds the ceiling) and an exponential
//! release (60 ms), in the manner of a broadcast safety limiter without look-ahead (no added latency).
//!
//! # Real-time safety
//! Buffers are allocated in the constructors; `process` allocates nothing (rubato's `process_into_buffer`
//! writes into the buffers given), locks nothing and makes no system call.

use rubato::{FftFixedInOut, Resampler as _};

/// Resamples one fixed-size mono frame per call (see the module docs).
pub struct FrameResampler {
    inner: FftFixedInOut<f32>,
    out: Vec<f32>,
    rate_in: u32,
    rate_out: u32,
}

impl std::fmt::Debug for FrameResampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameResampler")
            .field("rate_in", &self.rate_in)
            .field("rate_out", &self.rate_out)
            .finish_non_exhaustive()
    }
}

impl FrameResampler {
    /// A resampler from `frame_in` samples at `rate_in` to the same duration at `rate_out`.
    ///
    /// # Errors
    /// A message when rubato cannot make a resampler with exactly these frame sizes.
    pub fn new(rate_in: u32, rate_out: u32, frame_in: usize) -> Result<Self, String> {
        let frame_out = frame_in * rate_out as usize / rate_in as usize;
        let inner = FftFixedInOut::<f32>::new(rate_in as usize, rate_out as usize, frame_in, 1)
            .map_err(|e| format!("resampler {rate_in}->{rate_out} Hz: {e}"))?;
        if inner.input_frames_next() != frame_in || inner.output_frames_next() != frame_out {
            return Err(format!(
                "resampler {rate_in}->{rate_out} Hz: frames of {frame_in} in/{frame_out} out are not possible \
                 (rubato offers {} in/{} out)",
                inner.input_frames_next(),
                inner.output_frames_next()
            ));
        }
        Ok(Self {
            inner,
            out: vec![0.0; frame_out],
            rate_in,
            rate_out,
        })
    }

    /// Delay added, in output samples.
    pub fn delay(&self) -> usize {
        self.inner.output_delay()
    }

    /// Resamples `input` (exactly one input frame) and returns the output frame.
    pub fn process(&mut self, input: &[f32]) -> &[f32] {
        let r = self
            .inner
            .process_into_buffer(&[input], &mut [&mut self.out[..]], None);
        if r.is_err() {
            // Only possible with a wrong input length, which the callers rule out; fail safe with silence.
            self.out.fill(0.0);
        }
        &self.out
    }

    /// Clears the filter state.
    pub fn reset(&mut self) {
        self.inner.reset();
        self.out.fill(0.0);
    }
}

/// Peak limiter with instant attack and exponential release (see the module docs).
#[derive(Debug, Clone)]
pub struct Limiter {
    ceiling: f32,
    release: f32,
    env: f32,
    /// Samples whose gain was reduced since the last reset (for statistics).
    pub limited_samples: u64,
}

impl Limiter {
    /// A limiter at `ceiling_dbfs` (e.g. −1 dBFS) for audio at `rate` Hz.
    pub fn new(ceiling_dbfs: f32, rate: u32) -> Self {
        let release_s = 0.060f32;
        Self {
            ceiling: 10f32.powf(ceiling_dbfs / 20.0),
            release: (-1.0 / (release_s * rate as f32)).exp(),
            env: 0.0,
            limited_samples: 0,
        }
    }

    /// Limits `x` in place.
    pub fn process(&mut self, x: &mut [f32]) {
        for s in x.iter_mut() {
            let a = s.abs();
            self.env = if a > self.env {
                a
            } else {
                a + self.release * (self.env - a)
            };
            if self.env > self.ceiling {
                *s *= self.ceiling / self.env;
                self.limited_samples += 1;
            }
        }
    }

    /// Forgets the envelope.
    pub fn reset(&mut self) {
        self.env = 0.0;
    }
}

/// Converts float samples (full scale ±1) to 16-bit PCM with saturation (never wraps around).
pub fn to_i16(x: &[f32], out: &mut [i16]) {
    for (o, &s) in out.iter_mut().zip(x) {
        *o = (s * 32768.0).round().clamp(-32768.0, 32767.0) as i16;
    }
}

/// Converts 16-bit PCM to float samples (full scale ±1).
pub fn from_i16(x: &[i16], out: &mut [f32]) {
    for (o, &s) in out.iter_mut().zip(x) {
        *o = f32::from(s) / 32768.0;
    }
}

/// Energy level of a frame in dBov (0 = full-scale square wave; −127 for digital silence).
pub fn level_db(x: &[f32]) -> f32 {
    if x.is_empty() {
        return -127.0;
    }
    let e: f32 = x.iter().map(|s| s * s).sum::<f32>() / x.len() as f32;
    if e <= 1e-13 {
        -127.0
    } else {
        (10.0 * e.log10()).max(-127.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_never_exceeds_ceiling_and_passes_quiet_audio() {
        let mut l = Limiter::new(-1.0, 16000);
        let ceil = 10f32.powf(-1.0 / 20.0);
        let mut x: Vec<f32> = (0..16000).map(|i| 3.0 * (i as f32 * 0.05).sin()).collect();
        l.process(&mut x);
        assert!(x.iter().all(|s| s.abs() <= ceil + 1e-6));
        // After a long quiet stretch the gain is back to unity.
        let mut q: Vec<f32> = (0..16000).map(|i| 0.1 * (i as f32 * 0.05).sin()).collect();
        let orig = q.clone();
        l.process(&mut q);
        for (a, b) in q[8000..].iter().zip(&orig[8000..]) {
            assert!((a - b).abs() < 1e-6);
        }
    }

    #[test]
    fn saturating_conversion() {
        let mut o = [0i16; 4];
        to_i16(&[1.5, -1.5, 0.5, -1.0], &mut o);
        assert_eq!(o, [32767, -32768, 16384, -32768]);
    }

    #[test]
    fn resampler_keeps_a_tone_and_its_frame_sizes() {
        let mut r = FrameResampler::new(8000, 16000, 160).expect("8->16 kHz at 20 ms is possible");
        let mut out = Vec::new();
        for k in 0..50 {
            let f: Vec<f32> = (0..160)
                .map(|i| (2.0 * std::f32::consts::PI * 440.0 * (k * 160 + i) as f32 / 8000.0).sin() * 0.5)
                .collect();
            out.extend_from_slice(r.process(&f));
        }
        assert_eq!(out.len(), 50 * 320);
        // Steady-state amplitude of the 440 Hz tone is kept within 0.1 dB.
        let tail = &out[4000..];
        let rms = (tail.iter().map(|s| s * s).sum::<f32>() / tail.len() as f32).sqrt();
        let expect = 0.5 / 2f32.sqrt();
        assert!((20.0 * (rms / expect).log10()).abs() < 0.1, "rms {rms}");
        for (a, b) in [(16000, 8000), (48000, 16000), (8000, 48000), (16000, 48000)] {
            FrameResampler::new(a, b, a as usize / 50).expect("20 ms frames at telephony rates");
        }
    }
}
