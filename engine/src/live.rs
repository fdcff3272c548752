//! Live graphs: a control-side handle and a real-time runner joined by wait-free queues.
//!
//! # What
//! [`Graph::into_realtime`] splits a graph into a [`GraphController`] (control side: parameter changes,
//! hot edits, statistics) and a [`GraphRunner`] (real-time side: processes blocks). Parameter changes are
//! range-checked on the control side and applied at the start of the next block; the node smooths them.
//! Hot edits ([`GraphEdit`]: add, remove or replace nodes, connect and disconnect ports) are validated and
//! compiled into a new schedule on the control side and swapped in between blocks; the processors of nodes
//! the edit does not touch move into the new schedule with their state. The output fades out over
//! `fade_ms` before the swap and in over `fade_ms` after it (raised-cosine ramps), so no edit clicks.
//!
//! # How
//! Commands travel over an `rtrb` single-producer single-consumer ring (wait-free; Lamport, "Proving the
//! correctness of multiprocess programs", 1977). A new schedule travels as one boxed message; the runner
//! moves the carried-over processors (`Box` moves, no copies) from its current schedule into it and
//! returns the old schedule, with the processors of removed nodes still inside, over a second ring; the
//! controller drops it on the control side (on every call, or with
//! [`GraphController::collect_garbage`]). This is the scheme of Firewheel and fundsp (see
//! `shared/research/engine.md` §1).
//!
//! A true crossfade would need the old and the new schedule to run at once, but both would advance the
//! same carried-over processors; the engine therefore fades the old output out and the new one in (a dip
//! of `2 × fade_ms`), which keeps state intact and is free of discontinuities.
//!
//! # Real-time safety
//! [`GraphRunner::process`] pops commands, moves boxes and pushes the retired schedule: no allocation, no
//! free, no lock, no system call. When the return ring is full the retired schedule is held until it can
//! be sent and further swaps wait.

use rtrb::{Consumer, Producer, RingBuffer};

use crate::graph::{find, node_stats, param_index, proc_desc, Graph, NodeId, NodeStat};
use crate::schedule::{Io, NodeRt, Schedule, SliceIo};
use crate::topology::{Edge, Kind, Topology};
use crate::{DenormalGuard, EngineError, Processor, StreamConfig};

/// Options of [`Graph::into_realtime_with`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LiveOptions {
    /// Capacity of the command ring (parameter changes and edits in flight).
    pub queue_capacity: usize,
    /// Duration of each half of the edit fade (out, then in), in milliseconds; 0 swaps hard.
    pub fade_ms: f32,
}

impl Default for LiveOptions {
    /// 1024 commands, 5 ms fades.
    fn default() -> Self {
        Self {
            queue_capacity: 1024,
            fade_ms: 5.0,
        }
    }
}

enum Command {
    Param { slot: u32, index: u32, value: f32 },
    Swap(Box<Schedule>),
}

/// The real-time half of a live graph: processes blocks, applies parameter commands at block start, swaps
/// in new schedules between blocks (fading out and in over `fade_ms`) and sends retired ones back.
/// Real-time safe: no allocation, free, lock or system call.
pub struct GraphRunner {
    current: Box<Schedule>,
    commands: Consumer<Command>,
    garbage: Producer<Box<Schedule>>,
    held: Option<Box<Schedule>>,
    fade: Box<[f32]>,
    state: Fade,
    ins: Vec<Vec<f32>>,
    outs: Vec<Vec<f32>>,
    cfg: StreamConfig,
    blocks: u64,
    swaps: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fade {
    Steady,
    /// Fading out; `left` samples remain before the swap.
    Out {
        left: usize,
    },
    /// The fade-out is complete; swap at the start of the next block.
    SwapDue,
    /// Fading in; `t` samples since the swap.
    In {
        t: usize,
    },
}

/// The control half of a live graph: range-checked parameter changes, hot edits compiled into new
/// schedules ([`GraphController::edit`]), statistics, and dropping what the runner sends back.
pub struct GraphController {
    topo: Topology,
    order: Vec<usize>,
    latency: usize,
    commands: Producer<Command>,
    garbage: Consumer<Box<Schedule>>,
    capacity: usize,
}

impl std::fmt::Debug for GraphController {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphController")
            .field("nodes", &self.order.len())
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for GraphRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphRunner")
            .field("blocks", &self.blocks)
            .finish_non_exhaustive()
    }
}

