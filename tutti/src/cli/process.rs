//! `tutti process`: renders a chain or graph offline through the real-time graph code.

use std::path::PathBuf;

use serde_json::json;

use super::CliError;
use crate::offline::{self, Pipeline};
use crate::wav::{read_wav, write_wav, WavFormat};
use crate::{graphfile::GraphFile, progress, registry};

/// Output sample format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutFormat {
    /// 16-bit PCM.
    I16,
    /// 32-bit float.
    F32,
}

/// Arguments of `tutti process`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Chain spec, e.g. "hpf(hz=100),gain(db=-6),delay(ms=25)".
    #[arg(long, conflicts_with = "graph", required_unless_present = "graph")]
    chain: Option<String>,
    /// Graph file (TOML) instead of a chain.
    #[arg(long)]
    graph: Option<PathBuf>,
    /// Input WAV file.
    #[arg(long = "in")]
    input: PathBuf,
    /// Far-end (loudspeaker) reference WAV for nodes such as aec.
    #[arg(long)]
    far: Option<PathBuf>,
    /// Output WAV file.
    #[arg(long)]
    out: PathBuf,
    /// Processing block length in milliseconds.
    #[arg(long, default_value_t = 10.0)]
    block_ms: f64,
    /// Output sample format.
    #[arg(long, value_enum, default_value = "i16")]
    out_format: OutFormat,
    /// Print one JSON document with timing and latency.
    #[arg(long)]
    json: bool,
}

/// Runs `tutti process`.
pub fn run(args: &Args) -> Result<(), CliError> {
    let pipeline = match (&args.chain, &args.graph) {
        (Some(spec), _) => offline::parse_chain(spec).map_err(CliError::new)?,
        (None, Some(path)) => Pipeline::Graph(GraphFile::load(path).map_err(CliError::new)?),
        (None, None) => return Err(CliError::new("one of --chain or --graph is required")),
    };
    if !(args.block_ms.is_finite() && args.block_ms > 0.0) {
        return Err(CliError::new(format!(
            "--block-ms: expected a positive number, got {}",
            args.block_ms
        )));
    }
    let input = read_wav(&args.input)?;
    let far = args.far.as_deref().map(read_wav).transpose()?;
    progress::enable(!args.json);
    let types = registry::node_types();
    let r = offline::render(&pipeline, &types, &input, far.as_ref(), args.block_ms).map_err(CliError::new)?;
    let fmt = match args.out_format {
        OutFormat::I16 => WavFormat::I16,
        OutFormat::F32 => WavFormat::F32,
    };
    write_wav(&args.out, &r.audio, fmt)?;
    let clipped = if fmt == WavFormat::I16 {
        r.audio.clipped_in_i16()
    } else {
        0
    };
    if clipped > 0 {
        eprintln!(
            "tutti: warning: {}: {clipped} samples beyond 16-bit full scale were clipped \
             (use --out-format f32, or end the chain with a limiter)",
            args.out.display()
        );
    }
    if args.json {
        let doc = json!({
            "frames": r.frames,
            "seconds": r.seconds,
            "realtime_factor": r.realtime_factor,
            "latency_samples": r.latency_samples,
            "clipped_samples": clipped,
            "nodes": r.nodes.iter().map(|n| json!({"name": n.name, "ns_per_block": n.ns_per_block})).collect::<Vec<_>>(),
        });
        println!("{doc}");
    } else {
        println!(
            "{}: {} frames ({:.2} s) in {:.1}x real time, latency {} samples",
            args.out.display(),
            r.frames,
            r.seconds,
            r.realtime_factor,
            r.latency_samples
        );
        for n in &r.nodes {
            println!("  {:<16} {:>10.0} ns/block", n.name, n.ns_per_block);
        }
    }
    Ok(())
}
