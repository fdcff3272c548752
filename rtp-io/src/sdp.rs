//! SDP (RFC 8866, formerly RFC 4566) for audio sessions: parse, inspect, build, offer/answer.
//!
//! # What
//! [`SessionDescription`] holds a parsed SDP: origin, session name, connection, timing, session
//! attributes and [`MediaDescription`]s. Typed accessors read what an RTP audio endpoint needs:
//! `a=rtpmap` (with the RFC 3551 static payload types as defaults), `a=fmtp`, `a=ptime`/`a=maxptime`,
//! `a=rtcp` (RFC 3605), `a=rtcp-mux` (RFC 5761), `a=rtcp-rsize` (RFC 5506), `a=crypto` (RFC 4568),
//! `a=extmap` (RFC 8285) and the direction attributes. [`SessionDescription::audio_offer`] and
//! [`SessionDescription::answer`] build offers and answers per RFC 3264.
//!
//! # How
//! Line-oriented `<type>=<value>` parsing (CRLF or LF); `v=` must come first and be 0, a media section
//! starts at each `m=`; unknown line types are kept verbatim so [`std::fmt::Display`] reproduces them.
//! Errors carry the 1-based line number.
//!
//! # Real-time safety
//! Signalling-time code; allocates.

use std::fmt;

use crate::error::RtpError;
use crate::sdes_crypto::CryptoAttribute;

/// An attribute line `a=name[:value]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// Attribute name.
    pub name: String,
    /// Value after the first `:`, if any.
    pub value: Option<String>,
}

impl Attribute {
    /// A property attribute (`a=name`).
    pub fn flag(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            value: None,
        }
    }

    /// A value attribute (`a=name:value`).
    pub fn new(name: &str, value: impl Into<String>) -> Self {
        Self {
            name: name.to_owned(),
            value: Some(value.into()),
        }
    }
}

/// Connection data `c=<nettype> <addrtype> <address>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// Network type (`IN`).
    pub net_type: String,
    /// Address type (`IP4` or `IP6`).
    pub addr_type: String,
    /// Connection address (may carry `/ttl` for multicast).
    pub address: String,
}

/// Origin `o=<username> <sess-id> <sess-version> <nettype> <addrtype> <address>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// User name (`-` if none).
    pub username: String,
    /// Session id.
    pub session_id: String,
    /// Session version.
    pub session_version: String,
    /// Network type, address type and address.
    pub connection: Connection,
}

/// Media direction (RFC 3264 §6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `a=sendrecv` (the default).
    SendRecv,
    /// `a=sendonly`.
    SendOnly,
    /// `a=recvonly`.
    RecvOnly,
    /// `a=inactive`.
    Inactive,
}

impl Direction {
    /// The attribute name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SendRecv => "sendrecv",
            Self::SendOnly => "sendonly",
            Self::RecvOnly => "recvonly",
            Self::Inactive => "inactive",
        }
    }

    fn from_name(s: &str) -> Option<Self> {
        Some(match s {
            "sendrecv" => Self::SendRecv,
            "sendonly" => Self::SendOnly,
            "recvonly" => Self::RecvOnly,
            "inactive" => Self::Inactive,
            _ => return None,
        })
    }

    /// The direction an answerer uses for this offered direction (RFC 3264 §6.1).
    pub fn answer(self) -> Self {
        match self {
            Self::SendOnly => Self::RecvOnly,
            Self::RecvOnly => Self::SendOnly,
            d => d,
        }
    }
}

/// `a=rtpmap:<pt> <encoding>/<clock>[/<channels>]`, or an RFC 3551 static assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpMap {
    /// Payload type.
    pub payload_type: u8,
    /// Encoding name as written (e.g. `PCMU`, `opus`, `telephone-event`).
    pub encoding: String,
    /// RTP clock rate.
    pub clock_rate: u32,
    /// Channels (1 when absent).
    pub channels: u16,
}

