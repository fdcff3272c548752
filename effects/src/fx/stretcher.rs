//! Streaming time-scale modification: a phase vocoder with identity phase locking (music) and WSOLA
//! (speech), behind one push/pull API.
//!
//! # What
//! [`TimeStretcher`] changes the duration of a stream by `factor` (output duration / input duration,
//! 0.5–2) without changing its pitch. Input is pushed in any amount, output is pulled as it becomes final;
//! after [`TimeStretcher::finish`] the total output is exactly `round(Σ n_in · factor)` frames, and output
//! sample `j` corresponds to input time `j / factor` (frame centres map onto each other, so the process has
//! no time offset beyond its buffering).
//!
//! # How
//! * [`StretchMode::Music`] — phase vocoder (Flanagan & Golden 1966; Dolson 1986) with Hann windows of `N`
//!   samples, synthesis hop `N/4` and analysis hop `N/(4·factor)`. Phases are propagated with *identity
//!   phase locking* (Laroche & Dolson, "Improved phase vocoder time-scale modification of audio", IEEE
//!   Trans. Speech Audio Proc. 7(3), 1999): only spectral peaks get their phase advanced by their
//!   instantaneous frequency times the synthesis hop; the other bins of each peak's region of influence keep
//!   their analysed phase relation to the peak. Optionally the spectral envelope (real-cepstrum lifter) is
//!   warped, which [`crate::PitchShifter`] uses for formant preservation.
//! * [`StretchMode::Speech`] — WSOLA (Verhelst & Roelands, ICASSP 1993): 20 ms Hann frames with 50 %
//!   overlap at the output; each analysis frame is taken within ±10 ms of its nominal position where it
//!   best continues the previously copied frame (normalised cross-correlation, coarse search on a 4×
//!   decimated signal, then refined at full rate). Stereo shares the offsets.
//!
//! * Transients (on by default, [`TimeStretcher::set_transients`]): a causal high-frequency-content onset
//!   detector ([`super::onsets`]) marks where transients start, and both modes copy them at factor 1
//!   instead of stretching them (Bonada, "Automatic technique in frequency domain for near-lossless
//!   time-scale modification of audio", ICMC 2000; Röbel, "A new approach to transient processing in the
//!   phase vocoder", DAFx 2003). The vocoder analyses every frame whose window holds an onset with the
//!   synthesis hop (so those frames keep one input-to-output offset) and resets the phase of the bins
//!   whose magnitude rose by more than 6 dB to the analysed phase (the others keep their
//!   coherent advance), which rebuilds the transient exactly instead of smearing it over the window; the
//!   input time this costs is won back over the next frames (analysis hop corrected by ⅛ of the drift per
//!   frame, the drift bounded by `N/2`). WSOLA never lets an onset fall into the first (fading-in) half of
//!   a frame it searched, continues the previous frame contiguously while an onset lies in its second
//!   half, and never repeats an onset it already played, so each transient is played once, at full weight.
//!
//! Both modes work in "padded" coordinates: the input is preceded by `N/2` zeros so that analysis frame
//! `m` (centre `m·Hs/factor`) and synthesis frame `m` (centre `m·Hs`) are aligned at time zero.
//!
//! # Real-time safety
//! All buffers and FFT plans are allocated in [`TimeStretcher::new`]; `push`, `pull`, `set_factor` and
//! `finish` only copy and compute. `push` accepts fewer frames than offered when its bounded input buffer
//! is full (pull first); frames are only synthesised when the output buffer has room.

use std::f32::consts::PI;
use std::sync::Arc;

use realfft::num_complex::Complex32;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

use super::onsets::OnsetDetector;

/// Algorithm of a [`TimeStretcher`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StretchMode {
    /// Phase vocoder with identity phase locking (general music, tones).
    Music,
    /// WSOLA (speech: keeps the waveform shape and pitch periods).
    Speech,
}

/// Smallest and largest supported stretch factors.
pub const FACTOR_RANGE: (f64, f64) = (0.5, 2.0);

