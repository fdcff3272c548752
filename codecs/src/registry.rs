//! The codec registry: by command-line name, by SDP `rtpmap` encoding name and by static payload type.
//!
//! # What
//! [`CodecSpec`] names a concrete codec configuration and builds its [`Encoder`] / [`Decoder`];
//! [`rtp_format`] maps an SDP `a=rtpmap` value (`PCMU/8000`, `PCMA/8000`, `G722/8000`, `opus/48000/2`,
//! `L16/16000/1`, `telephone-event/8000`, `CN/8000`) to an [`RtpFormat`]; [`static_payload_type`]
//! resolves the RFC 3551 static payload types we support (0, 8, 9, 10, 11, 13).
//!
//! # How
//! RFC 3551 §6 Table 4 for the static types; RFC 4566 §6 for the `encoding/clock[/channels]` syntax
//! (encoding names are case-insensitive); RFC 7587 §7 for Opus (`opus/48000/2` whatever is sent).
//!
//! # Real-time safety
//! Control side: building codecs allocates. Nothing here runs on the real-time path.

use crate::{
    CodecError, CodecInfo, Decoder, Encoder, G711Decoder, G711Encoder, G711Law, G722Decoder, G722Encoder,
    G722Mode, L16Decoder, L16Encoder, OpusDecoder, OpusEncoder, OpusEncoderConfig,
};

/// Names accepted by [`CodecSpec::parse`] (besides `opus:BITRATE` and `l16:RATE[:CHANNELS]`).
pub const CLI_CODECS: &[&str] = &["pcmu", "pcma", "g722", "g722-56", "g722-48", "opus", "l16"];

/// A concrete audio codec configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CodecSpec {
    /// G.711 µ-law.
    Pcmu,
    /// G.711 A-law.
    Pcma,
    /// G.722 at a bit-rate mode.
    G722(G722Mode),
    /// Opus.
    Opus {
        /// PCM rate of the encoder / decoder (8/12/16/24/48 kHz).
        sample_rate: u32,
        /// PCM channels (1 or 2).
        channels: usize,
        /// Encoder bit rate (bit/s), `None` = libopus default.
        bitrate: Option<u32>,
    },
    /// L16 linear PCM.
    L16 {
        /// Sample (and clock) rate.
        rate: u32,
        /// Channels.
        channels: usize,
    },
}