/// RFC 3551 Table 4 static audio payload types.
pub fn static_payload_type(pt: u8) -> Option<RtpMap> {
    let (enc, rate, ch) = match pt {
        0 => ("PCMU", 8000, 1),
        3 => ("GSM", 8000, 1),
        4 => ("G723", 8000, 1),
        5 => ("DVI4", 8000, 1),
        6 => ("DVI4", 16000, 1),
        7 => ("LPC", 8000, 1),
        8 => ("PCMA", 8000, 1),
        9 => ("G722", 8000, 1),
        10 => ("L16", 44100, 2),
        11 => ("L16", 44100, 1),
        12 => ("QCELP", 8000, 1),
        13 => ("CN", 8000, 1),
        14 => ("MPA", 90000, 1),
        15 => ("G728", 8000, 1),
        16 => ("DVI4", 11025, 1),
        17 => ("DVI4", 22050, 1),
        18 => ("G729", 8000, 1),
        _ => return None,
    };
    Some(RtpMap {
        payload_type: pt,
        encoding: enc.to_owned(),
        clock_rate: rate,
        channels: ch,
    })
}

/// `a=extmap:<id>[/<direction>] <uri> [<attributes>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtMap {
    /// Local identifier (1–14 one-byte, up to 255 two-byte form).
    pub id: u8,
    /// Optional direction.
    pub direction: Option<Direction>,
    /// Extension URI.
    pub uri: String,
}

/// One `m=` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaDescription {
    /// Media type (`audio`, `video`, …).
    pub media: String,
    /// Transport port (0 = rejected/disabled).
    pub port: u16,
    /// Number of ports (`m=audio 5004/2 …`).
    pub port_count: Option<u16>,
    /// Transport protocol (`RTP/AVP`, `RTP/SAVP`, …).
    pub protocol: String,
    /// Formats (payload type numbers for RTP).
    pub formats: Vec<String>,
    /// Media-level `c=`.
    pub connection: Option<Connection>,
    /// Other media-level lines (`i=`, `b=`, `k=`) in order, verbatim.
    pub other: Vec<(char, String)>,
    /// Media-level attributes in order.
    pub attributes: Vec<Attribute>,
}

/// A parsed session description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    /// `o=`.
    pub origin: Origin,
    /// `s=`.
    pub session_name: String,
    /// Session-level `c=`.
    pub connection: Option<Connection>,
    /// `t=` start and stop.
    pub timing: (u64, u64),
    /// Other session-level lines (`i=`, `u=`, `e=`, `p=`, `b=`, `r=`, `z=`, `k=`) in order, verbatim.
    pub other: Vec<(char, String)>,
    /// Session-level attributes.
    pub attributes: Vec<Attribute>,
    /// Media sections.
    pub media: Vec<MediaDescription>,
}

fn err(line: usize, detail: &'static str) -> RtpError {
    RtpError::Syntax {
        what: "SDP",
        line,
        detail,
    }
}

fn parse_connection(v: &str, line: usize) -> Result<Connection, RtpError> {
    let f: Vec<&str> = v.split_ascii_whitespace().collect();
    if f.len() != 3 {
        return Err(err(line, "c= needs <nettype> <addrtype> <address>"));
    }
    Ok(Connection {
        net_type: f[0].into(),
        addr_type: f[1].into(),
        address: f[2].into(),
    })
}

fn parse_attribute(v: &str) -> Attribute {
    match v.split_once(':') {
        Some((n, val)) => Attribute {
            name: n.to_owned(),
            value: Some(val.to_owned()),
        },
        None => Attribute {
            name: v.to_owned(),
            value: None,
        },
    }
}