struct Pv {
    fwd: Arc<dyn RealToComplex<f32>>,
    inv: Arc<dyn ComplexToReal<f32>>,
    frame: Vec<f32>,
    spec: Vec<Complex32>,
    scratch: Vec<Complex32>,
    mag: Vec<f32>,
    phase: Vec<f32>,
    peaks: Vec<usize>,
    /// Per channel: previous analysis phase and previous synthesis phase.
    prev_ana: Vec<Vec<f32>>,
    prev_syn: Vec<Vec<f32>>,
    /// Per channel: previous analysis magnitudes (transient bins are those that rose).
    prev_mag: Vec<Vec<f32>>,
    /// Whether this frame is analysed at the synthesis hop because its window holds an onset.
    locked: bool,
    first: bool,
    last_a: usize,
    // Formant (envelope) warping.
    env: Vec<f32>,
    cep: Vec<f32>,
    cep_spec: Vec<Complex32>,
}

struct Wsola {
    tol: usize,
    prev_start: Option<usize>,
    target: Vec<f32>,
    cand: Vec<f32>,
}

/// Streaming time stretcher (see the module docs).
pub struct TimeStretcher {
    mode: StretchMode,
    channels: usize,
    n: usize,
    hs: usize,
    window: Vec<f32>,
    ola_norm: f32,
    factor: f64,
    envelope_ratio: f32,
    lifter: usize,
    // Input, padded coordinates: inbuf[c][i] is padded sample in_start + i.
    inbuf: Vec<Vec<f32>>,
    in_start: usize,
    in_len: usize,
    // Output accumulator, padded coordinates: outbuf[c][i] is padded output sample out_start + i.
    outbuf: Vec<Vec<f32>>,
    out_start: usize,
    /// Next synthesis frame index and its analysis position (padded frame start, f64).
    m: usize,
    ana_pos: f64,
    /// Actual analysis position of frame `m` (differs from `ana_pos` around transients).
    ana_act: f64,
    /// Transient handling (see the module docs) and its detector.
    transients: bool,
    onsets: OnsetDetector,
    /// Padded output samples before this are final.
    final_end: usize,
    /// Real output frames pulled so far and the limit after `finish`.
    pulled: u64,
    expected: f64,
    limit: Option<u64>,
    finishing: bool,
    pv: Option<Pv>,
    ws: Option<Wsola>,
}

impl std::fmt::Debug for TimeStretcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimeStretcher")
            .field("mode", &self.mode)
            .field("factor", &self.factor)
            .field("window", &self.n)
            .finish_non_exhaustive()
    }
}

fn hann(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n as f64).cos() as f32)
        .collect()
}

#[inline]
fn princarg(x: f32) -> f32 {
    x - 2.0 * PI * ((x + PI) / (2.0 * PI)).floor()
}

impl TimeStretcher {
    /// The default phase-vocoder window for `rate` (about 43 ms: 2048 at 48 kHz).
    pub fn default_window(rate: u32) -> usize {
        let target = f64::from(rate) * 0.0427;
        let mut n = 256;
        while (n as f64) * 1.5 < target {
            n *= 2;
        }
        n
    }

