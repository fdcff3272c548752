//! `tutti rtp decode` and `tutti rtp send` (see `../shared/INTERFACE.md`, section RTP).
//!
//! # What
//! `decode` reads every RTP stream of a pcap/pcapng capture and plays each through its own
//! [`tutti_rtp::Receiver`] (RFC 3550 statistics, adaptive jitter buffer, decoder) with the capture
//! timestamps as arrival times, exactly as live traffic would be: the receiver clock pops one 20 ms frame
//! every 20 ms of capture time. Each stream's audio goes to `DIR/<ssrc>.wav`; RTCP packets are parsed and
//! listed; RFC 4733 telephone-event packets are reported as events. `send` paces a WAV file out as RTP in
//! real time with RTCP sender reports.
//!
//! # How
//! The WAV starts at the first decoded sample: the jitter buffer's initial buffering silence and the
//! decoder's algorithmic delay (`Decoder::delay_samples`, e.g. 3.75 ms of G.711 Appendix I) are not
//! written, so a loss-free, jitter-free stream decodes to exactly its payloads laid end to end.
//!
//! # Real-time safety
//! Command-line tool (offline, or paced with `sleep`): not on a real-time path.

use std::collections::BTreeMap;
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Subcommand;
use serde_json::{json, Value};
use tutti_codecs::{dtmf_char, rtp_format, static_payload_type, CodecSpec, RtpFormat, TelephoneEvent};
use tutti_rtp::{
    classify, rtcp_packets, EModel, PacketKind, Receiver, RtcpPacket, RtcpWriter, RtpBuilder, RtpPacket,
    SdesChunkSpec, SdesType, SenderInfo, SessionDescription, SourceConfig, SourceStats,
};

use super::CliError;
use crate::wav::{read_wav, write_wav, Audio, WavFormat};

/// `tutti rtp …`
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    cmd: RtpCommand,
}

#[derive(Debug, Subcommand)]
enum RtpCommand {
    /// Decode every RTP stream of a capture through jitter buffer and decoder into WAV files.
    Decode(DecodeArgs),
    /// Send a WAV file as paced RTP (real time) with RTCP sender reports.
    Send(SendArgs),
}

/// `tutti rtp decode`
#[derive(Debug, clap::Args)]
pub struct DecodeArgs {
    /// Capture file (pcap or pcapng).
    #[arg(long)]
    pcap: PathBuf,
    /// Directory for `<ssrc>.wav` files (created if missing).
    #[arg(long)]
    out_dir: PathBuf,
    /// SDP file: `a=rtpmap` lines give dynamic payload types.
    #[arg(long)]
    sdp: Option<PathBuf>,
    /// Payload type mapping `N=CODEC[/RATE[/CHANNELS]]` (e.g. `96=opus`, `101=telephone-event/8000`).
    #[arg(long = "pt")]
    pt: Vec<String>,
    /// SRTP master key‖salt in base64 (SDES `inline:` value).
    #[arg(long)]
    srtp_key: Option<String>,
    /// SRTP suite (default AES_CM_128_HMAC_SHA1_80).
    #[arg(long)]
    srtp_suite: Option<String>,
    /// Output frame length of the jitter buffer in ms (10 or 20).
    #[arg(long, default_value_t = 20)]
    frame_ms: u32,
    /// Print one JSON document on stdout.
    #[arg(long)]
    json: bool,
}

/// `tutti rtp send`
#[derive(Debug, clap::Args)]
pub struct SendArgs {
    /// Input WAV file.
    #[arg(long = "in")]
    input: PathBuf,
    /// Codec: pcmu | pcma | g722 | g722-56 | g722-48 | opus[:BITRATE] | l16[:RATE].
    #[arg(long)]
    codec: String,
    /// Destination HOST:PORT (RTCP goes to PORT+1 unless --rtcp-mux).
    #[arg(long)]
    to: String,
    /// Packet duration in ms.
    #[arg(long, default_value_t = 20)]
    ptime: u32,
    /// Payload type (default: the codec's static one, else 96).
    #[arg(long)]
    pt: Option<u8>,
    /// SSRC (decimal or 0x-hex; default random).
    #[arg(long)]
    ssrc: Option<String>,
    /// SRTP master key‖salt in base64.
    #[arg(long)]
    srtp_key: Option<String>,
    /// Send RTCP on the RTP port (RFC 5761).
    #[arg(long)]
    rtcp_mux: bool,
    /// Print a JSON summary on stdout.
    #[arg(long)]
    json: bool,
}

/// Runs `tutti rtp …`.
pub fn run(a: &Args) -> Result<(), CliError> {
    match &a.cmd {
        RtpCommand::Decode(d) => decode(d),
        RtpCommand::Send(s) => send(s),
    }
}

/// What a payload type carries, plus its name for reports.
#[derive(Debug, Clone, Copy)]
struct PtFormat {
    format: RtpFormat,
}

