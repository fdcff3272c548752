//! Conference mixing: N−1 mixes, active talkers, per-leg codecs and chains, CSRC lists and levels,
//! cascading — as a sans-IO core with thin drivers.
//!
//! # What
//! - [`Conference`]: the mixer (see its module docs for the tick), driven by time and datagrams.
//! - `tutti mix` ([`mix_capture`]): every RTP stream of a capture is a participant; writes what each one hears.
//! - [`split`]: the conference as a scheduler task ([`ConferenceTask`]) with its control side
//!   ([`ConferenceControl`], legs prepared by a [`LegFactory`]) and a network driver's rings ([`NetEnds`]).
//! - `tutti conference` ([`server`]): a UDP conference server on [`split`] and the engine's scheduler.
//! - `tutti bench conference` ([`bench`]): synthetic load through the whole path on the engine's scheduler.
//!
//! # How
//! RFC 3550 §7.1 and RFC 7667 §3.6 (the media mixer topology): the mixer resynchronises every source in its
//! jitter buffer, mixes, re-encodes per receiver and sends with its own SSRC, naming the contributors as
//! CSRCs with RFC 6465 levels. Cascading is a leg whose peer is another mixer: its CSRCs are passed on.
//!
//! # Real-time safety
//! The tick, `receive` and `poll_transmit` allocate nothing (see `tests/conference_rt.rs`); joining and
//! leaving allocate on the control side: between ticks with [`Conference::add_leg`], or on another thread
//! with a [`LegFactory`] while [`Conference::insert_leg`]/[`Conference::take_leg`] only move boxes
//! (`tests/conference_runtime.rs`).

mod bench;
mod capture;
mod config;
mod core;
pub(crate) mod dsp;
mod factory;
mod leg;
mod queue;
mod recorder;
mod runtime;
mod server;
mod stats;
mod talkers;

pub use self::core::{leg_codec, Conference};
pub use bench::{profile_ticks, run_bench, BenchConfig, BenchReport};
pub use capture::{mix_capture, MixOptions, MixOutput, Participant};
pub use config::{ConferenceConfig, ConferenceError, LegConfig, LegId, MixRate};
pub use dsp::{FrameResampler, Limiter};
pub use factory::{LegFactory, PreparedLeg, RetiredLeg};
pub use leg::{Contributor, Leg, LegCounters, MTU};
pub use queue::PacketQueue;
pub use recorder::{fix_streaming_wav_header, wav_header, Recording};
pub use runtime::{
    split, ConferenceControl, ConferenceTask, Datagram, Event, NetEnds, Route, RuntimeCounters,
    RuntimeOptions,
};
pub use server::{serve, LegEntry, ServeOptions, ServerConfig};
pub use stats::{ConferenceStats, LegStats};
pub use talkers::{TalkerConfig, TalkerSelector};
