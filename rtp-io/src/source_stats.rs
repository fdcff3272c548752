//! Per-source receive statistics (RFC 3550 Appendix A.1, A.3, A.8) and the table of sources.
//!
//! # What
//! [`SourceStats`] tracks one SSRC: source validation (probation), extended sequence numbers across
//! wrap, restarts after large jumps, duplicates and reordering, cumulative and interval loss, and the
//! interarrival jitter; it produces the RTCP [`ReportBlock`] for the source. [`SourceTable`] keeps
//! several sources, and reports new sources, SSRC changes and collisions with our own SSRC.
//!
//! # How
//! * A.1 `update_seq`: a new source needs [`SourceConfig::min_sequential`] packets in sequence
//!   (probation); a forward jump below `max_dropout` advances (wrap adds 2^16 to the cycle count); a
//!   backward step within `max_misorder` is a late (reordered) or duplicate packet; anything else is a
//!   "bad sequence", and a second packet that continues from it restarts the source.
//!   Deviation: the probation packets are counted as received once the source is validated (A.1 drops
//!   them from the counts), so totals equal what arrived.
//! * Duplicates are recognised with a 128-packet bitmap behind the highest sequence number and are not
//!   counted as received (A.3 counts them, which can make loss negative); they are reported separately.
//! * A.3: expected = extended max − base + 1; cumulative lost = expected − received, clamped to the
//!   signed 24-bit field; fraction lost over the interval since the previous report, in 1/256.
//! * A.8: `D = (R_j − R_i) − (S_j − S_i)` in timestamp units, `J += (|D| − J)/16`, computed for every
//!   non-duplicate packet in arrival order. Arrival time is an input in µs (sans-IO); J is kept as a
//!   real number (RFC 3550 §6.4.1 allows any equivalent computation) and rounded for the report.
//!   [`SourceStats::mean_jitter_ms`] and [`SourceStats::max_jitter_ms`] are the mean and maximum of J
//!   over the packets after the first (the figures `tshark -z rtp,streams` prints).
//! * LSR/DLSR (§6.4.1): the middle 32 bits of the last SR's NTP time and the delay since it arrived.
//!
//! # Real-time safety
//! [`SourceStats::on_packet`] and [`SourceTable::on_packet`] do not allocate (the table is allocated at
//! construction with a fixed capacity).

use crate::rtcp_packet::ReportBlock;

/// Sequence-validation parameters (RFC 3550 A.1 defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceConfig {
    /// RTP clock rate of the stream (Hz), for the jitter in timestamp units and ms.
    pub clock_rate: u32,
    /// Packets in sequence needed to validate a new source (A.1 `MIN_SEQUENTIAL` = 2).
    pub min_sequential: u32,
    /// Largest forward jump still treated as loss (A.1 `MAX_DROPOUT` = 3000).
    pub max_dropout: u32,
    /// Largest backward step treated as reordering (A.1 `MAX_MISORDER` = 100).
    pub max_misorder: u32,
}

impl SourceConfig {
    /// The A.1 defaults for a stream with `clock_rate`.
    pub fn new(clock_rate: u32) -> Self {
        Self {
            clock_rate,
            min_sequential: 2,
            max_dropout: 3000,
            max_misorder: 100,
        }
    }
}

/// What one packet did to the source state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqOutcome {
    /// In order (possibly after a gap = loss); the packet is valid.
    InOrder,
    /// Arrived after a higher sequence number (reordered / late); the packet is valid.
    Reordered,
    /// Seen before; the packet should be discarded.
    Duplicate,
    /// The source is still on probation; the packet is not yet counted.
    Probation,
    /// The source just passed probation with this packet.
    Validated,
    /// A jump too large to be loss or reordering; the packet is discarded unless the next one follows it.
    BadSequence,
    /// The sender restarted its sequence (two packets in sequence after a bad jump); counts were reset.
    Restarted,
}

impl SeqOutcome {
    /// True when the packet should be passed on (to the jitter buffer).
    pub fn is_valid(self) -> bool {
        matches!(
            self,
            Self::InOrder | Self::Reordered | Self::Validated | Self::Restarted
        )
    }
}

const SEQ_MOD: u32 = 1 << 16;

/// Receive statistics of one synchronisation source.
#[derive(Debug, Clone)]
pub struct SourceStats {
    ssrc: u32,
    cfg: SourceConfig,
    max_seq: u16,
    cycles: u32,
    base_seq: u32,
    bad_seq: u32,
    probation: u32,
    received: u64,
    expected_prior: u64,
    received_prior: u64,
    recent: u128,
    duplicates: u64,
    reordered: u64,
    restarts: u64,
    bad: u64,
    // jitter
    last_arrival_us: Option<u64>,
    last_ts: u32,
    jitter: f64,
    jitter_sum: f64,
    jitter_n: u64,
    jitter_max: f64,
    // sender report
    last_sr: Option<(u32, u64)>,
    last_packet_us: u64,
}