impl SessionDescription {
    /// Parses an SDP body.
    ///
    /// # Errors
    /// [`RtpError::Syntax`] with the line number.
    pub fn parse(text: &str) -> Result<Self, RtpError> {
        let mut sd: Option<SessionDescription> = None;
        let mut seen_v = false;
        for (i, raw) in text.lines().enumerate() {
            let n = i + 1;
            let line = raw.trim_end_matches('\r');
            if line.is_empty() {
                continue;
            }
            let b = line.as_bytes();
            if b.len() < 2 || b[1] != b'=' || !b[0].is_ascii_lowercase() {
                return Err(err(n, "line is not <type>=<value>"));
            }
            let (t, v) = (b[0] as char, &line[2..]);
            if !seen_v {
                if t != 'v' || v.trim() != "0" {
                    return Err(err(n, "SDP must start with v=0"));
                }
                seen_v = true;
                continue;
            }
            if t == 'o' {
                let f: Vec<&str> = v.split_ascii_whitespace().collect();
                if f.len() != 6 {
                    return Err(err(n, "o= needs 6 fields"));
                }
                if sd.is_some() {
                    return Err(err(n, "duplicate o="));
                }
                sd = Some(SessionDescription {
                    origin: Origin {
                        username: f[0].into(),
                        session_id: f[1].into(),
                        session_version: f[2].into(),
                        connection: Connection {
                            net_type: f[3].into(),
                            addr_type: f[4].into(),
                            address: f[5].into(),
                        },
                    },
                    session_name: String::new(),
                    connection: None,
                    timing: (0, 0),
                    other: Vec::new(),
                    attributes: Vec::new(),
                    media: Vec::new(),
                });
                continue;
            }
            let s = sd.as_mut().ok_or(err(n, "o= must follow v="))?;
            if t == 'm' {
                let f: Vec<&str> = v.split_ascii_whitespace().collect();
                if f.len() < 3 {
                    return Err(err(n, "m= needs <media> <port> <proto> <fmt>..."));
                }
                let (port, count) = match f[1].split_once('/') {
                    Some((p, c)) => (p, Some(c.parse::<u16>().map_err(|_| err(n, "bad port count"))?)),
                    None => (f[1], None),
                };
                s.media.push(MediaDescription {
                    media: f[0].into(),
                    port: port.parse().map_err(|_| err(n, "bad port"))?,
                    port_count: count,
                    protocol: f[2].into(),
                    formats: f[3..].iter().map(|x| (*x).to_owned()).collect(),
                    connection: None,
                    other: Vec::new(),
                    attributes: Vec::new(),
                });
                continue;
            }
            match (s.media.last_mut(), t) {
                (None, 's') => s.session_name = v.to_owned(),
                (None, 'c') => s.connection = Some(parse_connection(v, n)?),
                (None, 't') => {
                    let f: Vec<&str> = v.split_ascii_whitespace().collect();
                    if f.len() != 2 {
                        return Err(err(n, "t= needs <start> <stop>"));
                    }
                    s.timing = (
                        f[0].parse().map_err(|_| err(n, "bad t= start"))?,
                        f[1].parse().map_err(|_| err(n, "bad t= stop"))?,
                    );
                }
                (None, 'a') => s.attributes.push(parse_attribute(v)),
                (None, 'v') => return Err(err(n, "duplicate v=")),
                (None, other) => s.other.push((other, v.to_owned())),
                (Some(m), 'c') => m.connection = Some(parse_connection(v, n)?),
                (Some(m), 'a') => m.attributes.push(parse_attribute(v)),
                (Some(_), 'v' | 'o' | 's' | 't') => {
                    return Err(err(n, "session-level line inside a media section"))
                }
                (Some(m), other) => m.other.push((other, v.to_owned())),
            }
        }
        sd.ok_or(err(0, "missing v= or o="))
    }

    /// The connection address that applies to `media` (media-level `c=` first, then session-level).
    pub fn connection_for<'a>(&'a self, media: &'a MediaDescription) -> Option<&'a Connection> {
        media.connection.as_ref().or(self.connection.as_ref())
    }

    /// The first `m=audio` section.
    pub fn audio(&self) -> Option<&MediaDescription> {
        self.media.iter().find(|m| m.media == "audio")
    }

    /// Session-level direction attribute, if any.
    pub fn session_direction(&self) -> Option<Direction> {
        self.attributes.iter().find_map(|a| Direction::from_name(&a.name))
    }

    /// A single-stream audio offer (RFC 3264 §5).
    pub fn audio_offer(o: &OfferOptions<'_>) -> Self {
        let ip6 = o.address.contains(':');
        let conn = Connection {
            net_type: "IN".into(),
            addr_type: if ip6 { "IP6" } else { "IP4" }.into(),
            address: o.address.to_owned(),
        };
        let mut m = MediaDescription {
            media: "audio".into(),
            port: o.port,
            port_count: None,
            protocol: if o.crypto.is_some() { "RTP/SAVP" } else { "RTP/AVP" }.into(),
            formats: o.codecs.iter().map(|c| c.payload_type.to_string()).collect(),
            connection: None,
            other: Vec::new(),
            attributes: Vec::new(),
        };
        for c in o.codecs {
            let ch = if c.channels > 1 {
                format!("/{}", c.channels)
            } else {
                String::new()
            };
            m.attributes.push(Attribute::new(
                "rtpmap",
                format!("{} {}/{}{}", c.payload_type, c.encoding, c.clock_rate, ch),
            ));
        }
        for (pt, f) in o.fmtp {
            m.attributes.push(Attribute::new("fmtp", format!("{pt} {f}")));
        }
        if let Some(p) = o.ptime {
            m.attributes.push(Attribute::new("ptime", p.to_string()));
        }
        if o.rtcp_mux {
            m.attributes.push(Attribute::flag("rtcp-mux"));
        }
        if let Some(c) = o.crypto {
            m.attributes.push(Attribute::new("crypto", c.to_value()));
        }
        for e in o.extmap {
            m.attributes
                .push(Attribute::new("extmap", format!("{} {}", e.id, e.uri)));
        }
        m.attributes.push(Attribute::flag(o.direction.as_str()));
        SessionDescription {
            origin: Origin {
                username: "-".into(),
                session_id: o.session_id.to_string(),
                session_version: o.session_version.to_string(),
                connection: conn.clone(),
            },
            session_name: "tutti".into(),
            connection: Some(conn),
            timing: (0, 0),
            other: Vec::new(),
            attributes: Vec::new(),
            media: vec![m],
        }
    }

