//! The frame-level echo canceller: delay alignment, the two adaptive filters and their copy rules,
//! divergence handling, residual suppression and statistics.
//!
//! # What
//! [`Canceller::process_frame`] turns one frame (10 ms) of microphone and far-end samples into one frame of
//! echo-cancelled output (one frame late, see [`super::res`]).
//!
//! # How
//! 0. Both inputs pass the same 2nd-order Butterworth high-pass at 40 Hz (a DC notch like SpeexDSP's):
//!    the linear echo path is unchanged, and the near-DC envelope that a rectifying loudspeaker adds to the
//!    echo, which no linear filter can model, leaves the microphone signal.
//! 1. The far-end frame's spectrum (overlap-save, FFT of `2N`) enters a history long enough for the largest
//!    bulk delay plus the filter; [`super::delay::DelayEstimator`] picks the bulk delay `d` (whole frames,
//!    one frame of margin before the direct path) and the filters read the history from `d` on. When `d`
//!    moves, the coefficients are shifted by whole partitions, so a converged filter survives.
//! 2. A *main* filter adapted by the frequency-domain Kalman rule (its gain falls by itself in double talk
//!    because the innovation power rises) and a *shadow* filter adapted by NLMS with a fixed large step run
//!    side by side, as with the two-path structure of K. Ochiai et al. (IEEE Trans. Commun. 25(6), 1977)
//!    used by SpeexDSP and WebRTC AEC3; the shadow covers at most the first 250 ms after the bulk delay
//!    (where its exponentially weighted step has not fallen by more than 25 dB). Copy rules, evaluated on
//!    recursively smoothed error energies: the shadow replaces the main filter when its error is 3 dB
//!    lower (echo-path change: it re-converges first), except while the suppressor finds the near-end
//!    talker dominant and the main error is below the microphone energy (in double talk the shadow fits
//!    part of the near-end speech); the main filter replaces the shadow when the shadow's error is 6 dB
//!    higher (the shadow went astray in double talk).
//! 3. Divergence: when the main error exceeds the microphone energy by 3 dB for 5 frames of far-end
//!    activity, the main filter is replaced by the shadow (if the shadow cancels anything) or reset, and
//!    the reset is counted. In a frame where the main filter adds more than 3 dB of energy, the
//!    microphone signal is passed on instead of the error (a margin: in double talk the near-end speech
//!    and the echo have random cross terms over a 10 ms frame, and passing the microphone signal on a
//!    0 dB test let the whole echo through in about one frame of twelve).
//! 4. The output goes through [`super::res::Suppressor`], which is told when the linear estimate cannot
//!    be trusted: in the *initial state* (the first 2.5 s of far-end activity, as `initial_state_seconds`
//!    of WebRTC AEC3's filter configuration: a filter of a few thousand taps driven by speech has not
//!    converged yet) and for 1 s after an event that shows the echo path has changed (the main error
//!    exceeds the microphone energy by 9 dB in a frame or by 3 dB for two smoothed frames, a divergence
//!    reset, or a move of the bulk delay). The suppressor then treats the whole error as residual echo
//!    while the far-end is active, as AEC3's suppressor does while its linear filter is not usable.
//!    Near-end speech in double talk is in both the error and the microphone signal, so it does not
//!    make the error exceed the microphone energy by that much: the events come from a wrong filter.
//!
//! # Real-time safety
//! Allocates only in `new`.

use realfft::num_complex::Complex;

use super::delay::{DelayEstimator, Section};
use super::filter::{FarHistory, PartitionedFilter};
use super::kernels::Simd;
use super::res::{Suppressor, SuppressorSettings};
use crate::basic::BiquadCoeffs;
use crate::reduce::{dot, sum};
use crate::voice::rfft::RealFft;

