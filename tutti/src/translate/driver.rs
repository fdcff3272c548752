//! Thin drivers around [`Translator`]: live UDP (`tutti translate --listen`) and captures
//! (`tutti translate --pcap`). Every stream (SSRC) that arrives gets its own translator, all forwarded to
//! one destination.
//!
//! # Real-time safety
//! Not real-time: sockets and files make system calls; a new stream allocates its translator.

use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use tutti_codecs::{static_payload_type, CodecSpec, RtpFormat};
use tutti_rtp::{classify, CaptureReader, Channel, PacketKind, PcapWriter, UdpTransport};

use super::config::{TranslateError, TranslatorConfig};
use super::core::{Side, Translator};
use super::stats::TranslatorStats;
use crate::cdr::{Cdr, CdrParty};
use crate::conference::MTU;

/// How the drivers configure the translator of each new stream.
#[derive(Debug, Clone)]
pub struct TranslateTemplate {
    /// Codec of the incoming streams; `None`: from the RFC 3551 static payload type of a stream's first
    /// packet (PCMU 0, PCMA 8, G.722 9).
    pub input: Option<CodecSpec>,
    /// Payload type of the incoming streams; `None`: that of a stream's first packet.
    pub input_payload_type: Option<u8>,
    /// Everything else (its `input` and `input_payload_type` are replaced per stream).
    pub base: TranslatorConfig,
}

impl TranslateTemplate {
    /// A template translating to `output` (payload type: static, else 96; 20 ms).
    pub fn new(output: CodecSpec) -> Self {
        Self {
            input: None,
            input_payload_type: None,
            base: TranslatorConfig::new(CodecSpec::Pcmu, output),
        }
    }

    /// Checks the output side, packet time and chain by building a translator once (one-line errors before
    /// any socket is opened).
    ///
    /// # Errors
    /// The translator's configuration errors.
    pub fn check(&self) -> Result<(), TranslateError> {
        let mut c = self.base.clone();
        if let Some(i) = self.input {
            c.input = i;
            c.input_payload_type = self
                .input_payload_type
                .unwrap_or(i.info().static_payload_type.unwrap_or(96));
        }
        Translator::new(c, Duration::ZERO).map(|_| ())
    }

    /// The configuration for a stream whose first packet has payload type `pt` and SSRC `ssrc`.
    ///
    /// # Errors
    /// [`TranslateError::Config`] when the input codec is not given and `pt` is not a static audio type.
    pub fn config_for(&self, pt: u8, ssrc: u32) -> Result<TranslatorConfig, TranslateError> {
        let input_pt = self.input_payload_type.unwrap_or(pt);
        let input = match self.input {
            Some(c) => c,
            None => match static_payload_type(input_pt) {
                Some(RtpFormat::Audio(c)) => c,
                _ => {
                    return Err(TranslateError::Config {
                        field: "input codec",
                        detail: format!(
                            "stream {ssrc:08x}: payload type {input_pt} is not a static audio type \
                             (name the codec with --in-codec)"
                        ),
                    })
                }
            },
        };
        let mut c = self.base.clone();
        c.input = input;
        c.input_payload_type = input_pt;
        c.seed ^= u64::from(ssrc).rotate_left(17);
        Ok(c)
    }
}

/// What one translated stream did.
#[derive(Debug, Clone)]
pub struct StreamReport {
    /// The stream's SSRC.
    pub ssrc: u32,
    /// Where it came from (the sender's RTP address).
    pub source: SocketAddr,
    /// Where it went.
    pub destination: SocketAddr,
    /// Wall-clock time of its first and last packet from the sender.
    pub first: SystemTime,
    /// See `first`.
    pub last: SystemTime,
    /// Statistics at the end.
    pub stats: TranslatorStats,
}

impl StreamReport {
    /// The call detail record of the incoming leg (the sender's media as the translator received it).
    pub fn cdr(&self) -> Cdr {
        let q = &self.stats.incoming;
        Cdr {
            leg: format!("{:08x}", self.ssrc),
            codec: q.codec.to_string(),
            from: CdrParty {
                ssrc: Some(self.ssrc),
                addr: Some(self.source),
            },
            to: CdrParty {
                ssrc: Some(self.ssrc),
                addr: Some(self.destination),
            },
            start: self.first,
            answer: Some(self.first),
            end: self.last,
            quality: q.quality,
        }
    }

