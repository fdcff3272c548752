//! Delay adaptation of the jitter buffer: the target delay (continuous, or phase-aligned on the frame grid)
//! and the time stretching that moves the playout delay to it.
//!
//! # What
//! The part of [`JitterBuffer`] that decides *when* packets play: the target after every packet, and the
//! accelerate / expand decision after every decoded packet.
//!
//! # How
//! The rules are in the documentation of the parent module (`jitter`, "How"): the continuous target
//! `q + max(frame · max((frame / q)², 0.3), 0.07 q)`, the phase-aligned target on the grid of frame
//! boundaries with the decode phase trimmed toward zero, and the start-up catch-up.
//!
//! # Real-time safety
//! Arithmetic on preallocated state and in-place time stretching (`Tsm`); no allocation, lock or system
//! call.

use tutti_codecs::Decoder;

use super::{JitterBuffer, PlayoutKind, SlotKind};

/// Packets after the start of a stream during which the delay may grow by several pitch periods per packet.
const STARTUP_PACKETS: u64 = 250;

impl JitterBuffer {
    pub(super) fn update_target(&mut self) {
        let q = self.est.quantile_ms().unwrap_or(0.0);
        let lo = f64::from(self.cfg.min_delay_ms);
        let hi = f64::from(self.cfg.max_delay_ms);
        // The margin covers the decode phase (a packet is decoded up to one frame before it plays): a whole
        // frame while the jitter quantile is within one frame, then shrinking as (frame / quantile)², down
        // to `margin_frames`, where the quantile itself protects.
        let frame = f64::from(self.cfg.frame_ms);
        let share = if q > frame {
            (frame / q).powi(2).max(self.cfg.margin_frames)
        } else {
            1.0
        };
        self.min_transit_us = self.est.min_transit_us().unwrap_or(0);
        self.cont_target_ms = (q + (share * frame).max(self.cfg.margin_share * q)).clamp(lo, hi);
        self.target_ms = self.cont_target_ms;
        // Phase-aligned alternative: decode at a frame boundary whose slack covers the quantile itself.
        // A whole frame of concealment per miss weighs most at small jitter: the aligned margin shrinks as
        // (frame / q)² beyond one frame, like the continuous one, and is at most 40 % of the quantile (no
        // jitter, nothing to cover).
        let margin = (self.cfg.align_margin_frames * frame).min(0.4 * q);
        let x = q + margin * (frame / q.max(frame)).powi(2);
        let Some(level) = self.aligned_level(x.clamp(lo, hi)) else {
            self.aligned = false;
            return;
        };
        let e_star = (level - self.min_transit_us) as f64 / 1000.0;
        let stay = if self.aligned {
            f64::from(self.cfg.hysteresis_ms)
        } else {
            0.0
        };
        self.aligned = e_star <= self.cont_target_ms + stay;
        if self.aligned {
            self.target_ms = e_star;
        }
    }

    /// The aligned level (`decode time − ts`, µs) for slack quantile `q_ms`, or `None` when phase alignment
    /// does not apply (off, phase unknown, packets not a whole number of frames, or pops of part of a
    /// frame). The level is the lowest frame boundary of the stream's phase whose slack
    /// `level − min transit` covers `q_ms`; the current level is kept while its slack is within
    /// [q − 2 ms, q + frame + hysteresis).
    fn aligned_level(&mut self, q_ms: f64) -> Option<i64> {
        let pkt = self.ts_to_samples(self.pkt_dur_ts);
        if !self.cfg.phase_align || !self.whole_pops || pkt == 0 || !pkt.is_multiple_of(self.frame) {
            self.align_level_us = None;
            return None;
        }
        let p = self.phase_ref_us?;
        let frame_us = i64::from(self.cfg.frame_ms) * 1000;
        let want = (q_ms * 1000.0) as i64 + self.min_transit_us;
        // The previous level, moved to the current phase (sender clock skew drifts it).
        let kept = self
            .align_level_us
            .map(|l| p + frame_us * (l - p + frame_us / 2).div_euclid(frame_us));
        let keep_hi = frame_us + i64::from(self.cfg.hysteresis_ms) * 1000;
        let level = match kept {
            Some(l) if l >= want - 2000 && l - want < keep_hi => l,
            _ => p + frame_us * (want - p + frame_us - 1).div_euclid(frame_us),
        };
        self.align_level_us = Some(level);
        Some(level)
    }

    pub(super) fn decode_head(&mut self, now_us: i64, dec: &mut dyn Decoder) -> PlayoutKind {
        let (n, d_ms) = self.decode_one(now_us, dec);
        if n == 0 {
            return PlayoutKind::Concealed;
        }
        self.last_delay_ms = d_ms;
        if self.aligned {
            return self.stretch_aligned(now_us, dec);
        }
        self.stretch(now_us, d_ms, dec)
    }