    /// An answer to `offer` (RFC 3264 §6): for each offered `m=audio`, the offered payload types we
    /// support in the offerer's order (plus telephone-event when offered and supported), the offered
    /// ptime, rtcp-mux when offered and allowed, the first offered crypto suite that matches ours (with
    /// our key), and the answering direction. Other media and audio without a common codec are rejected
    /// with port 0.
    pub fn answer(offer: &SessionDescription, o: &AnswerOptions<'_>) -> Self {
        let mut ans = SessionDescription::audio_offer(&OfferOptions {
            address: o.address,
            port: o.port,
            codecs: &[],
            fmtp: &[],
            ptime: None,
            rtcp_mux: false,
            crypto: None,
            extmap: &[],
            direction: Direction::SendRecv,
            session_id: o.session_id,
            session_version: 1,
        });
        ans.media.clear();
        let session_dir = offer.session_direction();
        let mut port = o.port;
        for m in &offer.media {
            let mut am = MediaDescription {
                media: m.media.clone(),
                port: 0,
                port_count: None,
                protocol: m.protocol.clone(),
                formats: Vec::new(),
                connection: None,
                other: Vec::new(),
                attributes: Vec::new(),
            };
            let crypto = if m.protocol.contains("SAVP") {
                m.crypto().into_iter().find_map(|c| {
                    o.crypto
                        .iter()
                        .find(|k| k.profile == c.profile)
                        .map(|k| (c.tag, k))
                })
            } else {
                None
            };
            let secure_ok = !m.protocol.contains("SAVP") || crypto.is_some();
            let chosen: Vec<RtpMap> = m
                .rtpmaps()
                .into_iter()
                .filter(|r| {
                    o.codecs
                        .iter()
                        .any(|(e, rate)| e.eq_ignore_ascii_case(&r.encoding) && *rate == r.clock_rate)
                })
                .collect();
            let has_audio_codec = chosen
                .iter()
                .any(|r| !r.encoding.eq_ignore_ascii_case("telephone-event"));
            if m.media != "audio" || m.port == 0 || !has_audio_codec || !secure_ok {
                am.formats = m.formats.iter().take(1).cloned().collect();
                ans.media.push(am);
                continue;
            }
            am.port = port;
            port = port.wrapping_add(2);
            for r in &chosen {
                am.formats.push(r.payload_type.to_string());
                let ch = if r.channels > 1 {
                    format!("/{}", r.channels)
                } else {
                    String::new()
                };
                am.attributes.push(Attribute::new(
                    "rtpmap",
                    format!("{} {}/{}{}", r.payload_type, r.encoding, r.clock_rate, ch),
                ));
                if let Some(f) = m.fmtp(r.payload_type) {
                    am.attributes
                        .push(Attribute::new("fmtp", format!("{} {f}", r.payload_type)));
                }
            }
            if let Some(p) = m.ptime() {
                am.attributes.push(Attribute::new("ptime", p.to_string()));
            }
            if m.rtcp_mux() && o.rtcp_mux {
                am.attributes.push(Attribute::flag("rtcp-mux"));
            }
            if let Some((tag, k)) = crypto {
                let mut k = k.clone();
                k.tag = tag;
                am.attributes.push(Attribute::new("crypto", k.to_value()));
            }
            let dir = m
                .direction()
                .or(session_dir)
                .unwrap_or(Direction::SendRecv)
                .answer();
            am.attributes.push(Attribute::flag(dir.as_str()));
            ans.media.push(am);
        }
        ans
    }
}

