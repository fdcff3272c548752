//! [`Engine`]: a processing graph packaged for embedding (interleaved frames in and out, a far-end FIFO,
//! parameters by `node.param` name, statistics). The C ABI wraps it one to one.
//!
//! # What
//! An engine runs a chain (`hpf,aec,ns,agc`) or a graph file at one [`StreamConfig`]. The host hands it
//! interleaved `i16` or `f32` near-end frames, any whole number of engine blocks per call, and gets the
//! processed frames back (in place or into another buffer). Far-end frames (what the host plays out, for
//! the echo canceller) are pushed into a FIFO and consumed block by block in step with the near-end.
//!
//! # How
//! Each block is de-interleaved into preallocated planar buffers, run through [`Graph::process`], and
//! interleaved back. `i16` maps to `f32` as `x / 32768`, and back with rounding and saturation. The far-end
//! FIFO is a ring of one second of frames: a push that would overflow drops the oldest frames, a block
//! that finds too few frames reads silence for the rest; both are counted in [`EngineStats`].
//!
//! # Real-time safety
//! Creation allocates. [`Engine::process`], [`Engine::process_in_place`], [`Engine::push_far`],
//! [`Engine::set_param`], [`Engine::meter`] and [`Engine::stats`] allocate nothing, take no lock and make
//! no system call on success (proved by `tutti/tests/capi_alloc.rs`); errors allocate their message.
//! [`Engine::node_stats`] allocates (control side).

use tutti_engine::{NodeType, StreamConfig};

use super::build::{self, Built, NodeInfo};
use super::EmbedError;

/// A sample format the engine exchanges with its host.
pub trait Sample: Copy + Default + Send + 'static {
    /// Converts to the engine's `f32` (full scale ±1).
    fn to_f32(self) -> f32;
    /// Converts from the engine's `f32` (saturating).
    fn from_f32(x: f32) -> Self;
}

impl Sample for f32 {
    #[inline]
    fn to_f32(self) -> f32 {
        self
    }
    #[inline]
    fn from_f32(x: f32) -> Self {
        x
    }
}

impl Sample for i16 {
    #[inline]
    fn to_f32(self) -> f32 {
        f32::from(self) / 32768.0
    }
    #[inline]
    fn from_f32(x: f32) -> Self {
        // `as` saturates and maps NaN to 0.
        (x * 32768.0).round().clamp(-32768.0, 32767.0) as i16
    }
}

/// Counters and configuration of an [`Engine`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EngineStats {
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Channels of the near-end (and far-end) input.
    pub input_channels: u32,
    /// Channels of the output.
    pub output_channels: u32,
    /// Frames per engine block.
    pub block_frames: u32,
    /// Algorithmic latency of the graph in frames.
    pub latency_frames: u32,
    /// Whether the engine takes a far-end signal.
    pub has_far: bool,
    /// Blocks processed.
    pub blocks: u64,
    /// Frames pushed to the far-end FIFO.
    pub far_pushed_frames: u64,
    /// Far-end frames dropped because the FIFO was full (oldest first).
    pub far_dropped_frames: u64,
    /// Far-end frames read as silence because the FIFO ran empty.
    pub far_underrun_frames: u64,
    /// Far-end frames waiting in the FIFO.
    pub far_queued_frames: u64,
}

/// One node's measured cost (see [`tutti_engine::NodeStat`]).
#[derive(Debug, Clone, PartialEq)]
pub struct NodeCost {
    /// Node label (`node` of `node.param`).
    pub label: String,
    /// Node type name.
    pub type_name: &'static str,
    /// Mean nanoseconds per block (measured on one block in 32).
    pub ns_per_block: f64,
    /// Blocks the mean is taken over.
    pub blocks_measured: u64,
}

/// Interleaved ring of far-end frames.
struct FarFifo {
    buf: Vec<f32>,
    channels: usize,
    capacity: usize,
    read: usize,
    len: usize,
}

impl FarFifo {
    fn new(capacity_frames: usize, channels: usize) -> Self {
        Self {
            buf: vec![0.0; capacity_frames * channels],
            channels,
            capacity: capacity_frames,
            read: 0,
            len: 0,
        }
    }