impl CodecSpec {
    /// Parses a command-line codec name: `pcmu | pcma | g722 | g722-56 | g722-48 | opus[:BITRATE] |
    /// l16[:RATE[:CHANNELS]]` (case-insensitive; Opus defaults to 48 kHz mono).
    pub fn parse(name: &str) -> Result<Self, CodecError> {
        let lower = name.trim().to_ascii_lowercase();
        let mut parts = lower.split(':');
        let base = parts.next().unwrap_or("");
        let args: Vec<&str> = parts.collect();
        let num = |s: &str, what: &'static str| -> Result<u32, CodecError> {
            s.parse::<u32>()
                .map_err(|_| CodecError::Unsupported { what, actual: -1 })
        };
        let spec = match (base, args.as_slice()) {
            ("pcmu", []) => Self::Pcmu,
            ("pcma", []) => Self::Pcma,
            ("g722", []) => Self::G722(G722Mode::Kbps64),
            ("g722-56", []) => Self::G722(G722Mode::Kbps56),
            ("g722-48", []) => Self::G722(G722Mode::Kbps48),
            ("opus", []) => Self::Opus {
                sample_rate: 48000,
                channels: 1,
                bitrate: None,
            },
            ("opus", [b]) => {
                let b = num(b, "Opus bitrate (bit/s) after `opus:`")?;
                if !(500..=512_000).contains(&b) {
                    return Err(CodecError::Unsupported {
                        what: "Opus bitrate (500–512000)",
                        actual: i64::from(b),
                    });
                }
                Self::Opus {
                    sample_rate: 48000,
                    channels: 1,
                    bitrate: Some(b),
                }
            }
            ("l16", []) => Self::L16 {
                rate: 8000,
                channels: 1,
            },
            ("l16", [r]) => Self::L16 {
                rate: num(r, "L16 rate")?,
                channels: 1,
            },
            ("l16", [r, c]) => Self::L16 {
                rate: num(r, "L16 rate")?,
                channels: num(c, "L16 channels")? as usize,
            },
            _ => return Err(CodecError::UnknownCodec),
        };
        Ok(spec)
    }

    /// The command-line name (`pcmu`, `g722-56`, `opus`, …).
    pub fn cli_name(&self) -> &'static str {
        match self {
            Self::Pcmu => "pcmu",
            Self::Pcma => "pcma",
            Self::G722(G722Mode::Kbps64) => "g722",
            Self::G722(G722Mode::Kbps56) => "g722-56",
            Self::G722(G722Mode::Kbps48) => "g722-48",
            Self::Opus { .. } => "opus",
            Self::L16 { .. } => "l16",
        }
    }

    /// Static facts (rates, names, payload type).
    pub fn info(&self) -> CodecInfo {
        match *self {
            Self::Pcmu => G711Law::MuLaw.info(),
            Self::Pcma => G711Law::ALaw.info(),
            Self::G722(m) => G722Decoder::new(m).info(),
            Self::Opus {
                sample_rate,
                channels,
                ..
            } => CodecInfo {
                name: "opus",
                rtp_name: "opus",
                static_payload_type: None,
                clock_rate: 48000,
                audio_rate: sample_rate,
                channels,
            },
            Self::L16 { rate, channels } => CodecInfo {
                name: "l16",
                rtp_name: "L16",
                static_payload_type: match (rate, channels) {
                    (44100, 2) => Some(10),
                    (44100, 1) => Some(11),
                    _ => None,
                },
                clock_rate: rate,
                audio_rate: rate,
                channels,
            },
        }
    }

    /// The SDP `a=rtpmap` value, e.g. `PCMU/8000`, `G722/8000`, `opus/48000/2`, `L16/16000/1`.
    pub fn rtpmap(&self) -> String {
        match *self {
            Self::Opus { .. } => "opus/48000/2".to_string(),
            Self::L16 { rate, channels } => format!("L16/{rate}/{channels}"),
            _ => format!("{}/{}", self.info().rtp_name, self.info().clock_rate),
        }
    }

    /// Builds an encoder (allocates; control side).
    pub fn encoder(&self) -> Result<Box<dyn Encoder>, CodecError> {
        Ok(match *self {
            Self::Pcmu => Box::new(G711Encoder::new(G711Law::MuLaw)),
            Self::Pcma => Box::new(G711Encoder::new(G711Law::ALaw)),
            Self::G722(m) => Box::new(G722Encoder::new(m)),
            Self::Opus {
                sample_rate,
                channels,
                bitrate,
            } => {
                let mut cfg = OpusEncoderConfig::voip(sample_rate, channels);
                cfg.bitrate = bitrate;
                Box::new(OpusEncoder::new(cfg)?)
            }
            Self::L16 { rate, channels } => Box::new(L16Encoder::new(rate, channels)?),
        })
    }

    /// Builds a decoder with packet-loss concealment (allocates; control side).
    pub fn decoder(&self) -> Result<Box<dyn Decoder>, CodecError> {
        Ok(match *self {
            Self::Pcmu => Box::new(G711Decoder::new(G711Law::MuLaw)),
            Self::Pcma => Box::new(G711Decoder::new(G711Law::ALaw)),
            Self::G722(m) => Box::new(G722Decoder::new(m)),
            Self::Opus {
                sample_rate,
                channels,
                ..
            } => Box::new(OpusDecoder::new(sample_rate, channels)?),
            Self::L16 { rate, channels } => Box::new(L16Decoder::new(rate, channels)?),
        })
    }
}

/// What an RTP payload type carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RtpFormat {
    /// Audio of a codec.
    Audio(CodecSpec),
    /// RFC 3389 comfort noise at a clock rate.
    ComfortNoise {
        /// RTP clock rate.
        clock_rate: u32,
    },
    /// RFC 4733 telephone events at a clock rate.
    TelephoneEvent {
        /// RTP clock rate.
        clock_rate: u32,
    },
}

/// Parses an SDP `a=rtpmap` value `encoding/clock[/channels]` (names case-insensitive). Opus streams
/// decode to 48 kHz mono by default (RFC 7587: the `/2` is mandatory whatever is sent).
pub fn rtp_format(rtpmap: &str) -> Result<RtpFormat, CodecError> {
    let mut it = rtpmap.trim().split('/');
    let name = it.next().unwrap_or("").to_ascii_lowercase();
    let clock: u32 = it
        .next()
        .and_then(|c| c.trim().parse().ok())
        .ok_or(CodecError::Malformed {
            detail: "rtpmap needs encoding/clock-rate",
        })?;
    let channels: usize = match it.next() {
        Some(c) => c.trim().parse().map_err(|_| CodecError::Malformed {
            detail: "rtpmap channel count",
        })?,
        None => 1,
    };
    if it.next().is_some() {
        return Err(CodecError::Malformed {
            detail: "rtpmap has too many fields",
        });
    }
    let fixed = |want_clock: u32, spec: CodecSpec| {
        if clock == want_clock && channels == 1 {
            Ok(RtpFormat::Audio(spec))
        } else {
            Err(CodecError::Unsupported {
                what: "clock rate / channels for this encoding",
                actual: i64::from(clock),
            })
        }
    };
    match name.as_str() {
        "pcmu" => fixed(8000, CodecSpec::Pcmu),
        "pcma" => fixed(8000, CodecSpec::Pcma),
        "g722" => fixed(8000, CodecSpec::G722(G722Mode::Kbps64)),
        "opus" if clock == 48000 && channels == 2 => Ok(RtpFormat::Audio(CodecSpec::Opus {
            sample_rate: 48000,
            channels: 1,
            bitrate: None,
        })),
        "opus" => Err(CodecError::Unsupported {
            what: "Opus rtpmap (must be opus/48000/2)",
            actual: i64::from(clock),
        }),
        "l16" => {
            L16Decoder::new(clock, channels)?;
            Ok(RtpFormat::Audio(CodecSpec::L16 {
                rate: clock,
                channels,
            }))
        }
        "telephone-event" => Ok(RtpFormat::TelephoneEvent { clock_rate: clock }),
        "cn" => Ok(RtpFormat::ComfortNoise { clock_rate: clock }),
        _ => Err(CodecError::UnknownCodec),
    }
}

