//! # tutti-effects
//!
//! Tutti's DSP nodes, each a [`tutti_engine::Processor`] with a [`tutti_engine::NodeType`] entry:
//! - `basic`: gain, high-pass filter, delay, channel up/down-mix;
//! - `voice`: telephony voice processing (echo cancellation, noise suppression, gain control, EQ, VAD,
//!   comfort noise);
//! - `fx`: effects (delay/echo, modulation, dynamics, reverb, binaural panning, pitch and time).
//!
//! [`node_types`] lists them all.
#![deny(unsafe_code)]
#![warn(missing_docs)]

mod basic;
mod fx;
mod plans;
mod reduce;
pub mod voice;

pub use basic::{Biquad, BiquadBank8, BiquadCoeffs, Delay, Gain, HighPass, Remix};
pub use fx::{
    resample_signal, reverb_rt60, woodworth_itd, ImpulseResponse, Pan3d, PartitionedConvolver, PitchShifter,
    Reverb, SofaHrtf, StreamResampler, StretchMode, TimeStretcher,
};

pub use voice::{
    eq_response_db, expint_e1, k_weighting, levinson_reflection, Agc, BandSpec, CngAnalyzer, CngNode,
    CngParams, CngSynth, Eq, NoiseSuppressor, Svf, SvfCoeffs, SvfShape, Vad, VadFeatures, VadNode,
    CNG_DBOV_REF, CNG_MAX_ORDER, EQ_BAND_TYPES, EQ_MAX_BANDS, NS_LEVEL_DB,
};

use tutti_engine::NodeType;

/// Every node type this crate provides.
pub fn node_types() -> Vec<NodeType> {
    let mut v = Vec::new();
    v.extend_from_slice(basic::TYPES);
    v.extend_from_slice(voice::TYPES);
    v.extend_from_slice(fx::TYPES);
    v
}
