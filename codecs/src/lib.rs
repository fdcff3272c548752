//! # tutti-codecs
//!
//! Audio codecs for Tutti's transport wing: the [`Encoder`]/[`Decoder`] traits and one module per codec.
//!
//! - G.711 µ-law / A-law ([`G711Encoder`], [`G711Decoder`]) bit-exact with ITU-T G.191, with G.711
//!   Appendix I concealment ([`G711Plc`]).
//! - G.722 at 64/56/48 kbit/s ([`G722Encoder`], [`G722Decoder`], core [`G722Adpcm`]) bit-exact with
//!   ITU-T G.191 / G.722 Appendix II, with concealment ([`G722Plc`]).
//! - Opus through the system libopus ([`OpusEncoder`], [`OpusDecoder`]); `unsafe` lives only in the
//!   private `opus_ffi` module; Ogg Opus files ([`OggOpusWriter`], [`read_ogg_opus`]).
//! - L16 ([`L16Encoder`], [`L16Decoder`]).
//! - RTP payload helpers: RFC 3389 comfort noise ([`CnPayload`], [`CnAnalyser`], [`CnGenerator`]),
//!   RFC 4733 telephone events ([`TelephoneEvent`], [`DtmfTone`]).
//! - The registry ([`CodecSpec`], [`rtp_format`], [`static_payload_type`]).
#![deny(unsafe_code)]
#![warn(missing_docs)]

mod cn;
mod codec;
mod dtmf;
mod error;
mod g711;
mod g711_plc;
#[cfg(target_arch = "x86_64")]
mod g711_simd;
mod g722;
mod g722_core;
mod g722_plc;
mod g722_qmf;
mod l16;
mod ogg;
mod ogg_opus;
mod opus;
mod opus_ffi;
mod registry;

pub use cn::{level_dbov, CnAnalyser, CnGenerator, CnPayload, CN_MAX_ORDER};
pub use codec::{CodecInfo, Decoder, Encoder};
pub use dtmf::{dtmf_char, dtmf_event, dtmf_frequencies, DtmfTone, TelephoneEvent};
pub use error::CodecError;
pub use g711::{
    alaw_decode, alaw_encode, decode_slice as g711_decode_slice, encode_slice as g711_encode_slice,
    ulaw_decode, ulaw_encode, G711Decoder, G711Encoder, G711Law,
};
pub use g711_plc::G711Plc;
pub use g722::{G722Decoder, G722Encoder};
pub use g722_core::{G722Adpcm, G722Mode};
pub use g722_plc::G722Plc;
pub use g722_qmf::{QmfAnalysis, QmfSynthesis};
pub use l16::{L16Decoder, L16Encoder};
pub use ogg::{ogg_crc, OggPacket, OggPacketReader, OggPageWriter};
pub use ogg_opus::{encode_ogg_opus, read_ogg_opus, OggOpusFile, OggOpusWriter, OpusHead, OpusTags};
pub use opus::{
    opus_packet_channels, opus_version, OpusApplication, OpusDecoder, OpusEncoder, OpusEncoderConfig,
    OPUS_RATES,
};
pub use registry::{rtp_format, static_payload_type, CodecSpec, RtpFormat, CLI_CODECS};