fn parse_pt_arg(s: &str) -> Result<(u8, RtpFormat), CliError> {
    let bad = |d: &str| CliError::new(format!("--pt {s}: {d}"));
    let (n, codec) = s.split_once('=').ok_or_else(|| bad("expected N=CODEC[/RATE]"))?;
    let pt: u8 = n
        .trim()
        .parse()
        .map_err(|_| bad("payload type is not a number"))?;
    if pt > 127 {
        return Err(bad("payload type above 127"));
    }
    Ok((pt, parse_codec_name(codec.trim()).map_err(|e| bad(&e))?))
}

/// Accepts an rtpmap value (`opus/48000/2`, `PCMA/8000`, `telephone-event/8000`) or a CLI codec name
/// (`pcmu`, `g722`, `opus`), or an encoding name without rate (`telephone-event`, `CN`).
fn parse_codec_name(c: &str) -> Result<RtpFormat, String> {
    let lower = c.to_ascii_lowercase();
    if c.contains('/') {
        // `opus/48000` (no channels) is accepted as the RFC 7587 form.
        let fixed = if lower.starts_with("opus/") && lower.matches('/').count() == 1 {
            format!("{c}/2")
        } else {
            c.to_string()
        };
        return rtp_format(&fixed).map_err(|e| e.to_string());
    }
    match lower.as_str() {
        "telephone-event" => return Ok(RtpFormat::TelephoneEvent { clock_rate: 8000 }),
        "cn" => return Ok(RtpFormat::ComfortNoise { clock_rate: 8000 }),
        _ => {}
    }
    CodecSpec::parse(c)
        .map(RtpFormat::Audio)
        .map_err(|e| format!("unknown codec {c}: {e}"))
}

/// The `--sdp` file, parsed by the SDP module (`tutti_rtp::SessionDescription`).
pub(super) fn read_sdp(path: &Path) -> Result<SessionDescription, CliError> {
    let text =
        std::fs::read_to_string(path).map_err(|e| CliError::new(format!("{}: {e}", path.display())))?;
    SessionDescription::parse(&text).map_err(|e| CliError::new(format!("{}: {e}", path.display())))
}

/// Payload types of the SDP's audio sections (`a=rtpmap`, or RFC 3551 static assignments of the `m=` line)
/// that map to something we decode (codecs, comfort noise, telephone events). An encoding we cannot decode
/// is not an error of the file: its packets are ignored.
pub(super) fn sdp_formats(sd: &SessionDescription) -> Vec<(u8, RtpFormat)> {
    let mut out = Vec::new();
    for m in sd.media.iter().filter(|m| m.media.eq_ignore_ascii_case("audio")) {
        for r in m.rtpmaps() {
            // Opus is always `opus/48000/2` (RFC 7587 §7); `opus/48000` is accepted as that form.
            let channels = if r.encoding.eq_ignore_ascii_case("opus") {
                2
            } else {
                r.channels
            };
            let rtpmap = if channels > 1 {
                format!("{}/{}/{channels}", r.encoding, r.clock_rate)
            } else {
                format!("{}/{}", r.encoding, r.clock_rate)
            };
            if let Ok(f) = rtp_format(&rtpmap) {
                out.push((r.payload_type, f));
            }
        }
    }
    out
}

/// The first supported `a=crypto` line of the SDP's audio sections (or of the session level).
pub(super) fn sdp_crypto(
    sd: &SessionDescription,
    path: &Path,
) -> Result<Option<tutti_rtp::CryptoAttribute>, CliError> {
    let audio = sd.media.iter().filter(|m| m.media.eq_ignore_ascii_case("audio"));
    let mut offered = false;
    for m in audio {
        offered |= m.attributes.iter().any(|a| a.name.eq_ignore_ascii_case("crypto"));
        if let Some(c) = m.crypto().into_iter().next() {
            return Ok(Some(c));
        }
    }
    for a in sd
        .attributes
        .iter()
        .filter(|a| a.name.eq_ignore_ascii_case("crypto"))
    {
        offered = true;
        if let Some(c) = a
            .value
            .as_deref()
            .and_then(|v| tutti_rtp::CryptoAttribute::parse(v).ok())
        {
            return Ok(Some(c));
        }
    }
    if offered {
        return Err(CliError::new(format!(
            "{}: no a=crypto line with a supported suite and key",
            path.display()
        )));
    }
    Ok(None)
}

fn format_name(f: &RtpFormat) -> &'static str {
    match f {
        RtpFormat::Audio(spec) => spec.cli_name(),
        RtpFormat::ComfortNoise { .. } => "cn",
        RtpFormat::TelephoneEvent { .. } => "telephone-event",
    }
}

