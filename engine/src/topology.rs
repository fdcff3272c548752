//! Control-side graph topology: nodes, edges, validation and compilation into a schedule plan.
//!
//! # What
//! [`Topology`] is the control side's description of a graph: one [`NodeDesc`] per slot (a processor,
//! an external input or an external output) and the edges between their ports. [`Topology::compile`]
//! validates it and turns it into a [`Plan`]: the order in which nodes run and which buffer each port
//! reads or writes.
//!
//! # How
//! * Order: Kahn's topological sort, O(N + E) (Kahn, "Topological sorting of large networks", CACM 1962).
//!   When nodes remain with unresolved inputs the graph has a cycle; walking back along still-unresolved
//!   predecessors from any remaining node must revisit a node, which lies on a cycle and is named in
//!   [`EngineError::Cycle`].
//! * Channels: in topological order each node's configuration gets `channels` = the channel count arriving
//!   at its input 0 (the graph's channel count when unconnected); fresh nodes are prepared with it, and every
//!   edge is checked against [`Processor::input_channels`] / [`Processor::output_channels`].
//! * Buffers: a liveness pass in schedule order gives each output port a buffer from a free list of its
//!   channel count and returns a buffer to the free list after its last reader has run (outputs are
//!   assigned before the node's inputs are released, so no node reads and writes the same buffer).
//!   Unconnected inputs read a shared silent buffer.
//!
//! # Real-time safety
//! None needed: everything here runs on the control side and allocates freely.

use std::collections::HashMap;
use std::sync::Arc;

use crate::graph::NodeStatCell;
use crate::{EngineError, ParamInfo, Processor, StreamConfig};

/// What a slot holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A processor node.
    Proc,
    /// External input number `ext` (one output port).
    Input { ext: usize },
    /// External output number `ext` (one input port).
    Output { ext: usize },
}

/// Control-side description of one node.
#[derive(Clone)]
pub(crate) struct NodeDesc {
    pub label: String,
    pub kind: Kind,
    pub name: &'static str,
    pub n_in: usize,
    pub n_out: usize,
    /// Channel count for external inputs/outputs (unused for processors).
    pub ext_channels: usize,
    /// Set once the node is prepared (processors) or from the start (external ports).
    pub prepared: Option<Prepared>,
    pub params: &'static [ParamInfo],
    pub stat: Arc<NodeStatCell>,
}

/// What preparing a node fixed.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    pub cfg: StreamConfig,
    pub in_ch: Vec<usize>,
    pub out_ch: Vec<usize>,
    pub latency: usize,
}

/// One edge: `from`'s output port feeds `to`'s input port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Edge {
    pub from: usize,
    pub out_port: usize,
    pub to: usize,
    pub in_port: usize,
}

/// One operation of a schedule.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Op {
    /// Copy external input `ext` into pool buffer `buf`.
    Input { ext: usize, buf: usize },
    /// Run the node in `slot`: inputs are `in_idx[ins]`, outputs `out_idx[outs]` (pool indices).
    Node {
        slot: usize,
        ins: std::ops::Range<usize>,
        outs: std::ops::Range<usize>,
    },
    /// Copy pool buffer `buf` to external output `ext`.
    Output { ext: usize, buf: usize },
}

/// A compiled schedule, without the processors.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Plan {
    pub ops: Vec<Op>,
    pub in_idx: Vec<usize>,
    pub out_idx: Vec<usize>,
    /// Channel count of each pool buffer (its length is `channels * block_frames`).
    pub buffers: Vec<usize>,
    /// Largest number of output ports of any node.
    pub max_outputs: usize,
    /// Processor slots in schedule order.
    pub order: Vec<usize>,
    /// Graph latency in frames (longest path to any output).
    pub latency: usize,
    /// Channel count of each external input / output, in `ext` order.
    pub ext_in: Vec<usize>,
    pub ext_out: Vec<usize>,
}