    /// A stretcher for `channels` channels at `rate` Hz. `window` is the phase-vocoder FFT size (music
    /// mode; a power of two ≥ 256 is sensible, see [`TimeStretcher::default_window`]); speech mode uses
    /// 20 ms frames and ignores it. `max_chunk` is the most input a single `push` will take at once.
    pub fn new(mode: StretchMode, channels: usize, rate: u32, window: usize, max_chunk: usize) -> Self {
        let channels = channels.max(1);
        let (n, hs, pv, ws) = match mode {
            StretchMode::Music => {
                let n = window.max(64) & !3;
                let mut planner = RealFftPlanner::<f32>::new();
                let fwd = planner.plan_fft_forward(n);
                let inv = planner.plan_fft_inverse(n);
                let sl = fwd.get_scratch_len().max(inv.get_scratch_len());
                let bins = n / 2 + 1;
                let pv = Pv {
                    fwd,
                    inv,
                    frame: vec![0.0; n],
                    spec: vec![Complex32::default(); bins],
                    scratch: vec![Complex32::default(); sl],
                    mag: vec![0.0; bins],
                    phase: vec![0.0; bins],
                    peaks: Vec::with_capacity(bins),
                    prev_ana: vec![vec![0.0; bins]; channels],
                    prev_syn: vec![vec![0.0; bins]; channels],
                    prev_mag: vec![vec![0.0; bins]; channels],
                    locked: false,
                    first: true,
                    last_a: 0,
                    env: vec![0.0; bins],
                    cep: vec![0.0; n],
                    cep_spec: vec![Complex32::default(); bins],
                };
                (n, n / 4, Some(pv), None)
            }
            StretchMode::Speech => {
                let l = ((f64::from(rate) * 0.02).round() as usize).max(16) & !1;
                let tol = l / 2;
                let ws = Wsola {
                    tol,
                    prev_start: None,
                    target: vec![0.0; l],
                    cand: vec![0.0; l + 2 * tol],
                };
                (l, l / 2, None, Some(ws))
            }
        };
        let window = hann(n);
        // Σ_m w²(t − m·Hs) for the PV (analysis and synthesis window); Σ_m w(t − m·Hs) = 1 for WSOLA.
        let ola_norm = match mode {
            StretchMode::Music => (0..n)
                .step_by(hs)
                .map(|i| window[i] * window[i])
                .sum::<f32>()
                .recip(),
            StretchMode::Speech => 1.0,
        };
        let tol = ws.as_ref().map_or(0, |w| w.tol);
        let in_cap = 2 * n + 4 * tol + 2 * max_chunk + 4 * hs + 16;
        let out_cap = 2 * n + 4 * max_chunk + 8 * hs + 16;
        let mut s = Self {
            mode,
            channels,
            n,
            hs,
            window,
            ola_norm,
            factor: 1.0,
            envelope_ratio: 1.0,
            lifter: ((f64::from(rate) * 0.0015) as usize).clamp(8, n / 4),
            inbuf: vec![vec![0.0; in_cap]; channels],
            in_start: 0,
            in_len: 0,
            outbuf: vec![vec![0.0; out_cap]; channels],
            out_start: 0,
            m: 0,
            ana_pos: 0.0,
            ana_act: 0.0,
            transients: true,
            onsets: OnsetDetector::new(rate, 0),
            final_end: 0,
            pulled: 0,
            expected: 0.0,
            limit: None,
            finishing: false,
            pv,
            ws,
        };
        s.reset();
        s
    }

    /// Clears all state (a new stream starts).
    pub fn reset(&mut self) {
        for b in &mut self.inbuf {
            b.fill(0.0);
        }
        for b in &mut self.outbuf {
            b.fill(0.0);
        }
        // The first n/2 padded input samples are the leading zeros; WSOLA also gets its tolerance.
        let tol = self.ws.as_ref().map_or(0, |w| w.tol);
        self.in_start = 0;
        self.in_len = self.n / 2 + tol;
        self.out_start = 0;
        self.m = 0;
        self.ana_pos = tol as f64;
        self.ana_act = tol as f64;
        self.onsets.reset(self.in_len);
        self.final_end = 0;
        self.pulled = 0;
        self.expected = 0.0;
        self.limit = None;
        self.finishing = false;
        if let Some(pv) = self.pv.as_mut() {
            pv.first = true;
            pv.locked = false;
        }
        if let Some(ws) = self.ws.as_mut() {
            ws.prev_start = None;
        }
    }

    /// The algorithm.
    pub fn mode(&self) -> StretchMode {
        self.mode
    }

    /// The current factor (output duration / input duration).
    pub fn factor(&self) -> f64 {
        self.factor
    }

    /// Sets the stretch factor (clamped to [`FACTOR_RANGE`]); takes effect from the next frame.
    pub fn set_factor(&mut self, factor: f64) {
        self.factor = factor.clamp(FACTOR_RANGE.0, FACTOR_RANGE.1);
    }