impl SourceStats {
    /// A new source first seen with sequence number `seq` (the packet itself is not yet counted: call
    /// [`SourceStats::on_packet`] for it).
    pub fn new(ssrc: u32, seq: u16, cfg: SourceConfig) -> Self {
        let mut s = Self {
            ssrc,
            cfg,
            max_seq: seq.wrapping_sub(1),
            cycles: 0,
            base_seq: u32::from(seq),
            bad_seq: SEQ_MOD + 1,
            probation: cfg.min_sequential.max(1),
            received: 0,
            expected_prior: 0,
            received_prior: 0,
            recent: 0,
            duplicates: 0,
            reordered: 0,
            restarts: 0,
            bad: 0,
            last_arrival_us: None,
            last_ts: 0,
            jitter: 0.0,
            jitter_sum: 0.0,
            jitter_n: 0,
            jitter_max: 0.0,
            last_sr: None,
            last_packet_us: 0,
        };
        if cfg.min_sequential <= 1 {
            s.probation = 0;
            s.init_seq(seq.wrapping_sub(1));
        }
        s
    }

    fn init_seq(&mut self, seq: u16) {
        self.base_seq = u32::from(seq);
        self.max_seq = seq;
        self.bad_seq = SEQ_MOD + 1;
        self.cycles = 0;
        self.received = 0;
        self.received_prior = 0;
        self.expected_prior = 0;
        self.recent = 0;
    }

    /// The SSRC.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// The configuration.
    pub fn config(&self) -> SourceConfig {
        self.cfg
    }

    /// Processes one packet's sequence number, RTP timestamp and arrival time (µs, any epoch).
    pub fn on_packet(&mut self, seq: u16, rtp_ts: u32, arrival_us: u64) -> SeqOutcome {
        let outcome = self.update_seq(seq);
        if outcome != SeqOutcome::Duplicate {
            self.update_jitter(rtp_ts, arrival_us);
        }
        if outcome.is_valid() {
            self.last_packet_us = arrival_us;
        }
        outcome
    }

    fn update_seq(&mut self, seq: u16) -> SeqOutcome {
        let udelta = u32::from(seq.wrapping_sub(self.max_seq));
        if self.probation > 0 {
            if seq == self.max_seq.wrapping_add(1) {
                self.probation -= 1;
                self.max_seq = seq;
                if self.probation == 0 {
                    let n = self.cfg.min_sequential.max(1);
                    // Base = first packet of the in-sequence run that validated the source.
                    self.init_seq(seq.wrapping_sub(n as u16 - 1));
                    self.max_seq = seq;
                    self.received = u64::from(n);
                    self.recent = if n >= 128 { u128::MAX } else { (1u128 << n) - 1 };
                    return SeqOutcome::Validated;
                }
            } else {
                self.probation = self.cfg.min_sequential.max(1) - 1;
                self.max_seq = seq;
            }
            return SeqOutcome::Probation;
        }
        if udelta == 0 {
            self.duplicates += 1;
            return SeqOutcome::Duplicate;
        }
        if udelta < self.cfg.max_dropout {
            if seq < self.max_seq {
                self.cycles += SEQ_MOD;
            }
            self.max_seq = seq;
            self.recent = if udelta >= 128 { 0 } else { self.recent << udelta };
            self.recent |= 1;
            self.received += 1;
            return SeqOutcome::InOrder;
        }
        if udelta <= SEQ_MOD - self.cfg.max_misorder {
            if u32::from(seq) == self.bad_seq {
                // Two sequential packets after a big jump: the sender restarted (A.1).
                self.init_seq(seq);
                self.received = 1;
                self.recent = 1;
                self.restarts += 1;
                return SeqOutcome::Restarted;
            }
            self.bad_seq = (u32::from(seq) + 1) & (SEQ_MOD - 1);
            self.bad += 1;
            return SeqOutcome::BadSequence;
        }
        // Behind the highest sequence number by `back`: duplicate or reordered.
        let back = SEQ_MOD - udelta;
        let ext_max = u64::from(self.cycles) + u64::from(self.max_seq);
        if u64::from(back) > ext_max - u64::from(self.base_seq).min(ext_max) {
            // Older than the first packet of the source (e.g. probation leftovers): late, not counted.
            self.reordered += 1;
            return SeqOutcome::Reordered;
        }
        if back < 128 {
            let bit = 1u128 << back;
            if self.recent & bit != 0 {
                self.duplicates += 1;
                return SeqOutcome::Duplicate;
            }
            self.recent |= bit;
        }
        self.received += 1;
        self.reordered += 1;
        SeqOutcome::Reordered
    }