/// The control side's view of a graph.
#[derive(Clone)]
pub(crate) struct Topology {
    pub cfg: StreamConfig,
    pub nodes: Vec<Option<NodeDesc>>,
    pub edges: Vec<Edge>,
    pub n_ext_in: usize,
    pub n_ext_out: usize,
}

impl Topology {
    pub fn new(cfg: StreamConfig) -> Self {
        Self {
            cfg,
            nodes: Vec::new(),
            edges: Vec::new(),
            n_ext_in: 0,
            n_ext_out: 0,
        }
    }

    /// The node in `slot`, or an error naming the id.
    pub fn node(&self, slot: usize) -> Result<&NodeDesc, EngineError> {
        self.nodes
            .get(slot)
            .and_then(Option::as_ref)
            .ok_or(EngineError::UnknownNodeId { id: slot })
    }

    /// Adds a node in a free slot (reusing the lowest vacant one) and returns the slot.
    pub fn insert(&mut self, desc: NodeDesc) -> usize {
        if let Some(i) = self.nodes.iter().position(Option::is_none) {
            self.nodes[i] = Some(desc);
            i
        } else {
            self.nodes.push(Some(desc));
            self.nodes.len() - 1
        }
    }

    /// Checks an edge's endpoints and that the input port is free, then adds it.
    pub fn connect(&mut self, e: Edge) -> Result<(), EngineError> {
        let from = self.node(e.from)?;
        if e.out_port >= from.n_out {
            return Err(EngineError::UnknownPort {
                node: from.label.clone(),
                direction: "output",
                port: e.out_port,
                available: from.n_out,
            });
        }
        let to = self.node(e.to)?;
        if e.in_port >= to.n_in {
            return Err(EngineError::UnknownPort {
                node: to.label.clone(),
                direction: "input",
                port: e.in_port,
                available: to.n_in,
            });
        }
        if self.edges.iter().any(|x| x.to == e.to && x.in_port == e.in_port) {
            return Err(EngineError::PortInUse {
                at: format!("node '{}' input {}", to.label, e.in_port),
            });
        }
        self.edges.push(e);
        Ok(())
    }

    /// Removes the edge into `to`'s input `in_port`; true when there was one.
    pub fn disconnect(&mut self, to: usize, in_port: usize) -> bool {
        let before = self.edges.len();
        self.edges.retain(|e| !(e.to == to && e.in_port == in_port));
        before != self.edges.len()
    }

    /// Removes a node and every edge touching it.
    pub fn remove(&mut self, slot: usize) -> Result<NodeDesc, EngineError> {
        self.node(slot)?;
        self.edges.retain(|e| e.from != slot && e.to != slot);
        Ok(self.nodes[slot].take().expect("checked by node() above"))
    }

    /// Topological order of all occupied slots (Kahn), or the cycle error.
    fn order(&self) -> Result<Vec<usize>, EngineError> {
        let n = self.nodes.len();
        let mut indeg = vec![0usize; n];
        let mut succ_start = vec![0usize; n + 1];
        for e in &self.edges {
            indeg[e.to] += 1;
            succ_start[e.from + 1] += 1;
        }
        for i in 0..n {
            succ_start[i + 1] += succ_start[i];
        }
        let mut fill = succ_start.clone();
        let mut succ = vec![0usize; self.edges.len()];
        for e in &self.edges {
            succ[fill[e.from]] = e.to;
            fill[e.from] += 1;
        }
        let occupied = |i: usize| self.nodes[i].is_some();
        let mut order: Vec<usize> = (0..n).filter(|&i| occupied(i) && indeg[i] == 0).collect();
        let mut head = 0;
        while head < order.len() {
            let u = order[head];
            head += 1;
            for &v in &succ[succ_start[u]..succ_start[u + 1]] {
                indeg[v] -= 1;
                if indeg[v] == 0 {
                    order.push(v);
                }
            }
        }
        let total = (0..n).filter(|&i| occupied(i)).count();
        if order.len() == total {
            return Ok(order);
        }
        // Walk back along unresolved predecessors until a node repeats: it lies on a cycle.
        let start = (0..n)
            .find(|&i| occupied(i) && indeg[i] > 0)
            .expect("some node is unresolved");
        let mut seen = vec![false; n];
        let mut cur = start;
        while !seen[cur] {
            seen[cur] = true;
            cur = self
                .edges
                .iter()
                .find(|e| e.to == cur && indeg[e.from] > 0)
                .map(|e| e.from)
                .expect("an unresolved node has an unresolved predecessor");
        }
        Err(EngineError::Cycle {
            node: self.node(cur)?.label.clone(),
        })
    }