impl Graph {
    /// Splits the graph into a control handle and a real-time runner with default [`LiveOptions`].
    pub fn into_realtime(self) -> (GraphController, GraphRunner) {
        self.into_realtime_with(LiveOptions::default())
    }

    /// Splits the graph into a control handle and a real-time runner.
    pub fn into_realtime_with(self, opts: LiveOptions) -> (GraphController, GraphRunner) {
        let cap = opts.queue_capacity.max(2);
        let (cmd_tx, cmd_rx) = RingBuffer::new(cap);
        let (gc_tx, gc_rx) = RingBuffer::new(cap);
        let cfg = self.topo.cfg;
        let fade_len = cfg.frames_for_ms(f64::from(opts.fade_ms.max(0.0)));
        let fade: Box<[f32]> = (0..=fade_len)
            .map(|k| {
                let x = k as f64 / fade_len.max(1) as f64;
                (0.5 - 0.5 * (std::f64::consts::PI * x).cos()) as f32
            })
            .collect();
        let frames = cfg.block_frames;
        let ins = self
            .schedule
            .ext_in
            .iter()
            .map(|c| vec![0.0; c * frames])
            .collect();
        let outs = self
            .schedule
            .ext_out
            .iter()
            .map(|c| vec![0.0; c * frames])
            .collect();
        let controller = GraphController {
            order: self.schedule.order.clone(),
            latency: self.schedule.latency,
            topo: self.topo,
            commands: cmd_tx,
            garbage: gc_rx,
            capacity: cap,
        };
        let runner = GraphRunner {
            current: self.schedule,
            commands: cmd_rx,
            garbage: gc_tx,
            held: None,
            fade,
            state: Fade::Steady,
            ins,
            outs,
            cfg,
            blocks: 0,
            swaps: 0,
        };
        (controller, runner)
    }
}

impl GraphRunner {
    /// Processes one block, after applying the commands that have arrived (see [`Graph::process`] for the
    /// I/O layout). Real-time safe.
    pub fn process(&mut self, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        let _ftz = DenormalGuard::new();
        self.run(&mut SliceIo { inputs, outputs });
    }

    /// Processes one block using the runner's own I/O buffers ([`GraphRunner::input_mut`],
    /// [`GraphRunner::output`]); this is what the scheduler's [`crate::Task::tick`] does.
    pub fn process_internal(&mut self) {
        let _ftz = DenormalGuard::new();
        // `run` needs `self` mutably, so move the buffers out for the block (no allocation: an empty
        // `Vec` takes their place).
        let ins = std::mem::take(&mut self.ins);
        let mut outs = std::mem::take(&mut self.outs);
        self.run(&mut OwnIo {
            ins: &ins,
            outs: &mut outs,
        });
        self.ins = ins;
        self.outs = outs;
    }

    /// The runner's own buffer for external input `k` (planar), read by [`GraphRunner::process_internal`].
    pub fn input_mut(&mut self, k: usize) -> Option<&mut [f32]> {
        self.ins.get_mut(k).map(Vec::as_mut_slice)
    }

    /// The runner's own buffer for external output `k`, written by [`GraphRunner::process_internal`].
    pub fn output(&self, k: usize) -> Option<&[f32]> {
        self.outs.get(k).map(Vec::as_slice)
    }

    /// The configuration the graph runs at.
    pub fn config(&self) -> StreamConfig {
        self.cfg
    }

    /// Latency of the schedule now running, in frames.
    pub fn latency(&self) -> usize {
        self.current.latency
    }

    /// Blocks processed so far.
    pub fn blocks(&self) -> u64 {
        self.blocks
    }