    /// Turns transient preservation on or off (on by default; see the module docs). Off, the vocoder
    /// analyses at exactly `m·Hs/factor` and WSOLA searches freely, as [`crate::PitchShifter`] needs for its
    /// constant latency. Takes effect from the next frame.
    pub fn set_transients(&mut self, on: bool) {
        self.transients = on;
    }

    /// Sets the spectral-envelope warp of the phase vocoder: the envelope at output bin `k` is taken from
    /// bin `k·ratio` of the analysis (1 = off). [`crate::PitchShifter`] sets it to the pitch ratio so
    /// formants stay in place after its resampling.
    pub fn set_envelope_ratio(&mut self, ratio: f32) {
        self.envelope_ratio = ratio;
    }

    /// Frame length in samples (the phase-vocoder FFT size, or the WSOLA frame).
    pub fn frame_len(&self) -> usize {
        self.n
    }

    /// Synthesis hop in samples.
    pub fn hop(&self) -> usize {
        self.hs
    }

    /// How far final output lags the input, in input frames, at `factor` (excluding the caller's own
    /// buffering): input up to real time `t` yields final output up to about `factor·(t − L) ` with
    /// `L = N/2 + (N/2 + Hs)/factor` (+ the WSOLA tolerance).
    pub fn latency_at(&self, factor: f64) -> usize {
        let tol = self.ws.as_ref().map_or(0, |w| w.tol) as f64;
        let base = self.n as f64 / 2.0 + tol + (self.n as f64 / 2.0 + self.hs as f64) / factor;
        (base.ceil() as usize) + self.extra_lookahead(factor)
    }

    /// Input beyond the nominal frame end that transient handling reads: the detector's block, plus (when
    /// stretching) the vocoder's drift bound or WSOLA's contiguous continuation.
    fn extra_lookahead(&self, factor: f64) -> usize {
        if !self.transients {
            return 0;
        }
        let ahead = if factor > 1.0 + 1e-9 {
            match self.mode {
                StretchMode::Music => self.max_drift(),
                StretchMode::Speech => self.hs,
            }
        } else {
            0
        };
        self.onsets.block() + ahead
    }

    /// Largest |actual − nominal| analysis position of the vocoder.
    fn max_drift(&self) -> usize {
        self.n / 2
    }

    /// Frames of final output ready to pull.
    pub fn available(&self) -> usize {
        let ready = self.final_end.saturating_sub(self.out_start.max(self.n / 2)) as u64;
        match self.limit {
            Some(l) => ready.min(l.saturating_sub(self.pulled)) as usize,
            None => ready as usize,
        }
    }

    /// Feeds planar input (one slice per channel, equal lengths); returns how many frames were taken
    /// (fewer than offered only when the bounded buffers are full: pull output, then push the rest).
    pub fn push(&mut self, input: &[&[f32]]) -> usize {
        if self.finishing {
            return 0;
        }
        let n = input.first().map_or(0, |c| c.len());
        let mut taken = 0;
        while taken < n {
            self.compact_input();
            let room = self.inbuf[0].len() - self.in_len;
            let take = room.min(n - taken);
            if take == 0 {
                self.run();
                self.compact_input();
                if self.inbuf[0].len() == self.in_len {
                    break;
                }
                continue;
            }
            for c in 0..self.channels {
                let src = input.get(c).or_else(|| input.first()).copied().unwrap_or(&[]);
                let dst = &mut self.inbuf[c][self.in_len..self.in_len + take];
                if src.len() >= taken + take {
                    dst.copy_from_slice(&src[taken..taken + take]);
                } else {
                    dst.fill(0.0);
                }
            }
            self.in_len += take;
            taken += take;
            self.run();
        }
        self.expected += taken as f64 * self.factor;
        taken
    }

    /// Signals the end of the input: the remaining output (up to exactly `round(Σ n_in · factor)` frames
    /// in total) becomes available to [`TimeStretcher::pull`] as it is synthesised.
    pub fn finish(&mut self) {
        self.finishing = true;
        self.limit = Some(self.expected.round() as u64);
        self.run();
    }

