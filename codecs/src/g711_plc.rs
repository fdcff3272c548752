//! G.711 Appendix I packet-loss concealment.
//!
//! # What
//! [`G711Plc`] hides lost 8 kHz frames by repeating the last pitch period(s) of the decoded history, as
//! ITU-T G.711 Appendix I (1999) specifies, bit-exact with the G.191 STL reference (`lowcfe.c` built with
//! `USEDOUBLES`, the build the ITU reference outputs `f2_10*.raw` come from) when the stream is processed in
//! 10 ms (80-sample) frames.
//!
//! # How
//! G.711 App. I §I.2: the output is delayed by 3.75 ms (30 samples) so that the start of an erasure can be
//! smoothed. At the first lost frame the pitch (40–120 samples, 5–15 ms) is found by normalised
//! cross-correlation of the last 20 ms against the history (a 2:1 decimated coarse search, then a fine
//! search around the best lag); one period is repeated with a quarter-period overlap-add. From the second
//! lost 10 ms the buffer grows to two, then three periods; the gain falls 20 % per 10 ms from the second
//! lost frame and the output is silent after 60 ms. The first good frame after a loss is cross-faded with
//! the synthetic continuation over 4 ms more per lost frame (at most 10 ms).
//!
//! Blocks that are not a multiple of 80 samples are processed in chunks of at most 80 with the same
//! algorithm (each chunk counts as one frame for the attenuation); only 10 ms multiples are covered by
//! the ITU test vectors.
//!
//! # Real-time safety
//! All buffers are fixed arrays inside the struct; nothing allocates after construction.

const PITCH_MIN: usize = 40;
const PITCH_MAX: usize = 120;
const PITCHDIFF: usize = PITCH_MAX - PITCH_MIN;
const POVERLAPMAX: usize = PITCH_MAX >> 2;
const HISTORYLEN: usize = PITCH_MAX * 3 + POVERLAPMAX;
const NDEC: usize = 2;
const CORRLEN: usize = 160;
const CORRBUFLEN: usize = CORRLEN + PITCH_MAX;
const CORRMINPOWER: f64 = 250.0;
const EOVERLAPINCR: usize = 32;
const FRAMESZ: usize = 80;
const ATTENFAC: f64 = 0.2;
const ATTENINCR: f64 = ATTENFAC / FRAMESZ as f64;

/// G.711 Appendix I concealment state for one 8 kHz mono stream.
#[derive(Debug, Clone)]
pub struct G711Plc {
    erasecnt: u32,
    poverlap: usize,
    poffset: usize,
    pitch: usize,
    pitchblen: usize,
    /// Index of the first sample of the pitch buffer in `pitchbuf` (its end is always `HISTORYLEN`).
    pitchbufstart: usize,
    pitchbuf: [f64; HISTORYLEN],
    lastq: [f64; POVERLAPMAX],
    history: [i16; HISTORYLEN],
}

impl Default for G711Plc {
    fn default() -> Self {
        Self::new()
    }
}

impl G711Plc {
    /// Output delay in samples (3.75 ms at 8 kHz).
    pub const DELAY: usize = POVERLAPMAX;

    /// Largest block processed in one step (10 ms); longer blocks are split.
    pub const FRAME: usize = FRAMESZ;

    /// A concealer with silent history.
    pub fn new() -> Self {
        Self {
            erasecnt: 0,
            poverlap: 0,
            poffset: 0,
            pitch: 0,
            pitchblen: 0,
            pitchbufstart: HISTORYLEN,
            pitchbuf: [0.0; HISTORYLEN],
            lastq: [0.0; POVERLAPMAX],
            history: [0; HISTORYLEN],
        }
    }

    /// Forgets all history.
    pub fn reset(&mut self) {
        *self = Self::new();
    }

    /// Number of consecutive concealed frames so far (0 while packets arrive).
    pub fn erased_frames(&self) -> u32 {
        self.erasecnt
    }

    /// Adds good decoded samples to the history; replaces them in place with the delayed output.
    pub fn good(&mut self, samples: &mut [i16]) {
        for chunk in samples.chunks_mut(FRAMESZ) {
            self.add_to_history(chunk);
        }
    }

    /// Writes concealment for lost samples into `out` (delayed output, like [`G711Plc::good`]).
    pub fn conceal(&mut self, out: &mut [i16]) {
        for chunk in out.chunks_mut(FRAMESZ) {
            self.dofe(chunk);
        }
    }

