//! Sender-side rate adaptation of an Opus leg from RTCP feedback: TMMBR/TMMBN, REMB and report loss.
//!
//! # What
//! [`RateController`] is sans-IO: the caller feeds it what its [`RtcpSession`](crate::RtcpSession)
//! received (TMMBR entries for our SSRC, REMBs, report blocks about our stream), each with the time in
//! µs, and calls [`RateController::poll`] before encoding to get a [`RateDecision`]: the encoder
//! bitrate (clamped to `[min, max]`, e.g. `max` from the SDP's `maxaveragebitrate`), whether Opus
//! in-band FEC is on and the expected loss % to configure. After a TMMBR it offers the TMMBN to send
//! ([`RateController::tmmbn`]).
//!
//! # How
//! * TMMBR (RFC 5104 §3.5.4): one tuple per owner (requester); the bounding set is the lower envelope of
//!   the lines `MxTBR_i − 8 · overhead_i · packet_rate` over packet rates ≥ 0 (a tuple is kept when it
//!   is the lowest at packet rate 0, at an intersection with another tuple, or as the rate grows without
//!   bound). Its value at our packet rate, `min_i(MxTBR_i − 8 · overhead_i · pr)`, limits the
//!   payload bitrate. Every TMMBR is answered with a TMMBN listing the bounding set (§4.2.2).
//! * REMB (draft-alvestrand-rmcat-remb): the latest estimate that lists our SSRC, minus our own
//!   per-packet overhead at our packet rate, limits the bitrate until it is `remb_timeout_us` old.
//! * Report loss (draft-ietf-rmcat-gcc-02 §6, the loss-based controller): a report with fraction lost
//!   `p > 10 %` caps the rate at `rate · (1 − p/2)`; `2 % ≤ p ≤ 10 %` holds it; `p < 2 %` lifts the cap.
//! * No flapping: a lower request takes effect at once; a higher one only after `hold_us` without a
//!   decrease, then at `ramp_per_s` (+8 %/s: `rate · 1.08^Δt`) up to the request, and not while the
//!   reported interarrival jitter exceeds `jitter_hold_ms`.
//! * FEC (RFC 7587 §3.3, Opus LBRR): an exponentially smoothed loss (weight 1/2 on a rise, 1/4 on a
//!   fall, per report) switches FEC on at `fec_on_loss` and off below `fec_off_loss` (hysteresis); the
//!   expected loss % is the smoothed loss rounded up.
//!
//! # Real-time safety
//! No allocation after construction; every method is O(1) or O(owners³) with at most
//! [`MAX_TMMBR_OWNERS`] owners. Not on the audio thread (it belongs next to the RTCP handling).

use crate::rtcp_feedback::TmmbItem;
use crate::rtcp_packet::ReportBlock;
use crate::rtcp_session::RtcpEvent;

/// Most TMMBR owners tracked per sender (the oldest is replaced beyond this).
pub const MAX_TMMBR_OWNERS: usize = 8;

/// Opus bitrate limits (RFC 7587 §6.1: `maxaveragebitrate` 6000–510000).
const OPUS_MIN_BPS: u32 = 6_000;
const OPUS_MAX_BPS: u32 = 510_000;

/// Settings of a [`RateController`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateConfig {
    /// Lowest target bitrate, bit/s.
    pub min_bps: u32,
    /// Highest target bitrate, bit/s (the SDP's `maxaveragebitrate` or local configuration).
    pub max_bps: u32,
    /// Target at start, bit/s (clamped to `[min_bps, max_bps]`).
    pub start_bps: u32,
    /// Packets per second we send (1000 / ptime), to turn per-packet overhead into bit/s.
    pub packet_rate: f64,
    /// RTP clock rate of our stream (48000 for Opus), to read report-block jitter.
    pub clock_rate: u32,
    /// Our per-packet overhead in bytes assumed for REMB (IPv4 20 + UDP 8 + RTP 12 = 40).
    pub overhead_bytes: u16,
    /// Relative increase per second while ramping up (0.08 = +8 %/s).
    pub ramp_per_s: f64,
    /// No increase for this long after a decrease, µs.
    pub hold_us: u64,
    /// A REMB older than this no longer limits, µs.
    pub remb_timeout_us: u64,
    /// Smoothed loss (0–1) at which FEC switches on.
    pub fec_on_loss: f64,
    /// Smoothed loss (0–1) below which FEC switches off again.
    pub fec_off_loss: f64,
    /// No increase while the reported interarrival jitter exceeds this, ms.
    pub jitter_hold_ms: f64,
}