/// Largest bulk delay searched, ms.
pub(super) const MAX_DELAY_MS: f32 = 500.0;
/// Kalman state transition factor A² per frame.
const KALMAN_A2: f32 = 0.998;
/// Kalman step factor (a safety margin for the unconstrained update).
const KALMAN_MU: f32 = 0.5;
/// Smoothing of the Kalman near-end PSD estimate.
const NOISE_SMOOTH: f32 = 0.5;
/// Initial Kalman state-error variance (first partition).
const VAR0: f32 = 0.5;
/// Decay of the prior variance along the filter: 60 dB over 600 ms (slower than the RT60 0.3–0.5 s rooms'
/// energy decay, so the tail partitions keep a usable step).
const PRIOR_DB_PER_S: f32 = 100.0;
/// Smallest near-end PSD the Kalman filter assumes (−90 dBFS), as a variance per sample.
const NOISE_FLOOR: f32 = 1e-9;
/// Corner of the high-pass filter on both inputs, Hz.
const HPF_HZ: f64 = 40.0;
/// The microphone signal replaces the main filter's error when the error is this much stronger (3 dB).
const USE_MIC_RATIO: f32 = 2.0;
/// Length of the initial state, frames of far-end activity (2.5 s at 10 ms frames).
const INITIAL_FRAMES: u32 = 250;
/// Frames the linear estimate stays distrusted after an echo-path event (1 s at 10 ms frames).
const DISTRUST_FRAMES: u32 = 100;
/// A frame whose main-filter error exceeds the microphone energy by this factor (9 dB) is an echo-path
/// event: near-end speech raises both alike, so only a wrong filter gets there.
const EVENT_RATIO: f32 = 8.0;
/// Consecutive frames of smoothed main error 3 dB above the microphone that count as an event.
const EVENT_DIVERGE_FRAMES: u32 = 2;
/// Near-end dominance may be declared only in frames whose microphone energy is at least this fraction
/// (−10 dB) of its recent level (`st_y`, 0.5 s while the far-end plays): in the decaying echo tail at the
/// end of a far-end utterance the error holds only the tail the filter does not model, and a dominance
/// found there relaxed the suppression for the next onset (far-end single-talk ERLE of
/// `aec_scenes::far_end_single_talk_converges_fast_and_deep` 45.1 dB with the 0.8 s hold without this
/// gate, 53.5 dB with it).
const NEAR_MIC_RATIO: f32 = 0.1;
/// NLMS step of the shadow filter.
const SHADOW_MU: f32 = 0.3;
/// Span of the shadow filter after the bulk delay, ms (plus the margin partition). Its NLMS step falls
/// along the filter with the prior (`PRIOR_DB_PER_S`): 25 dB below the first partition's at 250 ms, so
/// partitions further out barely move between copies from the main filter, and the fast tracker is cut
/// there. Beyond it the main filter adapts alone; a copy from the shadow zeroes it there.
const SHADOW_MS: f32 = 250.0;

/// User settings applied per frame.
#[derive(Debug, Clone, Copy)]
pub(super) struct Settings {
    /// Residual suppression over-subtraction (0 = off).
    pub beta: f32,
    /// Lowest suppression gain.
    pub min_gain: f32,
    /// Comfort noise on.
    pub cng: bool,
}

/// Statistics of the canceller (read by the node's meters).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Stats {
    pub delay_ms: f32,
    pub erl_db: f32,
    pub erle_db: f32,
    pub erle_total_db: f32,
    pub resets: u32,
    pub shadow_copies: u32,
    pub realigns: u32,
    pub single_talk: bool,
    pub mean_gain: f32,
}

/// The echo canceller for one mono stream (see the module docs).
pub(super) struct Canceller {
    n: usize,
    m: usize,
    rate: u32,
    parts: usize,
    fft: RealFft,
    tbuf: Vec<f32>,
    spec: Vec<Complex<f32>>,
    e_spec: Vec<Complex<f32>>,
    far_prev: Vec<f32>,
    hist: FarHistory,
    weights: Vec<f32>,
    main: PartitionedFilter,
    shadow: PartitionedFilter,
    delay: DelayEstimator,
    bulk: usize,
    yhat_m: Vec<f32>,
    e_m: Vec<f32>,
    e_s: Vec<f32>,
    e_out: Vec<f32>,
    xsum: Vec<f32>,
    /// History count and bulk delay `xsum` was computed for.
    xsum_for: Option<(u64, usize)>,
    /// Ratio of consecutive partitions' weights in `weights`.
    weight_ratio: f32,
    /// Sum of `weights`.
    weight_sum: f32,
    kal_noise: Vec<f32>,
    kal_scratch: Vec<f32>,
    es_spec: Vec<Complex<f32>>,
    grad: Vec<Complex<f32>>,
    res: Suppressor,
    // Smoothed energies for copy rules.
    sm_y: f32,
    sm_m: f32,
    sm_s: f32,
    diverge_frames: u32,
    // Statistics smoothing.
    st_x: f32,
    st_y: f32,
    st_e: f32,
    st_o: f32,
    ncc_num: f32,
    ncc_y: f32,
    ncc_h: f32,
    stats: Stats,
    hp: [Section; 2],
    /// Frames of far-end activity so far (saturating at [`INITIAL_FRAMES`]).
    far_frames: u32,
    /// Frames left in which the linear estimate is distrusted after an echo-path event.
    distrust: u32,
    mic_hp: Vec<f32>,
    far_hp: Vec<f32>,
    /// Whether `process_frame` runs its AVX2 + FMA build (x86-64 CPUs that have both).
    avx2_fma: bool,
}