    fn getfespeech(&mut self, out: &mut [i16]) {
        let mut pos = 0;
        while pos < out.len() {
            let cnt = (self.pitchblen - self.poffset).min(out.len() - pos);
            let src = self.pitchbufstart + self.poffset;
            for (o, &f) in out[pos..pos + cnt].iter_mut().zip(&self.pitchbuf[src..src + cnt]) {
                *o = f as i16;
            }
            self.poffset += cnt;
            if self.poffset == self.pitchblen {
                self.poffset = 0;
            }
            pos += cnt;
        }
    }

    fn scalespeech(&self, out: &mut [i16]) {
        let mut g = 1.0f64 - (self.erasecnt - 1) as f64 * ATTENFAC;
        for o in out.iter_mut() {
            *o = (f64::from(*o) * g) as i16;
            g -= ATTENINCR;
        }
    }

    /// Overlap-adds `lastq` with the `poverlap` samples before the pitch buffer start, into the last
    /// `poverlap` samples of the pitch buffer (STL `overlapadd(lastq, start - pov, end - pov, pov)`).
    fn ola_pitchbuf(&mut self) {
        let cnt = self.poverlap;
        if cnt == 0 {
            return;
        }
        let r0 = self.pitchbufstart - cnt;
        let o0 = HISTORYLEN - cnt;
        let incr = 1.0f64 / cnt as f64;
        let mut lw = 1.0f64 - incr;
        let mut rw = incr;
        for i in 0..cnt {
            let t = (lw * self.lastq[i] + rw * self.pitchbuf[r0 + i]).clamp(-32768.0, 32767.0);
            self.pitchbuf[o0 + i] = t;
            lw -= incr;
            rw += incr;
        }
    }

    fn dofe(&mut self, out: &mut [i16]) {
        if self.erasecnt == 0 {
            for (p, &h) in self.pitchbuf.iter_mut().zip(&self.history) {
                *p = f64::from(h);
            }
            self.pitch = self.findpitch();
            self.poverlap = self.pitch >> 2;
            let pov = self.poverlap;
            self.lastq[..pov].copy_from_slice(&self.pitchbuf[HISTORYLEN - pov..]);
            self.poffset = 0;
            self.pitchblen = self.pitch;
            self.pitchbufstart = HISTORYLEN - self.pitchblen;
            self.ola_pitchbuf();
            for i in HISTORYLEN - pov..HISTORYLEN {
                self.history[i] = self.pitchbuf[i] as i16;
            }
            self.getfespeech(out);
        } else if self.erasecnt == 1 || self.erasecnt == 2 {
            let mut tmp = [0i16; POVERLAPMAX];
            let pov = self.poverlap;
            let saveoffset = self.poffset;
            self.getfespeech(&mut tmp[..pov]);
            self.poffset = saveoffset;
            while self.poffset > self.pitch {
                self.poffset -= self.pitch;
            }
            self.pitchblen += self.pitch;
            self.pitchbufstart = HISTORYLEN - self.pitchblen;
            self.ola_pitchbuf();
            self.getfespeech(out);
            let cnt = pov.min(out.len());
            if cnt > 0 {
                let incr = 1.0f64 / pov as f64;
                let mut lw = 1.0f64 - incr;
                let mut rw = incr;
                for i in 0..cnt {
                    let t = (lw * f64::from(tmp[i]) + rw * f64::from(out[i])).clamp(-32768.0, 32767.0);
                    out[i] = t as i16;
                    lw -= incr;
                    rw += incr;
                }
            }
            self.scalespeech(out);
        } else if self.erasecnt > 5 {
            out.fill(0);
        } else {
            self.getfespeech(out);
            self.scalespeech(out);
        }
        self.erasecnt = self.erasecnt.saturating_add(1);
        self.savespeech(out);
    }

    /// Shifts `s` into the history and replaces it with the output delayed by `POVERLAPMAX`.
    fn savespeech(&mut self, s: &mut [i16]) {
        let n = s.len();
        self.history.copy_within(n.., 0);
        self.history[HISTORYLEN - n..].copy_from_slice(s);
        let start = HISTORYLEN - n - POVERLAPMAX;
        s.copy_from_slice(&self.history[start..start + n]);
    }

    fn add_to_history(&mut self, s: &mut [i16]) {
        if self.erasecnt != 0 {
            let mut overlapbuf = [0i16; FRAMESZ];
            let olen = (self.poverlap + (self.erasecnt as usize - 1).min(FRAMESZ) * EOVERLAPINCR)
                .min(FRAMESZ)
                .min(s.len());
            self.getfespeech(&mut overlapbuf[..olen]);
            self.overlapaddatend(s, &overlapbuf[..olen]);
            self.erasecnt = 0;
        }
        self.savespeech(s);
    }

