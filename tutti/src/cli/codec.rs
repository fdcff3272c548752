//! `tutti codec encode|decode`: files through Tutti's codecs (see `../shared/INTERFACE.md`).
//!
//! - `encode --codec C --in IN.wav --out OUT [--json]`: WAV in, codec stream out. pcmu/pcma/g722 streams
//!   are raw bytes exactly as `ffmpeg -f mulaw|alaw|g722` reads and writes them (one octet per 8 kHz
//!   sample, or per two 16 kHz samples for G.722); `opus[:BITRATE]` writes an Ogg Opus file (RFC 7845).
//!   Input at another rate than the codec's is resampled (rubato, FFT synchronous resampler, delay
//!   compensated); G.711/G.722 inputs in stereo are averaged to mono; Opus keeps 1 or 2 channels and
//!   codes at the input rate when libopus supports it (8/12/16/24/48 kHz), else at 48 kHz.
//! - `decode --codec C --in IN --out OUT.wav [--json]`: codec stream in, 16-bit WAV out at the codec's
//!   audio rate (8 kHz G.711, 16 kHz G.722, 48 kHz Opus as RFC 7845 recommends). 56/48 kbit/s G.722
//!   ignores the low-band LSBs of each octet.
//!
//! `--json` prints `{"command", "codec", "frames", "seconds", "sample_rate", "channels", "bytes",
//! "bitrate"}` (`frames` = samples per channel at the codec's rate, `bitrate` in bit/s).

use std::path::{Path, PathBuf};

use rubato::{FftFixedInOut, Resampler};
use serde_json::json;
use tutti_codecs::{
    encode_ogg_opus, read_ogg_opus, CodecError, CodecSpec, Decoder, Encoder, G711Decoder, G711Encoder,
    G711Law, G722Decoder, G722Encoder, OpusEncoderConfig, OPUS_RATES,
};

use super::CliError;
use crate::wav::{f32_to_i16, read_wav, write_bytes_atomically, write_wav, Audio, WavFormat};

/// Arguments of `tutti codec`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Encode a WAV file into a codec stream (raw G.711/G.722 bytes, Ogg Opus).
    Encode(Io),
    /// Decode a codec stream into a 16-bit WAV file.
    Decode(Io),
}

#[derive(Debug, clap::Args)]
struct Io {
    /// Codec: pcmu | pcma | g722 | g722-56 | g722-48 | opus[:BITRATE].
    #[arg(long)]
    codec: String,
    /// Input file.
    #[arg(long = "in")]
    input: PathBuf,
    /// Output file (written atomically).
    #[arg(long = "out")]
    output: PathBuf,
    /// Print one JSON document with statistics.
    #[arg(long)]
    json: bool,
}

/// Runs `tutti codec`.
pub fn run(args: &Args) -> Result<(), CliError> {
    match &args.action {
        Action::Encode(io) => encode(io),
        Action::Decode(io) => decode(io),
    }
}

fn parse_codec(name: &str) -> Result<CodecSpec, CliError> {
    let spec = CodecSpec::parse(name).map_err(|e| match e {
        CodecError::UnknownCodec => CliError::new(format!(
            "--codec: unknown codec '{name}' (expected pcmu | pcma | g722 | g722-56 | g722-48 | opus[:BITRATE])"
        )),
        other => CliError::new(format!("--codec '{name}': {other}")),
    })?;
    match spec {
        CodecSpec::L16 { .. } => Err(CliError::new(format!(
            "--codec: '{name}' has no file format for `tutti codec`"
        ))),
        s => Ok(s),
    }
}

fn codec_err(path: &Path, e: CodecError) -> CliError {
    CliError::new(format!("{}: {e}", path.display()))
}

/// Resamples planar `channels` from `from` to `to` Hz, compensating the resampler delay so the output
/// has `round(frames · to / from)` frames aligned with the input.
fn resample(channels: &[Vec<f32>], from: u32, to: u32) -> Result<Vec<Vec<f32>>, CliError> {
    if from == to {
        return Ok(channels.to_vec());
    }
    let nch = channels.len();
    let frames = channels.first().map_or(0, Vec::len);
    let want = ((frames as u64 * u64::from(to) + u64::from(from) / 2) / u64::from(from)) as usize;
    let mut r = FftFixedInOut::<f32>::new(from as usize, to as usize, 1024, nch)
        .map_err(|e| CliError::new(format!("resampler {from} → {to} Hz: {e}")))?;
    let delay = r.output_delay();
    let mut out = vec![Vec::with_capacity(want + delay + 4096); nch];
    let mut pos = 0;
    while out[0].len() < delay + want {
        let n = r.input_frames_next();
        let block: Vec<Vec<f32>> = channels
            .iter()
            .map(|c| (pos..pos + n).map(|i| c.get(i).copied().unwrap_or(0.0)).collect())
            .collect();
        let o = r
            .process(&block, None)
            .map_err(|e| CliError::new(format!("resampling failed: {e}")))?;
        for (dst, src) in out.iter_mut().zip(o) {
            dst.extend_from_slice(&src);
        }
        pos += n;
    }
    Ok(out.into_iter().map(|c| c[delay..delay + want].to_vec()).collect())
}

fn to_i16_interleaved(channels: &[Vec<f32>]) -> Vec<i16> {
    let frames = channels.first().map_or(0, Vec::len);
    let mut v = Vec::with_capacity(frames * channels.len());
    for i in 0..frames {
        for c in channels {
            v.push(f32_to_i16(c[i]));
        }
    }
    v
}