/// Inputs of [`SessionDescription::audio_offer`].
#[derive(Debug, Clone)]
pub struct OfferOptions<'a> {
    /// Our address (IPv4 or IPv6 literal).
    pub address: &'a str,
    /// Our RTP port.
    pub port: u16,
    /// Offered codecs, in preference order.
    pub codecs: &'a [RtpMap],
    /// `a=fmtp` per payload type.
    pub fmtp: &'a [(u8, &'a str)],
    /// `a=ptime`.
    pub ptime: Option<u32>,
    /// Offer `a=rtcp-mux`.
    pub rtcp_mux: bool,
    /// SDES key (makes the profile RTP/SAVP).
    pub crypto: Option<&'a CryptoAttribute>,
    /// Header extensions to offer.
    pub extmap: &'a [ExtMap],
    /// Direction.
    pub direction: Direction,
    /// Origin session id.
    pub session_id: u64,
    /// Origin session version.
    pub session_version: u64,
}

/// Inputs of [`SessionDescription::answer`].
#[derive(Debug, Clone)]
pub struct AnswerOptions<'a> {
    /// Our address.
    pub address: &'a str,
    /// Our first RTP port (each accepted stream takes the next even port).
    pub port: u16,
    /// Supported `(encoding name, clock rate)` pairs.
    pub codecs: &'a [(&'a str, u32)],
    /// Accept rtcp-mux when offered.
    pub rtcp_mux: bool,
    /// Our keys, one per suite we accept.
    pub crypto: &'a [CryptoAttribute],
    /// Origin session id.
    pub session_id: u64,
}

