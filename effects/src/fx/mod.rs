//! Effects nodes (delay/echo, modulation, dynamics, reverb, panning, pitch and time).

use tutti_engine::NodeType;

// Reverb, binaural panning, pitch and time (fx-b).
mod convolver;
mod resample;
mod reverb;

pub use convolver::PartitionedConvolver;
pub use resample::{resample_signal, StreamResampler};
pub use reverb::{reverb_rt60, ImpulseResponse, Reverb};

/// The effect node types.
pub(crate) const TYPES: &[NodeType] = &[
    // fx-b
    reverb::TYPE,
    resample::TYPE,
];
