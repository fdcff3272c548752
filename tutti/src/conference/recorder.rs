//! Conference recordings: the full mix and consenting legs, as WAV, optionally encrypted at rest.
//!
//! # What
//! [`Recording`] appends one tick of mono audio at a time to a 16-bit WAV file. Plain recordings are
//! ordinary WAV files (hound). Encrypted recordings go through [`crate::record::EncryptedWriter`]
//! (AES-256-GCM STREAM) as a *streaming* WAV: the RIFF and data sizes are written as 0xFFFFFFFF ("to the end
//! of the file", as streaming writers do) because an encrypted stream cannot be rewound to patch them;
//! `tutti record decrypt` writes the true sizes when it restores the file.
//!
//! # Real-time safety
//! None needed: the conference driver writes between ticks, outside the real-time tick.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::record::{EncryptedWriter, RecordKey};

enum Sink {
    Plain(hound::WavWriter<BufWriter<File>>),
    Encrypted(EncryptedWriter<BufWriter<File>>),
}

/// One recording file being written.
pub struct Recording {
    sink: Option<Sink>,
    path: PathBuf,
    samples: u64,
}

impl std::fmt::Debug for Recording {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recording")
            .field("path", &self.path)
            .field("samples", &self.samples)
            .finish_non_exhaustive()
    }
}

/// A 44-byte WAV header for 16-bit mono PCM at `rate`, with the sizes given.
pub fn wav_header(rate: u32, data_bytes: u32) -> [u8; 44] {
    let mut h = [0u8; 44];
    h[0..4].copy_from_slice(b"RIFF");
    h[4..8].copy_from_slice(&data_bytes.saturating_add(36).to_le_bytes());
    h[8..12].copy_from_slice(b"WAVE");
    h[12..16].copy_from_slice(b"fmt ");
    h[16..20].copy_from_slice(&16u32.to_le_bytes());
    h[20..22].copy_from_slice(&1u16.to_le_bytes());
    h[22..24].copy_from_slice(&1u16.to_le_bytes());
    h[24..28].copy_from_slice(&rate.to_le_bytes());
    h[28..32].copy_from_slice(&(rate * 2).to_le_bytes());
    h[32..34].copy_from_slice(&2u16.to_le_bytes());
    h[34..36].copy_from_slice(&16u16.to_le_bytes());
    h[36..40].copy_from_slice(b"data");
    h[40..44].copy_from_slice(&data_bytes.to_le_bytes());
    h
}

impl Recording {
    /// Starts a recording at `path` (`.wav`, or `.wav.enc` with a key).
    ///
    /// # Errors
    /// A message naming the file.
    pub fn create(dir: &Path, name: &str, rate: u32, key: Option<&RecordKey>) -> Result<Self, String> {
        let safe: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let path = dir.join(if key.is_some() {
            format!("{safe}.wav.enc")
        } else {
            format!("{safe}.wav")
        });
        let err = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
        let file = BufWriter::new(File::create(&path).map_err(|e| err(&e))?);
        let sink = match key {
            None => Sink::Plain(
                hound::WavWriter::new(
                    file,
                    hound::WavSpec {
                        channels: 1,
                        sample_rate: rate,
                        bits_per_sample: 16,
                        sample_format: hound::SampleFormat::Int,
                    },
                )
                .map_err(|e| err(&e))?,
            ),
            Some(k) => {
                let mut w = EncryptedWriter::new(file, k).map_err(|e| err(&e))?;
                w.write_all(&wav_header(rate, u32::MAX - 36))
                    .map_err(|e| err(&e))?;
                Sink::Encrypted(w)
            }
        };
        Ok(Self {
            sink: Some(sink),
            path,
            samples: 0,
        })
    }

    /// Where the recording goes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends samples (full scale ±1, saturated to 16 bits).
    ///
    /// # Errors
    /// A message naming the file.
    pub fn append(&mut self, x: &[f32]) -> Result<(), String> {
        let path = &self.path;
        let err = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
        let q = |s: f32| (s * 32768.0).round().clamp(-32768.0, 32767.0) as i16;
        match self.sink.as_mut() {
            Some(Sink::Plain(w)) => {
                for &s in x {
                    w.write_sample(q(s)).map_err(|e| err(&e))?;
                }
            }
            Some(Sink::Encrypted(w)) => {
                let mut b = Vec::with_capacity(2 * x.len());
                for &s in x {
                    b.extend_from_slice(&q(s).to_le_bytes());
                }
                w.write_all(&b).map_err(|e| err(&e))?;
            }
            None => {}
        }
        self.samples += x.len() as u64;
        Ok(())
    }

    /// Finishes the file (sizes, final encrypted chunk).
    ///
    /// # Errors
    /// A message naming the file.
    pub fn finish(mut self) -> Result<PathBuf, String> {
        let err = |e: &dyn std::fmt::Display| format!("{}: {e}", self.path.display());
        match self.sink.take() {
            Some(Sink::Plain(w)) => w.finalize().map_err(|e| err(&e))?,
            Some(Sink::Encrypted(w)) => {
                w.finish().and_then(|mut f| f.flush()).map_err(|e| err(&e))?;
            }
            None => {}
        }
        Ok(self.path.clone())
    }
}

/// If `data` is a streaming WAV (sizes 0xFFFFFFFF or 0) with a plain `fmt `/`data` layout, writes the true
/// RIFF and data sizes into its header (used by `tutti record decrypt`). Returns whether it patched.
pub fn fix_streaming_wav_header(data: &mut [u8]) -> bool {
    if data.len() < 44 || &data[0..4] != b"RIFF" || &data[8..12] != b"WAVE" || &data[36..40] != b"data" {
        return false;
    }
    let size = u32::from_le_bytes([data[40], data[41], data[42], data[43]]);
    if !(size == u32::MAX - 36 || size == u32::MAX || size == 0) {
        return false;
    }
    let data_len = (data.len() - 44).min(u32::MAX as usize - 36) as u32;
    data[4..8].copy_from_slice(&(data_len + 36).to_le_bytes());
    data[40..44].copy_from_slice(&data_len.to_le_bytes());
    true
}
