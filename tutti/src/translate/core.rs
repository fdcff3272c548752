//! The sans-IO translator: one incoming RTP stream in, the same stream in another codec out.
//!
//! # What
//! [`Translator`] takes the datagrams of the sender ([`Translator::receive_upstream`]: RTP and RTCP) and
//! of the far receiver ([`Translator::receive_downstream`]: RTCP) with their arrival times, and hands out
//! the datagrams to send ([`Translator::poll_transmit`]: RTP and rewritten RTCP downstream, our receiver
//! reports upstream). [`Translator::handle_timeout`] runs the RTCP timer; [`Translator::finish`] flushes
//! the last frame and says BYE both ways. Time is an input, so the same code runs live, on a capture and
//! in tests.
//!
//! # How
//! RFC 7667 §3.5.1 (media translator) and RFC 3550 §7.2 (translators):
//! * **Media.** Packets are decoded in arrival order (no playout buffer: the far receiver has its own);
//!   the audio of a talkspurt is one continuous timeline in the input clock. A sequence gap is concealed by
//!   the input codec's PLC for the time it covers, a timestamp gap without loss (DTX pause) is filled with
//!   silence, both up to `max_gap_ms`; a longer gap, a timestamp jump or comfort noise / events end the
//!   talkspurt. A packet older than one already decoded arrives too late and is discarded (counted).
//! * **Timing.** The outgoing SSRC is the sender's. The outgoing timestamp of a talkspurt starts at the
//!   first input timestamp mapped to the output clock (`ts × clock_out / clock_in` on the extended
//!   timestamp) and advances by `ptime × clock_out` per packet; the resampler's and chain's delay is
//!   skipped so that the audio under a timestamp is the audio the sender sent under the corresponding
//!   input timestamp. Sequence numbers are our own (random start, +1 per packet, continuous across
//!   talkspurts); the first packet of a talkspurt carries the marker bit.
//! * **RTCP downstream.** The sender's compounds are forwarded with every SR's sender info rewritten for
//!   the translated stream: RTP timestamp mapped like the media, packet and octet counts ours; NTP, SDES,
//!   BYE and the rest unchanged. The far receiver's reports on the stream relate to the outgoing leg: they
//!   give its loss, jitter and (through the LSR of the SRs we forwarded) its round-trip time, and are not
//!   passed upstream (their sequence numbers are ours, §7.2 allows a synthetic report instead).
//! * **RTCP upstream.** The translator reports on the incoming leg from its own reception with an SSRC of
//!   its own (§7.2 "MAY choose to allocate one"): RR + SDES CNAME on the RFC 3550 §6.3 schedule
//!   ([`RtcpSession`]); BYE when it stops.
//!
//! # Real-time safety
//! Construction allocates everything; `receive_upstream`, `receive_downstream`, `handle_timeout` and
//! `poll_transmit` allocate nothing, take no lock and make no system call (`tests/translate_rt.rs`).

use std::time::Duration;

use tutti_codecs::CodecSpec;
use tutti_rtp::{
    classify, rtcp_packets, validate_compound, Channel, PacketKind, ReportBlock, RtcpPacket, RtcpSession,
    RtcpSessionConfig, RtcpWriter, RtpBuilder, RtpPacket, SdesChunkSpec, SdesType, SeqOutcome,
};
use tutti_rtp::{Feedback, RateConfig, RateController, RateDecision, TmmbItem, MAX_TMMBR_OWNERS};

use super::config::{TranslateError, TranslatorConfig};
use super::pipeline::{Frame, Pipeline};
use super::stats::{TranslatorCounters, TranslatorLegStats, TranslatorStats};
use crate::cdr::LinkQuality;
use crate::conference::{PacketQueue, MTU};

/// Which side of the translator a datagram goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// Towards the sender of the incoming stream.
    Upstream,
    /// Towards the far receiver of the outgoing stream.
    Downstream,
}

