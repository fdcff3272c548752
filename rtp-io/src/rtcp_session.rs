//! A sans-IO RTCP session: membership, report scheduling with reconsideration, reports, RTT.
//!
//! # What
//! [`RtcpSession`] is one participant's RTCP state machine (RFC 3550 §6.3). The caller feeds it the RTP
//! it sends and receives and the RTCP it receives, each with the current time in µs; it asks
//! [`RtcpSession::poll_timeout`] when to call [`RtcpSession::handle_timeout`], which writes the next
//! compound report (SR or RR + report blocks, SDES CNAME) into a caller buffer when it is due. The
//! session keeps per-source statistics ([`SourceTable`]), the round-trip time to each peer that
//! reports on us, and removes members after BYE or silence.
//!
//! # How
//! * Interval: [`rtcp_interval`] (A.7) with the RTCP bandwidth = `rtcp_fraction` × session bandwidth,
//!   the average compound size including 28 bytes of UDP/IPv4 overhead (`avg = avg + (size − avg)/16`,
//!   §6.3.3), members = distinct SSRCs heard + ourselves, senders = those that sent RTP since the
//!   report before last (§6.3.8).
//! * §6.3.6 / A.7 `OnExpire`: at `tn` recompute `T`; send only if `tp + T ≤ now`, else reschedule to
//!   `tp + T` (forward reconsideration). §6.3.4: on BYE, reverse reconsideration scales `tn` and `tp` by
//!   `members / pmembers`.
//! * §6.3.5: members not heard for 5 × `Td` are timed out.
//! * RTT (§6.4.1): for a report block about our SSRC, `A − LSR − DLSR` with `A` the NTP time of
//!   arrival. Times are inputs: `now_us` (any monotonic epoch) and the NTP time at construction.
//! * BYE is sent at once (the §6.3.7 BYE back-off matters only for sessions above 50 members).
//! * Rate feedback (RFC 5104 §4.2, REMB): received TMMBR entries for our SSRC, TMMBNs and REMBs are
//!   queued as [`RtcpEvent`]s, as are report blocks about our stream ([`RtcpSession::poll_event`]); other feedback is tolerated and ignored.
//!   [`RtcpSession::write_feedback`] sends TMMBR/TMMBN/REMB at once, in a compound packet (report +
//!   SDES + feedback, RFC 4585 §3.1) or alone when reduced-size RTCP is on; it does not move the
//!   regular report schedule (the RFC 4585 early-feedback timing is the caller's: TMMBN answers
//!   and bitrate requests are rare).
//!
//! # Real-time safety
//! Not on an audio thread. After construction (which allocates the member table), the per-packet
//! methods and report generation do not allocate.

use crate::error::RtpError;
use std::collections::VecDeque;

use crate::rtcp_build::{RtcpWriter, SdesChunkSpec};
use crate::rtcp_feedback::{Feedback, TmmbItem};
use crate::rtcp_interval::{deterministic_interval, rtcp_interval, IntervalInput, SeededRng};
use crate::rtcp_packet::{rtcp_packets, validate_compound, ReportBlock, RtcpPacket, SdesType, SenderInfo};
use crate::rtp_packet::RtpPacket;
use crate::source_stats::{SeqOutcome, SourceConfig, SourceEvent, SourceTable};

/// UDP + IPv4 header bytes added to every RTCP packet for the average-size estimate (§6.2).
const LOWER_LAYER_OVERHEAD: f64 = 28.0;
/// Reports keep at most this many blocks (one RTCP packet).
const MAX_BLOCKS: usize = 31;
/// Pending [`RtcpEvent`]s kept; older ones are dropped (and counted) beyond this.
const MAX_EVENTS: usize = 32;