    /// Measures node cost on one block in every `every` (0 switches measuring off; default 32); kept
    /// across swaps.
    pub fn set_profile_every(&mut self, every: u32) {
        self.current.profile_every = every;
    }

    /// Schedules swapped in so far.
    pub fn swaps(&self) -> u64 {
        self.swaps
    }

    fn run(&mut self, io: &mut dyn Io) {
        self.drain();
        self.current.run(io);
        self.apply_fade(io);
        self.blocks += 1;
    }

    /// Applies commands until the queue is empty or a swap must wait for the fade.
    fn drain(&mut self) {
        if let Some(old) = self.held.take() {
            if let Err(rtrb::PushError::Full(old)) = self.garbage.push(old) {
                self.held = Some(old);
            }
        }
        loop {
            match self.commands.peek() {
                Err(_) => break,
                Ok(Command::Param { slot, index, value }) => {
                    let (slot, index, value) = (*slot as usize, *index as usize, *value);
                    if let Some(Some(n)) = self.current.nodes.get_mut(slot) {
                        n.proc.set_param(index, value);
                    }
                    let _ = self.commands.pop();
                }
                Ok(Command::Swap(_)) => {
                    if self.held.is_some() {
                        break;
                    }
                    match self.state {
                        // Start fading only when the retired schedule can be sent back at the swap.
                        Fade::Steady if self.fade.len() > 1 && self.garbage.slots() > 0 => {
                            let b = self.current.frames;
                            let f = self.fade.len() - 1;
                            self.state = Fade::Out {
                                left: f.div_ceil(b) * b,
                            };
                            break;
                        }
                        Fade::Steady if self.fade.len() > 1 => break,
                        Fade::Steady | Fade::SwapDue => {
                            self.swap();
                            self.state = if self.fade.len() > 1 {
                                Fade::In { t: 0 }
                            } else {
                                Fade::Steady
                            };
                        }
                        Fade::Out { .. } | Fade::In { .. } => break,
                    }
                }
            }
        }
    }

    fn swap(&mut self) {
        let Ok(Command::Swap(mut next)) = self.commands.pop() else {
            return;
        };
        let old = &mut self.current;
        for &slot in &next.carry {
            if let (Some(dst), Some(src)) = (next.nodes.get_mut(slot), old.nodes.get_mut(slot)) {
                // `dst` is `None` (the controller leaves carried slots empty), so nothing is dropped here.
                *dst = src.take();
            }
        }
        next.profile_every = old.profile_every;
        let old = std::mem::replace(&mut self.current, next);
        if let Err(rtrb::PushError::Full(old)) = self.garbage.push(old) {
            self.held = Some(old);
        }
        self.swaps += 1;
    }

    fn apply_fade(&mut self, io: &mut dyn Io) {
        let b = self.current.frames;
        let f = self.fade.len() - 1;
        match self.state {
            Fade::Steady => {}
            Fade::SwapDue => {
                // The swap could not happen (cannot occur: fading starts only with room to retire the old
                // schedule); stay silent rather than jump back to full level.
                for k in 0..self.current.ext_out.len() {
                    if let Some(out) = io.output(k) {
                        out.fill(0.0);
                    }
                }
            }
            Fade::Out { left } => {
                for k in 0..self.current.ext_out.len() {
                    if let Some(out) = io.output(k) {
                        for ch in out.chunks_mut(b) {
                            for (j, s) in ch.iter_mut().enumerate() {
                                // `left - j` samples remain including this one; the last one gets 0.
                                *s *= self.fade[(left - j - 1).min(f)];
                            }
                        }
                    }
                }
                self.state = if left > b {
                    Fade::Out { left: left - b }
                } else {
                    Fade::SwapDue
                };
            }
            Fade::In { t } => {
                for k in 0..self.current.ext_out.len() {
                    if let Some(out) = io.output(k) {
                        for ch in out.chunks_mut(b) {
                            for (j, s) in ch.iter_mut().enumerate() {
                                *s *= self.fade[(t + j).min(f)];
                            }
                        }
                    }
                }
                self.state = if t + b >= f {
                    Fade::Steady
                } else {
                    Fade::In { t: t + b }
                };
            }
        }
    }
}