impl RateConfig {
    /// Limits `[min_bps, max_bps]` starting at `max_bps`, 50 packets/s (20 ms), +8 %/s after a 2 s
    /// hold, REMB timeout 10 s, FEC on at 2 % and off below 1 % smoothed loss, jitter hold at 50 ms.
    pub fn new(min_bps: u32, max_bps: u32) -> Self {
        let max_bps = max_bps.max(min_bps);
        Self {
            min_bps,
            max_bps,
            start_bps: max_bps,
            packet_rate: 50.0,
            clock_rate: 48_000,
            overhead_bytes: 40,
            ramp_per_s: 0.08,
            hold_us: 2_000_000,
            remb_timeout_us: 10_000_000,
            fec_on_loss: 0.02,
            fec_off_loss: 0.01,
            jitter_hold_ms: 50.0,
        }
    }

    /// For an Opus leg: `max_bps` from the fmtp `maxaveragebitrate` (RFC 7587 §6.1, clamped to
    /// 6000–510000) or else `default_max_bps`, minimum 6000, `ptime_ms` per packet.
    pub fn opus(fmtp: Option<&str>, default_max_bps: u32, ptime_ms: u32) -> Self {
        let from_fmtp = fmtp.and_then(|f| {
            f.split(';').find_map(|kv| {
                let (k, v) = kv.split_once('=')?;
                k.trim()
                    .eq_ignore_ascii_case("maxaveragebitrate")
                    .then(|| v.trim().parse::<u32>().ok())
                    .flatten()
            })
        });
        let max = from_fmtp
            .unwrap_or(default_max_bps)
            .clamp(OPUS_MIN_BPS, OPUS_MAX_BPS);
        let mut c = Self::new(OPUS_MIN_BPS, max);
        c.packet_rate = 1000.0 / f64::from(ptime_ms.max(1));
        c
    }
}

/// What the encoder should use now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateDecision {
    /// Target encoder bitrate, bit/s (within `[min_bps, max_bps]`).
    pub bitrate_bps: u32,
    /// Opus in-band FEC (LBRR) on.
    pub fec: bool,
    /// Expected packet loss, % (for `OPUS_SET_PACKET_LOSS_PERC`).
    pub expected_loss_pct: u8,
}

#[derive(Debug, Clone, Copy)]
struct Owner {
    item: TmmbItem,
    at_us: u64,
}

/// Rate controller of one sending leg (see the module docs).
#[derive(Debug, Clone)]
pub struct RateController {
    cfg: RateConfig,
    target: f64,
    last_update_us: u64,
    last_decrease_us: u64,
    owners: [Option<Owner>; MAX_TMMBR_OWNERS],
    bounding: [TmmbItem; MAX_TMMBR_OWNERS],
    bounding_len: usize,
    tmmbn_due: bool,
    remb: Option<(f64, u64)>,
    loss_cap: Option<f64>,
    smoothed_loss: f64,
    fec: bool,
    jitter_ms: f64,
}

