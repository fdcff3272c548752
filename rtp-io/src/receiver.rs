//! Receive pipeline of one RTP stream: per-source statistics + jitter buffer + decoder.
//!
//! # What
//! [`Receiver`] takes parsed RTP packets with their arrival times and gives back fixed frames of decoded audio
//! at the codec's audio rate. It keeps the RFC 3550 receiver statistics of the source ([`SourceStats`]:
//! A.1 sequence validation, A.3 loss, A.8 interarrival jitter) next to the jitter buffer's own counters
//! ([`JitterStats`]) and reports both in [`ReceiverStats`]. Used by `tutti rtp decode`, and by conference legs.
//!
//! # How
//! Every packet of the configured payload type goes through [`SourceStats::on_packet`] (so loss, duplicates
//! and jitter are counted exactly as RFC 3550 says, even for packets the jitter buffer later throws away),
//! then into the [`JitterBuffer`] unless the source state rejects it (duplicate, or an unconfirmed sequence
//! jump, as A.1 prescribes). Packets still on probation are buffered: the first packet of a stream is audio too.
//! A new SSRC starts a fresh [`SourceStats`] (the jitter buffer resets itself). RFC 3389 comfort-noise
//! packets (payload type 13 for 8 kHz clocks by default, or the session's dynamic `CN` type set with
//! [`Receiver::set_comfort_noise_payload_type`]) share the stream's sequence numbers: they go through the
//! same source state and into the jitter buffer as comfort noise, so a DTX pause is neither loss nor silence.
//! RFC 4733 telephone events of the stream ([`Receiver::set_event_payload_type`]) likewise take their place
//! in the sequence numbering without audio.
//!
//! # Real-time safety
//! `push` and `pop` do not allocate, lock or make system calls (given a decoder that does not); a new SSRC
//! replaces the source-statistics value in place without allocating.

use std::time::Duration;

use tutti_codecs::{CodecInfo, Decoder};

use crate::jitter::{JitterBuffer, JitterConfig, JitterPacket, PlayoutKind, PushOutcome};
use crate::jitter_stats::JitterStats;
use crate::rtp_packet::RtpPacket;
use crate::source_stats::{SeqOutcome, SourceConfig, SourceStats};

/// What [`Receiver::push`] did with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiveOutcome {
    /// Passed to the jitter buffer, with its verdict.
    Buffered(PushOutcome),
    /// Rejected by the RFC 3550 source state (duplicate or unconfirmed sequence jump).
    Rejected(SeqOutcome),
    /// Not the payload type of this receiver (counted in `ignored_packets`).
    WrongPayloadType,
}

/// Statistics of one received stream.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReceiverStats {
    /// SSRC of the current source (0 before any packet).
    pub ssrc: u32,
    /// RTP packets of this receiver's payload type seen (including duplicates, and comfort-noise and event
    /// packets of the stream).
    pub packets: u64,
    /// RFC 3550 A.3 cumulative loss: expected minus received (sequence numbers never received).
    pub lost: i64,
    /// Duplicate packets (RFC 3550 source state).
    pub duplicates: u64,
    /// Packets that arrived after a higher sequence number.
    pub reordered: u64,
    /// Packets discarded by the jitter buffer because their playout time had passed (late loss).
    pub late: u64,
    /// RFC 3550 A.8 interarrival jitter at the last packet, in ms.
    pub jitter_ms: f64,
    /// Packets of other payload types handed to this receiver.
    pub ignored_packets: u64,
    /// The jitter buffer's counters.
    pub jitter_buffer: JitterStats,
}

/// One stream's receive pipeline (see the module documentation).
pub struct Receiver {
    jb: JitterBuffer,
    decoder: Box<dyn Decoder>,
    info: CodecInfo,
    payload_type: Option<u8>,
    cn_payload_type: Option<u8>,
    event_payload_type: Option<u8>,
    source: Option<SourceStats>,
    packets: u64,
    ignored: u64,
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("info", &self.info)
            .field("payload_type", &self.payload_type)
            .field("packets", &self.packets)
            .finish_non_exhaustive()
    }
}

impl Receiver {
    /// A receiver decoding with `decoder`, buffering with `cfg`, accepting only `payload_type` (or any when
    /// `None`).
    pub fn new(decoder: Box<dyn Decoder>, cfg: JitterConfig, payload_type: Option<u8>) -> Self {
        let info = decoder.info();
        Self {
            jb: JitterBuffer::new(cfg),
            decoder,
            info,
            payload_type,
            // RFC 3551: payload type 13 is CN/8000.
            cn_payload_type: (info.clock_rate == 8000 && payload_type != Some(13)).then_some(13),
            event_payload_type: None,
            source: None,
            packets: 0,
            ignored: 0,
        }
    }

    /// A receiver with the default jitter-buffer configuration for the decoder's codec (20 ms frames).
    pub fn with_decoder(decoder: Box<dyn Decoder>, payload_type: Option<u8>) -> Self {
        let cfg = JitterConfig::for_codec(&decoder.info());
        Self::new(decoder, cfg, payload_type)
    }

