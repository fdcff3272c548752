//! The `tutti` command line (see `../shared/INTERFACE.md` for the contract).
//!
//! Every subcommand lives in its own module with an `Args` struct (clap derive) and a
//! `run(&Args) -> Result<(), CliError>` function. Errors become one line on stderr and a non-zero exit.

use std::fmt;

use clap::{Parser, Subcommand};

mod bench;
mod codec;
mod conference;
mod devices;
mod eval;
mod live;
mod mix;
mod nodes;
mod pcap;
mod process;
mod record;
mod rtp;
mod translate;

/// A command-line failure: one line for stderr.
#[derive(Debug)]
pub struct CliError(pub String);

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CliError {}

impl CliError {
    /// An error with a message.
    pub fn new(msg: impl Into<String>) -> Self {
        Self(msg.into())
    }
}

impl From<crate::wav::WavError> for CliError {
    fn from(e: crate::wav::WavError) -> Self {
        Self(e.to_string())
    }
}

/// Tutti: real-time audio DSP engine for voice and media servers.
#[derive(Debug, Parser)]
#[command(name = "tutti", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List every node type with its ports, parameters and latency.
    Nodes(nodes::Args),
    /// Render a chain or graph offline through the real-time graph code.
    Process(process::Args),
    /// Encode a WAV file with a codec, or decode a codec stream to WAV.
    Codec(codec::Args),
    /// Capture tools: anonymise an RTP capture consistently under a key.
    Pcap(pcap::Args),
    /// Encrypted-at-rest recordings: decrypt (or encrypt) a recording file.
    Record(record::Args),
    /// RTP: decode the streams of a capture, or send a file as paced RTP.
    Rtp(rtp::Args),
    /// List the audio hosts (ALSA, JACK) and their devices.
    Devices(devices::Args),
    /// Run a chain on a live input to a live output (cpal).
    Live(live::Args),
    /// Offline conference: every RTP stream of a capture is a participant; writes what each one hears.
    Mix(mix::Args),
    /// Benchmarks under synthetic load: `tutti bench conference`.
    Bench(bench::Args),
    /// Live conference server on UDP: N−1 mixes in each leg's codec, CSRC lists and levels.
    Conference(conference::Args),
    /// Research: seeded voice scenes, Tutti vs the installed peers (ERLE, PESQ, STOI, SI-SDR, plots).
    Eval(eval::Args),
    /// Media translator: each incoming RTP stream to another codec/ptime, SSRC and timing kept.
    Translate(translate::Args),
}

/// Runs the command line and returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    let result = match &cli.command {
        Command::Nodes(a) => nodes::run(a),
        Command::Process(a) => process::run(a),
        Command::Codec(a) => codec::run(a),
        Command::Pcap(a) => pcap::run(a),
        Command::Record(a) => record::run(a),
        Command::Rtp(a) => rtp::run(a),
        Command::Devices(a) => devices::run(a),
        Command::Live(a) => live::run(a),
        Command::Mix(a) => mix::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Conference(a) => conference::run(a),
        Command::Eval(a) => eval::run(a),
        Command::Translate(a) => translate::run(a),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("tutti: error: {e}");
            1
        }
    }
}