impl Canceller {
    /// A canceller for `rate` Hz, frames of `n` samples and a filter covering `tail_ms` after the bulk
    /// delay.
    pub fn new(rate: u32, n: usize, tail_ms: f32) -> Self {
        let m = 2 * n;
        let bins = n + 1;
        let frame_ms = 1000.0 * n as f32 / rate as f32;
        // One extra partition for the margin before the direct path.
        let parts = (tail_ms / frame_ms).ceil() as usize + 1;
        let max_bulk = (MAX_DELAY_MS / frame_ms).ceil() as usize + 1;
        // Partition weights of the far-end power sum: the prior's decay, `weight_ratio^p`.
        let weight_ratio = 10f32.powf(-PRIOR_DB_PER_S * frame_ms / 1000.0 / 10.0);
        let weights: Vec<f32> = (0..parts).map(|p| weight_ratio.powi(p as i32)).collect();
        Self {
            n,
            m,
            rate,
            parts,
            fft: RealFft::new(m),
            tbuf: vec![0.0; m],
            spec: vec![Complex::default(); bins],
            e_spec: vec![Complex::default(); bins],
            far_prev: vec![0.0; n],
            hist: FarHistory::new(max_bulk + parts + 1, bins),
            main: PartitionedFilter::new(parts, bins, VAR0, PRIOR_DB_PER_S * frame_ms / 1000.0),
            shadow: PartitionedFilter::new(
                parts.min((SHADOW_MS / frame_ms).ceil() as usize + 1),
                bins,
                VAR0,
                PRIOR_DB_PER_S * frame_ms / 1000.0,
            ),
            weight_sum: weights.iter().sum(),
            weights,
            delay: DelayEstimator::new(rate, n, MAX_DELAY_MS),
            bulk: 0,
            yhat_m: vec![0.0; n],
            e_m: vec![0.0; n],
            e_s: vec![0.0; n],
            e_out: vec![0.0; n],
            xsum: vec![0.0; bins],
            xsum_for: None,
            weight_ratio,
            kal_noise: vec![0.0; bins],
            kal_scratch: vec![0.0; bins],
            es_spec: vec![Complex::default(); bins],
            grad: vec![Complex::default(); bins],
            res: Suppressor::new(n, rate),
            sm_y: 0.0,
            sm_m: 0.0,
            sm_s: 0.0,
            diverge_frames: 0,
            st_x: 0.0,
            st_y: 0.0,
            st_e: 0.0,
            st_o: 0.0,
            ncc_num: 0.0,
            ncc_y: 0.0,
            ncc_h: 0.0,
            stats: Stats::default(),
            hp: [Section::new(BiquadCoeffs::highpass(
                HPF_HZ,
                std::f64::consts::FRAC_1_SQRT_2,
                f64::from(rate),
            )); 2],
            far_frames: 0,
            distrust: 0,
            mic_hp: vec![0.0; n],
            far_hp: vec![0.0; n],
            avx2_fma: Simd::detect().avx2_fma,
        }
    }