    fn update_jitter(&mut self, rtp_ts: u32, arrival_us: u64) {
        if let Some(prev) = self.last_arrival_us {
            let arrival = (arrival_us as i128 - prev as i128) as f64 * f64::from(self.cfg.clock_rate) / 1e6;
            let ts = f64::from(rtp_ts.wrapping_sub(self.last_ts) as i32);
            let d = arrival - ts;
            self.jitter += (d.abs() - self.jitter) / 16.0;
            self.jitter_sum += self.jitter;
            self.jitter_n += 1;
            self.jitter_max = self.jitter_max.max(self.jitter);
        }
        self.last_arrival_us = Some(arrival_us);
        self.last_ts = rtp_ts;
    }

    /// Highest sequence number received, extended with the wrap count (A.1 `cycles + max_seq`).
    pub fn extended_max_seq(&self) -> u32 {
        self.cycles.wrapping_add(u32::from(self.max_seq))
    }

    /// True while the source is on probation.
    pub fn on_probation(&self) -> bool {
        self.probation > 0
    }

    /// Packets expected (A.3).
    pub fn expected(&self) -> u64 {
        if self.probation > 0 {
            return 0;
        }
        (u64::from(self.cycles) + u64::from(self.max_seq) + 1).saturating_sub(u64::from(self.base_seq))
    }

    /// Distinct valid packets received (duplicates excluded).
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Cumulative packets lost: expected − received (can be negative only after a restart race).
    pub fn lost(&self) -> i64 {
        self.expected() as i64 - self.received as i64
    }

    /// Duplicates discarded.
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }

    /// Packets that arrived after a higher sequence number.
    pub fn reordered(&self) -> u64 {
        self.reordered
    }

    /// Times the source restarted its sequence numbers.
    pub fn restarts(&self) -> u64 {
        self.restarts
    }

    /// Packets dropped as "bad sequence" jumps.
    pub fn bad_sequence(&self) -> u64 {
        self.bad
    }

    /// Interarrival jitter in timestamp units (RTCP field, A.8).
    pub fn jitter(&self) -> u32 {
        self.jitter.round() as u32
    }

    /// Interarrival jitter in milliseconds.
    pub fn jitter_ms(&self) -> f64 {
        self.ts_to_ms(self.jitter)
    }

    /// Mean of the running jitter over all packets after the first, in ms.
    pub fn mean_jitter_ms(&self) -> f64 {
        if self.jitter_n == 0 {
            0.0
        } else {
            self.ts_to_ms(self.jitter_sum / self.jitter_n as f64)
        }
    }

    /// Maximum of the running jitter, in ms.
    pub fn max_jitter_ms(&self) -> f64 {
        self.ts_to_ms(self.jitter_max)
    }

    fn ts_to_ms(&self, v: f64) -> f64 {
        if self.cfg.clock_rate == 0 {
            0.0
        } else {
            v * 1000.0 / f64::from(self.cfg.clock_rate)
        }
    }

    /// Arrival time (µs) of the last valid packet.
    pub fn last_packet_us(&self) -> u64 {
        self.last_packet_us
    }

    /// Records a sender report from this source: `ntp` is its 64-bit NTP timestamp, `arrival_us` when it
    /// arrived (for LSR/DLSR).
    pub fn on_sender_report(&mut self, ntp: u64, arrival_us: u64) {
        self.last_sr = Some(((ntp >> 16) as u32, arrival_us));
    }

    /// The reception report block for this source at time `now_us` (A.3); advances the interval used
    /// for the fraction lost.
    pub fn report_block(&mut self, now_us: u64) -> ReportBlock {
        let expected = self.expected();
        let lost = self.lost().clamp(-0x80_0000, 0x7f_ffff) as i32;
        let expected_interval = expected.saturating_sub(self.expected_prior);
        self.expected_prior = expected;
        let received_interval = self.received.saturating_sub(self.received_prior);
        self.received_prior = self.received;
        let lost_interval = expected_interval as i64 - received_interval as i64;
        let fraction_lost = if expected_interval == 0 || lost_interval <= 0 {
            0
        } else {
            ((lost_interval << 8) / expected_interval as i64).min(255) as u8
        };
        let (lsr, dlsr) = match self.last_sr {
            Some((mid, at)) => {
                let d = now_us.saturating_sub(at);
                (
                    mid,
                    (d as u128 * 65_536 / 1_000_000).min(u128::from(u32::MAX)) as u32,
                )
            }
            None => (0, 0),
        };
        ReportBlock {
            ssrc: self.ssrc,
            fraction_lost,
            cumulative_lost: lost,
            extended_highest_seq: self.extended_max_seq(),
            jitter: self.jitter(),
            last_sr: lsr,
            delay_since_last_sr: dlsr,
        }
    }
}

