//! `ringmod`: ring modulation by an internal carrier.
//!
//! # What
//! `y[n] = x[n]·((1 − mix) + mix·m(φₙ))` with the bipolar carrier `m(φ) = 2L(φ) − 1` (`L` the unipolar
//! LFO shape of [`super::common`]; for the sine, `m(φ) = sin 2πφ`) and `φₙ = n·freq/fs`. At `mix = 100 %`
//! this is the classic ring modulator: a tone at `f₀` becomes the pair `f₀ ± freq`.
//!
//! # How
//! An `f64` phase accumulator; the carrier frequency and the mix follow 20 ms linear ramps (the phase stays
//! continuous through frequency changes); the processor is `tremolo`'s `AmpMod`.
//!
//! # Real-time safety
//! Arithmetic only.

use tutti_engine::{NodeArgs, NodeType, ParamInfo};

use super::common::LFO_SHAPES;
use super::tremolo::{AmpKind, AmpMod};

pub(crate) const PARAMS: &[ParamInfo] = &[
    ParamInfo::new("freq", "Hz", 0.1, 20000.0, 440.0, "carrier frequency"),
    ParamInfo::new(
        "mix",
        "%",
        0.0,
        100.0,
        100.0,
        "modulated share (0 = dry, 100 = pure ring modulation)",
    ),
    ParamInfo::choice("shape", LFO_SHAPES, 0, "carrier shape"),
];

/// The `ringmod` node type.
pub(crate) const TYPE: NodeType = NodeType {
    name: "ringmod",
    description: "ring modulation by a sine or triangle carrier",
    inputs: &["in"],
    outputs: &["out"],
    params: PARAMS,
    options: &[],
    create: |a: &NodeArgs| Ok(Box::new(AmpMod::new(AmpKind::Ring, a.values()))),
    stage: None,
};
