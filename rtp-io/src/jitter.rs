//! Adaptive jitter buffer: RTP packets in at arrival times, fixed audio frames out at the playout clock.
//!
//! # What
//! [`JitterBuffer`] is sans-IO: [`JitterBuffer::push`] takes a packet ([`JitterPacket`]: SSRC, sequence
//! number, timestamp, marker, payload) with its arrival time; [`JitterBuffer::pop`] is called once per output
//! frame (10 or 20 ms) with the current time and a [`Decoder`], and fills the frame with decoded audio,
//! time-stretched audio, the codec's concealment, FEC recovery or silence, reporting which in a
//! [`PlayoutKind`]. It handles reordering, duplicates, late packets (discarded and counted), bursty loss, DTX
//! gaps (a timestamp gap without a sequence gap is a pause, played as silence and not counted as loss),
//! timestamp jumps, talkspurts (the delay is re-chosen at each talkspurt start), SSRC changes (reset) and
//! sender clock skew. Statistics are in [`JitterStats`] (webrtc-stats names). RFC 3389 comfort-noise
//! packets go in through [`JitterBuffer::push_comfort_noise`]: they take part in sequence numbering (so a
//! DTX period announced by CN is not loss) and the pause after them is filled with comfort noise
//! ([`CnGenerator`], [`PlayoutKind::ComfortNoise`]) instead of silence. RFC 4733 telephone-event packets of
//! the stream go in through [`JitterBuffer::push_event`]: they take their sequence numbers (not loss) and the
//! time they cover is a pause.
//!
//! # How
//! Modelled on WebRTC NetEQ (`delay_manager.cc`, `decision_logic.cc`):
//! * The **continuous target delay** `T` is the 0.985 quantile `q` of the relative arrival delay
//!   ([`DelayEstimator`]) plus a margin for the decode phase (a packet is decoded up to one frame before its
//!   first sample plays; one that misses that moment is concealed, and still decoded if it arrives within
//!   its own duration): one frame while `q` is within one frame (the phase is arbitrary in real traffic, and
//!   packets of another length than the frame move it from packet to packet), then
//!   `max(frame · max((frame / q)², 0.3), 0.07 q)`: the quantile, which scales with the jitter, protects,
//!   and the share `0.07 q` keeps the protection in proportion where one frame of second chance is small
//!   against the spread (80 ms jitter); bounded by the configured minimum and maximum.
//! * The **playout delay** `D` of each decoded packet is the time its first sample will be played minus the
//!   time it would have arrived on the fastest path of the last two seconds
//!   (`ts/clock + min transit`). With a steady network `D` is constant from packet to packet, independent of
//!   packet and frame sizes, so it is compared with `T` directly: above `T + h` the buffer *accelerates*
//!   (removes a pitch period, [`Tsm`]), below `T − h` it *expands* (inserts a pitch period; during the first
//!   250 packets of a stream up to [`JitterConfig::max_expands_per_packet`] periods while `D` is more than a
//!   frame short, so the start-up with an empty histogram catches up before packets turn late). Sender
//!   clock skew drifts `D` slowly and is corrected the same way.
//! * **Phase-aligned playout.** `D = E + u`, where the *slack* `E` is the time of the `pop` that decodes the
//!   packet minus its fastest-path arrival, and the *phase* `u` is the audio still unplayed at that
//!   moment. Only `E` decides whether the packet is there in time (concealed if `r > E`, lost if
//!   `r > E + its duration`, `r` its relative delay); `u` is pure delay. When packets last a whole number
//!   of output frames, `E` can only take values on a grid of frame steps (output frames start at the `pop`
//!   times, packet timestamps step by whole frames), so the buffer may aim at the lowest grid value whose
//!   slack covers `q + min(0.25 frame, 0.4 q) · min(1, (frame / q)²)` with `u ≈ 0` instead: it does so whenever that
//!   costs no more delay than `T`. Then the target is that grid value; a slack a frame off moves the stream
//!   by accelerate / expand, and a phase at the right slack is trimmed by an accelerate of at most `u`
//!   ([`Tsm::accelerate_at_most`]), which keeps the next decode in the same frame. Without jitter this plays
//!   every packet at the first frame boundary after its arrival, the least delay any frame-by-frame
//!   playout can have. (The earlier rule, always `T` with an arbitrary phase, played 10 ms later there and
//!   was 5 ms above this at 80 ms jitter: `rtp-io/README.md`.)
//! * A **talkspurt** (the first packet, or the first after a DTX gap or a reset) starts exactly when its `D`
//!   reaches `T` (aligned: at the frame boundary nearest to it), padding silence before it: the delay
//!   re-adapts at every talkspurt for free.
//! * A missing packet is concealed by the codec (`conceal`, or `decode_fec` with the next packet's payload
//!   when FEC is enabled) one chunk at a time, without advancing the playout timestamp; if the packet turns
//!   up while concealing it is decoded (the delay grew, and accelerate brings it back), otherwise once the
//!   concealment covers the gap the next packet is decoded and the missing sequence numbers count as lost;
//!   a packet arriving after that is late (discarded). After `max_conceal_ms` of concealment the codec's
//!   output is replaced by silence (webrtc `silentConcealedSamples`).
//! * A comfort-noise packet (RFC 3389 §4: sent at the start of a DTX period and to update the noise while
//!   it lasts) is consumed when it reaches the head: it ends the talkspurt like a DTX gap does, its
//!   parameters update the generator, and every pause sample until the next talkspurt is comfort noise.
//! * Packet payloads are copied into a preallocated pool of slots kept in sequence order.
//! * Decoded audio lives in a contiguous sync buffer (history, then unplayed samples) that the decoder and
//!   [`Tsm`] work in directly; played samples are shifted out only once every 16 output frames, so a pop
//!   costs the copy of its own frame plus an amortised 1/16 of the history shift.
//!
//! # Real-time safety
//! All memory is allocated in [`JitterBuffer::new`]; `push` and `pop` never allocate, lock, log or make
//! system calls (proven by a counting-allocator test), provided the decoder's methods do not either.