/// A datagram to send, as returned by [`Translator::poll_transmit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transmit {
    /// Where it goes.
    pub side: Side,
    /// RTP or RTCP.
    pub channel: Channel,
    /// Bytes written into the caller's buffer.
    pub len: usize,
}

const ARRIVALS: usize = 64;
/// Ceiling of an Opus output's bitrate when its codec names none (the rate controller's maximum).
const OPUS_DEFAULT_MAX_BPS: u32 = 64_000;
const SR_MEMORY: usize = 8;

/// The sans-IO media translator (see the module docs).
pub struct Translator {
    cfg: TranslatorConfig,
    pipe: Pipeline,
    in_clock: i64,
    in_rate: i64,
    out_clock: i64,
    out_step: u32,
    in_frame_clock: i64,
    ssrc: Option<u32>,
    rtcp_up: RtcpSession,
    // Input position.
    last_ts: u32,
    last_ts_ext: i64,
    next_seq: Option<u16>,
    next_ts_ext: i64,
    seg_in_ts0: i64,
    /// (first extended timestamp, end, arrival µs) of recent packets, for the held-delay statistic.
    arrivals: [(i64, i64, u64); ARRIVALS],
    arrivals_head: usize,
    // Output.
    seq: u16,
    q_rtp: PacketQueue,
    q_down: PacketQueue,
    q_up: PacketQueue,
    // RTCP downstream.
    sr_sent: [(u32, u64); SR_MEMORY],
    sr_head: usize,
    far: Option<ReportBlock>,
    far_rtt_us: Option<u64>,
    far_bye: bool,
    sender_bye: bool,
    bye_sent_down: bool,
    sender_cname: [u8; 255],
    sender_cname_len: usize,
    // Statistics.
    packets: u64,
    discarded: u64,
    delay_sum_us: f64,
    delay_n: u64,
    counters: TranslatorCounters,
    last_rx: Duration,
    finished: bool,
    /// Rate adaptation of an Opus output from the far receiver's TMMBR/REMB/reports (RFC 5104).
    rate: Option<RateController>,
    rate_applied: Option<RateDecision>,
}

impl std::fmt::Debug for Translator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Translator")
            .field("ssrc", &self.ssrc)
            .field("pipeline", &self.pipe)
            .finish_non_exhaustive()
    }
}

fn us(d: Duration) -> u64 {
    d.as_micros() as u64
}

fn ntp_offset(d: Duration) -> u64 {
    (d.as_secs() << 32) + ((u64::from(d.subsec_nanos()) << 32) / 1_000_000_000)
}

