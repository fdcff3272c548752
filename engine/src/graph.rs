//! Audio graphs: building, validating and running a network of processors.
//!
//! # What
//! A [`GraphBuilder`] collects processor nodes, external inputs and outputs, and the edges between their
//! ports; [`GraphBuilder::build`] prepares every node, validates the graph and compiles it into a
//! [`Graph`], which processes one block at a time with [`Graph::process`]. [`Graph::node_stats`] reports
//! each node's measured cost; [`Graph::latency`] the longest summed node latency to any output.
//! For live use (parameter changes and hot edits while audio runs), split the graph with
//! [`Graph::into_realtime`].
//!
//! # How
//! Validation and compilation (Kahn's topological sort, channel checks, buffer liveness) are described in
//! the `topology` module; running a block in the `schedule` module.
//!
//! # Real-time safety
//! Building allocates (control side). [`Graph::process`] allocates nothing, takes no lock and makes no
//! system call; it sets flush-to-zero for the duration of the block (see [`DenormalGuard`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::schedule::{NodeRt, Schedule};
use crate::topology::{Edge, Kind, NodeDesc, Topology};
use crate::{DenormalGuard, EngineError, Processor, StreamConfig};

/// Identifies a node (processor, external input or external output) of a graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub(crate) u32);

impl NodeId {
    /// The node's slot number (stable while the node exists; reused after it is removed).
    pub fn index(self) -> usize {
        self.0 as usize
    }

    pub(crate) fn from_slot(slot: usize) -> Self {
        Self(u32::try_from(slot).expect("graphs have far fewer than 2^32 nodes"))
    }
}

impl std::fmt::Display for NodeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Lock-free per-node cost accumulator, written on the real-time side and read on the control side.
#[derive(Debug, Default)]
pub(crate) struct NodeStatCell {
    total_ns: AtomicU64,
    blocks: AtomicU64,
}

impl NodeStatCell {
    /// Adds one measured block (single writer: load + store, no read-modify-write bus lock).
    #[inline]
    pub fn record(&self, ns: u64) {
        self.total_ns
            .store(self.total_ns.load(Ordering::Relaxed) + ns, Ordering::Relaxed);
        self.blocks
            .store(self.blocks.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    }

    /// (mean ns per block, measured blocks).
    pub fn read(&self) -> (f64, u64) {
        let blocks = self.blocks.load(Ordering::Relaxed);
        let total = self.total_ns.load(Ordering::Relaxed);
        (
            if blocks == 0 {
                0.0
            } else {
                total as f64 / blocks as f64
            },
            blocks,
        )
    }
}

/// Measured cost of one processor node.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeStat {
    /// The node.
    pub id: NodeId,
    /// The label it was added with.
    pub label: String,
    /// Its processor's type name.
    pub name: &'static str,
    /// Mean time of one `process` call, in nanoseconds (0 before the first measured block).
    pub ns_per_block: f64,
    /// Number of blocks the mean is taken over (one block in every profiling period is measured, see
    /// [`Graph::set_profile_every`]).
    pub blocks_measured: u64,
}

/// Collects nodes and edges of a graph (control side).
pub struct GraphBuilder {
    topo: Topology,
    procs: Vec<Option<Box<dyn Processor>>>,
}

impl std::fmt::Debug for GraphBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphBuilder")
            .field("nodes", &self.topo.nodes.len())
            .finish_non_exhaustive()
    }
}

pub(crate) fn proc_desc(label: &str, p: &dyn Processor) -> NodeDesc {
    NodeDesc {
        label: label.to_string(),
        kind: Kind::Proc,
        name: p.name(),
        n_in: p.num_inputs(),
        n_out: p.num_outputs(),
        ext_channels: 0,
        prepared: None,
        params: p.params(),
        stat: Arc::default(),
    }
}

fn ext_desc(name: &str, kind: Kind, channels: usize) -> NodeDesc {
    let (n_in, n_out, type_name) = match kind {
        Kind::Input { .. } => (0, 1, "input"),
        _ => (1, 0, "output"),
    };
    NodeDesc {
        label: name.to_string(),
        kind,
        name: type_name,
        n_in,
        n_out,
        ext_channels: channels,
        prepared: None,
        params: &[],
        stat: Arc::default(),
    }
}

