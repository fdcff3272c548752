//! The two real-time halves of a live duplex path: [`InputSink`] (input callback) and [`OutputEngine`]
//! (output callback), joined by a wait-free ring.
//!
//! # What
//! [`build_path`] builds the chain graph for the devices' rate and channel counts and returns the
//! control-side [`GraphController`], the [`InputSink`] that the input callback feeds and the
//! [`OutputEngine`] that fills the output callback's buffer.
//!
//! # How
//! `rtrb` SPSC ring of interleaved input samples (Lamport 1977; wait-free). The output side primes (waits
//! for one engine block plus one device buffer of input), then pulls engine blocks through the
//! [`Rechunker`] and runs the [`tutti_engine::GraphRunner`] on them, far-end = previous output block.
//!
//! # Real-time safety
//! [`InputSink::push`] and [`OutputEngine::render`] copy samples, use the ring and atomics and run the
//! graph runner: no allocation, lock or system call (`tests/live_rt.rs` counts allocations), FTZ on entry.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Instant;

use tutti_engine::{DenormalGuard, GraphController, GraphRunner, NodeType};

use super::{LiveStats, Rechunker};
use crate::chain::NodeSpec;

/// The input-callback half: pushes captured interleaved samples into the ring, counting overruns.
pub struct InputSink {
    prod: rtrb::Producer<f32>,
    stats: Arc<LiveStats>,
    dev_in_ch: usize,
}

/// The output-callback half: runs the engine and fills the device buffer.
pub struct OutputEngine {
    runner: GraphRunner,
    rech: Rechunker,
    cons: rtrb::Consumer<f32>,
    stats: Arc<LiveStats>,
    primed: bool,
    has_far: bool,
    rate: u32,
    dev_in_ch: usize,
    dev_out_ch: usize,
    graph_latency: usize,
}

impl std::fmt::Debug for InputSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InputSink")
            .field("dev_in_ch", &self.dev_in_ch)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for OutputEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutputEngine")
            .field("rate", &self.rate)
            .finish_non_exhaustive()
    }
}

/// What [`build_path`] returns.
#[derive(Debug)]
pub struct Path {
    /// Control side of the graph (parameter changes).
    pub controller: GraphController,
    /// Input-callback half.
    pub input: InputSink,
    /// Output-callback half.
    pub output: OutputEngine,
    /// Shared statistics.
    pub stats: Arc<LiveStats>,
    /// Engine block in frames.
    pub block_frames: usize,
    /// Engine input channels.
    pub channels: usize,
    /// Graph latency in frames.
    pub graph_latency: usize,
}

/// Builds the live path for a chain at `rate` Hz between a `dev_in_ch`-channel input and a
/// `dev_out_ch`-channel output. The engine runs `min(dev_in_ch, dev_out_ch, 2)` channels.
pub fn build_path(
    chain: &[NodeSpec],
    types: &[NodeType],
    rate: u32,
    dev_in_ch: usize,
    dev_out_ch: usize,
    block_ms: f64,
) -> Result<Path, String> {
    let (dev_in_ch, dev_out_ch) = (dev_in_ch.max(1), dev_out_ch.max(1));
    let channels = dev_in_ch.min(dev_out_ch).min(2);
    let (graph, has_far) = crate::offline::chain_graph(chain, types, rate, channels, block_ms)?;
    let block = graph.config().block_frames;
    let out_ch = graph.output_channels().first().copied().unwrap_or(channels);
    let graph_latency = graph.latency();
    let (controller, mut runner) = graph.into_realtime();
    runner.set_profile_every(32);
    let stats = Arc::new(LiveStats::default());
    let (prod, cons) = rtrb::RingBuffer::<f32>::new((block * 4 + 8192) * dev_in_ch);
    Ok(Path {
        controller,
        input: InputSink {
            prod,
            stats: stats.clone(),
            dev_in_ch,
        },
        output: OutputEngine {
            runner,
            rech: Rechunker::new(block, channels, out_ch, dev_in_ch),
            cons,
            stats: stats.clone(),
            primed: false,
            has_far,
            rate,
            dev_in_ch,
            dev_out_ch,
            graph_latency,
        },
        stats,
        block_frames: block,
        channels,
        graph_latency,
    })
}

impl InputSink {
    /// Pushes one input callback's interleaved samples; counts an overrun when the ring is full.
    /// Real-time safe.
    pub fn push(&mut self, data: &[f32]) {
        let _ftz = DenormalGuard::new();
        self.stats.in_callbacks.fetch_add(1, Relaxed);
        self.stats
            .in_buffer_frames
            .store((data.len() / self.dev_in_ch) as u64, Relaxed);
        let room = self.prod.slots();
        let take = if room >= data.len() {
            data.len()
        } else {
            room - room % self.dev_in_ch
        };
        if take < data.len() {
            self.stats.overruns.fetch_add(1, Relaxed);
        }
        if take > 0 {
            if let Ok(mut chunk) = self.prod.write_chunk(take) {
                let (a, b) = chunk.as_mut_slices();
                let n = a.len();
                a.copy_from_slice(&data[..n]);
                b.copy_from_slice(&data[n..take]);
                chunk.commit_all();
            }
        }
    }
}

impl OutputEngine {
    /// Fills one output callback's interleaved buffer. Silence until primed; then engine blocks pulled
    /// from the ring (underruns counted, processed from silence). Real-time safe.
    pub fn render(&mut self, data: &mut [f32]) {
        let _ftz = DenormalGuard::new();
        let t0 = Instant::now();
        let frames = data.len() / self.dev_out_ch;
        let block = self.rech.block();
        if !self.primed {
            let want = (block + frames) * self.dev_in_ch;
            if self.cons.slots() >= want {
                // Start with exactly one block plus one buffer queued: drop older input (whole frames)
                // so the latency does not depend on which stream started first.
                let excess = self.cons.slots() - want;
                let excess = excess - excess % self.dev_in_ch;
                if let Ok(chunk) = self.cons.read_chunk(excess) {
                    chunk.commit_all();
                }
                self.primed = true;
            } else {
                data.fill(0.0);
                self.stats
                    .record_output(frames, self.rate, t0.elapsed().as_nanos() as u64);
                return;
            }
        }
        let need = self.rech.pull_len();
        let (cons, runner, has_far) = (&mut self.cons, &mut self.runner, self.has_far);
        let underruns = self.rech.render(
            data,
            self.dev_out_ch,
            |buf| match cons.read_chunk(need) {
                Ok(chunk) => {
                    let (a, b) = chunk.as_slices();
                    buf[..a.len()].copy_from_slice(a);
                    buf[a.len()..].copy_from_slice(b);
                    chunk.commit_all();
                    true
                }
                Err(_) => false,
            },
            |i, far, o| {
                if has_far {
                    runner.process(&[i, far], &mut [o]);
                } else {
                    runner.process(&[i], &mut [o]);
                }
            },
        );
        if underruns > 0 {
            self.stats.underruns.fetch_add(u64::from(underruns), Relaxed);
        }
        // Frames between the capture and the playback of a sample captured now: input buffer, ring,
        // re-chunker backlog, graph latency, this output buffer.
        let queued = self.stats.in_buffer_frames.load(Relaxed) as usize
            + self.cons.slots() / self.dev_in_ch
            + self.rech.pending_frames()
            + self.graph_latency
            + frames;
        self.stats.record_latency(queued as u64);
        self.stats
            .record_output(frames, self.rate, t0.elapsed().as_nanos() as u64);
    }
}
