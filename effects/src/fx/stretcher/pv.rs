//! The phase-vocoder frame of [`TimeStretcher`]: analysis, identity phase locking (Laroche & Dolson
//! 1999), transient phase resets, optional envelope warp, synthesis (see the parent module's docs).

use std::f32::consts::PI;

use realfft::num_complex::Complex32;

use super::{princarg, Pv, TimeStretcher};

impl TimeStretcher {
    /// Analyses the frame starting at padded input `a` and overlap-adds its synthesis at padded output `s`.
    pub(super) fn pv_frame(&mut self, a: usize, s: usize) {
        let n = self.n;
        let hs = self.hs as f32;
        let bins = n / 2 + 1;
        let Some(pv) = self.pv.as_mut() else { return };
        // The actual integer hop between this and the previous analysis frame.
        let ha_actual = if pv.first {
            self.hs as f32
        } else {
            a.saturating_sub(pv.last_a).max(1) as f32
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
                if pv.reset && !pv.first {
                    // Onset alignment: the frame plays the onset where it belongs; the bins that rose
                    // (the transient) are copied as analysed, the others keep their coherent advance.
                    for k in 0..bins {
                        if pv.mag[k] > 2.0 * prev_mag[k] {
                            prev_syn[k] = pv.phase[k];
                        }
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
