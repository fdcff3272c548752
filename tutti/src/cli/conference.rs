//! `tutti conference`: live UDP conference server (see `conference::serve`).

use std::path::PathBuf;

use super::CliError;
use crate::conference::{serve, ServeOptions, ServerConfig};

/// Arguments of `tutti conference`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Configuration file (TOML): listen address, mix settings, legs.
    #[arg(long)]
    config: PathBuf,
    /// Print per-leg statistics (JSON lines) every S seconds (also on SIGUSR1).
    #[arg(long)]
    stats_every: Option<f64>,
    /// Stop after S seconds (default: run until Ctrl-C).
    #[arg(long)]
    seconds: Option<f64>,
}

/// Runs `tutti conference`.
pub fn run(a: &Args) -> Result<(), CliError> {
    for (flag, v) in [("--stats-every", a.stats_every), ("--seconds", a.seconds)] {
        if let Some(v) = v {
            if !(v > 0.0 && v.is_finite()) {
                return Err(CliError::new(format!("{flag} {v}: expected a positive number")));
            }
        }
    }
    let cfg = ServerConfig::load(&a.config).map_err(CliError::new)?;
    serve(
        &a.config,
        &cfg,
        &ServeOptions {
            seconds: a.seconds,
            stats_every: a.stats_every,
        },
    )
    .map_err(CliError::new)
}
