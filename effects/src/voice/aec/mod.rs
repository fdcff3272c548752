//! `aec`: acoustic echo cancellation node.
//!
//! # What
//! Removes the echo of the far-end signal (input 1, `far`: what is sent to the loudspeaker) from the
//! microphone signal (input 0, `in`), keeping the near-end talker, and publishes statistics through
//! [`tutti_engine::Meters`]:
//!
//! | meter | meaning |
//! |---|---|
//! | `delay_ms` | estimated bulk delay from far-end to echo (0 until found) |
//! | `erl_db` | echo return loss: far-end power over microphone power while the far-end is active |
//! | `erle_db` | echo return loss enhancement of the linear filter (microphone over error power) |
//! | `erle_total_db` | microphone over output power (linear filter + suppression + comfort noise) |
//! | `divergence_resets` | times the main filter diverged and was replaced or reset |
//! | `shadow_copies` | times the shadow filter replaced the main filter (e.g. after a path change) |
//! | `realigns` | times the filters were moved to a new bulk delay |
//!
//! Parameters: `tail_ms` (50..=1000, default 250: room tail covered *after* the bulk delay, which is
//! estimated separately over 0–500 ms; takes effect at the next `prepare`), `suppression`
//! (`off|low|moderate|high`, residual echo suppression strength) and `cng` (`off|on`, comfort noise).
//!
//! # How
//! Full-band at the stream rate (8, 16, 32, 44.1 or 48 kHz; no band splitting) on internal 10 ms frames
//! `N = rate/100`: GCC-PHAT delay estimation ([`delay`]), a partitioned-block frequency-domain Kalman
//! filter with an NLMS shadow filter and copy/divergence rules ([`canceller`], [`filter`]), and a
//! coherence- and ERLE-based residual echo suppressor with comfort noise ([`res`]). Mono only.
//!
//! Latency: `N` samples (the suppressor's overlap-add); when the engine block is not `N`, samples are
//! re-framed through a FIFO, which adds another `N`.
//!
//! # Real-time safety
//! `prepare` allocates everything; `process`, `reset` and `set_param` do not allocate, lock or make
//! system calls (checked by `effects/tests/aec_alloc.rs`). Small recursive states are flushed to zero so
//! silence does not create denormals.

mod canceller;
mod decimate;
mod delay;
mod filter;
mod kernels;
mod res;

use std::sync::Arc;

use tutti_engine::{
    EngineError, Inputs, Meters, NodeArgs, NodeType, Outputs, ParamInfo, Processor, StreamConfig,
};

use canceller::{Canceller, Settings};

/// Names of the `aec` node's meters, in slot order.
pub const AEC_METERS: &[&str] = &[
    "delay_ms",
    "erl_db",
    "erle_db",
    "erle_total_db",
    "divergence_resets",
    "shadow_copies",
    "realigns",
];

const PARAMS: &[ParamInfo] = &[
    ParamInfo::new(
        "tail_ms",
        "ms",
        50.0,
        1000.0,
        250.0,
        "echo tail covered after the estimated bulk delay",
    ),
    ParamInfo::choice(
        "suppression",
        &["off", "low", "moderate", "high"],
        2,
        "residual echo suppression",
    ),
    ParamInfo::choice("cng", &["off", "on"], 1, "comfort noise in suppressed segments"),
];

/// The `aec` node type.
pub(crate) const AEC: NodeType = NodeType {
    name: "aec",
    description: "acoustic echo canceller (input 0: microphone, input 1: far-end reference)",
    inputs: &["in", "far"],
    outputs: &["out"],
    params: PARAMS,
    options: &[],
    create: create_aec,
    stage: None,
};

fn create_aec(args: &NodeArgs) -> Result<Box<dyn Processor>, EngineError> {
    Ok(Box::new(Aec::new(
        args.get("tail_ms"),
        args.get("suppression") as usize,
        args.get("cng") >= 0.5,
    )))
}