    /// Pushes interleaved frames; returns how many old frames were dropped to make room.
    fn push<S: Sample>(&mut self, frames: &[S]) -> usize {
        let ch = self.channels;
        let n = frames.len() / ch;
        // Only the newest `capacity` frames can survive.
        let skip = n.saturating_sub(self.capacity);
        let keep = n - skip;
        let dropped_old = (self.len + keep).saturating_sub(self.capacity);
        self.read = (self.read + dropped_old) % self.capacity;
        self.len -= dropped_old;
        let mut w = (self.read + self.len) % self.capacity;
        for f in frames[skip * ch..].chunks_exact(ch) {
            for (c, s) in f.iter().enumerate() {
                self.buf[w * ch + c] = s.to_f32();
            }
            w += 1;
            if w == self.capacity {
                w = 0;
            }
        }
        self.len += keep;
        skip + dropped_old
    }

    /// Pops up to `frames` frames into planar `out` (`channels` × `frames`), zero-filling the rest;
    /// returns the number of frames that were missing.
    fn pop_planar(&mut self, out: &mut [f32], frames: usize) -> usize {
        let ch = self.channels;
        let take = frames.min(self.len);
        for i in 0..take {
            let r = (self.read + i) % self.capacity;
            for c in 0..ch {
                out[c * frames + i] = self.buf[r * ch + c];
            }
        }
        for c in 0..ch {
            out[c * frames + take..(c + 1) * frames].fill(0.0);
        }
        self.read = (self.read + take) % self.capacity;
        self.len -= take;
        frames - take
    }

    fn clear(&mut self) {
        self.read = 0;
        self.len = 0;
    }
}

/// A processing graph packaged for embedding (see the module docs).
pub struct Engine {
    graph: tutti_engine::Graph,
    cfg: StreamConfig,
    out_channels: usize,
    has_far: bool,
    nodes: Vec<NodeInfo>,
    /// (node index, meter slot) of every meter, in node order.
    meters: Vec<(usize, usize)>,
    near: Vec<f32>,
    far: Vec<f32>,
    out: Vec<f32>,
    fifo: FarFifo,
    stats: EngineStats,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("config", &self.cfg)
            .field("nodes", &self.nodes.len())
            .finish_non_exhaustive()
    }
}

fn config(sample_rate: u32, channels: usize, block_frames: usize) -> Result<StreamConfig, EmbedError> {
    StreamConfig::with_frames(sample_rate, channels, block_frames).map_err(|e| EmbedError::Config {
        detail: e.to_string(),
    })
}

impl Engine {
    /// An engine running the chain `spec` (e.g. `"hpf,aec,ns,agc"`) over `channels` channels at
    /// `sample_rate` Hz in blocks of `block_frames` frames, with the node types of
    /// [`crate::registry::node_types`].
    pub fn from_chain(
        spec: &str,
        sample_rate: u32,
        channels: usize,
        block_frames: usize,
    ) -> Result<Self, EmbedError> {
        Self::from_chain_with(
            spec,
            &crate::registry::node_types(),
            sample_rate,
            channels,
            block_frames,
        )
    }

    /// As [`Engine::from_chain`], with the node types `types`.
    pub fn from_chain_with(
        spec: &str,
        types: &[NodeType],
        sample_rate: u32,
        channels: usize,
        block_frames: usize,
    ) -> Result<Self, EmbedError> {
        let cfg = config(sample_rate, channels, block_frames)?;
        Ok(Self::new(build::from_chain(spec, types, cfg)?, cfg))
    }

    /// An engine running a graph file's text (see [`crate::graphfile`]): its first input is the
    /// near-end, its second (if any) the far-end, its single output the result.
    pub fn from_graph_toml(
        toml: &str,
        sample_rate: u32,
        channels: usize,
        block_frames: usize,
    ) -> Result<Self, EmbedError> {
        let cfg = config(sample_rate, channels, block_frames)?;
        let types = crate::registry::node_types();
        Ok(Self::new(build::from_graph_file(toml, &types, cfg)?, cfg))
    }

    fn new(b: Built, cfg: StreamConfig) -> Self {
        let meters = b
            .nodes
            .iter()
            .enumerate()
            .flat_map(|(i, n)| {
                let count = n.meters.as_ref().map_or(0, |m| m.names().len());
                (0..count).map(move |slot| (i, slot))
            })
            .collect();
        let frames = cfg.block_frames;
        let stats = EngineStats {
            sample_rate: cfg.sample_rate,
            input_channels: cfg.channels as u32,
            output_channels: b.out_channels as u32,
            block_frames: frames as u32,
            latency_frames: u32::try_from(b.graph.latency()).unwrap_or(u32::MAX),
            has_far: b.has_far,
            ..EngineStats::default()
        };
        Self {
            cfg,
            out_channels: b.out_channels,
            has_far: b.has_far,
            nodes: b.nodes,
            meters,
            near: vec![0.0; cfg.channels * frames],
            far: vec![0.0; cfg.channels * frames],
            out: vec![0.0; b.out_channels * frames],
            fifo: FarFifo::new((cfg.sample_rate as usize).max(4 * frames), cfg.channels),
            graph: b.graph,
            stats,
        }
    }

