//! # tutti
//!
//! The facade of the Tutti workspace: re-exports the engine, effects, codecs and RTP crates.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub use tutti_codecs as codecs;
pub use tutti_effects as effects;
pub use tutti_engine as engine;
pub use tutti_rtp as rtp;

pub mod anonymise;
pub mod capi;
pub mod cdr;
pub mod chain;
pub mod cli;
pub mod conference;
pub mod eval;
pub mod graphfile;
pub mod live;
pub mod offline;
mod progress;
pub mod record;
pub mod registry;
pub mod translate;
pub mod wav;