impl GraphBuilder {
    /// An empty graph running at `cfg` (`cfg.channels` is the default channel count of nodes whose
    /// input 0 is unconnected).
    pub fn new(cfg: StreamConfig) -> Self {
        Self {
            topo: Topology::new(cfg),
            procs: Vec::new(),
        }
    }

    fn insert(&mut self, desc: NodeDesc, proc: Option<Box<dyn Processor>>) -> NodeId {
        let slot = self.topo.insert(desc);
        if self.procs.len() <= slot {
            self.procs.resize_with(slot + 1, || None);
        }
        self.procs[slot] = proc;
        NodeId::from_slot(slot)
    }

    /// Adds a processor node labelled `label` (labels appear in errors and statistics).
    pub fn add_node(&mut self, label: &str, p: Box<dyn Processor>) -> NodeId {
        let desc = proc_desc(label, p.as_ref());
        self.insert(desc, Some(p))
    }

    /// Adds external input number *k* (k counts `add_input` calls from 0): a node with one output port
    /// of `channels` channels, fed from `inputs[k]` of [`Graph::process`].
    pub fn add_input(&mut self, name: &str, channels: usize) -> NodeId {
        let ext = self.topo.n_ext_in;
        self.topo.n_ext_in += 1;
        self.insert(ext_desc(name, Kind::Input { ext }, channels), None)
    }

    /// Adds external output number *k*: a node with one input port of `channels` channels, copied to
    /// `outputs[k]` of [`Graph::process`] (silence when unconnected).
    pub fn add_output(&mut self, name: &str, channels: usize) -> NodeId {
        let ext = self.topo.n_ext_out;
        self.topo.n_ext_out += 1;
        self.insert(ext_desc(name, Kind::Output { ext }, channels), None)
    }

    /// Connects output port `out_port` of `from` to input port `in_port` of `to`.
    ///
    /// Errors: [`EngineError::UnknownNodeId`], [`EngineError::UnknownPort`], [`EngineError::PortInUse`]
    /// (an input port takes one edge; an output port may feed many).
    pub fn connect(
        &mut self,
        from: NodeId,
        out_port: usize,
        to: NodeId,
        in_port: usize,
    ) -> Result<(), EngineError> {
        self.topo.connect(Edge {
            from: from.index(),
            out_port,
            to: to.index(),
            in_port,
        })
    }

    /// Prepares every node, validates the graph and compiles its schedule.
    ///
    /// Errors: [`EngineError::Cycle`], [`EngineError::ChannelMismatch`], [`EngineError::UnsupportedChannels`]
    /// for an external port of zero channels, or a node's own [`Processor::prepare`] error.
    pub fn build(mut self) -> Result<Graph, EngineError> {
        for d in self.topo.nodes.iter().flatten() {
            if d.kind != Kind::Proc && d.ext_channels == 0 {
                return Err(EngineError::UnsupportedChannels { actual: 0 });
            }
        }
        let plan = self.topo.compile(&mut self.procs)?;
        let nodes: Vec<Option<NodeRt>> = self
            .procs
            .into_iter()
            .enumerate()
            .map(|(slot, p)| {
                p.map(|proc| NodeRt {
                    proc,
                    stat: Arc::clone(
                        &self.topo.nodes[slot]
                            .as_ref()
                            .expect("processor slots are occupied")
                            .stat,
                    ),
                })
            })
            .collect();
        let schedule = Schedule::new(plan, self.topo.cfg.block_frames, nodes, Vec::new());
        Ok(Graph {
            topo: self.topo,
            schedule: Box::new(schedule),
        })
    }
}

/// A built graph: runs one block at a time on the calling thread.
pub struct Graph {
    pub(crate) topo: Topology,
    pub(crate) schedule: Box<Schedule>,
}

impl std::fmt::Debug for Graph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Graph")
            .field("config", &self.topo.cfg)
            .field("nodes", &self.schedule.order.len())
            .field("latency", &self.schedule.latency)
            .finish_non_exhaustive()
    }
}