use std::collections::VecDeque;
use std::time::Duration;

use tutti_codecs::{CnGenerator, CnPayload, Decoder};

use crate::jitter_delay::DelayEstimator;
use crate::jitter_stats::JitterStats;
use crate::tsm::Tsm;

mod adapt;

/// Output frames played between two shifts of the sync buffer.
const COMPACT_EVERY: usize = 16;

/// Jitter-buffer configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct JitterConfig {
    /// RTP clock rate in Hz (8000 for G.722, 48000 for Opus).
    pub clock_rate: u32,
    /// Rate of the decoded audio in Hz.
    pub audio_rate: u32,
    /// Channels of the decoded audio.
    pub channels: usize,
    /// Output frame length in ms (10 or 20; any whole number of ms works).
    pub frame_ms: u32,
    /// Packets the buffer can hold.
    pub slots: usize,
    /// Largest payload accepted, in bytes.
    pub max_payload: usize,
    /// Longest packet (decoded audio) in ms.
    pub max_packet_ms: u32,
    /// Lower bound of the target delay in ms.
    pub min_delay_ms: u32,
    /// Upper bound of the target delay in ms.
    pub max_delay_ms: u32,
    /// Quantile of the relative delay the target covers (default 0.985; NetEQ uses 0.95, which leaves about
    /// 1.3 % late loss under gamma jitter of 40 ms mean; `rtp-io/README.md` has the table).
    pub quantile: f64,
    /// Smallest margin added to the quantile, in output frames (default 0.3). The margin covers the decode
    /// phase (a packet is decoded up to one frame before its first sample plays): one frame while the
    /// quantile `q` is below one frame, then `(frame / q)²` frames, not below this. A whole frame at any
    /// jitter (the earlier rule) cost delay where the quantile already protects: `rtp-io/README.md`.
    pub margin_frames: f64,
    /// Margin proportional to the quantile (default 0.07): the margin of the continuous target is at least
    /// this share of `q`. The second chance a late packet has (its own duration) shrinks against the spread
    /// of the delays as the jitter grows; without it late loss at 80 ms jitter exceeded SpeexDSP's.
    pub margin_share: f64,
    /// Most pitch periods inserted after one packet during the first 250 packets of a stream while the delay
    /// is more than a frame below the target (default 4; later always one): the start-up, with an almost
    /// empty histogram, catches up before packets turn late.
    pub max_expands_per_packet: usize,
    /// Per-packet forget factor of the delay histogram (NetEQ: 0.983).
    pub forget_factor: f64,
    /// Concealment by the codec lasts at most this long before turning into silence, in ms.
    pub max_conceal_ms: u32,
    /// Half-width of the dead band around the target delay in ms (no time stretching inside it).
    pub hysteresis_ms: u32,
    /// Recover a lost packet with `decode_fec` on the next packet (for codecs with in-band FEC, i.e. Opus).
    pub fec: bool,
    /// Phase-aligned playout (default on): when packets last a whole number of output frames, decode each
    /// packet at the start of the output frame that plays it, at the lowest frame boundary the quantile
    /// allows, whenever that costs no more delay than the continuous target (module docs, "How").
    pub phase_align: bool,
    /// Margin of the aligned slack over the quantile, in output frames (default 0.25; at most 40 % of the
    /// quantile `q`, and shrinking as `(frame / q)²` once `q` exceeds a frame): an aligned packet that
    /// misses its frame is concealed for a whole frame, so at small jitter the slack keeps a little more
    /// than the quantile.
    pub align_margin_frames: f64,
}

impl JitterConfig {
    /// Defaults for a codec with the given RTP clock rate, audio rate and channel count (20 ms frames).
    pub fn new(clock_rate: u32, audio_rate: u32, channels: usize) -> Self {
        Self {
            clock_rate: clock_rate.max(1),
            audio_rate: audio_rate.max(1),
            channels: channels.max(1),
            frame_ms: 20,
            slots: 256,
            max_payload: 1500,
            max_packet_ms: 120,
            min_delay_ms: 0,
            max_delay_ms: 1000,
            quantile: 0.985,
            margin_frames: 0.3,
            margin_share: 0.07,
            max_expands_per_packet: 4,
            forget_factor: 0.983,
            max_conceal_ms: 100,
            hysteresis_ms: 5,
            fec: false,
            phase_align: true,
            align_margin_frames: 0.25,
        }
    }