    /// Moves up to `out[c].len()` final frames into `out`; returns how many.
    pub fn pull(&mut self, out: &mut [&mut [f32]]) -> usize {
        let want = out.first().map_or(0, |c| c.len());
        let mut done = 0;
        while done < want {
            self.run();
            let avail = self.available();
            if avail == 0 {
                break;
            }
            let take = avail.min(want - done);
            // First real output sample is padded index n/2.
            let begin = self.out_start.max(self.n / 2) - self.out_start;
            for (c, o) in out.iter_mut().enumerate() {
                let src = &self.outbuf[c.min(self.channels - 1)];
                o[done..done + take].copy_from_slice(&src[begin..begin + take]);
            }
            self.consume_output(begin + take);
            self.pulled += take as u64;
            done += take;
        }
        done
    }

    fn consume_output(&mut self, k: usize) {
        for b in &mut self.outbuf {
            b.copy_within(k.., 0);
            let len = b.len();
            b[len - k..].fill(0.0);
        }
        self.out_start += k;
    }

    fn compact_input(&mut self) {
        // Keep what the next frame may read: from its lowest possible start.
        let tol = self.ws.as_ref().map_or(0, |w| w.tol);
        let lowest = self.ana_pos.min(self.ana_act);
        let mut keep_from = (lowest.floor() as usize).saturating_sub(tol + 1);
        if let Some(p) = self.ws.as_ref().and_then(|w| w.prev_start) {
            keep_from = keep_from.min(p + self.hs);
        }
        let drop = keep_from.saturating_sub(self.in_start).min(self.in_len);
        if drop > 0 {
            for b in &mut self.inbuf {
                b.copy_within(drop..self.in_len, 0);
            }
            self.in_start += drop;
            self.in_len -= drop;
        }
    }

    /// Synthesises every frame whose input is present (or, when finishing, until the limit is covered)
    /// and whose output fits.
    fn run(&mut self) {
        loop {
            let tol = self.ws.as_ref().map_or(0, |w| w.tol);
            let a = if self.transients && self.mode == StretchMode::Music {
                self.ana_act.round() as usize
            } else {
                self.ana_pos.round() as usize
            };
            let need_end = a + self.n + tol + self.extra_lookahead(self.factor);
            let have_end = self.in_start + self.in_len;
            let s = self.m * self.hs;
            if let Some(l) = self.limit {
                // Enough when the final output covers the limit.
                if (self.final_end as u64) >= l + (self.n / 2) as u64 {
                    return;
                }
            }
            if need_end > have_end && !self.finishing {
                return;
            }
            if s + self.n > self.out_start + self.outbuf[0].len() {
                return;
            }
            if need_end > have_end {
                // Finishing: extend the input with zeros.
                let extra = need_end - have_end;
                if self.in_len + extra > self.inbuf[0].len() {
                    self.compact_input();
                    if self.in_len + extra > self.inbuf[0].len() {
                        return;
                    }
                }
                for b in &mut self.inbuf {
                    b[self.in_len..self.in_len + extra].fill(0.0);
                }
                self.in_len += extra;
            }
            if self.transients {
                self.onsets.feed(&self.inbuf, self.in_start, self.in_len);
            }
            match self.mode {
                StretchMode::Music => {
                    let locked = self.transients && self.lock_frame(a);
                    if let Some(pv) = self.pv.as_mut() {
                        pv.locked = locked;
                    }
                    self.pv_frame(a, s);
                }
                StretchMode::Speech => self.wsola_frame(a, s),
            }
            self.m += 1;
            let nominal = self.hs as f64 / self.factor;
            self.ana_pos += nominal;
            self.ana_act = if !self.transients {
                self.ana_pos
            } else if self.pv.as_ref().is_some_and(|p| p.locked) {
                self.ana_act + self.hs as f64
            } else {
                // Win back the drift: ⅛ of it per frame, the hop kept within [Hs/4, 3·Hs].
                let drift = self.ana_act - (self.ana_pos - nominal);
                let step = (nominal - drift / 8.0).clamp(self.hs as f64 / 4.0, 3.0 * self.hs as f64);
                self.ana_act + step
            };
            self.final_end = self.m * self.hs;
        }
    }

