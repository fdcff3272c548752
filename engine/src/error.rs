//! Errors of the engine crate.
//!
//! Setup errors (building a graph, preparing a processor, parsing a node's arguments) are values of
//! [`EngineError`]. Processing itself is infallible: nothing on the real-time path returns an error.

use std::fmt;

/// Everything that can go wrong while setting up audio processing.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum EngineError {
    /// A sample rate the engine does not run at.
    UnsupportedRate {
        /// The rate asked for, in Hz.
        actual: u32,
    },
    /// A channel count the engine does not run with.
    UnsupportedChannels {
        /// The channel count asked for.
        actual: usize,
    },
    /// A block length that is zero, too long, or not a whole number of samples.
    BadBlock {
        /// What was wrong.
        detail: String,
    },
    /// A node argument that is unknown, malformed or out of range.
    BadParam {
        /// Node type name.
        node: String,
        /// Parameter name.
        param: String,
        /// What was wrong (e.g. "expected 20..=20000 Hz, got 5").
        detail: String,
    },
    /// A node type name that no registry knows.
    UnknownNode {
        /// The name that was asked for.
        name: String,
    },
    /// A node id or port that does not exist in the graph.
    UnknownPort {
        /// Which node (by label).
        node: String,
        /// `"input"` or `"output"`.
        direction: &'static str,
        /// The port index asked for.
        port: usize,
        /// How many ports of that direction the node has.
        available: usize,
    },
    /// The edges of the graph form a cycle through the named node.
    Cycle {
        /// A node that lies on the cycle.
        node: String,
    },
    /// Two connected ports disagree on the channel count.
    ChannelMismatch {
        /// Where (node label and port).
        at: String,
        /// Channels the port expects.
        expected: usize,
        /// Channels that arrive.
        actual: usize,
    },
    /// Two streams that must share a sample rate do not.
    RateMismatch {
        /// Where.
        at: String,
        /// The rate expected.
        expected: u32,
        /// The rate found.
        actual: u32,
    },
    /// An input port is driven by more than one edge.
    PortInUse {
        /// Where (node label and port).
        at: String,
    },
    /// A graph or scheduler resource (queue, capacity) is exhausted.
    Capacity {
        /// Which resource.
        what: &'static str,
        /// The limit.
        limit: usize,
    },
    /// The real-time side is gone (its thread stopped or the graph was dropped).
    Disconnected,
    /// A processor refused the configuration it was prepared with.
    Prepare {
        /// Node type name.
        node: String,
        /// Why.
        detail: String,
    },
    /// Starting a thread or other operating-system resource failed.
    Os {
        /// What failed.
        detail: String,
    },
    /// A node id that is not (or no longer) part of the graph.
    UnknownNodeId {
        /// The id's slot number.
        id: usize,
    },
    /// An edit that the graph cannot make (e.g. removing an external input of a running graph).
    BadEdit {
        /// What was wrong.
        detail: String,
    },
    /// A task id that the scheduler does not run.
    UnknownTask {
        /// The id.
        id: u64,
    },
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnsupportedRate { actual } => {
                write!(
                    f,
                    "unsupported sample rate {actual} Hz (supported: 8000, 16000, 32000, 44100, 48000)"
                )
            }
            Self::UnsupportedChannels { actual } => {
                write!(f, "unsupported channel count {actual} (supported: 1, 2)")
            }
            Self::BadBlock { detail } => write!(f, "bad block length: {detail}"),
            Self::BadParam { node, param, detail } => write!(f, "{node}: parameter '{param}': {detail}"),
            Self::UnknownNode { name } => write!(f, "unknown node type '{name}'"),
            Self::UnknownPort {
                node,
                direction,
                port,
                available,
            } => write!(
                f,
                "node '{node}' has no {direction} port {port} (it has {available})"
            ),
            Self::Cycle { node } => write!(f, "graph has a cycle through node '{node}'"),
            Self::ChannelMismatch { at, expected, actual } => {
                write!(f, "{at}: channel mismatch: expected {expected}, got {actual}")
            }
            Self::RateMismatch { at, expected, actual } => {
                write!(
                    f,
                    "{at}: sample rate mismatch: expected {expected} Hz, got {actual} Hz"
                )
            }
            Self::PortInUse { at } => write!(f, "{at}: input port is already connected"),
            Self::Capacity { what, limit } => write!(f, "{what}: capacity {limit} exhausted"),
            Self::Disconnected => write!(f, "the real-time side is disconnected"),
            Self::Prepare { node, detail } => write!(f, "{node}: cannot prepare: {detail}"),
            Self::Os { detail } => write!(f, "operating system: {detail}"),
            Self::UnknownNodeId { id } => write!(f, "no node #{id} in the graph"),
            Self::BadEdit { detail } => write!(f, "graph edit refused: {detail}"),
            Self::UnknownTask { id } => write!(f, "no task {id} in the scheduler"),
        }
    }
}

impl std::error::Error for EngineError {}
