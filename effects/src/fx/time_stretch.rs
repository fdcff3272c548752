//! `time_stretch`: duration change by `factor` (0.5–2) with unchanged pitch.
//!
//! # What
//! Offline (`tutti process`) the node is a stream stage: the whole stream is stretched with
//! [`TimeStretcher`] and comes out exactly `round(n · factor)` frames long. `mode=music` uses the
//! phase-locked phase vocoder, `mode=speech` WSOLA (see [`super::stretcher`]). Both keep transients: detected
//! onsets are copied at factor 1 and only the stationary parts are stretched (a click train at 1.5× comes
//! out with single-sample clicks, `effects/tests/fx_speech.rs`).
//!
//! Live, a fixed-block graph cannot change the duration, so the node's processor is a **short-term
//! varispeed** with a bounded FIFO (the stretcher's own buffers, ≈ 1 s of input and ≈ 2 s of output): each
//! block is pushed in and one block is pulled out. With `factor > 1` the FIFO fills (output is produced
//! faster than it is played); once it is full, further input is **dropped** and counted in the
//! `overflows` meter while the buffered audio keeps playing. With `factor < 1` it drains; when it runs
//! dry the node outputs **silence** for the missing frames (counted in `underruns`) and resumes once a
//! block plus one hop is buffered again. Use it to speed up or slow down briefly (e.g. to let a jitter
//! buffer catch up), returning to `factor = 1` afterwards. The meter `fifo_frames` shows the fill.
//!
//! # How
//! See [`super::stretcher`]. The processor starts with exactly `latency` frames of silence (the stretcher's
//! look-ahead at factor 1 plus one hop), so at factor 1 it is a pure delay.
//!
//! # Real-time safety
//! Buffers are allocated in `prepare`; `process` pushes, pulls and publishes meters (atomics).

use std::sync::Arc;

use tutti_engine::{
    EngineError, Inputs, Meters, NodeArgs, Outputs, ParamInfo, Processor, StreamConfig, StreamStage,
};

use super::stretcher::{StretchMode, TimeStretcher};

static PARAMS: &[ParamInfo] = &[
    ParamInfo::new("factor", "", 0.5, 2.0, 1.0, "output duration / input duration"),
    ParamInfo::choice(
        "mode",
        &["music", "speech"],
        0,
        "phase vocoder (music) or WSOLA (speech); fixed at creation",
    ),
];

static METERS: &[&str] = &["fifo_frames", "underruns", "overflows"];

/// The `time_stretch` node type.
pub(crate) const TYPE: tutti_engine::NodeType = tutti_engine::NodeType {
    name: "time_stretch",
    description: "time stretch 0.5–2× at constant pitch (stream stage; live: short-term varispeed FIFO)",
    inputs: &["in"],
    outputs: &["out"],
    params: PARAMS,
    options: &[],
    create,
    stage: Some(stage),
};

fn mode_of(args: &NodeArgs) -> StretchMode {
    if args.get("mode") >= 0.5 {
        StretchMode::Speech
    } else {
        StretchMode::Music
    }
}

fn create(args: &NodeArgs) -> Result<Box<dyn Processor>, EngineError> {
    Ok(Box::new(TimeStretchNode {
        factor: f64::from(args.get("factor")),
        mode: mode_of(args),
        inner: None,
        primed: false,
        underruns: 0,
        overflows: 0,
        delay: 0,
        emitted: 0,
        meters: Meters::new(METERS),
    }))
}

const STAGE_CHUNK: usize = 4096;

fn stage(args: &NodeArgs, rate: u32, channels: usize) -> Result<Box<dyn StreamStage>, EngineError> {
    let mode = mode_of(args);
    let mut s = TimeStretcher::new(
        mode,
        channels,
        rate,
        TimeStretcher::default_window(rate),
        STAGE_CHUNK,
    );
    s.set_factor(f64::from(args.get("factor")));
    Ok(Box::new(StretchStage {
        s,
        rate,
        channels,
        buf: vec![vec![0.0; STAGE_CHUNK]; channels.max(1)],
    }))
}

struct StretchStage {
    s: TimeStretcher,
    rate: u32,
    channels: usize,
    buf: Vec<Vec<f32>>,
}

impl StretchStage {
    fn drain(&mut self, output: &mut [Vec<f32>]) {
        loop {
            let mut outs: Vec<&mut [f32]> = self.buf.iter_mut().map(|b| &mut b[..]).collect();
            let k = self.s.pull(&mut outs);
            if k == 0 {
                return;
            }
            for (o, b) in output.iter_mut().zip(&self.buf) {
                o.extend_from_slice(&b[..k]);
            }
        }
    }
}