impl Graph {
    /// Processes one block.
    ///
    /// `inputs[k]` is external input *k* (in `add_input` order) as planar channels of
    /// `config().block_frames` samples; `outputs[k]` likewise receives external output *k*. A slice that is
    /// too short is filled as far as it goes; missing input samples read as zero.
    ///
    /// Real-time safe: no allocation, lock or system call.
    pub fn process(&mut self, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        let _ftz = DenormalGuard::new();
        self.schedule
            .run(&mut crate::schedule::SliceIo { inputs, outputs });
    }

    /// The configuration the graph runs at.
    pub fn config(&self) -> StreamConfig {
        self.topo.cfg
    }

    /// Latency in frames: the largest sum of node latencies along any path to an external output.
    pub fn latency(&self) -> usize {
        self.schedule.latency
    }

    /// Measured cost of every processor node, in schedule order (allocates; control side).
    pub fn node_stats(&self) -> Vec<NodeStat> {
        node_stats(&self.topo, &self.schedule.order)
    }

    /// Measures node cost on one block in every `every` (0 switches measuring off; default 32).
    pub fn set_profile_every(&mut self, every: u32) {
        self.schedule.profile_every = every;
    }

    /// Channel counts of the external inputs, in `add_input` order.
    pub fn input_channels(&self) -> &[usize] {
        &self.schedule.ext_in
    }

    /// Channel counts of the external outputs, in `add_output` order.
    pub fn output_channels(&self) -> &[usize] {
        &self.schedule.ext_out
    }

    /// The first node labelled `label`.
    pub fn find(&self, label: &str) -> Option<NodeId> {
        find(&self.topo, label)
    }

    /// Sets parameter `param` of node `id` at once (range-checked; the node smooths the change).
    pub fn set_param(&mut self, id: NodeId, param: &str, value: f32) -> Result<(), EngineError> {
        let index = param_index(&self.topo, id, param, value)?;
        if let Some(n) = self.schedule.nodes.get_mut(id.index()).and_then(Option::as_mut) {
            n.proc.set_param(index, value);
        }
        Ok(())
    }

    /// Clears the state of every node (as if freshly prepared).
    pub fn reset(&mut self) {
        self.schedule.reset();
    }

    /// Number of block buffers the schedule uses (shared between ports whose lifetimes do not overlap).
    pub fn buffer_count(&self) -> usize {
        self.schedule.buffer_count()
    }
}

pub(crate) fn find(topo: &Topology, label: &str) -> Option<NodeId> {
    topo.nodes
        .iter()
        .position(|d| d.as_ref().is_some_and(|d| d.label == label))
        .map(NodeId::from_slot)
}

pub(crate) fn node_stats(topo: &Topology, order: &[usize]) -> Vec<NodeStat> {
    order
        .iter()
        .filter_map(|&slot| {
            let d = topo.nodes.get(slot)?.as_ref()?;
            let (ns_per_block, blocks_measured) = d.stat.read();
            Some(NodeStat {
                id: NodeId::from_slot(slot),
                label: d.label.clone(),
                name: d.name,
                ns_per_block,
                blocks_measured,
            })
        })
        .collect()
}

/// Finds parameter `param` of node `id` and checks `value` against its range.
pub(crate) fn param_index(
    topo: &Topology,
    id: NodeId,
    param: &str,
    value: f32,
) -> Result<usize, EngineError> {
    let d = topo.node(id.index())?;
    let bad = |detail: String| EngineError::BadParam {
        node: d.label.clone(),
        param: param.to_string(),
        detail,
    };
    let index = d.params.iter().position(|p| p.name == param).ok_or_else(|| {
        let known: Vec<&str> = d.params.iter().map(|p| p.name).collect();
        bad(if known.is_empty() {
            format!("node type '{}' has no parameters", d.name)
        } else {
            format!("unknown parameter (known: {})", known.join(", "))
        })
    })?;
    d.params[index].check(value).map_err(bad)?;
    Ok(index)
}
