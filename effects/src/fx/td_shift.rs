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
//! Kaiser-windowed sinc (8 zero crossings) with the cut-off `0.95·min(1, 1/β)` of Nyquist, so shifting
//! up cannot alias, in polyphase form (J. O. Smith, "Digital Audio Resampling Home Page", CCRMA): per
//! ratio a table of 512 + 1 fractional phases × the kernel's taps (padded to a multiple of 8), so each
//! read is one contiguous dot product of the nearest phase's row with the input. Causality: grain `k` reads `x(pₖ + β·u)` at output time `cₖ + u`, at most
//! `T + R + |β − 1|·H ≤ D` after the clock's input time; the search uses input before the clock only
//! (for `β > 1` the compared span is cut there). Stereo shares the grain positions (searched on the channel sum).
//!
//! # Real-time safety
//! Buffers, including two fixed-capacity polyphase tables (the current and the next grain's ratio), are
//! allocated in [`TdShifter::new`]; `process` copies, correlates and interpolates, and refills a table in
//! place when a grain starts at a ratio neither table holds (a ramp of `semitones`).

/// Input history kept (a power of two, in frames) — far more than `D + 2H + T + R` plus a block.
fn ring_len(need: usize) -> usize {
    need.next_power_of_two()
}

/// Fractional-delay phases per input sample of a [`Poly`] table (the read position is rounded to
/// `1/PHASES` of a sample: a time jitter of at most 1/1024 sample, below −55 dB at 8 kHz).
const PHASES: usize = 512;

/// A polyphase read kernel for one ratio: `PHASES + 1` rows of `taps` weights (a multiple of 8, so a
/// read is a contiguous dot product that vectorises). Row `φ` holds the weights of the input frames
/// `⌊p⌋ − half + 1 + j`, `j < taps`, for a read at `p` with `p − ⌊p⌋ = φ / PHASES`.
struct Poly {
    /// The ratio the table is built for (NaN: not built yet).
    beta: f64,
    taps: usize,
    half: usize,
    w: Vec<f32>,
}

/// Whether the CPU runs AVX2 and FMA.
fn avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Sum of `a[i]·b[i]` over equal-length slices whose length is a multiple of 8, in 8 lanes.
#[inline(always)]
fn dot8(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    for (x, y) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    (acc[0] + acc[4]) + (acc[1] + acc[5]) + ((acc[2] + acc[6]) + (acc[3] + acc[7]))
}

