//! A cascade of biquad sections run on 8 channels at once in structure-of-arrays form.
//!
//! # What
//! [`BiquadBank8`] filters up to 8 planar channels through the same cascade of `S` sections (each channel
//! may have its own coefficients), the multichannel form of [`super::Biquad`] for biquad-based effects
//! (equalisers, resonator banks, all-pass chains).
//!
//! # How
//! Transposed direct form II as in [`super::Biquad`], with every coefficient and state variable an array of
//! 8 lanes (one per channel). `process` transposes the planar channels into frame-major blocks of 64
//! `[f32; 8]` frames on the stack, runs the cascade frame by frame through all sections (independent
//! lanes: one 8-wide AVX2/FMA operation per step on CPUs that have it, see [`super::simd8`]; the sections'
//! recursions overlap in the CPU pipeline) and transposes back. The result equals 8 independent scalar
//! cascades in `f32` arithmetic. Single precision is enough for audio-band sections (the tests compare
//! with the `f64` scalar cascade); very low `f/fs` high-passes should stay on [`super::Biquad`].
//! `benches/benches/fx.rs` (`fx/biquad8x4/*`) measures it against the scalar cascade.
//!
//! # Real-time safety
//! [`BiquadBank8::new`] allocates the sections; `process` is arithmetic only (fixed stack block).

use super::simd8::{self, Section8, V8};
use super::BiquadCoeffs;

/// Lanes (channels) per bank.
pub const LANES: usize = simd8::LANES;

/// Frames per transposed block.
pub(crate) const BLOCK: usize = 64;

/// `S` biquad sections in cascade on 8 channels (structure of arrays; see the module docs).
#[derive(Debug, Clone)]
pub struct BiquadBank8 {
    sections: Vec<Section8>,
}

impl BiquadBank8 {
    /// A cascade of `sections` identity sections with zero state.
    pub fn new(sections: usize) -> Self {
        let id = BiquadCoeffs::IDENTITY;
        let mut bank = Self {
            sections: vec![Section8::default(); sections],
        };
        for s in 0..sections {
            bank.set_all(s, &id);
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
            s.set(lane, c);
        }
    }

    /// Sets section `section` of every channel to `c`.
    pub fn set_all(&mut self, section: usize, c: &BiquadCoeffs) {
        for lane in 0..LANES {
            self.set(section, lane, c);
        }
    }

    /// The state `(z1, z2)` of section `section`, channel `lane` (zeros when out of range).
    pub(crate) fn state(&self, section: usize, lane: usize) -> (f32, f32) {
        match self.sections.get(section) {
            Some(s) if lane < LANES => (s.z1[lane], s.z2[lane]),
            _ => (0.0, 0.0),
        }
    }