    /// The report as JSON, with its call detail record under `cdr`.
    pub fn to_json(&self) -> Value {
        let mut v = self.stats.to_json();
        v["ssrc"] = json!(format!("{:08x}", self.ssrc));
        v["source"] = json!(self.source.to_string());
        v["cdr"] = self.cdr().to_json();
        v
    }
}

struct Stream {
    tr: Translator,
    /// Host time of the first and the last datagram from the sender.
    first: Duration,
    last: Duration,
    source: SocketAddr,
    source_rtcp: Option<SocketAddr>,
    local: SocketAddr,
}

/// The streams of a driver, keyed by SSRC.
struct Streams {
    template: TranslateTemplate,
    list: Vec<Stream>,
    rejected: Vec<u32>,
}

impl Streams {
    /// Hands a datagram from a sender to its stream (a new RTP SSRC starts a stream). Returns its index.
    fn upstream(&mut self, now: Duration, d: &[u8], from: SocketAddr, local: SocketAddr) -> Option<usize> {
        let kind = classify(d);
        if d.len() < 8 || !matches!(kind, PacketKind::Rtp | PacketKind::Rtcp) {
            return None;
        }
        let ssrc = if kind == PacketKind::Rtp {
            if d.len() < 12 {
                return None;
            }
            u32::from_be_bytes([d[8], d[9], d[10], d[11]])
        } else {
            u32::from_be_bytes([d[4], d[5], d[6], d[7]])
        };
        let i = match self.list.iter().position(|s| s.tr.ssrc() == Some(ssrc)) {
            Some(i) => i,
            None if kind == PacketKind::Rtp && !self.rejected.contains(&ssrc) => {
                match self
                    .template
                    .config_for(d[1] & 0x7f, ssrc)
                    .and_then(|c| Translator::new(c, now))
                {
                    Ok(tr) => {
                        self.list.push(Stream {
                            tr,
                            first: now,
                            last: now,
                            source: from,
                            source_rtcp: None,
                            local,
                        });
                        self.list.len() - 1
                    }
                    Err(e) => {
                        eprintln!("tutti: translate: ignoring stream {ssrc:08x}: {e}");
                        self.rejected.push(ssrc);
                        return None;
                    }
                }
            }
            None => return None,
        };
        let s = &mut self.list[i];
        s.last = now;
        if kind == PacketKind::Rtcp {
            s.source_rtcp = Some(from);
        }
        let _ = s.tr.receive_upstream(now, d);
        Some(i)
    }

    /// Reports of every stream; `epoch` is the wall-clock time of host time zero, `to` the destination.
    fn reports(&self, epoch: SystemTime, to: SocketAddr) -> Vec<StreamReport> {
        self.list
            .iter()
            .filter_map(|s| {
                Some(StreamReport {
                    ssrc: s.tr.ssrc()?,
                    source: s.source,
                    destination: to,
                    first: epoch + s.first,
                    last: epoch + s.last,
                    stats: s.tr.stats(),
                })
            })
            .collect()
    }
}

fn rtcp_of(a: SocketAddr, mux: bool) -> SocketAddr {
    let mut r = a;
    if !mux {
        r.set_port(a.port().wrapping_add(1));
    }
    r
}

fn io_err(context: &str, e: impl std::fmt::Display) -> TranslateError {
    TranslateError::Io {
        context: context.to_string(),
        detail: e.to_string(),
    }
}

/// Options of [`translate_udp`].
#[derive(Debug, Clone)]
pub struct UdpOptions {
    /// Address to receive on (RTP; RTCP on the next port unless `rtcp_mux`).
    pub listen: SocketAddr,
    /// Destination of the translated streams (RTP; RTCP on the next port unless `rtcp_mux`).
    pub to: SocketAddr,
    /// RTP and RTCP on one port (RFC 5761) on both sides.
    pub rtcp_mux: bool,
    /// Stop after this long (`None`: until `stop` is set).
    pub seconds: Option<f64>,
    /// Set to stop (e.g. from a Ctrl-C handler).
    pub stop: Option<Arc<AtomicBool>>,
    /// Called with the reports of all streams every `stats_every` seconds.
    pub stats_every: Option<f64>,
}

