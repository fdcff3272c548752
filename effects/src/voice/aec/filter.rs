//! Partitioned-block frequency-domain adaptive filters (PBFDAF) for the echo canceller.
//!
//! # What
//! [`FarHistory`] keeps the spectra of the last far-end frames; [`PartitionedFilter`] holds `P` partitions
//! of `N` taps each (one per frame) and computes the echo estimate `Ŷ = Σ_p W_p · X_{t−d−p}` for a bulk
//! delay of `d` frames. [`PartitionedFilter::adapt_pair`] updates a pair of filters by two rules:
//! - the main filter: the diagonalised frequency-domain Kalman filter of G. Enzner and
//!   P. Vary, "Frequency-domain adaptive Kalman filter for acoustic echo control in hands-free
//!   telephones", Signal Processing 86(6), 2006, with a per-partition, per-bin state-error variance
//!   `P_p(k)`, process noise `(1 − A²)·|W_p(k)|²` and a near-end PSD estimate; its gain shrinks by itself in
//!   double talk (the near-end raises the innovation power) instead of freezing.
//! - the shadow filter: frequency-normalised NLMS with a fixed step (fast, for the copy rules); it may
//!   have fewer partitions than the main filter.
//!
//! # How
//! Overlap-save with frames of `N` samples and FFTs of `M = 2N` (J. J. Shynk, "Frequency-domain and
//! multirate adaptive filtering", IEEE SP Magazine, 1992). Updates are unconstrained, and one partition per
//! frame is projected back onto `N` causal taps in round-robin (the alternately updated MDF of J. S. Soo and
//! K. K. Pang, IEEE Trans. ASSP 38(2), 1990), which keeps the cost at two extra FFTs per frame.
//!
//! The per-bin loops over all partitions (outputs, power sums, Kalman and NLMS updates) run in
//! [`super::kernels`] on structure-of-arrays spectra (AVX2/FMA where the CPU has it, a portable build
//! otherwise). Both updates run in one call over the far-end history, which also carries the Kalman
//! innovation power `Σ_p P_p|X_p|²` and both filters' outputs `Σ_p W_p·X_p` over to the next frame (all
//! but its newest partition: today's partition `p − 1` is tomorrow's `p`), so the next frame's outputs
//! ([`PartitionedFilter::output_pair`]) only add the newest partition; the round-robin constraint moves
//! the carried output by its change. The far-end power sum with geometric partition weights moves on by
//! one partition per frame ([`FarHistory::power_sum_step`]). After a change of alignment or of the
//! coefficients outside an update (copy rules, resets) and in frames without an update, the full sums
//! are computed in one pass.
//!
//! # Real-time safety
//! All buffers are sized in `new`; the methods are arithmetic over preallocated slices and FFTs with
//! preallocated scratch.

use realfft::num_complex::Complex;

use super::kernels::{Carry, KalmanStep, NlmsStep, Ring, Simd};
use crate::voice::rfft::RealFft;

/// Ring of the most recent far-end frame spectra (structure of arrays, every frame stored twice: see
/// [`Ring`]).
pub(super) struct FarHistory {
    bins: usize,
    slots: usize,
    re: Vec<f32>,
    im: Vec<f32>,
    head: usize,
    /// Frames pushed so far (identifies the history's state for cached sums).
    count: u64,
    simd: Simd,
}

impl FarHistory {
    /// A history of `slots` frames of `bins` bins.
    pub fn new(slots: usize, bins: usize) -> Self {
        Self {
            bins,
            slots,
            // Every slot twice (see `Ring`).
            re: vec![0.0; 2 * slots * bins],
            im: vec![0.0; 2 * slots * bins],
            head: 0,
            count: 0,
            simd: Simd::detect(),
        }
    }

    /// Number of frames kept.
    pub fn slots(&self) -> usize {
        self.slots
    }

