//! One leg of a conference: receive side (SRTP, RTCP, jitter buffer, decoder, chain, resampler) and send
//! side (own mix path, encoder, packetizer, outgoing queue).
//!
//! # What
//! A [`Leg`] is one participant's RTP session with the mixer. The conference tick asks it for its next
//! frame at the mix rate ([`Leg::pull_frame`]) and later gives it the payload it must send
//! ([`Leg::send`]); datagrams from the network go through [`Leg::receive`].
//!
//! # How
//! Receive: RFC 5761 demultiplexing of RTP and RTCP on one port; SRTP (RFC 3711) unprotect; RFC 3550
//! statistics and the adaptive jitter buffer with the codec's concealment (`tutti_rtp::Receiver`); the
//! contributing sources (CSRC list, RFC 6465 levels) of a cascaded mixer are remembered so that our own
//! packets can name them. Send: RTP with our SSRC, the contributors as CSRCs (RFC 3550 §7.1) and their
//! levels (RFC 6465), SRTP protect, and an RTCP session (SR/RR, SDES CNAME, BYE).
//!
//! # Real-time safety
//! Every buffer (packet queue, scratch packet, PCM frames, resampler and chain state) is allocated in
//! [`Leg::new`]; `receive`, `pull_frame` and `send` allocate nothing.

use std::time::Duration;

use tutti_codecs::{CodecInfo, CodecSpec, Encoder};
use tutti_engine::Graph;
use tutti_rtp::{
    classify, rtcp_packets, ClientAudioLevel, ExtensionElement, ExtensionForm, JitterConfig,
    MixerAudioLevels, PacketKind, PlayoutKind, Receiver, ReceiverStats, RtcpPacket, RtcpSession,
    RtcpSessionConfig, RtpBuilder, RtpPacket, SrtpConfig, SrtpContext, RTP_MAX_CSRCS,
};
use tutti_rtp::{FeedbackMessage, RateConfig, RateController, RateDecision, TmmbItem};

use super::config::{ConferenceConfig, ConferenceError, LegConfig, LegId};
use super::dsp::{from_i16, level_db, to_i16, FrameResampler, Limiter};
use super::queue::PacketQueue;

/// How long a cascaded mixer's last contributor list stays valid after its packets stop naming anyone.
const CSRC_HOLD: Duration = Duration::from_millis(300);

/// Largest datagram handled.
pub const MTU: usize = 1500;

/// One contributing source of the mix, as named in CSRC lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Contributor {
    /// CSRC value.
    pub csrc: u32,
    /// RFC 6465 level (−dBov).
    pub level: u8,
    /// Slot of the leg it came through.
    pub slot: usize,
}

/// Counters of a leg.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LegCounters {
    /// Datagrams received (RTP and RTCP).
    pub rx_datagrams: u64,
    /// Datagrams dropped (malformed, SRTP authentication or replay, unknown kind).
    pub rx_dropped: u64,
    /// RTP packets sent.
    pub tx_packets: u64,
    /// RTP payload bytes sent.
    pub tx_payload_bytes: u64,
    /// RTCP packets sent.
    pub tx_rtcp: u64,
    /// Outgoing datagrams overwritten because nobody polled them.
    pub tx_overflow: u64,
    /// Frames that were concealed (loss) rather than decoded.
    pub concealed_frames: u64,
    /// Encoder errors (frame not sent).
    pub encode_errors: u64,
    /// RTCP TMMBN sent in answer to TMMBR (RFC 5104).
    pub tx_tmmbn: u64,
    /// Changes of the encoder's bitrate/FEC settings made by rate adaptation.
    pub rate_changes: u64,
}

/// Default ceiling of an Opus leg's bitrate when its codec names none (wideband speech, mono).
const OPUS_DEFAULT_MAX_BPS: u32 = 32_000;