/// Runs a live translator on UDP until `seconds` pass or `stop` is set; returns a report per stream.
/// Datagrams from `to` (or its RTCP port) are the far receiver's; everything else comes from senders.
///
/// # Errors
/// Invalid template, or a socket that cannot be bound or used.
pub fn translate_udp(
    template: &TranslateTemplate,
    opts: &UdpOptions,
    mut on_stats: impl FnMut(&[StreamReport]),
) -> Result<Vec<StreamReport>, TranslateError> {
    template.check()?;
    let t = UdpTransport::bind(opts.listen, opts.rtcp_mux)
        .map_err(|e| io_err("binding the listen address", e))?;
    let local = t
        .local_addr()
        .map_err(|e| io_err("reading the local address", e))?;
    let to_rtcp = rtcp_of(opts.to, opts.rtcp_mux);
    let mut streams = Streams {
        template: template.clone(),
        list: Vec::new(),
        rejected: Vec::new(),
    };
    let mut buf = vec![0u8; 2048];
    let mut out = vec![0u8; MTU];
    let start = Instant::now();
    let mut next_stats = opts.stats_every.map(|s| start + Duration::from_secs_f64(s));
    let now = |t: &UdpTransport| Duration::from_micros(t.now_us());
    let epoch = SystemTime::now() - now(&t);
    loop {
        if opts.stop.as_ref().is_some_and(|s| s.load(Ordering::Relaxed)) {
            break;
        }
        let elapsed = start.elapsed().as_secs_f64();
        if opts.seconds.is_some_and(|s| elapsed >= s) {
            break;
        }
        let mut wait = Duration::from_millis(20);
        let n = now(&t);
        for s in &streams.list {
            wait = wait.min(s.tr.poll_timeout().saturating_sub(n));
        }
        if let Some(s) = opts.seconds {
            wait = wait.min(Duration::from_secs_f64((s - elapsed).max(0.0)));
        }
        if let Some(r) = t
            .recv(&mut buf, wait.max(Duration::from_micros(200)))
            .map_err(|e| io_err("receiving", e))?
        {
            let at = Duration::from_micros(r.time_us);
            let d = &buf[..r.len];
            if r.from == opts.to || r.from == to_rtcp {
                if r.channel == Channel::Rtcp {
                    for s in &mut streams.list {
                        let _ = s.tr.receive_downstream(at, d);
                    }
                }
            } else {
                streams.upstream(at, d, r.from, local);
            }
        }
        let n = now(&t);
        for s in &mut streams.list {
            s.tr.handle_timeout(n);
            send_all(&t, s, &mut out, opts.to, to_rtcp, opts.rtcp_mux)?;
        }
        if let (Some(at), Some(every)) = (next_stats, opts.stats_every) {
            if Instant::now() >= at {
                on_stats(&streams.reports(epoch, opts.to));
                next_stats = Some(at + Duration::from_secs_f64(every));
            }
        }
    }
    let n = now(&t);
    for s in &mut streams.list {
        s.tr.finish(n);
        send_all(&t, s, &mut out, opts.to, to_rtcp, opts.rtcp_mux)?;
    }
    Ok(streams.reports(epoch, opts.to))
}

fn send_all(
    t: &UdpTransport,
    s: &mut Stream,
    out: &mut [u8],
    to: SocketAddr,
    to_rtcp: SocketAddr,
    mux: bool,
) -> Result<(), TranslateError> {
    while let Some(tx) = s.tr.poll_transmit(out) {
        let d = &out[..tx.len];
        let r = match (tx.side, tx.channel) {
            (Side::Downstream, Channel::Rtp) => t.send_rtp(d, to),
            (Side::Downstream, Channel::Rtcp) => t.send_rtcp(d, to_rtcp),
            (Side::Upstream, _) => t.send_rtcp(d, s.source_rtcp.unwrap_or(rtcp_of(s.source, mux))),
        };
        // A sender or receiver that went away (ICMP port unreachable) is not a reason to stop.
        if let Err(e) = r {
            if !matches!(e, tutti_rtp::RtpError::Io { .. }) {
                return Err(io_err("sending", e));
            }
        }
    }
    Ok(())
}

/// Options of [`translate_capture`].
#[derive(Debug, Clone)]
pub struct CaptureOptions {
    /// The capture (pcap or pcapng); every RTP stream in it is translated.
    pub path: PathBuf,
    /// Destination of the translated streams (RTP; RTCP on the next port).
    pub to: SocketAddr,
    /// Replay speed: 1 = the capture's own timing, 0 = as fast as possible.
    pub speed: f64,
    /// Also write every datagram the translator sends (both directions) into this pcap, stamped with the
    /// capture's clock.
    pub out: Option<PathBuf>,
    /// Do not send over UDP (only `out`).
    pub no_send: bool,
}

