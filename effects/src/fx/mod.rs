//! Effects nodes (delay/echo, modulation, dynamics, reverb, panning, pitch and time).

mod compressor;
mod limiter;
mod overdrive;
mod resonator;

mod chorus;
mod common;
mod echo;
mod flanger;
mod phaser;
mod reverse_echo;
mod ringmod;
mod tremolo;

use tutti_engine::NodeType;

// Reverb, binaural panning, pitch and time (fx-b).
mod convolver;
mod onsets;
mod pan3d;
mod pitch_shift;
mod resample;
mod reverb;
mod sofa;
mod stretcher;
mod td_shift;
mod time_stretch;

pub use convolver::PartitionedConvolver;
pub use pan3d::{woodworth_itd, Pan3d};
pub use pitch_shift::PitchShifter;
pub use resample::{resample_signal, StreamResampler};
pub use reverb::{reverb_rt60, ImpulseResponse, Reverb};
pub use sofa::SofaHrtf;
pub use stretcher::{StretchMode, TimeStretcher};

/// The effect node types.
pub(crate) const TYPES: &[NodeType] = &[
    // fx-b
    reverb::TYPE,
    resample::TYPE,
    pan3d::TYPE,
    pitch_shift::TYPE,
    time_stretch::TYPE,
    // fx-a
    echo::TYPE,
    reverse_echo::TYPE,
    flanger::TYPE,
    chorus::TYPE,
    phaser::TYPE,
    tremolo::TYPE,
    ringmod::TYPE,
    overdrive::TYPE,
    resonator::TYPE,
    compressor::TYPE,
    limiter::TYPE,
];
