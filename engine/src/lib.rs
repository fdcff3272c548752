//! # tutti-engine
//!
//! The real-time core of Tutti: the [`Processor`] contract, stream configuration, parameters with
//! smoothing, node types, graphs ([`GraphBuilder`] → [`Graph`]; live: [`GraphController`] +
//! [`GraphRunner`] with hot edits), and the multi-graph [`Scheduler`].
//!
//! This crate imports none of Tutti's other crates: effects and the facade build on it.
#![deny(unsafe_code)]
#![warn(missing_docs)]

mod alloc_count;
mod config;
mod denormal;
mod error;
mod graph;
mod histogram;
mod live;
mod os;
mod param;
mod processor;
mod registry;
mod schedule;
mod scheduler;
mod stage;
mod topology;

pub use alloc_count::{count_allocations, counting_is_active, AllocCounts, CountingAllocator};
pub use config::{StreamConfig, MAX_BLOCK_FRAMES, SUPPORTED_RATES};
pub use denormal::{enable_flush_to_zero, flush_to_zero_enabled, DenormalGuard};
pub use error::EngineError;
pub use graph::{Graph, GraphBuilder, NodeId, NodeStat};
pub use histogram::HistogramSummary;
pub use live::{GraphController, GraphEdit, GraphRunner, LiveOptions};
pub use os::thread_cpu_time;
pub use param::{ParamInfo, Smoothed};
pub use processor::{render_offline, AudioMut, AudioRef, Inputs, Meters, Outputs, Processor};
pub use registry::{NodeArgs, NodeType};
pub use scheduler::{
    FnTask, Scheduler, SchedulerConfig, SchedulerStats, Task, TaskId, TaskOptions, TaskStats, WorkerStats,
};
pub use stage::{StageFactory, StreamStage};