    /// Current statistics.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Clears all signal state.
    pub fn reset(&mut self) {
        self.far_prev.fill(0.0);
        for s in self.hp.iter_mut() {
            s.clear();
        }
        self.hist.clear();
        self.xsum_for = None;
        self.main.clear();
        self.shadow.clear();
        self.delay.reset();
        self.bulk = 0;
        self.kal_noise.fill(0.0);
        self.res.reset();
        self.sm_y = 0.0;
        self.sm_m = 0.0;
        self.sm_s = 0.0;
        self.diverge_frames = 0;
        self.st_x = 0.0;
        self.st_y = 0.0;
        self.st_e = 0.0;
        self.st_o = 0.0;
        self.ncc_num = 0.0;
        self.ncc_y = 0.0;
        self.ncc_h = 0.0;
        self.stats = Stats::default();
        self.far_frames = 0;
        self.distrust = 0;
    }

    /// Time-domain filter output (`N` samples) into `yhat` from the spectrum in `self.spec` (or, if
    /// `from_grad`, in `self.grad`, which holds the shadow's until `adapt` reuses it).
    #[inline(always)]
    fn spectrum_to_time(&mut self, from_grad: bool, yhat: &mut [f32]) {
        let spec = if from_grad { &mut self.grad } else { &mut self.spec };
        self.fft.inverse(spec, &mut self.tbuf);
        let scale = 1.0 / self.m as f32;
        for (o, t) in yhat.iter_mut().zip(&self.tbuf[self.n..]) {
            *o = t * scale;
        }
    }

    /// FFT of `[0, e]` into `self.e_spec`.
    #[inline(always)]
    fn error_spectrum(&mut self, e_is_main: bool) {
        let n = self.n;
        self.tbuf[..n].fill(0.0);
        let e = if e_is_main { &self.e_m } else { &self.e_s };
        self.tbuf[n..].copy_from_slice(e);
        self.fft.forward(&self.tbuf, &mut self.e_spec);
    }

    /// Moves the bulk delay to follow the delay estimator.
    fn follow_delay(&mut self) {
        let Some(d) = self.delay.delay_samples() else {
            return;
        };
        let n = self.n as f32;
        let max_bulk = self.hist.slots() - self.parts - 1;
        // Direct path one frame (plus a half) into the filter.
        let want = (((d - 0.5 * n) / n).floor().max(0.0) as usize)
            .saturating_sub(1)
            .min(max_bulk);
        if want == self.bulk {
            return;
        }
        // Keep the alignment while the direct path stays between 0.25 and 2.5 frames into the filter.
        let offset = d / n - self.bulk as f32;
        if (0.25..=2.5).contains(&offset) {
            return;
        }
        let k = want as isize - self.bulk as isize;
        self.main.shift(k);
        self.shadow.shift(k);
        self.bulk = want;
        self.stats.realigns += 1;
        self.distrust = DISTRUST_FRAMES;
    }

    /// Processes one frame: `mic` and `far` in, `out` (one frame late) out.
    ///
    /// The frame's glue code (filters, energies, per-bin loops of the suppressor and the delay estimator)
    /// is compiled twice, like the filter kernels: for the build's baseline and, on CPUs that have them,
    /// with AVX2 and FMA enabled (`avx2_fma`, decided once in `new`). No `mul_add` is written outside the
    /// kernels and Rust does not contract a multiply and an add by itself, so both give the same results.
    #[allow(unsafe_code)] // the dispatch to the AVX2 build below
    pub fn process_frame(&mut self, mic_in: &[f32], far_in: &[f32], set: &Settings, out: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if self.avx2_fma {
            // SAFETY: the CPU supports AVX2 and FMA (checked in `new`), the only requirement of the
            // `#[target_feature]` function; its body is safe code.
            return unsafe { self.process_frame_avx(mic_in, far_in, set, out) };
        }
        self.process_frame_impl(mic_in, far_in, set, out);
    }

    /// [`Self::process_frame`] compiled with AVX2 and FMA.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    #[allow(unsafe_code)]
    unsafe fn process_frame_avx(&mut self, mic_in: &[f32], far_in: &[f32], set: &Settings, out: &mut [f32]) {
        self.process_frame_impl(mic_in, far_in, set, out);
    }