    /// Appends the newest frame spectrum.
    pub fn push(&mut self, spec: &[Complex<f32>]) {
        self.head = (self.head + 1) % self.slots;
        self.count += 1;
        let b = self.bins;
        let o = self.head * b;
        // The slot's two copies: row `head` in the first half, row `head + slots` in the second.
        let (re_lo, re_hi) = self.re.split_at_mut(self.slots * b);
        let (im_lo, im_hi) = self.im.split_at_mut(self.slots * b);
        for (((r, i), (mr, mi)), c) in re_lo[o..o + b]
            .iter_mut()
            .zip(&mut im_lo[o..o + b])
            .zip(re_hi[o..o + b].iter_mut().zip(&mut im_hi[o..o + b]))
            .zip(spec)
        {
            (*r, *i, *mr, *mi) = (c.re, c.im, c.re, c.im);
        }
    }

    /// The frames from `delay` frames old on, as the kernels read them (partition `p` = age `delay + p`).
    fn ring(&self, delay: usize) -> Ring<'_> {
        Ring {
            re: &self.re,
            im: &self.im,
            bins: self.bins,
            slots: self.slots,
            first: (self.head + self.slots - delay % self.slots) % self.slots,
        }
    }

    /// Offset into the arrays of the frame `age` frames old (0 = newest).
    #[inline]
    fn offset(&self, age: usize) -> usize {
        ((self.head + self.slots - age % self.slots) % self.slots) * self.bins
    }

    /// Sums `w_p·|X_{d+p}|²` over the filter's partitions into `out` (`weights` has one value per
    /// partition).
    pub fn power_sum(&self, delay: usize, weights: &[f32], out: &mut [f32]) {
        self.simd
            .power_sum(&self.ring(delay), weights.len(), weights, out);
    }

    /// Frames pushed so far (changes on every push and on `clear`).
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Advances `sum = Σ_{p<parts} r^p·|X_{d+p}|²`, computed by [`Self::power_sum`] with weights `r^p`
    /// just before the latest push at the same `delay`, by one frame:
    /// `sum ← |X_d|² + r·sum − r^parts·|X_{d+parts}|²` (the history must hold `delay + parts + 1` frames).
    /// Rounding errors shrink by `r` per frame.
    pub fn power_sum_step(&self, delay: usize, parts: usize, r: f32, sum: &mut [f32]) {
        debug_assert!(
            delay + parts < self.slots,
            "the history holds the partition that leaves"
        );
        let rp = r.powi(parts as i32);
        let (newest, oldest) = (self.offset(delay), self.offset(delay + parts));
        let b = self.bins;
        let (nr, ni) = (&self.re[newest..newest + b], &self.im[newest..newest + b]);
        let (or, oi) = (&self.re[oldest..oldest + b], &self.im[oldest..oldest + b]);
        for ((s, (nr, ni)), (or, oi)) in sum[..b].iter_mut().zip(nr.iter().zip(ni)).zip(or.iter().zip(oi)) {
            let v = (nr * nr + ni * ni) + r * *s - rp * (or * or + oi * oi);
            *s = if v > 1e-30 { v } else { 0.0 };
        }
    }

    /// Clears all frames.
    pub fn clear(&mut self) {
        self.count += 2; // no cached sum survives
        self.re.fill(0.0);
        self.im.fill(0.0);
    }
}

/// A partitioned frequency-domain filter with per-partition Kalman state.
pub(super) struct PartitionedFilter {
    parts: usize,
    bins: usize,
    re: Vec<f32>,
    im: Vec<f32>,
    /// Kalman state-error variance per partition and bin (unused by the NLMS update).
    var: Vec<f32>,
    /// Prior state-error variance per partition: `var0` decaying exponentially along the filter.
    prior: Vec<f32>,
    /// NLMS step profile `prior[p] / prior[0]`.
    step: Vec<f32>,
    /// Per-bin scratch: the update's gain (`μ/Φ_EE` or NLMS `g`, real part) and error, split re/im.
    s_phi: Vec<f32>,
    s_re: Vec<f32>,
    s_im: Vec<f32>,
    /// Shadow gradient, split re/im (scratch of `adapt_pair`).
    g_re: Vec<f32>,
    g_im: Vec<f32>,
    /// `Σ_{p ≥ 1} P_p·|X_p|²` for the frame after the last update, and the history count and bulk delay
    /// it holds for (`None` after anything that changed the variances or the alignment).
    phi_next: Vec<f32>,
    phi_for: Option<(u64, usize)>,
    /// `Σ_{p ≥ 1} W_p·X_{p−1}` for the frame after the last update (the next output but its newest
    /// partition), real and imaginary parts, and the history count and bulk delay it holds for (`None`
    /// after anything but an update or a constraint changed the coefficients, or the alignment).
    next_re: Vec<f32>,
    next_im: Vec<f32>,
    next_for: Option<(u64, usize)>,
    next_constrain: usize,
    simd: Simd,
}

