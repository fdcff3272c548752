//! Configuration and errors of a conference and of its legs.

use std::fmt;
use std::time::Duration;

use tutti_codecs::CodecSpec;
use tutti_rtp::CryptoAttribute;

use super::talkers::TalkerConfig;

/// Rate at which the legs are mixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MixRate {
    /// A fixed rate in Hz (16 000 or 48 000; 8 000 and 32 000 work too).
    Fixed(u32),
    /// The highest audio rate among the legs (rises when a wider-band leg joins; starts at 8 kHz).
    Highest,
}

/// Configuration of a [`super::Conference`].
#[derive(Debug, Clone)]
pub struct ConferenceConfig {
    /// Mix rate (default 16 kHz).
    pub mix_rate: MixRate,
    /// Mix tick and packet duration in ms (default 20).
    pub ptime_ms: u32,
    /// Most legs at once (slots are preallocated; default 1024).
    pub max_legs: usize,
    /// Active-talker selection (K = `talkers.max_talkers`, default 3).
    pub talkers: TalkerConfig,
    /// Chain run on every leg's decoded audio before mixing, unless the leg has its own (e.g. `hpf,ns,agc`).
    pub chain: Option<String>,
    /// A leg that sends nothing (RTP or RTCP) for this long is expired (default 30 s).
    pub leg_timeout: Duration,
    /// Output limiter ceiling in dBFS (default −1).
    pub limiter_dbfs: f32,
    /// RFC 8285 extension id of the RFC 6465 mixer-to-client levels we send and read (default 2; 0 = off).
    pub csrc_level_ext_id: u8,
    /// RFC 8285 extension id of the RFC 6464 client-to-mixer level we read (default 1; 0 = ignore).
    pub ssrc_level_ext_id: u8,
    /// Our RTCP CNAME.
    pub cname: String,
    /// NTP time (RFC 3550 64-bit format) at `now = 0` of the conference clock, for RTCP sender reports.
    pub ntp_at_zero: u64,
    /// Seed for SSRCs, initial sequence numbers and timestamps (deterministic tests).
    pub seed: u64,
    /// Smallest and largest jitter-buffer target delay in ms.
    pub jitter_delay_ms: (u32, u32),
}

impl Default for ConferenceConfig {
    fn default() -> Self {
        Self {
            mix_rate: MixRate::Fixed(16000),
            ptime_ms: 20,
            max_legs: 1024,
            talkers: TalkerConfig::default(),
            chain: None,
            leg_timeout: Duration::from_secs(30),
            limiter_dbfs: -1.0,
            csrc_level_ext_id: 2,
            ssrc_level_ext_id: 1,
            cname: "tutti-conference".into(),
            ntp_at_zero: 0,
            seed: 0x7475_7474_6963_6f6e,
            jitter_delay_ms: (0, 500),
        }
    }
}

/// Configuration of one leg (one participant, one RTP session).
#[derive(Debug, Clone)]
pub struct LegConfig {
    /// A label for statistics and recordings.
    pub name: String,
    /// The leg's codec (both directions).
    pub codec: CodecSpec,
    /// RTP payload type (both directions; default: the codec's static type, else 96).
    pub payload_type: u8,
    /// Our SSRC towards this leg (`None`: drawn from the conference seed).
    pub local_ssrc: Option<u32>,
    /// SDES-SRTP keying (`a=crypto`): the same master key protects both directions (separate contexts).
    pub srtp: Option<CryptoAttribute>,
    /// Chain for this leg (`None`: the conference's; `Some("")`: none).
    pub chain: Option<String>,
    /// Gain applied to what this leg sends into the mix, in dB.
    pub gain_in_db: f32,
    /// Gain applied to what this leg hears, in dB.
    pub gain_out_db: f32,
    /// Muted: heard by nobody.
    pub muted: bool,
    /// Deaf: hears silence.
    pub deaf: bool,
}

impl LegConfig {
    /// A leg with a codec and its default payload type, no SRTP, unity gains.
    pub fn new(name: impl Into<String>, codec: CodecSpec) -> Self {
        Self {
            name: name.into(),
            payload_type: codec.info().static_payload_type.unwrap_or(96),
            codec,
            local_ssrc: None,
            srtp: None,
            chain: None,
            gain_in_db: 0.0,
            gain_out_db: 0.0,
            muted: false,
            deaf: false,
        }
    }
}

/// Identifies a leg of a conference (a slot index plus a generation, so stale ids are refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LegId {
    pub(crate) slot: u32,
    pub(crate) generation: u32,
}

impl LegId {
    /// The slot index (stable while the leg lives; reused after it leaves).
    pub fn slot(self) -> usize {
        self.slot as usize
    }
}

impl fmt::Display for LegId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "leg {}.{}", self.slot, self.generation)
    }
}

/// Errors of the conference API (setup and control; the tick itself cannot fail).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ConferenceError {
    /// A configuration value is out of range.
    Config {
        /// The field.
        field: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// All leg slots are taken.
    Full {
        /// The number of slots.
        max_legs: usize,
    },
    /// No such leg (never existed, or already left).
    NoSuchLeg(LegId),
    /// The leg's codec could not be created.
    Codec {
        /// The leg.
        leg: String,
        /// The codec error.
        detail: String,
    },
    /// The leg's chain could not be built.
    Chain {
        /// The leg.
        leg: String,
        /// The chain error.
        detail: String,
    },
    /// SRTP keying failed.
    Srtp {
        /// The leg.
        leg: String,
        /// What failed.
        detail: String,
    },
    /// A datagram could not be accepted (malformed, failed authentication, wrong payload type…); it was
    /// counted and dropped.
    Dropped {
        /// Why.
        reason: &'static str,
    },
}

impl fmt::Display for ConferenceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config { field, detail } => write!(f, "conference config: {field}: {detail}"),
            Self::Full { max_legs } => write!(f, "conference is full ({max_legs} legs)"),
            Self::NoSuchLeg(id) => write!(f, "no such leg: {id}"),
            Self::Codec { leg, detail } => write!(f, "leg '{leg}': codec: {detail}"),
            Self::Chain { leg, detail } => write!(f, "leg '{leg}': {detail}"),
            Self::Srtp { leg, detail } => write!(f, "leg '{leg}': SRTP: {detail}"),
            Self::Dropped { reason } => write!(f, "datagram dropped: {reason}"),
        }
    }
}

impl std::error::Error for ConferenceError {}
