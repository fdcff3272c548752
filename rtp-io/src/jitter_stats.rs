//! Jitter-buffer statistics, named after the W3C webrtc-stats `RTCInboundRtpStreamStats` members.
//!
//! # What
//! [`JitterStats`] counts what the jitter buffer did: emitted samples and their cumulative delay
//! (`jitterBufferDelay` / `jitterBufferEmittedCount`), the target delay, concealment, time-scale modification,
//! discarded, late, duplicate and lost packets.
//!
//! # How
//! Plain counters updated by [`crate::JitterBuffer`]; delays accumulate in seconds × samples as in
//! <https://www.w3.org/TR/webrtc-stats/#dom-rtcinboundrtpstreamstats-jitterbufferdelay>, so the mean delay is
//! `jitter_buffer_delay / jitter_buffer_emitted_count`.
//!
//! # Real-time safety
//! `Copy` data only.

/// Counters of one jitter buffer (samples are per channel, at the codec's audio rate).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct JitterStats {
    /// Audio rate the sample counters refer to, in Hz.
    pub sample_rate: u32,
    /// webrtc-stats `jitterBufferDelay`: sum over decoded samples of the time from the packet's arrival until
    /// the sample is played, in seconds.
    pub jitter_buffer_delay: f64,
    /// webrtc-stats `jitterBufferTargetDelay`: sum over decoded samples of the target delay at the time, in
    /// seconds.
    pub jitter_buffer_target_delay: f64,
    /// webrtc-stats `jitterBufferEmittedCount`: decoded samples that went out of the buffer.
    pub jitter_buffer_emitted_count: u64,
    /// webrtc-stats `totalSamplesReceived`: every sample emitted (decoded, concealed, silence).
    pub total_samples_received: u64,
    /// webrtc-stats `concealedSamples`: samples produced by packet-loss concealment (incl. silent ones).
    pub concealed_samples: u64,
    /// webrtc-stats `silentConcealedSamples`: concealed samples that were silence (after the codec's PLC gave
    /// up).
    pub silent_concealed_samples: u64,
    /// webrtc-stats `concealmentEvents`: runs of concealment preceded by real audio.
    pub concealment_events: u64,
    /// Samples recovered from forward error correction of the next packet (Opus in-band FEC).
    pub fec_samples: u64,
    /// webrtc-stats `insertedSamplesForDeceleration`: samples added by expand (time stretching).
    pub inserted_samples_for_deceleration: u64,
    /// webrtc-stats `removedSamplesForAcceleration`: samples removed by accelerate.
    pub removed_samples_for_acceleration: u64,
    /// Samples of silence played in DTX gaps (the sender paused: timestamp gap without sequence gap) and
    /// while waiting for a talkspurt to start.
    pub dtx_samples: u64,
    /// Samples of comfort noise (RFC 3389) played in DTX pauses (a subset of `dtx_samples`).
    pub comfort_noise_samples: u64,
    /// Comfort-noise packets received and played (they are neither loss nor audio).
    pub comfort_noise_packets: u64,
    /// Packets without audio that took a sequence number (RFC 4733 events, `JitterBuffer::push_event`).
    pub event_packets: u64,
    /// Packets accepted into the buffer.
    pub packets_received: u64,
    /// webrtc-stats `packetsDiscarded`: packets thrown away because they came too late, too early or the
    /// buffer overflowed (duplicates are not included).
    pub packets_discarded: u64,
    /// Late loss: packets that arrived after their playout time had passed (subset of `packets_discarded`).
    pub late_packets: u64,
    /// Packets dropped because the buffer was full (subset of `packets_discarded`).
    pub overflow_packets: u64,
    /// Duplicates of packets already buffered or played.
    pub duplicate_packets: u64,
    /// Sequence numbers skipped at playout because the packet was missing (concealed). A packet that arrives
    /// after being skipped is also counted in `late_packets`.
    pub lost_packets: u64,
    /// Packets whose payload the decoder rejected (concealed instead).
    pub decode_errors: u64,
    /// Packets that arrived out of sequence order (but in time).
    pub reordered_packets: u64,
    /// Resets after an SSRC change or a sequence-number jump.
    pub resets: u64,
    /// Frames in which accelerate ran.
    pub accelerate_events: u64,
    /// Frames in which expand (deceleration) ran.
    pub expand_events: u64,
}

impl JitterStats {
    fn ms(&self, samples: u64) -> f64 {
        if self.sample_rate == 0 {
            0.0
        } else {
            samples as f64 * 1000.0 / f64::from(self.sample_rate)
        }
    }

    /// Milliseconds of decoded (real) audio played, including time-scale modified audio.
    pub fn played_ms(&self) -> f64 {
        self.ms(self.jitter_buffer_emitted_count)
    }

    /// Milliseconds of concealment played.
    pub fn concealed_ms(&self) -> f64 {
        self.ms(self.concealed_samples)
    }

    /// Mean delay of played samples in the buffer, in ms (`jitterBufferDelay / jitterBufferEmittedCount`).
    pub fn mean_delay_ms(&self) -> f64 {
        if self.jitter_buffer_emitted_count == 0 {
            0.0
        } else {
            1000.0 * self.jitter_buffer_delay / self.jitter_buffer_emitted_count as f64
        }
    }

    /// Mean target delay in ms.
    pub fn mean_target_delay_ms(&self) -> f64 {
        if self.jitter_buffer_emitted_count == 0 {
            0.0
        } else {
            1000.0 * self.jitter_buffer_target_delay / self.jitter_buffer_emitted_count as f64
        }
    }

    /// Fraction of all emitted samples that were concealment.
    pub fn concealment_ratio(&self) -> f64 {
        if self.total_samples_received == 0 {
            0.0
        } else {
            self.concealed_samples as f64 / self.total_samples_received as f64
        }
    }
}
