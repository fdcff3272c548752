//! `tutti mix`: offline conference over the RTP streams of a capture (see `conference::mix_capture`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::json;

use super::CliError;
use crate::conference::{mix_capture, ConferenceConfig, MixOptions, MixRate};
use crate::wav::{write_wav, Audio, WavFormat};

/// Arguments of `tutti mix`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Capture (pcap or pcapng) whose RTP streams are the participants.
    #[arg(long)]
    pcap: PathBuf,
    /// Output directory: `<SSRC>.wav` per participant (what it hears) and `mix.wav`.
    #[arg(long)]
    out_dir: PathBuf,
    /// Chain run on each participant's decoded audio before mixing, e.g. "hpf,ns,agc".
    #[arg(long)]
    chain: Option<String>,
    /// SDP with `a=rtpmap` lines for dynamic payload types (and `a=crypto` for SRTP).
    #[arg(long)]
    sdp: Option<PathBuf>,
    /// At most this many simultaneous talkers are mixed.
    #[arg(long, default_value_t = 3)]
    talkers: usize,
    /// Mix rate: 8000, 16000, 32000, 48000 or "highest" (the widest participant's rate).
    #[arg(long, default_value = "16000")]
    mix_rate: String,
    /// Packet time / mix tick in ms.
    #[arg(long, default_value_t = 20)]
    ptime: u32,
    /// Print one JSON document with per-participant statistics.
    #[arg(long)]
    json: bool,
}

/// Parses a `--mix-rate` value.
pub(crate) fn parse_mix_rate(s: &str) -> Result<MixRate, CliError> {
    if s.eq_ignore_ascii_case("highest") {
        return Ok(MixRate::Highest);
    }
    match s.parse::<u32>() {
        Ok(r @ (8000 | 16000 | 32000 | 48000)) => Ok(MixRate::Fixed(r)),
        _ => Err(CliError::new(format!(
            "--mix-rate {s}: expected 8000, 16000, 32000, 48000 or highest"
        ))),
    }
}

/// Payload-type mappings and SRTP keying from an SDP file (the same reading as `tutti rtp decode --sdp`).
pub(crate) fn sdp_options(
    path: &Path,
) -> Result<
    (
        BTreeMap<u8, tutti_codecs::RtpFormat>,
        Option<tutti_rtp::CryptoAttribute>,
    ),
    CliError,
> {
    let sd = super::rtp::read_sdp(path)?;
    let pts = super::rtp::sdp_formats(&sd).into_iter().collect();
    Ok((pts, super::rtp::sdp_crypto(&sd, path)?))
}

/// Runs `tutti mix`.
pub fn run(a: &Args) -> Result<(), CliError> {
    let mut conference = ConferenceConfig {
        mix_rate: parse_mix_rate(&a.mix_rate)?,
        ptime_ms: a.ptime,
        chain: a.chain.clone(),
        // Offline, a stream that pauses is still a participant until the end of the capture.
        leg_timeout: std::time::Duration::from_secs(24 * 3600),
        ..ConferenceConfig::default()
    };
    if a.talkers == 0 || a.talkers > 15 {
        return Err(CliError::new(format!(
            "--talkers {}: expected 1 to 15",
            a.talkers
        )));
    }
    conference.talkers.max_talkers = a.talkers;
    if let Some(c) = &a.chain {
        // Check the chain before reading the capture: a bad spec is the user's first error.
        let nodes = crate::chain::parse(c).map_err(|e| CliError::new(format!("--chain: {e}")))?;
        crate::chain::resolve(&nodes, &crate::registry::node_types())
            .map_err(|e| CliError::new(format!("--chain: {e}")))?;
    }
    let (payload_types, srtp) = match &a.sdp {
        Some(p) => sdp_options(p)?,
        None => (BTreeMap::new(), None),
    };
    let out = mix_capture(
        &a.pcap,
        &MixOptions {
            conference,
            payload_types,
            srtp,
        },
    )
    .map_err(CliError::new)?;
    std::fs::create_dir_all(&a.out_dir)
        .map_err(|e| CliError::new(format!("{}: {e}", a.out_dir.display())))?;
    let wav = |name: String, x: &[f32]| -> Result<PathBuf, CliError> {
        let path = a.out_dir.join(name);
        write_wav(
            &path,
            &Audio {
                sample_rate: out.mix_rate,
                channels: vec![x.to_vec()],
            },
            WavFormat::I16,
        )?;
        Ok(path)
    };
    let mut parts = Vec::new();
    for p in &out.participants {
        let path = wav(format!("{:08x}.wav", p.ssrc), &p.heard)?;
        let mut j = p.stats.to_json();
        j["ssrc"] = json!(format!("{:08x}", p.ssrc));
        j["payload_type"] = json!(p.payload_type);
        j["wav"] = json!(path.display().to_string());
        j["talking_ticks"] = json!(p.talking_ticks);
        parts.push(j);
    }
    let mix = wav("mix.wav".into(), &out.full)?;
    if a.json {
        let doc = json!({
            "mix_rate": out.mix_rate, "mix": mix.display().to_string(), "participants": parts,
            "ticks": out.stats.ticks, "talker_changes": out.stats.talker_changes,
            "encodes_total": out.stats.encodes_total, "ignored_datagrams": out.ignored,
        });
        println!("{doc}");
    } else {
        println!(
            "mixed {} participants at {} Hz over {} ticks -> {}",
            out.participants.len(),
            out.mix_rate,
            out.stats.ticks,
            a.out_dir.display()
        );
        for p in &out.participants {
            println!(
                "  {:08x} {:<6} talking {:>5.1} s  loss {:>3}  mos {:.2}",
                p.ssrc,
                p.codec.cli_name(),
                p.talking_ticks as f64 * f64::from(a.ptime) / 1000.0,
                p.stats.quality.lost,
                p.stats.quality.mos
            );
        }
    }
    Ok(())
}
