//! `tutti mix`: an offline conference over the RTP streams of a capture.
//!
//! # What
//! Every RTP stream (SSRC) of a pcap/pcapng capture is a participant. The streams are fed to a
//! [`Conference`] at their capture times, the mixer ticks every packet time, and the result is what every
//! participant hears (N−1, with active-talker selection) and the full mix, all aligned to the capture's
//! first packet.
//!
//! # How
//! The same sans-IO core that serves live legs: a participant joins when its first packet appears; its
//! codec comes from the payload type (RFC 3551 static types, or the `a=rtpmap` lines the caller passes).
//! Packets are delivered in capture order before the tick that falls due after them; the run ends 500 ms
//! after the last packet, so jitter buffers drain.
//!
//! # Real-time safety
//! An offline driver; it allocates freely. The tick it drives is the real-time code.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use tutti_codecs::{CodecSpec, RtpFormat};
use tutti_rtp::{classify, CaptureReader, CryptoAttribute, PacketKind, RtpPacket};

use super::config::{ConferenceConfig, LegConfig, LegId};
use super::core::Conference;
use super::stats::{ConferenceStats, LegStats};

/// Options of [`mix_capture`].
#[derive(Debug, Clone, Default)]
pub struct MixOptions {
    /// Conference configuration (chain, talkers, mix rate…).
    pub conference: ConferenceConfig,
    /// Payload-type mappings beyond the static ones (e.g. from an SDP).
    pub payload_types: BTreeMap<u8, RtpFormat>,
    /// SRTP keying of the capture's streams, if they are protected.
    pub srtp: Option<CryptoAttribute>,
}

/// One participant's result.
#[derive(Debug, Clone)]
pub struct Participant {
    /// The participant's SSRC.
    pub ssrc: u32,
    /// Its codec.
    pub codec: CodecSpec,
    /// Payload type.
    pub payload_type: u8,
    /// What it hears, at the mix rate, from the capture's start.
    pub heard: Vec<f32>,
    /// Final statistics of its leg.
    pub stats: LegStats,
    /// Ticks in which it was a selected talker.
    pub talking_ticks: u64,
}

/// The result of [`mix_capture`].
#[derive(Debug, Clone)]
pub struct MixOutput {
    /// Mix rate of all the audio here.
    pub mix_rate: u32,
    /// The full mix.
    pub full: Vec<f32>,
    /// The participants in order of appearance.
    pub participants: Vec<Participant>,
    /// Conference statistics at the end.
    pub stats: ConferenceStats,
    /// Datagrams that were not RTP of a known codec (RTCP, other payload types, malformed).
    pub ignored: u64,
}

struct Captured {
    time_us: u64,
    bytes: Vec<u8>,
}

fn codec_for(pt: u8, opts: &MixOptions) -> Option<CodecSpec> {
    let f = opts
        .payload_types
        .get(&pt)
        .copied()
        .or_else(|| tutti_codecs::static_payload_type(pt))?;
    match f {
        RtpFormat::Audio(CodecSpec::L16 { channels, .. }) if channels != 1 => None,
        RtpFormat::Audio(c) => Some(c),
        _ => None,
    }
}