    #[inline(always)]
    fn process_frame_impl(&mut self, mic_in: &[f32], far_in: &[f32], set: &Settings, out: &mut [f32]) {
        let n = self.n;
        // High-pass both signals alike: the linear path is unchanged, and what a non-linear loudspeaker
        // adds near DC (a rectified speech envelope) leaves the microphone signal.
        let mut hp = self.hp; // in registers across the loop
        for i in 0..n {
            self.mic_hp[i] = hp[0].tick(mic_in[i]);
            self.far_hp[i] = hp[1].tick(far_in[i]);
        }
        hp[0].flush();
        hp[1].flush();
        self.hp = hp;

        let mic = std::mem::take(&mut self.mic_hp);
        let far = std::mem::take(&mut self.far_hp);
        self.process_filtered(&mic, &far, set, out);
        self.mic_hp = mic;
        self.far_hp = far;
    }

    #[inline(always)]
    fn process_filtered(&mut self, mic: &[f32], far: &[f32], set: &Settings, out: &mut [f32]) {
        let n = self.n;
        if self.delay.push(far, mic) {
            self.follow_delay();
        }
        // Far-end spectrum.
        self.tbuf[..n].copy_from_slice(&self.far_prev);
        self.tbuf[n..].copy_from_slice(far);
        self.fft.forward(&self.tbuf, &mut self.spec);
        self.hist.push(&self.spec);
        self.far_prev.copy_from_slice(far);

        // Both filters (their spectra in one pass over the far-end history).
        PartitionedFilter::output_pair(
            &self.main,
            &self.shadow,
            &self.hist,
            self.bulk,
            &mut self.spec,
            &mut self.grad,
        );
        let mut yhat = std::mem::take(&mut self.yhat_m);
        self.spectrum_to_time(false, &mut yhat);
        self.yhat_m = yhat;
        let mut ys = std::mem::take(&mut self.e_s);
        self.spectrum_to_time(true, &mut ys);
        for (((em, ys), &m), &yh) in self.e_m[..n]
            .iter_mut()
            .zip(&mut ys[..n])
            .zip(&mic[..n])
            .zip(&self.yhat_m[..n])
        {
            *em = m - yh;
            *ys = m - *ys;
        }
        let (ey, em, es) = (dot(mic, mic), dot(&self.e_m, &self.e_m), dot(&ys, &ys));
        let (eh, cyh) = (dot(&self.yhat_m, &self.yhat_m), dot(mic, &self.yhat_m));
        self.e_s = ys;

        // Far-end activity over the span the filter covers (the weights are geometric, so the sum of
        // the previous frame moves on by one partition when the alignment stayed).
        if self.xsum_for == Some((self.hist.count().wrapping_sub(1), self.bulk)) {
            self.hist
                .power_sum_step(self.bulk, self.parts, self.weight_ratio, &mut self.xsum);
        } else {
            self.hist.power_sum(self.bulk, &self.weights, &mut self.xsum);
        }
        self.xsum_for = Some((self.hist.count(), self.bulk));
        let xs = sum(&self.xsum);
        let x_level = xs / (self.m as f32 * self.m as f32 * self.weight_sum / 2.0);
        let far_active = x_level > 1e-7;

        // Output of the linear stage.
        let use_mic = em > USE_MIC_RATIO * ey && ey > 0.0;
        if use_mic {
            self.e_out.copy_from_slice(mic);
        } else {
            self.e_out.copy_from_slice(&self.e_m);
        }
        self.res.analyse(&self.e_out, &self.yhat_m);

        // Far-end single-talk detector: normalised correlation of microphone and echo estimate.
        const A_NCC: f32 = 0.7;
        self.ncc_num = A_NCC * self.ncc_num + (1.0 - A_NCC) * cyh;
        self.ncc_y = A_NCC * self.ncc_y + (1.0 - A_NCC) * ey;
        self.ncc_h = A_NCC * self.ncc_h + (1.0 - A_NCC) * eh;
        let ncc = self.ncc_num / (self.ncc_y * self.ncc_h).sqrt().max(1e-20);
        let single_talk = far_active && ncc > 0.9 && !use_mic;

        if far_active {
            self.adapt();
            self.far_frames = (self.far_frames + 1).min(INITIAL_FRAMES);
        }
        let resets = self.stats.resets;
        self.copy_rules(ey, em, es, far_active);
        // Echo-path events (see the module docs).
        if (far_active && ey > 0.0 && em > EVENT_RATIO * ey)
            || self.stats.resets != resets
            || self.diverge_frames >= EVENT_DIVERGE_FRAMES
        {
            self.distrust = DISTRUST_FRAMES;
        }
        let uncertain = far_active && (self.far_frames < INITIAL_FRAMES || self.distrust > 0);
        self.distrust = self.distrust.saturating_sub(1);

        let rs = SuppressorSettings {
            beta: set.beta,
            min_gain: set.min_gain,
            cng: set.cng,
            far_active,
            uncertain,
            near_possible: ey >= NEAR_MIC_RATIO * self.st_y,
        };
        self.res.xpow.copy_from_slice(&self.xsum);
        self.res.synthesize(&rs, out);
        self.update_stats(ey, em, out, far_active, single_talk);
        self.flush_smoothers();
    }