/// Suppression level → (over-subtraction β, minimum gain).
fn suppression_settings(level: usize) -> (f32, f32) {
    match level {
        0 => (0.0, 1.0),
        1 => (1.0, 0.1),
        2 => (1.5, 0.01),
        _ => (4.0, 0.001),
    }
}

/// The echo canceller node (see the module docs).
pub struct Aec {
    tail_ms: f32,
    suppression: usize,
    cng: bool,
    canceller: Option<Canceller>,
    frame: usize,
    block: usize,
    mic_acc: Vec<f32>,
    far_acc: Vec<f32>,
    fill: usize,
    frame_out: Vec<f32>,
    fifo: Vec<f32>,
    fifo_read: usize,
    fifo_len: usize,
    primed: usize,
    meters: Arc<Meters>,
}

impl Aec {
    /// A canceller covering `tail_ms` after the bulk delay, with suppression level `suppression`
    /// (0 = off … 3 = high) and comfort noise on or off.
    pub fn new(tail_ms: f32, suppression: usize, cng: bool) -> Self {
        Self {
            tail_ms: tail_ms.clamp(50.0, 1000.0),
            suppression: suppression.min(3),
            cng,
            canceller: None,
            frame: 0,
            block: 0,
            mic_acc: Vec::new(),
            far_acc: Vec::new(),
            fill: 0,
            frame_out: Vec::new(),
            fifo: Vec::new(),
            fifo_read: 0,
            fifo_len: 0,
            primed: 0,
            meters: Meters::new(AEC_METERS),
        }
    }

    fn settings(&self) -> Settings {
        let (beta, min_gain) = suppression_settings(self.suppression);
        Settings {
            beta,
            min_gain,
            cng: self.cng,
        }
    }

    fn publish(&self) {
        if let Some(c) = &self.canceller {
            let s = c.stats();
            let m = &self.meters;
            m.set(0, f64::from(s.delay_ms));
            m.set(1, f64::from(s.erl_db));
            m.set(2, f64::from(s.erle_db));
            m.set(3, f64::from(s.erle_total_db));
            m.set(4, f64::from(s.resets));
            m.set(5, f64::from(s.shadow_copies));
            m.set(6, f64::from(s.realigns));
        }
    }

    fn clear_fifo(&mut self) {
        self.fifo.fill(0.0);
        self.fifo_read = 0;
        self.fifo_len = self.primed;
        self.fill = 0;
        self.mic_acc.fill(0.0);
        self.far_acc.fill(0.0);
    }
}

/// Zeroes the non-finite and subnormal samples of `x` (branch-free, so the loop vectorises: NaN fails
/// the comparison, an infinity is not below `f32::INFINITY`).
fn sanitize(x: &mut [f32]) {
    for v in x {
        let keep = (1e-30..f32::INFINITY).contains(&v.abs());
        *v = if keep { *v } else { 0.0 };
    }
}

