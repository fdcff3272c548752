//! WAV file input and output for the CLI and tools.
//!
//! # What
//! Reads WAV files of 16/24/32-bit integer PCM or 32-bit float, mono or stereo, 8–48 kHz, into planar `f32`
//! (full scale ±1.0), and writes 16-bit PCM or 32-bit float WAV files *atomically*: the data goes to a
//! temporary file beside the target, which is renamed over it only when complete, so a failure never
//! leaves a half-written output.
//!
//! # Real-time safety
//! None: file I/O, for the control side and offline tools only.

use std::fmt;
use std::path::{Path, PathBuf};

/// Sample format of a written WAV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WavFormat {
    /// 16-bit signed PCM (the default).
    #[default]
    I16,
    /// 32-bit IEEE float.
    F32,
}

/// A decoded audio file: planar channels at one sample rate.
#[derive(Debug, Clone, PartialEq)]
pub struct Audio {
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// One vector per channel, all of the same length, full scale ±1.0.
    pub channels: Vec<Vec<f32>>,
}

impl Audio {
    /// Frames per channel.
    pub fn frames(&self) -> usize {
        self.channels.first().map_or(0, Vec::len)
    }

    /// Samples (over all channels) that 16-bit PCM cannot hold: those [`f32_to_i16`] clamps.
    pub fn clipped_in_i16(&self) -> usize {
        self.channels
            .iter()
            .flatten()
            .filter(|&&s| !(-32768.0..=32767.0).contains(&(s * 32768.0).round()))
            .count()
    }

    /// Mono audio from 16-bit samples.
    pub fn from_i16(sample_rate: u32, samples: &[i16]) -> Self {
        Self {
            sample_rate,
            channels: vec![samples.iter().map(|&s| f32::from(s) / 32768.0).collect()],
        }
    }

    /// Channel `c` as 16-bit samples (rounded, saturated).
    pub fn to_i16(&self, c: usize) -> Vec<i16> {
        self.channels[c].iter().map(|&s| f32_to_i16(s)).collect()
    }

    /// Interleaved 16-bit samples of all channels.
    pub fn to_i16_interleaved(&self) -> Vec<i16> {
        let n = self.frames();
        let mut out = Vec::with_capacity(n * self.channels.len());
        for i in 0..n {
            for ch in &self.channels {
                out.push(f32_to_i16(ch[i]));
            }
        }
        out
    }
}

/// Converts a ±1.0 full-scale sample to 16 bits, rounding to nearest and saturating.
pub fn f32_to_i16(s: f32) -> i16 {
    (s * 32768.0).round().clamp(-32768.0, 32767.0) as i16
}

/// An error reading or writing an audio file; the message names the file.
#[derive(Debug)]
pub struct WavError {
    /// The file at fault.
    pub path: PathBuf,
    /// What went wrong.
    pub detail: String,
}

impl fmt::Display for WavError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.detail)
    }
}

impl std::error::Error for WavError {}

fn err(path: &Path, detail: impl fmt::Display) -> WavError {
    WavError {
        path: path.to_path_buf(),
        detail: detail.to_string(),
    }
}

/// Reads a WAV file (PCM 16/24/32-bit int or 32-bit float, 1–2 channels, 8–48 kHz).
pub fn read_wav(path: &Path) -> Result<Audio, WavError> {
    let mut reader = hound::WavReader::open(path).map_err(|e| err(path, format!("cannot read WAV: {e}")))?;
    let spec = reader.spec();
    if !(1..=2).contains(&spec.channels) {
        return Err(err(
            path,
            format!("{} channels (supported: 1 or 2)", spec.channels),
        ));
    }
    if !(8000..=48000).contains(&spec.sample_rate) {
        return Err(err(
            path,
            format!("sample rate {} Hz (supported: 8000..48000)", spec.sample_rate),
        ));
    }
    let nch = spec.channels as usize;
    let interleaved: Vec<f32> = match (spec.sample_format, spec.bits_per_sample) {
        (hound::SampleFormat::Float, 32) => reader
            .samples::<f32>()
            .collect::<Result<_, _>>()
            .map_err(|e| err(path, format!("corrupt float data: {e}")))?,
        (hound::SampleFormat::Int, bits @ (16 | 24 | 32)) => {
            let scale = 1.0 / (1u64 << (bits - 1)) as f64;
            reader
                .samples::<i32>()
                .map(|s| s.map(|v| (f64::from(v) * scale) as f32))
                .collect::<Result<_, _>>()
                .map_err(|e| err(path, format!("corrupt PCM data: {e}")))?
        }
        (fmt, bits) => {
            return Err(err(path, format!("unsupported sample format {fmt:?} {bits}-bit")));
        }
    };
    let frames = interleaved.len() / nch;
    let mut channels = vec![Vec::with_capacity(frames); nch];
    for frame in interleaved.chunks_exact(nch) {
        for (c, s) in frame.iter().enumerate() {
            channels[c].push(*s);
        }
    }
    Ok(Audio {
        sample_rate: spec.sample_rate,
        channels,
    })
}

