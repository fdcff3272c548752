//! The [`Processor`] contract and the block views it works on.
//!
//! # What
//! A processor is one node of a graph: it has a number of input and output *ports*, each carrying one
//! block of planar `f32` audio (channel after channel, `frames` samples each).
//!
//! # How
//! `prepare(&StreamConfig)` is the only method that may allocate: it sizes every buffer the processor needs.
//! `process` then reads [`Inputs`] and writes [`Outputs`] for one block; it is infallible and must not
//! allocate, lock, log or make system calls. `reset` clears state (delay lines, filter memories) without
//! allocating; `latency` reports the processor's algorithmic delay in frames.
//!
//! Run-time parameters are described by [`Processor::params`] and changed by [`Processor::set_param`], which
//! the graph calls on the real-time side when a command from a control handle arrives; processors smooth
//! the change (see [`crate::Smoothed`]).
//!
//! # Real-time safety
//! [`Inputs`], [`Outputs`], [`AudioRef`] and [`AudioMut`] are borrowed views; building them never allocates.
//! Out-of-range port or channel indices are bugs in the graph and panic with a message.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::{EngineError, ParamInfo, StreamConfig};

/// Read-only view of one port's block: planar channels of `frames` samples.
#[derive(Debug, Clone, Copy)]
pub struct AudioRef<'a> {
    data: &'a [f32],
    frames: usize,
}

impl<'a> AudioRef<'a> {
    /// A view of `data`, which holds `data.len() / frames` planar channels.
    pub fn new(data: &'a [f32], frames: usize) -> Self {
        debug_assert!(
            frames > 0 && data.len() % frames == 0,
            "buffer is not whole channels"
        );
        Self { data, frames }
    }

    /// Number of channels.
    pub fn channels(&self) -> usize {
        self.data.len() / self.frames.max(1)
    }

    /// Frames per channel.
    pub fn frames(&self) -> usize {
        self.frames
    }

    /// Samples of channel `c`.
    pub fn channel(&self, c: usize) -> &'a [f32] {
        &self.data[c * self.frames..(c + 1) * self.frames]
    }

    /// All samples, channel after channel.
    pub fn as_slice(&self) -> &'a [f32] {
        self.data
    }
}

/// Writable view of one port's block: planar channels of `frames` samples.
#[derive(Debug)]
pub struct AudioMut<'a> {
    data: &'a mut [f32],
    frames: usize,
}

impl<'a> AudioMut<'a> {
    /// A view of `data`, which holds `data.len() / frames` planar channels.
    pub fn new(data: &'a mut [f32], frames: usize) -> Self {
        debug_assert!(
            frames > 0 && data.len() % frames == 0,
            "buffer is not whole channels"
        );
        Self { data, frames }
    }

    /// Number of channels.
    pub fn channels(&self) -> usize {
        self.data.len() / self.frames.max(1)
    }

    /// Frames per channel.
    pub fn frames(&self) -> usize {
        self.frames
    }

    /// Samples of channel `c`.
    pub fn channel(&self, c: usize) -> &[f32] {
        &self.data[c * self.frames..(c + 1) * self.frames]
    }

    /// Writable samples of channel `c`.
    pub fn channel_mut(&mut self, c: usize) -> &mut [f32] {
        &mut self.data[c * self.frames..(c + 1) * self.frames]
    }

    /// All channels at once, for processors that need them together (e.g. stereo linking).
    pub fn channels_mut(&mut self) -> std::slice::ChunksExactMut<'_, f32> {
        self.data.chunks_exact_mut(self.frames)
    }

    /// All samples, channel after channel.
    pub fn as_mut_slice(&mut self) -> &mut [f32] {
        self.data
    }

    /// Sets every sample to zero.
    pub fn fill_zero(&mut self) {
        self.data.fill(0.0);
    }

    /// Copies `src` (same shape) into this block.
    pub fn copy_from(&mut self, src: &AudioRef<'_>) {
        self.data.copy_from_slice(src.as_slice());
    }
}

/// The input ports of a node for one block.
///
/// Port `i` is `pool[index[i]]`; the graph points unconnected inputs at a silent buffer.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    pool: &'a [Vec<f32>],
    index: &'a [usize],
    frames: usize,
}

impl<'a> Inputs<'a> {
    /// Inputs whose port `i` is `pool[index[i]]`, each holding whole channels of `frames` samples.
    pub fn new(pool: &'a [Vec<f32>], index: &'a [usize], frames: usize) -> Self {
        Self { pool, index, frames }
    }

    /// Number of input ports.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// True when the node has no inputs.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Frames per channel.
    pub fn frames(&self) -> usize {
        self.frames
    }

    /// Port `i`.
    pub fn port(&self, i: usize) -> AudioRef<'a> {
        AudioRef::new(&self.pool[self.index[i]], self.frames)
    }
}

/// The output ports of a node for one block.
#[derive(Debug)]
pub struct Outputs<'a> {
    bufs: &'a mut [Vec<f32>],
    frames: usize,
}

impl<'a> Outputs<'a> {
    /// Outputs whose port `i` is `bufs[i]`, each holding whole channels of `frames` samples.
    pub fn new(bufs: &'a mut [Vec<f32>], frames: usize) -> Self {
        Self { bufs, frames }
    }

    /// Number of output ports.
    pub fn len(&self) -> usize {
        self.bufs.len()
    }

    /// True when the node has no outputs.
    pub fn is_empty(&self) -> bool {
        self.bufs.is_empty()
    }

    /// Frames per channel.
    pub fn frames(&self) -> usize {
        self.frames
    }

    /// Port `i`.
    pub fn port(&mut self, i: usize) -> AudioMut<'_> {
        AudioMut::new(&mut self.bufs[i], self.frames)
    }
}