impl RateController {
    /// Starts at `cfg.start_bps` at time `now_us`.
    pub fn new(cfg: RateConfig, now_us: u64) -> Self {
        let start = f64::from(cfg.start_bps.clamp(cfg.min_bps, cfg.max_bps.max(cfg.min_bps)));
        Self {
            cfg,
            target: start,
            last_update_us: now_us,
            last_decrease_us: now_us,
            owners: [None; MAX_TMMBR_OWNERS],
            bounding: [TmmbItem::default(); MAX_TMMBR_OWNERS],
            bounding_len: 0,
            tmmbn_due: false,
            remb: None,
            loss_cap: None,
            smoothed_loss: 0.0,
            fec: false,
            jitter_ms: 0.0,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &RateConfig {
        &self.cfg
    }

    /// Feeds an [`RtcpSession`](crate::RtcpSession) event: TMMBR, REMB for us and report blocks about
    /// us are applied, the rest is ignored.
    pub fn on_event(&mut self, now_us: u64, event: &RtcpEvent) {
        match *event {
            RtcpEvent::Tmmbr { sender_ssrc, request } => self.on_tmmbr(now_us, sender_ssrc, request),
            RtcpEvent::Remb {
                bitrate_bps,
                applies_to_us: true,
                ..
            } => self.on_remb(now_us, bitrate_bps),
            RtcpEvent::Report { block, .. } => self.on_report_block(now_us, &block),
            _ => {}
        }
    }

    /// A TMMBR entry for our stream from `owner_ssrc`; replaces that owner's previous tuple.
    pub fn on_tmmbr(&mut self, now_us: u64, owner_ssrc: u32, request: TmmbItem) {
        let item = TmmbItem {
            ssrc: owner_ssrc,
            ..request
        };
        let slot = self
            .owners
            .iter()
            .position(|o| o.is_some_and(|o| o.item.ssrc == owner_ssrc))
            .or_else(|| self.owners.iter().position(Option::is_none))
            .unwrap_or_else(|| {
                // Full: replace the owner heard from longest ago.
                let mut oldest = 0;
                for (i, o) in self.owners.iter().enumerate() {
                    if let (Some(o), Some(b)) = (o, &self.owners[oldest]) {
                        if o.at_us < b.at_us {
                            oldest = i;
                        }
                    }
                }
                oldest
            });
        self.owners[slot] = Some(Owner { item, at_us: now_us });
        self.recompute_bounding_set();
        // RFC 5104 §4.2.2: every TMMBR is answered with a TMMBN.
        self.tmmbn_due = true;
        self.update(now_us);
    }

    /// Drops the tuple of `owner_ssrc` (it sent BYE or timed out); a TMMBN is due if it was in the
    /// bounding set.
    pub fn remove_owner(&mut self, now_us: u64, owner_ssrc: u32) {
        let mut removed = false;
        for o in &mut self.owners {
            if o.is_some_and(|o| o.item.ssrc == owner_ssrc) {
                *o = None;
                removed = true;
            }
        }
        if removed {
            let was_bounding = self.bounding_set().iter().any(|b| b.ssrc == owner_ssrc);
            self.recompute_bounding_set();
            self.tmmbn_due |= was_bounding;
            self.update(now_us);
        }
    }

    /// A REMB estimate that applies to our stream.
    pub fn on_remb(&mut self, now_us: u64, bitrate_bps: u64) {
        self.remb = Some((bitrate_bps as f64, now_us));
        self.update(now_us);
    }

    /// A report block about our stream (from the peer's RR/SR).
    pub fn on_report_block(&mut self, now_us: u64, block: &ReportBlock) {
        let p = f64::from(block.fraction_lost) / 256.0;
        self.jitter_ms = f64::from(block.jitter) * 1000.0 / f64::from(self.cfg.clock_rate.max(1));
        let w = if p > self.smoothed_loss { 0.5 } else { 0.25 };
        self.smoothed_loss += w * (p - self.smoothed_loss);
        if self.smoothed_loss >= self.cfg.fec_on_loss {
            self.fec = true;
        } else if self.smoothed_loss < self.cfg.fec_off_loss {
            self.fec = false;
        }
        self.update(now_us);
        self.loss_cap = if p > 0.10 {
            Some(self.target * (1.0 - 0.5 * p))
        } else if p >= 0.02 {
            Some(self.loss_cap.unwrap_or(self.target).min(self.target))
        } else {
            None
        };
        self.update(now_us);
    }

    /// The current decision at `now_us` (advances the ramp).
    pub fn poll(&mut self, now_us: u64) -> RateDecision {
        self.update(now_us);
        self.decision()
    }

    /// The decision as of the last update (no time advance).
    pub fn decision(&self) -> RateDecision {
        RateDecision {
            bitrate_bps: self.target.round() as u32,
            fec: self.fec,
            expected_loss_pct: (self.smoothed_loss * 100.0 - 1e-9).ceil().clamp(0.0, 100.0) as u8,
        }
    }

    /// The TMMBN to send, once after each TMMBR (or a bounding-set change): the bounding set, empty
    /// when no request is in force. Send it with
    /// [`FeedbackMessage::Tmmbn`](crate::FeedbackMessage::Tmmbn).
    pub fn tmmbn(&mut self) -> Option<&[TmmbItem]> {
        if !self.tmmbn_due {
            return None;
        }
        self.tmmbn_due = false;
        Some(&self.bounding[..self.bounding_len])
    }

    /// The current TMMBR bounding set (owners whose tuples limit us).
    pub fn bounding_set(&self) -> &[TmmbItem] {
        &self.bounding[..self.bounding_len]
    }

    /// Smoothed loss fraction (0–1) from the report blocks.
    pub fn smoothed_loss(&self) -> f64 {
        self.smoothed_loss
    }

    /// The bitrate all limits allow now (before the hold/ramp rule), bit/s.
    pub fn requested_bps(&self, now_us: u64) -> f64 {
        let oh = 8.0 * self.cfg.packet_rate;
        let mut r = f64::from(self.cfg.max_bps);
        for b in self.bounding_set() {
            r = r.min(b.bitrate_bps as f64 - oh * f64::from(b.overhead));
        }
        if let Some((bps, at)) = self.remb {
            if now_us.saturating_sub(at) <= self.cfg.remb_timeout_us {
                r = r.min(bps - oh * f64::from(self.cfg.overhead_bytes));
            }
        }
        if let Some(cap) = self.loss_cap {
            r = r.min(cap);
        }
        r.max(f64::from(self.cfg.min_bps))
    }

    fn update(&mut self, now_us: u64) {
        let req = self.requested_bps(now_us);
        if req < self.target {
            self.target = req;
            self.last_decrease_us = now_us;
        } else if req > self.target && self.jitter_ms <= self.cfg.jitter_hold_ms {
            let from = self.last_update_us.max(self.last_decrease_us + self.cfg.hold_us);
            if now_us > from {
                let dt = (now_us - from) as f64 / 1e6;
                self.target = req.min(self.target * (1.0 + self.cfg.ramp_per_s).powf(dt));
            }
        }
        self.last_update_us = self.last_update_us.max(now_us);
    }

    fn recompute_bounding_set(&mut self) {
        let owners = self.owners;
        let f = |o: &TmmbItem, pr: f64| o.bitrate_bps as f64 - 8.0 * f64::from(o.overhead) * pr;
        let items = owners.iter().flatten().map(|o| o.item);
        let lowest_at = |i: &TmmbItem, pr: f64| {
            let v = f(i, pr);
            items.clone().all(|k| v <= f(&k, pr) * (1.0 + 1e-12) + 1e-9)
        };
        self.bounding_len = 0;
        for (idx, i) in items.clone().enumerate() {
            // An identical tuple earlier in the list already represents this one.
            if items
                .clone()
                .take(idx)
                .any(|k| (k.bitrate_bps, k.overhead) == (i.bitrate_bps, i.overhead))
            {
                continue;
            }
            let at_infinity = items.clone().all(|k| {
                k.overhead < i.overhead || (k.overhead == i.overhead && k.bitrate_bps >= i.bitrate_bps)
            });
            let at_crossing = items.clone().any(|k| {
                k.overhead != i.overhead && {
                    let pr = (i.bitrate_bps as f64 - k.bitrate_bps as f64)
                        / (8.0 * (f64::from(i.overhead) - f64::from(k.overhead)));
                    pr >= 0.0 && lowest_at(&i, pr)
                }
            });
            if lowest_at(&i, 0.0) || at_infinity || at_crossing {
                self.bounding[self.bounding_len] = i;
                self.bounding_len += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000;

    fn tmmbr(bps: u64, overhead: u16) -> TmmbItem {
        TmmbItem {
            ssrc: 0xabcd,
            bitrate_bps: bps,
            overhead,
        }
    }

    fn rb(fraction_lost: u8, jitter: u32) -> ReportBlock {
        ReportBlock {
            ssrc: 0xabcd,
            fraction_lost,
            jitter,
            ..Default::default()
        }
    }

    #[test]
    fn fmtp_sets_the_maximum() {
        let c = RateConfig::opus(
            Some("minptime=10; useinbandfec=1; maxaveragebitrate=24000"),
            64_000,
            20,
        );
        assert_eq!((c.min_bps, c.max_bps, c.start_bps), (6_000, 24_000, 24_000));
        assert_eq!(c.packet_rate, 50.0);
        assert_eq!(
            RateConfig::opus(Some("useinbandfec=1"), 40_000, 60).max_bps,
            40_000
        );
        assert_eq!(
            RateConfig::opus(Some("maxaveragebitrate=999999"), 1, 20).max_bps,
            510_000
        );
        assert_eq!(RateConfig::opus(None, 1_000, 20).max_bps, 6_000);
    }

    /// A simulated receiver steps its TMMBR down every 3 s; the target follows each step within one
    /// poll (20 ms), never exceeds the request, and answers every TMMBR with a TMMBN naming it.
    #[test]
    fn target_follows_lower_requests_at_once() {
        let cfg = RateConfig::new(6_000, 64_000);
        let mut rc = RateController::new(cfg, 0);
        let mut now = 0;
        for (k, req) in [48_000u64, 32_000, 16_000, 8_000].into_iter().enumerate() {
            now = (k as u64 + 1) * 3 * S;
            rc.on_tmmbr(now, 0x5555, tmmbr(req, 40));
            let set = rc.tmmbn().expect("TMMBN due after TMMBR").to_vec();
            assert_eq!(set.len(), 1);
            assert_eq!((set[0].ssrc, set[0].bitrate_bps), (0x5555, req));
            assert!(rc.tmmbn().is_none(), "one TMMBN per TMMBR");
            // Payload limit: MxTBR − 8 · 40 bytes · 50 packets/s = MxTBR − 16 kbit/s, at least 6 kbit/s.
            let want = (req as f64 - 16_000.0).max(6_000.0).round() as u32;
            assert_eq!(rc.poll(now + 20_000).bitrate_bps, want);
            for t in (0..150).map(|i| now + i * 20_000) {
                assert!(rc.poll(t).bitrate_bps <= want);
            }
        }
        assert_eq!(rc.poll(now + 60 * S).bitrate_bps, 6_000);
    }

    /// After the request rises, the target holds 2 s, then ramps at +8 %/s: from 16 to 48 kbit/s
    /// takes 2 + ln(3)/ln(1.08) = 16.3 s.
    #[test]
    fn increase_is_held_then_ramped() {
        let mut rc = RateController::new(RateConfig::new(6_000, 64_000), 0);
        rc.on_remb(0, 16_000 + 16_000);
        assert_eq!(rc.poll(0).bitrate_bps, 16_000);
        rc.on_remb(S, 48_000 + 16_000);
        assert_eq!(
            rc.poll(2 * S).bitrate_bps,
            16_000,
            "held for 2 s after the decrease at 0"
        );
        let mut t = 2 * S;
        let mut last = 16_000;
        while rc.poll(t).bitrate_bps < 48_000 {
            let b = rc.poll(t).bitrate_bps;
            assert!(b >= last, "monotone ramp");
            last = b;
            t += 10_000;
            // REMBs keep arriving once a second.
            if t % S == 0 {
                rc.on_remb(t, 64_000);
            }
        }
        let secs = t as f64 / 1e6;
        let expect = 2.0 + (3.0f64).ln() / 1.08f64.ln();
        assert!((secs - expect).abs() < 0.05, "{secs} s vs {expect} s");
        rc.on_remb(t + 5 * S, 64_000);
        assert_eq!(rc.poll(t + 10 * S).bitrate_bps, 48_000, "stays at the request");
        // Without REMBs the estimate lapses after 10 s and the ramp goes on to the maximum.
        assert_eq!(rc.poll(t + 60 * S).bitrate_bps, 64_000);
    }

    #[test]
    fn remb_times_out_and_only_ours_applies() {
        let mut rc = RateController::new(RateConfig::new(6_000, 64_000), 0);
        rc.on_event(
            0,
            &RtcpEvent::Remb {
                sender_ssrc: 1,
                bitrate_bps: 20_000,
                applies_to_us: false,
            },
        );
        assert_eq!(rc.poll(0).bitrate_bps, 64_000);
        rc.on_event(
            0,
            &RtcpEvent::Remb {
                sender_ssrc: 1,
                bitrate_bps: 36_000,
                applies_to_us: true,
            },
        );
        assert_eq!(rc.poll(0).bitrate_bps, 20_000);
        assert_eq!(rc.poll(10 * S).bitrate_bps, 20_000);
        // Beyond the 10 s timeout the limit lapses and the ramp resumes.
        assert!(rc.poll(12 * S).bitrate_bps > 20_000);
    }

    /// Loss rises from 0 to 5 % per report every 5 s: FEC is on after the first lossy report (smoothed
    /// 2.5 % ≥ 2 %), expected loss follows to 5 %, and the rate holds (GCC: 2–10 % holds). At 20 %
    /// loss the rate drops by 10 %; as loss ends, FEC goes off once smoothed loss is below 1 %.
    #[test]
    fn loss_switches_fec_and_expected_loss() {
        let mut rc = RateController::new(RateConfig::new(6_000, 32_000), 0);
        let mut t = 0;
        for _ in 0..3 {
            t += 5 * S;
            rc.on_report_block(t, &rb(0, 80));
        }
        assert_eq!(
            rc.poll(t),
            RateDecision {
                bitrate_bps: 32_000,
                fec: false,
                expected_loss_pct: 0
            }
        );
        let five = 13; // 13/256 = 5.08 %
        t += 5 * S;
        rc.on_report_block(t, &rb(five, 80));
        let d = rc.poll(t);
        assert!(d.fec, "{d:?}");
        assert_eq!(d.expected_loss_pct, 3);
        for _ in 0..10 {
            t += 5 * S;
            rc.on_report_block(t, &rb(five, 80));
        }
        let d = rc.poll(t);
        assert_eq!(
            d,
            RateDecision {
                bitrate_bps: 32_000,
                fec: true,
                expected_loss_pct: 6
            }
        );
        t += 5 * S;
        rc.on_report_block(t, &rb(51, 80)); // 19.9 %
        let d = rc.poll(t);
        assert_eq!(
            d.bitrate_bps,
            (32_000.0f64 * (1.0 - 0.5 * 51.0 / 256.0)).round() as u32
        );
        let mut off_after = None;
        for k in 1..40 {
            t += 5 * S;
            rc.on_report_block(t, &rb(0, 80));
            if !rc.poll(t).fec {
                off_after = Some(k);
                break;
            }
        }
        // Smoothed 12.5 % decays by 3/4 per report: below 1 % after 9 reports.
        assert_eq!(off_after, Some(9));
        assert_eq!(rc.poll(t).expected_loss_pct, 1);
    }

    #[test]
    fn high_jitter_blocks_increase() {
        let mut rc = RateController::new(RateConfig::new(6_000, 64_000), 0);
        rc.on_remb(0, 26_000);
        rc.on_report_block(0, &rb(0, 48 * 80)); // 80 ms jitter
        rc.on_remb(S, 200_000);
        assert_eq!(rc.poll(20 * S).bitrate_bps, 10_000);
        rc.on_report_block(20 * S, &rb(0, 48 * 10));
        assert!(rc.poll(21 * S).bitrate_bps > 10_000);
    }

    /// RFC 5104 §3.5.4.2 bounding set: tuples (MxTBR, overhead) A = (60k, 20), B = (105k, 100),
    /// C = (130k, 200), D = (72k, 40), E = (200k, 300). Lines b − 8·o·pr: A is lowest from pr = 0 until
    /// C at 48.6 pkt/s, C until E at 87.5 pkt/s; B and D are above the envelope everywhere.
    #[test]
    fn bounding_set_is_the_lower_envelope() {
        let mut rc = RateController::new(RateConfig::new(1_000, 1_000_000), 0);
        let tuples = [
            (1, 60_000, 20),
            (2, 105_000, 100),
            (3, 130_000, 200),
            (4, 72_000, 40),
            (5, 200_000, 300),
        ];
        for (ssrc, b, o) in tuples {
            rc.on_tmmbr(0, ssrc, tmmbr(b, o));
        }
        let set = |rc: &RateController| {
            let mut v: Vec<u32> = rc.bounding_set().iter().map(|i| i.ssrc).collect();
            v.sort_unstable();
            v
        };
        assert_eq!(set(&rc), [1, 3, 5]);
        // At 50 pkt/s: A 52k, B 65k, C 50k, D 56k, E 80k.
        assert_eq!(rc.poll(0).bitrate_bps, 50_000);
        assert_eq!(rc.tmmbn().map(|s| s.len()), Some(3));
        // C leaves: A and E remain (crossing at 62.5 pkt/s); a TMMBN is due.
        rc.remove_owner(0, 3);
        assert_eq!(set(&rc), [1, 5]);
        assert_eq!(rc.tmmbn().map(|s| s.len()), Some(2));
        // A non-member leaving changes nothing and needs no TMMBN.
        rc.remove_owner(0, 2);
        assert!(rc.tmmbn().is_none());
        assert_eq!(rc.poll(0).bitrate_bps, 50_000, "no increase during the hold");
        assert_eq!(rc.poll(30 * S).bitrate_bps, 52_000);
        // Owner A relaxes its request: its tuple is replaced; D (lowest at pr = 0) and E remain.
        rc.on_tmmbr(31 * S, 1, tmmbr(500_000, 20));
        assert_eq!(set(&rc), [4, 5]);
    }
}