impl PartitionedFilter {
    /// `parts` partitions of `bins` bins; the initial state-error variance is `var0` for the first
    /// partition and falls by `decay_db` per partition (the expected energy decay of a room impulse
    /// response, as in the exponentially weighted step-size NLMS of S. Makino, Y. Kaneda, N. Koizumi,
    /// IEEE Trans. SAP 1(1), 1993).
    pub fn new(parts: usize, bins: usize, var0: f32, decay_db: f32) -> Self {
        let prior: Vec<f32> = (0..parts)
            .map(|p| var0 * 10f32.powf(-decay_db * p as f32 / 10.0))
            .collect();
        let mut var = vec![0.0; parts * bins];
        for (p, v) in var.chunks_mut(bins).enumerate() {
            v.fill(prior[p]);
        }
        Self {
            parts,
            bins,
            re: vec![0.0; parts * bins],
            im: vec![0.0; parts * bins],
            var,
            step: prior.iter().map(|&v| v / prior[0]).collect(),
            prior,
            s_phi: vec![0.0; bins],
            s_re: vec![0.0; bins],
            s_im: vec![0.0; bins],
            g_re: vec![0.0; bins],
            g_im: vec![0.0; bins],
            phi_next: vec![0.0; bins],
            phi_for: None,
            next_re: vec![0.0; bins],
            next_im: vec![0.0; bins],
            next_for: None,
            next_constrain: 0,
            simd: Simd::detect(),
        }
    }

    /// Echo estimate spectra `Σ_p W_p·X_{d+p}` for bulk delay `d = delay` frames of two filters, `b` no
    /// longer than `a` (`a` into `out_a`, `b` into `out_b`): from the sums carried over by the last
    /// [`Self::adapt_pair`] plus the newest partition when both still hold for this frame and delay,
    /// else in one pass over the far-end spectra.
    pub fn output_pair(
        a: &PartitionedFilter,
        b: &PartitionedFilter,
        far: &FarHistory,
        delay: usize,
        out_a: &mut [Complex<f32>],
        out_b: &mut [Complex<f32>],
    ) {
        let want = Some((far.count.wrapping_sub(1), delay));
        if a.next_for == want && b.next_for == want {
            let (xr, xi) = far.ring(delay).rows(0);
            let bins = a.bins;
            for (f, out) in [(a, &mut *out_a), (b, &mut *out_b)] {
                let out = &mut out[..bins];
                let (wr, wi) = (&f.re[..bins], &f.im[..bins]);
                let (nr, ni) = (&f.next_re[..bins], &f.next_im[..bins]);
                for k in 0..bins {
                    out[k] = Complex::new(
                        nr[k] + wr[k] * xr[k] - wi[k] * xi[k],
                        ni[k] + wr[k] * xi[k] + wi[k] * xr[k],
                    );
                }
            }
            return;
        }
        a.simd.output2(
            &far.ring(delay),
            (a.parts, b.parts),
            (&a.re, &a.im),
            (&b.re, &b.im),
            out_a,
            out_b,
        );
    }