    /// Validates the graph, prepares unprepared processors (`procs[slot]`), and compiles the plan.
    ///
    /// `procs` must hold the processor of every unprepared processor slot; prepared ones may be `None`.
    pub fn compile(&mut self, procs: &mut [Option<Box<dyn Processor>>]) -> Result<Plan, EngineError> {
        let order = self.order()?;
        let n = self.nodes.len();
        // Incoming edge per (slot, in_port).
        let mut incoming: Vec<Vec<Option<Edge>>> = self
            .nodes
            .iter()
            .map(|d| d.as_ref().map_or(Vec::new(), |d| vec![None; d.n_in]))
            .collect();
        let mut readers = vec![Vec::<usize>::new(); n];
        for e in &self.edges {
            incoming[e.to][e.in_port] = Some(*e);
        }
        for (i, d) in self.nodes.iter().enumerate() {
            if let Some(d) = d {
                readers[i] = vec![0; d.n_out];
            }
        }
        for e in &self.edges {
            readers[e.from][e.out_port] += 1;
        }

        // Channels, preparation, channel checks and latency, in order.
        let mut lat_out = vec![0usize; n];
        for &slot in &order {
            let arriving = incoming[slot]
                .first()
                .copied()
                .flatten()
                .map(|e| self.out_channels(e));
            let desc = self.nodes[slot].as_ref().expect("ordered slots are occupied");
            let prepared = match desc.kind {
                Kind::Input { .. } => Prepared {
                    cfg: self.cfg.with_channels(desc.ext_channels),
                    in_ch: vec![],
                    out_ch: vec![desc.ext_channels],
                    latency: 0,
                },
                Kind::Output { .. } => Prepared {
                    cfg: self.cfg.with_channels(desc.ext_channels),
                    in_ch: vec![desc.ext_channels],
                    out_ch: vec![],
                    latency: 0,
                },
                Kind::Proc => {
                    let cfg = self.cfg.with_channels(arriving.unwrap_or(self.cfg.channels));
                    match &desc.prepared {
                        Some(p) => {
                            if p.cfg.channels != cfg.channels {
                                return Err(EngineError::ChannelMismatch {
                                    at: format!("node '{}' input 0 (prepared for)", desc.label),
                                    expected: p.cfg.channels,
                                    actual: cfg.channels,
                                });
                            }
                            p.clone()
                        }
                        None => {
                            let proc = procs
                                .get_mut(slot)
                                .and_then(Option::as_mut)
                                .expect("every fresh processor slot has its processor");
                            proc.prepare(&cfg)?;
                            Prepared {
                                cfg,
                                in_ch: (0..desc.n_in).map(|p| proc.input_channels(p, &cfg)).collect(),
                                out_ch: (0..desc.n_out).map(|p| proc.output_channels(p, &cfg)).collect(),
                                latency: proc.latency(),
                            }
                        }
                    }
                }
            };
            let mut lat_in = 0;
            for (port, e) in incoming[slot].iter().enumerate() {
                if let Some(e) = e {
                    let actual = self.out_channels(*e);
                    if actual != prepared.in_ch[port] {
                        return Err(EngineError::ChannelMismatch {
                            at: format!("node '{}' input {port}", desc.label),
                            expected: prepared.in_ch[port],
                            actual,
                        });
                    }
                    lat_in = lat_in.max(lat_out[e.from]);
                }
            }
            lat_out[slot] = lat_in + prepared.latency;
            self.nodes[slot]
                .as_mut()
                .expect("ordered slots are occupied")
                .prepared = Some(prepared);
        }

        // Buffers: silent ones first, then a liveness-based allocation in schedule order.
        let mut buffers: Vec<usize> = Vec::new();
        let mut silent: HashMap<usize, usize> = HashMap::new();
        let mut free: HashMap<usize, Vec<usize>> = HashMap::new();
        for &slot in &order {
            let p = self.prepared(slot);
            for (port, e) in incoming[slot].iter().enumerate() {
                if e.is_none() {
                    let ch = p.in_ch[port];
                    silent.entry(ch).or_insert_with(|| {
                        buffers.push(ch);
                        buffers.len() - 1
                    });
                }
            }
        }
        let mut port_buf: Vec<Vec<usize>> = vec![Vec::new(); n];
        let mut remaining = readers.clone();
        let mut ops = Vec::with_capacity(order.len());
        let (mut in_idx, mut out_idx) = (Vec::new(), Vec::new());
        let mut max_outputs = 0;
        let mut latency = 0;
        let mut proc_order = Vec::new();
        for &slot in &order {
            let desc = self.nodes[slot].as_ref().expect("ordered slots are occupied");
            let p = desc.prepared.as_ref().expect("prepared above");
            // Outputs first.
            let mut bufs = Vec::with_capacity(p.out_ch.len());
            for &ch in &p.out_ch {
                let b = free.get_mut(&ch).and_then(Vec::pop).unwrap_or_else(|| {
                    buffers.push(ch);
                    buffers.len() - 1
                });
                bufs.push(b);
            }
            let input_buf = |port: usize| -> usize {
                match incoming[slot][port] {
                    Some(e) => port_buf[e.from][e.out_port],
                    None => silent[&p.in_ch[port]],
                }
            };
            match desc.kind {
                Kind::Input { ext } => ops.push(Op::Input { ext, buf: bufs[0] }),
                Kind::Output { ext } => {
                    ops.push(Op::Output {
                        ext,
                        buf: input_buf(0),
                    });
                    latency = latency.max(lat_out[slot]);
                }
                Kind::Proc => {
                    let i0 = in_idx.len();
                    for port in 0..desc.n_in {
                        in_idx.push(input_buf(port));
                    }
                    let o0 = out_idx.len();
                    out_idx.extend_from_slice(&bufs);
                    max_outputs = max_outputs.max(bufs.len());
                    ops.push(Op::Node {
                        slot,
                        ins: i0..in_idx.len(),
                        outs: o0..out_idx.len(),
                    });
                    proc_order.push(slot);
                }
            }
            // Release inputs whose last reader this was, then outputs nobody reads.
            for e in incoming[slot].iter().flatten() {
                remaining[e.from][e.out_port] -= 1;
                if remaining[e.from][e.out_port] == 0 {
                    let b = port_buf[e.from][e.out_port];
                    free.entry(buffers[b]).or_default().push(b);
                }
            }
            for (port, &b) in bufs.iter().enumerate() {
                if readers[slot][port] == 0 {
                    free.entry(buffers[b]).or_default().push(b);
                }
            }
            port_buf[slot] = bufs;
        }
        let mut ext_in = vec![0; self.n_ext_in];
        let mut ext_out = vec![0; self.n_ext_out];
        for d in self.nodes.iter().flatten() {
            match d.kind {
                Kind::Input { ext } => ext_in[ext] = d.ext_channels,
                Kind::Output { ext } => ext_out[ext] = d.ext_channels,
                Kind::Proc => {}
            }
        }
        Ok(Plan {
            ops,
            in_idx,
            out_idx,
            buffers,
            max_outputs,
            order: proc_order,
            latency,
            ext_in,
            ext_out,
        })
    }

    fn prepared(&self, slot: usize) -> &Prepared {
        self.nodes[slot]
            .as_ref()
            .and_then(|d| d.prepared.as_ref())
            .expect("node prepared before use")
    }

    fn out_channels(&self, e: Edge) -> usize {
        self.prepared(e.from).out_ch[e.out_port]
    }
}
