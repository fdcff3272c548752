//! Uniformly partitioned FFT convolution (for the convolution mode of `reverb`).
//!
//! # What
//! [`PartitionedConvolver`] convolves a mono stream with a long impulse response, one block of `B` samples
//! at a time, with **zero latency** when the caller's block is the partition size `B`, and a cost per block
//! that grows linearly with the IR length — the latency does not depend on the IR length at all.
//!
//! # How
//! Uniformly partitioned overlap-save convolution (UPOLS; F. Wefers, *Partitioned convolution algorithms
//! for real-time auralization*, Logos 2015, ch. 5; also Gardner, JAES 43(3), 1995 for the idea): the IR is
//! cut into `P = ⌈len/B⌉` partitions of `B` samples, each zero-padded to `2B` and transformed once
//! (`H_p`). Each input block is appended to the previous one (a `2B` window), transformed (`X_k`) and
//! stored in a frequency-domain delay line; the output spectrum is `Y_k = Σ_p X_{k−p} · H_p`, and the last
//! `B` samples of its inverse transform are the linear convolution of the block (the first `B` are
//! circular-wrap garbage and are discarded). FFTs use `realfft`.
//!
//! # Real-time safety
//! All spectra, the delay line and the FFT scratch are allocated in [`PartitionedConvolver::new`];
//! [`PartitionedConvolver::process_block`] only does FFTs and multiply-adds.

use std::sync::Arc;

use realfft::num_complex::Complex32;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

/// Zero-latency uniformly partitioned convolution of a mono stream with a fixed impulse response.
pub struct PartitionedConvolver {
    block: usize,
    bins: usize,
    fwd: Arc<dyn RealToComplex<f32>>,
    inv: Arc<dyn ComplexToReal<f32>>,
    /// IR partition spectra, `parts × bins`.
    h: Vec<Complex32>,
    /// Frequency-domain delay line of input spectra, `parts × bins` (ring, newest at `head`).
    fdl: Vec<Complex32>,
    head: usize,
    parts: usize,
    /// `[previous block, current block]`.
    window: Vec<f32>,
    time: Vec<f32>,
    acc: Vec<Complex32>,
    scratch: Vec<Complex32>,
}

impl std::fmt::Debug for PartitionedConvolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartitionedConvolver")
            .field("block", &self.block)
            .field("partitions", &self.parts)
            .finish_non_exhaustive()
    }
}

impl PartitionedConvolver {
    /// A convolver for `ir` working on blocks of `block` samples (`block ≥ 1`; any size, FFT length
    /// `2·block`). An empty IR behaves as silence.
    pub fn new(ir: &[f32], block: usize) -> Self {
        let block = block.max(1);
        let n = 2 * block;
        let bins = block + 1;
        let mut planner = RealFftPlanner::<f32>::new();
        let fwd = planner.plan_fft_forward(n);
        let inv = planner.plan_fft_inverse(n);
        let parts = ir.len().div_ceil(block).max(1);
        let scratch_len = fwd.get_scratch_len().max(inv.get_scratch_len());
        let mut h = vec![Complex32::default(); parts * bins];
        let mut tmp = vec![0.0f32; n];
        let mut scratch = vec![Complex32::default(); scratch_len];
        // The 1/n of the unnormalised inverse FFT is folded into the IR spectra.
        let scale = 1.0 / n as f32;
        for p in 0..parts {
            tmp.fill(0.0);
            let start = p * block;
            let end = (start + block).min(ir.len());
            if start < end {
                for (t, &x) in tmp.iter_mut().zip(&ir[start..end]) {
                    *t = x * scale;
                }
            }
            fwd.process_with_scratch(&mut tmp, &mut h[p * bins..(p + 1) * bins], &mut scratch)
                .expect("buffer lengths come from the plan");
        }
        Self {
            block,
            bins,
            fwd,
            inv,
            h,
            fdl: vec![Complex32::default(); parts * bins],
            head: 0,
            parts,
            window: vec![0.0; n],
            time: vec![0.0; n],
            acc: vec![Complex32::default(); bins],
            scratch,
        }
    }

    /// The partition (and block) size.
    pub fn block(&self) -> usize {
        self.block
    }

    /// Number of IR partitions.
    pub fn partitions(&self) -> usize {
        self.parts
    }

    /// Latency in samples: 0 (output sample `i` of a block depends on input samples up to `i`).
    pub fn latency(&self) -> usize {
        0
    }

    /// Clears the signal history.
    pub fn reset(&mut self) {
        self.fdl.fill(Complex32::default());
        self.window.fill(0.0);
        self.head = 0;
    }

    /// Convolves one block: `input` and `output` must both hold [`PartitionedConvolver::block`] samples
    /// (shorter slices are zero-padded / partially written).
    pub fn process_block(&mut self, input: &[f32], output: &mut [f32]) {
        let b = self.block;
        let bins = self.bins;
        self.window.copy_within(b..2 * b, 0);
        let take = input.len().min(b);
        self.window[b..b + take].copy_from_slice(&input[..take]);
        self.window[b + take..].fill(0.0);
        self.time.copy_from_slice(&self.window);
        self.head = (self.head + 1) % self.parts;
        let slot = self.head * bins;
        if self
            .fwd
            .process_with_scratch(
                &mut self.time,
                &mut self.fdl[slot..slot + bins],
                &mut self.scratch,
            )
            .is_err()
        {
            output.fill(0.0);
            return;
        }
        self.acc.fill(Complex32::default());
        for p in 0..self.parts {
            let k = (self.head + self.parts - p) % self.parts;
            let x = &self.fdl[k * bins..(k + 1) * bins];
            let h = &self.h[p * bins..(p + 1) * bins];
            for ((a, x), h) in self.acc.iter_mut().zip(x).zip(h) {
                *a += x * h;
            }
        }
        // Real-input spectra have real DC and Nyquist bins; clear rounding residue for the inverse FFT.
        self.acc[0].im = 0.0;
        self.acc[bins - 1].im = 0.0;
        if self
            .inv
            .process_with_scratch(&mut self.acc, &mut self.time, &mut self.scratch)
            .is_err()
        {
            output.fill(0.0);
            return;
        }
        let n = output.len().min(b);
        output[..n].copy_from_slice(&self.time[b..b + n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_ir_passes_signal() {
        let mut c = PartitionedConvolver::new(&[1.0], 4);
        let mut out = [0.0; 4];
        c.process_block(&[1.0, 2.0, 3.0, 4.0], &mut out);
        for (o, e) in out.iter().zip([1.0, 2.0, 3.0, 4.0]) {
            assert!((o - e).abs() < 1e-6);
        }
    }

    #[test]
    fn delayed_ir_crosses_partitions() {
        let mut ir = vec![0.0; 10];
        ir[9] = 0.5;
        let mut c = PartitionedConvolver::new(&ir, 4);
        assert_eq!(c.partitions(), 3);
        let mut got = Vec::new();
        for blk in 0..4 {
            let inp = if blk == 0 { [1.0, 0.0, 0.0, 0.0] } else { [0.0; 4] };
            let mut out = [0.0; 4];
            c.process_block(&inp, &mut out);
            got.extend_from_slice(&out);
        }
        for (i, g) in got.iter().enumerate() {
            let e = if i == 9 { 0.5 } else { 0.0 };
            assert!((g - e).abs() < 1e-6, "sample {i}: {g}");
        }
    }
}
