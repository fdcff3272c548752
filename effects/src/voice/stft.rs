//! Streaming short-time Fourier transform with perfect reconstruction, shared by the spectral voice nodes.
//!
//! # What
//! [`Stft`] cuts a stream of samples into frames of `n` samples with a hop of `n/2`, applies a
//! square-root periodic Hann window, hands the spectrum (`n/2 + 1` bins) to a closure that may modify it,
//! and overlap-adds the inverse transform (windowed again) back into a stream. With an identity closure the
//! output equals the input delayed by [`Stft::latency`] = `n/2` samples, whatever the block length of the
//! calls.
//!
//! # How
//! Weighted overlap-add (Crochiere 1980): with a periodic Hann window `w`, `w[i] + w[i + n/2] = 1`, so the
//! product of the √Hann analysis and √Hann synthesis windows sums to one at 50 % overlap. The transforms
//! are the voice DSP's real FFT (`super::rfft::RealFft`: plans and twiddles shared by every transform of
//! the same length, AVX2 split and merge where the CPU has them); the window is shared per length too
//! (`crate::plans`). The overlap-add keeps only the half frame that overlaps the next one. The windowing
//! and overlap-add loops ([`Glue`]) run with AVX2 where [`Stft::new`] finds it (same operations, same
//! results).
//!
//! # Real-time safety
//! [`Stft::new`] allocates; [`Stft::process`] and [`Stft::reset`] only copy and transform in place.

use std::sync::Arc;

use realfft::num_complex::Complex32;

use super::rfft::RealFft;
use crate::basic::simd8::has_avx2_fma;

/// Hop length and alignment for a stream at `rate` Hz processed in blocks of `block` frames.
///
/// When the hop divides the block, every hop is complete inside one `process` call and the latency is one
/// hop; the hop is then the block itself when the block lasts 4–20 ms (n = 2·block, e.g. 320 at 16 kHz
/// with 10 ms blocks), or the largest divisor of a longer block not over 20 ms. Otherwise (tiny or
/// awkward blocks) the hop is 10 ms, unaligned, and the latency two hops.
pub(crate) fn layout_for(rate: u32, block: usize) -> (usize, bool) {
    let (lo, hi) = ((rate / 250) as usize, (rate / 50) as usize);
    if (lo..=hi).contains(&block) {
        return (block, true);
    }
    if block > hi {
        if let Some(m) = (2..=block).find(|m| block % m == 0 && block / m <= hi) {
            if block / m >= lo {
                return (block / m, true);
            }
        }
    }
    ((rate / 100) as usize, false)
}

/// A streaming STFT analysis/synthesis pair (see the module docs).
pub(crate) struct Stft {
    n: usize,
    hop: usize,
    window: Arc<[f32]>,
    /// Real FFTs of length `n`.
    fft: RealFft,
    /// The last `n` input samples; the newest `pos` samples of the current hop sit at `n - hop ..`.
    frame: Vec<f32>,
    /// Overlap-add state: the windowed second half of the last frame's inverse transform, scaled
    /// (`n/2` samples).
    ola: Vec<f32>,
    /// Finished output samples of the previous hop.
    ready: Vec<f32>,
    pos: usize,
    aligned: bool,
    /// The windowed frame (forward transform's input), then the inverse transform's output.
    time: Vec<f32>,
    spec: Vec<Complex32>,
    /// Run the windowing and overlap-add loops compiled for AVX2 (the CPU has it).
    wide: bool,
}

impl std::fmt::Debug for Stft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stft")
            .field("n", &self.n)
            .field("hop", &self.hop)
            .finish_non_exhaustive()
    }
}

impl Stft {
    /// An STFT with a hop of `hop` samples and frames of `2·hop`; `aligned` promises that calls deliver
    /// whole hops (then the latency is one hop instead of two).
    pub(crate) fn new(hop: usize, aligned: bool) -> Self {
        let n = 2 * hop.max(2);
        // Plans, twiddles and window are shared by every STFT of this length (see `crate::plans`).
        let window = crate::plans::table("stft-sqrt-hann", [n, 0], || {
            (0..n)
                .map(|i| (0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n as f64).cos()).sqrt() as f32)
                .collect()
        });
        Self {
            n,
            hop: n / 2,
            window,
            frame: vec![0.0; n],
            ola: vec![0.0; n / 2],
            ready: vec![0.0; n / 2],
            pos: 0,
            aligned,
            time: vec![0.0; n],
            spec: vec![Complex32::new(0.0, 0.0); n / 2 + 1],
            fft: RealFft::new(n),
            wide: has_avx2_fma(),
        }
    }

    /// Frame length.
    pub(crate) fn frame_len(&self) -> usize {
        self.n
    }

    /// Number of spectrum bins (`n/2 + 1`).
    pub(crate) fn bins(&self) -> usize {
        self.n / 2 + 1
    }

    /// Delay from input to output in samples (one hop when aligned, else two).
    pub(crate) fn latency(&self) -> usize {
        if self.aligned {
            self.hop
        } else {
            2 * self.hop
        }
    }

    /// Clears all signal state.
    pub(crate) fn reset(&mut self) {
        self.frame.fill(0.0);
        self.ola.fill(0.0);
        self.ready.fill(0.0);
        self.pos = 0;
    }

    /// Streams `input` through the STFT into `output` (same length), calling `modify` on the spectrum of
    /// every complete frame.
    pub(crate) fn process(
        &mut self,
        input: &[f32],
        output: &mut [f32],
        mut modify: impl FnMut(&mut [Complex32]),
    ) {
        let (n, hop) = (self.n, self.hop);
        let mut i = 0;
        while i < input.len() {
            let take = (hop - self.pos).min(input.len() - i);
            let start = n - hop + self.pos;
            self.frame[start..start + take].copy_from_slice(&input[i..i + take]);
            let p = self.pos;
            let completes = p + take == hop;
            if completes && self.aligned {
                // The whole hop is in this call: its output may depend on all of it.
                self.run_frame(&mut modify);
                output[i..i + take].copy_from_slice(&self.ready[p..p + take]);
            } else {
                output[i..i + take].copy_from_slice(&self.ready[p..p + take]);
                if completes {
                    self.run_frame(&mut modify);
                }
            }
            self.pos = if completes { 0 } else { p + take };
            i += take;
        }
    }

    fn run_frame(&mut self, modify: &mut impl FnMut(&mut [Complex32])) {
        glue(self.wide, Glue::Analysis, self);
        self.fft.forward(&self.time, &mut self.spec);
        modify(&mut self.spec);
        self.fft.inverse(&mut self.spec, &mut self.time);
        glue(self.wide, Glue::Synthesis, self);
    }
}

