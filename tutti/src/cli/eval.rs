//! `tutti eval`: seeded voice scenes, Tutti and the installed peers, one table (or JSON) and PNG plots.

use std::path::PathBuf;

use super::CliError;
use crate::eval::{self, EvalOptions, Suite};

/// Which suites to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SuiteArg {
    /// Acoustic echo cancellation.
    Aec,
    /// Noise suppression.
    Ns,
    /// Automatic gain control.
    Agc,
    /// All three.
    All,
}

/// Arguments of `tutti eval`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Suite to run.
    #[arg(long, value_enum, default_value = "all")]
    suite: SuiteArg,
    /// Tutti chain for every suite (default: aec, ns, agc for the respective suite).
    #[arg(long)]
    chain: Option<String>,
    /// Comma-separated peers (speex, webrtc, rnnoise, sonora) or "none"; default: every peer in this build.
    #[arg(long)]
    peers: Option<String>,
    /// Directory for the PNG plots.
    #[arg(long, default_value = "eval-out")]
    out_dir: PathBuf,
    /// Length of each scene in seconds.
    #[arg(long, default_value_t = 12.0)]
    seconds: f64,
    /// Seed of the scenes.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print one JSON document instead of the table.
    #[arg(long)]
    json: bool,
}

fn parse_peers(s: &str) -> Result<Vec<String>, CliError> {
    if s.trim() == "none" {
        return Ok(Vec::new());
    }
    let mut out: Vec<String> = Vec::new();
    for p in s.split(',') {
        let p = p.trim();
        if p.is_empty() {
            return Err(CliError::new(format!("--peers: empty name in '{s}'")));
        }
        if !out.iter().any(|q| q == p) {
            out.push(p.to_string());
        }
    }
    Ok(out)
}

/// Runs `tutti eval`.
pub fn run(args: &Args) -> Result<(), CliError> {
    let suites = match args.suite {
        SuiteArg::Aec => vec![Suite::Aec],
        SuiteArg::Ns => vec![Suite::Ns],
        SuiteArg::Agc => vec![Suite::Agc],
        SuiteArg::All => Suite::ALL.to_vec(),
    };
    let opts = EvalOptions {
        suites,
        chain: args.chain.clone(),
        peers: args.peers.as_deref().map(parse_peers).transpose()?,
        out_dir: args.out_dir.clone(),
        seconds: args.seconds,
        seed: args.seed,
    };
    let report = eval::run(&opts).map_err(|e| CliError::new(e.to_string()))?;
    if args.json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.table());
        if !report.pesq_available {
            println!("PESQ-WB/STOI: n/a (python3 cannot import pesq and pystoi: pip install pesq pystoi)");
        }
        println!("{} plots in {}", report.plots.len(), args.out_dir.display());
    }
    Ok(())
}