/// An event noticed by [`SourceTable::on_packet`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceEvent {
    /// A source was seen for the first time.
    NewSource {
        /// Its SSRC.
        ssrc: u32,
    },
    /// The packet carries our own SSRC (RFC 3550 §8.2): we must pick a new SSRC and send BYE.
    Collision {
        /// The colliding SSRC.
        ssrc: u32,
    },
    /// The table was full and the least recently heard source was replaced (e.g. an SSRC change).
    Replaced {
        /// The SSRC that was dropped.
        old: u32,
        /// The new SSRC.
        new: u32,
    },
}

/// Statistics of several sources with a fixed capacity.
#[derive(Debug, Clone)]
pub struct SourceTable {
    cfg: SourceConfig,
    sources: Vec<SourceStats>,
    capacity: usize,
    local_ssrc: Option<u32>,
    collisions: u64,
}

impl SourceTable {
    /// A table for up to `capacity` sources (allocated now).
    pub fn new(cfg: SourceConfig, capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            cfg,
            sources: Vec::with_capacity(capacity),
            capacity,
            local_ssrc: None,
            collisions: 0,
        }
    }

    /// Sets our own SSRC, for collision detection.
    pub fn set_local_ssrc(&mut self, ssrc: Option<u32>) {
        self.local_ssrc = ssrc;
    }

    /// Processes one packet; returns the source's index in [`SourceTable::sources`], the outcome and an
    /// optional event. A collision returns `None` as index (the packet must be dropped).
    pub fn on_packet(
        &mut self,
        ssrc: u32,
        seq: u16,
        rtp_ts: u32,
        arrival_us: u64,
    ) -> (Option<usize>, SeqOutcome, Option<SourceEvent>) {
        if self.local_ssrc == Some(ssrc) {
            self.collisions += 1;
            return (
                None,
                SeqOutcome::BadSequence,
                Some(SourceEvent::Collision { ssrc }),
            );
        }
        let mut event = None;
        let idx = match self.sources.iter().position(|s| s.ssrc == ssrc) {
            Some(i) => i,
            None => {
                let s = SourceStats::new(ssrc, seq, self.cfg);
                if self.sources.len() < self.capacity {
                    self.sources.push(s);
                    event = Some(SourceEvent::NewSource { ssrc });
                    self.sources.len() - 1
                } else {
                    let (i, old) = self
                        .sources
                        .iter()
                        .enumerate()
                        .min_by_key(|(_, s)| s.last_packet_us)
                        .map(|(i, s)| (i, s.ssrc))
                        .expect("capacity >= 1, and the table is full, so it is not empty");
                    self.sources[i] = s;
                    event = Some(SourceEvent::Replaced { old, new: ssrc });
                    i
                }
            }
        };
        let outcome = self.sources[idx].on_packet(seq, rtp_ts, arrival_us);
        (Some(idx), outcome, event)
    }

    /// The sources, in insertion order.
    pub fn sources(&self) -> &[SourceStats] {
        &self.sources
    }

    /// Mutable access (for report blocks and sender reports).
    pub fn sources_mut(&mut self) -> &mut [SourceStats] {
        &mut self.sources
    }

    /// The source with `ssrc`.
    pub fn get(&self, ssrc: u32) -> Option<&SourceStats> {
        self.sources.iter().find(|s| s.ssrc == ssrc)
    }

    /// Mutable source with `ssrc`.
    pub fn get_mut(&mut self, ssrc: u32) -> Option<&mut SourceStats> {
        self.sources.iter_mut().find(|s| s.ssrc == ssrc)
    }

    /// Removes a source (after BYE or timeout).
    pub fn remove(&mut self, ssrc: u32) -> Option<SourceStats> {
        let i = self.sources.iter().position(|s| s.ssrc == ssrc)?;
        Some(self.sources.remove(i))
    }

    /// Packets that carried our own SSRC.
    pub fn collisions(&self) -> u64 {
        self.collisions
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(s: &mut SourceStats, seqs: &[u16]) -> Vec<SeqOutcome> {
        seqs.iter()
            .map(|&q| s.on_packet(q, u32::from(q) * 160, u64::from(q) * 20_000))
            .collect()
    }

    #[test]
    fn probation_then_counts_everything() {
        let mut s = SourceStats::new(1, 100, SourceConfig::new(8000));
        let o = feed(&mut s, &[100, 101, 102]);
        assert_eq!(
            o,
            [SeqOutcome::Probation, SeqOutcome::Validated, SeqOutcome::InOrder]
        );
        assert_eq!((s.expected(), s.received(), s.lost()), (3, 3, 0));
    }

    #[test]
    fn probation_resets_on_gap() {
        let mut s = SourceStats::new(1, 10, SourceConfig::new(8000));
        let o = feed(&mut s, &[10, 12, 13, 14]);
        assert_eq!(
            o[..3],
            [
                SeqOutcome::Probation,
                SeqOutcome::Probation,
                SeqOutcome::Validated
            ]
        );
        assert_eq!((s.expected(), s.received()), (3, 3));
    }

    #[test]
    fn wrap_loss_dups_reorder() {
        let mut s = SourceStats::new(7, 65530, SourceConfig::new(8000));
        let seqs = [65530, 65531, 65532, 65534, 65533, 65533, 65535, 0, 1, 3, 4, 1];
        let o = feed(&mut s, &seqs);
        assert_eq!(o[4], SeqOutcome::Reordered);
        assert_eq!(o[5], SeqOutcome::Duplicate);
        assert_eq!(o[11], SeqOutcome::Duplicate);
        assert_eq!(s.extended_max_seq(), 65536 + 4);
        assert_eq!(s.expected(), 11); // 65530..=65535, 0..=4
        assert_eq!(s.received(), 10); // 2 missing
        assert_eq!(s.lost(), 1);
        assert_eq!((s.duplicates(), s.reordered()), (2, 1));
        let rb = s.report_block(0);
        assert_eq!(rb.cumulative_lost, 1);
        assert_eq!(rb.fraction_lost, (256 / 11) as u8);
        assert_eq!(rb.extended_highest_seq, 65540);
        let rb2 = s.report_block(0);
        assert_eq!(rb2.fraction_lost, 0);
    }

    #[test]
    fn restart_after_two_sequential_bad_packets() {
        let mut s = SourceStats::new(7, 1000, SourceConfig::new(8000));
        feed(&mut s, &[1000, 1001, 1002]);
        assert_eq!(s.on_packet(30000, 0, 0), SeqOutcome::BadSequence);
        assert_eq!(s.on_packet(30001, 0, 0), SeqOutcome::Restarted);
        assert_eq!(s.on_packet(30002, 0, 0), SeqOutcome::InOrder);
        assert_eq!((s.expected(), s.received(), s.restarts()), (2, 2, 1));
    }

    #[test]
    fn jitter_matches_a8_on_constant_offset_and_alternation() {
        let mut s = SourceStats::new(1, 0, SourceConfig::new(8000));
        // Perfect pacing: jitter 0.
        for i in 0..50u16 {
            s.on_packet(i, u32::from(i) * 160, u64::from(i) * 20_000);
        }
        assert_eq!(s.jitter(), 0);
        // Alternating ±1 ms arrival offsets: |D| = 16 units (2 ms) each time -> J converges to 16.
        for i in 50..2000u16 {
            let off = if i % 2 == 0 { 1000 } else { 0 };
            s.on_packet(i, u32::from(i) * 160, u64::from(i) * 20_000 + off);
        }
        assert_eq!(s.jitter(), 8);
        assert!((s.jitter_ms() - 1.0).abs() < 1e-6);
    }

    #[test]
    fn lsr_dlsr() {
        let mut s = SourceStats::new(1, 0, SourceConfig::new(8000));
        s.on_sender_report(0x1234_5678_9abc_def0, 1_000_000);
        let rb = s.report_block(1_500_000);
        assert_eq!(rb.last_sr, 0x5678_9abc);
        assert_eq!(rb.delay_since_last_sr, 32_768);
    }

    #[test]
    fn table_events() {
        let mut t = SourceTable::new(SourceConfig::new(8000), 1);
        t.set_local_ssrc(Some(99));
        assert_eq!(
            t.on_packet(99, 0, 0, 0).2,
            Some(SourceEvent::Collision { ssrc: 99 })
        );
        assert_eq!(
            t.on_packet(5, 0, 0, 0).2,
            Some(SourceEvent::NewSource { ssrc: 5 })
        );
        assert_eq!(t.on_packet(5, 1, 0, 1).2, None);
        assert_eq!(
            t.on_packet(6, 0, 0, 2).2,
            Some(SourceEvent::Replaced { old: 5, new: 6 })
        );
        assert_eq!(t.collisions(), 1);
    }
}