impl StreamStage for StretchStage {
    fn name(&self) -> &'static str {
        "time_stretch"
    }

    fn output_rate(&self) -> u32 {
        self.rate
    }

    fn push(&mut self, input: &[&[f32]], output: &mut [Vec<f32>]) {
        let n = input.first().map_or(0, |c| c.len());
        let mut off = 0;
        while off < n {
            let end = (off + STAGE_CHUNK).min(n);
            let parts: Vec<&[f32]> = (0..self.channels)
                .map(|c| {
                    input
                        .get(c)
                        .or_else(|| input.first())
                        .map_or(&[][..], |s| &s[off.min(s.len())..end.min(s.len())])
                })
                .collect();
            let took = self.s.push(&parts);
            self.drain(output);
            off += took;
        }
    }

    fn finish(&mut self, output: &mut [Vec<f32>]) {
        self.s.finish();
        self.drain(output);
    }
}

struct TimeStretchNode {
    factor: f64,
    mode: StretchMode,
    inner: Option<TimeStretcher>,
    primed: bool,
    underruns: u64,
    overflows: u64,
    delay: usize,
    emitted: u64,
    meters: Arc<Meters>,
}

/// Start-up delay of the live processor: the stretcher's look-ahead at factor 1 plus one hop.
fn s_latency(s: Option<&TimeStretcher>) -> usize {
    s.map_or(0, |s| s.latency_at(1.0) + s.hop())
}

impl Processor for TimeStretchNode {
    fn name(&self) -> &'static str {
        "time_stretch"
    }

    fn prepare(&mut self, cfg: &StreamConfig) -> Result<(), EngineError> {
        let chunk = cfg.sample_rate as usize / 2;
        let mut s = TimeStretcher::new(
            self.mode,
            cfg.channels,
            cfg.sample_rate,
            TimeStretcher::default_window(cfg.sample_rate),
            chunk,
        );
        s.set_factor(self.factor);
        self.inner = Some(s);
        self.delay = s_latency(self.inner.as_ref());
        self.primed = false;
        self.emitted = 0;
        Ok(())
    }

    fn process(&mut self, inputs: &Inputs<'_>, outputs: &mut Outputs<'_>) {
        let inp = inputs.port(0);
        let mut out = outputs.port(0);
        let Some(s) = self.inner.as_mut() else {
            out.fill_zero();
            return;
        };
        let n = inp.frames();
        let chans = inp.channels().min(out.channels()).clamp(1, 2);
        let ins: [&[f32]; 2] = [inp.channel(0), inp.channel(chans - 1)];
        let took = s.push(&ins[..chans]);
        if took < n {
            self.overflows += (n - took) as u64;
        }
        // Start: exactly `latency` frames of silence, then the stretched stream. After an underrun:
        // wait until a block plus one hop is buffered again.
        let mut lead = 0;
        if self.emitted < self.delay as u64 {
            lead = ((self.delay as u64 - self.emitted) as usize).min(n);
            self.emitted += lead as u64;
            if self.emitted == self.delay as u64 {
                self.primed = true;
            }
        } else if !self.primed && s.available() >= n + s.hop() {
            self.primed = true;
        }
        for c in 0..out.channels() {
            out.channel_mut(c)[..lead].fill(0.0);
        }
        let got = if self.primed && lead < n {
            let mut it = out.channels_mut();
            match (it.next(), it.next()) {
                (Some(a), Some(b)) if chans == 2 => s.pull(&mut [&mut a[lead..], &mut b[lead..]]),
                (Some(a), _) => s.pull(&mut [&mut a[lead..]]),
                _ => 0,
            }
        } else {
            0
        } + lead;
        if lead < n {
            self.emitted += (got - lead) as u64;
        }
        if got < n {
            if self.primed {
                self.underruns += (n - got) as u64;
                self.primed = false;
            }
            for c in 0..out.channels() {
                out.channel_mut(c)[got..].fill(0.0);
            }
        }
        for c in chans..out.channels() {
            out.channel_mut(c).fill(0.0);
        }
        self.meters.set(0, s.available() as f64);
        self.meters.set(1, self.underruns as f64);
        self.meters.set(2, self.overflows as f64);
    }

    fn reset(&mut self) {
        if let Some(s) = self.inner.as_mut() {
            s.reset();
        }
        self.primed = false;
        self.emitted = 0;
    }

    fn latency(&self) -> usize {
        self.delay
    }

    fn params(&self) -> &'static [ParamInfo] {
        PARAMS
    }

    fn set_param(&mut self, index: usize, value: f32) {
        if index == 0 {
            self.factor = f64::from(value);
            if let Some(s) = self.inner.as_mut() {
                s.set_factor(self.factor);
            }
        }
    }

    fn meters(&self) -> Option<Arc<Meters>> {
        Some(self.meters.clone())
    }
}
