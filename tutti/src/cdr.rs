//! Call detail records: one JSON document per leg at its end, with its media quality.
//!
//! # What
//! A [`Cdr`] names a receive leg (label, codec, SSRCs and addresses of both ends), when it started, when
//! media first arrived ("answer") and when it ended, and the leg's quality figures: packets, loss,
//! discarded and duplicated packets, interarrival jitter, RTT, jitter-buffer delay, concealment ratio,
//! one-way delay estimate, and the ITU-T G.107 E-model R factor and MOS. `tutti conference` prints one
//! when a leg leaves or the server stops, `tutti rtp decode --json` adds one to every stream, and the
//! library builds them from [`crate::conference::LegStats`].
//!
//! # How
//! Field names follow the webrtc-stats vocabulary used elsewhere in Tutti; times are RFC 3339 UTC with
//! milliseconds; the duration is answer-to-end (the billing convention of call detail records, e.g.
//! Asterisk's `billsec`), or 0 when no media arrived. The one-way delay estimate is the jitter-buffer
//! delay plus half the RTCP round-trip time (G.107's `Ta` as Tutti feeds the E-model).
//!
//! # Real-time safety
//! Control side only (allocates, formats text).

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use serde_json::{json, Map, Value};
use tutti_rtp::EModel;

use crate::conference::LegStats;

/// The quality figures of one direction of a leg: what a CDR reports, and what the statistics of a
/// conference leg ([`LegStats::quality`]) and of a translator leg
/// ([`crate::translate::TranslatorLegStats::quality`]) hold.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LinkQuality {
    /// RTP packets received.
    pub packets: u64,
    /// RFC 3550 cumulative loss.
    pub lost: i64,
    /// Packets discarded by the jitter buffer (late or overflow).
    pub discarded: u64,
    /// Duplicate packets.
    pub duplicates: u64,
    /// RFC 3550 interarrival jitter, ms.
    pub jitter_ms: f64,
    /// Round-trip time from RTCP, ms.
    pub rtt_ms: Option<f64>,
    /// Mean jitter-buffer delay, ms.
    pub jitter_buffer_delay_ms: f64,
    /// Concealed samples / samples played.
    pub concealment_ratio: f64,
    /// E-model R factor.
    pub r_factor: f64,
    /// MOS-CQE from R.
    pub mos: f64,
}

/// The quality figures of a CDR (see [`LinkQuality`]).
pub type CdrQuality = LinkQuality;

/// JSON names of the three counters of [`LinkQuality`] (packets, lost, discarded), which the conference's
/// leg statistics spell differently from CDRs and translator statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CounterNames {
    /// Name of [`LinkQuality::packets`].
    pub packets: &'static str,
    /// Name of [`LinkQuality::lost`].
    pub lost: &'static str,
    /// Name of [`LinkQuality::discarded`].
    pub discarded: &'static str,
}

impl CounterNames {
    /// `packets`, `lost`, `discarded` (CDRs, translator statistics).
    pub const SHORT: Self = Self {
        packets: "packets",
        lost: "lost",
        discarded: "discarded",
    };
    /// `packets_received`, `packets_lost`, `packets_discarded` (conference leg statistics).
    pub const RECEIVED: Self = Self {
        packets: "packets_received",
        lost: "packets_lost",
        discarded: "packets_discarded",
    };
}

impl LinkQuality {
    /// One-way delay estimate: jitter-buffer delay plus half the RTT (when known), ms.
    pub fn one_way_delay_ms(&self) -> f64 {
        self.jitter_buffer_delay_ms + self.rtt_ms.map_or(0.0, |r| r / 2.0)
    }

    /// Fills `r_factor` and `mos` from the ITU-T G.107 E-model for `codec` (command-line name), the
    /// one-way delay estimate and `loss_pct` (percent, capped at 100).
    pub fn with_emodel(mut self, codec: &str, loss_pct: f64) -> Self {
        let em = EModel::for_leg(codec, self.one_way_delay_ms(), loss_pct.min(100.0), 1.0);
        self.r_factor = em.r();
        self.mos = em.mos();
        self
    }

    /// The figures as JSON object members, the three counters named by `names`.
    pub fn json_fields(&self, names: CounterNames) -> Map<String, Value> {
        let v = json!({
            (names.packets): self.packets, (names.lost): self.lost, (names.discarded): self.discarded,
            "duplicates": self.duplicates, "jitter_ms": self.jitter_ms, "rtt_ms": self.rtt_ms,
            "jitter_buffer_delay_ms": self.jitter_buffer_delay_ms,
            "concealment_ratio": self.concealment_ratio, "r_factor": self.r_factor, "mos": self.mos,
        });
        match v {
            Value::Object(m) => m,
            _ => unreachable!("json! of braces is an object"),
        }
    }
}

