//! `tutti bench conference`: synthetic conference load on the scheduler (see `conference::run_bench`).

use serde_json::Value;

use super::CliError;
use crate::conference::{run_bench, BenchConfig};

/// Arguments of `tutti bench`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    what: What,
}

#[derive(Debug, clap::Subcommand)]
enum What {
    /// N legs of real encoded RTP through jitter buffers, decoders, chains, mixer and encoders, on the
    /// scheduler at the real tick rate (no sockets).
    Conference(ConferenceArgs),
}

/// Arguments of `tutti bench conference`.
#[derive(Debug, clap::Args)]
pub struct ConferenceArgs {
    /// Number of legs.
    #[arg(long)]
    legs: usize,
    /// Codec of every leg: pcmu, pcma, g722, opus[:BITRATE], l16[:RATE].
    #[arg(long, default_value = "pcmu")]
    codec: String,
    /// Seconds to run (wall clock).
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Chain per leg, e.g. "hpf,ns,agc".
    #[arg(long)]
    chain: Option<String>,
    /// Simultaneous talkers (K).
    #[arg(long, default_value_t = 3)]
    talkers: usize,
    /// Scheduler worker threads.
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// Mix rate in Hz (8000, 16000, 32000, 48000).
    #[arg(long, default_value_t = 16000)]
    mix_rate: u32,
    /// Print one JSON document.
    #[arg(long)]
    json: bool,
}

/// Runs `tutti bench`.
pub fn run(a: &Args) -> Result<(), CliError> {
    let What::Conference(c) = &a.what;
    let codec = tutti_codecs::CodecSpec::parse(&c.codec)
        .map_err(|e| CliError::new(format!("--codec {}: {e}", c.codec)))?;
    let codec = crate::conference::leg_codec(codec, crate::conference::MixRate::Fixed(c.mix_rate));
    if let Some(ch) = &c.chain {
        let nodes = crate::chain::parse(ch).map_err(|e| CliError::new(format!("--chain: {e}")))?;
        crate::chain::resolve(&nodes, &crate::registry::node_types())
            .map_err(|e| CliError::new(format!("--chain: {e}")))?;
    }
    if c.talkers == 0 || c.talkers > 15 {
        return Err(CliError::new(format!(
            "--talkers {}: expected 1 to 15",
            c.talkers
        )));
    }
    let cfg = BenchConfig {
        legs: c.legs,
        codec,
        seconds: c.seconds,
        chain: c.chain.clone(),
        talkers: c.talkers,
        workers: c.workers,
        mix_rate: c.mix_rate,
    };
    let r = run_bench(&cfg).map_err(CliError::new)?;
    let doc: Value = r.to_json(&cfg);
    if c.json {
        println!("{doc}");
    } else {
        println!(
            "{} legs ({}{}), {} talkers, {} ticks: {} deadline misses; tick p50 {:.0} µs, p99 {:.0} µs, \
             p99.9 {:.0} µs, max {:.0} µs; {:.2} µs per leg per tick; {:.1} encodes per tick; \
             {} legs per core at p99.9; {} allocations on the worker",
            r.legs,
            codec.cli_name(),
            c.chain
                .as_deref()
                .map(|s| format!(", chain {s}"))
                .unwrap_or_default(),
            c.talkers,
            r.ticks,
            r.deadline_misses,
            r.tick_us[0],
            r.tick_us[1],
            r.tick_us[2],
            r.tick_us[3],
            r.cpu_us_per_leg_per_tick,
            r.encodes_per_tick,
            r.legs_per_core,
            r.rt_allocations
        );
    }
    Ok(())
}