/// Translates every RTP stream of a capture, sending the result to `to` with the capture's timing (scaled
/// by `speed`); returns a report per stream.
///
/// # Errors
/// Invalid template, unreadable capture, unusable socket or output file.
pub fn translate_capture(
    template: &TranslateTemplate,
    opts: &CaptureOptions,
) -> Result<Vec<StreamReport>, TranslateError> {
    template.check()?;
    if !(opts.speed >= 0.0 && opts.speed.is_finite()) {
        return Err(TranslateError::Config {
            field: "speed",
            detail: format!("{}: use 0 (as fast as possible) or a positive factor", opts.speed),
        });
    }
    let mut rd = CaptureReader::open(&opts.path)
        .map_err(|e| io_err(&format!("reading {}", opts.path.display()), e))?;
    let bind: SocketAddr = if opts.to.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let sock = if opts.no_send {
        None
    } else {
        Some(UdpSocket::bind(bind).map_err(|e| io_err("binding a UDP socket", e))?)
    };
    let mut w = match &opts.out {
        Some(p) => Some(
            std::fs::File::create(p)
                .map_err(|e| io_err(&format!("creating {}", p.display()), e))
                .and_then(|f| {
                    PcapWriter::new(std::io::BufWriter::new(f)).map_err(|e| io_err("writing the pcap", e))
                })?,
        ),
        None => None,
    };
    let to_rtcp = rtcp_of(opts.to, false);
    let mut streams = Streams {
        template: template.clone(),
        list: Vec::new(),
        rejected: Vec::new(),
    };
    let mut out = vec![0u8; MTU];
    let wall0 = Instant::now();
    let mut t0: Option<u64> = None;
    let mut now = Duration::ZERO;
    let mut emit = |s: &mut Stream, now: Duration, t0: u64, out: &mut [u8]| -> Result<(), TranslateError> {
        while let Some(tx) = s.tr.poll_transmit(out) {
            let d = &out[..tx.len];
            let (src, dst) = match (tx.side, tx.channel) {
                (Side::Downstream, Channel::Rtp) => (s.local, opts.to),
                (Side::Downstream, Channel::Rtcp) => (rtcp_of(s.local, false), to_rtcp),
                (Side::Upstream, _) => (
                    rtcp_of(s.local, false),
                    s.source_rtcp.unwrap_or(rtcp_of(s.source, false)),
                ),
            };
            if let Some(w) = w.as_mut() {
                w.write_udp((t0 + now.as_micros() as u64) * 1000, src, dst, d)
                    .map_err(|e| io_err("writing the pcap", e))?;
            }
            if let (Some(sock), Side::Downstream) = (&sock, tx.side) {
                // Loss on the way out is the receiver's business, as on a network.
                let _ = sock.send_to(d, dst);
            }
        }
        Ok(())
    };
    while let Some(d) = rd.next_udp().map_err(|e| io_err("reading the capture", e))? {
        let time = d.time_us();
        let base = *t0.get_or_insert(time);
        now = Duration::from_micros(time.saturating_sub(base));
        for s in &mut streams.list {
            s.tr.handle_timeout(now);
            emit(s, now, base, &mut out)?;
        }
        if opts.speed > 0.0 && sock.is_some() {
            let due = wall0 + now.div_f64(opts.speed);
            let w = due.saturating_duration_since(Instant::now());
            if !w.is_zero() {
                std::thread::sleep(w);
            }
        }
        let (src, dst) = (d.src, d.dst);
        if let Some(i) = streams.upstream(now, d.payload, src, dst) {
            emit(&mut streams.list[i], now, base, &mut out)?;
        }
    }
    let base = t0.unwrap_or(0);
    for s in &mut streams.list {
        s.tr.finish(now);
        emit(s, now, base, &mut out)?;
    }
    if let Some(w) = w.as_mut() {
        w.flush().map_err(|e| io_err("writing the pcap", e))?;
    }
    // Capture time is host time: time zero is the first datagram's capture time.
    Ok(streams.reports(UNIX_EPOCH + Duration::from_micros(base), opts.to))
}