/// Which part of the frame glue around the transforms [`glue`] runs.
#[derive(Clone, Copy)]
enum Glue {
    /// Window the input frame into `time`.
    Analysis,
    /// Window and scale the inverse transform in `time`, overlap-add it: the first half plus the overlap
    /// state gives the finished hop (`ready`), the second half becomes the new state; then shift the
    /// input frame by one hop.
    Synthesis,
}

#[inline(always)]
fn glue_impl(which: Glue, s: &mut Stft) {
    let (n, hop) = (s.n, s.hop);
    match which {
        Glue::Analysis => {
            for ((t, &x), &w) in s.time.iter_mut().zip(&s.frame).zip(s.window.iter()) {
                *t = x * w;
            }
        }
        Glue::Synthesis => {
            let scale = 1.0 / n as f32;
            let (t0, t1) = s.time.split_at(hop);
            let (w0, w1) = s.window.split_at(hop);
            for (((r, &o), &t), &w) in s.ready.iter_mut().zip(&s.ola).zip(t0).zip(w0) {
                *r = o + t * w * scale;
            }
            for ((o, &t), &w) in s.ola.iter_mut().zip(t1).zip(w1) {
                *o = t * w * scale;
            }
            s.frame.copy_within(hop.., 0);
        }
    }
}

/// The frame glue, compiled for AVX2 when `wide` (eight samples per instruction instead of four; the same
/// operations in the same order, so the same results).
#[allow(unsafe_code)]
fn glue(wide: bool, which: Glue, s: &mut Stft) {
    #[cfg(target_arch = "x86_64")]
    if wide {
        // SAFETY: `wide` is only set where `has_avx2_fma` found AVX2 and FMA on this CPU, the only
        // requirement of `glue_avx2`.
        return unsafe { glue_avx2(which, s) };
    }
    let _ = wide;
    glue_impl(which, s)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn glue_avx2(which: Glue, s: &mut Stft) {
    glue_impl(which, s)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The spectrum handed to the closure is the real FFT of the windowed frame (`realfft` as the
    /// oracle), with both builds of the glue.
    #[test]
    fn spectrum_is_the_windowed_frame_transform() {
        let mut seed = 0x9e37_79b9u32;
        for hop in [160usize, 441, 3] {
            let n = 2 * hop;
            let (rf, _) = crate::plans::real_fft(n);
            for wide in [false, true] {
                if wide && !has_avx2_fma() {
                    continue;
                }
                let mut s = Stft::new(hop, true);
                s.wide = wide;
                let x: Vec<f32> = (0..n)
                    .map(|_| {
                        seed ^= seed << 13;
                        seed ^= seed >> 17;
                        seed ^= seed << 5;
                        seed as f32 / u32::MAX as f32 - 0.5
                    })
                    .collect();
                let mut got = Vec::new();
                let mut out = vec![0.0; hop];
                for half in x.chunks_exact(hop) {
                    s.process(half, &mut out, |spec| got = spec.to_vec());
                }
                let mut xw: Vec<f32> = x.iter().zip(s.window.iter()).map(|(a, w)| a * w).collect();
                let mut want = rf.make_output_vec();
                rf.process(&mut xw, &mut want).expect("lengths match");
                let tol = 1e-5 * want.iter().map(|c| c.norm()).fold(1.0, f32::max);
                assert_eq!(got.len(), want.len());
                for (k, (a, b)) in got.iter().zip(&want).enumerate() {
                    assert!((a - b).norm() <= tol, "n {n} wide {wide} bin {k}: {a} vs {b}");
                }
            }
        }
    }

    #[test]
    fn identity_reconstructs_with_hop_latency() {
        for (hop, block, aligned) in [
            (160usize, 160usize, true),
            (80, 160, true),
            (480, 480, true),
            (128, 7, false),
        ] {
            let n = 2 * hop;
            let mut s = Stft::new(hop, aligned);
            let x: Vec<f32> = (0..9600)
                .map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5)
                .collect();
            let mut y = vec![0.0; x.len()];
            for (xi, yi) in x.chunks(block).zip(y.chunks_mut(block)) {
                s.process(xi, yi, |_| {});
            }
            let d = s.latency();
            // The first frame's first half only has one window: compare after one full frame.
            for i in n..x.len() {
                assert!(
                    (y[i] - x[i - d]).abs() < 1e-5,
                    "n={n} i={i}: {} vs {}",
                    y[i],
                    x[i - d]
                );
            }
        }
    }

    #[test]
    fn layouts() {
        assert_eq!(layout_for(16_000, 160), (160, true));
        assert_eq!(layout_for(48_000, 480), (480, true));
        assert_eq!(layout_for(16_000, 640), (320, true));
        assert_eq!(layout_for(16_000, 16), (160, false));
        assert_eq!(layout_for(44_100, 441), (441, true));
    }
}