/// Rate feedback received by an [`RtcpSession`], for the sender's rate control
/// ([`RateController`](crate::RateController)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RtcpEvent {
    /// A TMMBR entry addressed to our SSRC (RFC 5104 §4.2.1): answer with a TMMBN.
    Tmmbr {
        /// The requester (owner of the tuple).
        sender_ssrc: u32,
        /// The request (its `ssrc` is ours).
        request: TmmbItem,
    },
    /// A TMMBN (RFC 5104 §4.2.2) from a media sender.
    Tmmbn {
        /// The media sender notifying.
        sender_ssrc: u32,
        /// Entries in its bounding set.
        entries: usize,
        /// Our own tuple when we are an owner in that bounding set.
        ours: Option<TmmbItem>,
    },
    /// A report block about our stream (in an SR or RR from `reporter_ssrc`): loss and jitter for the
    /// sender's rate control.
    Report {
        /// The receiver that reported.
        reporter_ssrc: u32,
        /// Its block about us.
        block: ReportBlock,
    },
    /// A REMB (receiver estimated maximum bitrate).
    Remb {
        /// The estimating receiver.
        sender_ssrc: u32,
        /// Estimated maximum total bitrate, bit/s.
        bitrate_bps: u64,
        /// True when our SSRC is in its SSRC list.
        applies_to_us: bool,
    },
}

