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
//!   For a pitch shifter, which needs a fixed input-to-output map, [`TimeStretcher::set_transient_alignment`]
//!   instead moves only the vocoder frames that hold an onset, to where they play it at its nominal
//!   output time, with the same phase reset (the other bins propagate as usual); no drift is left.
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

mod pv;
mod wsola;

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
    /// Whether this frame holds an onset at its aligned position (onset alignment): phases propagate
    /// as usual, then the bins that rose by more than 6 dB take the analysed phase.
    reset: bool,
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
    /// Onset-aligned transients for pitch shifting (see [`TimeStretcher::set_transient_alignment`]):
    /// the look-ahead budget in input frames, `None` when off.
    align: Option<usize>,
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
                    reset: false,
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
            align: None,
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

    /// Sets the stretch factor (clamped to `FACTOR_RANGE`); takes effect from the next frame.
    pub fn set_factor(&mut self, factor: f64) {
        self.factor = factor.clamp(FACTOR_RANGE.0, FACTOR_RANGE.1);
    }

    /// Turns transient preservation on or off (on by default; see the module docs). Off, the vocoder
    /// analyses at exactly `m·Hs/factor` and WSOLA searches freely, as [`crate::PitchShifter`] needs for its
    /// constant latency. Takes effect from the next frame.
    pub fn set_transients(&mut self, on: bool) {
        self.transients = on;
    }

    /// Transients for a pitch shifter (music mode with transients off; `None` turns it off): every
    /// vocoder frame whose window holds an onset `o` is analysed at `s + o − o'` (synthesis start `s`,
    /// `o'` the output time of `o` at exactly `factor`), so all those frames play the onset at `o'`, and
    /// the frames that hold it get the phase reset of the module docs; the other frames stay at their
    /// nominal positions, so the input-to-output map (and a caller's latency) is unchanged away from
    /// onsets. This reads up to `|factor − 1|·N/2` frames ahead of the nominal frame plus the
    /// detector's block; `budget` is how much extra look-ahead the caller can absorb (frames are only
    /// aligned when that fits).
    pub fn set_transient_alignment(&mut self, budget: Option<usize>) {
        self.align = budget;
    }

    /// Largest |aligned − nominal| analysis start at the current factor.
    fn align_reach(&self) -> usize {
        ((self.factor - 1.0).abs() * (self.n / 2) as f64).ceil() as usize + 2
    }

    /// The look-ahead of onset alignment beyond the detector's block, when it is active.
    fn align_ahead(&self) -> Option<usize> {
        if self.mode != StretchMode::Music || self.transients {
            return None;
        }
        let budget = self.align?.checked_sub(self.onsets.block() + 2)?;
        Some(budget.min(self.align_reach()))
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
        if let Some(ahead) = self.align_ahead() {
            return self.onsets.block() + ahead;
        }
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
        let back = self.align_ahead().map_or(0, |_| self.align_reach());
        let mut keep_from = (lowest.floor() as usize).saturating_sub(tol + 1 + back);
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
            let ahead = self.align_ahead();
            if self.transients || ahead.is_some() {
                self.onsets.feed(&self.inbuf, self.in_start, self.in_len);
            }
            match self.mode {
                StretchMode::Music => {
                    let (a, locked, reset) = match ahead {
                        Some(ahead) => {
                            let (a, reset) = self.aligned_frame(a, s, ahead);
                            (a, false, reset)
                        }
                        None => (a, self.transients && self.lock_frame(a), false),
                    };
                    if let Some(pv) = self.pv.as_mut() {
                        pv.locked = locked;
                        pv.reset = reset;
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

    /// Onset alignment (see [`TimeStretcher::set_transient_alignment`]): the analysis start of the
    /// frame with nominal start `a` and synthesis start `s`, and whether it holds the onset (phase reset).
    fn aligned_frame(&self, a: usize, s: usize, ahead: usize) -> (usize, bool) {
        let (n, half, r) = (self.n, (self.n / 2) as f64, self.factor);
        let held = |start: usize, o: usize| start <= o && o < start + n;
        let mut from = a.saturating_sub(self.align_reach());
        while let Some(o) = self.onsets.first_in(from, a + n + ahead) {
            from = o + 1;
            // Padded coordinates: real time t is padded t + N/2 on both sides, output = factor · input.
            let target = r * (o as f64 - half) + half;
            let aligned = (s as f64 + o as f64 - target).round();
            if aligned < self.in_start as f64 {
                continue;
            }
            let aligned = aligned as usize;
            if !held(aligned, o) && !held(a, o) {
                continue;
            }
            // Within the look-ahead, and still moving forward (the phase advance needs a positive hop).
            let forward = self
                .pv
                .as_ref()
                .is_none_or(|p| p.first || aligned >= p.last_a + self.hs / 8);
            if aligned > a + ahead || !forward {
                return (a, false);
            }
            return (aligned, held(aligned, o));
        }
        (a, false)
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