/// The call detail record of a decoded stream: from its first to its last packet in the capture, the
/// quality figures of its report.
fn stream_cdr(
    report: &Value,
    ssrc: u32,
    pkts: &[CapturedRtp],
    addrs: Option<(SocketAddr, SocketAddr)>,
) -> Value {
    let at = |us: u64| UNIX_EPOCH + Duration::from_micros(us);
    let first = pkts.first().map(|p| at(p.time_us));
    let f = |k: &str| report[k].as_f64().unwrap_or(0.0);
    let u = |k: &str| report[k].as_u64().unwrap_or(0);
    crate::cdr::Cdr {
        leg: format!("{ssrc:08x}"),
        codec: report["codec"].as_str().unwrap_or("unknown").to_string(),
        from: crate::cdr::CdrParty {
            ssrc: Some(ssrc),
            addr: addrs.map(|a| a.0),
        },
        to: crate::cdr::CdrParty {
            ssrc: None,
            addr: addrs.map(|a| a.1),
        },
        start: first.unwrap_or(UNIX_EPOCH),
        answer: first,
        end: pkts.last().map_or(UNIX_EPOCH, |p| at(p.time_us)),
        quality: crate::cdr::CdrQuality {
            packets: u("packets"),
            lost: report["lost"].as_i64().unwrap_or(0),
            discarded: u("packets_discarded"),
            duplicates: u("duplicates"),
            jitter_ms: f("jitter_ms"),
            rtt_ms: report["rtt_ms"].as_f64(),
            jitter_buffer_delay_ms: f("jitter_buffer_delay_ms"),
            concealment_ratio: f("concealment_ratio"),
            r_factor: f("r_factor"),
            mos: f("mos"),
        },
    }
    .to_json()
}

/// One RTP packet of a capture.
struct CapturedRtp {
    time_us: u64,
    bytes: Vec<u8>,
}

/// RFC 3550 §6.4.1 RTT of a report block that arrived at `time_us` (Unix µs), in ms.
fn ntp_mid(time_us: u64) -> u32 {
    let secs = time_us / 1_000_000 + 2_208_988_800;
    let frac = ((time_us % 1_000_000) << 32) / 1_000_000;
    (((secs & 0xffff) << 16) | (frac >> 16)) as u32
}

fn rtcp_json(time_us: u64, src: SocketAddr, p: &RtcpPacket<'_>, rtt: &mut BTreeMap<u32, f64>) -> Value {
    let t = time_us as f64 / 1e6;
    let blocks = |it: tutti_rtp::ReportBlocks<'_>, rtt: &mut BTreeMap<u32, f64>| -> Vec<Value> {
        it.map(|b| {
            if let Some(r) = b.rtt(ntp_mid(time_us)) {
                rtt.insert(b.ssrc, f64::from(r) * 1000.0 / 65536.0);
            }
            json!({"ssrc": format!("{:08x}", b.ssrc), "fraction_lost": b.fraction_lost,
                   "cumulative_lost": b.cumulative_lost, "extended_highest_seq": b.extended_highest_seq,
                   "jitter": b.jitter, "lsr": b.last_sr, "dlsr": b.delay_since_last_sr})
        })
        .collect()
    };
    match p {
        RtcpPacket::SenderReport(sr) => json!({"time": t, "from": src.to_string(), "type": "SR",
            "ssrc": format!("{:08x}", sr.ssrc), "ntp": sr.info.ntp, "rtp_timestamp": sr.info.rtp_timestamp,
            "packet_count": sr.info.packet_count, "octet_count": sr.info.octet_count,
            "reports": blocks(sr.blocks(), rtt)}),
        RtcpPacket::ReceiverReport(rr) => json!({"time": t, "from": src.to_string(), "type": "RR",
            "ssrc": format!("{:08x}", rr.ssrc), "reports": blocks(rr.blocks(), rtt)}),
        RtcpPacket::Sdes(s) => {
            let chunks: Vec<Value> = s
                .chunks()
                .map(|c| {
                    let items: Vec<Value> = c
                        .items()
                        .map(|i| {
                            json!({"type": format!("{:?}", i.kind).to_ascii_lowercase(),
                                        "text": String::from_utf8_lossy(i.text)})
                        })
                        .collect();
                    json!({"ssrc": format!("{:08x}", c.ssrc), "items": items})
                })
                .collect();
            json!({"time": t, "from": src.to_string(), "type": "SDES", "chunks": chunks})
        }
        RtcpPacket::Bye(b) => json!({"time": t, "from": src.to_string(), "type": "BYE",
            "ssrcs": b.ssrcs().map(|s| format!("{s:08x}")).collect::<Vec<_>>(),
            "reason": b.reason.map(|r| String::from_utf8_lossy(r).into_owned())}),
        RtcpPacket::App(a) => json!({"time": t, "from": src.to_string(), "type": "APP", "subtype": a.subtype,
            "ssrc": format!("{:08x}", a.ssrc), "name": String::from_utf8_lossy(&a.name), "length": a.data.len()}),
        RtcpPacket::Other {
            packet_type,
            count,
            body,
        } => json!({"time": t, "from": src.to_string(),
            "type": packet_type.to_string(), "count": count, "length": body.len()}),
    }
}

