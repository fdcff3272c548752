//! Statistics of a translator: one set per leg (incoming, outgoing) in the shape of the conference's
//! [`crate::conference::LegStats`] (webrtc-stats names, ITU-T G.107 E-model), plus transport counters.

use serde_json::{json, Value};

use crate::cdr::{with_fields, CounterNames, LinkQuality};

/// Statistics of one leg of a translator.
#[derive(Debug, Clone, PartialEq)]
pub struct TranslatorLegStats {
    /// Codec of the leg (command-line name).
    pub codec: &'static str,
    /// RTP payload type of the leg.
    pub payload_type: u8,
    /// SSRC of the stream (the same on both legs), once known.
    pub ssrc: Option<u32>,
    /// Quality figures. `packets`: incoming leg, RTP packets received of the stream; outgoing leg, RTP
    /// packets sent. `lost`, `jitter_ms`: incoming, as we count them; outgoing, as the far receiver reports
    /// them. `discarded`: packets that arrived too late (after their audio was sent) or of an unexpected
    /// payload type. `rtt_ms`: outgoing, to the far receiver, through its reports on the sender reports we
    /// forwarded. `jitter_buffer_delay_ms`: incoming, the mean time audio is held in the translator
    /// (packet arrival to the send of the packet carrying it, plus the resampler's and chain's delay);
    /// outgoing, 0 (not reported by RTCP). `concealment_ratio`: 0 on the outgoing leg. `r_factor`, `mos`:
    /// ITU-T G.107 E-model from codec, delay (RTT/2 + held delay) and loss.
    pub quality: LinkQuality,
}

impl TranslatorLegStats {
    /// Fills `r_factor` and `mos` from the leg's codec, delay (RTT/2 + held delay) and loss.
    pub(crate) fn with_emodel(mut self, expected: f64) -> Self {
        let loss_pct = if expected > 0.0 {
            100.0 * self.quality.lost.max(0) as f64 / expected
        } else {
            0.0
        };
        self.quality = self.quality.with_emodel(self.codec, loss_pct);
        self
    }

    /// The statistics as JSON (SSRC as 8 hex digits).
    pub fn to_json(&self) -> Value {
        let leg = json!({
            "codec": self.codec, "payload_type": self.payload_type,
            "ssrc": self.ssrc.map(|s| format!("{s:08x}")),
        });
        with_fields(leg, self.quality.json_fields(CounterNames::SHORT))
    }
}

/// Transport and processing counters of a translator.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TranslatorCounters {
    /// Datagrams received from the sender (RTP and RTCP).
    pub rx_upstream: u64,
    /// Datagrams received from the far receiver (RTCP).
    pub rx_downstream: u64,
    /// Datagrams dropped as malformed (bad RTP or RTCP, oversized, neither RTP nor RTCP).
    pub malformed: u64,
    /// RTP packets of another SSRC than the stream's (dropped).
    pub foreign_ssrc: u64,
    /// RTP packets sent downstream.
    pub tx_rtp: u64,
    /// RTP payload octets sent downstream.
    pub tx_payload_bytes: u64,
    /// RTCP compounds forwarded downstream (the sender's, with the sender info rewritten).
    pub tx_rtcp_downstream: u64,
    /// RTCP compounds sent upstream (our receiver reports about the incoming leg, BYE).
    pub tx_rtcp_upstream: u64,
    /// Outgoing datagrams overwritten because the host did not poll them.
    pub tx_overflow: u64,
    /// Encoder failures (frame not sent; also a refused rate-adaptation setting).
    pub encode_errors: u64,
    /// TMMBN sent downstream in answer to the far receiver's TMMBR (RFC 5104).
    pub tx_tmmbn: u64,
    /// Changes of the output encoder's bitrate/FEC made by rate adaptation.
    pub rate_changes: u64,
    /// Decoder failures (payload concealed instead).
    pub decode_errors: u64,
    /// Talkspurts (segments of continuous output timing) started.
    pub talkspurts: u64,
    /// Samples (input rate) concealed by the input codec's PLC.
    pub concealed_samples: u64,
    /// Samples (input rate) filled with silence in short pauses.
    pub silence_samples: u64,
    /// Samples (input rate) of the stream in all (decoded, concealed, filled).
    pub total_samples: u64,
}

/// Statistics of a translator.
#[derive(Debug, Clone, PartialEq)]
pub struct TranslatorStats {
    /// The incoming leg (sender → translator).
    pub incoming: TranslatorLegStats,
    /// The outgoing leg (translator → far receiver).
    pub outgoing: TranslatorLegStats,
    /// Counters.
    pub counters: TranslatorCounters,
    /// Rate adaptation of an Opus output: encoder bitrate, FEC and expected loss now.
    pub rate: Option<tutti_rtp::RateDecision>,
}

impl TranslatorStats {
    /// The statistics as JSON.
    pub fn to_json(&self) -> Value {
        let c = &self.counters;
        json!({
            "incoming": self.incoming.to_json(),
            "outgoing": self.outgoing.to_json(),
            "counters": {
                "rx_upstream": c.rx_upstream, "rx_downstream": c.rx_downstream, "malformed": c.malformed,
                "foreign_ssrc": c.foreign_ssrc, "tx_rtp": c.tx_rtp, "tx_payload_bytes": c.tx_payload_bytes,
                "tx_rtcp_downstream": c.tx_rtcp_downstream, "tx_rtcp_upstream": c.tx_rtcp_upstream,
                "tx_overflow": c.tx_overflow, "encode_errors": c.encode_errors,
                "decode_errors": c.decode_errors, "talkspurts": c.talkspurts,
                "concealed_samples": c.concealed_samples, "silence_samples": c.silence_samples,
                "total_samples": c.total_samples, "tx_tmmbn": c.tx_tmmbn, "rate_changes": c.rate_changes,
            },
            "target_bitrate_bps": self.rate.map(|r| r.bitrate_bps), "fec": self.rate.map(|r| r.fec),
            "expected_loss_pct": self.rate.map(|r| r.expected_loss_pct),
        })
    }
}
