//! The WSOLA frame of [`TimeStretcher`] (Verhelst & Roelands, ICASSP 1993; see the parent module's
//! docs): the search for the best-continuing analysis frame, with transient constraints.

use super::TimeStretcher;

impl TimeStretcher {
    /// Places the WSOLA frame of nominal analysis start `a_nom` at padded output `s`.
    pub(super) fn wsola_frame(&mut self, a_nom: usize, s: usize) {
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