    /// The stream configuration (rate, input channels, block).
    pub fn config(&self) -> StreamConfig {
        self.cfg
    }

    /// Channels of the output.
    pub fn output_channels(&self) -> usize {
        self.out_channels
    }

    /// Whether the engine takes a far-end signal (a node such as `aec` has a `far` input).
    pub fn has_far(&self) -> bool {
        self.has_far
    }

    /// Number of frames in `samples` interleaved samples of `channels` channels, checked to be whole
    /// engine blocks.
    fn frames_of(&self, samples: usize, channels: usize, what: &'static str) -> Result<usize, EmbedError> {
        let block = self.cfg.block_frames;
        if samples % channels != 0 || (samples / channels) % block != 0 {
            return Err(EmbedError::Frames {
                what,
                samples,
                channels,
                block_frames: block,
            });
        }
        Ok(samples / channels)
    }

    /// Processes interleaved near-end `input` into interleaved `output`: `input` holds whole blocks of
    /// the input channel count, `output` the same number of frames of [`Engine::output_channels`].
    pub fn process<S: Sample>(&mut self, input: &[S], output: &mut [S]) -> Result<(), EmbedError> {
        let frames = self.frames_of(input.len(), self.cfg.channels, "input")?;
        if output.len() != frames * self.out_channels {
            return Err(EmbedError::Frames {
                what: "output",
                samples: output.len(),
                channels: self.out_channels,
                block_frames: self.cfg.block_frames,
            });
        }
        let (ich, och, block) = (self.cfg.channels, self.out_channels, self.cfg.block_frames);
        for (i, o) in input
            .chunks_exact(block * ich)
            .zip(output.chunks_exact_mut(block * och))
        {
            self.load(i);
            self.run_block();
            self.store(o);
        }
        Ok(())
    }

    /// Processes interleaved near-end frames in place (whole blocks; the output must have as many
    /// channels as the input).
    pub fn process_in_place<S: Sample>(&mut self, frames: &mut [S]) -> Result<(), EmbedError> {
        if self.out_channels != self.cfg.channels {
            return Err(EmbedError::Config {
                detail: format!(
                    "in-place processing needs equal channel counts (input {}, output {})",
                    self.cfg.channels, self.out_channels
                ),
            });
        }
        self.frames_of(frames.len(), self.cfg.channels, "buffer")?;
        let step = self.cfg.block_frames * self.cfg.channels;
        for b in frames.chunks_exact_mut(step) {
            self.load(b);
            self.run_block();
            self.store(b);
        }
        Ok(())
    }

    fn load<S: Sample>(&mut self, interleaved: &[S]) {
        let (ch, frames) = (self.cfg.channels, self.cfg.block_frames);
        for (i, f) in interleaved.chunks_exact(ch).enumerate() {
            for (c, s) in f.iter().enumerate() {
                self.near[c * frames + i] = s.to_f32();
            }
        }
    }

    fn store<S: Sample>(&self, interleaved: &mut [S]) {
        let (ch, frames) = (self.out_channels, self.cfg.block_frames);
        for (i, f) in interleaved.chunks_exact_mut(ch).enumerate() {
            for (c, s) in f.iter_mut().enumerate() {
                *s = S::from_f32(self.out[c * frames + i]);
            }
        }
    }

    fn run_block(&mut self) {
        let frames = self.cfg.block_frames;
        let mut outs: [&mut [f32]; 1] = [&mut self.out];
        if self.has_far {
            let missing = self.fifo.pop_planar(&mut self.far, frames);
            self.stats.far_underrun_frames += missing as u64;
            self.graph.process(&[&self.near, &self.far], &mut outs);
        } else {
            self.graph.process(&[&self.near], &mut outs);
        }
        self.stats.blocks += 1;
    }