/// Named statistics that a processor publishes from the real-time side and the control side reads
/// without locks (each value is an `f64` stored in an atomic).
#[derive(Debug)]
pub struct Meters {
    names: &'static [&'static str],
    values: Box<[AtomicU64]>,
}

impl Meters {
    /// Meters with one slot per name, all zero.
    pub fn new(names: &'static [&'static str]) -> Arc<Self> {
        Arc::new(Self {
            names,
            values: names.iter().map(|_| AtomicU64::new(0f64.to_bits())).collect(),
        })
    }

    /// Publishes slot `i` (real-time safe: one relaxed atomic store).
    #[inline]
    pub fn set(&self, i: usize, v: f64) {
        self.values[i].store(v.to_bits(), Ordering::Relaxed);
    }

    /// Reads slot `i`.
    pub fn get(&self, i: usize) -> f64 {
        f64::from_bits(self.values[i].load(Ordering::Relaxed))
    }

    /// Slot names.
    pub fn names(&self) -> &'static [&'static str] {
        self.names
    }

    /// All slots as (name, value) pairs (allocates; control side only).
    pub fn snapshot(&self) -> Vec<(&'static str, f64)> {
        self.names
            .iter()
            .enumerate()
            .map(|(i, n)| (*n, self.get(i)))
            .collect()
    }
}

/// One node's audio processing.
///
/// `prepare` is the only method that may allocate; `process` is infallible and real-time safe (no
/// allocation, lock, log or system call); `reset` clears state without allocating; `latency` is in frames;
/// parameters are described by `params` and set (already range-checked) by `set_param`, smoothed.
pub trait Processor: Send {
    /// The node type's name (as in chain specs), for errors and statistics.
    fn name(&self) -> &'static str;

    /// Number of input ports (default 1).
    fn num_inputs(&self) -> usize {
        1
    }

    /// Number of output ports (default 1).
    fn num_outputs(&self) -> usize {
        1
    }

    /// Channels that input `port` expects when the node runs at `cfg` (default: `cfg.channels`).
    fn input_channels(&self, _port: usize, cfg: &StreamConfig) -> usize {
        cfg.channels
    }

    /// Channels that output `port` produces when the node runs at `cfg` (default: `cfg.channels`).
    fn output_channels(&self, _port: usize, cfg: &StreamConfig) -> usize {
        cfg.channels
    }

    /// Sizes all state for `cfg`. The only method that may allocate. `cfg.channels` is the channel
    /// count of input port 0.
    fn prepare(&mut self, cfg: &StreamConfig) -> Result<(), EngineError>;

    /// Processes one block. Infallible and real-time safe.
    fn process(&mut self, inputs: &Inputs<'_>, outputs: &mut Outputs<'_>);

    /// Clears all signal state (as if freshly prepared) without allocating.
    fn reset(&mut self);

    /// Algorithmic latency in frames at the prepared configuration.
    fn latency(&self) -> usize {
        0
    }

    /// The run-time parameters this node accepts.
    fn params(&self) -> &'static [ParamInfo] {
        &[]
    }

    /// Sets parameter `index` (into [`Processor::params`]) to `value`, already range-checked.
    /// Called on the real-time side; must not allocate. Changes are smoothed by the processor.
    fn set_param(&mut self, _index: usize, _value: f32) {}

    /// Statistics the node publishes (e.g. an AEC's ERLE), read on the control side.
    fn meters(&self) -> Option<Arc<Meters>> {
        None
    }
}

/// Runs `proc` offline over whole signals, block by block (allocates; for tests and tools, not the
/// real-time path).
///
/// `inputs[port][channel]` are full-length signals (all of the same length); the result is
/// `outputs[port][channel]` of the same length, cut into `cfg.block_frames` blocks (the last block is
/// zero-padded and the padding dropped from the result).
pub fn render_offline(
    proc: &mut dyn Processor,
    cfg: &StreamConfig,
    inputs: &[Vec<Vec<f32>>],
) -> Result<Vec<Vec<Vec<f32>>>, EngineError> {
    proc.prepare(cfg)?;
    let n = proc.num_inputs();
    let frames = cfg.block_frames;
    let len = inputs.first().and_then(|p| p.first()).map_or(0, Vec::len);
    let in_ch: Vec<usize> = (0..n).map(|p| proc.input_channels(p, cfg)).collect();
    let out_ch: Vec<usize> = (0..proc.num_outputs())
        .map(|p| proc.output_channels(p, cfg))
        .collect();
    let mut pool: Vec<Vec<f32>> = in_ch.iter().map(|c| vec![0.0; c * frames]).collect();
    let index: Vec<usize> = (0..n).collect();
    let mut outs: Vec<Vec<f32>> = out_ch.iter().map(|c| vec![0.0; c * frames]).collect();
    let mut result: Vec<Vec<Vec<f32>>> = out_ch.iter().map(|c| vec![Vec::with_capacity(len); *c]).collect();
    let mut pos = 0;
    while pos < len {
        let take = frames.min(len - pos);
        for (p, buf) in pool.iter_mut().enumerate() {
            buf.fill(0.0);
            for c in 0..in_ch[p] {
                if let Some(sig) = inputs.get(p).and_then(|port| port.get(c)) {
                    buf[c * frames..c * frames + take].copy_from_slice(&sig[pos..pos + take]);
                }
            }
        }
        {
            let ins = Inputs::new(&pool, &index, frames);
            let mut o = Outputs::new(&mut outs, frames);
            proc.process(&ins, &mut o);
        }
        for (p, buf) in outs.iter().enumerate() {
            for c in 0..out_ch[p] {
                result[p][c].extend_from_slice(&buf[c * frames..c * frames + take]);
            }
        }
        pos += take;
    }
    Ok(result)
}