/// One leg (see the module docs).
pub struct Leg {
    pub(crate) id: LegId,
    pub(crate) name: std::sync::Arc<str>,
    pub(crate) cfg: LegConfig,
    info: CodecInfo,
    receiver: Receiver,
    srtp_in: Option<SrtpContext>,
    srtp_out: Option<SrtpContext>,
    rtcp: RtcpSession,
    chain: Option<(Graph, bool)>,
    scratch: Vec<u8>,
    pcm: Vec<i16>,
    x: Vec<f32>,
    chain_out: Vec<f32>,
    up: Option<FrameResampler>,
    up_warm: bool,
    /// This tick's contribution at the mix rate (gain applied).
    pub(crate) mix_in: Vec<f32>,
    /// This tick's frame energy in dBov (before gain).
    pub(crate) energy_db: f32,
    /// What this leg hears this tick at the mix rate, when it has its own mix (talkers, deaf legs).
    pub(crate) own_mix: Vec<f32>,
    own_limiter: Limiter,
    down: Option<FrameResampler>,
    /// What the leg heard last tick at the codec rate (far-end reference of an `aec` in its chain).
    pub(crate) heard_codec: Vec<f32>,
    own_pcm: Vec<i16>,
    encoder: Box<dyn Encoder>,
    payload: Vec<u8>,
    pub(crate) group: usize,
    pub(crate) gain_in: f32,
    pub(crate) gain_out: f32,
    ssrc: u32,
    seq: u16,
    ts: u32,
    ts_step: u32,
    started: bool,
    out: PacketQueue,
    remote_ssrc: Option<u32>,
    remote_csrcs: [u32; RTP_MAX_CSRCS],
    remote_levels: [u8; RTP_MAX_CSRCS],
    remote_n: usize,
    remote_has_levels: bool,
    remote_is_mixer: bool,
    csrcs_seen_at: Duration,
    /// RFC 6464 level the client last reported (−dBov).
    client_level: Option<u8>,
    pub(crate) last_rx: Duration,
    /// Conference time the leg was built.
    pub(crate) created: Duration,
    /// Conference time its first media packet arrived.
    pub(crate) first_media: Option<Duration>,
    pub(crate) bye: bool,
    pub(crate) counters: LegCounters,
    /// Rate adaptation of the leg's own encoder from RTCP feedback (Opus legs).
    rate: Option<RateController>,
    /// What the own encoder was last set to.
    rate_applied: Option<RateDecision>,
    /// The receiver asked for less than the shared encode gives (or for FEC): the leg gets its own encode.
    pub(crate) adapted: bool,
}

impl std::fmt::Debug for Leg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leg")
            .field("id", &self.id)
            .field("name", &self.cfg.name)
            .field("ssrc", &self.ssrc)
            .finish_non_exhaustive()
    }
}

fn db_to_gain(db: f32) -> f32 {
    10f32.powf(db / 20.0)
}