    /// Pushes interleaved far-end frames (input channel count; any whole number of frames). Errors when
    /// the engine takes no far-end signal.
    pub fn push_far<S: Sample>(&mut self, frames: &[S]) -> Result<(), EmbedError> {
        if !self.has_far {
            return Err(EmbedError::NoFarEnd);
        }
        let ch = self.cfg.channels;
        if frames.len() % ch != 0 {
            return Err(EmbedError::Frames {
                what: "far-end",
                samples: frames.len(),
                channels: ch,
                block_frames: 1,
            });
        }
        let dropped = self.fifo.push(frames);
        self.stats.far_pushed_frames += (frames.len() / ch) as u64;
        self.stats.far_dropped_frames += dropped as u64;
        Ok(())
    }

    fn node(&self, label: &str) -> Result<&NodeInfo, EmbedError> {
        self.nodes
            .iter()
            .find(|n| n.label == label)
            .ok_or_else(|| EmbedError::UnknownName {
                name: label.to_string(),
                known: self.nodes.iter().map(|n| n.label.clone()).collect(),
            })
    }

    /// Sets parameter `name` = `node.param` (e.g. `"ns.level"`) to `value` (range-checked; the node
    /// smooths the change).
    pub fn set_param(&mut self, name: &str, value: f32) -> Result<(), EmbedError> {
        let (node, param) = split_name(name)?;
        let id = self.node(node)?.id;
        self.graph
            .set_param(id, param, value)
            .map_err(|e| EmbedError::Param {
                detail: e.to_string(),
            })
    }

    /// Sets parameter `node.param` from text: a number, or a choice name for enumerated parameters
    /// (e.g. `"ns.level"` = `"high"`).
    pub fn set_param_text(&mut self, name: &str, value: &str) -> Result<(), EmbedError> {
        let (node, param) = split_name(name)?;
        let info = self.node(node)?;
        let p = info
            .params
            .iter()
            .find(|p| p.name == param)
            .ok_or_else(|| EmbedError::Param {
                detail: format!(
                    "{name}: unknown parameter (known: {})",
                    info.params.iter().map(|p| p.name).collect::<Vec<_>>().join(", ")
                ),
            })?;
        let v = p.parse(value).map_err(|e| EmbedError::Param {
            detail: format!("{name}: {e}"),
        })?;
        self.set_param(name, v)
    }

    /// Number of meters over all nodes.
    pub fn meter_count(&self) -> usize {
        self.meters.len()
    }

    /// Meter `index`: (node label, meter name, current value).
    pub fn meter_at(&self, index: usize) -> Option<(&str, &'static str, f64)> {
        let &(n, slot) = self.meters.get(index)?;
        let node = &self.nodes[n];
        let m = node.meters.as_ref()?;
        Some((&node.label, m.names()[slot], m.get(slot)))
    }

    /// The current value of meter `node.meter` (e.g. `"aec.erle_db"`).
    pub fn meter(&self, name: &str) -> Result<f64, EmbedError> {
        let (node, meter) = split_name(name)?;
        let info = self.node(node)?;
        let m = info.meters.as_ref();
        m.and_then(|m| m.names().iter().position(|n| *n == meter).map(|i| m.get(i)))
            .ok_or_else(|| EmbedError::UnknownName {
                name: name.to_string(),
                known: m
                    .map(|m| m.names().iter().map(|n| format!("{node}.{n}")).collect())
                    .unwrap_or_default(),
            })
    }

    /// Counters and configuration.
    pub fn stats(&self) -> EngineStats {
        EngineStats {
            far_queued_frames: self.fifo.len as u64,
            ..self.stats
        }
    }

    /// Number of processor nodes.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Node `index`: (label, type name).
    pub fn node_at(&self, index: usize) -> Option<(&str, &'static str)> {
        self.nodes.get(index).map(|n| (n.label.as_str(), n.type_name))
    }

    /// Measured cost of every node, in node order (allocates; control side).
    pub fn node_stats(&self) -> Vec<NodeCost> {
        let stats = self.graph.node_stats();
        self.nodes
            .iter()
            .map(|n| {
                let s = stats.iter().find(|s| s.id == n.id);
                NodeCost {
                    label: n.label.clone(),
                    type_name: n.type_name,
                    ns_per_block: s.map_or(0.0, |s| s.ns_per_block),
                    blocks_measured: s.map_or(0, |s| s.blocks_measured),
                }
            })
            .collect()
    }

    /// Clears the state of every node and empties the far-end FIFO (counters are kept).
    pub fn reset(&mut self) {
        self.graph.reset();
        self.fifo.clear();
    }
}

