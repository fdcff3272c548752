//! Packet-loss concealment for G.722 (16 kHz): pitch repetition with fade-out and decoder state update.
//!
//! # What
//! [`G722Plc`] keeps the last 40 ms of decoded output. When packets are lost it continues the signal by
//! repeating its last pitch period and fades it out; when packets resume it cross-fades back. The
//! decoder ([`crate::G722Decoder`]) re-encodes the concealed signal with its own ADPCM state so that the
//! predictor and scale factors follow the synthetic signal — the "state update" that keeps the first
//! good packets after a loss from producing a burst (the idea of G.722 Appendix III/IV, much simplified:
//! this is not bit-exact with either appendix, which the standard does not require).
//!
//! # How
//! - Pitch: normalised cross-correlation of the last 20 ms against lags 2.5–15 ms (40–240 samples),
//!   coarse search on every second lag and sample, refined at ±1 lag (as G.711 Appendix I does at 8 kHz).
//! - Synthesis: `y[k] = h[N − T + (k mod T)] · g(k)` with gain 1 for the first 10 ms of a loss, then a
//!   linear ramp to 0 at 60 ms; silence afterwards.
//! - Recovery: the first 5 ms of the first good packet are cross-faded linearly from the (still
//!   continuing) synthetic signal to the decoded one.
//!
//! # Real-time safety
//! Fixed arrays; nothing allocates after construction.

use crate::g722_qmf::QmfAnalysis;

const HIST: usize = 640;
const MIN_LAG: usize = 40;
const MAX_LAG: usize = 240;
const CORR: usize = 320;
const FULL_GAIN: usize = 160;
const FADE: usize = 800;
const XFADE: usize = 80;

/// G.722 concealment state (16 kHz mono).
#[derive(Debug, Clone)]
pub struct G722Plc {
    history: [i16; HIST],
    /// Samples concealed in the current loss (0 while packets arrive).
    erased: usize,
    pitch: usize,
    /// Phase in the repeated period.
    phase: usize,
    /// The last pitch period of the history, captured when the loss began.
    period: [i16; MAX_LAG],
}

impl Default for G722Plc {
    fn default() -> Self {
        Self::new()
    }
}

impl G722Plc {
    /// Silent history.
    pub fn new() -> Self {
        Self {
            history: [0; HIST],
            erased: 0,
            pitch: MAX_LAG,
            phase: 0,
            period: [0; MAX_LAG],
        }
    }

    /// Forgets everything.
    pub fn reset(&mut self) {
        *self = Self::new();
    }

    /// Samples concealed in the current loss.
    pub fn erased_samples(&self) -> usize {
        self.erased
    }

    /// The pitch period (samples) used for the current or last loss.
    pub fn pitch(&self) -> usize {
        self.pitch
    }

    fn push_history(&mut self, s: &[i16]) {
        if s.len() >= HIST {
            self.history.copy_from_slice(&s[s.len() - HIST..]);
        } else {
            self.history.copy_within(s.len().., 0);
            self.history[HIST - s.len()..].copy_from_slice(s);
        }
    }

    fn gain(&self, k: usize) -> f32 {
        if k < FULL_GAIN {
            1.0
        } else if k < FULL_GAIN + FADE {
            1.0 - (k - FULL_GAIN) as f32 / FADE as f32
        } else {
            0.0
        }
    }

    /// The next synthetic sample (advances the phase and the erased count).
    #[inline]
    fn next_synthetic(&mut self) -> i16 {
        let t = self.pitch;
        let v = f32::from(self.period[self.phase]);
        let g = self.gain(self.erased);
        self.phase += 1;
        if self.phase == t {
            self.phase = 0;
        }
        self.erased += 1;
        (v * g) as i16
    }

    /// Takes good decoded samples: cross-fades after a loss, then records them.
    pub fn good(&mut self, s: &mut [i16]) {
        if self.erased > 0 {
            let n = XFADE.min(s.len());
            for (i, x) in s[..n].iter_mut().enumerate() {
                let syn = f32::from(self.next_synthetic());
                let w = (i + 1) as f32 / (n + 1) as f32;
                *x = (syn * (1.0 - w) + f32::from(*x) * w) as i16;
            }
            self.erased = 0;
        }
        self.push_history(s);
    }

    /// Fills `out` with concealment and records it as history.
    pub fn conceal(&mut self, out: &mut [i16]) {
        if self.erased == 0 {
            self.pitch = self.find_pitch();
            let t = self.pitch;
            self.period[..t].copy_from_slice(&self.history[HIST - t..]);
            self.phase = 0;
        }
        for o in out.iter_mut() {
            *o = self.next_synthetic();
        }
        // Keep the loss counter non-zero even for an empty block so recovery still cross-fades.
        self.erased = self.erased.max(1);
        self.push_history(out);
    }

    /// A transmit QMF whose delay line holds the last 24 history samples (the concealed signal's
    /// analysis state for the decoder's state update).
    pub fn analysis(&self) -> QmfAnalysis {
        let mut q = QmfAnalysis::new();
        for p in self.history[HIST - 24..].chunks_exact(2) {
            q.process(p[0], p[1]);
        }
        q
    }

    /// Pitch period by normalised cross-correlation (coarse every 2nd lag/sample, then ±1).
    fn find_pitch(&self) -> usize {
        let h = &self.history;
        let end = HIST - CORR;
        let score = |lag: usize, step: usize| -> f32 {
            let mut c = 0.0f32;
            let mut e = 0.0f32;
            let mut i = 0;
            while i < CORR {
                let a = f32::from(h[end + i]);
                let b = f32::from(h[end + i - lag]);
                c += a * b;
                e += b * b;
                i += step;
            }
            c / e.max(1000.0).sqrt()
        };
        let mut best = MAX_LAG;
        let mut best_score = f32::MIN;
        let mut lag = MIN_LAG;
        while lag <= MAX_LAG {
            let s = score(lag, 2);
            if s > best_score {
                best_score = s;
                best = lag;
            }
            lag += 2;
        }
        let coarse = best;
        best_score = f32::MIN;
        for lag in coarse.saturating_sub(1).max(MIN_LAG)..=(coarse + 1).min(MAX_LAG) {
            let s = score(lag, 1);
            if s > best_score {
                best_score = s;
                best = lag;
            }
        }
        best
    }
}