/// Mixes the RTP streams of a capture (see the module docs).
///
/// # Errors
/// A one-line message naming the capture or the failing part.
pub fn mix_capture(path: &Path, opts: &MixOptions) -> Result<MixOutput, String> {
    let cap_err = |e: tutti_rtp::RtpError| format!("{}: {e}", path.display());
    let mut reader = CaptureReader::open(path).map_err(cap_err)?;
    let mut packets: Vec<(u32, Captured)> = Vec::new();
    let mut ignored = 0u64;
    let mut srtp = opts
        .srtp
        .as_ref()
        .map(|c| c.context(tutti_rtp::SrtpConfig::default()))
        .transpose()
        .map_err(|e| format!("SRTP key: {e}"))?;
    while let Some(d) = reader.next_udp().map_err(cap_err)? {
        if classify(d.payload) != PacketKind::Rtp {
            ignored += 1;
            continue;
        }
        let mut bytes = d.payload.to_vec();
        if let Some(ctx) = srtp.as_mut() {
            let n = bytes.len();
            match ctx.unprotect_rtp(&mut bytes, n) {
                Ok(m) => bytes.truncate(m),
                Err(_) => {
                    ignored += 1;
                    continue;
                }
            }
        }
        match RtpPacket::parse(&bytes) {
            Ok(p) => packets.push((
                p.ssrc(),
                Captured {
                    time_us: d.time_us(),
                    bytes,
                },
            )),
            Err(_) => ignored += 1,
        }
    }
    ignored += reader.stats().malformed;
    if packets.is_empty() {
        return Err(format!("{}: no RTP packets in the capture", path.display()));
    }
    // Each SSRC's codec from its first packet with a known audio payload type.
    let mut codecs: BTreeMap<u32, (CodecSpec, u8)> = BTreeMap::new();
    for (ssrc, c) in &packets {
        if codecs.contains_key(ssrc) {
            continue;
        }
        let pt = c.bytes[1] & 0x7f;
        if let Some(spec) = codec_for(pt, opts) {
            codecs.insert(*ssrc, (spec, pt));
        }
    }
    if codecs.is_empty() {
        return Err(format!(
            "{}: no RTP stream with a known audio payload type (pass --sdp for dynamic types)",
            path.display()
        ));
    }
    packets.retain(|(ssrc, _)| codecs.contains_key(ssrc));
    packets.sort_by_key(|(_, c)| c.time_us);
    let t0 = packets[0].1.time_us;
    let last = packets.last().map_or(t0, |(_, c)| c.time_us);

    let mut conf = Conference::new(opts.conference.clone()).map_err(|e| e.to_string())?;
    let ptime_us = u64::from(conf.config().ptime_ms) * 1000;
    let mut legs: BTreeMap<u32, (LegId, usize)> = BTreeMap::new();
    let mut parts: Vec<Participant> = Vec::new();
    let mut full: Vec<f32> = Vec::new();
    let mut next = 0usize;
    let mut tick = 0u64;
    let mut sink = vec![0u8; super::leg::MTU];
    let end = last - t0 + 500_000;
    loop {
        let now_us = tick * ptime_us;
        if now_us > end {
            break;
        }
        let now = Duration::from_micros(now_us);
        while next < packets.len() && packets[next].1.time_us - t0 <= now_us {
            let (ssrc, c) = &packets[next];
            let at = Duration::from_micros(c.time_us - t0);
            let id = match legs.get(ssrc) {
                Some(&(id, _)) => id,
                None => {
                    let (spec, pt) = codecs[ssrc];
                    let mut lc = LegConfig::new(format!("{ssrc:08x}"), spec);
                    lc.payload_type = pt;
                    let id = conf.add_leg(lc, at).map_err(|e| e.to_string())?;
                    let frames_before = full.len();
                    parts.push(Participant {
                        ssrc: *ssrc,
                        codec: spec,
                        payload_type: pt,
                        heard: vec![0.0; frames_before],
                        stats: conf.leg_stats(id).map_err(|e| e.to_string())?,
                        talking_ticks: 0,
                    });
                    legs.insert(*ssrc, (id, parts.len() - 1));
                    id
                }
            };
            // Malformed or foreign packets are counted by the leg and dropped.
            let _ = conf.receive(id, at, &c.bytes);
            next += 1;
        }
        conf.tick(now);
        full.extend_from_slice(conf.full_mix());
        for &(id, idx) in legs.values() {
            let heard = conf.heard(id).map(<[f32]>::to_vec).unwrap_or_default();
            parts[idx].heard.extend_from_slice(&heard);
            if conf.is_talking(id) {
                parts[idx].talking_ticks += 1;
            }
            while conf.poll_transmit(id, &mut sink).is_some() {}
        }
        tick += 1;
    }
    for &(id, idx) in legs.values() {
        parts[idx].stats = conf.leg_stats(id).map_err(|e| e.to_string())?;
    }
    Ok(MixOutput {
        mix_rate: conf.mix_rate(),
        full,
        participants: parts,
        stats: conf.stats(),
        ignored,
    })
}