/// The RFC 3551 static payload types this crate decodes (0 PCMU, 8 PCMA, 9 G722, 10/11 L16 44.1 kHz,
/// 13 CN); `None` for dynamic, unassigned or unsupported ones (e.g. 18 G729).
pub fn static_payload_type(pt: u8) -> Option<RtpFormat> {
    match pt {
        0 => Some(RtpFormat::Audio(CodecSpec::Pcmu)),
        8 => Some(RtpFormat::Audio(CodecSpec::Pcma)),
        9 => Some(RtpFormat::Audio(CodecSpec::G722(G722Mode::Kbps64))),
        10 => Some(RtpFormat::Audio(CodecSpec::L16 {
            rate: 44100,
            channels: 2,
        })),
        11 => Some(RtpFormat::Audio(CodecSpec::L16 {
            rate: 44100,
            channels: 1,
        })),
        13 => Some(RtpFormat::ComfortNoise { clock_rate: 8000 }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_names() {
        assert_eq!(CodecSpec::parse("PCMU").unwrap(), CodecSpec::Pcmu);
        assert_eq!(
            CodecSpec::parse("g722-48").unwrap(),
            CodecSpec::G722(G722Mode::Kbps48)
        );
        assert_eq!(
            CodecSpec::parse("opus:24000").unwrap(),
            CodecSpec::Opus {
                sample_rate: 48000,
                channels: 1,
                bitrate: Some(24000)
            }
        );
        assert!(CodecSpec::parse("opus:abc").is_err());
        assert!(CodecSpec::parse("opus:10").is_err());
        assert_eq!(CodecSpec::parse("gsm"), Err(CodecError::UnknownCodec));
        for n in CLI_CODECS {
            let s = CodecSpec::parse(n).unwrap();
            assert_eq!(s.cli_name(), *n);
            s.encoder().unwrap();
            s.decoder().unwrap();
        }
    }

    #[test]
    fn rtpmaps_and_static_types() {
        assert_eq!(
            rtp_format("PCMU/8000").unwrap(),
            RtpFormat::Audio(CodecSpec::Pcmu)
        );
        assert_eq!(
            rtp_format("pcma/8000").unwrap(),
            RtpFormat::Audio(CodecSpec::Pcma)
        );
        assert_eq!(
            rtp_format("G722/8000").unwrap(),
            RtpFormat::Audio(CodecSpec::G722(G722Mode::Kbps64))
        );
        assert!(matches!(
            rtp_format("opus/48000/2").unwrap(),
            RtpFormat::Audio(CodecSpec::Opus { .. })
        ));
        assert!(rtp_format("opus/48000").is_err());
        assert_eq!(
            rtp_format("telephone-event/8000").unwrap(),
            RtpFormat::TelephoneEvent { clock_rate: 8000 }
        );
        assert_eq!(
            rtp_format("CN/8000").unwrap(),
            RtpFormat::ComfortNoise { clock_rate: 8000 }
        );
        assert_eq!(
            rtp_format("L16/16000/2").unwrap(),
            RtpFormat::Audio(CodecSpec::L16 {
                rate: 16000,
                channels: 2
            })
        );
        assert!(rtp_format("PCMU").is_err());
        assert!(rtp_format("G729/8000").is_err());
        for pt in [0u8, 8, 9] {
            let RtpFormat::Audio(spec) = static_payload_type(pt).unwrap() else {
                panic!("audio")
            };
            assert_eq!(spec.info().static_payload_type, Some(pt));
            assert_eq!(rtp_format(&spec.rtpmap()).unwrap(), RtpFormat::Audio(spec));
        }
        assert_eq!(
            static_payload_type(13),
            Some(RtpFormat::ComfortNoise { clock_rate: 8000 })
        );
        assert_eq!(static_payload_type(96), None);
        assert_eq!(CodecSpec::parse("opus").unwrap().rtpmap(), "opus/48000/2");
    }
}
