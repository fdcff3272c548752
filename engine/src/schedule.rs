//! The real-time half of a graph: a compiled schedule with its processors and buffers.
//!
//! # What
//! A [`Schedule`] owns the processors of a graph (in an arena indexed by node slot), a pool of block
//! buffers and the list of operations of a [`Plan`]. [`Schedule::run`] processes one block.
//!
//! # How
//! Each operation copies an external input into its buffer, runs a node, or copies a buffer to an
//! external output. A node's output buffers are swapped (three words each, no copy) into a scratch array
//! so that its [`Outputs`] can borrow them mutably while its [`Inputs`] borrow the pool; the plan guarantees
//! a node never reads a buffer it writes.
//!
//! Per-node cost is measured on one block in every `profile_every` (default 32, starting with the first):
//! the time around `process` is added to the node's [`NodeStatCell`] atomics, which the control side reads
//! without locks. Sampling keeps the two clock reads per node (~25–50 ns each on a VM with a TSC clock
//! source; measured overhead ≈ 13 ns per node per block when every 8th block is timed) out of most blocks.
//!
//! # Real-time safety
//! `run` only indexes preallocated vectors, swaps `Vec` headers, copies samples and stores relaxed atomics:
//! no allocation, lock or system call (`Instant::now` reads the vDSO clock).

use std::sync::Arc;
use std::time::Instant;

use crate::graph::NodeStatCell;
use crate::topology::{Op, Plan};
use crate::{Inputs, Outputs, Processor};

/// Access to the external inputs and outputs of one block.
pub(crate) trait Io {
    /// External input `k` (planar), if present.
    fn input(&self, k: usize) -> Option<&[f32]>;
    /// External output `k` (planar), if present.
    fn output(&mut self, k: usize) -> Option<&mut [f32]>;
}

/// External I/O as caller-provided slices.
pub(crate) struct SliceIo<'a, 'b, 'c> {
    pub inputs: &'a [&'c [f32]],
    pub outputs: &'a mut [&'b mut [f32]],
}

impl Io for SliceIo<'_, '_, '_> {
    fn input(&self, k: usize) -> Option<&[f32]> {
        self.inputs.get(k).copied()
    }
    fn output(&mut self, k: usize) -> Option<&mut [f32]> {
        self.outputs.get_mut(k).map(|s| &mut **s)
    }
}

/// Default profiling period in blocks.
pub(crate) const DEFAULT_PROFILE_EVERY: u32 = 32;

/// A processor in the real-time arena, with its statistics cell.
pub(crate) struct NodeRt {
    pub proc: Box<dyn Processor>,
    pub stat: Arc<NodeStatCell>,
}

/// A compiled, runnable schedule.
pub(crate) struct Schedule {
    pub frames: usize,
    /// Processor arena indexed by node slot.
    pub nodes: Vec<Option<NodeRt>>,
    /// Slots whose processors are moved in from the previous schedule when this one is swapped in.
    pub carry: Vec<usize>,
    ops: Vec<Op>,
    in_idx: Vec<usize>,
    out_idx: Vec<usize>,
    pool: Vec<Vec<f32>>,
    scratch: Vec<Vec<f32>>,
    pub ext_in: Vec<usize>,
    pub ext_out: Vec<usize>,
    pub latency: usize,
    pub order: Vec<usize>,
    pub profile_every: u32,
    block_counter: u32,
}

impl Schedule {
    /// Allocates the buffers of `plan` for blocks of `frames` (control side).
    pub fn new(plan: Plan, frames: usize, nodes: Vec<Option<NodeRt>>, carry: Vec<usize>) -> Self {
        let pool = plan.buffers.iter().map(|&ch| vec![0.0f32; ch * frames]).collect();
        let scratch = (0..plan.max_outputs).map(|_| Vec::new()).collect();
        Self {
            frames,
            nodes,
            carry,
            ops: plan.ops,
            in_idx: plan.in_idx,
            out_idx: plan.out_idx,
            pool,
            scratch,
            ext_in: plan.ext_in,
            ext_out: plan.ext_out,
            latency: plan.latency,
            order: plan.order,
            profile_every: DEFAULT_PROFILE_EVERY,
            block_counter: 0,
        }
    }

    /// Processes one block (real-time safe). See [`crate::Graph::process`] for the I/O layout.
    pub fn run(&mut self, io: &mut dyn Io) {
        let frames = self.frames;
        let profile = self.profile_every != 0 && self.block_counter % self.profile_every == 0;
        self.block_counter = self.block_counter.wrapping_add(1);
        for op in &self.ops {
            match op {
                Op::Input { ext, buf } => {
                    let dst = &mut self.pool[*buf];
                    match io.input(*ext) {
                        Some(src) => {
                            let n = src.len().min(dst.len());
                            dst[..n].copy_from_slice(&src[..n]);
                            dst[n..].fill(0.0);
                        }
                        None => dst.fill(0.0),
                    }
                }
                Op::Output { ext, buf } => {
                    if let Some(dst) = io.output(*ext) {
                        let src = &self.pool[*buf];
                        let n = src.len().min(dst.len());
                        dst[..n].copy_from_slice(&src[..n]);
                        dst[n..].fill(0.0);
                    }
                }
                Op::Node { slot, ins, outs } => {
                    let Some(node) = self.nodes[*slot].as_mut() else {
                        continue;
                    };
                    let outs = &self.out_idx[outs.clone()];
                    for (k, &b) in outs.iter().enumerate() {
                        std::mem::swap(&mut self.pool[b], &mut self.scratch[k]);
                    }
                    {
                        let ins = Inputs::new(&self.pool, &self.in_idx[ins.clone()], frames);
                        let mut o = Outputs::new(&mut self.scratch[..outs.len()], frames);
                        if profile {
                            let t = Instant::now();
                            node.proc.process(&ins, &mut o);
                            node.stat.record(t.elapsed().as_nanos() as u64);
                        } else {
                            node.proc.process(&ins, &mut o);
                        }
                    }
                    for (k, &b) in outs.iter().enumerate() {
                        std::mem::swap(&mut self.pool[b], &mut self.scratch[k]);
                    }
                }
            }
        }
    }

    /// Resets every processor and zeroes the buffers (real-time safe).
    pub fn reset(&mut self) {
        for n in self.nodes.iter_mut().flatten() {
            n.proc.reset();
        }
        for b in &mut self.pool {
            b.fill(0.0);
        }
    }

    /// Number of pool buffers (for tests of buffer reuse).
    pub fn buffer_count(&self) -> usize {
        self.pool.len()
    }
}