    /// Sets the payload type of RFC 3389 comfort-noise packets of this stream (`None`: none are expected and
    /// every packet of another payload type is ignored).
    pub fn set_comfort_noise_payload_type(&mut self, pt: Option<u8>) {
        self.cn_payload_type = pt.filter(|&p| Some(p) != self.payload_type);
    }

    /// Sets the payload type of RFC 4733 telephone events sent in this stream (same SSRC and sequence
    /// numbers as the audio): they go through the RFC 3550 source state and take their place in the jitter
    /// buffer ([`JitterBuffer::push_event`]), so the sequence numbers they use are not loss.
    pub fn set_event_payload_type(&mut self, pt: Option<u8>) {
        self.event_payload_type = pt.filter(|&p| Some(p) != self.payload_type);
    }

    /// The payload type taken as comfort noise.
    pub fn comfort_noise_payload_type(&self) -> Option<u8> {
        self.cn_payload_type
    }

    /// Facts about the codec.
    pub fn codec(&self) -> CodecInfo {
        self.info
    }

    /// Samples per channel of one output frame.
    pub fn frame_samples(&self) -> usize {
        self.jb.frame_samples()
    }

    /// Interleaved samples of one output frame.
    pub fn frame_len(&self) -> usize {
        self.jb.frame_samples() * self.info.channels.max(1)
    }

    /// The jitter buffer (for its target/current delay and state).
    pub fn jitter_buffer(&self) -> &JitterBuffer {
        &self.jb
    }

    /// The RFC 3550 state of the current source.
    pub fn source(&self) -> Option<&SourceStats> {
        self.source.as_ref()
    }

    /// Mutable RFC 3550 state (to feed sender reports: [`SourceStats::on_sender_report`]).
    pub fn source_mut(&mut self) -> Option<&mut SourceStats> {
        self.source.as_mut()
    }

    /// Takes a packet that arrived at `now` (the same clock as given to [`Receiver::pop`]).
    pub fn push(&mut self, now: Duration, pkt: &RtpPacket<'_>) -> ReceiveOutcome {
        let cn = self.cn_payload_type == Some(pkt.payload_type());
        let event = self.event_payload_type == Some(pkt.payload_type());
        if !cn && !event && self.payload_type.is_some_and(|pt| pt != pkt.payload_type()) {
            self.ignored += 1;
            return ReceiveOutcome::WrongPayloadType;
        }
        self.packets += 1;
        let (ssrc, seq, ts) = (pkt.ssrc(), pkt.sequence_number(), pkt.timestamp());
        if self.source.as_ref().map_or(true, |s| s.ssrc() != ssrc) {
            self.source = Some(SourceStats::new(
                ssrc,
                seq,
                SourceConfig::new(self.info.clock_rate),
            ));
        }
        let src = self.source.as_mut().expect("set just above");
        let outcome = src.on_packet(seq, ts, now.as_micros() as u64);
        if matches!(outcome, SeqOutcome::Duplicate | SeqOutcome::BadSequence) {
            return ReceiveOutcome::Rejected(outcome);
        }
        let jp = JitterPacket {
            ssrc,
            seq,
            timestamp: ts,
            marker: pkt.marker(),
            payload: pkt.payload(),
        };
        if cn {
            return ReceiveOutcome::Buffered(self.jb.push_comfort_noise(now, &jp));
        }
        if event {
            return ReceiveOutcome::Buffered(self.jb.push_event(now, &jp));
        }
        ReceiveOutcome::Buffered(self.jb.push(now, &jp))
    }

    /// Fills `out` (interleaved; normally [`Receiver::frame_len`] samples) with the audio due at `now`.
    pub fn pop(&mut self, now: Duration, out: &mut [i16]) -> PlayoutKind {
        self.jb.pop(now, self.decoder.as_mut(), out)
    }

    /// Decoded samples per channel waiting to be played.
    pub fn buffered_samples(&self) -> usize {
        self.jb.buffered_samples()
    }

    /// The decoder's algorithmic delay in samples per channel (e.g. 30 for G.711 with Appendix I PLC).
    pub fn decoder_delay(&self) -> usize {
        self.decoder.delay_samples()
    }

    /// Takes the decoded samples not yet played (end of stream): see [`JitterBuffer::drain`].
    pub fn drain(&mut self, out: &mut [i16]) -> usize {
        self.jb.drain(out)
    }

    /// Whether anything is left to play (buffered packets or decoded samples).
    pub fn has_pending_audio(&self) -> bool {
        self.jb.buffered_packets() > 0 || self.jb.buffered_samples() >= self.jb.frame_samples()
    }

    /// Statistics so far.
    pub fn stats(&self) -> ReceiverStats {
        let jb = self.jb.stats();
        let (ssrc, lost, duplicates, reordered, jitter_ms) = match &self.source {
            Some(s) => (s.ssrc(), s.lost(), s.duplicates(), s.reordered(), s.jitter_ms()),
            None => (0, 0, 0, 0, 0.0),
        };
        ReceiverStats {
            ssrc,
            packets: self.packets,
            lost,
            duplicates,
            reordered,
            late: jb.late_packets,
            jitter_ms,
            ignored_packets: self.ignored,
            jitter_buffer: jb,
        }
    }
}