impl Leg {
    /// Builds a leg (allocates everything it will need).
    pub(crate) fn new(
        id: LegId,
        cfg: LegConfig,
        conf: &ConferenceConfig,
        mix_rate: u32,
        ssrc: u32,
        seq0: u16,
        ts0: u32,
        now: Duration,
        group: usize,
    ) -> Result<Self, ConferenceError> {
        let codec_err = |e: &dyn std::fmt::Display| ConferenceError::Codec {
            leg: cfg.name.clone(),
            detail: e.to_string(),
        };
        let info = cfg.codec.info();
        if info.channels != 1 {
            return Err(ConferenceError::Codec {
                leg: cfg.name.clone(),
                detail: format!(
                    "conference legs are mono; the codec has {} channels",
                    info.channels
                ),
            });
        }
        let decoder = cfg.codec.decoder().map_err(|e| codec_err(&e))?;
        let encoder = cfg.codec.encoder().map_err(|e| codec_err(&e))?;
        let mut jc = JitterConfig::for_codec(&info);
        jc.frame_ms = conf.ptime_ms;
        jc.slots = 64;
        jc.min_delay_ms = conf.jitter_delay_ms.0;
        jc.max_delay_ms = conf.jitter_delay_ms.1;
        let receiver = Receiver::new(decoder, jc, Some(cfg.payload_type));
        let frame = (info.audio_rate * conf.ptime_ms / 1000) as usize;
        let mix_frame = (mix_rate * conf.ptime_ms / 1000) as usize;
        let srtp = |c: &Option<tutti_rtp::CryptoAttribute>| -> Result<Option<SrtpContext>, ConferenceError> {
            c.as_ref()
                .map(|a| {
                    a.context(SrtpConfig::default())
                        .map_err(|e| ConferenceError::Srtp {
                            leg: cfg.name.clone(),
                            detail: e.to_string(),
                        })
                })
                .transpose()
        };
        let (srtp_in, srtp_out) = (srtp(&cfg.srtp)?, srtp(&cfg.srtp)?);
        let chain_spec = cfg
            .chain
            .as_deref()
            .or(conf.chain.as_deref())
            .unwrap_or("")
            .trim();
        let chain = if chain_spec.is_empty() {
            None
        } else {
            let nodes = crate::chain::parse(chain_spec).map_err(|e| ConferenceError::Chain {
                leg: cfg.name.clone(),
                detail: e.to_string(),
            })?;
            let types = crate::registry::node_types();
            Some(
                crate::offline::chain_graph(&nodes, &types, info.audio_rate, 1, f64::from(conf.ptime_ms))
                    .map_err(|detail| ConferenceError::Chain {
                        leg: cfg.name.clone(),
                        detail,
                    })?,
            )
        };
        let now_us = now.as_micros() as u64;
        let bw = match cfg.codec.info().name {
            "opus" => 64_000,
            "l16" => info.audio_rate * 16,
            _ => 80_000,
        };
        let mut rc = RtcpSessionConfig::new(ssrc, &conf.cname, info.clock_rate, bw);
        rc.seed = conf.seed ^ u64::from(ssrc);
        let rtcp = RtcpSession::new(rc, now_us, conf.ntp_at_zero.wrapping_add(ntp_offset(now)));
        let rate = match cfg.codec {
            CodecSpec::Opus { bitrate, .. } => {
                let max = bitrate.unwrap_or(OPUS_DEFAULT_MAX_BPS);
                let mut rc = RateConfig::opus(None, max, conf.ptime_ms);
                rc.clock_rate = info.clock_rate;
                Some(RateController::new(rc, now_us))
            }
            _ => None,
        };
        let mut leg = Self {
            id,
            name: cfg.name.as_str().into(),
            info,
            receiver,
            srtp_in,
            srtp_out,
            rtcp,
            chain,
            scratch: vec![0; MTU],
            pcm: vec![0; frame],
            x: vec![0.0; frame],
            chain_out: vec![0.0; frame],
            up: None,
            up_warm: false,
            mix_in: vec![0.0; mix_frame],
            energy_db: -127.0,
            own_mix: vec![0.0; mix_frame],
            own_limiter: Limiter::new(conf.limiter_dbfs, mix_rate),
            down: None,
            heard_codec: vec![0.0; frame],
            own_pcm: vec![0; frame],
            encoder,
            payload: vec![0; MTU],
            group,
            gain_in: db_to_gain(cfg.gain_in_db),
            gain_out: db_to_gain(cfg.gain_out_db),
            ssrc,
            seq: seq0,
            ts: ts0,
            ts_step: (frame as u64 * u64::from(info.clock_rate) / u64::from(info.audio_rate)) as u32,
            started: false,
            out: PacketQueue::new(8, MTU),
            remote_ssrc: None,
            remote_csrcs: [0; RTP_MAX_CSRCS],
            remote_levels: [127; RTP_MAX_CSRCS],
            remote_n: 0,
            remote_has_levels: false,
            remote_is_mixer: false,
            csrcs_seen_at: Duration::ZERO,
            client_level: None,
            last_rx: now,
            created: now,
            first_media: None,
            bye: false,
            counters: LegCounters::default(),
            rate,
            rate_applied: None,
            adapted: false,
            cfg,
        };
        leg.set_mix_rate(mix_rate, conf)?;
        Ok(leg)
    }