fn be32(b: &[u8], i: usize) -> u32 {
    u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

/// Maps an extended input timestamp to the output clock (`⌊ext × out / in⌋` modulo 2³²).
fn map_ts(ext: i64, in_clock: i64, out_clock: i64) -> u32 {
    let v = (i128::from(ext) * i128::from(out_clock)).div_euclid(i128::from(in_clock));
    v.rem_euclid(1i128 << 32) as u32
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

impl Translator {
    /// A translator started at host time `now` (allocates every buffer it will use).
    ///
    /// # Errors
    /// Invalid configuration, codec or chain.
    pub fn new(cfg: TranslatorConfig, now: Duration) -> Result<Self, TranslateError> {
        cfg.validate()?;
        let pipe = Pipeline::new(&cfg)?;
        let (i, o) = (pipe.in_info, pipe.out_info);
        let r = splitmix(cfg.seed);
        let reporter = (splitmix(r) as u32) | 1;
        let bw = match cfg.input {
            CodecSpec::Opus { .. } => 64_000,
            _ => 80_000,
        };
        let mut rc = RtcpSessionConfig::new(reporter, &cfg.cname, i.clock_rate, bw);
        rc.seed = r;
        rc.reduced_size = true;
        rc.max_members = 8;
        let rtcp_up = RtcpSession::new(rc, us(now), cfg.ntp_at_zero.wrapping_add(ntp_offset(now)));
        let rate = match cfg.output {
            CodecSpec::Opus { bitrate, .. } => {
                let mut c = RateConfig::opus(None, bitrate.unwrap_or(OPUS_DEFAULT_MAX_BPS), cfg.ptime_ms);
                c.clock_rate = o.clock_rate;
                Some(RateController::new(c, us(now)))
            }
            _ => None,
        };
        let rate_applied = rate.as_ref().map(RateController::decision);
        Ok(Self {
            in_clock: i64::from(i.clock_rate),
            in_rate: i64::from(i.audio_rate),
            out_clock: i64::from(o.clock_rate),
            out_step: o.clock_rate * cfg.ptime_ms / 1000,
            in_frame_clock: i64::from(i.clock_rate * cfg.ptime_ms / 1000),
            ssrc: None,
            rtcp_up,
            last_ts: 0,
            last_ts_ext: 0,
            next_seq: None,
            next_ts_ext: 0,
            seg_in_ts0: 0,
            arrivals: [(0, 0, 0); ARRIVALS],
            arrivals_head: 0,
            seq: (r >> 32) as u16,
            q_rtp: PacketQueue::new(48, MTU),
            q_down: PacketQueue::new(8, MTU),
            q_up: PacketQueue::new(8, MTU),
            sr_sent: [(0, 0); SR_MEMORY],
            sr_head: 0,
            far: None,
            far_rtt_us: None,
            far_bye: false,
            sender_bye: false,
            bye_sent_down: false,
            sender_cname: [0; 255],
            sender_cname_len: 0,
            packets: 0,
            discarded: 0,
            delay_sum_us: 0.0,
            delay_n: 0,
            counters: TranslatorCounters::default(),
            last_rx: now,
            finished: false,
            rate,
            rate_applied,
            pipe,
            cfg,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &TranslatorConfig {
        &self.cfg
    }

    /// SSRC of the stream (the sender's, kept on the outgoing leg), once a packet arrived.
    pub fn ssrc(&self) -> Option<u32> {
        self.ssrc
    }

    /// The SSRC the translator reports on the incoming leg with.
    pub fn reporter_ssrc(&self) -> u32 {
        self.rtcp_up.local_ssrc()
    }

    /// Delay of the resampler and chain, in output samples (skipped: timestamps stay exact).
    pub fn algorithmic_delay_samples(&self) -> usize {
        self.pipe.latency
    }

    /// Time of the last datagram from the sender.
    pub fn last_received(&self) -> Duration {
        self.last_rx
    }

    /// Whether the sender said BYE (the stream ended).
    pub fn sender_left(&self) -> bool {
        self.sender_bye
    }

    /// Whether the far receiver said BYE.
    pub fn receiver_left(&self) -> bool {
        self.far_bye
    }

    fn extend_ts(&self, ts: u32) -> i64 {
        self.last_ts_ext + i64::from(ts.wrapping_sub(self.last_ts) as i32)
    }

    /// Takes a datagram from the sender (RTP of the stream, or its RTCP).
    ///
    /// # Errors
    /// [`TranslateError::Dropped`] when the datagram is malformed or not of this stream (counted).
    pub fn receive_upstream(&mut self, now: Duration, datagram: &[u8]) -> Result<(), TranslateError> {
        self.counters.rx_upstream += 1;
        if datagram.len() > MTU {
            return self.malformed("datagram larger than the MTU");
        }
        match classify(datagram) {
            PacketKind::Rtp => {
                self.adapt_rate(now);
                self.on_rtp(now, datagram)
            }
            PacketKind::Rtcp => self.on_sender_rtcp(now, datagram),
            _ => self.malformed("neither RTP nor RTCP"),
        }
    }

    fn malformed(&mut self, reason: &'static str) -> Result<(), TranslateError> {
        self.counters.malformed += 1;
        Err(TranslateError::Dropped { reason })
    }

    fn on_rtp(&mut self, now: Duration, datagram: &[u8]) -> Result<(), TranslateError> {
        let Ok(pkt) = RtpPacket::parse(datagram) else {
            return self.malformed("malformed RTP");
        };
        match self.ssrc {
            None => {
                self.ssrc = Some(pkt.ssrc());
                self.last_ts = pkt.timestamp();
                self.last_ts_ext = i64::from(pkt.timestamp());
            }
            Some(s) if s != pkt.ssrc() => {
                self.counters.foreign_ssrc += 1;
                return Err(TranslateError::Dropped {
                    reason: "RTP of another SSRC than the translated stream",
                });
            }
            Some(_) => {}
        }
        self.last_rx = now;
        self.packets += 1;
        let (outcome, _) = self.rtcp_up.on_rtp_received(us(now), &pkt);
        if matches!(outcome, SeqOutcome::Duplicate) {
            return Ok(());
        }
        let (seq, ts) = (pkt.sequence_number(), pkt.timestamp());
        let ts_ext = self.extend_ts(ts);
        let lost = match self.next_seq {
            Some(exp) => {
                let d = seq.wrapping_sub(exp) as i16;
                if d < 0 {
                    self.discarded += 1;
                    return Ok(());
                }
                i64::from(d)
            }
            None => 0,
        };
        self.last_ts = ts;
        self.last_ts_ext = ts_ext;
        self.next_seq = Some(seq.wrapping_add(1));
        if pkt.payload_type() != self.cfg.input_payload_type {
            // Comfort noise, telephone events or another format: a pause in the audio.
            self.discarded += 1;
            self.end_talkspurt(now);
            return Ok(());
        }
        let payload = pkt.payload();
        let Some(samples) = self.pipe.payload_samples(payload) else {
            self.counters.decode_errors += 1;
            return self.malformed("payload the input codec cannot decode");
        };
        let dur_clock = samples as i64 * self.in_clock / self.in_rate;
        let max_gap = i64::from(self.cfg.max_gap_ms) * self.in_clock / 1000;
        if self.pipe.is_active() {
            let gap = ts_ext - self.next_ts_ext;
            if gap == 0 {
            } else if gap > 0 && gap <= max_gap {
                let n = (gap * self.in_rate / self.in_clock) as usize;
                self.fill_gap(now, n, lost > 0);
            } else {
                self.end_talkspurt(now);
            }
        }
        if !self.pipe.is_active() {
            self.start_talkspurt(ts_ext);
        }
        let slot = &mut self.arrivals[self.arrivals_head];
        *slot = (ts_ext, ts_ext + dur_clock, us(now));
        self.arrivals_head = (self.arrivals_head + 1) % ARRIVALS;
        self.next_ts_ext = ts_ext + dur_clock;
        let mut sink = self.sink(now);
        let r = sink.pipe.decode(payload, &mut |f| sink.out.send(f));
        match r {
            Ok(n) => self.counters.total_samples += n as u64,
            Err(()) => {
                self.counters.decode_errors += 1;
                self.fill_gap(now, samples, true);
            }
        }
        Ok(())
    }

    fn fill_gap(&mut self, now: Duration, n: usize, conceal: bool) {
        let mut sink = self.sink(now);
        if conceal {
            sink.pipe.conceal(n, &mut |f| sink.out.send(f));
            self.counters.concealed_samples += n as u64;
        } else {
            sink.pipe.silence(n, &mut |f| sink.out.send(f));
            self.counters.silence_samples += n as u64;
        }
        self.counters.total_samples += n as u64;
    }

    fn start_talkspurt(&mut self, ts_ext: i64) {
        self.pipe.start_talkspurt();
        self.seg_in_ts0 = ts_ext;
        self.next_ts_ext = ts_ext;
        self.counters.talkspurts += 1;
    }

    fn end_talkspurt(&mut self, now: Duration) {
        let mut sink = self.sink(now);
        sink.pipe.end_talkspurt(&mut |f| sink.out.send(f));
    }

    /// Splits `self` into the pipeline and the packetizer (disjoint borrows for the frame callback).
    fn sink(&mut self, now: Duration) -> Sink<'_> {
        Sink {
            pipe: &mut self.pipe,
            out: Out {
                now_us: us(now),
                ssrc: self.ssrc.unwrap_or(0),
                pt: self.cfg.output_payload_type,
                seq: &mut self.seq,
                ts0: map_ts(self.seg_in_ts0, self.in_clock, self.out_clock),
                step: self.out_step,
                in_ts0: self.seg_in_ts0,
                in_step: self.in_frame_clock,
                arrivals: &self.arrivals,
                q: &mut self.q_rtp,
                counters: &mut self.counters,
                delay_sum_us: &mut self.delay_sum_us,
                delay_n: &mut self.delay_n,
            },
        }
    }

    fn on_sender_rtcp(&mut self, now: Duration, d: &[u8]) -> Result<(), TranslateError> {
        let now_us = us(now);
        if self.rtcp_up.on_rtcp_received(now_us, d).is_err() {
            return self.malformed("malformed RTCP");
        }
        self.last_rx = now;
        let Some(ssrc) = self.ssrc else {
            // No RTP yet: the timestamp mapping is unknown, so the SR cannot be translated.
            return Ok(());
        };
        let n = d.len();
        let mut ntp_mid = None;
        let mut bye = false;
        let (slot, overwrote) = self.q_down.next_slot();
        slot[..n].copy_from_slice(d);
        let mut off = 0;
        while off + 8 <= n {
            let pt = slot[off + 1];
            let len = (usize::from(u16::from_be_bytes([slot[off + 2], slot[off + 3]])) + 1) * 4;
            if off + len > n {
                break;
            }
            let pkt_ssrc = be32(slot, off + 4);
            match pt {
                200 if len >= 28 && pkt_ssrc == ssrc => {
                    let rtp = be32(slot, off + 16);
                    let ext = self.last_ts_ext + i64::from(rtp.wrapping_sub(self.last_ts) as i32);
                    let mapped = map_ts(ext, self.in_clock, self.out_clock);
                    slot[off + 16..off + 20].copy_from_slice(&mapped.to_be_bytes());
                    slot[off + 20..off + 24].copy_from_slice(&(self.counters.tx_rtp as u32).to_be_bytes());
                    slot[off + 24..off + 28]
                        .copy_from_slice(&(self.counters.tx_payload_bytes as u32).to_be_bytes());
                    ntp_mid = Some(be32(slot, off + 10));
                }
                202 => {
                    // Keep the sender's CNAME for the BYE we may have to send on its behalf.
                    for p in rtcp_packets(&d[off..off + len]).flatten() {
                        if let RtcpPacket::Sdes(s) = p {
                            for c in s.chunks().filter(|c| c.ssrc == ssrc) {
                                for it in c.items().filter(|i| i.kind == SdesType::Cname) {
                                    let m = it.text.len().min(255);
                                    self.sender_cname[..m].copy_from_slice(&it.text[..m]);
                                    self.sender_cname_len = m;
                                }
                            }
                        }
                    }
                }
                203 if (0..usize::from(slot[off] & 0x1f))
                    .any(|i| 8 + 4 * i <= len && be32(slot, off + 4 + 4 * i) == ssrc) =>
                {
                    bye = true;
                }
                _ => {}
            }
            off += len;
        }
        self.q_down.commit(n);
        if overwrote {
            self.counters.tx_overflow += 1;
        }
        self.counters.tx_rtcp_downstream += 1;
        if let Some(mid) = ntp_mid {
            self.sr_sent[self.sr_head] = (mid, now_us);
            self.sr_head = (self.sr_head + 1) % SR_MEMORY;
        }
        if bye {
            self.sender_bye = true;
            self.bye_sent_down = true;
            self.end_talkspurt(now);
        }
        Ok(())
    }

    /// Takes an RTCP datagram from the far receiver: its reports on the stream describe the outgoing leg.
    ///
    /// # Errors
    /// [`TranslateError::Dropped`] when it is not valid RTCP (counted).
    pub fn receive_downstream(&mut self, now: Duration, d: &[u8]) -> Result<(), TranslateError> {
        self.counters.rx_downstream += 1;
        if classify(d) != PacketKind::Rtcp || validate_compound(d, true).is_err() {
            return self.malformed("malformed RTCP from the receiver");
        }
        let Some(ssrc) = self.ssrc else { return Ok(()) };
        let now_us = us(now);
        let mut tmmbr = false;
        for p in rtcp_packets(d).flatten() {
            if let (Some(rc), Some(Ok(fb))) = (self.rate.as_mut(), p.feedback()) {
                match fb {
                    Feedback::Tmmbr(t) => {
                        for item in t.items().filter(|i| i.ssrc == ssrc) {
                            rc.on_tmmbr(now_us, t.sender_ssrc, item);
                            tmmbr = true;
                        }
                    }
                    Feedback::Remb(r) if r.applies_to(ssrc) => rc.on_remb(now_us, r.bitrate_bps),
                    _ => {}
                }
                continue;
            }
            let blocks = match p {
                RtcpPacket::SenderReport(sr) => sr.blocks(),
                RtcpPacket::ReceiverReport(rr) => rr.blocks(),
                RtcpPacket::Bye(b) => {
                    if b.ssrcs().any(|s| s != ssrc) {
                        self.far_bye = true;
                    }
                    continue;
                }
                _ => continue,
            };
            for b in blocks.filter(|b| b.ssrc == ssrc) {
                if let Some(rc) = self.rate.as_mut() {
                    rc.on_report_block(now_us, &b);
                }
                self.far = Some(b);
                if b.last_sr != 0 {
                    // RTT: our forwarding time of that SR (its NTP is the sender's clock, not ours).
                    if let Some(&(_, sent)) = self.sr_sent.iter().find(|(m, t)| *m == b.last_sr && *t > 0) {
                        let dlsr = u64::from(b.delay_since_last_sr) * 1_000_000 / 65_536;
                        if let Some(r) = now_us.checked_sub(sent).and_then(|x| x.checked_sub(dlsr)) {
                            self.far_rtt_us = Some(r);
                        }
                    }
                }
            }
        }
        if tmmbr {
            self.send_tmmbn(ssrc);
        }
        Ok(())
    }

    /// Answers a TMMBR with our bounding set (RFC 5104 §4.2.2), as the media sender of the translated
    /// stream, in a reduced-size RTCP packet (RFC 5506).
    fn send_tmmbn(&mut self, ssrc: u32) {
        let Some(rc) = self.rate.as_mut() else { return };
        let Some(items) = rc.tmmbn() else { return };
        let mut set = [TmmbItem::default(); MAX_TMMBR_OWNERS];
        let n = items.len().min(set.len());
        set[..n].copy_from_slice(&items[..n]);
        let (slot, overwrote) = self.q_down.next_slot();
        let mut w = RtcpWriter::new(slot);
        if w.tmmbn(ssrc, &set[..n]).is_ok() {
            let len = w.finish();
            self.q_down.commit(len);
            self.counters.tx_rtcp_downstream += 1;
            self.counters.tx_tmmbn += 1;
            if overwrote {
                self.counters.tx_overflow += 1;
            }
        }
    }

    /// Applies the rate controller's decision to the output encoder when it changed.
    fn adapt_rate(&mut self, now: Duration) {
        let Some(rc) = self.rate.as_mut() else { return };
        let d = rc.poll(us(now));
        if self.rate_applied != Some(d) {
            self.rate_applied = Some(d);
            if self.pipe.adapt(d) {
                self.counters.rate_changes += 1;
            } else {
                self.counters.encode_errors += 1;
            }
        }
    }

    /// The output encoder's rate decision (Opus output): bitrate, FEC, expected loss.
    pub fn rate_decision(&self) -> Option<RateDecision> {
        self.rate.as_ref().map(RateController::decision)
    }

    /// When [`Translator::handle_timeout`] should run next (the RTCP report timer).
    pub fn poll_timeout(&self) -> Duration {
        Duration::from_micros(self.rtcp_up.poll_timeout())
    }

    /// Runs the RTCP timer: queues our receiver report to the sender when one is due.
    pub fn handle_timeout(&mut self, now: Duration) {
        let now_us = us(now);
        if self.ssrc.is_none() || self.finished || now_us < self.rtcp_up.poll_timeout() {
            return;
        }
        let (slot, overwrote) = self.q_up.next_slot();
        if let Ok(Some(len)) = self.rtcp_up.handle_timeout(now_us, slot) {
            self.q_up.commit(len);
            self.counters.tx_rtcp_upstream += 1;
            if overwrote {
                self.counters.tx_overflow += 1;
            }
        }
    }

    /// Ends the translation: sends the last (padded) frame, a BYE to the sender for our reporting SSRC and,
    /// unless the sender's own BYE was forwarded, a BYE downstream for the stream's SSRC (RFC 3550 §7.2).
    /// Allocates nothing; call [`Translator::poll_transmit`] afterwards.
    pub fn finish(&mut self, now: Duration) {
        if self.finished {
            return;
        }
        self.finished = true;
        self.end_talkspurt(now);
        let Some(ssrc) = self.ssrc else { return };
        let (slot, _) = self.q_up.next_slot();
        if let Ok(len) = self.rtcp_up.write_bye(us(now), b"translator stopped", slot) {
            self.q_up.commit(len);
            self.counters.tx_rtcp_upstream += 1;
        }
        if !self.bye_sent_down {
            let (slot, _) = self.q_down.next_slot();
            let cname = &self.sender_cname[..self.sender_cname_len];
            let mut w = RtcpWriter::new(slot);
            let ok = w.receiver_report(ssrc, &[]).is_ok()
                && (cname.is_empty()
                    || w.sdes(&[SdesChunkSpec {
                        ssrc,
                        items: &[(SdesType::Cname, cname)],
                    }])
                    .is_ok())
                && w.bye(&[ssrc], Some(b"translator stopped")).is_ok();
            let len = w.finish();
            if ok {
                self.q_down.commit(len);
                self.counters.tx_rtcp_downstream += 1;
                self.bye_sent_down = true;
            }
        }
    }

    /// Copies the next datagram to send into `out` (at least [`MTU`] bytes) and says where it goes.
    pub fn poll_transmit(&mut self, out: &mut [u8]) -> Option<Transmit> {
        let (side, channel, len) = if let Some(n) = self.q_rtp.pop(out) {
            (Side::Downstream, Channel::Rtp, n)
        } else if let Some(n) = self.q_down.pop(out) {
            (Side::Downstream, Channel::Rtcp, n)
        } else {
            (Side::Upstream, Channel::Rtcp, self.q_up.pop(out)?)
        };
        Some(Transmit {
            side,
            channel,
            len: len.min(out.len()),
        })
    }

    /// Statistics of both legs (allocates nothing).
    pub fn stats(&self) -> TranslatorStats {
        let c = self.counters;
        let src = self.ssrc.and_then(|s| self.rtcp_up.sources().get(s));
        let (lost, dup, jitter, expected) = src.map_or((0, 0, 0.0, self.packets as f64), |s| {
            (s.lost(), s.duplicates(), s.jitter_ms(), s.expected() as f64)
        });
        let held_ms = if self.delay_n > 0 {
            self.delay_sum_us / self.delay_n as f64 / 1000.0
        } else {
            0.0
        } + self.pipe.latency as f64 * 1000.0 / f64::from(self.pipe.out_info.audio_rate);
        let incoming = TranslatorLegStats {
            codec: self.cfg.input.cli_name(),
            payload_type: self.cfg.input_payload_type,
            ssrc: self.ssrc,
            quality: LinkQuality {
                packets: self.packets,
                lost,
                discarded: self.discarded,
                duplicates: dup,
                jitter_ms: jitter,
                rtt_ms: None,
                jitter_buffer_delay_ms: held_ms,
                concealment_ratio: if c.total_samples > 0 {
                    c.concealed_samples as f64 / c.total_samples as f64
                } else {
                    0.0
                },
                r_factor: 0.0,
                mos: 0.0,
            },
        }
        .with_emodel(expected);
        let far = self.far.unwrap_or_default();
        let outgoing = TranslatorLegStats {
            codec: self.cfg.output.cli_name(),
            payload_type: self.cfg.output_payload_type,
            ssrc: self.ssrc,
            quality: LinkQuality {
                packets: c.tx_rtp,
                lost: i64::from(far.cumulative_lost),
                jitter_ms: f64::from(far.jitter) * 1000.0 / self.out_clock as f64,
                rtt_ms: self.far_rtt_us.map(|u| u as f64 / 1000.0),
                ..LinkQuality::default()
            },
        }
        .with_emodel(c.tx_rtp as f64);
        TranslatorStats {
            incoming,
            outgoing,
            counters: c,
            rate: self.rate_decision(),
        }
    }

    /// Next outgoing sequence number (for tests of the numbering).
    pub fn next_sequence_number(&self) -> u16 {
        self.seq
    }

    /// The outgoing RTP timestamp of input timestamp `ts` of the stream (the mapping the media and the
    /// rewritten sender reports use); `None` before the first packet.
    pub fn map_timestamp(&self, ts: u32) -> Option<u32> {
        self.ssrc?;
        Some(map_ts(self.extend_ts(ts), self.in_clock, self.out_clock))
    }
}

/// Disjoint borrows of a translator for the frame callback.
struct Sink<'a> {
    pipe: &'a mut Pipeline,
    out: Out<'a>,
}

/// The packetizer side of the frame callback.
struct Out<'a> {
    now_us: u64,
    ssrc: u32,
    pt: u8,
    seq: &'a mut u16,
    ts0: u32,
    step: u32,
    in_ts0: i64,
    in_step: i64,
    arrivals: &'a [(i64, i64, u64); ARRIVALS],
    q: &'a mut PacketQueue,
    counters: &'a mut TranslatorCounters,
    delay_sum_us: &'a mut f64,
    delay_n: &'a mut u64,
}

impl Out<'_> {
    fn send(&mut self, f: Frame<'_>) {
        let ts = self.ts0.wrapping_add(self.step.wrapping_mul(f.index));
        let seq = *self.seq;
        *self.seq = seq.wrapping_add(1);
        if f.payload.is_empty() {
            self.counters.encode_errors += 1;
            return;
        }
        let b = RtpBuilder {
            marker: f.index == 0,
            payload_type: self.pt,
            sequence_number: seq,
            timestamp: ts,
            ssrc: self.ssrc,
            csrcs: &[],
            extensions: &[],
            extension_form: tutti_rtp::ExtensionForm::OneByte,
            padding: 0,
        };
        let (slot, overwrote) = self.q.next_slot();
        if overwrote {
            self.counters.tx_overflow += 1;
        }
        if let Ok(len) = b.write(f.payload, slot) {
            self.q.commit(len);
            self.counters.tx_rtp += 1;
            self.counters.tx_payload_bytes += f.payload.len() as u64;
        }
        // Held delay: the packet that brought the frame's first sample.
        let pos = self.in_ts0 + self.in_step * i64::from(f.index);
        if let Some(&(_, _, at)) = self
            .arrivals
            .iter()
            .find(|(s, e, at)| *at > 0 && *s <= pos && pos < *e)
        {
            *self.delay_sum_us += self.now_us.saturating_sub(at) as f64;
            *self.delay_n += 1;
        }
    }
}
