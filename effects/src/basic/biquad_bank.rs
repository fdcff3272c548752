//! A cascade of biquad sections run on 8 channels at once in structure-of-arrays form.
//!
//! # What
//! [`BiquadBank8`] filters up to 8 planar channels through the same cascade of `S` sections (each channel
//! may have its own coefficients), the multichannel form of [`super::Biquad`] for biquad-based effects
//! (equalisers, resonator banks, all-pass chains).
//!
//! # How
//! Transposed direct form II as in [`super::Biquad`], but every coefficient and state variable is an
//! array of 8 lanes (`[f32; 8]`, one lane per channel) and each sample step is a loop over the lanes with
//! no dependency between them, which LLVM vectorises (SSE2: two 4-wide operations per step; AVX: one) —
//! no `unsafe`, no intrinsics. The recursion runs along time inside each lane, so the result equals 8
//! independent scalar cascades in `f32` arithmetic. Single precision is enough for audio-band sections
//! (the tests compare with the `f64` scalar cascade); very low `f/fs` high-passes should stay on
//! [`super::Biquad`]. `benches/benches/fx.rs` (`fx/biquad8x4/*`) measures it against the scalar cascade.
//!
//! # Real-time safety
//! [`BiquadBank8::new`] allocates the sections; `process` is arithmetic only.

use super::BiquadCoeffs;

/// Lanes (channels) per bank.
pub const LANES: usize = 8;

#[derive(Debug, Clone, Copy, Default)]
struct Section {
    b0: [f32; LANES],
    b1: [f32; LANES],
    b2: [f32; LANES],
    a1: [f32; LANES],
    a2: [f32; LANES],
    z1: [f32; LANES],
    z2: [f32; LANES],
}

/// `S` biquad sections in cascade on 8 channels (structure of arrays; see the module docs).
#[derive(Debug, Clone)]
pub struct BiquadBank8 {
    sections: Vec<Section>,
}

impl BiquadBank8 {
    /// A cascade of `sections` identity sections with zero state.
    pub fn new(sections: usize) -> Self {
        let id = BiquadCoeffs::IDENTITY;
        let mut bank = Self {
            sections: vec![Section::default(); sections],
        };
        for s in 0..sections {
            for lane in 0..LANES {
                bank.set(s, lane, &id);
            }
        }
        bank
    }

    /// Number of sections in the cascade.
    pub fn sections(&self) -> usize {
        self.sections.len()
    }

    /// Sets section `section` of channel `lane` (state kept). Out-of-range indices are ignored.
    pub fn set(&mut self, section: usize, lane: usize, c: &BiquadCoeffs) {
        if lane >= LANES {
            return;
        }
        if let Some(s) = self.sections.get_mut(section) {
            s.b0[lane] = c.b0 as f32;
            s.b1[lane] = c.b1 as f32;
            s.b2[lane] = c.b2 as f32;
            s.a1[lane] = c.a1 as f32;
            s.a2[lane] = c.a2 as f32;
        }
    }

    /// Sets section `section` of every channel to `c`.
    pub fn set_all(&mut self, section: usize, c: &BiquadCoeffs) {
        for lane in 0..LANES {
            self.set(section, lane, c);
        }
    }

    /// Clears the state.
    pub fn reset(&mut self) {
        for s in &mut self.sections {
            s.z1 = [0.0; LANES];
            s.z2 = [0.0; LANES];
        }
    }