struct OwnIo<'a> {
    ins: &'a [Vec<f32>],
    outs: &'a mut [Vec<f32>],
}

impl Io for OwnIo<'_> {
    fn input(&self, k: usize) -> Option<&[f32]> {
        self.ins.get(k).map(Vec::as_slice)
    }
    fn output(&mut self, k: usize) -> Option<&mut [f32]> {
        self.outs.get_mut(k).map(Vec::as_mut_slice)
    }
}

impl GraphController {
    /// Sends a parameter change for node `id` (checked against the node's [`crate::ParamInfo`] range);
    /// it takes effect at the start of the runner's next block.
    ///
    /// Errors: [`EngineError::UnknownNodeId`], [`EngineError::BadParam`], [`EngineError::Capacity`] when
    /// the command ring is full.
    pub fn set_param(&mut self, id: NodeId, param: &str, value: f32) -> Result<(), EngineError> {
        self.collect_garbage();
        let index = param_index(&self.topo, id, param, value)?;
        let cmd = Command::Param {
            slot: id.0,
            index: index as u32,
            value,
        };
        self.commands.push(cmd).map_err(|_| EngineError::Capacity {
            what: "command queue",
            limit: self.capacity,
        })
    }

    /// Starts a hot edit; nothing changes until [`GraphEdit::commit`].
    pub fn edit(&mut self) -> GraphEdit<'_> {
        GraphEdit {
            topo: self.topo.clone(),
            fresh: Vec::new(),
            ctl: self,
        }
    }

    /// Drops retired schedules and removed processors sent back by the runner; returns how many
    /// schedules were dropped.
    pub fn collect_garbage(&mut self) -> usize {
        let mut n = 0;
        while let Ok(old) = self.garbage.pop() {
            drop(old);
            n += 1;
        }
        n
    }

    /// Commands sent but not yet taken by the runner.
    pub fn pending(&self) -> usize {
        self.capacity - self.commands.slots()
    }

    /// True when the runner has been dropped.
    pub fn is_disconnected(&self) -> bool {
        self.commands.is_abandoned()
    }

    /// The configuration the graph runs at.
    pub fn config(&self) -> StreamConfig {
        self.topo.cfg
    }

    /// Latency of the last committed schedule, in frames.
    pub fn latency(&self) -> usize {
        self.latency
    }

    /// Measured cost of every processor node of the last committed schedule, in schedule order.
    pub fn node_stats(&self) -> Vec<NodeStat> {
        node_stats(&self.topo, &self.order)
    }

    /// The first node labelled `label`.
    pub fn find(&self, label: &str) -> Option<NodeId> {
        find(&self.topo, label)
    }

    /// Processor nodes in schedule order.
    pub fn nodes(&self) -> Vec<NodeId> {
        self.order.iter().map(|&s| NodeId::from_slot(s)).collect()
    }
}

/// A hot edit of a live graph: a transaction started with [`GraphController::edit`].
///
/// The edit works on a copy of the topology; [`GraphEdit::commit`] validates and compiles it and sends the
/// new schedule. Dropping an edit without committing discards it.
pub struct GraphEdit<'a> {
    ctl: &'a mut GraphController,
    topo: Topology,
    fresh: Vec<(usize, Box<dyn Processor>)>,
}

impl std::fmt::Debug for GraphEdit<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphEdit")
            .field("fresh", &self.fresh.len())
            .finish_non_exhaustive()
    }
}

