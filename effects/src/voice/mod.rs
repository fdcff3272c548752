//! Voice-processing nodes (AEC, NS, AGC, EQ, VAD, CNG).

use tutti_engine::NodeType;

mod aec;
pub mod scene;

pub use aec::{Aec, AEC_METERS};

/// The voice-processing node types.
pub(crate) const TYPES: &[NodeType] = &[aec::AEC];
