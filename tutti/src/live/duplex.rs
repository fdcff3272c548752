//! Duplex stream set-up and the live control loop (see the parent module docs).
//!
//! # What
//! [`run`] opens the devices, builds the chain graph, starts the input and output streams, applies
//! [`Command`]s until the time is up or the stop flag is raised, and returns a [`LiveReport`].
//!
//! # How
//! Input callback → `rtrb` ring (interleaved samples) → output callback: [`Rechunker`] + graph runner.
//!
//! # Real-time safety
//! The two callbacks copy samples, use the wait-free ring and atomics, and run the graph runner; FTZ is
//! set on entry. `Instant::now` (vDSO `clock_gettime`, no system call on Linux) measures callback load.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use tutti_engine::{GraphController, NodeType};

use super::{HostKind, StatsSnapshot};
use crate::chain::NodeSpec;

/// What to run live.
#[derive(Debug, Clone)]
pub struct LiveConfig {
    /// The cpal host.
    pub host: HostKind,
    /// The parsed chain.
    pub chain: Vec<NodeSpec>,
    /// Input device name from `tutti devices` (JACK: `cpal_client_in`, ports `in_0…`); `None` for the
    /// default.
    pub input: Option<String>,
    /// Output device name (as `input`; JACK: `cpal_client_out`, ports `out_0…`).
    pub output: Option<String>,
    /// Engine block length in milliseconds.
    pub block_ms: f64,
    /// Stop after this many seconds (`None`: until Ctrl-C or a `stop` command).
    pub seconds: Option<f64>,
}

/// A command for a running chain (from stdin).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `set NODE.PARAM VALUE`: node by chain label (type name), first match.
    Set {
        /// Node label.
        node: String,
        /// Parameter name.
        param: String,
        /// Value: a number or a choice name.
        value: String,
    },
    /// Stop the run.
    Stop,
}

/// What a live run measured.
#[derive(Debug, Clone)]
pub struct LiveReport {
    /// Host name.
    pub host: &'static str,
    /// Input device name as opened.
    pub input_device: String,
    /// Output device name as opened.
    pub output_device: String,
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Engine block in frames.
    pub block_frames: usize,
    /// Engine input channels.
    pub channels: usize,
    /// Wall-clock seconds the streams ran.
    pub seconds: f64,
    /// Callback counters, xruns, load and latency estimates.
    pub stats: StatsSnapshot,
    /// Latency of the chain graph in frames.
    pub graph_latency_frames: usize,
    /// Capture-to-callback latency reported by the backend, ms.
    pub input_device_latency_ms: f64,
    /// Callback-to-playback latency reported by the backend, ms.
    pub output_device_latency_ms: f64,
    /// Parameter changes applied.
    pub param_changes: u64,
    /// Commands refused (unknown node, parameter out of range, …).
    pub command_errors: u64,
    /// The first error the backend reported (e.g. `xrun (buffer over or under run)`).
    pub first_error: Option<String>,
}

impl LiveReport {
    /// Average estimated round-trip latency in milliseconds (queued frames + backend device latencies).
    pub fn latency_avg_ms(&self) -> f64 {
        self.stats.latency_avg_frames * 1000.0 / f64::from(self.sample_rate)
            + self.input_device_latency_ms
            + self.output_device_latency_ms
    }

    /// Largest estimated round-trip latency in milliseconds.
    pub fn latency_max_ms(&self) -> f64 {
        self.stats.latency_max_frames as f64 * 1000.0 / f64::from(self.sample_rate)
            + self.input_device_latency_ms
            + self.output_device_latency_ms
    }
}

fn pick<D: DeviceTrait>(
    mut list: impl Iterator<Item = D>,
    default: Option<D>,
    want: &Option<String>,
    what: &str,
) -> Result<D, String> {
    match want {
        None => default.ok_or_else(|| format!("{what}: no default device (see `tutti devices`)")),
        Some(name) => list
            .find(|d| d.name().map(|n| &n == name).unwrap_or(false))
            .ok_or_else(|| format!("{what}: no device named '{name}' (see `tutti devices`)")),
    }
}

