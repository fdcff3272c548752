//! Low-latency time-domain pitch shifting for speech: WSOLA grains read at the pitch ratio.
//!
//! # What
//! [`TdShifter`] shifts the pitch of a stream by a ratio `β ∈ [½, 2]` with a constant latency of
//! `D = H + T + R` frames (hop `H` = 10 ms, search tolerance `T` = 6 ms, interpolation reach `R` at
//! `β = 2`: 16.7 ms at 48 kHz) and about a tenth of the phase vocoder's arithmetic. It keeps the waveform shape of each pitch
//! period (no phasiness), which suits speech; the vocoder of [`super::PitchShifter`]'s music mode is the
//! better choice for polyphonic music.
//!
//! # How
//! The output is an overlap-add of Hann grains of `2H` frames at hop `H` (the windows sum to 1). Grain `k`,
//! centred at output time `cₖ = k·H`, plays the input *resampled by β* around the read position `pₖ`:
//! `gₖ(u) = x(pₖ + β·u)`, `u ∈ [−H, H)` — so every grain carries the pitch `β·f₀` while the grain clock
//! keeps the duration. `pₖ` is chosen WSOLA-style (Verhelst & Roelands, ICASSP 1993) within `±T` of its
//! nominal `cₖ − D` so that the first half of grain `k` best continues what grain `k − 1` plays in the
//! same output span (normalised cross-correlation of the input segments `x[pₖ − βH, pₖ)` and
//! `x[pₖ₋₁, pₖ₋₁ + βH)`, on a 4× decimated grid, then refined at full rate). Reading uses a
//! Kaiser-windowed sinc (8 zero crossings, nearest of 1024 phases per crossing) with the cut-off
//! `0.95·min(1, 1/β)` of Nyquist, so shifting up cannot alias. Causality: grain `k` reads `x(pₖ + β·u)` at output time `cₖ + u`, at most
//! `T + R + |β − 1|·H ≤ D` after the clock's input time; the search uses input before the clock only
//! (for `β > 1` the compared span is cut there). Stereo shares the grain positions (searched on the channel sum).
//!
//! # Real-time safety
//! Buffers are allocated in [`TdShifter::new`]; `process` copies, correlates and interpolates.

/// Input history kept (a power of two, in frames) — far more than `D + 2H + T + R` plus a block.
fn ring_len(need: usize) -> usize {
    need.next_power_of_two()
}

/// Cut-off (fraction of Nyquist), reach (input frames each side) and table step per frame of a read.
#[derive(Debug, Clone, Copy)]
struct Kernel {
    cut: f64,
    reach: f64,
    scale: f32,
}

/// Streaming time-domain pitch shifter (see the module docs).
pub(crate) struct TdShifter {
    channels: usize,
    h: usize,
    tol: usize,
    delay: usize,
    window: Vec<f32>,
    ring: Vec<Vec<f32>>,
    mask: usize,
    /// Absolute frame index of the next input frame (= the output clock).
    t: u64,
    /// Read centre and ratio of the current grain `k` (output centre `k·H`) and of the next one.
    cur: (f64, f64),
    next: (f64, f64),
    /// Output time of the next grain start, and whether a grain has been placed yet.
    next_start: u64,
    started: bool,
    beta: f64,
    table: Vec<f32>,
    zc: usize,
    res: usize,
    cutoff: f64,
    ref_buf: Vec<f32>,
    cand_buf: Vec<f32>,
}