/// RFC 4733 events of a stream: one per RTP timestamp (the event start), with its final duration.
fn telephone_events(pkts: &[(u32, u8, &[u8])], clock: u32) -> Vec<Value> {
    let mut events: Vec<(u32, TelephoneEvent)> = Vec::new();
    for &(ts, _, payload) in pkts {
        let Ok(ev) = TelephoneEvent::parse(payload) else {
            continue;
        };
        match events.iter_mut().find(|(t, e)| *t == ts && e.event == ev.event) {
            Some((_, e)) => {
                e.duration = e.duration.max(ev.duration);
                e.end |= ev.end;
            }
            None => events.push((ts, ev)),
        }
    }
    events
        .iter()
        .map(|(ts, e)| {
            json!({"event": e.event, "digit": dtmf_char(e.event).map(String::from), "timestamp": ts,
                   "duration_ms": f64::from(e.duration) * 1000.0 / f64::from(clock.max(1)),
                   "volume_dbm0": -i32::from(e.volume), "ended": e.end})
        })
        .collect()
}

/// The SRTP context of `--srtp-key` (suite from `--srtp-suite`, default AES_CM_128_HMAC_SHA1_80), or of the
/// first supported `a=crypto` line of the SDP.
fn srtp_context(
    key: Option<&str>,
    suite: Option<&str>,
    sdp: Option<(&SessionDescription, &Path)>,
) -> Result<Option<tutti_rtp::SrtpContext>, CliError> {
    use tutti_rtp::{CryptoAttribute, SrtpConfig, SrtpProfile};
    let attr = if let Some(k) = key {
        // The suite: --srtp-suite, else the SDP's a=crypto suite (INTERFACE.md), else AES_CM_128_HMAC_SHA1_80.
        let profile = match (suite, sdp) {
            (Some(name), _) => SrtpProfile::from_sdes_name(name)
                .ok_or_else(|| CliError::new(format!("--srtp-suite {name}: unknown SRTP suite")))?,
            (None, Some((sd, path))) => {
                sdp_crypto(sd, path)?.map_or(SrtpProfile::Aes128CmHmacSha1_80, |c| c.profile)
            }
            (None, None) => SrtpProfile::Aes128CmHmacSha1_80,
        };
        Some(
            CryptoAttribute::from_base64_key(profile, k)
                .map_err(|e| CliError::new(format!("--srtp-key: {e}")))?,
        )
    } else if let Some((sd, path)) = sdp {
        sdp_crypto(sd, path)?
    } else {
        if let Some(s) = suite {
            return Err(CliError::new(format!("--srtp-suite {s}: needs --srtp-key")));
        }
        None
    };
    attr.map(|c| {
        c.context(SrtpConfig::default())
            .map_err(|e| CliError::new(format!("--srtp-key: {e}")))
    })
    .transpose()
}