    /// (Re)builds the resamplers for a mix rate (control side).
    pub(crate) fn set_mix_rate(
        &mut self,
        mix_rate: u32,
        conf: &ConferenceConfig,
    ) -> Result<(), ConferenceError> {
        let rate = self.info.audio_rate;
        let frame = self.pcm.len();
        let mk = |a: u32, b: u32, n: usize| -> Result<Option<FrameResampler>, ConferenceError> {
            if a == b {
                return Ok(None);
            }
            FrameResampler::new(a, b, n)
                .map(Some)
                .map_err(|detail| ConferenceError::Config {
                    field: "mix_rate",
                    detail,
                })
        };
        let mix_frame = (mix_rate * conf.ptime_ms / 1000) as usize;
        self.up = mk(rate, mix_rate, frame)?;
        self.up_warm = false;
        self.down = mk(mix_rate, rate, mix_frame)?;
        self.mix_in = vec![0.0; mix_frame];
        self.own_mix = vec![0.0; mix_frame];
        self.own_limiter = Limiter::new(conf.limiter_dbfs, mix_rate);
        Ok(())
    }

    /// The codec's facts.
    pub fn codec_info(&self) -> CodecInfo {
        self.info
    }

    /// Our SSRC towards this leg.
    pub fn local_ssrc(&self) -> u32 {
        self.ssrc
    }

    /// The SSRC the leg sends with (once a packet arrived).
    pub fn remote_ssrc(&self) -> Option<u32> {
        self.remote_ssrc
    }

    /// RFC 6464 level the client last reported (−dBov).
    pub fn client_level(&self) -> Option<u8> {
        self.client_level
    }

    /// Receive-side statistics.
    pub fn receiver_stats(&self) -> ReceiverStats {
        self.receiver.stats()
    }

    /// RTT from RTCP, in µs.
    pub fn rtt_us(&self) -> Option<u64> {
        self.remote_ssrc.and_then(|s| self.rtcp.rtt_us(s))
    }

    /// Takes one datagram from the network (RTP or RTCP, possibly SRTP-protected).
    pub(crate) fn receive(
        &mut self,
        now: Duration,
        datagram: &[u8],
        conf: &ConferenceConfig,
    ) -> Result<(), ConferenceError> {
        self.counters.rx_datagrams += 1;
        let drop = |c: &mut LegCounters, reason| {
            c.rx_dropped += 1;
            Err(ConferenceError::Dropped { reason })
        };
        if datagram.len() > self.scratch.len() {
            return drop(&mut self.counters, "datagram larger than the MTU");
        }
        let now_us = now.as_micros() as u64;
        let len = datagram.len();
        self.scratch[..len].copy_from_slice(datagram);
        match classify(datagram) {
            PacketKind::Rtp => {
                let n = match self.srtp_in.as_mut() {
                    Some(s) => match s.unprotect_rtp(&mut self.scratch, len) {
                        Ok(n) => n,
                        Err(_) => {
                            return drop(&mut self.counters, "SRTP authentication or replay check failed")
                        }
                    },
                    None => len,
                };
                let Ok(pkt) = RtpPacket::parse(&self.scratch[..n]) else {
                    return drop(&mut self.counters, "malformed RTP");
                };
                self.last_rx = now;
                self.rtcp.on_rtp_received(now_us, &pkt);
                if pkt.payload_type() == self.cfg.payload_type {
                    self.remote_ssrc = Some(pkt.ssrc());
                    self.first_media.get_or_insert(now);
                    // A mixer's contributor list is kept for a while after it empties: the audio those
                    // contributors sent is still in the jitter buffer when the list goes empty.
                    if pkt.csrc_count() > 0 {
                        self.remote_is_mixer = true;
                        self.csrcs_seen_at = now;
                    } else if now.saturating_sub(self.csrcs_seen_at) < CSRC_HOLD {
                        self.receiver.push(now, &pkt);
                        return Ok(());
                    }
                    self.remote_n = 0;
                    for c in pkt.csrcs().take(RTP_MAX_CSRCS) {
                        self.remote_csrcs[self.remote_n] = c;
                        self.remote_n += 1;
                    }
                    self.remote_has_levels = false;
                    if conf.csrc_level_ext_id != 0 {
                        if let Some(d) = pkt.extension_element(conf.csrc_level_ext_id) {
                            let lv = MixerAudioLevels::new(d);
                            for i in 0..self.remote_n {
                                self.remote_levels[i] = lv.get(i).unwrap_or(127);
                            }
                            self.remote_has_levels = lv.len() == self.remote_n;
                        }
                    }
                    if conf.ssrc_level_ext_id != 0 {
                        if let Some(d) = pkt.extension_element(conf.ssrc_level_ext_id) {
                            self.client_level = ClientAudioLevel::parse(d).ok().map(|l| l.level);
                        }
                    }
                }
                self.receiver.push(now, &pkt);
                Ok(())
            }
            PacketKind::Rtcp => {
                let n = match self.srtp_in.as_mut() {
                    Some(s) => match s.unprotect_rtcp(&mut self.scratch, len) {
                        Ok(n) => n,
                        Err(_) => {
                            return drop(&mut self.counters, "SRTCP authentication or replay check failed")
                        }
                    },
                    None => len,
                };
                self.last_rx = now;
                if self.rtcp.on_rtcp_received(now_us, &self.scratch[..n]).is_err() {
                    return drop(&mut self.counters, "malformed RTCP");
                }
                self.on_rate_feedback(now_us);
                let remote = self.remote_ssrc;
                for p in rtcp_packets(&self.scratch[..n]).flatten() {
                    if let RtcpPacket::Bye(b) = p {
                        if remote.is_none() || b.ssrcs().any(|s| Some(s) == remote) {
                            self.bye = true;
                        }
                    }
                }
                Ok(())
            }
            _ => drop(&mut self.counters, "neither RTP nor RTCP"),
        }
    }