/// A feedback message for [`RtcpSession::write_feedback`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedbackMessage<'a> {
    /// TMMBR requests to media senders (each entry's `ssrc` names one).
    Tmmbr(&'a [TmmbItem]),
    /// TMMBN: our bounding set (as [`RateController::tmmbn`](crate::RateController::tmmbn) gives it).
    Tmmbn(&'a [TmmbItem]),
    /// REMB: our estimate for the listed media senders.
    Remb {
        /// Estimated maximum total bitrate, bit/s.
        bitrate_bps: u64,
        /// The media senders it applies to.
        ssrcs: &'a [u32],
    },
}

/// Configuration of an [`RtcpSession`].
#[derive(Debug, Clone)]
pub struct RtcpSessionConfig {
    /// Our SSRC.
    pub local_ssrc: u32,
    /// Our canonical name (SDES CNAME, at most 255 bytes).
    pub cname: String,
    /// RTP clock rate of the media we send and receive.
    pub clock_rate: u32,
    /// Session bandwidth in bit/s (RTP payload + headers of all senders, e.g. 64 000 + overhead for
    /// G.711).
    pub session_bandwidth_bps: u32,
    /// Fraction of the session bandwidth for RTCP (0.05 per §6.2).
    pub rtcp_fraction: f64,
    /// Minimum report interval in seconds (5 s per §6.2).
    pub min_interval_s: f64,
    /// Seed of the interval randomisation.
    pub seed: u64,
    /// Most sources/members tracked.
    pub max_members: usize,
    /// Accept RFC 5506 reduced-size RTCP (`a=rtcp-rsize`).
    pub reduced_size: bool,
}

impl RtcpSessionConfig {
    /// Defaults: 5 % RTCP bandwidth, 5 s minimum, 64 members, compound RTCP only.
    pub fn new(local_ssrc: u32, cname: &str, clock_rate: u32, session_bandwidth_bps: u32) -> Self {
        Self {
            local_ssrc,
            cname: cname.to_owned(),
            clock_rate,
            session_bandwidth_bps,
            rtcp_fraction: 0.05,
            min_interval_s: 5.0,
            seed: u64::from(local_ssrc),
            max_members: 64,
            reduced_size: false,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Member {
    ssrc: u32,
    last_heard_us: u64,
    last_rtp_us: Option<u64>,
    rtt_us: Option<u64>,
}

/// Counters of an [`RtcpSession`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RtcpSessionStats {
    /// Compound reports sent.
    pub reports_sent: u64,
    /// RTCP datagrams received and accepted.
    pub rtcp_received: u64,
    /// RTCP datagrams dropped as malformed.
    pub rtcp_malformed: u64,
    /// BYE packets received.
    pub byes_received: u64,
    /// Members timed out (§6.3.5).
    pub timeouts: u64,
    /// RTP or RTCP packets that carried our own SSRC (collisions or loops).
    pub collisions: u64,
    /// RTCP feedback messages (RTPFB/PSFB) received, including ones not interpreted.
    pub feedback_received: u64,
    /// Feedback messages whose FCI was malformed (ignored; the rest of the datagram is used).
    pub feedback_malformed: u64,
    /// Events dropped because [`RtcpSession::poll_event`] was not called often enough.
    pub events_dropped: u64,
    /// Feedback datagrams written by [`RtcpSession::write_feedback`].
    pub feedback_sent: u64,
}

/// The sans-IO RTCP state machine (see the module docs).
#[derive(Debug, Clone)]
pub struct RtcpSession {
    cfg: RtcpSessionConfig,
    sources: SourceTable,
    members: Vec<Member>,
    rng: SeededRng,
    tp: u64,
    tn: u64,
    pmembers: u32,
    initial: bool,
    avg_rtcp_size: f64,
    report_times: [u64; 2],
    now0: u64,
    ntp0: u64,
    sent_packets: u32,
    sent_octets: u32,
    last_rtp_ts: u32,
    last_rtp_send_us: Option<u64>,
    stats: RtcpSessionStats,
    last_report_about_us: Option<(u32, ReportBlock)>,
    events: VecDeque<RtcpEvent>,
}

impl RtcpSession {
    /// Starts a session at `now_us`, when the wall clock reads `ntp_now` (64-bit NTP format). The first
    /// report is scheduled with half the minimum interval (§6.2).
    pub fn new(cfg: RtcpSessionConfig, now_us: u64, ntp_now: u64) -> Self {
        let mut sources = SourceTable::new(SourceConfig::new(cfg.clock_rate), cfg.max_members);
        sources.set_local_ssrc(Some(cfg.local_ssrc));
        let mut s = Self {
            rng: SeededRng::new(cfg.seed),
            members: Vec::with_capacity(cfg.max_members),
            sources,
            tp: now_us,
            tn: now_us,
            pmembers: 1,
            initial: true,
            // The size of our first report: RR (8) + SDES (4 + 4 + 2 + cname, padded) + overhead.
            avg_rtcp_size: 8.0 + 12.0 + cfg.cname.len() as f64 + LOWER_LAYER_OVERHEAD,
            report_times: [now_us; 2],
            now0: now_us,
            ntp0: ntp_now,
            sent_packets: 0,
            sent_octets: 0,
            last_rtp_ts: 0,
            last_rtp_send_us: None,
            stats: RtcpSessionStats::default(),
            last_report_about_us: None,
            events: VecDeque::with_capacity(MAX_EVENTS),
            cfg,
        };
        let t = s.interval();
        s.tn = now_us + t;
        s
    }

    /// Our SSRC.
    pub fn local_ssrc(&self) -> u32 {
        self.cfg.local_ssrc
    }

    /// Members including ourselves.
    pub fn members(&self) -> u32 {
        self.members.len() as u32 + 1
    }

    fn senders(&self) -> u32 {
        let since = self.report_times[0];
        let others = self
            .members
            .iter()
            .filter(|m| m.last_rtp_us.is_some_and(|t| t >= since))
            .count() as u32;
        others + u32::from(self.we_sent())
    }

    fn we_sent(&self) -> bool {
        self.last_rtp_send_us.is_some_and(|t| t >= self.report_times[0])
    }

    fn input(&self) -> IntervalInput {
        IntervalInput {
            members: self.members(),
            senders: self.senders(),
            rtcp_bw: f64::from(self.cfg.session_bandwidth_bps) / 8.0 * self.cfg.rtcp_fraction,
            we_sent: self.we_sent(),
            avg_rtcp_size: self.avg_rtcp_size,
            initial: self.initial,
            min_interval_s: self.cfg.min_interval_s,
        }
    }

    fn interval(&mut self) -> u64 {
        let i = self.input();
        rtcp_interval(&i, &mut self.rng)
    }

    /// NTP time (64-bit) corresponding to `now_us`.
    pub fn ntp_at(&self, now_us: u64) -> u64 {
        let d = now_us.saturating_sub(self.now0);
        self.ntp0.wrapping_add(((u128::from(d) << 32) / 1_000_000) as u64)
    }

    fn member_mut(&mut self, ssrc: u32, now_us: u64) -> Option<&mut Member> {
        if ssrc == self.cfg.local_ssrc {
            return None;
        }
        let i = match self.members.iter().position(|m| m.ssrc == ssrc) {
            Some(i) => i,
            None if self.members.len() < self.cfg.max_members => {
                self.members.push(Member {
                    ssrc,
                    last_heard_us: now_us,
                    last_rtp_us: None,
                    rtt_us: None,
                });
                self.members.len() - 1
            }
            None => return None,
        };
        let m = &mut self.members[i];
        m.last_heard_us = now_us;
        Some(m)
    }

    /// Records an RTP packet we sent (RTP timestamp and payload length) at `now_us`.
    pub fn on_rtp_sent(&mut self, now_us: u64, rtp_timestamp: u32, payload_len: usize) {
        self.sent_packets = self.sent_packets.wrapping_add(1);
        self.sent_octets = self.sent_octets.wrapping_add(payload_len as u32);
        self.last_rtp_ts = rtp_timestamp;
        self.last_rtp_send_us = Some(now_us);
    }

    /// Records a received RTP packet; returns the sequence outcome and any source event (a
    /// [`SourceEvent::Collision`] means the packet carried our SSRC).
    pub fn on_rtp_received(
        &mut self,
        now_us: u64,
        packet: &RtpPacket<'_>,
    ) -> (SeqOutcome, Option<SourceEvent>) {
        let (_, outcome, event) = self.sources.on_packet(
            packet.ssrc(),
            packet.sequence_number(),
            packet.timestamp(),
            now_us,
        );
        if matches!(event, Some(SourceEvent::Collision { .. })) {
            self.stats.collisions += 1;
        } else if let Some(m) = self.member_mut(packet.ssrc(), now_us) {
            m.last_rtp_us = Some(now_us);
        }
        (outcome, event)
    }

    /// Processes a received RTCP datagram (compound, or reduced-size when configured).
    ///
    /// # Errors
    /// The datagram is invalid (it is counted and ignored).
    pub fn on_rtcp_received(&mut self, now_us: u64, datagram: &[u8]) -> Result<(), RtpError> {
        if let Err(e) = validate_compound(datagram, self.cfg.reduced_size) {
            self.stats.rtcp_malformed += 1;
            return Err(e);
        }
        self.stats.rtcp_received += 1;
        self.avg_rtcp_size += (datagram.len() as f64 + LOWER_LAYER_OVERHEAD - self.avg_rtcp_size) / 16.0;
        let arrival_mid = (self.ntp_at(now_us) >> 16) as u32;
        for p in rtcp_packets(datagram) {
            // validate_compound succeeded, so every packet parses.
            let Ok(p) = p else { break };
            match p {
                RtcpPacket::SenderReport(sr) => {
                    if let Some(s) = self.sources.get_mut(sr.ssrc) {
                        s.on_sender_report(sr.info.ntp, now_us);
                    }
                    self.note_member(sr.ssrc, now_us);
                    for b in sr.blocks() {
                        self.on_block(sr.ssrc, b, arrival_mid);
                    }
                }
                RtcpPacket::ReceiverReport(rr) => {
                    self.note_member(rr.ssrc, now_us);
                    for b in rr.blocks() {
                        self.on_block(rr.ssrc, b, arrival_mid);
                    }
                }
                RtcpPacket::Sdes(sd) => {
                    for c in sd.chunks() {
                        self.note_member(c.ssrc, now_us);
                    }
                }
                RtcpPacket::Bye(bye) => {
                    for ssrc in bye.ssrcs() {
                        self.stats.byes_received += 1;
                        self.remove_member(ssrc, now_us);
                    }
                }
                RtcpPacket::App(_) => {}
                RtcpPacket::Other { .. } => match p.feedback() {
                    Some(Ok(fb)) => {
                        self.stats.feedback_received += 1;
                        self.on_feedback(fb, now_us);
                    }
                    Some(Err(_)) => {
                        self.stats.feedback_received += 1;
                        self.stats.feedback_malformed += 1;
                    }
                    None => {}
                },
            }
        }
        Ok(())
    }

    fn push_event(&mut self, e: RtcpEvent) {
        if self.events.len() == MAX_EVENTS {
            self.events.pop_front();
            self.stats.events_dropped += 1;
        }
        self.events.push_back(e);
    }

    fn on_feedback(&mut self, fb: Feedback<'_>, now_us: u64) {
        let me = self.cfg.local_ssrc;
        match fb {
            Feedback::Tmmbr(t) => {
                self.note_member(t.sender_ssrc, now_us);
                for request in t.items().filter(|i| i.ssrc == me) {
                    self.push_event(RtcpEvent::Tmmbr {
                        sender_ssrc: t.sender_ssrc,
                        request,
                    });
                }
            }
            Feedback::Tmmbn(t) => {
                self.note_member(t.sender_ssrc, now_us);
                self.push_event(RtcpEvent::Tmmbn {
                    sender_ssrc: t.sender_ssrc,
                    entries: t.len(),
                    ours: t.items().find(|i| i.ssrc == me),
                });
            }
            Feedback::Remb(r) => {
                self.note_member(r.sender_ssrc, now_us);
                self.push_event(RtcpEvent::Remb {
                    sender_ssrc: r.sender_ssrc,
                    bitrate_bps: r.bitrate_bps,
                    applies_to_us: r.applies_to(me),
                });
            }
            Feedback::Other { .. } => {}
        }
    }

    /// The next received rate-feedback event or report block about us, oldest first (at most 32 are
    /// kept).
    pub fn poll_event(&mut self) -> Option<RtcpEvent> {
        self.events.pop_front()
    }

    /// Writes `msgs` into `out` at once: after an RR/SR and SDES CNAME (compound, RFC 4585 §3.1), or
    /// alone when the session uses reduced-size RTCP. Returns the datagram length. The regular report
    /// schedule is not changed.
    ///
    /// # Errors
    /// [`RtpError::BufferTooSmall`]; [`RtpError::Malformed`] for a TMMBR without entries or a REMB
    /// with more than 255 SSRCs.
    pub fn write_feedback(
        &mut self,
        now_us: u64,
        msgs: &[FeedbackMessage<'_>],
        out: &mut [u8],
    ) -> Result<usize, RtpError> {
        let head = if self.cfg.reduced_size {
            0
        } else {
            self.write_report(now_us, out, None)?
        };
        let ssrc = self.cfg.local_ssrc;
        let mut w = RtcpWriter::new(&mut out[head..]);
        for m in msgs {
            match *m {
                FeedbackMessage::Tmmbr(items) => w.tmmbr(ssrc, items)?,
                FeedbackMessage::Tmmbn(items) => w.tmmbn(ssrc, items)?,
                FeedbackMessage::Remb { bitrate_bps, ssrcs } => w.remb(ssrc, bitrate_bps, ssrcs)?,
            }
        }
        let n = head + w.finish();
        self.avg_rtcp_size += (n as f64 + LOWER_LAYER_OVERHEAD - self.avg_rtcp_size) / 16.0;
        self.stats.feedback_sent += 1;
        Ok(n)
    }

    fn note_member(&mut self, ssrc: u32, now_us: u64) {
        if ssrc == self.cfg.local_ssrc {
            self.stats.collisions += 1;
        }
        let _ = self.member_mut(ssrc, now_us);
    }

    fn on_block(&mut self, reporter: u32, b: ReportBlock, arrival_mid: u32) {
        if b.ssrc != self.cfg.local_ssrc {
            return;
        }
        self.last_report_about_us = Some((reporter, b));
        self.push_event(RtcpEvent::Report {
            reporter_ssrc: reporter,
            block: b,
        });
        if let Some(rtt) = b.rtt(arrival_mid) {
            let us = u64::from(rtt) * 1_000_000 / 65_536;
            if let Some(m) = self.members.iter_mut().find(|m| m.ssrc == reporter) {
                m.rtt_us = Some(us);
            }
        }
    }

    /// Removes a member (BYE) and applies reverse reconsideration (§6.3.4).
    fn remove_member(&mut self, ssrc: u32, now_us: u64) {
        let before = self.members();
        self.members.retain(|m| m.ssrc != ssrc);
        self.sources.remove(ssrc);
        let members = self.members();
        if members < before && members < self.pmembers {
            let (m, p) = (f64::from(members), f64::from(self.pmembers));
            if self.tn > now_us {
                self.tn = now_us + ((m / p) * (self.tn - now_us) as f64) as u64;
            }
            self.tp = now_us.saturating_sub(((m / p) * now_us.saturating_sub(self.tp) as f64) as u64);
            self.pmembers = members;
        }
    }

    /// When [`RtcpSession::handle_timeout`] should next be called (µs, same epoch as the inputs).
    pub fn poll_timeout(&self) -> u64 {
        self.tn
    }

    /// Runs the timer at `now_us`. If a report is due after reconsideration, writes it into `out` and
    /// returns its length; otherwise reschedules and returns `None`.
    ///
    /// # Errors
    /// [`RtpError::BufferTooSmall`] when `out` cannot hold the report (1500 bytes always suffice).
    pub fn handle_timeout(&mut self, now_us: u64, out: &mut [u8]) -> Result<Option<usize>, RtpError> {
        if now_us < self.tn {
            return Ok(None);
        }
        // §6.3.5: time out silent members.
        let td_us = (deterministic_interval(&self.input()) * 1e6) as u64;
        let limit = now_us.saturating_sub(5 * td_us);
        while let Some(i) = self.members.iter().position(|m| m.last_heard_us < limit) {
            let m = self.members.swap_remove(i);
            self.sources.remove(m.ssrc);
            self.stats.timeouts += 1;
        }

        let t = self.interval();
        if self.tp + t > now_us {
            self.tn = self.tp + t;
            return Ok(None);
        }
        let n = self.write_report(now_us, out, None)?;
        self.avg_rtcp_size += (n as f64 + LOWER_LAYER_OVERHEAD - self.avg_rtcp_size) / 16.0;
        self.stats.reports_sent += 1;
        self.initial = false;
        self.report_times = [self.report_times[1], now_us];
        self.tp = now_us;
        let t = self.interval();
        self.tn = now_us + t;
        self.pmembers = self.members();
        Ok(Some(n))
    }

    /// Writes a compound report (SR if we sent RTP recently, else RR; SDES CNAME; optionally BYE).
    fn write_report(&mut self, now_us: u64, out: &mut [u8], bye: Option<&[u8]>) -> Result<usize, RtpError> {
        let mut blocks = [ReportBlock::default(); MAX_BLOCKS];
        let mut nb = 0;
        let since = self.tp;
        for s in self.sources.sources_mut() {
            if nb < MAX_BLOCKS && !s.on_probation() && s.last_packet_us() >= since {
                blocks[nb] = s.report_block(now_us);
                nb += 1;
            }
        }
        let ssrc = self.cfg.local_ssrc;
        let mut w = RtcpWriter::new(out);
        if self.we_sent() {
            let ntp = self.ntp_at(now_us);
            let since_send = now_us.saturating_sub(self.last_rtp_send_us.unwrap_or(now_us));
            let rtp_ts = self
                .last_rtp_ts
                .wrapping_add((u128::from(since_send) * u128::from(self.cfg.clock_rate) / 1_000_000) as u32);
            let info = SenderInfo {
                ntp,
                rtp_timestamp: rtp_ts,
                packet_count: self.sent_packets,
                octet_count: self.sent_octets,
            };
            w.sender_report(ssrc, &info, &blocks[..nb])?;
        } else {
            w.receiver_report(ssrc, &blocks[..nb])?;
        }
        let cname = self.cfg.cname.as_bytes();
        let cname = &cname[..cname.len().min(255)];
        w.sdes(&[SdesChunkSpec {
            ssrc,
            items: &[(SdesType::Cname, cname)],
        }])?;
        if let Some(reason) = bye {
            w.bye(&[ssrc], (!reason.is_empty()).then_some(reason))?;
        }
        Ok(w.finish())
    }

    /// Writes a final compound report ending with BYE (reason may be empty), e.g. when leaving or
    /// after an SSRC collision.
    ///
    /// # Errors
    /// [`RtpError::BufferTooSmall`].
    pub fn write_bye(&mut self, now_us: u64, reason: &[u8], out: &mut [u8]) -> Result<usize, RtpError> {
        self.write_report(now_us, out, Some(reason))
    }

    /// Switches to a new SSRC (after a collision, §8.2); sender counters restart.
    pub fn change_local_ssrc(&mut self, ssrc: u32) {
        self.cfg.local_ssrc = ssrc;
        self.sources.set_local_ssrc(Some(ssrc));
        self.members.retain(|m| m.ssrc != ssrc);
        self.sent_packets = 0;
        self.sent_octets = 0;
        self.last_rtp_send_us = None;
    }

    /// Round-trip time to `ssrc` from its last report on us, in µs.
    pub fn rtt_us(&self, ssrc: u32) -> Option<u64> {
        self.members
            .iter()
            .find(|m| m.ssrc == ssrc)
            .and_then(|m| m.rtt_us)
    }

    /// The most recent report block about us and who sent it.
    pub fn last_report_about_us(&self) -> Option<(u32, ReportBlock)> {
        self.last_report_about_us
    }

    /// Receive statistics per source.
    pub fn sources(&self) -> &SourceTable {
        &self.sources
    }

    /// Session counters.
    pub fn stats(&self) -> RtcpSessionStats {
        self.stats
    }

    /// Average compound RTCP size (octets incl. UDP/IP), as used for the interval.
    pub fn avg_rtcp_size(&self) -> f64 {
        self.avg_rtcp_size
    }
}