fn report(io: &Io, command: &str, spec: CodecSpec, frames: usize, rate: u32, channels: usize, bytes: usize) {
    let seconds = frames as f64 / f64::from(rate);
    let bitrate = if seconds > 0.0 {
        bytes as f64 * 8.0 / seconds
    } else {
        0.0
    };
    if io.json {
        println!(
            "{}",
            json!({
                "command": command,
                "codec": io.codec.to_ascii_lowercase(),
                "rtpmap": spec.rtpmap(),
                "frames": frames,
                "seconds": seconds,
                "sample_rate": rate,
                "channels": channels,
                "bytes": bytes,
                "bitrate": bitrate,
            })
        );
    } else {
        println!(
            "{command} {}: {} → {}: {frames} frames ({seconds:.3} s at {rate} Hz, {channels} ch), {bytes} bytes, \
             {:.1} kbit/s",
            spec.cli_name(),
            io.input.display(),
            io.output.display(),
            bitrate / 1000.0
        );
    }
}

fn encode(io: &Io) -> Result<(), CliError> {
    let spec = parse_codec(&io.codec)?;
    let audio = read_wav(&io.input)?;
    let (rate, out_channels) = match spec {
        CodecSpec::Pcmu | CodecSpec::Pcma => (8000, 1),
        CodecSpec::G722(_) => (16000, 1),
        _ => (
            if OPUS_RATES.contains(&audio.sample_rate) {
                audio.sample_rate
            } else {
                48000
            },
            audio.channels.len().clamp(1, 2),
        ),
    };
    let mut planar = audio.channels.clone();
    if out_channels == 1 && planar.len() > 1 {
        let n = planar.len() as f32;
        let mono: Vec<f32> = (0..audio.frames())
            .map(|i| planar.iter().map(|c| c[i]).sum::<f32>() / n)
            .collect();
        planar = vec![mono];
    }
    let planar = resample(&planar, audio.sample_rate, rate)?;
    let pcm = to_i16_interleaved(&planar);
    let frames = pcm.len() / out_channels;
    let bytes = match spec {
        CodecSpec::Pcmu | CodecSpec::Pcma => {
            let law = if spec == CodecSpec::Pcmu {
                G711Law::MuLaw
            } else {
                G711Law::ALaw
            };
            let mut out = vec![0u8; pcm.len()];
            G711Encoder::new(law)
                .encode(&pcm, &mut out)
                .map_err(|e| codec_err(&io.input, e))?;
            out
        }
        CodecSpec::G722(mode) => {
            // One octet per two samples: an odd final sample is padded with silence.
            let mut even = pcm;
            if even.len() % 2 == 1 {
                even.push(0);
            }
            let mut out = vec![0u8; even.len() / 2];
            G722Encoder::new(mode)
                .encode(&even, &mut out)
                .map_err(|e| codec_err(&io.input, e))?;
            out
        }
        CodecSpec::Opus { bitrate, .. } => {
            let mut cfg = OpusEncoderConfig::voip(rate, out_channels);
            cfg.bitrate = bitrate;
            let serial = u32::from_le_bytes(*b"tuti") ^ frames as u32;
            encode_ogg_opus(&pcm, cfg, serial).map_err(|e| codec_err(&io.output, e))?
        }
        CodecSpec::L16 { .. } => unreachable!("rejected by parse_codec"),
    };
    write_bytes_atomically(&io.output, &bytes)?;
    report(io, "encode", spec, frames, rate, out_channels, bytes.len());
    Ok(())
}

fn decode(io: &Io) -> Result<(), CliError> {
    let spec = parse_codec(&io.codec)?;
    let data = std::fs::read(&io.input)
        .map_err(|e| CliError::new(format!("{}: cannot read: {e}", io.input.display())))?;
    let (pcm, rate, channels) = match spec {
        CodecSpec::Pcmu | CodecSpec::Pcma => {
            let law = if spec == CodecSpec::Pcmu {
                G711Law::MuLaw
            } else {
                G711Law::ALaw
            };
            // No concealment on a file (nothing is lost), hence no Appendix I delay.
            let mut out = vec![0i16; data.len()];
            G711Decoder::without_plc(law)
                .decode(&data, &mut out)
                .map_err(|e| codec_err(&io.input, e))?;
            (out, 8000, 1)
        }
        CodecSpec::G722(mode) => {
            let mut out = vec![0i16; data.len() * 2];
            G722Decoder::new(mode)
                .decode(&data, &mut out)
                .map_err(|e| codec_err(&io.input, e))?;
            (out, 16000, 1)
        }
        CodecSpec::Opus { .. } => {
            let file = read_ogg_opus(&data).map_err(|e| codec_err(&io.input, e))?;
            let ch = usize::from(file.head.channels);
            (file.decode().map_err(|e| codec_err(&io.input, e))?, 48000, ch)
        }
        CodecSpec::L16 { .. } => unreachable!("rejected by parse_codec"),
    };
    let frames = pcm.len() / channels;
    let audio = Audio {
        sample_rate: rate,
        channels: (0..channels)
            .map(|c| {
                pcm.iter()
                    .skip(c)
                    .step_by(channels)
                    .map(|&s| f32::from(s) / 32768.0)
                    .collect()
            })
            .collect(),
    };
    write_wav(&io.output, &audio, WavFormat::I16)?;
    report(io, "decode", spec, frames, rate, channels, data.len());
    Ok(())
}