impl TdShifter {
    /// A shifter for `channels` (1 or 2) at `rate` Hz for blocks of at most `max_block` frames, reading
    /// with the sinc `table` (`zc` zero crossings, `res` entries per crossing, cut-off `cutoff`; the
    /// table's last entry must be 0).
    pub(crate) fn new(
        channels: usize,
        rate: u32,
        max_block: usize,
        table: Vec<f32>,
        zc: usize,
        res: usize,
        cutoff: f64,
    ) -> Self {
        let fs = f64::from(rate);
        let h = ((fs * 0.010).round() as usize).max(8);
        let tol = ((fs * 0.006).round() as usize).max(2);
        // Interpolation reach at β = 2 (the cut-off halves, the kernel doubles).
        let reach = (2.0 * zc as f64 / cutoff).ceil() as usize + 1;
        let delay = h + tol + reach + 1;
        let len = ring_len(delay + 4 * h + 2 * tol + 2 * reach + max_block.max(1) + 16);
        let window = (0..2 * h)
            .map(|i| (0.5 - 0.5 * (std::f64::consts::PI * i as f64 / h as f64).cos()) as f32)
            .collect();
        let m = 2 * h + 8;
        Self {
            channels: channels.clamp(1, 2),
            h,
            tol,
            delay,
            window,
            ring: vec![vec![0.0; 2 * len]; channels.clamp(1, 2)],
            mask: len - 1,
            t: 0,
            cur: (0.0, 1.0),
            next: (0.0, 1.0),
            next_start: 0,
            started: false,
            beta: 1.0,
            table,
            zc,
            res,
            cutoff,
            ref_buf: vec![0.0; m],
            cand_buf: vec![0.0; m + 2 * tol + 8],
        }
    }

    /// Latency in frames.
    pub(crate) fn latency(&self) -> usize {
        self.delay
    }

    /// Sets the ratio used by grains that start from now on.
    pub(crate) fn set_ratio(&mut self, beta: f64) {
        self.beta = beta.clamp(0.5, 2.0);
    }

    /// Clears the signal state.
    pub(crate) fn reset(&mut self) {
        for r in &mut self.ring {
            r.fill(0.0);
        }
        self.t = 0;
        self.next_start = 0;
        self.started = false;
    }

    /// Mono mix of input frames `[start, start + out.len())` (absolute indices; not yet written or
    /// overwritten frames read whatever the ring holds, callers stay within the history).
    fn mix_into(&self, start: i64, out: &mut [f32]) {
        let g = 1.0 / self.channels as f32;
        for (i, o) in out.iter_mut().enumerate() {
            let idx = (start + i as i64) as usize & self.mask;
            *o = self.ring.iter().map(|r| r[idx]).sum::<f32>() * g;
        }
    }

    /// Places the grain that starts at output time `self.next_start` (centre `next_start + H`).
    fn place_next(&mut self) {
        let h = self.h as f64;
        let beta = self.beta;
        let nominal = (self.next_start + self.h as u64) as f64 - self.delay as f64;
        self.cur = self.next;
        if !self.started {
            self.next = (nominal, beta);
            self.started = true;
            return;
        }
        // What the current grain plays over the next grain's first half: x[p, p + β·H).
        let (p_prev, b_prev) = self.cur;
        let tol = self.tol;
        let ref_start = p_prev.round() as i64;
        // Only input before the clock counts (for β > 1 the current grain reads up to (β − 1)·H ahead).
        let avail = (self.next_start as i64 - ref_start).max(8) as usize;
        let m = ((b_prev * h).round() as usize)
            .min(avail)
            .clamp(8, self.ref_buf.len());
        let mut rbuf = std::mem::take(&mut self.ref_buf);
        let mut cbuf = std::mem::take(&mut self.cand_buf);
        self.mix_into(ref_start, &mut rbuf[..m]);
        // Candidate first halves x[s, s + m) with s = nominal − β·H + δ, δ ∈ [−T, T].
        let s0 = (nominal - beta * h).round() as i64 - tol as i64;
        self.mix_into(s0, &mut cbuf[..m + 2 * tol]);
        let best = best_lag(&rbuf[..m], &cbuf[..m + 2 * tol], 2 * tol);
        self.ref_buf = rbuf;
        self.cand_buf = cbuf;
        let frac = p_prev - ref_start as f64;
        let start = (s0 + best as i64) as f64 + frac;
        self.next = (start + beta * h, beta);
    }