impl Processor for Aec {
    fn name(&self) -> &'static str {
        "aec"
    }

    fn num_inputs(&self) -> usize {
        2
    }

    fn input_channels(&self, _port: usize, _cfg: &StreamConfig) -> usize {
        1
    }

    fn output_channels(&self, _port: usize, _cfg: &StreamConfig) -> usize {
        1
    }

    fn prepare(&mut self, cfg: &StreamConfig) -> Result<(), EngineError> {
        if cfg.channels != 1 {
            return Err(EngineError::UnsupportedChannels { actual: cfg.channels });
        }
        if !cfg.sample_rate.is_multiple_of(100) {
            return Err(EngineError::UnsupportedRate {
                actual: cfg.sample_rate,
            });
        }
        let n = cfg.sample_rate as usize / 100;
        self.frame = n;
        self.block = cfg.block_frames;
        self.canceller = Some(Canceller::new(cfg.sample_rate, n, self.tail_ms));
        self.mic_acc = vec![0.0; n];
        self.far_acc = vec![0.0; n];
        self.frame_out = vec![0.0; n];
        self.primed = if self.block == n { 0 } else { n };
        self.fifo = vec![0.0; 3 * n + self.block];
        self.clear_fifo();
        self.publish();
        Ok(())
    }

    fn process(&mut self, inputs: &Inputs<'_>, outputs: &mut Outputs<'_>) {
        let mic = inputs.port(0).channel(0);
        let far = inputs.port(1).channel(0);
        let mut out_port = outputs.port(0);
        let out = out_port.channel_mut(0);
        let settings = self.settings();
        let Some(canceller) = self.canceller.as_mut() else {
            out.fill(0.0);
            return;
        };
        let n = self.frame;
        let cap = self.fifo.len();
        let mut pos = 0;
        let frames = mic.len().min(far.len()).min(out.len());
        while pos < frames {
            let take = (n - self.fill).min(frames - pos);
            self.mic_acc[self.fill..self.fill + take].copy_from_slice(&mic[pos..pos + take]);
            self.far_acc[self.fill..self.fill + take].copy_from_slice(&far[pos..pos + take]);
            // Garbage and subnormal input become silence (FTZ by hand).
            sanitize(&mut self.mic_acc[self.fill..self.fill + take]);
            sanitize(&mut self.far_acc[self.fill..self.fill + take]);
            self.fill += take;
            pos += take;
            if self.fill == n {
                self.fill = 0;
                canceller.process_frame(&self.mic_acc, &self.far_acc, &settings, &mut self.frame_out);
                // Append the frame (the FIFO holds `3N + block`, more than blocks of the prepared size
                // ever queue), flushing subnormals, in at most two contiguous pieces of the ring.
                let w = (self.fifo_read + self.fifo_len) % cap;
                let first = n.min(cap - w);
                let (a, b) = self.frame_out.split_at(first);
                // `n − first ≤ w` (the ring is at least `n` long), so the pieces do not overlap.
                let (head, tail) = self.fifo.split_at_mut(w);
                for (dst, src) in [(&mut tail[..first], a), (&mut head[..n - first], b)] {
                    for (d, &v) in dst.iter_mut().zip(src) {
                        *d = if v.abs() >= 1e-30 { v } else { 0.0 };
                    }
                }
                self.fifo_len = (self.fifo_len + n).min(cap);
            }
        }
        // Pop what the FIFO holds (two contiguous pieces at most); silence if it runs short.
        let take = out.len().min(self.fifo_len);
        let r = self.fifo_read;
        let first = take.min(cap - r);
        out[..first].copy_from_slice(&self.fifo[r..r + first]);
        out[first..take].copy_from_slice(&self.fifo[..take - first]);
        out[take..].fill(0.0);
        self.fifo_read = (r + take) % cap;
        self.fifo_len -= take;
        self.publish();
    }

    fn reset(&mut self) {
        if let Some(c) = self.canceller.as_mut() {
            c.reset();
        }
        self.clear_fifo();
        self.publish();
    }

    fn latency(&self) -> usize {
        self.frame + self.primed
    }

    fn params(&self) -> &'static [ParamInfo] {
        PARAMS
    }

    fn set_param(&mut self, index: usize, value: f32) {
        match index {
            0 => self.tail_ms = value.clamp(50.0, 1000.0),
            1 => self.suppression = (value.max(0.0) as usize).min(3),
            2 => self.cng = value >= 0.5,
            _ => {}
        }
    }

    fn meters(&self) -> Option<Arc<Meters>> {
        Some(self.meters.clone())
    }
}

/// Seeded white noise (xorshift32, uniform in ±0.1) for the submodules' tests.
#[cfg(test)]
fn test_noise(n: usize, seed: u32) -> Vec<f32> {
    let mut s = seed.max(1);
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            (s as f32 / u32::MAX as f32 - 0.5) * 0.2
        })
        .collect()
}