    fn overlapaddatend(&self, s: &mut [i16], f: &[i16]) {
        let cnt = f.len();
        if cnt == 0 {
            return;
        }
        let incr = 1.0f64 / cnt as f64;
        let mut gain = 1.0f64 - (self.erasecnt - 1) as f64 * ATTENFAC;
        if gain < 0.0 {
            gain = 0.0;
        }
        let incrg = incr * gain;
        let mut lw = (1.0f64 - incr) * gain;
        let mut rw = incr;
        for i in 0..cnt {
            let t = (lw * f64::from(f[i]) + rw * f64::from(s[i])).clamp(-32768.0, 32767.0);
            s[i] = t as i16;
            lw -= incrg;
            rw += incr;
        }
    }

    /// Pitch estimate in samples (STL `findpitch`): normalised cross-correlation of the last 20 ms.
    fn findpitch(&self) -> usize {
        let pb = &self.pitchbuf;
        let l = HISTORYLEN - CORRLEN;
        let r = HISTORYLEN - CORRBUFLEN;
        let norm = |corr: f64, energy: f64| corr / energy.max(CORRMINPOWER).sqrt();
        // Coarse search, 2:1 decimated.
        let mut rp = r;
        let mut energy = 0.0f64;
        let mut corr = 0.0f64;
        for i in (0..CORRLEN).step_by(NDEC) {
            energy += pb[rp + i] * pb[rp + i];
            corr += pb[rp + i] * pb[l + i];
        }
        let mut bestcorr = norm(corr, energy);
        let mut bestmatch = 0;
        let mut j = NDEC;
        while j <= PITCHDIFF {
            energy -= pb[rp] * pb[rp];
            energy += pb[rp + CORRLEN] * pb[rp + CORRLEN];
            rp += NDEC;
            let mut corr = 0.0f64;
            for i in (0..CORRLEN).step_by(NDEC) {
                corr += pb[rp + i] * pb[l + i];
            }
            let c = norm(corr, energy);
            if c >= bestcorr {
                bestcorr = c;
                bestmatch = j;
            }
            j += NDEC;
        }
        // Fine search around the coarse optimum.
        let j0 = bestmatch.saturating_sub(NDEC - 1);
        let k = (bestmatch + (NDEC - 1)).min(PITCHDIFF);
        let mut rp = r + j0;
        let mut energy = 0.0f64;
        let mut corr = 0.0f64;
        for i in 0..CORRLEN {
            energy += pb[rp + i] * pb[rp + i];
            corr += pb[rp + i] * pb[l + i];
        }
        let mut bestcorr = norm(corr, energy);
        let mut bestmatch = j0;
        for j in j0 + 1..=k {
            energy -= pb[rp] * pb[rp];
            energy += pb[rp + CORRLEN] * pb[rp + CORRLEN];
            rp += 1;
            let mut corr = 0.0f64;
            for i in 0..CORRLEN {
                corr += pb[rp + i] * pb[l + i];
            }
            let c = norm(corr, energy);
            if c > bestcorr {
                bestcorr = c;
                bestmatch = j;
            }
        }
        PITCH_MAX - bestmatch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_in_silence_out() {
        let mut plc = G711Plc::new();
        let mut buf = [0i16; 160];
        plc.good(&mut buf);
        plc.conceal(&mut buf);
        assert!(buf.iter().all(|&s| s == 0));
    }

    #[test]
    fn conceals_a_periodic_signal_with_its_period_then_fades_to_silence() {
        let mut plc = G711Plc::new();
        // 100-sample period (80 Hz) square-ish wave.
        let sig: Vec<i16> = (0..800)
            .map(|i| if (i / 50) % 2 == 0 { 8000 } else { -8000 })
            .collect();
        let mut s = sig.clone();
        plc.good(&mut s);
        let mut lost = [0i16; 80];
        plc.conceal(&mut lost);
        assert_eq!(plc.pitch, 100);
        assert!(lost.iter().any(|&x| x.abs() > 4000));
        for _ in 0..6 {
            plc.conceal(&mut lost);
        }
        // After 60 ms of loss the output (delayed by 30 samples) is silent.
        plc.conceal(&mut lost);
        assert!(lost[POVERLAPMAX..].iter().all(|&x| x == 0));
    }

    #[test]
    fn odd_block_sizes_never_panic() {
        let mut plc = G711Plc::new();
        for n in [1usize, 7, 29, 30, 31, 79, 81, 161, 400] {
            let mut b = vec![1000i16; n];
            plc.good(&mut b);
            plc.conceal(&mut b);
            plc.conceal(&mut b);
            plc.good(&mut b);
        }
    }
}
