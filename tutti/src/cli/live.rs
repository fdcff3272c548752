//! `tutti live --chain SPEC [--host alsa|jack] [--input DEV] [--output DEV] [--block-ms N] [--seconds S]
//! [--json]`: runs a chain on a live input to a live output; reads `set NODE.PARAM VALUE` lines on stdin;
//! stops on Ctrl-C, `--seconds` or a `stop` line; prints xruns, callback load and latency at the end.

use std::io::BufRead;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};

use serde_json::json;

use super::CliError;
use crate::live::{self, HostKind, LiveConfig};
use crate::{chain, registry};

/// Arguments of `tutti live`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The chain, e.g. `hpf,aec,ns(level=high),agc`.
    #[arg(long)]
    chain: String,
    /// Audio host: alsa or jack.
    #[arg(long, default_value = "alsa")]
    host: String,
    /// Input device name from `tutti devices` (JACK: `cpal_client_in`, ports `in_0…`).
    #[arg(long)]
    input: Option<String>,
    /// Output device (as --input).
    #[arg(long)]
    output: Option<String>,
    /// Engine block length in milliseconds.
    #[arg(long, default_value_t = 10.0)]
    block_ms: f64,
    /// Stop after this many seconds (default: run until Ctrl-C).
    #[arg(long)]
    seconds: Option<f64>,
    /// Print one JSON document at the end instead of text.
    #[arg(long)]
    json: bool,
}

/// Runs `tutti live`.
pub fn run(args: &Args) -> Result<(), CliError> {
    let host = HostKind::parse(&args.host).map_err(CliError::new)?;
    let nodes = chain::parse(&args.chain).map_err(|e| CliError::new(format!("--chain: {e}")))?;
    if let Some(s) = args.seconds {
        if !(s.is_finite() && s > 0.0) {
            return Err(CliError::new(format!(
                "--seconds: {s} is not a positive duration"
            )));
        }
    }
    if !(args.block_ms.is_finite() && args.block_ms > 0.0) {
        return Err(CliError::new(format!(
            "--block-ms: {} is not a positive duration",
            args.block_ms
        )));
    }
    let cfg = LiveConfig {
        host,
        chain: nodes,
        input: args.input.clone(),
        output: args.output.clone(),
        block_ms: args.block_ms,
        seconds: args.seconds,
    };
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    // Ignore the error when a handler is already installed (e.g. a second run in one process).
    let _ = ctrlc::set_handler(move || flag.store(true, Ordering::Relaxed));
    let (tx, rx) = mpsc::channel();
    // stdin commands; the thread ends with stdin (or with the process).
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            match live::parse_command(&line) {
                Ok(Some(cmd)) => {
                    if tx.send(cmd).is_err() {
                        break;
                    }
                }
                Ok(None) => {}
                Err(e) => eprintln!("tutti: live: {e}"),
            }
        }
    });
    let types = registry::node_types();
    let mut reply = |line: String| eprintln!("tutti: live: {line}");
    let r = live::run(&cfg, &types, rx, stop, &mut reply).map_err(CliError::new)?;
    let s = &r.stats;
    if args.json {
        let doc = json!({
            "host": r.host, "input": r.input_device, "output": r.output_device,
            "sample_rate": r.sample_rate, "block_frames": r.block_frames, "channels": r.channels,
            "seconds": r.seconds,
            "callbacks": {"input": s.input_callbacks, "output": s.output_callbacks},
            "xruns": s.xruns(),
            "input_overruns": s.input_overruns, "output_underruns": s.output_underruns,
            "stream_errors": s.stream_errors,
            "callback_load": {"avg": s.load_avg, "peak": s.load_peak},
            "latency_ms": {"avg": r.latency_avg_ms(), "max": r.latency_max_ms(),
                "graph": r.graph_latency_frames as f64 * 1000.0 / f64::from(r.sample_rate),
                "input_device": r.input_device_latency_ms, "output_device": r.output_device_latency_ms},
            "buffer_frames": {"input": s.input_buffer_frames, "output": s.output_buffer_frames},
            "param_changes": r.param_changes, "command_errors": r.command_errors,
            "first_stream_error": r.first_error,
        });
        println!("{doc}");
    } else {
        println!(
            "{} '{}' -> '{}', {} Hz, {} ch, block {} frames, {:.2} s",
            r.host, r.input_device, r.output_device, r.sample_rate, r.channels, r.block_frames, r.seconds
        );
        println!(
            "xruns: {} (input overruns {}, output underruns {}, stream errors {})",
            s.xruns(),
            s.input_overruns,
            s.output_underruns,
            s.stream_errors
        );
        println!(
            "callback load: avg {:.1}%, peak {:.1}%",
            s.load_avg * 100.0,
            s.load_peak * 100.0
        );
        println!(
            "latency: avg {:.2} ms, max {:.2} ms (buffers in {} / out {} frames, graph {} frames)",
            r.latency_avg_ms(),
            r.latency_max_ms(),
            s.input_buffer_frames,
            s.output_buffer_frames,
            r.graph_latency_frames
        );
    }
    Ok(())
}