    /// Updates both filters in one pass over the far-end spectra: `main` by the Kalman rule, `shadow` by
    /// exponentially weighted NLMS; the pass also sums both filters' next outputs but for their newest
    /// partition (see [`Self::output_pair`]).
    ///
    /// Kalman: `e` is the main error spectrum (FFT of `[0, e]`); `noise` the near-end + noise PSD estimate
    /// (same scale as `|E|²`); `a2` the state transition factor `A²`; `mu` an extra step factor (≤ 1);
    /// `floor` the smallest near-end PSD assumed (regularisation where the far-end has no energy). The
    /// innovation power `Φ_EE = Σ_p P_p |X_p|² + Φ_SS` comes from the previous update's pass (today's
    /// partition `p` was yesterday's `p − 1`) plus the newest partition, or from a full sum after a change
    /// of alignment or variances. `phi` is scratch of `bins` values.
    ///
    /// NLMS: `W_p += w_p · conj(X_p) · g` where `g = μ·E / (Σ_q w_q|X_q|² + δ)` is precomputed per bin
    /// and `w_p` is the shadow's prior profile normalised to 1 at the first partition.
    #[allow(clippy::too_many_arguments)]
    pub fn adapt_pair(
        main: &mut PartitionedFilter,
        shadow: &mut PartitionedFilter,
        far: &FarHistory,
        delay: usize,
        e: &[Complex<f32>],
        noise: &[f32],
        a2: f32,
        mu: f32,
        floor: f32,
        g: &[Complex<f32>],
        phi: &mut [f32],
    ) {
        let ring = far.ring(delay);
        let b = main.bins;
        if main.phi_for == Some((far.count.wrapping_sub(1), delay)) {
            // Yesterday's pass summed partitions 1.. of today; add the newest.
            let (xr, xi) = ring.rows(0);
            let (phi, var, next) = (&mut phi[..b], &main.var[..b], &main.phi_next[..b]);
            for k in 0..b {
                phi[k] = var[k] * (xr[k] * xr[k] + xi[k] * xi[k]) + next[k];
            }
        } else {
            main.simd.var_power_sum(&ring, main.parts, &main.var, phi);
        }
        // Every row re-sliced to `b`, so the loop has no bounds checks and vectorises.
        let (phi, noise, e, g) = (&phi[..b], &noise[..b], &e[..b], &g[..b]);
        let (s_phi, s_re, s_im) = (&mut main.s_phi[..b], &mut main.s_re[..b], &mut main.s_im[..b]);
        let (g_re, g_im) = (&mut shadow.g_re[..b], &mut shadow.g_im[..b]);
        for k in 0..b {
            let ee = (phi[k] + noise[k].max(floor)).max(1e-30);
            s_phi[k] = mu / ee;
            s_re[k] = e[k].re;
            s_im[k] = e[k].im;
            g_re[k] = g[k].re;
            g_im[k] = g[k].im;
        }
        let step = KalmanStep {
            phi: &main.s_phi,
            er: &main.s_re,
            ei: &main.s_im,
            a2,
        };
        let nlms = NlmsStep {
            step: &shadow.step,
            gr: &shadow.g_re,
            gi: &shadow.g_im,
        };
        main.simd.adapt_pair(
            &ring,
            main.parts,
            (&mut main.re, &mut main.im),
            &mut main.var,
            &step,
            (&mut shadow.re, &mut shadow.im),
            &nlms,
            &mut Carry {
                phi_next: &mut main.phi_next,
                main: (&mut main.next_re, &mut main.next_im),
                shadow: (&mut shadow.next_re, &mut shadow.next_im),
            },
        );
        main.phi_for = Some((far.count, delay));
        main.next_for = Some((far.count, delay));
        shadow.next_for = Some((far.count, delay));
    }

    /// Projects partition `p` (round-robin) onto `N = size/2` causal taps, and moves the carried next
    /// output (if it holds for the far-end history `far` at bulk delay `delay`) by the change.
    pub fn constrain_next(
        &mut self,
        fft: &mut RealFft,
        spec: &mut [Complex<f32>],
        time: &mut [f32],
        far: &FarHistory,
        delay: usize,
    ) {
        let p = self.next_constrain;
        self.next_constrain = (self.next_constrain + 1) % self.parts;
        let b = self.bins;
        let spec = &mut spec[..b];
        let (wr, wi) = (&mut self.re[p * b..(p + 1) * b], &mut self.im[p * b..(p + 1) * b]);
        for ((s, r), i) in spec.iter_mut().zip(wr.iter()).zip(wi.iter()) {
            *s = Complex::new(*r, *i);
        }
        fft.inverse(spec, time);
        let n = fft.len() / 2;
        let scale = 1.0 / fft.len() as f32;
        let (taps, wrapped) = time.split_at_mut(n);
        taps.iter_mut().for_each(|t| *t *= scale);
        wrapped.fill(0.0);
        fft.forward(time, spec);
        if p > 0 && self.next_for == Some((far.count, delay)) {
            // Next frame, partition `p` meets today's `p − 1`.
            let (xr, xi) = far.ring(delay).rows(p - 1);
            let (nr, ni) = (&mut self.next_re[..b], &mut self.next_im[..b]);
            for k in 0..b {
                let dr = spec[k].re - wr[k];
                let di = spec[k].im - wi[k];
                nr[k] += dr * xr[k] - di * xi[k];
                ni[k] += dr * xi[k] + di * xr[k];
            }
        }
        for ((s, r), i) in spec.iter().zip(wr.iter_mut()).zip(wi.iter_mut()) {
            *r = s.re;
            *i = s.im;
        }
    }

