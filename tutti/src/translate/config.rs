//! Configuration and errors of a media translator.

use std::fmt;

use tutti_codecs::CodecSpec;

/// Packet times the translator sends (ms).
pub const PTIMES_MS: [u32; 5] = [10, 20, 30, 40, 60];

/// Configuration of one [`super::Translator`] (one incoming stream, one outgoing stream).
#[derive(Debug, Clone)]
pub struct TranslatorConfig {
    /// Codec of the incoming stream.
    pub input: CodecSpec,
    /// Payload type of the incoming stream (RTP packets of other payload types are ignored; RFC 3389
    /// comfort noise and RFC 4733 events end the current talkspurt).
    pub input_payload_type: u8,
    /// Codec of the outgoing stream.
    pub output: CodecSpec,
    /// Payload type of the outgoing stream.
    pub output_payload_type: u8,
    /// Packet time of the outgoing stream in ms (10, 20, 30, 40 or 60; Opus: not 30).
    pub ptime_ms: u32,
    /// Chain run on the audio at the output rate (e.g. `ns,agc`), or `None`.
    pub chain: Option<String>,
    /// Longest gap (loss or pause) bridged inside one talkspurt, in ms: loss is concealed by the input
    /// codec and a pause without loss is filled with silence; a longer gap starts a new talkspurt.
    pub max_gap_ms: u32,
    /// CNAME of the translator's own RTCP reports (receiver reports to the sender).
    pub cname: String,
    /// NTP time (RFC 3550 64-bit format) at `now = 0` of the host clock (for RTT and report timing).
    pub ntp_at_zero: u64,
    /// Seed of the outgoing sequence numbers and of the translator's reporting SSRC.
    pub seed: u64,
}

impl TranslatorConfig {
    /// A configuration from `input` to `output` with static payload types (96 for codecs without one),
    /// 20 ms packets, no chain, 200 ms bridged gaps.
    pub fn new(input: CodecSpec, output: CodecSpec) -> Self {
        Self {
            input_payload_type: input.info().static_payload_type.unwrap_or(96),
            output_payload_type: output.info().static_payload_type.unwrap_or(96),
            input,
            output,
            ptime_ms: 20,
            chain: None,
            max_gap_ms: 200,
            cname: "tutti-translate".into(),
            ntp_at_zero: 0,
            seed: 0x7472_616e_736c_6174,
        }
    }

    /// Checks the settings (ptime, payload types, mono codecs).
    ///
    /// # Errors
    /// [`TranslateError::Config`] naming the field.
    pub fn validate(&self) -> Result<(), TranslateError> {
        let bad = |field: &'static str, detail: String| Err(TranslateError::Config { field, detail });
        if !PTIMES_MS.contains(&self.ptime_ms) {
            return bad("ptime", format!("{} ms: use 10, 20, 30, 40 or 60", self.ptime_ms));
        }
        if matches!(self.output, CodecSpec::Opus { .. }) && self.ptime_ms == 30 {
            return bad("ptime", "30 ms: an Opus frame is 10, 20, 40 or 60 ms".into());
        }
        for (field, pt) in [
            ("input_payload_type", self.input_payload_type),
            ("output_payload_type", self.output_payload_type),
        ] {
            if pt > 127 || (72..=79).contains(&pt) {
                return bad(field, format!("{pt}: use 0..=127 outside 72..=79 (RTCP)"));
            }
        }
        for (field, c) in [("input", self.input), ("output", self.output)] {
            let ch = match c {
                CodecSpec::Opus { .. } => 1,
                other => other.info().channels,
            };
            if ch != 1 {
                return bad(
                    field,
                    format!("{}: the translator carries mono audio", c.cli_name()),
                );
            }
        }
        if self.max_gap_ms == 0 || self.max_gap_ms > 2000 {
            return bad("max_gap_ms", format!("{}: use 1..=2000", self.max_gap_ms));
        }
        Ok(())
    }
}

/// Errors of the translator.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TranslateError {
    /// A configuration value is invalid.
    Config {
        /// The field or flag.
        field: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// A codec could not be built.
    Codec {
        /// What is wrong.
        detail: String,
    },
    /// The chain spec does not parse or build.
    Chain {
        /// What is wrong.
        detail: String,
    },
    /// A datagram was not accepted (counted and dropped).
    Dropped {
        /// Why.
        reason: &'static str,
    },
    /// A socket or file failed (drivers only).
    Io {
        /// What was being done.
        context: String,
        /// The error.
        detail: String,
    },
}

impl fmt::Display for TranslateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config { field, detail } => write!(f, "translator {field}: {detail}"),
            Self::Codec { detail } => write!(f, "translator codec: {detail}"),
            Self::Chain { detail } => write!(f, "translator chain: {detail}"),
            Self::Dropped { reason } => write!(f, "datagram dropped: {reason}"),
            Self::Io { context, detail } => write!(f, "{context}: {detail}"),
        }
    }
}

impl std::error::Error for TranslateError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_the_field() {
        let mut c = TranslatorConfig::new(CodecSpec::Pcmu, CodecSpec::parse("opus").expect("codec"));
        assert!(c.validate().is_ok());
        c.ptime_ms = 30;
        assert!(matches!(
            c.validate(),
            Err(TranslateError::Config { field: "ptime", .. })
        ));
        c.output = CodecSpec::G722(tutti_codecs::G722Mode::Kbps64);
        assert!(c.validate().is_ok());
        c.ptime_ms = 25;
        assert!(c.validate().is_err());
        c.ptime_ms = 20;
        c.output_payload_type = 200;
        assert!(c.validate().is_err());
    }
}