/// `(Σ a[i]·b[i], Σ b[i]²)` over equal-length slices, in 8 lanes (the tail summed directly).
#[inline(always)]
fn xcorr(a: &[f32], b: &[f32]) -> (f32, f32) {
    let n = a.len().min(b.len());
    let body = n / 8 * 8;
    let (mut xy, mut yy) = ([0.0f32; 8], [0.0f32; 8]);
    for (x, y) in a[..body].chunks_exact(8).zip(b[..body].chunks_exact(8)) {
        for k in 0..8 {
            xy[k] += x[k] * y[k];
            yy[k] += y[k] * y[k];
        }
    }
    let (mut sxy, mut syy) = (xy.iter().sum::<f32>(), yy.iter().sum::<f32>());
    for (x, y) in a[body..n].iter().zip(&b[body..n]) {
        sxy += x * y;
        syy += y * y;
    }
    (sxy, syy)
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
    /// Two polyphase tables (the current and the next grain may read at different ratios) and which
    /// one each grain uses.
    poly: [Poly; 2],
    cur_poly: usize,
    next_poly: usize,
    ref_buf: Vec<f32>,
    cand_buf: Vec<f32>,
    /// The correlation inputs decimated by 4 (the coarse search).
    ref_dec: Vec<f32>,
    cand_dec: Vec<f32>,
    /// Whether `process` runs the AVX2/FMA build of the render loop (detected at run time).
    avx2: bool,
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
        // Widest kernel: β = 2 (cut-off halved).
        let max_taps = (2 * (reach + 1)).next_multiple_of(8);
        let poly = || Poly {
            beta: f64::NAN,
            taps: 0,
            half: 0,
            w: vec![0.0; (PHASES + 1) * max_taps],
        };
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
            poly: [poly(), poly()],
            cur_poly: 0,
            next_poly: 0,
            ref_buf: vec![0.0; m],
            cand_buf: vec![0.0; m + 2 * tol + 8],
            ref_dec: vec![0.0; m / 4 + 1],
            cand_dec: vec![0.0; (m + 2 * tol + 8) / 4 + 1],
            avx2: avx2_fma(),
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
    #[inline(always)]
    fn mix_into(&self, start: i64, out: &mut [f32]) {
        // The ring is mirrored: any span shorter than its length is contiguous from `start & mask`.
        let s = start as usize & self.mask;
        let n = out.len();
        match self.ring.as_slice() {
            [a] => out.copy_from_slice(&a[s..s + n]),
            [a, b, ..] => {
                for ((o, x), y) in out.iter_mut().zip(&a[s..s + n]).zip(&b[s..s + n]) {
                    *o = 0.5 * (x + y);
                }
            }
            [] => out.fill(0.0),
        }
    }

    /// Places the grain that starts at output time `self.next_start` (centre `next_start + H`).
    #[inline(always)]
    fn place_next(&mut self) {
        let h = self.h as f64;
        let beta = self.beta;
        let nominal = (self.next_start + self.h as u64) as f64 - self.delay as f64;
        self.cur = self.next;
        self.cur_poly = self.next_poly;
        self.next_poly = self.poly_for(beta);
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
        let best = best_lag(
            &rbuf[..m],
            &cbuf[..m + 2 * tol],
            2 * tol,
            &mut self.ref_dec,
            &mut self.cand_dec,
        );
        self.ref_buf = rbuf;
        self.cand_buf = cbuf;
        let frac = p_prev - ref_start as f64;
        let start = (s0 + best as i64) as f64 + frac;
        self.next = (start + beta * h, beta);
    }

    /// The polyphase table for ratio `beta`: the current grain's if it matches, else the other one,
    /// rebuilt when its ratio differs (only when the ratio changes: `(PHASES + 1)·taps` interpolated
    /// table look-ups, about the work of one grain's reads).
    fn poly_for(&mut self, beta: f64) -> usize {
        if self.poly[self.cur_poly].beta == beta {
            return self.cur_poly;
        }
        let k = 1 - self.cur_poly;
        if self.poly[k].beta != beta {
            self.build_poly(k, beta);
        }
        k
    }

    /// Fills table `k` for ratio `beta`: Kaiser-windowed sinc with the cut-off `cutoff·min(1, 1/β)`,
    /// linearly interpolated in the fine `table` (`res` entries per zero crossing), gain included.
    fn build_poly(&mut self, k: usize, beta: f64) {
        let cut = self.cutoff * (1.0 / beta).min(1.0);
        let reach = self.zc as f64 / cut;
        let half = reach.ceil() as usize + 1;
        let taps = (2 * half).next_multiple_of(8);
        let scale = cut * self.res as f64;
        let last = self.table.len() - 2;
        let p = &mut self.poly[k];
        let taps = taps.min(p.w.len() / (PHASES + 1));
        for (phi, row) in p.w.chunks_exact_mut(taps).take(PHASES + 1).enumerate() {
            let f = phi as f64 / PHASES as f64;
            for (j, w) in row.iter_mut().enumerate() {
                // Distance of input frame ⌊p⌋ − half + 1 + j from the read position p = ⌊p⌋ + f.
                let d = (j as f64 - (half - 1) as f64 - f).abs() * scale;
                let i = d as usize;
                *w = if i < last {
                    let fr = (d - i as f64) as f32;
                    (self.table[i] * (1.0 - fr) + self.table[i + 1] * fr) * cut as f32
                } else {
                    0.0
                };
            }
        }
        p.beta = beta;
        p.taps = taps;
        p.half = half;
    }

    /// Band-limited read of channel `c` at absolute input time `pos` with polyphase table `k` (the
    /// nearest of `PHASES` fractional phases; a contiguous slice of the mirrored ring).
    #[inline(always)]
    fn read(&self, c: usize, pos: f64, k: usize) -> f32 {
        let p = &self.poly[k];
        let base = pos.floor();
        let phi = ((pos - base) * PHASES as f64 + 0.5) as usize;
        let start = (base as i64 - p.half as i64 + 1) as usize & self.mask;
        let (Some(seg), Some(row)) = (
            self.ring[c].get(start..start + p.taps),
            p.w.get(phi * p.taps..(phi + 1) * p.taps),
        ) else {
            return 0.0;
        };
        dot8(seg, row)
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
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            // SAFETY: `avx2` is only true when the CPU reported AVX2 and FMA (set in `new`).
            #[allow(unsafe_code)]
            unsafe {
                self.render_avx2(output, n)
            };
            return;
        }
        self.render(output, n);
    }

    /// [`TdShifter::render`] compiled for AVX2 and FMA (8-lane dot products).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn render_avx2(&mut self, output: &mut [&mut [f32]], n: usize) {
        self.render(output, n);
    }

    /// Overlap-adds the two grains into `n` output frames (the input is already in the ring).
    #[inline(always)]
    fn render(&mut self, output: &mut [&mut [f32]], n: usize) {
        let h = self.h as u64;
        for i in 0..n {
            let t = self.t + i as u64;
            if t == self.next_start {
                self.place_next();
                self.next_start += h;
            }
            // t ∈ [start of next grain, + H): next grain at v ∈ [0, H), current at v + H.
            let v = (t + h - self.next_start) as usize;
            let ((pn, bn), (pc, bc)) = (self.next, self.cur);
            let (kn, kc) = (self.next_poly, self.cur_poly);
            let wn = self.window[v];
            let wc = self.window[v + self.h];
            // Offsets from the grain centres: next grain's centre is next_start + H.
            let un = v as f64 - self.h as f64;
            let uc = v as f64;
            for (c, o) in output.iter_mut().enumerate() {
                let ch = c.min(self.channels - 1);
                let a = if wn > 0.0 {
                    self.read(ch, pn + bn * un, kn)
                } else {
                    0.0
                };
                let b = if wc > 0.0 && t >= h {
                    self.read(ch, pc + bc * uc, kc)
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
/// coarse search on a 4× decimated grid (every 4th sample, copied into `tdec`/`cdec` so that each
/// score is a contiguous, vectorised dot product), then ±4 at full rate.
#[inline(always)]
fn best_lag(target: &[f32], cand: &[f32], max: usize, tdec: &mut [f32], cdec: &mut [f32]) -> usize {
    let l = target.len();
    let (nt, nc) = (
        l.div_ceil(4).min(tdec.len()),
        cand.len().div_ceil(4).min(cdec.len()),
    );
    for (d, s) in tdec[..nt].iter_mut().zip(target.iter().step_by(4)) {
        *d = *s;
    }
    for (d, s) in cdec[..nc].iter_mut().zip(cand.iter().step_by(4)) {
        *d = *s;
    }
    let ncc = |(xy, yy): (f32, f32)| xy / (yy + 1e-20).sqrt();
    let (mut best, mut best_s) = (max / 2, f32::NEG_INFINITY);
    let mut d = 0;
    while d <= max {
        let s = ncc(xcorr(&tdec[..nt], &cdec[(d / 4).min(nc)..nc]));
        if s > best_s {
            best_s = s;
            best = d;
        }
        d += 4;
    }
    let (lo, hi) = (best.saturating_sub(4), (best + 4).min(max));
    best_s = f32::NEG_INFINITY;
    for d in lo..=hi {
        let s = ncc(xcorr(target, &cand[d.min(cand.len())..]));
        if s > best_s {
            best_s = s;
            best = d;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::super::pitch_shift::{
        kernel_table_with, CUTOFF, TD_KAISER_BETA, TD_TABLE_RES, TD_ZERO_CROSSINGS,
    };
    use super::*;

    fn shifter() -> TdShifter {
        let table = kernel_table_with(TD_ZERO_CROSSINGS, TD_TABLE_RES, TD_KAISER_BETA);
        TdShifter::new(1, 48_000, 480, table, TD_ZERO_CROSSINGS, TD_TABLE_RES, CUTOFF)
    }

    /// The polyphase read of a 1 kHz sine at fractional positions matches the analytic value (the
    /// kernel's pass band and the 1/1024-sample phase rounding), for ratios that narrow the cut-off.
    #[test]
    fn polyphase_read_matches_the_analytic_sine() {
        let mut s = shifter();
        let w = 2.0 * std::f64::consts::PI * 1000.0 / 48_000.0;
        let x: Vec<f32> = (0..4800).map(|i| (0.5 * (w * i as f64).sin()) as f32).collect();
        let mut out = vec![0.0f32; 480];
        for blk in x.chunks(480) {
            s.process(&[blk], &mut [&mut out[..]]);
        }
        for beta in [0.5, 0.84, 1.0, 1.19, 2.0] {
            s.build_poly(0, beta);
            let mut worst = 0.0f64;
            for i in 0..997 {
                let pos = 2000.0 + i as f64 * 1.37;
                let want = 0.5 * (w * pos).sin();
                worst = worst.max((f64::from(s.read(0, pos, 0)) - want).abs());
            }
            assert!(worst < 1e-3, "β {beta}: worst error {worst:e} against 0.5·sin");
        }
    }

    /// The AVX2/FMA build of the render loop (where the CPU has it) and the portable one agree (to the
    /// rounding of fused multiply-adds) on speech-like input with a ratio ramp.
    #[test]
    fn avx2_and_portable_renders_agree() {
        let (mut a, mut b) = (shifter(), shifter());
        b.avx2 = false;
        let mut seed = 5u32;
        let (mut ya, mut yb) = (vec![0.0f32; 480], vec![0.0f32; 480]);
        let mut worst = 0.0f32;
        for k in 0..60 {
            let x: Vec<f32> = (0..480)
                .map(|i| {
                    seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    let t = (k * 480 + i) as f32;
                    0.4 * (t * 0.031).sin() + 0.05 * ((seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5)
                })
                .collect();
            let beta = 1.0 + 0.01 * k.min(30) as f64;
            a.set_ratio(beta);
            b.set_ratio(beta);
            a.process(&[&x], &mut [&mut ya[..]]);
            b.process(&[&x], &mut [&mut yb[..]]);
            worst = ya.iter().zip(&yb).fold(worst, |m, (p, q)| m.max((p - q).abs()));
        }
        assert!(worst < 1e-4, "AVX2 and portable renders differ by {worst}");
    }

    /// The vectorised coarse + fine search finds a known lag exactly, on and off the coarse grid.
    #[test]
    fn best_lag_finds_the_shift() {
        let mut seed = 11u32;
        let white: Vec<f32> = (0..2008)
            .map(|_| {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5
            })
            .collect();
        // Low-passed (8-sample moving average) like voiced speech, so the 4× coarse grid sees the peak.
        let noise: Vec<f32> = white.windows(8).map(|w| w.iter().sum()).collect();
        let (m, max) = (570, 576);
        let (mut td, mut cd) = (vec![0.0; m / 4 + 1], vec![0.0; (m + max) / 4 + 1]);
        for lag in [0, 3, 101, 287, 576] {
            let target = &noise[500 + lag..500 + lag + m];
            let best = best_lag(target, &noise[500..500 + m + max], max, &mut td, &mut cd);
            assert_eq!(best, lag);
        }
    }
}