    /// Whether the vocoder frame at analysis start `a` holds an onset and may be analysed at the
    /// synthesis hop (the drift this adds over the frames still holding it stays within the bound).
    fn lock_frame(&self, a: usize) -> bool {
        let Some(o) = self.onsets.first_in(a, a + self.n) else {
            return false;
        };
        let frames_left = ((o - a) / self.hs + 1) as f64;
        let nominal = self.hs as f64 / self.factor;
        let drift = self.ana_act - self.ana_pos;
        let after = drift + frames_left * (self.hs as f64 - nominal);
        after.abs() <= self.max_drift() as f64
    }

    fn pv_frame(&mut self, a: usize, s: usize) {
        let n = self.n;
        let hs = self.hs as f32;
        let bins = n / 2 + 1;
        let Some(pv) = self.pv.as_mut() else { return };
        // The actual integer hop between this and the previous analysis frame.
        let ha_actual = if pv.first {
            self.hs as f32
        } else {
            (a - pv.last_a).max(1) as f32
        };
        pv.last_a = a;
        let ia = a - self.in_start;
        let os = s - self.out_start;
        for c in 0..self.channels {
            for i in 0..n {
                pv.frame[i] = self.inbuf[c][ia + i] * self.window[i];
            }
            if pv
                .fwd
                .process_with_scratch(&mut pv.frame, &mut pv.spec, &mut pv.scratch)
                .is_err()
            {
                continue;
            }
            for k in 0..bins {
                pv.mag[k] = pv.spec[k].norm();
                pv.phase[k] = pv.spec[k].arg();
            }
            // Peaks: local maxima over ±2 bins.
            pv.peaks.clear();
            let floor = pv.mag.iter().fold(0.0f32, |m, &v| m.max(v)) * 1e-6;
            for k in 0..bins {
                let v = pv.mag[k];
                if v <= floor {
                    continue;
                }
                let lo = k.saturating_sub(2);
                let hi = (k + 2).min(bins - 1);
                if (lo..=hi).all(|j| j == k || pv.mag[j] < v || (pv.mag[j] == v && j > k)) {
                    pv.peaks.push(k);
                }
            }
            {
                let (prev_ana, prev_syn) = (&mut pv.prev_ana[c], &mut pv.prev_syn[c]);
                let prev_mag = &mut pv.prev_mag[c];
                if pv.locked && !pv.first {
                    // Analysis hop = synthesis hop: bins that rose by > 6 dB (the transient) take the
                    // analysed phase, the others advance by the analysed phase difference, which keeps
                    // both on one input-to-output offset.
                    for k in 0..bins {
                        prev_syn[k] = if pv.mag[k] > 2.0 * prev_mag[k] {
                            pv.phase[k]
                        } else {
                            princarg(prev_syn[k] + pv.phase[k] - prev_ana[k])
                        };
                    }
                } else if pv.first || pv.peaks.is_empty() {
                    for k in 0..bins {
                        prev_syn[k] = if pv.first {
                            pv.phase[k]
                        } else {
                            prev_syn[k] + 2.0 * PI * k as f32 * hs / n as f32
                        };
                    }
                } else {
                    // Peak phases advance by their instantaneous frequency; regions lock to their peak.
                    let mut start = 0usize;
                    for (pi, &p) in pv.peaks.iter().enumerate() {
                        let omega_bin = 2.0 * PI * p as f32 / n as f32;
                        let dev = princarg(pv.phase[p] - prev_ana[p] - omega_bin * ha_actual);
                        let omega = omega_bin + dev / ha_actual;
                        let theta_p = prev_syn[p] + omega * hs;
                        let end = match pv.peaks.get(pi + 1) {
                            Some(&q) => {
                                // Boundary at the magnitude minimum between the two peaks.
                                let mut b = p;
                                for j in p..q {
                                    if pv.mag[j] < pv.mag[b] {
                                        b = j;
                                    }
                                }
                                b.max(p + 1)
                            }
                            None => bins,
                        };
                        let rot = theta_p - pv.phase[p];
                        for k in start..end {
                            pv.cep[k] = princarg(pv.phase[k] + rot); // temp store of synthesis phase
                        }
                        start = end;
                    }
                    for k in 0..bins {
                        prev_syn[k] = pv.cep[k];
                    }
                }
                prev_ana.copy_from_slice(&pv.phase);
                prev_mag.copy_from_slice(&pv.mag);
            }
            // Optional envelope warp (formant preservation).
            if (self.envelope_ratio - 1.0).abs() > 1e-6 {
                cepstral_envelope(pv, n, self.lifter);
                let r = self.envelope_ratio;
                for k in 0..bins {
                    let src = k as f32 * r;
                    let i0 = src.floor() as usize;
                    let warped = if i0 + 1 < bins {
                        let f = src - i0 as f32;
                        pv.env[i0] * (1.0 - f) + pv.env[i0 + 1] * f
                    } else {
                        f32::NEG_INFINITY
                    };
                    pv.mag[k] *= (warped - pv.env[k]).exp().min(1e3);
                }
            }
            for k in 0..bins {
                pv.spec[k] = Complex32::from_polar(pv.mag[k], pv.prev_syn[c][k]);
            }
            pv.spec[0].im = 0.0;
            pv.spec[bins - 1].im = 0.0;
            if pv
                .inv
                .process_with_scratch(&mut pv.spec, &mut pv.frame, &mut pv.scratch)
                .is_err()
            {
                continue;
            }
            let g = self.ola_norm / n as f32;
            let out = &mut self.outbuf[c][os..os + n];
            for i in 0..n {
                out[i] += pv.frame[i] * self.window[i] * g;
            }
        }
        pv.first = false;
    }

