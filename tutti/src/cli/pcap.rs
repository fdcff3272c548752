//! `tutti pcap anonymise IN OUT [--key-file K] [--drop-payload] [--json]` (see [`crate::anonymise`]).

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;

use serde_json::json;
use tutti_rtp::{CaptureReader, PcapWriter};

use super::CliError;
use crate::anonymise::{AnonStats, Anonymiser, Verdict};
use crate::record::RecordKey;
use crate::wav::write_atomically;

/// Arguments of `tutti pcap`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, clap::Subcommand)]
enum Cmd {
    /// Rewrite addresses, ports, SSRCs and SDES items consistently under a key.
    #[command(alias = "anonymize")]
    Anonymise(AnonArgs),
}

#[derive(Debug, clap::Args)]
struct AnonArgs {
    /// Input capture (pcap or pcapng).
    input: PathBuf,
    /// Output capture (pcap, raw IP), written atomically.
    output: PathBuf,
    /// 32-byte key (raw, 64 hex digits or base64); the same key gives the same pseudonyms. Without it a
    /// fresh random key is used, so pseudonyms are consistent only within this run.
    #[arg(long)]
    key_file: Option<PathBuf>,
    /// Overwrite media payloads (and RTCP APP data) with zeros.
    #[arg(long)]
    drop_payload: bool,
    /// Print the counts as one JSON document.
    #[arg(long)]
    json: bool,
}

/// Runs `tutti pcap`.
pub fn run(args: &Args) -> Result<(), CliError> {
    let Cmd::Anonymise(a) = &args.cmd;
    let key: [u8; 32] = match &a.key_file {
        Some(p) => {
            let data = std::fs::read(p)
                .map_err(|e| CliError::new(format!("{}: cannot read key: {e}", p.display())))?;
            let k = RecordKey::parse(&data).map_err(|e| CliError::new(format!("{}: {e}", p.display())))?;
            k.bytes()
        }
        None => {
            let mut k = [0u8; 32];
            getrandom::getrandom(&mut k).map_err(|e| CliError::new(format!("random key: {e}")))?;
            k
        }
    };
    let anon = Anonymiser::new(&key, a.drop_payload);
    let mut reader =
        CaptureReader::open(&a.input).map_err(|e| CliError::new(format!("{}: {e}", a.input.display())))?;
    let mut stats = AnonStats::default();
    let mut failure = None;
    write_atomically(&a.output, |tmp| {
        let file = File::create(tmp).map_err(|e| e.to_string())?;
        let mut w = PcapWriter::new(BufWriter::new(file)).map_err(|e| e.to_string())?;
        let mut buf = Vec::with_capacity(2048);
        loop {
            let d = match reader.next_udp() {
                Ok(Some(d)) => d,
                Ok(None) => break,
                Err(e) => {
                    let msg = format!("{}: {e}", a.input.display());
                    failure = Some(msg.clone());
                    return Err(msg);
                }
            };
            buf.clear();
            buf.extend_from_slice(d.payload);
            match anon.datagram(&mut buf) {
                Verdict::Rtp => stats.rtp += 1,
                Verdict::Rtcp => stats.rtcp += 1,
                Verdict::Dropped => {
                    stats.dropped_udp += 1;
                    continue;
                }
            }
            w.write_udp(d.time_ns, anon.addr(d.src), anon.addr(d.dst), &buf)
                .map_err(|e| e.to_string())?;
        }
        w.flush().map_err(|e| e.to_string())
    })
    .map_err(|e| CliError::new(failure.unwrap_or_else(|| e.to_string())))?;
    let cap = reader.stats();
    stats.dropped_other = cap.not_udp + cap.fragments + cap.malformed;
    if a.json {
        println!(
            "{}",
            json!({"rtp": stats.rtp, "rtcp": stats.rtcp, "dropped_udp": stats.dropped_udp,
                   "dropped_other": stats.dropped_other, "output": a.output.display().to_string()})
        );
    } else {
        println!(
            "{}: {} RTP, {} RTCP written; {} other UDP datagrams and {} non-UDP frames dropped",
            a.output.display(),
            stats.rtp,
            stats.rtcp,
            stats.dropped_udp,
            stats.dropped_other
        );
    }
    Ok(())
}