    /// Aligned playout: the decode slack `E` of the packet just decoded should equal the target (a frame
    /// boundary) and its decode phase should be (nearly) zero. A slack a frame too high or low moves the
    /// stream by accelerate / expand; a non-zero phase at the right slack is trimmed by an accelerate of at
    /// most the phase, which keeps the next packet's decode in the same output frame.
    fn stretch_aligned(&mut self, now_us: i64, dec: &mut dyn Decoder) -> PlayoutKind {
        let half = f64::from(self.cfg.frame_ms) / 2.0;
        let e = self.last_slack_ms;
        let t = self.target_ms;
        if e > t + half || e < t - half {
            // Move by whole pitch periods; `stretch` compares the delay of a zero-phase decode.
            return self.stretch(now_us, e, dec);
        }
        let u = self.last_phase;
        if u < self.tsm.min_lag() {
            return PlayoutKind::Normal;
        }
        // A failed decode only leaves less to trim: the bounded accelerate below copes with what is there.
        let _ = self.ensure_decoded_ahead(now_us, dec);
        let len = self.sync_len;
        let r = self
            .tsm
            .accelerate_at_most(&mut self.sync[..len * self.ch], self.sync_pos, len, false, u);
        if r.samples > 0 {
            self.sync_len -= r.samples;
            self.stats.removed_samples_for_acceleration += r.samples as u64;
            self.stats.accelerate_events += 1;
            return PlayoutKind::Accelerated;
        }
        PlayoutKind::Normal
    }

    /// Decodes the following packets while fewer unplayed samples than an accelerate needs are buffered and
    /// the next packet is there, in sequence. Returns false when a decode produced no samples.
    fn ensure_decoded_ahead(&mut self, now_us: i64, dec: &mut dyn Decoder) -> bool {
        while self.unplayed() < self.tsm.accelerate_needs() {
            let Some(&next) = self.order.front() else { break };
            let s = self.slots[next];
            let contiguous = s.kind == SlotKind::Audio
                && Some(s.seq) == self.decoded_seq.map(|d| d + 1)
                && s.ts == self.next_ts;
            if !contiguous || self.room() < self.ts_to_samples(self.pkt_dur_ts) + self.tsm.max_lag() {
                break;
            }
            if self.decode_one(now_us, dec).0 == 0 {
                return false;
            }
        }
        true
    }

    /// Accelerates or expands when the playout delay is outside the dead band around the target.
    fn stretch(&mut self, now_us: i64, d_ms: f64, dec: &mut dyn Decoder) -> PlayoutKind {
        let h = f64::from(self.cfg.hysteresis_ms);
        let t = self.target_ms;
        if d_ms > t + h {
            // Make sure two pitch periods are decoded ahead of the play point.
            if !self.ensure_decoded_ahead(now_us, dec) {
                return PlayoutKind::Concealed;
            }
            let force = d_ms > t + 4.0 * h.max(10.0);
            let len = self.sync_len;
            let r = self
                .tsm
                .accelerate(&mut self.sync[..len * self.ch], self.sync_pos, len, force);
            if r.samples > 0 {
                self.sync_len -= r.samples;
                self.stats.removed_samples_for_acceleration += r.samples as u64;
                self.stats.accelerate_events += 1;
                return PlayoutKind::Accelerated;
            }
        } else if d_ms < t - h {
            let force = d_ms < f64::from(self.cfg.frame_ms);
            // Far below the target (start-up, a jump of the jitter) several periods go in at once.
            let deficit = t - d_ms;
            let mut added_ms = 0.0;
            let mut kind = PlayoutKind::Normal;
            let startup = self.est.updates() < STARTUP_PACKETS;
            let max_expands = if startup {
                self.cfg.max_expands_per_packet.max(1)
            } else {
                1
            };
            for _ in 0..max_expands {
                let len = self.sync_len;
                if self.room() < self.tsm.max_lag()
                    || (kind != PlayoutKind::Normal && added_ms + h >= deficit)
                {
                    break;
                }
                let r = self.tsm.expand(&mut self.sync, self.sync_pos, len, force);
                if r.samples == 0 {
                    break;
                }
                self.sync_len += r.samples;
                self.stats.inserted_samples_for_deceleration += r.samples as u64;
                self.stats.expand_events += 1;
                added_ms += r.samples as f64 * 1000.0 / f64::from(self.cfg.audio_rate);
                kind = PlayoutKind::Expanded;
                if deficit < f64::from(self.cfg.frame_ms) {
                    break;
                }
            }
            return kind;
        }
        PlayoutKind::Normal
    }
}