    /// Band-limited read of channel `c` at absolute input time `pos` for ratio `beta` (nearest of
    /// `res` kernel phases per zero crossing, `f32` arithmetic on a contiguous slice of the mirrored ring).
    #[inline]
    fn read(&self, c: usize, pos: f64, k: &Kernel) -> f32 {
        let Kernel { cut, reach, scale } = *k;
        let lo = (pos - reach).ceil() as i64;
        let taps = ((pos + reach).floor() as i64 - lo + 1).max(0) as usize;
        let start = lo as usize & self.mask;
        let Some(seg) = self.ring[c].get(start..start + taps) else {
            return 0.0;
        };
        let last = self.table.len() - 1;
        let mut u = ((pos - lo as f64) * f64::from(scale)) as f32;
        let mut acc = 0.0f32;
        for &x in seg {
            let ui = ((u.abs() + 0.5) as usize).min(last);
            acc += self.table[ui] * x;
            u -= scale;
        }
        acc * cut as f32
    }

    /// The kernel geometry for ratio `beta` (computed once per grain).
    fn kernel(&self, beta: f64) -> Kernel {
        let cut = self.cutoff * (1.0 / beta).min(1.0);
        Kernel {
            cut,
            reach: self.zc as f64 / cut,
            scale: (cut * self.res as f64) as f32,
        }
    }

    /// Shifts one block (`input[c]`, `output[c]` of equal length ≤ the `max_block` of `new`).
    pub(crate) fn process(&mut self, input: &[&[f32]], output: &mut [&mut [f32]]) {
        let n = output.first().map_or(0, |o| o.len());
        for c in 0..self.channels {
            let src = input.get(c).or_else(|| input.first()).copied().unwrap_or(&[]);
            let (r, len) = (&mut self.ring[c], self.mask + 1);
            for i in 0..n {
                let v = src.get(i).copied().unwrap_or(0.0);
                let idx = (self.t as usize + i) & self.mask;
                // Mirrored: every frame also sits one ring length further, so reads are contiguous.
                r[idx] = v;
                r[idx + len] = v;
            }
        }
        let h = self.h as u64;
        let (mut kn, mut kc) = (self.kernel(self.next.1), self.kernel(self.cur.1));
        for i in 0..n {
            let t = self.t + i as u64;
            if t == self.next_start {
                self.place_next();
                self.next_start += h;
                (kn, kc) = (self.kernel(self.next.1), self.kernel(self.cur.1));
            }
            // t ∈ [start of next grain, + H): next grain at v ∈ [0, H), current at v + H.
            let v = (t + h - self.next_start) as usize;
            let (pn, bn) = self.next;
            let (pc, bc) = self.cur;
            let wn = self.window[v];
            let wc = self.window[v + self.h];
            // Offsets from the grain centres: next grain's centre is next_start + H.
            let un = v as f64 - self.h as f64;
            let uc = v as f64;
            for (c, o) in output.iter_mut().enumerate() {
                let ch = c.min(self.channels - 1);
                let a = if wn > 0.0 {
                    self.read(ch, pn + bn * un, &kn)
                } else {
                    0.0
                };
                let b = if wc > 0.0 && t >= h {
                    self.read(ch, pc + bc * uc, &kc)
                } else {
                    0.0
                };
                o[i] = wn * a + wc * b;
            }
        }
        self.t += n as u64;
    }
}

/// Lag `δ ∈ [0, max]` maximising the normalised cross-correlation of `target` with `cand[δ..δ+len]`:
/// coarse search on a 4× decimated grid, then ±4 at full rate.
fn best_lag(target: &[f32], cand: &[f32], max: usize) -> usize {
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
    let (mut best, mut best_s) = (max / 2, f32::NEG_INFINITY);
    let mut d = 0;
    while d <= max {
        let s = score(d, 4);
        if s > best_s {
            best_s = s;
            best = d;
        }
        d += 4;
    }
    let (lo, hi) = (best.saturating_sub(4), (best + 4).min(max));
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