    #[inline(always)]
    fn adapt(&mut self) {
        // Shadow error spectrum first: it is also the Kalman filter's near-end PSD estimate (the part of
        // the microphone signal that a fast-tracking filter cannot explain), as WebRTC AEC3 uses its
        // coarse filter's error for the refined filter's gain.
        self.error_spectrum(false);
        std::mem::swap(&mut self.e_spec, &mut self.es_spec);
        self.error_spectrum(true);
        for ((noise, es), e) in self.kal_noise.iter_mut().zip(&self.es_spec).zip(&self.e_spec) {
            let inst = es.norm_sqr().min(e.norm_sqr());
            let prev = *noise;
            *noise = if inst > prev {
                inst
            } else {
                NOISE_SMOOTH * prev + (1.0 - NOISE_SMOOTH) * inst
            };
        }
        // Shadow filter: exponentially weighted NLMS with a fixed step.
        let delta = self.m as f32 * self.m as f32 * 1e-8;
        for ((g, es), &x) in self.grad.iter_mut().zip(&self.es_spec).zip(&self.xsum) {
            *g = es * (SHADOW_MU / (x + delta));
        }
        PartitionedFilter::adapt_pair(
            &mut self.main,
            &mut self.shadow,
            &self.hist,
            self.bulk,
            &self.e_spec,
            &self.kal_noise,
            KALMAN_A2,
            KALMAN_MU,
            NOISE_FLOOR * self.n as f32,
            &self.grad,
            &mut self.kal_scratch,
        );
        for f in [&mut self.main, &mut self.shadow] {
            f.constrain_next(
                &mut self.fft,
                &mut self.spec,
                &mut self.tbuf,
                &self.hist,
                self.bulk,
            );
        }
    }

    #[inline(always)]
    fn copy_rules(&mut self, ey: f32, em: f32, es: f32, far_active: bool) {
        const A: f32 = 0.6;
        self.sm_y = A * self.sm_y + (1.0 - A) * ey;
        self.sm_m = A * self.sm_m + (1.0 - A) * em;
        self.sm_s = A * self.sm_s + (1.0 - A) * es;
        if !far_active || self.sm_y <= 1e-12 {
            self.diverge_frames = 0;
            return;
        }
        if self.sm_m > 2.0 * self.sm_y {
            self.diverge_frames += 1;
        } else {
            self.diverge_frames = 0;
        }
        if self.diverge_frames >= 5 {
            if self.sm_s < 0.5 * self.sm_y {
                self.main.copy_coeffs_from(&self.shadow);
                self.sm_m = self.sm_s;
            } else {
                self.main.clear();
                self.shadow.clear();
                self.sm_m = self.sm_y;
                self.sm_s = self.sm_y;
            }
            self.main.set_variance(1.0);
            self.kal_noise.fill(0.0);
            self.res.forget_erle();
            self.stats.resets += 1;
            self.diverge_frames = 0;
            return;
        }
        // In double talk (the suppressor found the near-end dominant) the shadow's fixed-step NLMS fits
        // part of the near-end speech, so its lower error is no sign of a better echo path: copying it
        // corrupted the main filter, whose error then exceeded the microphone at the next far-end onset
        // and muted the near-end talker for a second (seed 7 double talk PESQ-WB 1.21). Copy only while
        // the main filter still cancels something; a broken main filter (error above the microphone) is
        // still replaced.
        let hold = self.res.near_end_dominant() && self.sm_m < self.sm_y;
        if self.sm_s < 0.5 * self.sm_m && !hold {
            self.main.copy_coeffs_from(&self.shadow);
            self.main.set_variance(1.0);
            self.sm_m = self.sm_s;
            self.stats.shadow_copies += 1;
        } else if self.sm_s > 4.0 * self.sm_m {
            self.shadow.copy_coeffs_from(&self.main);
            self.sm_s = self.sm_m;
        }
    }

