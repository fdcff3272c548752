//! `tutti record decrypt|encrypt`: encrypted-at-rest recordings (see [`crate::record`]).

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::PathBuf;

use super::CliError;
use crate::record::{self, EncryptedWriter};
use crate::wav::write_atomically;

/// Arguments of `tutti record`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, clap::Subcommand)]
enum Cmd {
    /// Decrypt a recording (key from --key-file or TUTTI_RECORD_KEY).
    Decrypt(Io),
    /// Encrypt a file into the recording format (key from --key-file or TUTTI_RECORD_KEY).
    Encrypt(Io),
}

#[derive(Debug, clap::Args)]
struct Io {
    /// Input file.
    #[arg(long = "in")]
    input: PathBuf,
    /// Output file (written atomically).
    #[arg(long)]
    out: PathBuf,
    /// File holding the 32-byte key (raw, 64 hex digits or base64). Keys are never taken on the command line.
    #[arg(long)]
    key_file: Option<PathBuf>,
}

/// Runs `tutti record`.
pub fn run(args: &Args) -> Result<(), CliError> {
    let (io, decrypting) = match &args.cmd {
        Cmd::Decrypt(io) => (io, true),
        Cmd::Encrypt(io) => (io, false),
    };
    let key = record::load_key(io.key_file.as_deref()).map_err(CliError::new)?;
    let input = File::open(&io.input)
        .map_err(|e| CliError::new(format!("{}: cannot open: {e}", io.input.display())))?;
    let mut detail = None;
    let res = write_atomically(&io.out, |tmp| {
        let out = File::create(tmp).map_err(|e| e.to_string())?;
        if decrypting {
            let mut plain = Vec::new();
            record::decrypt(BufReader::new(input), &mut plain, &key).map_err(|e| {
                detail = Some(e.clone());
                e
            })?;
            // Conference recordings are streaming WAVs (sizes unknown while encrypting): restore them.
            crate::conference::fix_streaming_wav_header(&mut plain);
            let mut w = BufWriter::new(out);
            w.write_all(&plain)
                .and_then(|()| w.flush())
                .map_err(|e| e.to_string())
        } else {
            let mut w = EncryptedWriter::new(BufWriter::new(out), &key).map_err(|e| e.to_string())?;
            std::io::copy(&mut BufReader::new(input), &mut w).map_err(|e| e.to_string())?;
            w.finish().and_then(|mut b| b.flush()).map_err(|e| e.to_string())
        }
    });
    match (res, detail) {
        (Ok(()), _) => Ok(()),
        (Err(_), Some(d)) => Err(CliError::new(format!("{}: {d}", io.input.display()))),
        (Err(e), None) => Err(e.into()),
    }
}