    /// Shifts the partitions by `k` (positive: partition `p` takes partition `p + k`'s coefficients),
    /// filling with zeros, for a change of the bulk delay by `k` frames.
    pub fn shift(&mut self, k: isize) {
        self.phi_for = None;
        self.next_for = None;
        let b = self.bins;
        let n = self.parts as isize;
        if k == 0 {
            return;
        }
        if k.abs() >= n {
            self.clear();
            return;
        }
        let s = k.unsigned_abs() * b;
        if k > 0 {
            self.re.copy_within(s.., 0);
            self.im.copy_within(s.., 0);
            self.var.copy_within(s.., 0);
            let l = self.re.len();
            self.re[l - s..].fill(0.0);
            self.im[l - s..].fill(0.0);
            for p in self.parts - k as usize..self.parts {
                self.var[p * b..(p + 1) * b].fill(self.prior[p]);
            }
        } else {
            let l = self.re.len();
            self.re.copy_within(..l - s, s);
            self.im.copy_within(..l - s, s);
            self.var.copy_within(..l - s, s);
            self.re[..s].fill(0.0);
            self.im[..s].fill(0.0);
            for p in 0..k.unsigned_abs() {
                self.var[p * b..(p + 1) * b].fill(self.prior[p]);
            }
        }
    }

    /// Copies the coefficients (not the Kalman state) of `other`, and its carried next output. Between
    /// filters of different lengths the common partitions are copied and any further ones of `self`
    /// zeroed (the filter is then `other`, cut or extended with zeros).
    pub fn copy_coeffs_from(&mut self, other: &PartitionedFilter) {
        let n = self.re.len().min(other.re.len());
        self.re[..n].copy_from_slice(&other.re[..n]);
        self.im[..n].copy_from_slice(&other.im[..n]);
        self.re[n..].fill(0.0);
        self.im[n..].fill(0.0);
        if self.parts == other.parts {
            self.next_re.copy_from_slice(&other.next_re);
            self.next_im.copy_from_slice(&other.next_im);
            self.next_for = other.next_for;
        } else {
            // `other`'s carried sum covers other partitions than this filter now holds.
            self.next_for = None;
        }
    }

    /// Sets the Kalman state-error variance to `scale` times the prior (after a reset or copy).
    pub fn set_variance(&mut self, scale: f32) {
        self.phi_for = None;
        let b = self.bins;
        for p in 0..self.parts {
            let v = scale * self.prior[p];
            self.var[p * b..(p + 1) * b].fill(v);
        }
    }