/// Runs the chain live until `cfg.seconds` elapse, `stop` is raised (Ctrl-C) or a `stop` command
/// arrives. `reply` receives one line per command (applied or refused).
pub fn run(
    cfg: &LiveConfig,
    types: &[NodeType],
    commands: Receiver<Command>,
    stop: Arc<AtomicBool>,
    reply: &mut dyn FnMut(String),
) -> Result<LiveReport, String> {
    match cfg.host {
        HostKind::Alsa => {
            let host = cpal::host_from_id(cpal::HostId::Alsa).map_err(|e| format!("--host alsa: {e}"))?;
            let input = pick(
                host.input_devices().map_err(|e| format!("--input: {e}"))?,
                host.default_input_device(),
                &cfg.input,
                "--input",
            )?;
            let output = pick(
                host.output_devices().map_err(|e| format!("--output: {e}"))?,
                host.default_output_device(),
                &cfg.output,
                "--output",
            )?;
            run_devices(cfg, types, "alsa", input, output, commands, stop, reply)
        }
        HostKind::Jack => run_jack(cfg, types, commands, stop, reply),
    }
}

#[cfg(feature = "jack")]
fn run_jack(
    cfg: &LiveConfig,
    types: &[NodeType],
    commands: Receiver<Command>,
    stop: Arc<AtomicBool>,
    reply: &mut dyn FnMut(String),
) -> Result<LiveReport, String> {
    // cpal's JACK host opens one client per direction, named `cpal_client_in` / `cpal_client_out`
    // (ports `in_0…`, `out_0…`); it connects them to the `system` ports. Probe first: cpal prints its
    // client-open failures on stdout, which would break `--json`.
    if let Some(e) = super::devices::jack_server_error() {
        return Err(format!("--host jack: {e}"));
    }
    let host = cpal::host_from_id(cpal::HostId::Jack).map_err(|e| format!("--host jack: {e}"))?;
    let none = "--host jack: no JACK client could be opened (is a JACK server running?)";
    let input = pick(
        host.input_devices().map_err(|e| format!("--input: {e}"))?,
        host.default_input_device(),
        &cfg.input,
        "--input",
    )
    .map_err(|e| {
        if host.default_input_device().is_none() {
            none.to_string()
        } else {
            e
        }
    })?;
    let output = pick(
        host.output_devices().map_err(|e| format!("--output: {e}"))?,
        host.default_output_device(),
        &cfg.output,
        "--output",
    )
    .map_err(|e| {
        if host.default_output_device().is_none() {
            none.to_string()
        } else {
            e
        }
    })?;
    run_devices(cfg, types, "jack", input, output, commands, stop, reply)
}

#[cfg(not(feature = "jack"))]
fn run_jack(
    _: &LiveConfig,
    _: &[NodeType],
    _: Receiver<Command>,
    _: Arc<AtomicBool>,
    _: &mut dyn FnMut(String),
) -> Result<LiveReport, String> {
    Err("--host jack: this tutti was built without JACK support (cargo build --features jack)".into())
}