impl MediaDescription {
    fn attrs<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.attributes
            .iter()
            .filter(move |a| a.name.eq_ignore_ascii_case(name))
            .filter_map(|a| a.value.as_deref())
    }

    fn has_flag(&self, name: &str) -> bool {
        self.attributes.iter().any(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// Payload types in `m=` order (non-numeric formats skipped).
    pub fn payload_types(&self) -> Vec<u8> {
        self.formats
            .iter()
            .filter_map(|f| f.parse().ok())
            .filter(|pt: &u8| *pt < 128)
            .collect()
    }

    /// The mapping of `pt`: its `a=rtpmap`, else the RFC 3551 static assignment.
    pub fn rtpmap(&self, pt: u8) -> Option<RtpMap> {
        for v in self.attrs("rtpmap") {
            let Some((p, rest)) = v.trim().split_once(' ') else {
                continue;
            };
            if p.parse::<u8>().ok() != Some(pt) {
                continue;
            }
            let mut f = rest.trim().split('/');
            let enc = f.next()?.to_owned();
            let rate = f.next()?.parse().ok()?;
            let channels = f.next().map_or(Some(1), |c| c.parse().ok())?;
            return Some(RtpMap {
                payload_type: pt,
                encoding: enc,
                clock_rate: rate,
                channels,
            });
        }
        static_payload_type(pt)
    }

    /// Mappings of all payload types in `m=` order (unknown dynamic types skipped).
    pub fn rtpmaps(&self) -> Vec<RtpMap> {
        self.payload_types()
            .into_iter()
            .filter_map(|pt| self.rtpmap(pt))
            .collect()
    }

    /// The `a=fmtp` parameters of `pt`, verbatim.
    pub fn fmtp(&self, pt: u8) -> Option<&str> {
        self.attrs("fmtp").find_map(|v| {
            let (p, rest) = v.trim().split_once(' ')?;
            (p.parse::<u8>().ok() == Some(pt)).then_some(rest.trim())
        })
    }

    /// `a=fmtp` parameters of `pt` as `key=value` pairs (`;`-separated).
    pub fn fmtp_params(&self, pt: u8) -> Vec<(String, String)> {
        self.fmtp(pt)
            .map(|f| {
                f.split(';')
                    .filter(|s| !s.trim().is_empty())
                    .map(|kv| match kv.split_once('=') {
                        Some((k, v)) => (k.trim().to_owned(), v.trim().to_owned()),
                        None => (kv.trim().to_owned(), String::new()),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// `a=ptime` in ms.
    pub fn ptime(&self) -> Option<u32> {
        self.attrs("ptime")
            .find_map(|v| v.trim().parse::<f64>().ok())
            .map(|p| p.round() as u32)
    }

    /// `a=maxptime` in ms.
    pub fn maxptime(&self) -> Option<u32> {
        self.attrs("maxptime").find_map(|v| v.trim().parse().ok())
    }

    /// `a=rtcp:<port> [<nettype> <addrtype> <address>]` (RFC 3605).
    pub fn rtcp(&self) -> Option<(u16, Option<Connection>)> {
        let v = self.attrs("rtcp").next()?;
        let mut f = v.split_ascii_whitespace();
        let port = f.next()?.parse().ok()?;
        let rest: Vec<&str> = f.collect();
        let conn = (rest.len() == 3).then(|| Connection {
            net_type: rest[0].into(),
            addr_type: rest[1].into(),
            address: rest[2].into(),
        });
        Some((port, conn))
    }

    /// The port RTCP uses: the RTP port with rtcp-mux, else `a=rtcp`, else RTP port + 1.
    pub fn rtcp_port(&self) -> u16 {
        if self.rtcp_mux() {
            self.port
        } else {
            self.rtcp().map_or(self.port.wrapping_add(1), |(p, _)| p)
        }
    }

    /// `a=rtcp-mux` present.
    pub fn rtcp_mux(&self) -> bool {
        self.has_flag("rtcp-mux")
    }

    /// `a=rtcp-rsize` present.
    pub fn rtcp_rsize(&self) -> bool {
        self.has_flag("rtcp-rsize")
    }

    /// The media-level direction attribute, if any.
    pub fn direction(&self) -> Option<Direction> {
        self.attributes.iter().find_map(|a| Direction::from_name(&a.name))
    }

    /// `a=crypto` lines that parse and are supported (others are skipped, RFC 4568 §6.1).
    pub fn crypto(&self) -> Vec<CryptoAttribute> {
        self.attrs("crypto")
            .filter_map(|v| CryptoAttribute::parse(v).ok())
            .collect()
    }

    /// `a=extmap` lines.
    pub fn extmaps(&self) -> Vec<ExtMap> {
        self.attrs("extmap")
            .filter_map(|v| {
                let mut f = v.split_ascii_whitespace();
                let idd = f.next()?;
                let uri = f.next()?.to_owned();
                let (id, dir) = match idd.split_once('/') {
                    Some((i, d)) => (i, Direction::from_name(d)),
                    None => (idd, None),
                };
                Some(ExtMap {
                    id: id.parse().ok()?,
                    direction: dir,
                    uri,
                })
            })
            .collect()
    }

    /// The payload type of `telephone-event` at `clock_rate` (RFC 4733), if offered.
    pub fn telephone_event(&self, clock_rate: u32) -> Option<u8> {
        self.rtpmaps()
            .into_iter()
            .find(|r| r.encoding.eq_ignore_ascii_case("telephone-event") && r.clock_rate == clock_rate)
            .map(|r| r.payload_type)
    }
}

fn write_conn(f: &mut fmt::Formatter<'_>, c: &Connection) -> fmt::Result {
    write!(f, "c={} {} {}\r\n", c.net_type, c.addr_type, c.address)
}

fn write_attr(f: &mut fmt::Formatter<'_>, a: &Attribute) -> fmt::Result {
    match &a.value {
        Some(v) => write!(f, "a={}:{}\r\n", a.name, v),
        None => write!(f, "a={}\r\n", a.name),
    }
}

impl fmt::Display for SessionDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.origin;
        write!(f, "v=0\r\n")?;
        write!(
            f,
            "o={} {} {} {} {} {}\r\n",
            o.username,
            o.session_id,
            o.session_version,
            o.connection.net_type,
            o.connection.addr_type,
            o.connection.address
        )?;
        write!(f, "s={}\r\n", self.session_name)?;
        // RFC 8866 §5 order: i u e p before c, b after c, then t, r, z, k (kept in their original order).
        for (t, v) in self
            .other
            .iter()
            .filter(|(t, _)| matches!(t, 'i' | 'u' | 'e' | 'p'))
        {
            write!(f, "{t}={v}\r\n")?;
        }
        if let Some(c) = &self.connection {
            write_conn(f, c)?;
        }
        for (t, v) in self.other.iter().filter(|(t, _)| *t == 'b') {
            write!(f, "{t}={v}\r\n")?;
        }
        write!(f, "t={} {}\r\n", self.timing.0, self.timing.1)?;
        for (t, v) in self
            .other
            .iter()
            .filter(|(t, _)| !matches!(t, 'i' | 'u' | 'e' | 'p' | 'b'))
        {
            write!(f, "{t}={v}\r\n")?;
        }
        for a in &self.attributes {
            write_attr(f, a)?;
        }
        for m in &self.media {
            write!(f, "m={} {}", m.media, m.port)?;
            if let Some(c) = m.port_count {
                write!(f, "/{c}")?;
            }
            write!(f, " {}", m.protocol)?;
            for x in &m.formats {
                write!(f, " {x}")?;
            }
            write!(f, "\r\n")?;
            for (t, v) in m.other.iter().filter(|(t, _)| *t == 'i') {
                write!(f, "{t}={v}\r\n")?;
            }
            if let Some(c) = &m.connection {
                write_conn(f, c)?;
            }
            for (t, v) in m.other.iter().filter(|(t, _)| *t != 'i') {
                write!(f, "{t}={v}\r\n")?;
            }
            for a in &m.attributes {
                write_attr(f, a)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFER: &str = "v=0\r\no=alice 2890844526 2890844526 IN IP4 host.atlanta.example.com\r\ns=\r\n\
c=IN IP4 host.atlanta.example.com\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0 8 97 101\r\n\
a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:97 iLBC/8000\r\na=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-15\r\na=ptime:20\r\na=rtcp:53020\r\na=sendonly\r\nm=video 51372 RTP/AVP 31\r\n\
a=rtpmap:31 H261/90000\r\n";

    #[test]
    fn parses_rfc3264_style_offer() {
        let sd = SessionDescription::parse(OFFER).unwrap();
        let a = sd.audio().unwrap();
        assert_eq!(a.port, 49170);
        assert_eq!(a.payload_types(), vec![0, 8, 97, 101]);
        assert_eq!(a.rtpmap(97).unwrap().encoding, "iLBC");
        assert_eq!(a.telephone_event(8000), Some(101));
        assert_eq!(a.fmtp(101), Some("0-15"));
        assert_eq!(a.ptime(), Some(20));
        assert_eq!(a.rtcp_port(), 53020);
        assert_eq!(a.direction(), Some(Direction::SendOnly));
        assert_eq!(sd.connection_for(a).unwrap().address, "host.atlanta.example.com");
        // Static payload type without rtpmap.
        let m = MediaDescription {
            formats: vec!["9".into()],
            ..a.clone()
        };
        assert_eq!(m.rtpmap(9).unwrap().clock_rate, 8000);
        assert_eq!(SessionDescription::parse(&sd.to_string()).unwrap(), sd);
    }

    #[test]
    fn answer_picks_common_codecs_and_rejects_video() {
        let offer = SessionDescription::parse(OFFER).unwrap();
        let ans = SessionDescription::answer(
            &offer,
            &AnswerOptions {
                address: "192.0.2.5",
                port: 6000,
                codecs: &[("PCMA", 8000), ("telephone-event", 8000)],
                rtcp_mux: true,
                crypto: &[],
                session_id: 7,
            },
        );
        let a = &ans.media[0];
        assert_eq!((a.port, a.payload_types()), (6000, vec![8, 101]));
        assert_eq!(a.direction(), Some(Direction::RecvOnly));
        assert!(!a.rtcp_mux());
        assert_eq!(a.fmtp(101), Some("0-15"));
        assert_eq!(ans.media[1].port, 0);
        let again = SessionDescription::parse(&ans.to_string()).unwrap();
        assert_eq!(again, ans);
    }

    #[test]
    fn errors_have_line_numbers() {
        assert!(matches!(
            SessionDescription::parse("o=x"),
            Err(RtpError::Syntax { line: 1, .. })
        ));
        assert!(matches!(
            SessionDescription::parse("v=0\no=- 1 1 IN IP4 x\ns=\nm=audio x RTP/AVP 0\n"),
            Err(RtpError::Syntax { line: 4, .. })
        ));
        assert!(matches!(
            SessionDescription::parse("v=0\nbad\n"),
            Err(RtpError::Syntax { line: 2, .. })
        ));
        assert!(SessionDescription::parse("").is_err());
    }
}