    fn wsola_frame(&mut self, a_nom: usize, s: usize) {
        let l = self.n;
        let hs = self.hs;
        let Some(ws) = self.ws.as_mut() else { return };
        let tol = ws.tol;
        let in_start = self.in_start;
        // Transients: continue contiguously while the previous frame's second half holds an onset;
        // otherwise search only starts after the onsets already played and before the next onset
        // would fall into the fading-in first half.
        let (mut lo, mut hi) = (0, 2 * tol);
        let mut forced = None;
        if let (true, Some(p)) = (self.transients, ws.prev_start) {
            let first_cand = a_nom - tol;
            if self.onsets.first_in(p + hs, p + l).is_some() {
                forced = Some(p + hs);
            } else {
                let played = self.onsets.last_in(first_cand.min(p), p + hs);
                let next = self.onsets.first_in(p + l, a_nom + tol + l);
                let min_start = played.map_or(first_cand, |e| (e + 1).max(first_cand));
                let max_start = next.map_or(a_nom + tol, |o| (o - hs).min(a_nom + tol));
                if min_start <= max_start {
                    lo = min_start - first_cand;
                    hi = max_start - first_cand;
                } else {
                    forced = Some(match (next, played) {
                        (Some(o), Some(e)) => (o - hs).max(e + 1),
                        (Some(o), None) => o - hs,
                        (None, _) => min_start.min(a_nom + tol + hs),
                    });
                }
            }
        }
        let start = match (forced, ws.prev_start) {
            (Some(f), _) => f.max(in_start),
            (None, None) => a_nom,
            (None, Some(p)) => {
                // Natural continuation of the previous frame, mixed down over channels.
                let t0 = p + hs - in_start;
                let c0 = a_nom - tol - in_start;
                ws.target.fill(0.0);
                ws.cand.fill(0.0);
                for b in &self.inbuf {
                    for i in 0..l {
                        ws.target[i] += b[t0 + i];
                    }
                    for i in 0..l + 2 * tol {
                        ws.cand[i] += b[c0 + i];
                    }
                }
                let best = best_offset(&ws.target, &ws.cand, lo, hi);
                a_nom - tol + best
            }
        };
        ws.prev_start = Some(start);
        let ia = start - in_start;
        let os = s - self.out_start;
        for c in 0..self.channels {
            let (inb, outb) = (&self.inbuf[c], &mut self.outbuf[c]);
            for i in 0..l {
                outb[os + i] += inb[ia + i] * self.window[i];
            }
        }
    }
}