    /// Plays out this tick's frame: jitter buffer, decoder/concealment, chain and level (`energy_db`).
    pub(crate) fn pull_frame(&mut self, now: Duration) {
        let kind = self.receiver.pop(now, &mut self.pcm);
        if kind == PlayoutKind::Concealed {
            self.counters.concealed_frames += 1;
        }
        from_i16(&self.pcm, &mut self.x);
        if let Some((g, has_far)) = self.chain.as_mut() {
            if *has_far {
                g.process(&[&self.x, &self.heard_codec], &mut [&mut self.chain_out]);
            } else {
                g.process(&[&self.x], &mut [&mut self.chain_out]);
            }
            std::mem::swap(&mut self.x, &mut self.chain_out);
        }
        self.energy_db = if kind == PlayoutKind::Silence && !self.receiver.jitter_buffer().is_playing() {
            -127.0
        } else {
            level_db(&self.x)
        };
    }

    /// Brings this tick's frame to the mix rate with the input gain (into `mix_in`) when the leg may be
    /// mixed (`active`: a talker, or speech that may make it one). Idle legs skip the resampler, which is
    /// what lets a thousand idle legs cost little; a leg that becomes active restarts it from silence.
    pub(crate) fn make_mix_in(&mut self, active: bool) {
        if !active {
            self.up_warm = false;
            return;
        }
        if !self.up_warm {
            if let Some(r) = self.up.as_mut() {
                r.reset();
            }
            self.up_warm = true;
        }
        let up = match self.up.as_mut() {
            Some(r) => r.process(&self.x),
            None => &self.x,
        };
        for (m, &s) in self.mix_in.iter_mut().zip(up) {
            *m = s * self.gain_in;
        }
    }

    /// The contributors this leg brings into the mix: its remote mixer's CSRCs (cascading) or its SSRC.
    pub(crate) fn contributors(&self, out: &mut [Contributor; RTP_MAX_CSRCS], n: &mut usize, slot: usize) {
        let own_level = (-(self.energy_db + 20.0 * self.gain_in.log10()))
            .round()
            .clamp(0.0, 127.0) as u8;
        if self.remote_n > 0 {
            for i in 0..self.remote_n {
                if *n == RTP_MAX_CSRCS {
                    return;
                }
                let level = if self.remote_has_levels {
                    self.remote_levels[i]
                } else {
                    own_level
                };
                out[*n] = Contributor {
                    csrc: self.remote_csrcs[i],
                    level,
                    slot,
                };
                *n += 1;
            }
        } else if let (Some(ssrc), false) = (self.remote_ssrc, self.remote_is_mixer) {
            // A mixer with no contributors names nobody (its own SSRC is not a talker).
            if *n < RTP_MAX_CSRCS {
                out[*n] = Contributor {
                    csrc: ssrc,
                    level: own_level,
                    slot,
                };
                *n += 1;
            }
        }
    }