fn decode(a: &DecodeArgs) -> Result<(), CliError> {
    if !(a.frame_ms == 10 || a.frame_ms == 20) {
        return Err(CliError::new(format!(
            "--frame-ms {}: must be 10 or 20",
            a.frame_ms
        )));
    }
    let sdp = a.sdp.as_deref().map(read_sdp).transpose()?;
    let sdp_ref = sdp.as_ref().zip(a.sdp.as_deref());
    let mut srtp = srtp_context(a.srtp_key.as_deref(), a.srtp_suite.as_deref(), sdp_ref)?;
    let mut srtp_fail: BTreeMap<u32, (u64, u64)> = BTreeMap::new();
    let mut pts: BTreeMap<u8, PtFormat> = BTreeMap::new();
    for pt in 0..=127u8 {
        if let Some(f) = static_payload_type(pt) {
            pts.insert(pt, PtFormat { format: f });
        }
    }
    if let Some(sd) = &sdp {
        for (pt, f) in sdp_formats(sd) {
            pts.insert(pt, PtFormat { format: f });
        }
    }
    for s in &a.pt {
        let (pt, f) = parse_pt_arg(s)?;
        pts.insert(pt, PtFormat { format: f });
    }
    let cap_err = |e: tutti_rtp::RtpError| CliError::new(format!("{}: {e}", a.pcap.display()));
    let mut reader = tutti_rtp::CaptureReader::open(&a.pcap).map_err(cap_err)?;
    let mut streams: BTreeMap<u32, Vec<CapturedRtp>> = BTreeMap::new();
    let mut addrs: BTreeMap<u32, (SocketAddr, SocketAddr)> = BTreeMap::new();
    let mut order: Vec<u32> = Vec::new();
    let mut rtcp = Vec::new();
    let mut rtt: BTreeMap<u32, f64> = BTreeMap::new();
    let mut ignored: u64 = 0;
    while let Some(d) = reader.next_udp().map_err(cap_err)? {
        match classify(d.payload) {
            PacketKind::Rtp => {
                let mut bytes = d.payload.to_vec();
                if let Some(ctx) = srtp.as_mut() {
                    let ssrc = bytes
                        .get(8..12)
                        .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
                    let len = bytes.len();
                    match ctx.unprotect_rtp(&mut bytes, len) {
                        Ok(n) => bytes.truncate(n),
                        Err(tutti_rtp::RtpError::AuthFailed { .. }) => {
                            srtp_fail.entry(ssrc).or_default().0 += 1;
                            continue;
                        }
                        Err(tutti_rtp::RtpError::Replayed { .. }) => {
                            srtp_fail.entry(ssrc).or_default().1 += 1;
                            continue;
                        }
                        Err(_) => {
                            ignored += 1;
                            continue;
                        }
                    }
                }
                match RtpPacket::parse(&bytes) {
                    Ok(p) => {
                        let list = streams.entry(p.ssrc()).or_insert_with(|| {
                            order.push(p.ssrc());
                            Vec::new()
                        });
                        addrs.entry(p.ssrc()).or_insert((d.src, d.dst));
                        list.push(CapturedRtp {
                            time_us: d.time_us(),
                            bytes,
                        });
                    }
                    Err(_) => ignored += 1,
                }
            }
            PacketKind::Rtcp => {
                let mut any = false;
                let mut bytes = d.payload.to_vec();
                if let Some(ctx) = srtp.as_mut() {
                    let len = bytes.len();
                    match ctx.unprotect_rtcp(&mut bytes, len) {
                        Ok(n) => bytes.truncate(n),
                        Err(_) => {
                            ignored += 1;
                            continue;
                        }
                    }
                }
                for p in rtcp_packets(&bytes) {
                    match p {
                        Ok(p) => {
                            any = true;
                            rtcp.push(rtcp_json(d.time_us(), d.src, &p, &mut rtt));
                        }
                        Err(_) => break,
                    }
                }
                if !any {
                    ignored += 1;
                }
            }
            _ => ignored += 1,
        }
    }
    let cs = reader.stats();
    ignored += cs.malformed;
    std::fs::create_dir_all(&a.out_dir)
        .map_err(|e| CliError::new(format!("{}: {e}", a.out_dir.display())))?;
    let mut out_streams = Vec::new();
    for (&ssrc, _) in &srtp_fail {
        if !streams.contains_key(&ssrc) {
            order.push(ssrc);
        }
    }
    let empty = Vec::new();
    for ssrc in order {
        let pkts = streams.get(&ssrc).unwrap_or(&empty);
        let (mut report, ign) = decode_stream(a, ssrc, pkts, &pts, rtt.get(&ssrc).copied())?;
        let (fails, replays) = srtp_fail.get(&ssrc).copied().unwrap_or((0, 0));
        report["srtp_auth_failures"] = json!(fails);
        report["srtp_replays"] = json!(replays);
        report["cdr"] = stream_cdr(&report, ssrc, pkts, addrs.get(&ssrc).copied());
        ignored += ign;
        out_streams.push(report);
    }
    let doc = json!({"streams": out_streams, "rtcp": rtcp, "ignored_packets": ignored});
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&doc).expect("JSON values always serialise")
        );
    } else {
        for s in &out_streams {
            println!(
                "ssrc {} pt {} {}: {} packets, {} lost, {} late, jitter {:.3} ms, played {:.0} ms, concealed {:.0} ms{}",
                s["ssrc"].as_str().unwrap_or(""),
                s["payload_type"],
                s["codec"].as_str().unwrap_or(""),
                s["packets"],
                s["lost"],
                s["late"],
                s["jitter_ms"].as_f64().unwrap_or(0.0),
                s["played_ms"].as_f64().unwrap_or(0.0),
                s["concealed_ms"].as_f64().unwrap_or(0.0),
                s["wav"].as_str().map(|w| format!(" → {w}")).unwrap_or_default()
            );
            if let Some(ev) = s["events"].as_array().filter(|e| !e.is_empty()) {
                let digits: String = ev.iter().filter_map(|e| e["digit"].as_str()).collect();
                println!("  telephone events: {digits}");
            }
        }
        println!("{} RTCP packets, {} ignored packets", rtcp.len(), ignored);
    }
    Ok(())
}

