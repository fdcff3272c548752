//! Voice-processing nodes (AEC, NS, AGC, EQ, VAD, CNG).

use tutti_engine::NodeType;

/// The voice-processing node types.
pub(crate) const TYPES: &[NodeType] = &[];
