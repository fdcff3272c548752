//! Effects nodes (delay/echo, modulation, dynamics, reverb, panning, pitch and time).

use tutti_engine::NodeType;

/// The effect node types.
pub(crate) const TYPES: &[NodeType] = &[];