    /// Mixes this leg's own output (N−1 for a talker, or silence for a deaf leg) from the full mix, limits,
    /// resamples and encodes it into the leg's own payload buffer; returns the payload length.
    pub(crate) fn encode_own(&mut self, full: &[f32], subtract_self: bool, deaf: bool) -> Option<usize> {
        for ((o, &f), &s) in self.own_mix.iter_mut().zip(full).zip(&self.mix_in) {
            *o = if deaf {
                0.0
            } else if subtract_self {
                (f - s) * self.gain_out
            } else {
                f * self.gain_out
            };
        }
        self.own_limiter.process(&mut self.own_mix);
        let y = match self.down.as_mut() {
            Some(r) => r.process(&self.own_mix),
            None => &self.own_mix,
        };
        let n = self.heard_codec.len();
        self.heard_codec.copy_from_slice(&y[..n]);
        to_i16(&self.heard_codec, &mut self.own_pcm);
        match self.encoder.encode(&self.own_pcm, &mut self.payload) {
            Ok(n) => Some(n),
            Err(_) => {
                self.counters.encode_errors += 1;
                None
            }
        }
    }

    /// Sends a payload: from the leg's own encoder (`shared = None`) or a group's shared encode.
    pub(crate) fn send(
        &mut self,
        now: Duration,
        shared: Option<&[u8]>,
        own_len: Option<usize>,
        contributors: &[Contributor],
        conf: &ConferenceConfig,
    ) {
        let payload: &[u8] = match (shared, own_len) {
            (Some(p), _) => p,
            (None, Some(n)) => &self.payload[..n],
            (None, None) => {
                self.advance();
                return;
            }
        };
        let mut csrcs = [0u32; RTP_MAX_CSRCS];
        let mut levels = [0u8; RTP_MAX_CSRCS];
        let mut n = 0;
        for c in contributors {
            if c.slot != self.id.slot() && n < RTP_MAX_CSRCS {
                csrcs[n] = c.csrc;
                levels[n] = c.level;
                n += 1;
            }
        }
        let ext = [ExtensionElement {
            id: conf.csrc_level_ext_id,
            data: &levels[..n],
        }];
        let b = RtpBuilder {
            marker: !self.started,
            payload_type: self.cfg.payload_type,
            sequence_number: self.seq,
            timestamp: self.ts,
            ssrc: self.ssrc,
            csrcs: &csrcs[..n],
            extensions: if n > 0 && conf.csrc_level_ext_id != 0 {
                &ext
            } else {
                &[]
            },
            extension_form: ExtensionForm::OneByte,
            padding: 0,
        };
        let (slot, overwrote) = self.out.next_slot();
        if overwrote {
            self.counters.tx_overflow += 1;
        }
        if let Ok(mut len) = b.write(payload, slot) {
            if let Some(s) = self.srtp_out.as_mut() {
                match s.protect_rtp(slot, len) {
                    Ok(l) => len = l,
                    Err(_) => len = 0,
                }
            }
            if len > 0 {
                self.out.commit(len);
                self.counters.tx_packets += 1;
                self.counters.tx_payload_bytes += payload.len() as u64;
                self.rtcp
                    .on_rtp_sent(now.as_micros() as u64, self.ts, payload.len());
            }
        }
        self.started = true;
        self.advance();
    }

    fn advance(&mut self) {
        self.seq = self.seq.wrapping_add(1);
        self.ts = self.ts.wrapping_add(self.ts_step);
    }