/// `base` (a JSON object) with `fields` added.
pub(crate) fn with_fields(mut base: Value, fields: Map<String, Value>) -> Value {
    if let Value::Object(m) = &mut base {
        m.extend(fields);
    }
    base
}

/// One end of a leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CdrParty {
    /// SSRC, once known.
    pub ssrc: Option<u32>,
    /// Transport address, when there is one.
    pub addr: Option<SocketAddr>,
}

/// A call detail record of one receive leg (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct Cdr {
    /// The leg's label.
    pub leg: String,
    /// Codec (command-line name).
    pub codec: String,
    /// The sending end (whose media the figures describe).
    pub from: CdrParty,
    /// The receiving end (Tutti).
    pub to: CdrParty,
    /// When the leg was set up.
    pub start: SystemTime,
    /// When its first media packet arrived.
    pub answer: Option<SystemTime>,
    /// When the leg ended (or now, for a record taken while it runs).
    pub end: SystemTime,
    /// Quality figures.
    pub quality: LinkQuality,
}

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

fn ssrc_hex(s: Option<u32>) -> Value {
    s.map_or(Value::Null, |s| Value::String(format!("{s:08x}")))
}

impl Cdr {
    /// A record for a conference leg from its statistics: `wall_at_zero` is the wall-clock time of
    /// conference time zero, `end` the conference time the record closes at, `remote` the participant's
    /// address and `local` ours.
    pub fn from_leg_stats(
        s: &LegStats,
        wall_at_zero: SystemTime,
        end: Duration,
        remote: Option<SocketAddr>,
        local: Option<SocketAddr>,
    ) -> Self {
        Self {
            leg: s.name.to_string(),
            codec: s.codec.to_string(),
            from: CdrParty {
                ssrc: s.remote_ssrc,
                addr: remote,
            },
            to: CdrParty {
                ssrc: Some(s.local_ssrc),
                addr: local,
            },
            start: wall_at_zero + s.started,
            answer: s.answered.map(|a| wall_at_zero + a),
            end: wall_at_zero + end.max(s.started),
            quality: s.quality,
        }
    }

    /// Answer-to-end duration (0 without media).
    pub fn duration(&self) -> Duration {
        self.answer
            .and_then(|a| self.end.duration_since(a).ok())
            .unwrap_or_default()
    }

    /// The record as a JSON document (`"event": "cdr"`).
    pub fn to_json(&self) -> Value {
        let q = &self.quality;
        let party = |p: &CdrParty| json!({"ssrc": ssrc_hex(p.ssrc), "addr": p.addr.map(|a| a.to_string())});
        let record = json!({
            "event": "cdr", "leg": self.leg, "codec": self.codec,
            "from": party(&self.from), "to": party(&self.to),
            "start": rfc3339(self.start), "answer": self.answer.map(rfc3339), "end": rfc3339(self.end),
            "duration_s": self.duration().as_secs_f64(), "one_way_delay_ms": q.one_way_delay_ms(),
        });
        with_fields(record, q.json_fields(CounterNames::SHORT))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duration_is_answer_to_end_and_times_are_rfc3339() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_764_000_000);
        let c = Cdr {
            leg: "a".into(),
            codec: "pcmu".into(),
            from: CdrParty {
                ssrc: Some(0xdead_beef),
                addr: Some("192.0.2.1:4000".parse().expect("address")),
            },
            to: CdrParty::default(),
            start: t0,
            answer: Some(t0 + Duration::from_millis(1500)),
            end: t0 + Duration::from_millis(61_500),
            quality: LinkQuality {
                jitter_buffer_delay_ms: 40.0,
                rtt_ms: Some(30.0),
                ..LinkQuality::default()
            },
        };
        let j = c.to_json();
        assert_eq!(j["duration_s"], 60.0);
        assert_eq!(j["start"], "2025-11-24T16:00:00.000Z");
        assert_eq!(j["answer"], "2025-11-24T16:00:01.500Z");
        assert_eq!(j["from"]["ssrc"], "deadbeef");
        assert_eq!(j["one_way_delay_ms"], 55.0);
        let keys: Vec<&str> = j
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "answer",
                "codec",
                "concealment_ratio",
                "discarded",
                "duplicates",
                "duration_s",
                "end",
                "event",
                "from",
                "jitter_buffer_delay_ms",
                "jitter_ms",
                "leg",
                "lost",
                "mos",
                "one_way_delay_ms",
                "packets",
                "r_factor",
                "rtt_ms",
                "start",
                "to"
            ]
        );
        let unanswered = Cdr { answer: None, ..c };
        assert_eq!(unanswered.duration(), Duration::ZERO);
    }
}
