//! # tutti-engine
//!
//! The real-time core of Tutti: the [`Processor`] contract, stream configuration, parameters with
//! smoothing, node types, and (in later modules) the lock-free graph and the multi-graph scheduler.
//!
//! This crate imports none of Tutti's other crates: effects and the facade build on it.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod config;
mod error;
mod param;
mod processor;
mod registry;

pub use config::{StreamConfig, MAX_BLOCK_FRAMES, SUPPORTED_RATES};
pub use error::EngineError;
pub use param::{ParamInfo, Smoothed};
pub use processor::{render_offline, AudioMut, AudioRef, Inputs, Meters, Outputs, Processor};
pub use registry::{NodeArgs, NodeType};
