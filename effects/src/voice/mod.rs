//! Voice-processing nodes (AEC, NS, AGC, EQ, VAD, CNG).

use tutti_engine::NodeType;

mod aec;
mod agc;
mod cng;
mod eq;
mod fastmath;
mod lanes;
#[cfg(target_arch = "x86_64")]
mod lanes8;
mod ns;
mod rfft;
pub mod scene;
mod stft;
mod svf;
mod vad;

pub use aec::{Aec, AEC_METERS};
pub use agc::{k_weighting, Agc};
pub use cng::{levinson_reflection, CngAnalyzer, CngNode, CngParams, CngSynth, CNG_DBOV_REF, CNG_MAX_ORDER};
pub use eq::{eq_response_db, BandSpec, Eq, EQ_BAND_TYPES, EQ_MAX_BANDS};
pub use ns::{expint_e1, NoiseSuppressor, NS_LEVEL_DB};
pub use svf::{Svf, SvfCoeffs, SvfShape};
pub use vad::{Vad, VadFeatures, VadNode};

/// The voice-processing node types.
pub(crate) const TYPES: &[NodeType] = &[aec::AEC, ns::TYPE, agc::TYPE, eq::TYPE, vad::TYPE, cng::TYPE];