    /// Sets the state of section `section`, channel `lane` (ignored when out of range).
    pub(crate) fn set_state(&mut self, section: usize, lane: usize, z1: f32, z2: f32) {
        if let (Some(s), true) = (self.sections.get_mut(section), lane < LANES) {
            s.z1[lane] = z1;
            s.z2[lane] = z2;
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
        let mut block = [[0.0f32; LANES]; BLOCK];
        let mut off = 0;
        while off < frames {
            let len = (frames - off).min(BLOCK);
            to_frames(&bufs[..n_ch], off, &mut block[..len]);
            simd8::cascade(&mut self.sections, &mut block[..len]);
            from_frames(&block[..len], &mut bufs[..n_ch], off);
            off += len;
        }
        // Flush state that decayed into the denormal range so silence stays cheap.
        for s in &mut self.sections {
            s.flush();
        }
    }

    /// Sums the sections run in parallel on `input` into `output` (planar, at most 8 channels each,
    /// equal lengths): a resonator or filter bank rather than a cascade.
    pub fn process_parallel(&mut self, input: &[&[f32]], output: &mut [&mut [f32]]) {
        let n_ch = input.len().min(output.len()).min(LANES);
        let frames = input[..n_ch]
            .iter()
            .map(|b| b.len())
            .chain(output[..n_ch].iter().map(|b| b.len()))
            .min()
            .unwrap_or(0);
        let mut x = [[0.0f32; LANES]; BLOCK];
        let mut y = [[0.0f32; LANES]; BLOCK];
        let mut off = 0;
        while off < frames {
            let len = (frames - off).min(BLOCK);
            to_frames(&input[..n_ch], off, &mut x[..len]);
            simd8::parallel_sum(&mut self.sections, &x[..len], &mut y[..len]);
            from_frames(&y[..len], &mut output[..n_ch], off);
            off += len;
        }
        for s in &mut self.sections {
            s.flush();
        }
    }
}

/// Copies `bufs[c][off..off + dst.len()]` into lane `c` of `dst` (other lanes zero). With 8 channels long
/// enough for the block this is [`simd8::gather`] (8×8 AVX transposes).
pub(crate) fn to_frames<B: AsRef<[f32]>>(bufs: &[B], off: usize, dst: &mut [V8]) {
    let end = off + dst.len();
    if bufs.len() >= LANES && bufs[..LANES].iter().all(|b| b.as_ref().len() >= end) {
        let rows: [&[f32]; LANES] = std::array::from_fn(|c| &bufs[c].as_ref()[off..end]);
        simd8::gather(&rows, dst);
        return;
    }
    if bufs.len() < LANES {
        for f in dst.iter_mut() {
            *f = [0.0; LANES];
        }
    }
    for (c, b) in bufs.iter().enumerate().take(LANES) {
        for (f, &v) in dst.iter_mut().zip(&b.as_ref()[off..]) {
            f[c] = v;
        }
    }
}

/// Copies lane `c` of `src` into `bufs[c][off..off + src.len()]` ([`simd8::scatter`] with 8 channels
/// long enough for the block).
pub(crate) fn from_frames(src: &[V8], bufs: &mut [&mut [f32]], off: usize) {
    let end = off + src.len();
    if bufs.len() >= LANES && bufs[..LANES].iter().all(|b| b.len() >= end) {
        let mut it = bufs.iter_mut();
        let mut rows: [&mut [f32]; LANES] = std::array::from_fn(|_| match it.next() {
            Some(b) => &mut b[off..end],
            None => &mut [],
        });
        simd8::scatter(src, &mut rows);
        return;
    }
    for (c, b) in bufs.iter_mut().enumerate().take(LANES) {
        for (d, f) in b[off..].iter_mut().zip(src) {
            *d = f[c];
        }
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

    /// The parallel bank equals the sum of scalar f64 sections (to f32 precision), across blocks.
    #[test]
    fn parallel_equals_sum_of_scalar_sections() {
        let fs = 48_000.0;
        let mut bank = BiquadBank8::new(4);
        let mut scalar: Vec<Vec<Biquad>> = Vec::new();
        for lane in 0..3 {
            let cs: Vec<BiquadCoeffs> = (1..=4)
                .map(|k| BiquadCoeffs::bandpass(220.0 * k as f64 + 10.0 * lane as f64, 30.0, fs))
                .collect();
            for (s, c) in cs.iter().enumerate() {
                bank.set(s, lane, c);
            }
            scalar.push(cs.iter().map(|c| Biquad::new(*c)).collect());
        }
        let x: Vec<Vec<f32>> = (0..3)
            .map(|c| (0..1000).map(|i| ((i * (c + 2)) as f32 * 0.37).sin()).collect())
            .collect();
        let mut y = vec![vec![0.0f32; 1000]; 3];
        for part in [0..130, 130..1000] {
            let ins: Vec<&[f32]> = x.iter().map(|c| &c[part.clone()]).collect();
            let mut outs: Vec<&mut [f32]> = y.iter_mut().map(|c| &mut c[part.clone()]).collect();
            bank.process_parallel(&ins, &mut outs);
        }
        for ((xc, yc), bank) in x.iter().zip(&y).zip(&mut scalar) {
            for (&xv, &yv) in xc.iter().zip(yc) {
                let want: f64 = bank.iter_mut().map(|b| b.tick(f64::from(xv))).sum();
                assert!(
                    (want - f64::from(yv)).abs() < 1e-3 * want.abs().max(1.0),
                    "{want} {yv}"
                );
            }
        }
    }
}