/// Writes `audio` as a WAV file atomically (temporary file, then rename).
pub fn write_wav(path: &Path, audio: &Audio, format: WavFormat) -> Result<(), WavError> {
    let spec = hound::WavSpec {
        channels: audio.channels.len() as u16,
        sample_rate: audio.sample_rate,
        bits_per_sample: if format == WavFormat::I16 { 16 } else { 32 },
        sample_format: if format == WavFormat::I16 {
            hound::SampleFormat::Int
        } else {
            hound::SampleFormat::Float
        },
    };
    write_atomically(path, |tmp| {
        let mut w = hound::WavWriter::create(tmp, spec).map_err(|e| e.to_string())?;
        for i in 0..audio.frames() {
            for ch in &audio.channels {
                match format {
                    WavFormat::I16 => w.write_sample(f32_to_i16(ch[i])),
                    WavFormat::F32 => w.write_sample(ch[i]),
                }
                .map_err(|e| e.to_string())?;
            }
        }
        w.finalize().map_err(|e| e.to_string())
    })
}

/// Writes `bytes` to `path` atomically.
pub fn write_bytes_atomically(path: &Path, bytes: &[u8]) -> Result<(), WavError> {
    write_atomically(path, |tmp| std::fs::write(tmp, bytes).map_err(|e| e.to_string()))
}

/// Runs `write` on a temporary path beside `path` and renames it over `path` on success; on failure the
/// temporary file is removed and nothing is left at `path`.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&Path) -> Result<(), String>,
) -> Result<(), WavError> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.is_dir() {
        return Err(err(path, "output directory does not exist"));
    }
    let name = path.file_name().ok_or_else(|| err(path, "not a file name"))?;
    let tmp = dir.join(format!(".{}.tmp{}", name.to_string_lossy(), std::process::id()));
    match write(&tmp) {
        Ok(()) => std::fs::rename(&tmp, path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            err(path, format!("cannot write: {e}"))
        }),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(err(path, format!("cannot write: {e}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_int(path: &Path, bits: u16, channels: u16, rate: u32, samples: &[i32]) {
        let spec = hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: bits,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        for s in samples {
            w.write_sample(*s).unwrap();
        }
        w.finalize().unwrap();
    }

    /// Every accepted integer width maps full scale to ±1.0 and keeps channel order.
    #[test]
    fn reads_16_24_32_bit_pcm() {
        let dir = tempfile::tempdir().unwrap();
        for bits in [16u16, 24, 32] {
            let fs = 1i64 << (bits - 1);
            let vals = [(-fs) as i32, (fs / 2) as i32, 0, (fs - 1) as i32];
            let p = dir.path().join(format!("x{bits}.wav"));
            write_int(&p, bits, 2, 8000, &vals);
            let a = read_wav(&p).unwrap();
            assert_eq!(a.sample_rate, 8000);
            assert_eq!(
                a.channels,
                vec![vec![-1.0, 0.0], vec![0.5, ((fs - 1) as f64 / fs as f64) as f32]]
            );
        }
    }

    #[test]
    fn rejects_unsupported_files_naming_them() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("mono96k.wav");
        write_int(&p, 16, 1, 96000, &[0, 1]);
        let e = read_wav(&p).unwrap_err().to_string();
        assert!(e.contains("mono96k.wav") && e.contains("96000"), "{e}");
        let p = dir.path().join("quad.wav");
        write_int(&p, 16, 4, 8000, &[0, 1, 2, 3]);
        assert!(read_wav(&p).unwrap_err().to_string().contains("4 channels"));
        let p = dir.path().join("8bit.wav");
        write_int(&p, 8, 1, 8000, &[0, 1]);
        assert!(read_wav(&p).unwrap_err().to_string().contains("8bit.wav"));
    }

    #[test]
    fn atomic_write_leaves_nothing_on_failure() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("o.wav");
        let r = write_atomically(&p, |tmp| {
            std::fs::write(tmp, b"partial").unwrap();
            Err("disk full".into())
        });
        assert!(r.unwrap_err().to_string().contains("disk full"));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        let a = Audio {
            sample_rate: 16000,
            channels: vec![vec![0.25, -0.5]],
        };
        write_wav(&p, &a, WavFormat::F32).unwrap();
        assert_eq!(read_wav(&p).unwrap(), a);
    }
}