    /// Filters planar channels in place: `bufs[c]` is channel `c` (at most 8; fewer leave the remaining
    /// lanes idle on zeros). All buffers must have the same length; extra samples of longer ones are
    /// left untouched.
    pub fn process(&mut self, bufs: &mut [&mut [f32]]) {
        let n_ch = bufs.len().min(LANES);
        let frames = bufs[..n_ch].iter().map(|b| b.len()).min().unwrap_or(0);
        for i in 0..frames {
            let mut x = [0.0f32; LANES];
            for (c, b) in bufs[..n_ch].iter().enumerate() {
                x[c] = b[i];
            }
            for s in &mut self.sections {
                x = Self::step(s, x);
            }
            for (c, b) in bufs[..n_ch].iter_mut().enumerate() {
                b[i] = x[c];
            }
        }
        // Flush state that decayed into the denormal range so silence stays cheap.
        for s in &mut self.sections {
            for l in 0..LANES {
                if s.z1[l].abs() < 1e-30 {
                    s.z1[l] = 0.0;
                }
                if s.z2[l].abs() < 1e-30 {
                    s.z2[l] = 0.0;
                }
            }
        }
    }

    /// One sample through one section on all lanes (independent lanes: vectorised).
    #[inline(always)]
    fn step(s: &mut Section, x: [f32; LANES]) -> [f32; LANES] {
        let mut y = [0.0f32; LANES];
        for l in 0..LANES {
            y[l] = s.b0[l] * x[l] + s.z1[l];
            s.z1[l] = s.b1[l] * x[l] - s.a1[l] * y[l] + s.z2[l];
            s.z2[l] = s.b2[l] * x[l] - s.a2[l] * y[l];
        }
        y
    }
}

#[cfg(test)]
mod tests {
    use super::super::Biquad;
    use super::*;

    /// Eight channels with different cascades equal eight scalar f64 cascades (to f32 precision).
    #[test]
    fn equals_scalar_cascades() {
        let fs = 48_000.0;
        let mut bank = BiquadBank8::new(3);
        let mut scalar: Vec<Vec<Biquad>> = Vec::new();
        for lane in 0..LANES {
            let f = 200.0 * (lane + 1) as f64;
            let cs = [
                BiquadCoeffs::peaking(f, 1.2, 6.0, fs),
                BiquadCoeffs::lowpass(4000.0 + 500.0 * lane as f64, 0.707, fs),
                BiquadCoeffs::bandpass(f * 2.0, 4.0, fs),
            ];
            for (s, c) in cs.iter().enumerate() {
                bank.set(s, lane, c);
            }
            scalar.push(cs.iter().map(|c| Biquad::new(*c)).collect());
        }
        let mut seed = 12345u32;
        let mut chans: Vec<Vec<f32>> = (0..LANES)
            .map(|_| {
                (0..4800)
                    .map(|_| {
                        seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                        (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5
                    })
                    .collect()
            })
            .collect();
        let want: Vec<Vec<f32>> = chans
            .iter()
            .zip(&mut scalar)
            .map(|(x, cascade)| {
                x.iter()
                    .map(|&v| cascade.iter_mut().fold(f64::from(v), |acc, b| b.tick(acc)) as f32)
                    .collect()
            })
            .collect();
        // Two calls (state carried across blocks).
        for half in [0..2400, 2400..4800] {
            let mut refs: Vec<&mut [f32]> = chans.iter_mut().map(|c| &mut c[half.clone()]).collect();
            bank.process(&mut refs);
        }
        for (got, want) in chans.iter().zip(&want) {
            let err = got
                .iter()
                .zip(want)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            let peak = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            assert!(err <= 1e-4 * peak.max(1.0), "max error {err} (peak {peak})");
        }
    }

    /// Fewer than 8 channels: the present ones are filtered, nothing panics.
    #[test]
    fn partial_channel_sets() {
        let mut bank = BiquadBank8::new(1);
        bank.set_all(
            0,
            &BiquadCoeffs {
                b0: 0.5,
                ..BiquadCoeffs::IDENTITY
            },
        );
        let (mut a, mut b) = (vec![1.0f32; 16], vec![2.0f32; 16]);
        bank.process(&mut [&mut a[..], &mut b[..]]);
        assert!(a.iter().all(|&v| v == 0.5) && b.iter().all(|&v| v == 1.0));
        bank.process(&mut []);
        assert_eq!(bank.sections(), 1);
    }
}