    /// Defaults for a codec (FEC enabled for Opus).
    pub fn for_codec(info: &tutti_codecs::CodecInfo) -> Self {
        let mut c = Self::new(info.clock_rate, info.audio_rate, info.channels);
        c.fec = info.rtp_name.eq_ignore_ascii_case("opus");
        c
    }

    /// Samples per channel in one output frame.
    pub fn frame_samples(&self) -> usize {
        (self.audio_rate as usize * self.frame_ms as usize / 1000).max(1)
    }
}

/// One RTP packet as the jitter buffer needs it (the payload is copied on push).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JitterPacket<'a> {
    /// Synchronisation source; a change resets the buffer.
    pub ssrc: u32,
    /// RTP sequence number.
    pub seq: u16,
    /// RTP timestamp.
    pub timestamp: u32,
    /// RTP marker bit (first packet of a talkspurt for audio).
    pub marker: bool,
    /// Codec payload.
    pub payload: &'a [u8],
}

/// What [`JitterBuffer::push`] did with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOutcome {
    /// Buffered for playout.
    Stored,
    /// A copy of a packet already buffered or played: dropped.
    Duplicate,
    /// Its playout time has passed: dropped (late loss).
    Late,
    /// The buffer is full: dropped.
    Overflow,
    /// Payload larger than [`JitterConfig::max_payload`]: dropped.
    TooLarge,
}

/// How a frame returned by [`JitterBuffer::pop`] was made (the most significant operation that produced audio
/// during the call; the order of the variants is their significance).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PlayoutKind {
    /// Decoded packets, unmodified.
    Normal,
    /// Decoded packets shortened by a pitch period (delay too high).
    Accelerated,
    /// Decoded packets lengthened by a pitch period (delay too low).
    Expanded,
    /// Silence: before the first packet, while waiting for a talkspurt, or in a DTX pause.
    Silence,
    /// Comfort noise (RFC 3389) in a DTX pause announced by a comfort-noise packet.
    ComfortNoise,
    /// A lost packet recovered from the next packet's forward error correction.
    Fec,
    /// Packet-loss concealment (the codec's, or silence once it has run too long).
    Concealed,
}

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    seq: i64,
    ts: i64,
    len: usize,
    arrival_us: i64,
    kind: SlotKind,
}

/// What a buffered packet carries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum SlotKind {
    /// Codec audio.
    #[default]
    Audio,
    /// RFC 3389 comfort-noise parameters.
    ComfortNoise,
    /// No audio (an RFC 4733 telephone event): it only takes its place in the sequence numbering.
    Event,
}

/// The adaptive jitter buffer (see the module documentation).
#[derive(Debug)]
pub struct JitterBuffer {
    cfg: JitterConfig,
    frame: usize,
    ch: usize,
    slots: Vec<Slot>,
    pool: Vec<u8>,
    free: Vec<usize>,
    order: VecDeque<usize>,
    ssrc: Option<u32>,
    // Sequence / timestamp extension reference (the highest sequence number seen).
    ref_seq: u16,
    ref_ts: u32,
    highest_seq: i64,
    highest_ts: i64,
    have_ref: bool,
    // Playout state.
    playing: bool,
    decoded_seq: Option<i64>,
    played_mask: u64,
    next_ts: i64,
    pkt_dur_ts: i64,
    gap_concealed_ts: i64,
    conceal_run: usize,
    in_concealment: bool,
    run_concealed: u64,
    run_silent: u64,
    run_event: bool,
    decoder_reset: bool,
    // Audio: history (already played, kept for time stretching) followed by unplayed samples.
    sync: Vec<i16>,
    sync_len: usize,
    sync_pos: usize,
    hist_keep: usize,
    slack: usize,
    tsm: Tsm,
    cn: CnGenerator,
    cn_active: bool,
    est: DelayEstimator,
    min_transit_us: i64,
    target_ms: f64,
    last_delay_ms: f64,
    // Phase-aligned playout: `decode time − ts` (µs) of the last decoded packet (its value modulo the frame
    // is the stream's phase), the aligned level (the `decode time − ts` packets are aimed at), whether the
    // aligned target is in use, and the continuous target (ms).
    phase_ref_us: Option<i64>,
    align_level_us: Option<i64>,
    // Whether the last `pop` asked for whole output frames (the frame grid is the pop grid).
    whole_pops: bool,
    aligned: bool,
    cont_target_ms: f64,
    // Decode slack `E` (decode time − fastest arrival, ms) and decode phase `u` (unplayed samples when it was
    // decoded) of the last decoded packet.
    last_slack_ms: f64,
    last_phase: usize,
    stats: JitterStats,
}

