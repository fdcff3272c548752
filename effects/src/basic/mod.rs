//! Basic nodes every chain needs: gain, high-pass filter, delay, channel up/down-mix; and the biquad
//! filter section they and the EQ share.

mod biquad;

pub use biquad::{Biquad, BiquadCoeffs};

use tutti_engine::NodeType;

/// The basic node types.
pub(crate) const TYPES: &[NodeType] = &[];