impl GraphEdit<'_> {
    /// Adds a processor node (prepared at commit with the channel count arriving at its input 0).
    pub fn add_node(&mut self, label: &str, p: Box<dyn Processor>) -> NodeId {
        let slot = self.topo.insert(proc_desc(label, p.as_ref()));
        self.fresh.retain(|(s, _)| *s != slot);
        self.fresh.push((slot, p));
        NodeId::from_slot(slot)
    }

    /// Removes a processor node and its edges (external inputs and outputs cannot be removed).
    pub fn remove_node(&mut self, id: NodeId) -> Result<(), EngineError> {
        self.check_proc(id)?;
        self.topo.remove(id.index())?;
        self.fresh.retain(|(s, _)| *s != id.index());
        Ok(())
    }

    /// Replaces a processor node by `p`, keeping its id, label and edges (the new node starts fresh).
    pub fn replace_node(&mut self, id: NodeId, p: Box<dyn Processor>) -> Result<(), EngineError> {
        self.check_proc(id)?;
        let slot = id.index();
        let label = self.topo.node(slot)?.label.clone();
        let desc = proc_desc(&label, p.as_ref());
        for e in self.topo.edges.iter() {
            let bad = |port, dir, available| EngineError::UnknownPort {
                node: label.clone(),
                direction: dir,
                port,
                available,
            };
            if e.to == slot && e.in_port >= desc.n_in {
                return Err(bad(e.in_port, "input", desc.n_in));
            }
            if e.from == slot && e.out_port >= desc.n_out {
                return Err(bad(e.out_port, "output", desc.n_out));
            }
        }
        self.topo.nodes[slot] = Some(desc);
        self.fresh.retain(|(s, _)| *s != slot);
        self.fresh.push((slot, p));
        Ok(())
    }

    /// Connects `from`'s output `out_port` to `to`'s input `in_port` (which must be free).
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

    /// Disconnects whatever drives `to`'s input `in_port`; returns whether an edge was removed.
    pub fn disconnect(&mut self, to: NodeId, in_port: usize) -> Result<bool, EngineError> {
        self.topo.node(to.index())?;
        Ok(self.topo.disconnect(to.index(), in_port))
    }

    /// Validates and compiles the edited graph, prepares the new nodes and sends the schedule to the
    /// runner, which swaps it in between blocks. On error nothing changes.
    ///
    /// Errors: the validation errors of [`crate::GraphBuilder::build`], or [`EngineError::Capacity`] when
    /// the command ring is full.
    pub fn commit(mut self) -> Result<(), EngineError> {
        self.ctl.collect_garbage();
        if self.ctl.commands.slots() == 0 {
            return Err(EngineError::Capacity {
                what: "command queue",
                limit: self.ctl.capacity,
            });
        }
        let n = self.topo.nodes.len();
        let mut procs: Vec<Option<Box<dyn Processor>>> = (0..n).map(|_| None).collect();
        let mut is_fresh = vec![false; n];
        for (slot, p) in self.fresh.drain(..) {
            is_fresh[slot] = true;
            procs[slot] = Some(p);
        }
        let plan = self.topo.compile(&mut procs)?;
        let mut carry = Vec::new();
        let mut nodes: Vec<Option<NodeRt>> = Vec::with_capacity(n);
        for (slot, p) in procs.into_iter().enumerate() {
            let desc = self.topo.nodes[slot].as_ref();
            match (desc, p) {
                (Some(d), Some(proc)) => nodes.push(Some(NodeRt {
                    proc,
                    stat: d.stat.clone(),
                })),
                (Some(d), None) if d.kind == Kind::Proc && !is_fresh[slot] => {
                    carry.push(slot);
                    nodes.push(None);
                }
                _ => nodes.push(None),
            }
        }
        let order = plan.order.clone();
        let latency = plan.latency;
        let schedule = Box::new(Schedule::new(plan, self.topo.cfg.block_frames, nodes, carry));
        self.ctl
            .commands
            .push(Command::Swap(schedule))
            .map_err(|_| EngineError::Capacity {
                what: "command queue",
                limit: self.ctl.capacity,
            })?;
        self.ctl.topo = self.topo;
        self.ctl.order = order;
        self.ctl.latency = latency;
        Ok(())
    }

    fn check_proc(&self, id: NodeId) -> Result<(), EngineError> {
        match self.topo.node(id.index())?.kind {
            Kind::Proc => Ok(()),
            _ => Err(EngineError::BadEdit {
                detail: format!("node {id} is an external input or output of a running graph"),
            }),
        }
    }
}