    #[inline(always)]
    fn update_stats(&mut self, ey: f32, em: f32, out: &[f32], far_active: bool, single_talk: bool) {
        let eo = dot(out, out);
        let x_level = dot(&self.far_prev, &self.far_prev);
        const A: f32 = 0.98;
        if far_active {
            self.st_x = A * self.st_x + (1.0 - A) * x_level;
            self.st_y = A * self.st_y + (1.0 - A) * ey;
            self.st_e = A * self.st_e + (1.0 - A) * em.min(ey);
            self.st_o = A * self.st_o + (1.0 - A) * eo;
        }
        let db = |a: f32, b: f32| 10.0 * ((a + 1e-20) / (b + 1e-20)).log10();
        self.stats.erl_db = db(self.st_x, self.st_y);
        self.stats.erle_db = db(self.st_y, self.st_e);
        self.stats.erle_total_db = db(self.st_y, self.st_o);
        self.stats.delay_ms = self
            .delay
            .delay_samples()
            .map_or(0.0, |d| 1000.0 * d / self.rate as f32);
        self.stats.single_talk = single_talk;
        self.stats.mean_gain = self.res.mean_gain();
    }

    #[inline(always)]
    fn flush_smoothers(&mut self) {
        for v in [
            &mut self.sm_y,
            &mut self.sm_m,
            &mut self.sm_s,
            &mut self.st_x,
            &mut self.st_y,
            &mut self.st_e,
            &mut self.st_o,
            &mut self.ncc_num,
            &mut self.ncc_y,
            &mut self.ncc_h,
        ] {
            if v.abs() < 1e-25 {
                *v = 0.0;
            }
        }
        for v in self.kal_noise.iter_mut() {
            if *v < 1e-25 {
                *v = 0.0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The AVX2 build of `process_frame` computes exactly what the baseline build computes (same
    /// operations in the same order; only the filter kernels use fused multiply-adds, and both builds
    /// call the same kernels).
    #[test]
    fn avx_build_equals_the_baseline_build() {
        if !Simd::detect().avx2_fma {
            eprintln!("no AVX2/FMA on this CPU: nothing to compare");
            return;
        }
        let (rate, n) = (16_000, 160);
        let mut seed = 0x1234_5678u32;
        let mut rnd = move || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed as f32 / u32::MAX as f32 - 0.5
        };
        let frames = 300;
        let far: Vec<f32> = (0..frames * n).map(|_| 0.3 * rnd()).collect();
        // Echo: 40 ms delay through a short decaying path, plus near-end noise and a near-end burst.
        let mic: Vec<f32> = (0..frames * n)
            .map(|i| {
                let echo: f32 = (0..8)
                    .filter(|&j| i >= 640 + 3 * j)
                    .map(|j| 0.5 * 0.7f32.powi(j as i32) * far[i - 640 - 3 * j])
                    .sum();
                let near = if (150 * n..180 * n).contains(&i) {
                    0.2 * rnd()
                } else {
                    0.001 * rnd()
                };
                echo + near
            })
            .collect();
        let set = Settings {
            beta: 1.5,
            min_gain: 0.05,
            cng: true,
        };
        let run = |avx: bool| {
            let mut c = Canceller::new(rate, n, 250.0);
            c.avx2_fma = avx;
            let mut out = vec![0.0; frames * n];
            for t in 0..frames {
                let r = t * n..(t + 1) * n;
                c.process_frame(&mic[r.clone()], &far[r.clone()], &set, &mut out[r]);
            }
            (out, c.stats().erle_db)
        };
        let (a, ea) = run(true);
        let (b, eb) = run(false);
        assert!(ea > 10.0, "the canceller converged (ERLE {ea} dB)");
        assert_eq!(ea.to_bits(), eb.to_bits(), "ERLE {ea} vs {eb}");
        for (i, (x, y)) in a.iter().zip(&b).enumerate() {
            assert_eq!(x.to_bits(), y.to_bits(), "sample {i}: {x} vs {y}");
        }
    }
}
