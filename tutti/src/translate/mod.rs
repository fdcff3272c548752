//! Media translator (RFC 7667 §3.5.1, RFC 3550 §7.2): one RTP stream in, the same stream out in another
//! codec, packet time and sample rate, with its SSRC and timing kept and RTCP rewritten for each leg.
//!
//! # What
//! - [`Translator`]: the sans-IO core (datagrams and times in, datagrams out; see its module docs for the
//!   media path, the timestamp mapping and the RTCP rules).
//! - [`translate_udp`] (`tutti translate --listen`) and [`translate_capture`] (`tutti translate --pcap`):
//!   thin drivers that translate every stream (SSRC) they see and forward it to one destination.
//!
//! # How
//! Decode in arrival order with the input codec's PLC for gaps, 10 ms blocks through a band-limited
//! resampler (rubato, [`crate::conference::FrameResampler`]) and an optional chain at the output rate,
//! output frames of the packet time encoded by the output codec. Timestamps are the sender's mapped to the
//! output clock (delay of resampler and chain removed), sequence numbers our own; SR sender info rewritten
//! downstream, our own RR upstream.
//!
//! # Real-time safety
//! The per-datagram calls of [`Translator`] allocate nothing (`tests/translate_rt.rs`); the drivers make
//! system calls (sockets, files) and allocate when a new stream appears.

mod config;
mod core;
mod driver;
mod pipeline;
mod stats;

pub use self::core::{Side, Translator, Transmit};
pub use config::{TranslateError, TranslatorConfig, PTIMES_MS};
pub use driver::{
    translate_capture, translate_udp, CaptureOptions, StreamReport, TranslateTemplate, UdpOptions,
};
pub use stats::{TranslatorCounters, TranslatorLegStats, TranslatorStats};