    /// Zeroes the coefficients and restores the initial variance.
    pub fn clear(&mut self) {
        self.re.fill(0.0);
        self.im.fill(0.0);
        self.next_for = None;
        self.set_variance(1.0);
        self.next_constrain = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The filter output equals a time-domain convolution with the projected taps (overlap-save check).
    #[test]
    fn output_matches_time_domain_convolution() {
        let n = 8;
        let m = 2 * n;
        let bins = n + 1;
        let parts = 3;
        let mut fft = RealFft::new(m);
        let mut far = FarHistory::new(8, bins);
        let mut f = PartitionedFilter::new(parts, bins, 1.0, 0.0);
        // Taps h[0..24]: set each partition from time-domain taps.
        let h: Vec<f32> = (0..parts * n)
            .map(|i| ((i * 7 % 11) as f32 - 5.0) / 10.0)
            .collect();
        let mut spec = vec![Complex::default(); bins];
        for p in 0..parts {
            let mut t = vec![0.0; m];
            t[..n].copy_from_slice(&h[p * n..(p + 1) * n]);
            fft.forward(&t, &mut spec);
            for k in 0..bins {
                f.re[p * bins + k] = spec[k].re;
                f.im[p * bins + k] = spec[k].im;
            }
        }
        let x: Vec<f32> = (0..10 * n).map(|i| ((i * 13 % 17) as f32 - 8.0) / 8.0).collect();
        let mut prev = vec![0.0; n];
        let mut y = vec![0.0; m];
        for t in 0..10 {
            let cur = &x[t * n..(t + 1) * n];
            let mut frame = prev.clone();
            frame.extend_from_slice(cur);
            fft.forward(&frame, &mut spec);
            far.push(&spec);
            prev = cur.to_vec();
            let mut other = vec![Complex::default(); bins];
            PartitionedFilter::output_pair(&f, &f, &far, 0, &mut spec, &mut other);
            assert_eq!(spec, other, "the same filter twice");
            fft.inverse(&mut spec, &mut y);
            for i in 0..n {
                let idx = t * n + i;
                let want: f32 = (0..h.len())
                    .filter(|&j| j <= idx)
                    .map(|j| h[j] * x[idx - j])
                    .sum();
                let got = y[n + i] / m as f32;
                assert!((got - want).abs() < 1e-4, "t {t} i {i}: {got} vs {want}");
            }
        }
    }

    fn noise_spectrum(bins: usize, seed: &mut u32) -> Vec<Complex<f32>> {
        let mut rnd = || {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 17;
            *seed ^= *seed << 5;
            *seed as f32 / u32::MAX as f32 - 0.5
        };
        (0..bins).map(|_| Complex::new(rnd(), rnd())).collect()
    }

    /// The running far-end power sum equals the full weighted sum frame after frame.
    #[test]
    fn power_sum_step_matches_the_full_sum() {
        let (bins, parts, delay, r) = (17, 6, 2, 0.8f32);
        let mut far = FarHistory::new(delay + parts + 3, bins);
        let weights: Vec<f32> = (0..parts).map(|p| r.powi(p as i32)).collect();
        let mut seed = 0x1357_9bdfu32;
        let mut run = vec![0.0; bins];
        far.power_sum(delay, &weights, &mut run);
        for t in 0..40 {
            // Silence for a while in the middle: the sum must fall to the new frames' level.
            let spec = if (15..25).contains(&t) {
                vec![Complex::default(); bins]
            } else {
                noise_spectrum(bins, &mut seed)
            };
            far.push(&spec);
            far.power_sum_step(delay, parts, r, &mut run);
            let mut full = vec![0.0; bins];
            far.power_sum(delay, &weights, &mut full);
            for k in 0..bins {
                assert!(
                    (run[k] - full[k]).abs() <= 1e-5 * (1.0 + full[k]),
                    "frame {t} bin {k}: {} vs {}",
                    run[k],
                    full[k]
                );
            }
        }
    }

    /// `adapt_pair` with the innovation power carried over from the previous pass updates the filters as
    /// with the full sum computed afresh.
    #[test]
    fn carried_innovation_power_equals_the_full_sum() {
        let (bins, parts) = (33, 5);
        let mut seed = 0x0bad_cafeu32;
        let mut far = FarHistory::new(parts + 4, bins);
        let mk = || PartitionedFilter::new(parts, bins, 0.5, 1.0);
        let (mut m1, mut s1, mut m2, mut s2) = (mk(), mk(), mk(), mk());
        let noise = vec![1e-3; bins];
        let mut phi = vec![0.0; bins];
        for t in 0..12 {
            far.push(&noise_spectrum(bins, &mut seed));
            let e = noise_spectrum(bins, &mut seed);
            let g = noise_spectrum(bins, &mut seed);
            if t > 0 {
                assert_eq!(m1.phi_for, Some((far.count() - 1, 1)), "the carried sum is used");
            }
            PartitionedFilter::adapt_pair(
                &mut m1, &mut s1, &far, 1, &e, &noise, 0.99, 0.5, 1e-9, &g, &mut phi,
            );
            m2.phi_for = None; // always the full sum
            PartitionedFilter::adapt_pair(
                &mut m2, &mut s2, &far, 1, &e, &noise, 0.99, 0.5, 1e-9, &g, &mut phi,
            );
            for i in 0..parts * bins {
                for (a, b, what) in [
                    (m1.re[i], m2.re[i], "main re"),
                    (m1.im[i], m2.im[i], "main im"),
                    (m1.var[i], m2.var[i], "var"),
                    (s1.re[i], s2.re[i], "shadow re"),
                ] {
                    assert!(
                        (a - b).abs() <= 1e-5 * (1.0 + a.abs()),
                        "frame {t} {what} {i}: {a} vs {b}"
                    );
                }
            }
        }
    }

    /// The outputs from the sums carried by `adapt_pair` (moved by the round-robin constraint, and across
    /// a copy of coefficients) equal a full pass over the history, frame after frame, with a shadow as
    /// long as the main filter and with a shorter one.
    #[test]
    fn carried_output_equals_the_full_pass() {
        for sp in [5, 3] {
            carried_output_case(sp);
        }
    }

    fn carried_output_case(sp: usize) {
        let (n, parts, delay) = (16, 5, 2);
        let bins = n + 1;
        let mut seed = 0x5eed_f00du32;
        let mut fft = RealFft::new(2 * n);
        let mut far = FarHistory::new(delay + parts + 2, bins);
        let mk = || PartitionedFilter::new(parts, bins, 0.5, 1.0);
        let mk_s = || PartitionedFilter::new(sp, bins, 0.5, 1.0);
        let (mut main, mut shadow) = (mk(), mk_s());
        let noise = vec![1e-3; bins];
        let mut phi = vec![0.0; bins];
        let mut spec = vec![Complex::default(); bins];
        let mut time = vec![0.0; 2 * n];
        let (mut a, mut b) = (vec![Complex::default(); bins], vec![Complex::default(); bins]);
        let (mut fa, mut fb) = (a.clone(), b.clone());
        let mut carried = 0;
        for t in 0..20 {
            far.push(&noise_spectrum(bins, &mut seed));
            PartitionedFilter::output_pair(&main, &shadow, &far, delay, &mut a, &mut b);
            let want = Some((far.count() - 1, delay));
            if main.next_for == want && shadow.next_for == want {
                carried += 1;
            }
            let (mut m2, mut s2) = (mk(), mk_s());
            m2.copy_coeffs_from(&main);
            s2.copy_coeffs_from(&shadow);
            m2.next_for = None;
            PartitionedFilter::output_pair(&m2, &s2, &far, delay, &mut fa, &mut fb);
            for k in 0..bins {
                for (g, w, what) in [(a[k], fa[k], "main"), (b[k], fb[k], "shadow")] {
                    assert!(
                        (g - w).norm() <= 1e-4 * (1.0 + w.norm()),
                        "shadow of {sp}: frame {t} {what} bin {k}: {g} vs {w}"
                    );
                }
            }
            let e = noise_spectrum(bins, &mut seed);
            let g = noise_spectrum(bins, &mut seed);
            PartitionedFilter::adapt_pair(
                &mut main,
                &mut shadow,
                &far,
                delay,
                &e,
                &noise,
                0.99,
                0.5,
                1e-9,
                &g,
                &mut phi,
            );
            main.constrain_next(&mut fft, &mut spec, &mut time, &far, delay);
            shadow.constrain_next(&mut fft, &mut spec, &mut time, &far, delay);
            if t % 7 == 3 {
                main.copy_coeffs_from(&shadow);
            }
        }
        // Copying between filters of different lengths drops the carried sum (frames 4, 11 and 18).
        let want = if sp == parts { 19 } else { 16 };
        assert_eq!(carried, want, "shadow of {sp}: frames that used the carried sums");
    }

    #[test]
    fn shift_moves_partitions() {
        let mut f = PartitionedFilter::new(4, 2, 1.0, 0.0);
        for p in 0..4 {
            f.re[p * 2] = p as f32 + 1.0;
        }
        f.shift(1);
        assert_eq!([f.re[0], f.re[2], f.re[4], f.re[6]], [2.0, 3.0, 4.0, 0.0]);
        f.shift(-2);
        assert_eq!([f.re[0], f.re[2], f.re[4], f.re[6]], [0.0, 0.0, 2.0, 3.0]);
    }
}