    /// Feeds received rate feedback (TMMBR, REMB, report blocks about our stream) to the rate controller
    /// and answers a TMMBR with a TMMBN at once (RFC 5104 §4.2.2).
    fn on_rate_feedback(&mut self, now_us: u64) {
        while let Some(ev) = self.rtcp.poll_event() {
            if let Some(rc) = self.rate.as_mut() {
                rc.on_event(now_us, &ev);
            }
        }
        let Some(rc) = self.rate.as_mut() else { return };
        let Some(items) = rc.tmmbn() else { return };
        let mut set = [TmmbItem::default(); tutti_rtp::MAX_TMMBR_OWNERS];
        let n = items.len().min(set.len());
        set[..n].copy_from_slice(&items[..n]);
        let (slot, overwrote) = self.out.next_slot();
        if overwrote {
            self.counters.tx_overflow += 1;
        }
        let room = slot.len() - 32;
        if let Ok(mut len) =
            self.rtcp
                .write_feedback(now_us, &[FeedbackMessage::Tmmbn(&set[..n])], &mut slot[..room])
        {
            if let Some(s) = self.srtp_out.as_mut() {
                len = s.protect_rtcp(slot, len).unwrap_or(0);
            }
            if len > 0 {
                self.out.commit(len);
                self.counters.tx_rtcp += 1;
                self.counters.tx_tmmbn += 1;
            }
        }
    }

    /// Applies the rate controller's decision to the leg's own encoder (before the tick's encodes) and
    /// decides whether the leg needs its own encode. Real-time safe.
    pub(crate) fn adapt_rate(&mut self, now: Duration) {
        let Some(rc) = self.rate.as_mut() else { return };
        let d = rc.poll(now.as_micros() as u64);
        self.adapted = d.bitrate_bps < rc.config().max_bps || d.fec || d.expected_loss_pct > 0;
        if self.adapted && self.rate_applied != Some(d) {
            if self
                .encoder
                .adapt(d.bitrate_bps, d.fec, d.expected_loss_pct)
                .is_err()
            {
                self.counters.encode_errors += 1;
            }
            self.rate_applied = Some(d);
            self.counters.rate_changes += 1;
        }
    }

    /// The rate controller's current decision (Opus legs).
    pub fn rate_decision(&self) -> Option<RateDecision> {
        self.rate.as_ref().map(RateController::decision)
    }

    /// Sends an RTCP report when one is due.
    pub(crate) fn poll_rtcp(&mut self, now: Duration) {
        let now_us = now.as_micros() as u64;
        if now_us < self.rtcp.poll_timeout() {
            return;
        }
        let (slot, overwrote) = self.out.next_slot();
        if overwrote {
            self.counters.tx_overflow += 1;
        }
        // Leave room for the SRTCP index and tag.
        let room = slot.len() - 32;
        if let Ok(Some(mut len)) = self.rtcp.handle_timeout(now_us, &mut slot[..room]) {
            if let Some(s) = self.srtp_out.as_mut() {
                len = s.protect_rtcp(slot, len).unwrap_or(0);
            }
            if len > 0 {
                self.out.commit(len);
                self.counters.tx_rtcp += 1;
            }
        }
    }

    /// Writes an RTCP BYE into the queue (when the leg leaves).
    pub(crate) fn send_bye(&mut self, now: Duration) {
        let (slot, _) = self.out.next_slot();
        let room = slot.len() - 32;
        if let Ok(mut len) =
            self.rtcp
                .write_bye(now.as_micros() as u64, b"left the conference", &mut slot[..room])
        {
            if let Some(s) = self.srtp_out.as_mut() {
                len = s.protect_rtcp(slot, len).unwrap_or(0);
            }
            if len > 0 {
                self.out.commit(len);
                self.counters.tx_rtcp += 1;
            }
        }
    }

    /// Copies the next outgoing datagram into `out`; returns its length.
    pub(crate) fn poll_transmit(&mut self, out: &mut [u8]) -> Option<usize> {
        self.out.pop(out)
    }

    /// Whether the leg's chain takes a far-end reference (what the leg hears).
    pub(crate) fn needs_far(&self) -> bool {
        matches!(self.chain, Some((_, true)))
    }
}

/// NTP offset (64-bit fixed point) of a conference-clock duration.
fn ntp_offset(d: Duration) -> u64 {
    (d.as_secs() << 32) + ((u64::from(d.subsec_nanos()) << 32) / 1_000_000_000)
}
