//! Basic nodes every chain needs: gain, high-pass filter, delay, channel up/down-mix; and the biquad
//! filter section they and the EQ share.

mod biquad;
mod biquad_bank;
mod delay;
mod gain;
mod hpf;
mod remix;
pub(crate) mod simd8;

pub use biquad::{Biquad, BiquadCoeffs};
pub use biquad_bank::BiquadBank8;
pub use delay::Delay;
pub use gain::Gain;
pub use hpf::HighPass;
pub use remix::Remix;

use tutti_engine::NodeType;

/// The basic node types.
pub(crate) const TYPES: &[NodeType] = &[gain::TYPE, hpf::TYPE, delay::TYPE, remix::TYPE];