impl JitterBuffer {
    /// A buffer with all its memory allocated.
    pub fn new(cfg: JitterConfig) -> Self {
        let mut cfg = cfg;
        cfg.clock_rate = cfg.clock_rate.max(1);
        cfg.audio_rate = cfg.audio_rate.max(1);
        cfg.channels = cfg.channels.max(1);
        cfg.slots = cfg.slots.max(2);
        cfg.max_delay_ms = cfg.max_delay_ms.max(cfg.min_delay_ms).max(20);
        let frame = cfg.frame_samples();
        let ch = cfg.channels;
        let tsm = Tsm::new(cfg.audio_rate, ch);
        let max_packet =
            (cfg.audio_rate as usize * cfg.max_packet_ms.max(cfg.frame_ms) as usize / 1000).max(1);
        let hist_keep = 2 * tsm.max_lag();
        // Room for one pop's work after the history, plus slack so that played samples are shifted out
        // (one memmove of history + unplayed samples) only once every COMPACT_EVERY frames.
        let slack = COMPACT_EVERY * frame;
        let cap = hist_keep + 2 * frame + 3 * tsm.max_lag() + 3 * max_packet + 16 + slack;
        let stats = JitterStats {
            sample_rate: cfg.audio_rate,
            ..JitterStats::default()
        };
        Self {
            frame,
            ch,
            slots: vec![Slot::default(); cfg.slots],
            pool: vec![0; cfg.slots * cfg.max_payload],
            free: (0..cfg.slots).rev().collect(),
            order: VecDeque::with_capacity(cfg.slots),
            ssrc: None,
            ref_seq: 0,
            ref_ts: 0,
            highest_seq: 0,
            highest_ts: 0,
            have_ref: false,
            playing: false,
            decoded_seq: None,
            played_mask: 0,
            next_ts: 0,
            pkt_dur_ts: i64::from(cfg.clock_rate) * i64::from(cfg.frame_ms) / 1000,
            gap_concealed_ts: 0,
            conceal_run: 0,
            in_concealment: false,
            run_concealed: 0,
            run_silent: 0,
            run_event: false,
            decoder_reset: false,
            sync: vec![0; cap * ch],
            sync_len: hist_keep,
            sync_pos: hist_keep,
            hist_keep,
            slack,
            tsm,
            cn: CnGenerator::new(0x5EED_C0F0),
            cn_active: false,
            est: DelayEstimator::new(cfg.max_delay_ms, cfg.quantile, cfg.forget_factor),
            min_transit_us: 0,
            target_ms: f64::from(cfg.min_delay_ms),
            last_delay_ms: 0.0,
            phase_ref_us: None,
            align_level_us: None,
            whole_pops: true,
            aligned: false,
            cont_target_ms: f64::from(cfg.min_delay_ms),
            last_slack_ms: 0.0,
            last_phase: 0,
            stats,
            cfg,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &JitterConfig {
        &self.cfg
    }

    /// Samples per channel of one output frame.
    pub fn frame_samples(&self) -> usize {
        self.frame
    }

    /// Counters so far.
    pub fn stats(&self) -> JitterStats {
        self.stats
    }

    /// Current target delay in ms.
    pub fn target_delay_ms(&self) -> f64 {
        self.target_ms
    }

    /// Playout delay `D` (see the module docs) of the last decoded packet, in ms.
    pub fn current_delay_ms(&self) -> f64 {
        self.last_delay_ms
    }

    /// Packets waiting in the buffer.
    pub fn buffered_packets(&self) -> usize {
        self.order.len()
    }

    /// Decoded samples per channel not yet played.
    pub fn buffered_samples(&self) -> usize {
        self.unplayed()
    }

    /// Copies the decoded samples not yet played into `out` (interleaved) without producing anything new, and
    /// returns the samples per channel copied: for draining the buffer at the end of a stream.
    pub fn drain(&mut self, out: &mut [i16]) -> usize {
        let n = self.unplayed().min(out.len() / self.ch);
        let a = self.sync_pos * self.ch;
        out[..n * self.ch].copy_from_slice(&self.sync[a..a + n * self.ch]);
        self.sync_pos += n;
        self.stats.total_samples_received += n as u64;
        n
    }

    /// Whether a talkspurt is being played (false before the first packet and in pauses).
    pub fn is_playing(&self) -> bool {
        self.playing
    }

    fn ts_to_us(&self, ts: i64) -> i64 {
        ts * 1_000_000 / i64::from(self.cfg.clock_rate)
    }

    fn samples_to_ts(&self, n: usize) -> i64 {
        n as i64 * i64::from(self.cfg.clock_rate) / i64::from(self.cfg.audio_rate)
    }

    fn ts_to_samples(&self, ts: i64) -> usize {
        (ts.max(0) * i64::from(self.cfg.audio_rate) / i64::from(self.cfg.clock_rate)) as usize
    }

    fn samples_to_us(&self, n: usize) -> i64 {
        n as i64 * 1_000_000 / i64::from(self.cfg.audio_rate)
    }

    /// Forgets the stream (buffered packets, playout position) but keeps statistics and the delay histogram.
    /// The decoder is reset at the next [`JitterBuffer::pop`].
    pub fn reset(&mut self) {
        while let Some(i) = self.order.pop_front() {
            self.free.push(i);
        }
        self.have_ref = false;
        self.playing = false;
        self.decoded_seq = None;
        self.played_mask = 0;
        self.clear_conceal_run();
        self.decoder_reset = true;
        self.cn_active = false;
        self.est.reset_window();
        self.phase_ref_us = None;
        self.align_level_us = None;
        self.aligned = false;
    }

    /// Accepts a packet that arrived at `now` (any monotonic clock, the same as given to `pop`).
    pub fn push(&mut self, now: Duration, p: &JitterPacket<'_>) -> PushOutcome {
        self.push_packet(now, p, SlotKind::Audio)
    }

    /// Accepts an RFC 3389 comfort-noise packet of the same stream (payload type 13, or the dynamic `CN` type
    /// of the session) that arrived at `now`: it counts in the sequence numbering, and the DTX pause that
    /// follows it is filled with comfort noise at its level and spectrum. A malformed payload is counted in
    /// `decode_errors` and the pause keeps the previous noise.
    pub fn push_comfort_noise(&mut self, now: Duration, p: &JitterPacket<'_>) -> PushOutcome {
        self.push_packet(now, p, SlotKind::ComfortNoise)
    }

    /// Accepts a packet of the same stream that carries no audio but takes a sequence number: an RFC 4733
    /// telephone-event packet (its payload is not kept). Its sequence number is not counted as lost, the
    /// talkspurt ends at it (a sender replaces audio by events while a digit lasts) and the pause is silence
    /// until audio resumes. Its timestamp (the event's start, repeated by every packet of the event) does
    /// not feed the delay estimate.
    pub fn push_event(&mut self, now: Duration, p: &JitterPacket<'_>) -> PushOutcome {
        let q = JitterPacket { payload: &[], ..*p };
        self.push_packet(now, &q, SlotKind::Event)
    }

    fn push_packet(&mut self, now: Duration, p: &JitterPacket<'_>, kind: SlotKind) -> PushOutcome {
        if p.payload.len() > self.cfg.max_payload {
            self.stats.packets_discarded += 1;
            return PushOutcome::TooLarge;
        }
        if self.ssrc.is_some_and(|s| s != p.ssrc) {
            self.reset();
            self.stats.resets += 1;
        }
        self.ssrc = Some(p.ssrc);
        // Extend sequence number and timestamp relative to the highest packet seen.
        let (seq, ts) = if self.have_ref {
            let ds = i64::from(p.seq.wrapping_sub(self.ref_seq) as i16);
            let dt = i64::from(p.timestamp.wrapping_sub(self.ref_ts) as i32);
            if !(-100..=3000).contains(&ds) {
                // RFC 3550 A.1 MAX_DROPOUT / MAX_MISORDER exceeded: the sender restarted its sequence.
                self.reset();
                self.stats.resets += 1;
                self.set_reference(p);
                (self.highest_seq, self.highest_ts)
            } else {
                (self.highest_seq + ds, self.highest_ts + dt)
            }
        } else {
            self.set_reference(p);
            (self.highest_seq, self.highest_ts)
        };
        // Duplicates: already played, or already buffered.
        if let Some(d) = self.decoded_seq {
            if seq <= d && d - seq < 64 && self.played_mask & (1u64 << (d - seq)) != 0 {
                self.stats.duplicate_packets += 1;
                return PushOutcome::Duplicate;
            }
        }
        // In-order arrival (the common case) appends: skip the binary search.
        let pos = match self.order.back() {
            Some(&last) if self.slots[last].seq < seq => self.order.len(),
            None => 0,
            _ => self.order.partition_point(|&i| self.slots[i].seq < seq),
        };
        if pos < self.order.len() && self.slots[self.order[pos]].seq == seq {
            self.stats.duplicate_packets += 1;
            return PushOutcome::Duplicate;
        }
        let now_us = now.as_micros() as i64;
        if kind != SlotKind::Event {
            self.est.update(now, self.ts_to_us(ts));
            self.update_target();
        }
        if self.decoded_seq.is_some_and(|d| seq <= d) {
            self.stats.late_packets += 1;
            self.stats.packets_discarded += 1;
            return PushOutcome::Late;
        }
        if seq > self.highest_seq {
            self.highest_seq = seq;
            self.highest_ts = ts;
            self.ref_seq = p.seq;
            self.ref_ts = p.timestamp;
        } else {
            self.stats.reordered_packets += 1;
        }
        let Some(idx) = self.free.pop() else {
            self.stats.overflow_packets += 1;
            self.stats.packets_discarded += 1;
            return PushOutcome::Overflow;
        };
        let base = idx * self.cfg.max_payload;
        self.pool[base..base + p.payload.len()].copy_from_slice(p.payload);
        self.slots[idx] = Slot {
            seq,
            ts,
            len: p.payload.len(),
            arrival_us: now_us,
            kind,
        };
        self.order.insert(pos, idx);
        self.stats.packets_received += 1;
        PushOutcome::Stored
    }

    fn set_reference(&mut self, p: &JitterPacket<'_>) {
        self.have_ref = true;
        self.ref_seq = p.seq;
        self.ref_ts = p.timestamp;
        // Keep extended values moving forward across resets so old state never matches.
        self.highest_seq = self.highest_seq.max(self.decoded_seq.unwrap_or(0)) + 70_000;
        self.highest_ts = 0;
    }

    /// Fills `out` (interleaved, any whole number of samples per channel) with the next audio at time `now`.
    pub fn pop(&mut self, now: Duration, dec: &mut dyn Decoder, out: &mut [i16]) -> PlayoutKind {
        if self.decoder_reset {
            dec.reset();
            self.decoder_reset = false;
        }
        let now_us = now.as_micros() as i64;
        let mut kind = PlayoutKind::Normal;
        let mut done = 0;
        let total = out.len() / self.ch;
        self.whole_pops = total.is_multiple_of(self.frame);
        while done < total {
            let want = (total - done).min(self.frame);
            let mut guard = 0;
            while self.unplayed() < want {
                self.compact();
                let need = want - self.unplayed();
                let k = self.produce(now_us + self.samples_to_us(done), need, dec);
                kind = kind.max(k);
                guard += 1;
                if guard > 64 {
                    // Cannot happen (every operation produces audio); never loop forever on a bad decoder.
                    let n = want - self.unplayed();
                    self.push_silence(n);
                }
            }
            let (a, b) = (self.sync_pos * self.ch, (self.sync_pos + want) * self.ch);
            out[done * self.ch..(done + want) * self.ch].copy_from_slice(&self.sync[a..b]);
            self.sync_pos += want;
            done += want;
        }
        for s in &mut out[total * self.ch..] {
            *s = 0;
        }
        self.stats.total_samples_received += total as u64;
        kind
    }

    fn unplayed(&self) -> usize {
        self.sync_len - self.sync_pos
    }

    /// Free room in the sync buffer, in samples per channel.
    fn room(&self) -> usize {
        self.sync.len() / self.ch - self.sync_len
    }

    /// Shifts played samples out of the sync buffer, keeping `hist_keep` of history, once more than `slack`
    /// samples beyond that have been played: amortised, a pop moves `(hist_keep + unplayed) / COMPACT_EVERY`
    /// frames' worth of samples instead of all of them every time. (The decoder and the time-scale
    /// modification need the audio contiguous, which rules out a wrapping ring.)
    fn compact(&mut self) {
        if self.sync_pos > self.hist_keep + self.slack {
            let shift = self.sync_pos - self.hist_keep;
            self.sync.copy_within(shift * self.ch..self.sync_len * self.ch, 0);
            self.sync_pos -= shift;
            self.sync_len -= shift;
        }
    }

    fn push_silence(&mut self, n: usize) {
        let n = n.min(self.room());
        let a = self.sync_len * self.ch;
        for s in &mut self.sync[a..a + n * self.ch] {
            *s = 0;
        }
        self.sync_len += n;
    }

    /// Produces at least one sample of audio into the sync buffer.
    fn produce(&mut self, now_us: i64, need: usize, dec: &mut dyn Decoder) -> PlayoutKind {
        let Some(&head) = self.order.front() else {
            if self.playing {
                // Nothing to play: conceal. The time covered counts toward the gap before the next packet.
                let k = self.conceal(need, dec);
                self.gap_concealed_ts += self.samples_to_ts(need);
                return k;
            }
            return self.fill_pause(need);
        };
        let h = self.slots[head];
        if h.kind != SlotKind::Audio {
            let expected = self.decoded_seq.map_or(h.seq, |d| d + 1);
            let gap_ts = h.ts - self.next_ts;
            let max_gap_ts = self.samples_to_ts(self.cfg.audio_rate as usize * 2);
            // In a pause, in sequence, or once the concealment of missing packets before it covers the gap.
            if !self.playing
                || h.seq == expected
                || gap_ts - self.gap_concealed_ts <= 0
                || gap_ts > max_gap_ts
            {
                return self.consume_cn(need);
            }
        }
        if !self.playing {
            return self.start_talkspurt(now_us, need, h, dec);
        }
        let expected = self.decoded_seq.map_or(h.seq, |d| d + 1);
        let gap_ts = h.ts - self.next_ts;
        if h.seq == expected {
            if gap_ts > 0 {
                // Timestamp gap without sequence gap: the sender paused (DTX) or jumped forward. What was
                // concealed meanwhile was a pause, not loss; the next talkspurt starts at its own time.
                self.end_run_as_dtx();
                self.playing = false;
                return self.start_talkspurt(now_us, need, h, dec);
            }
            return self.decode_head(now_us, dec);
        }
        // Sequence gap: the expected packet is missing.
        let remaining = gap_ts - self.gap_concealed_ts;
        let max_gap_ts = self.samples_to_ts(self.cfg.audio_rate as usize * 2);
        if remaining <= 0 || gap_ts > max_gap_ts {
            self.skip_to(h.seq);
            if gap_ts > max_gap_ts {
                // Loss across a pause or timestamp jump: restart at the next packet's own time.
                self.playing = false;
                return self.start_talkspurt(now_us, need, h, dec);
            }
            return self.decode_head(now_us, dec);
        }
        let rem_samples = self.ts_to_samples(remaining).max(1);
        if self.cfg.fec
            && h.kind == SlotKind::Audio
            && h.seq == expected + 1
            && remaining <= self.pkt_dur_ts
            && rem_samples <= self.room()
        {
            // The lost packet is the one right before the head: recover it from the head's FEC data.
            let base = head * self.cfg.max_payload;
            let a = self.sync_len * self.ch;
            let b = a + rem_samples * self.ch;
            let r = dec.decode_fec(&self.pool[base..base + h.len], &mut self.sync[a..b]);
            if let Ok(n) = r {
                if n > 0 {
                    let n = n.min(rem_samples);
                    self.sync_len += n;
                    self.gap_concealed_ts += self.samples_to_ts(n);
                    self.stats.fec_samples += n as u64;
                    self.in_concealment = false;
                    return PlayoutKind::Fec;
                }
            }
        }
        let n = need.min(rem_samples);
        let k = self.conceal(n, dec);
        self.gap_concealed_ts += self.samples_to_ts(n);
        k
    }

    /// Marks every sequence number before `seq` as lost and makes `seq` the expected one.
    fn skip_to(&mut self, seq: i64) {
        if let Some(d) = self.decoded_seq {
            let missing = seq - d - 1;
            if missing > 0 {
                self.stats.lost_packets += missing as u64;
                self.played_mask = if missing >= 64 {
                    0
                } else {
                    self.played_mask << missing
                };
            }
        }
        self.decoded_seq = Some(seq - 1);
    }

    fn start_talkspurt(&mut self, now_us: i64, need: usize, h: Slot, dec: &mut dyn Decoder) -> PlayoutKind {
        // The stream's phase (output frame boundaries against the sender's timestamps) is known from now on,
        // and the head's duration (whether packets are whole frames) is read from its payload.
        self.phase_ref_us = Some(now_us - self.ts_to_us(h.ts));
        if let Some(&idx) = self.order.front() {
            let base = idx * self.cfg.max_payload;
            if let Ok(n) = dec.payload_samples(&self.pool[base..base + h.len]) {
                if n > 0 {
                    self.pkt_dur_ts = self.samples_to_ts(n);
                }
            }
        }
        self.update_target();
        // Start so that the head's playout delay D equals the target: its first sample plays at
        // ts/clock + min_transit + T.
        let play_at = self.ts_to_us(h.ts) + self.min_transit_us + (self.target_ms * 1000.0) as i64;
        let first_free = now_us + self.samples_to_us(self.unplayed());
        let wait_us = play_at - first_free;
        let wait = if wait_us <= 0 {
            0
        } else if self.aligned {
            // The aligned target falls on an output frame boundary: start at the nearest one.
            if wait_us * 2 < i64::from(self.cfg.frame_ms) * 1000 {
                0
            } else {
                need
            }
        } else {
            (wait_us * i64::from(self.cfg.audio_rate) / 1_000_000) as usize
        };
        if wait >= need {
            return self.fill_pause(need);
        }
        if self.decoded_seq.is_some() {
            self.skip_to(h.seq);
        } else {
            self.decoded_seq = Some(h.seq - 1);
        }
        self.playing = true;
        self.next_ts = h.ts;
        self.gap_concealed_ts = 0;
        if wait > 0 {
            let k = self.fill_pause(wait);
            self.cn_active = false;
            return k;
        }
        self.cn_active = false;
        PlayoutKind::Normal
    }

    /// Fills `n` samples of a pause (DTX, or waiting for a talkspurt): comfort noise after a CN packet, else
    /// silence.
    fn fill_pause(&mut self, n: usize) -> PlayoutKind {
        self.stats.dtx_samples += n as u64;
        if !self.cn_active {
            self.push_silence(n);
            return PlayoutKind::Silence;
        }
        let n = n.min(self.room());
        let a = self.sync_len * self.ch;
        self.cn.generate(&mut self.sync[a..a + n]);
        if self.ch > 1 {
            // Spread the mono noise over the channels, from the end so nothing is overwritten before use.
            for i in (0..n).rev() {
                let v = self.sync[a + i];
                self.sync[a + i * self.ch..a + (i + 1) * self.ch].fill(v);
            }
        }
        self.sync_len += n;
        self.stats.comfort_noise_samples += n as u64;
        PlayoutKind::ComfortNoise
    }

    /// Takes the comfort-noise or event packet at the head: ends the talkspurt, updates the noise (CN) or
    /// turns it off (event), fills `need`.
    fn consume_cn(&mut self, need: usize) -> PlayoutKind {
        let idx = self.order.pop_front().expect("called with a packet at the head");
        let h = self.slots[idx];
        let base = idx * self.cfg.max_payload;
        if h.kind == SlotKind::ComfortNoise {
            match CnPayload::parse(&self.pool[base..base + h.len]) {
                Ok(p) => self.cn.update(&p),
                Err(_) => self.stats.decode_errors += 1,
            }
            self.stats.comfort_noise_packets += 1;
        } else {
            self.stats.event_packets += 1;
        }
        self.free.push(idx);
        // Missing packets before it were lost; the CN packet itself was received and is "played".
        self.skip_to(h.seq);
        self.played_mask = (self.played_mask << 1) | 1;
        self.decoded_seq = Some(h.seq);
        self.playing = false;
        self.clear_conceal_run();
        self.next_ts = h.ts;
        self.cn_active = h.kind == SlotKind::ComfortNoise;
        self.fill_pause(need)
    }

    /// Forgets the current concealment run (a packet was decoded, a pause began, or the stream reset).
    fn clear_conceal_run(&mut self) {
        self.in_concealment = false;
        self.conceal_run = 0;
        self.run_concealed = 0;
        self.run_silent = 0;
        self.run_event = false;
        self.gap_concealed_ts = 0;
    }

    /// Concealment was in fact a DTX pause: move its samples from the concealment counters.
    fn end_run_as_dtx(&mut self) {
        self.stats.concealed_samples -= self.run_concealed;
        self.stats.silent_concealed_samples -= self.run_silent;
        self.stats.dtx_samples += self.run_concealed;
        if self.run_event {
            self.stats.concealment_events -= 1;
        }
        self.clear_conceal_run();
    }

    fn conceal(&mut self, n: usize, dec: &mut dyn Decoder) -> PlayoutKind {
        let n = n.min(self.room()).max(1);
        let max_plc = self.cfg.audio_rate as usize * self.cfg.max_conceal_ms as usize / 1000;
        let a = self.sync_len * self.ch;
        let b = a + n * self.ch;
        let mut silent = self.conceal_run >= max_plc;
        if !silent {
            match dec.conceal(&mut self.sync[a..b]) {
                Ok(k) if k >= n => {}
                _ => silent = true,
            }
        }
        if silent {
            for s in &mut self.sync[a..b] {
                *s = 0;
            }
            self.stats.silent_concealed_samples += n as u64;
            self.run_silent += n as u64;
        }
        self.sync_len += n;
        self.conceal_run += n;
        self.stats.concealed_samples += n as u64;
        self.run_concealed += n as u64;
        if !self.in_concealment {
            self.in_concealment = true;
            self.stats.concealment_events += 1;
            self.run_event = true;
        }
        PlayoutKind::Concealed
    }

    /// Decodes the head packet into the sync buffer; returns the samples decoded (0 when the decoder failed and
    /// the packet was concealed instead) and its playout delay `D` in ms.
    fn decode_one(&mut self, now_us: i64, dec: &mut dyn Decoder) -> (usize, f64) {
        let Some(idx) = self.order.pop_front() else {
            return (0, self.last_delay_ms);
        };
        let h = self.slots[idx];
        let base = idx * self.cfg.max_payload;
        let unplayed_before = self.unplayed();
        let a = self.sync_len * self.ch;
        let r = dec.decode(&self.pool[base..base + h.len], &mut self.sync[a..]);
        self.free.push(idx);
        if let Some(d) = self.decoded_seq {
            let shift = h.seq - d;
            self.played_mask = if (1..64).contains(&shift) {
                self.played_mask << shift
            } else {
                0
            };
        }
        self.played_mask |= 1;
        self.decoded_seq = Some(h.seq);
        let n = match r {
            Ok(n) if n > 0 => n.min(self.room()),
            _ => {
                self.stats.decode_errors += 1;
                let n = self.ts_to_samples(self.pkt_dur_ts).max(1);
                self.next_ts = h.ts + self.pkt_dur_ts;
                self.conceal(n, dec);
                return (0, self.last_delay_ms);
            }
        };
        self.sync_len += n;
        self.clear_conceal_run();
        self.pkt_dur_ts = self.samples_to_ts(n);
        self.next_ts = h.ts + self.pkt_dur_ts;
        let play_us = now_us + self.samples_to_us(unplayed_before);
        let d_ms = (play_us - self.ts_to_us(h.ts) - self.min_transit_us) as f64 / 1000.0;
        self.phase_ref_us = Some(now_us - self.ts_to_us(h.ts));
        self.last_slack_ms = (now_us - self.ts_to_us(h.ts) - self.min_transit_us) as f64 / 1000.0;
        self.last_phase = unplayed_before;
        let wait_s = (play_us - h.arrival_us).max(0) as f64 / 1e6;
        self.stats.jitter_buffer_delay += wait_s * n as f64;
        self.stats.jitter_buffer_target_delay += self.target_ms / 1000.0 * n as f64;
        self.stats.jitter_buffer_emitted_count += n as u64;
        (n, d_ms)
    }
}