fn split_name(name: &str) -> Result<(&str, &str), EmbedError> {
    match name.rsplit_once('.') {
        Some((n, p)) if !n.is_empty() && !p.is_empty() => Ok((n, p)),
        _ => Err(EmbedError::Param {
            detail: format!("'{name}': expected NODE.NAME (e.g. ns.level)"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_wraps_drops_oldest_and_underruns() {
        let mut f = FarFifo::new(4, 1);
        assert_eq!(f.push(&[1.0f32, 2.0, 3.0]), 0);
        let mut out = [9.0f32; 2];
        assert_eq!(f.pop_planar(&mut out, 2), 0);
        assert_eq!(out, [1.0, 2.0]);
        // 1 queued (3.0) + 4 pushed = 5 > 4: the oldest (3.0) is dropped.
        assert_eq!(f.push(&[4.0f32, 5.0, 6.0, 7.0]), 1);
        let mut out = [9.0f32; 6];
        assert_eq!(f.pop_planar(&mut out, 6), 2);
        assert_eq!(out, [4.0, 5.0, 6.0, 7.0, 0.0, 0.0]);
        // A push longer than the ring keeps only its newest frames.
        assert_eq!(f.push(&[1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]), 2);
        let mut out = [0.0f32; 4];
        assert_eq!(f.pop_planar(&mut out, 4), 0);
        assert_eq!(out, [3.0, 4.0, 5.0, 6.0]);
    }

    #[test]
    fn fifo_stereo_is_planar_out() {
        let mut f = FarFifo::new(8, 2);
        f.push(&[1i16, -1, 2, -2]);
        let mut out = [0.0f32; 4];
        assert_eq!(f.pop_planar(&mut out, 2), 0);
        assert_eq!(
            out,
            [1.0 / 32768.0, 2.0 / 32768.0, -1.0 / 32768.0, -2.0 / 32768.0]
        );
    }

    #[test]
    fn i16_conversion_rounds_and_saturates() {
        assert_eq!(i16::from_f32(1.5), 32767);
        assert_eq!(i16::from_f32(-1.5), -32768);
        assert_eq!(i16::from_f32(f32::NAN), 0);
        for v in [-32768i16, -1, 0, 1, 12345, 32767] {
            assert_eq!(i16::from_f32(v.to_f32()), v);
        }
    }

    #[test]
    fn gain_chain_processes_interleaved_stereo() {
        let mut e = Engine::from_chain("gain(db=-6.0206)", 48000, 2, 480).unwrap();
        assert!(!e.has_far());
        let input: Vec<f32> = (0..960 * 2)
            .map(|i| if i % 2 == 0 { 0.5 } else { -0.25 })
            .collect();
        let mut out = vec![0.0f32; input.len()];
        e.process(&input, &mut out).unwrap();
        // The gain node smooths from its construction value, which already is −6 dB.
        for (i, o) in out.iter().enumerate() {
            let want = if i % 2 == 0 { 0.25 } else { -0.125 };
            assert!((o - want).abs() < 1e-4, "sample {i}: {o} vs {want}");
        }
        assert!(matches!(
            e.process(&input[..100], &mut out[..100]),
            Err(EmbedError::Frames { .. })
        ));
        assert!(matches!(e.push_far(&[0.0f32; 2]), Err(EmbedError::NoFarEnd)));
        assert_eq!(e.stats().blocks, 2);
    }

    #[test]
    fn names_are_checked() {
        let mut e = Engine::from_chain("hpf,aec,ns,agc", 16000, 1, 160).unwrap();
        assert!(e.has_far());
        e.set_param_text("ns.level", "high").unwrap();
        e.set_param("hpf.hz", 120.0).unwrap();
        assert!(e.set_param("hpf.hz", 1e9).is_err());
        let err = e.set_param("xyz.q", 1.0).unwrap_err().to_string();
        assert!(err.contains("xyz") && err.contains("hpf, aec, ns, agc"), "{err}");
        assert!(e.set_param("hpf", 1.0).is_err());
        assert_eq!(e.meter("aec.erle_db").unwrap(), 0.0);
        assert!(e
            .meter("aec.nope")
            .unwrap_err()
            .to_string()
            .contains("aec.erle_db"));
        assert!(e.meter_count() > 0);
        let err = Engine::from_chain("resample(rate=8000)", 16000, 1, 160).unwrap_err();
        assert!(err.to_string().contains("rate or duration"), "{err}");
        assert!(Engine::from_chain("hpf", 22050, 1, 160).is_err());
    }
}
