//! Statistics of a conference and of its legs (webrtc-stats names, ITU-T G.107 E-model).

use std::sync::Arc;

use serde_json::{json, Value};
use tutti_rtp::RateDecision;

use super::leg::{Leg, LegCounters};
use crate::cdr::{with_fields, CounterNames, LinkQuality};

/// Statistics of one leg.
#[derive(Debug, Clone, PartialEq)]
pub struct LegStats {
    /// The leg's id in its conference.
    pub id: super::config::LegId,
    /// The leg's label (shared with the leg: taking statistics on the real-time side does not allocate).
    pub name: Arc<str>,
    /// Codec (command-line name).
    pub codec: &'static str,
    /// The leg's SSRC (what it sends with), once known.
    pub remote_ssrc: Option<u32>,
    /// Our SSRC towards the leg.
    pub local_ssrc: u32,
    /// Whether the leg is one of the selected talkers.
    pub talking: bool,
    /// Smoothed level of the leg in dBov.
    pub level_db: f32,
    /// Conference time the leg joined.
    pub started: std::time::Duration,
    /// Conference time its first media packet arrived.
    pub answered: Option<std::time::Duration>,
    /// Quality figures: `packets` (RTP packets received of the leg's payload type), `lost` (RFC 3550
    /// cumulative loss), `discarded` (packets the jitter buffer discarded: late or overflow), `duplicates`,
    /// RFC 3550 interarrival jitter, RTT from RTCP, mean jitter-buffer delay (webrtc-stats
    /// jitterBufferDelay / jitterBufferEmittedCount), concealed samples / total samples (webrtc-stats),
    /// and the ITU-T G.107 E-model R factor and MOS-CQE from codec, delay and loss.
    pub quality: LinkQuality,
    /// Rate adaptation (Opus legs): the encoder bitrate, FEC and expected loss chosen from the receiver's
    /// TMMBR/REMB/reports.
    pub rate: Option<RateDecision>,
    /// Transport counters.
    pub counters: LegCounters,
}

impl LegStats {
    pub(crate) fn of(l: &Leg, talking: bool, level_db: f32) -> Self {
        let rs = l.receiver_stats();
        let jb = rs.jitter_buffer;
        let rtt_ms = l.rtt_us().map(|u| u as f64 / 1000.0);
        let expected = (rs.packets as i64 - rs.duplicates as i64 + rs.lost).max(1) as f64;
        let loss_pct = 100.0 * (rs.lost.max(0) as f64 + rs.late as f64) / expected;
        let codec = l.cfg.codec.cli_name();
        let quality = LinkQuality {
            packets: rs.packets,
            lost: rs.lost,
            discarded: jb.packets_discarded,
            duplicates: rs.duplicates,
            jitter_ms: rs.jitter_ms,
            rtt_ms,
            jitter_buffer_delay_ms: jb.mean_delay_ms(),
            concealment_ratio: jb.concealment_ratio(),
            r_factor: 0.0,
            mos: 0.0,
        }
        .with_emodel(codec, loss_pct);
        Self {
            id: l.id,
            name: l.name.clone(),
            codec,
            remote_ssrc: l.remote_ssrc(),
            local_ssrc: l.local_ssrc(),
            talking,
            level_db,
            started: l.created,
            answered: l.first_media,
            quality,
            rate: l.rate_decision(),
            counters: l.counters,
        }
    }

    /// The statistics as JSON (SSRCs as 8 hex digits).
    pub fn to_json(&self) -> Value {
        let c = &self.counters;
        let leg = json!({
            "name": &*self.name, "codec": self.codec,
            "remote_ssrc": self.remote_ssrc.map(|s| format!("{s:08x}")),
            "local_ssrc": format!("{:08x}", self.local_ssrc),
            "talking": self.talking, "level_db": self.level_db,
            "rx_datagrams": c.rx_datagrams, "rx_dropped": c.rx_dropped, "tx_packets": c.tx_packets,
            "tx_rtcp": c.tx_rtcp, "tx_overflow": c.tx_overflow, "concealed_frames": c.concealed_frames,
            "encode_errors": c.encode_errors, "tx_tmmbn": c.tx_tmmbn, "rate_changes": c.rate_changes,
            "target_bitrate_bps": self.rate.map(|r| r.bitrate_bps), "fec": self.rate.map(|r| r.fec),
            "expected_loss_pct": self.rate.map(|r| r.expected_loss_pct),
        });
        with_fields(leg, self.quality.json_fields(CounterNames::RECEIVED))
    }
}

/// Conference-wide statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConferenceStats {
    /// Legs now.
    pub legs: usize,
    /// Ticks run.
    pub ticks: u64,
    /// Mix rate in Hz.
    pub mix_rate: u32,
    /// Selected talkers now.
    pub talkers: usize,
    /// Entries into and exits from the talker set so far.
    pub talker_changes: u64,
    /// Encoder runs in the last tick (own + shared).
    pub encodes_last_tick: usize,
    /// Encoder runs in all ticks.
    pub encodes_total: u64,
    /// Shared-encode groups (codec × output gain).
    pub shared_groups: usize,
}

impl ConferenceStats {
    /// The statistics as JSON.
    pub fn to_json(&self) -> Value {
        json!({
            "legs": self.legs, "ticks": self.ticks, "mix_rate": self.mix_rate, "talkers": self.talkers,
            "talker_changes": self.talker_changes, "encodes_last_tick": self.encodes_last_tick,
            "encodes_total": self.encodes_total, "shared_groups": self.shared_groups,
        })
    }
}
