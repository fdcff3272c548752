//! # tutti-rtp
//!
//! Sans-IO RTP transport for Tutti: packets and `Instant`s in, packets, frames and events out.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

// --- protocol (rtp-proto) ---
mod audio_level;
mod capture;
mod capture_link;
mod demux;
mod error;
mod header_ext;
mod pcap_file;
mod pcapng_file;
mod rtcp_build;
mod rtcp_feedback;
mod rtcp_interval;
mod rtcp_packet;
mod rtcp_session;
mod rtp_packet;
mod sdes_crypto;
mod sdp;
mod source_stats;
mod srtp;
mod srtp_keys;
mod srtp_replay;
mod udp;

pub use audio_level::{
    level_dbov, level_dbov_i16, ClientAudioLevel, MixerAudioLevels, CLIENT_AUDIO_LEVEL_URI,
    MIXER_AUDIO_LEVEL_URI,
};
pub use capture::{CaptureReader, CaptureStats};
pub use capture_link::{
    decode_frame, encode_udp_raw_ip, FrameKind, UdpDatagram, LINKTYPE_ETHERNET, LINKTYPE_IPV4, LINKTYPE_IPV6,
    LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2, LINKTYPE_LOOP, LINKTYPE_NULL, LINKTYPE_RAW,
};
pub use demux::{classify, payload_type_is_mux_safe, PacketKind};
pub use error::RtpError;
pub use header_ext::{
    ExtensionElement, ExtensionElements, ExtensionForm, HeaderExtension, ONE_BYTE_PROFILE, TWO_BYTE_PROFILE,
};
pub use pcap_file::{CapturedFrame, PcapReader, PcapWriter, MAX_FRAME_LEN};
pub use pcapng_file::PcapngReader;
pub use rtcp_build::{RtcpWriter, SdesChunkSpec};
pub use rtcp_feedback::{
    remb_quantised, Feedback, Remb, Tmmb, TmmbItem, TmmbItems, FMT_AFB, FMT_TMMBN, FMT_TMMBR, REMB_ID,
    RTCP_PSFB, RTCP_RTPFB, TMMB_ITEM_LEN,
};
pub use rtcp_interval::{deterministic_interval, rtcp_interval, IntervalInput, SeededRng, COMPENSATION};
pub use rtcp_packet::{
    rtcp_packets, validate_compound, App, Bye, ReceiverReport, ReportBlock, ReportBlocks, RtcpIter,
    RtcpPacket, Sdes, SdesChunk, SdesItem, SdesType, SenderInfo, SenderReport, REPORT_BLOCK_LEN, RTCP_APP,
    RTCP_BYE, RTCP_RR, RTCP_SDES, RTCP_SR,
};
pub use rtcp_session::{FeedbackMessage, RtcpEvent, RtcpSession, RtcpSessionConfig, RtcpSessionStats};
pub use rtp_packet::{rtp_header_len, RtpBuilder, RtpHeader, RtpPacket, RTP_FIXED_HEADER_LEN, RTP_MAX_CSRCS};
pub use sdes_crypto::CryptoAttribute;
pub use sdp::{
    static_payload_type, AnswerOptions, Attribute, Connection, Direction, ExtMap, MediaDescription,
    OfferOptions, Origin, RtpMap, SessionDescription,
};
pub use source_stats::{SeqOutcome, SourceConfig, SourceEvent, SourceStats, SourceTable};
pub use srtp::{SrtpConfig, SrtpContext, SrtpStats};
pub use srtp_keys::{SrtpProfile, SrtpSessionKeys};
pub use srtp_replay::{ReplayVerdict, ReplayWindow};
pub use udp::{Channel, Received, UdpTransport};
// --- end protocol ---

// --- rate adaptation (rtp) ---
mod rate_control;

pub use rate_control::{RateConfig, RateController, RateDecision, MAX_TMMBR_OWNERS};
// --- end rate adaptation ---

// --- quality (integrator) ---
mod emodel;

pub use emodel::{codec_impairment, mos_from_r, EModel};

// --- jitter buffer and playout (rtp-jb) ---
mod jitter;
mod jitter_delay;
mod jitter_stats;
mod receiver;
mod tsm;

pub use jitter::{JitterBuffer, JitterConfig, JitterPacket, PlayoutKind, PushOutcome};
pub use jitter_delay::DelayEstimator;
pub use jitter_stats::JitterStats;
pub use receiver::{ReceiveOutcome, Receiver, ReceiverStats};
pub use tsm::{Tsm, TsmResult};
// --- end jitter buffer ---