/// Decodes one SSRC's packets; returns its JSON report and how many of its packets were ignored.
fn decode_stream(
    a: &DecodeArgs,
    ssrc: u32,
    pkts: &[CapturedRtp],
    pts: &BTreeMap<u8, PtFormat>,
    rtt_ms: Option<f64>,
) -> Result<(Value, u64), CliError> {
    // The stream's audio payload type: the most frequent one that maps to a codec.
    let mut counts: BTreeMap<u8, usize> = BTreeMap::new();
    for p in pkts {
        *counts.entry(p.bytes[1] & 0x7f).or_default() += 1;
    }
    let audio_pt = counts
        .iter()
        .filter(|(pt, _)| {
            matches!(
                pts.get(pt),
                Some(PtFormat {
                    format: RtpFormat::Audio(_)
                })
            )
        })
        .max_by_key(|(_, &n)| n)
        .map(|(&pt, _)| pt);
    let event_pt = counts.keys().copied().find(|pt| {
        matches!(
            pts.get(pt),
            Some(PtFormat {
                format: RtpFormat::TelephoneEvent { .. }
            })
        )
    });
    let mut event_pkts: Vec<(u32, u8, &[u8])> = Vec::new();
    let mut event_clock = 8000;
    if let Some(ept) = event_pt {
        if let Some(PtFormat {
            format: RtpFormat::TelephoneEvent { clock_rate },
        }) = pts.get(&ept)
        {
            event_clock = *clock_rate;
        }
        for p in pkts {
            if let Ok(r) = RtpPacket::parse(&p.bytes) {
                if r.payload_type() == ept {
                    event_pkts.push((r.timestamp(), ept, r.payload()));
                }
            }
        }
    }
    let events = telephone_events(&event_pkts, event_clock);
    // RFC 3389 comfort noise of the stream (shares its sequence numbers: not loss).
    let cn_pt = counts.keys().copied().find(|pt| {
        matches!(
            pts.get(pt),
            Some(PtFormat {
                format: RtpFormat::ComfortNoise { .. }
            })
        )
    });
    let Some(pt) = audio_pt else {
        // No audio: report the events (telephone-event-only stream) or an unknown payload type.
        let mut src: Option<SourceStats> = None;
        let mut n = 0u64;
        let mut ignored = 0u64;
        for p in pkts {
            let Ok(r) = RtpPacket::parse(&p.bytes) else {
                continue;
            };
            if Some(r.payload_type()) != event_pt {
                ignored += 1;
                continue;
            }
            n += 1;
            let s = src.get_or_insert_with(|| {
                SourceStats::new(ssrc, r.sequence_number(), SourceConfig::new(event_clock))
            });
            s.on_packet(r.sequence_number(), r.timestamp(), p.time_us);
        }
        let pt = event_pt.or_else(|| counts.keys().next().copied()).unwrap_or(0);
        let codec = pts.get(&pt).map_or("unknown", |f| format_name(&f.format));
        let report = json!({
            "ssrc": format!("{ssrc:08x}"), "payload_type": pt, "codec": codec, "packets": n,
            "lost": src.as_ref().map_or(0, |s| s.lost()), "duplicates": src.as_ref().map_or(0, |s| s.duplicates()),
            "reordered": src.as_ref().map_or(0, |s| s.reordered()), "late": 0,
            "jitter_ms": src.as_ref().map_or(0.0, |s| s.jitter_ms()), "concealed_ms": 0.0, "played_ms": 0.0,
            "srtp_auth_failures": 0, "srtp_replays": 0, "wav": Value::Null, "events": events,
            "rtt_ms": rtt_ms,
        });
        return Ok((report, ignored));
    };
    let Some(PtFormat {
        format: RtpFormat::Audio(spec),
    }) = pts.get(&pt).copied()
    else {
        return Err(CliError::new(format!(
            "ssrc {ssrc:08x}: payload type {pt} is not audio"
        )));
    };
    let decoder = spec
        .decoder()
        .map_err(|e| CliError::new(format!("ssrc {ssrc:08x}: codec {}: {e}", spec.cli_name())))?;
    let mut cfg = tutti_rtp::JitterConfig::for_codec(&decoder.info());
    cfg.frame_ms = a.frame_ms;
    let mut rx = Receiver::new(decoder, cfg, Some(pt));
    rx.set_comfort_noise_payload_type(cn_pt);
    // RFC 4733 events share the stream's sequence numbers: the receiver counts them, not as loss.
    rx.set_event_payload_type(event_pt);
    let info = rx.codec();
    let ch = info.channels.max(1);
    let mut frame = vec![0i16; rx.frame_len()];
    let mut audio: Vec<i16> = Vec::new();
    let mut lead: Option<usize> = None;
    let step = u64::from(a.frame_ms) * 1000;
    let mut t = pkts.first().map_or(0, |p| p.time_us);
    let mut next = 0;
    let mut ignored = 0u64;
    loop {
        while next < pkts.len() && pkts[next].time_us <= t {
            let p = RtpPacket::parse(&pkts[next].bytes).expect("parsed when the capture was read");
            let ppt = Some(p.payload_type());
            if ppt == Some(pt) || ppt == cn_pt || ppt == event_pt {
                rx.push(Duration::from_micros(pkts[next].time_us), &p);
            } else {
                ignored += 1;
            }
            next += 1;
        }
        if next == pkts.len() && !rx.has_pending_audio() {
            let rest = rx.drain(&mut frame);
            audio.extend_from_slice(&frame[..rest * ch]);
            break;
        }
        rx.pop(Duration::from_micros(t), &mut frame);
        audio.extend_from_slice(&frame);
        let st = rx.stats().jitter_buffer;
        if lead.is_none() && st.jitter_buffer_emitted_count > 0 {
            lead = Some(st.dtx_samples as usize);
        }
        t += step;
    }
    let skip = (lead.unwrap_or(0) + rx.decoder_delay()) * ch;
    let audio = if skip < audio.len() {
        audio[skip..].to_vec()
    } else {
        Vec::new()
    };
    let st = rx.stats();
    let wav_path = a.out_dir.join(format!("{ssrc:08x}.wav"));
    let planar = Audio {
        sample_rate: info.audio_rate,
        channels: (0..ch)
            .map(|c| {
                audio
                    .iter()
                    .skip(c)
                    .step_by(ch)
                    .map(|&s| f32::from(s) / 32768.0)
                    .collect()
            })
            .collect(),
    };
    write_wav(&wav_path, &planar, WavFormat::I16)?;
    let jb = st.jitter_buffer;
    let expected = (st.packets as i64 - st.duplicates as i64 + st.lost).max(1) as f64;
    let loss_pct = 100.0 * (st.lost.max(0) as f64 + st.late as f64) / expected;
    let delay = jb.mean_delay_ms() + rtt_ms.map_or(0.0, |r| r / 2.0);
    let em = EModel::for_leg(spec.cli_name(), delay, loss_pct, 1.0);
    let report = json!({
        "ssrc": format!("{ssrc:08x}"), "payload_type": pt, "codec": spec.cli_name(), "packets": st.packets,
        "lost": st.lost, "duplicates": st.duplicates, "reordered": st.reordered, "late": st.late,
        "jitter_ms": st.jitter_ms, "concealed_ms": jb.concealed_ms(), "played_ms": jb.played_ms(),
        "srtp_auth_failures": 0, "srtp_replays": 0, "wav": wav_path.display().to_string(),
        "rtt_ms": rtt_ms, "jitter_buffer_delay_ms": jb.mean_delay_ms(),
        "jitter_buffer_target_delay_ms": jb.mean_target_delay_ms(), "concealment_ratio": jb.concealment_ratio(),
        "concealment_events": jb.concealment_events, "inserted_samples_for_deceleration": jb.inserted_samples_for_deceleration,
        "removed_samples_for_acceleration": jb.removed_samples_for_acceleration,
        "packets_discarded": jb.packets_discarded, "comfort_noise_packets": jb.comfort_noise_packets,
        "comfort_noise_ms": jb.comfort_noise_samples as f64 * 1000.0 / f64::from(info.audio_rate.max(1)),
        "r_factor": em.r(), "mos": em.mos(), "events": events,
        "sample_rate": info.audio_rate, "samples": audio.len() / ch,
    });
    Ok((report, ignored))
}