#[allow(clippy::too_many_arguments)]
fn run_devices<D: DeviceTrait>(
    cfg: &LiveConfig,
    types: &[NodeType],
    host_name: &'static str,
    input: D,
    output: D,
    commands: Receiver<Command>,
    stop: Arc<AtomicBool>,
    reply: &mut dyn FnMut(String),
) -> Result<LiveReport, String> {
    let in_name = input.name().unwrap_or_default();
    let out_name = output.name().unwrap_or_default();
    let out_def = output
        .default_output_config()
        .map_err(|e| format!("--output '{out_name}': {e}"))?;
    let in_def = input
        .default_input_config()
        .map_err(|e| format!("--input '{in_name}': {e}"))?;
    let rate = out_def.sample_rate().0;
    let dev_out_ch = usize::from(out_def.channels()).max(1);
    let dev_in_ch = usize::from(in_def.channels()).max(1);

    let path = super::build_path(&cfg.chain, types, rate, dev_in_ch, dev_out_ch, cfg.block_ms)?;
    let (mut ctl, mut sink, mut engine, stats) = (path.controller, path.input, path.output, path.stats);
    let (block, channels, graph_latency) = (path.block_frames, path.channels, path.graph_latency);

    let in_cfg = cpal::StreamConfig {
        channels: dev_in_ch as u16,
        sample_rate: cpal::SampleRate(rate),
        buffer_size: cpal::BufferSize::Default,
    };
    let out_cfg = cpal::StreamConfig {
        channels: dev_out_ch as u16,
        sample_rate: cpal::SampleRate(rate),
        buffer_size: cpal::BufferSize::Default,
    };

    let s_in = stats.clone();
    let s_err_in = stats.clone();
    let in_stream = input
        .build_input_stream(
            &in_cfg,
            move |data: &[f32], info: &cpal::InputCallbackInfo| {
                let ts = info.timestamp();
                if let Some(d) = ts.callback.duration_since(&ts.capture) {
                    s_in.in_device_ns.store(d.as_nanos() as u64, Relaxed);
                }
                sink.push(data);
            },
            move |err: cpal::StreamError| {
                // JACK notifies every client of a server xrun: count those on the output side only.
                let msg = err.to_string();
                if !msg.contains("xrun") {
                    s_err_in.stream_errors.fetch_add(1, Relaxed);
                    s_err_in.note_error(msg);
                }
            },
            None,
        )
        .map_err(|e| format!("--input '{in_name}': {e} ({dev_in_ch} channels f32 at {rate} Hz)"))?;

    let s_out = stats.clone();
    let s_err_out = stats.clone();
    let out_stream = output
        .build_output_stream(
            &out_cfg,
            move |data: &mut [f32], info: &cpal::OutputCallbackInfo| {
                let ts = info.timestamp();
                if let Some(d) = ts.playback.duration_since(&ts.callback) {
                    s_out.out_device_ns.store(d.as_nanos() as u64, Relaxed);
                }
                engine.render(data);
            },
            move |err: cpal::StreamError| {
                s_err_out.stream_errors.fetch_add(1, Relaxed);
                s_err_out.note_error(err.to_string());
            },
            None,
        )
        .map_err(|e| format!("--output '{out_name}': {e} ({dev_out_ch} channels f32 at {rate} Hz)"))?;

    out_stream
        .play()
        .map_err(|e| format!("--output '{out_name}': {e}"))?;
    in_stream
        .play()
        .map_err(|e| format!("--input '{in_name}': {e}"))?;
    let started = Instant::now();
    let deadline = cfg.seconds.map(|s| started + Duration::from_secs_f64(s.max(0.0)));
    let (mut changes, mut errors) = (0u64, 0u64);
    loop {
        if stop.load(Relaxed) || deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        let wait = deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
            .unwrap_or(Duration::from_millis(50))
            .min(Duration::from_millis(50));
        match commands.recv_timeout(wait) {
            Ok(Command::Stop) => break,
            Ok(Command::Set { node, param, value }) => match apply(&mut ctl, types, &node, &param, &value) {
                Ok(v) => {
                    changes += 1;
                    reply(format!("ok {node}.{param} = {v}"));
                }
                Err(e) => {
                    errors += 1;
                    reply(format!("error: {e}"));
                }
            },
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => std::thread::sleep(wait),
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    drop(in_stream);
    drop(out_stream);
    ctl.collect_garbage();
    let (in_ns, out_ns) = stats.device_latency_ns();
    Ok(LiveReport {
        host: host_name,
        input_device: in_name,
        output_device: out_name,
        sample_rate: rate,
        block_frames: block,
        channels,
        seconds,
        stats: stats.snapshot(),
        graph_latency_frames: graph_latency,
        input_device_latency_ms: in_ns as f64 / 1e6,
        output_device_latency_ms: out_ns as f64 / 1e6,
        param_changes: changes,
        command_errors: errors,
        first_error: stats.first_error(),
    })
}

/// Applies `set NODE.PARAM VALUE`: the node by label (first match), the value as a number or a choice.
fn apply(
    ctl: &mut GraphController,
    types: &[NodeType],
    node: &str,
    param: &str,
    value: &str,
) -> Result<f32, String> {
    let id = ctl.find(node).ok_or_else(|| {
        let labels: Vec<String> = ctl.node_stats().into_iter().map(|s| s.label).collect();
        format!(
            "set: no node '{node}' in the chain (nodes: {})",
            labels.join(", ")
        )
    })?;
    let v = match value.parse::<f32>() {
        Ok(v) if v.is_finite() => v,
        _ => types
            .iter()
            .find(|t| t.name == node)
            .and_then(|t| t.params.iter().find(|p| p.name == param))
            .and_then(|p| p.choices.iter().position(|c| *c == value))
            .map(|i| i as f32)
            .ok_or_else(|| format!("set {node}.{param}: '{value}' is not a number or a choice"))?,
    };
    ctl.set_param(id, param, v)
        .map_err(|e| format!("set {node}.{param}: {e}"))?;
    Ok(v)
}
