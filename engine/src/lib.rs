//! # tutti-engine
//!
//! The real-time core of Tutti: the [`Processor`] contract, stream configuration, parameters with
//! smoothing, node types, graphs, live graph editing and the multi-graph scheduler.
//!
//! * **Graphs.** [`GraphBuilder`] collects processor nodes, external inputs/outputs and edges;
//!   [`GraphBuilder::build`] prepares each node with the channel count arriving at its input 0, validates
//!   (cycles, unknown ports, channel mismatches, doubly driven inputs → [`EngineError`]) and compiles a
//!   schedule: Kahn topological order, O(N + E), and buffers shared between ports whose lifetimes do not
//!   overlap. [`Graph::process`] runs one block without allocating; [`Graph::node_stats`] gives each node's
//!   measured ns per block (sampled on one block in 32, read through atomics).
//! * **Live graphs.** [`Graph::into_realtime`] splits a graph into a [`GraphController`] and a
//!   [`GraphRunner`] joined by wait-free `rtrb` rings. Parameter changes are range-checked on the control
//!   side and applied at the next block start. Hot edits ([`GraphEdit`]) are compiled on the control side;
//!   the runner swaps the new schedule in between blocks, moving the processors of untouched nodes across
//!   (their state is kept), fading the output out and in (raised cosine, 5 ms each by default) so edits do
//!   not click, and returns the old schedule with removed nodes for dropping on the control side.
//! * **Scheduler.** [`Scheduler`] runs many [`Task`]s (e.g. [`GraphRunner`]s) on worker threads with
//!   `SCHED_FIFO` when permitted, each on its period with a deadline, tasks due together batched into one
//!   absolute-time wake-up; statistics ([`SchedulerStats`], [`TaskStats`]) include busy-time percentiles,
//!   deadline misses and load. Freewheel mode renders through the same code as fast as possible.
//! * **Real-time safety.** Every entry to the real-time side sets flush-to-zero ([`DenormalGuard`]); the
//!   [`CountingAllocator`] proves in the tests that processing, edits and ticks allocate nothing.
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