fn parse_ssrc(s: &str) -> Result<u32, CliError> {
    let r = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u32::from_str_radix(h, 16),
        None => s.parse::<u32>(),
    };
    r.map_err(|_| CliError::new(format!("--ssrc {s}: not a 32-bit number")))
}

fn random_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish() as u32
}

fn ntp_now() -> u64 {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() + 2_208_988_800;
    let frac = (u64::from(d.subsec_nanos()) << 32) / 1_000_000_000;
    (secs << 32) | frac
}

fn send(a: &SendArgs) -> Result<(), CliError> {
    let srtp = std::cell::RefCell::new(srtp_context(a.srtp_key.as_deref(), None, None)?);
    let spec = CodecSpec::parse(&a.codec).map_err(|e| CliError::new(format!("--codec {}: {e}", a.codec)))?;
    let info = spec.info();
    let mut enc = spec
        .encoder()
        .map_err(|e| CliError::new(format!("--codec {}: {e}", a.codec)))?;
    if a.ptime == 0 || a.ptime > 120 {
        return Err(CliError::new(format!("--ptime {}: must be 1..=120 ms", a.ptime)));
    }
    let dest: SocketAddr =
        a.to.to_socket_addrs()
            .map_err(|e| CliError::new(format!("--to {}: {e}", a.to)))?
            .next()
            .ok_or_else(|| CliError::new(format!("--to {}: no address", a.to)))?;
    let rtcp_dest = if a.rtcp_mux {
        dest
    } else {
        SocketAddr::new(dest.ip(), dest.port().wrapping_add(1))
    };
    let pt = a.pt.or(info.static_payload_type).unwrap_or(96);
    if pt > 127 {
        return Err(CliError::new(format!("--pt {pt}: above 127")));
    }
    let ssrc = match &a.ssrc {
        Some(s) => parse_ssrc(s)?,
        None => random_u32(),
    };
    // Audio: mono mix at the codec's rate.
    let wav = read_wav(&a.input)?;
    let n = wav.frames();
    let mut mono: Vec<f32> = (0..n)
        .map(|i| wav.channels.iter().map(|c| c[i]).sum::<f32>() / wav.channels.len() as f32)
        .collect();
    if wav.sample_rate != info.audio_rate {
        mono = tutti_effects::resample_signal(&mono, wav.sample_rate, info.audio_rate).map_err(|e| {
            CliError::new(format!(
                "{}: resampling to {} Hz: {e}",
                a.input.display(),
                info.audio_rate
            ))
        })?;
    }
    let ch = info.channels.max(1);
    let spp = (info.audio_rate * a.ptime / 1000) as usize;
    let pcm: Vec<i16> = mono
        .iter()
        .flat_map(|&s| std::iter::repeat(crate::wav::f32_to_i16(s)).take(ch))
        .collect();
    let bind = if dest.is_ipv6() { "[::]:0" } else { "0.0.0.0:0" };
    let sock = UdpSocket::bind(bind).map_err(|e| CliError::new(format!("--to {}: bind: {e}", a.to)))?;
    let rtcp_sock = if a.rtcp_mux {
        None
    } else {
        Some(UdpSocket::bind(bind).map_err(|e| CliError::new(format!("--to {}: bind: {e}", a.to)))?)
    };
    let ts_per_packet = (spp as u64 * u64::from(info.clock_rate) / u64::from(info.audio_rate)) as u32;
    let mut seq = random_u32() as u16;
    let ts0 = random_u32();
    let mut payload = vec![0u8; enc.max_payload_len(spp).max(16)];
    let mut packet = vec![0u8; payload.len() + 64];
    let mut block = vec![0i16; spp * ch];
    let start = Instant::now();
    let (mut sent, mut octets) = (0u32, 0u32);
    let mut last_sr = None::<Instant>;
    let cname = format!(
        "tutti@{}",
        sock.local_addr().map(|a| a.ip().to_string()).unwrap_or_default()
    );
    let send_rtcp = |sent: u32, octets: u32, ts: u32, bye: bool| -> Result<(), CliError> {
        let mut buf = [0u8; 512];
        let mut w = RtcpWriter::new(&mut buf);
        let info = SenderInfo {
            ntp: ntp_now(),
            rtp_timestamp: ts,
            packet_count: sent,
            octet_count: octets,
        };
        let items = [(SdesType::Cname, cname.as_bytes())];
        let r = w
            .sender_report(ssrc, &info, &[])
            .and_then(|()| w.sdes(&[SdesChunkSpec { ssrc, items: &items }]))
            .and_then(|()| if bye { w.bye(&[ssrc], None) } else { Ok(()) });
        r.map_err(|e| CliError::new(format!("RTCP: {e}")))?;
        let mut len = w.finish();
        if let Some(ctx) = srtp.borrow_mut().as_mut() {
            len = ctx
                .protect_rtcp(&mut buf, len)
                .map_err(|e| CliError::new(format!("SRTCP: {e}")))?;
        }
        let s = rtcp_sock.as_ref().unwrap_or(&sock);
        s.send_to(&buf[..len], rtcp_dest)
            .map_err(|e| CliError::new(format!("--to {}: RTCP send: {e}", a.to)))?;
        Ok(())
    };
    let packets = pcm.len().div_ceil(spp * ch);
    for k in 0..packets {
        let due = start + Duration::from_micros(k as u64 * u64::from(a.ptime) * 1000);
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        let from = k * spp * ch;
        let to = (from + spp * ch).min(pcm.len());
        block.fill(0);
        block[..to - from].copy_from_slice(&pcm[from..to]);
        let len = enc
            .encode(&block, &mut payload)
            .map_err(|e| CliError::new(format!("--codec {}: encode: {e}", a.codec)))?;
        let ts = ts0.wrapping_add(k as u32 * ts_per_packet);
        let b = RtpBuilder {
            marker: k == 0,
            payload_type: pt,
            sequence_number: seq,
            timestamp: ts,
            ssrc,
            ..Default::default()
        };
        let mut n = b
            .write(&payload[..len], &mut packet)
            .map_err(|e| CliError::new(format!("RTP: {e}")))?;
        if let Some(ctx) = srtp.borrow_mut().as_mut() {
            n = ctx
                .protect_rtp(&mut packet, n)
                .map_err(|e| CliError::new(format!("SRTP: {e}")))?;
        }
        sock.send_to(&packet[..n], dest)
            .map_err(|e| CliError::new(format!("--to {}: send: {e}", a.to)))?;
        seq = seq.wrapping_add(1);
        sent += 1;
        octets = octets.wrapping_add(len as u32);
        // RTCP: an SR after the first packet, then every 5 s (RFC 3550 §6.2 minimum interval).
        if last_sr.map_or(true, |t| t.elapsed() >= Duration::from_secs(5)) {
            send_rtcp(sent, octets, ts, false)?;
            last_sr = Some(Instant::now());
        }
    }
    let end_ts = ts0.wrapping_add(packets as u32 * ts_per_packet);
    send_rtcp(sent, octets, end_ts, true)?;
    if a.json {
        let doc = json!({"ssrc": format!("{ssrc:08x}"), "payload_type": pt, "codec": spec.cli_name(),
                         "packets": sent, "octets": octets, "seconds": start.elapsed().as_secs_f64(),
                         "to": dest.to_string(), "rtcp_to": rtcp_dest.to_string()});
        println!(
            "{}",
            serde_json::to_string_pretty(&doc).expect("JSON values always serialise")
        );
    } else {
        eprintln!("sent {sent} RTP packets ({octets} payload bytes) to {dest}, ssrc {ssrc:08x}, pt {pt}");
    }
    Ok(())
}