/// Offset `δ ∈ [lo, hi]` maximising the normalised cross-correlation of `target` with
/// `cand[δ..δ+len]`: coarse search on a 4× decimated grid, then ±4 samples at full rate.
fn best_offset(target: &[f32], cand: &[f32], lo: usize, hi: usize) -> usize {
    let l = target.len();
    let score = |d: usize, step: usize| -> f32 {
        let (mut xy, mut yy) = (0.0f32, 1e-20f32);
        let mut i = 0;
        while i < l {
            let y = cand[d + i];
            xy += target[i] * y;
            yy += y * y;
            i += step;
        }
        xy / yy.sqrt()
    };
    let mut best = (lo + hi) / 2;
    let mut best_s = f32::NEG_INFINITY;
    let mut d = lo;
    while d <= hi {
        let s = score(d, 4);
        if s > best_s {
            best_s = s;
            best = d;
        }
        d += 4;
    }
    let (lo, hi) = (best.saturating_sub(4).max(lo), (best + 4).min(hi));
    best_s = f32::NEG_INFINITY;
    for d in lo..=hi {
        let s = score(d, 1);
        if s > best_s {
            best_s = s;
            best = d;
        }
    }
    best
}

/// Smoothed log-magnitude envelope of `pv.mag` by real-cepstrum liftering, into `pv.env` (natural log).
fn cepstral_envelope(pv: &mut Pv, n: usize, lifter: usize) {
    let bins = n / 2 + 1;
    for k in 0..bins {
        pv.cep_spec[k] = Complex32::new((pv.mag[k] + 1e-9).ln(), 0.0);
    }
    if pv
        .inv
        .process_with_scratch(&mut pv.cep_spec, &mut pv.cep, &mut pv.scratch)
        .is_err()
    {
        pv.env.fill(0.0);
        return;
    }
    let scale = 1.0 / n as f32;
    for (i, c) in pv.cep.iter_mut().enumerate() {
        let q = i.min(n - i);
        *c = if q < lifter { *c * scale } else { 0.0 };
    }
    if pv
        .fwd
        .process_with_scratch(&mut pv.cep, &mut pv.cep_spec, &mut pv.scratch)
        .is_err()
    {
        pv.env.fill(0.0);
        return;
    }
    for k in 0..bins {
        pv.env[k] = pv.cep_spec[k].re;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(mode: StretchMode, factor: f64, x: &[f32], chunk: usize) -> Vec<f32> {
        let mut s = TimeStretcher::new(mode, 1, 48_000, 2048, chunk);
        s.set_factor(factor);
        let mut out = Vec::new();
        let mut buf = vec![0.0; 4096];
        for c in x.chunks(chunk) {
            let mut off = 0;
            while off < c.len() {
                off += s.push(&[&c[off..]]);
                loop {
                    let k = s.pull(&mut [&mut buf[..]]);
                    out.extend_from_slice(&buf[..k]);
                    if k == 0 {
                        break;
                    }
                }
            }
        }
        s.finish();
        loop {
            let k = s.pull(&mut [&mut buf[..]]);
            out.extend_from_slice(&buf[..k]);
            if k == 0 {
                break;
            }
        }
        out
    }

    #[test]
    fn exact_lengths_both_modes() {
        let x: Vec<f32> = (0..20_000).map(|i| (i as f32 * 0.05).sin() * 0.5).collect();
        for mode in [StretchMode::Music, StretchMode::Speech] {
            for f in [0.5, 0.8, 1.0, 1.37, 2.0] {
                let y = run(mode, f, &x, 480);
                assert_eq!(y.len(), (20_000.0 * f).round() as usize, "{mode:?} {f}");
            }
        }
    }

    #[test]
    fn unity_music_reconstructs_input() {
        let x: Vec<f32> = (0..16_000).map(|i| (i as f32 * 0.031).sin() * 0.5).collect();
        let y = run(StretchMode::Music, 1.0, &x, 512);
        let err = x[3000..13_000]
            .iter()
            .zip(&y[3000..13_000])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(err < 1e-3, "max error {err}");
    }
}
